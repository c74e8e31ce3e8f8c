"""Telnet codec benchmark: MB/s decoding and encoding, with a per-byte peer beside it.

    python benchmarks/telnet_codec.py [--megabytes 4] [--reps 5]

Rates are per CPU second of this process (``time.process_time``), which a
shared machine disturbs less than wall time.

Workloads (each on a fresh codec, median of ``reps`` runs, MB = 10**6 bytes
of wire input for decoding and of text handed to the codec for encoding):

- decode plain: ASCII lines of 60-100 characters with CR LF, fed in 64 KiB
  reads to a server codec, which splits them into ``TextLine`` events;
- decode IAC-heavy: the same text with an escaped 0xFF (IAC IAC) every 8
  bytes and an ``IAC NOP`` at the end of each line;
- decode MCCP2: the client role inflating an MCCP2 stream of the plain text
  and splitting it into lines (MB of inflated text);
- encode plain: ``send_text`` of 64 KiB of lines at a time, ``data_to_send``;
- encode MCCP2: the same with MCCP2 on (zlib level 6), in two shapes: 64 KiB
  per ``data_to_send`` (bulk output) and one line per ``data_to_send`` (a
  game sending one message at a time, a Z_SYNC_FLUSH each); the compression
  ratio is printed too.

The peer is the standard library's ``telnetlib`` (Python 3.11; gone in
3.13), whose ``process_rawq`` walks the input one byte at a time, as the
Twisted-era codecs did. It is fed 50-byte reads, its own ``recv`` size
(its output buffer grows by concatenation, so bigger reads would make it
look quadratic, which is not the point here). It only strips IAC sequences
and does no line splitting or decoding, so it does less work than ours; it
is here to show what the slice-and-search fast path buys.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from reality.net.protocols.telnet import TelnetCodec, TelnetConfig  # noqa: E402
from reality.net.protocols.telnet.options import DO, IAC, MCCP2, NOP, SB, SE, WILL  # noqa: E402

READ = 64 * 1024
WORDS = (
    "the quick brown fox jumps over lazy dog you see a door to the north "
    "Alice says hello and waves at Bob a lamp lies here glowing softly"
).split()


def make_lines(total: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    lines: list[str] = []
    size = 0
    while size < total:
        words: list[str] = []
        length = rng.randint(60, 100)
        while sum(map(len, words)) + len(words) < length:
            words.append(rng.choice(WORDS))
        line = " ".join(words)[:length]
        lines.append(line)
        size += len(line) + 2
    return lines


def chunks(data: bytes, size: int = READ) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def server_codec() -> TelnetCodec:
    return TelnetCodec(TelnetConfig.server(offer_local=(), offer_remote=()), clock=lambda: 0.0)


def timed(run: Callable[[], object]) -> float:
    # CPU time of this process: the machine is shared, and wall time would
    # count the other jobs' turns on the CPU as ours.
    t0 = time.process_time()
    run()
    return time.process_time() - t0


# -- workloads ---------------------------------------------------------------------


def decode(reads: list[bytes], expect_lines: int) -> Callable[[], object]:
    def run() -> None:
        codec = server_codec()
        count = 0
        for read in reads:
            count += len(codec.receive(read))
        assert count == expect_lines, (count, expect_lines)

    return run


def decode_mccp2(reads: list[bytes], expect_lines: int) -> Callable[[], object]:
    def run() -> None:
        codec = TelnetCodec(TelnetConfig.client(), clock=lambda: 0.0)
        codec.receive(bytes([IAC, WILL, MCCP2]))
        count = 0
        for read in reads:
            count += sum(1 for e in codec.receive(read) if type(e).__name__ == "TextLine")
        assert count == expect_lines, (count, expect_lines)

    return run


def encode(texts: list[str], compress: bool) -> Callable[[], object]:
    def run() -> None:
        codec = server_codec()
        if compress:
            codec.request_local(MCCP2)
            codec.receive(bytes([IAC, DO, MCCP2]))
        codec.data_to_send()
        for text in texts:
            codec.send_text(text)
            codec.data_to_send()

    return run


def peer_decode(reads: list[bytes]) -> Callable[[], object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import telnetlib

    def run() -> None:
        t = telnetlib.Telnet()
        t.option_callback = lambda sock, cmd, opt: None
        t.sock = None
        for read in reads:
            t.rawq = read
            t.irawq = 0
            t.process_rawq()
            t.cookedq = b""

    return run


# -- main --------------------------------------------------------------------------------


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    total = int(args.megabytes * 1_000_000)

    lines = make_lines(total)
    plain = "".join(line + "\r\n" for line in lines).encode()
    heavy_lines = [
        b"".join(
            line[i : i + 8].encode() + b"\xff\xff" for i in range(0, len(line), 8)
        )
        + bytes([IAC, NOP])
        + b"\r\n"
        for line in lines
    ]
    heavy = b"".join(heavy_lines)
    # A compressed stream of the plain text, as a server would send it.
    deflater = zlib.compressobj(6)
    stream = bytes([IAC, SB, MCCP2, IAC, SE]) + b"".join(
        deflater.compress(c) + deflater.flush(zlib.Z_SYNC_FLUSH) for c in chunks(plain)
    )
    text_64k = []
    buf: list[str] = []
    size = 0
    for line in lines:
        buf.append(line + "\n")
        size += len(line) + 1
        if size >= READ:
            text_64k.append("".join(buf))
            buf, size = [], 0
    if buf:
        text_64k.append("".join(buf))
    text_lines = [line + "\n" for line in lines]
    text_bytes = sum(len(t) for t in text_64k)

    # The compression ratio for the two MCCP2 shapes.
    ratio = {}
    for name, texts in (("bulk", text_64k), ("per line", text_lines)):
        codec = server_codec()
        codec.request_local(MCCP2)
        codec.receive(bytes([IAC, DO, MCCP2]))
        codec.data_to_send()
        wire = 0
        for text in texts:
            codec.send_text(text)
            wire += len(codec.data_to_send())
        ratio[name] = wire / len(plain)

    cases: list[tuple[str, int, Callable[[], object]]] = [
        ("decode plain ASCII (ours)", len(plain), decode(chunks(plain), len(lines))),
        ("decode plain ASCII (telnetlib, per byte)", len(plain), peer_decode(chunks(plain, 50))),
        ("decode IAC-heavy (ours)", len(heavy), decode(chunks(heavy), len(lines))),
        ("decode IAC-heavy (telnetlib, per byte)", len(heavy), peer_decode(chunks(heavy, 50))),
        ("decode MCCP2 client, inflated MB", len(plain), decode_mccp2(chunks(stream), len(lines))),
        ("encode plain, 64 KiB per write", text_bytes, encode(text_64k, False)),
        ("encode MCCP2, 64 KiB per write", text_bytes, encode(text_64k, True)),
        ("encode MCCP2, one line per write", text_bytes, encode(text_lines, True)),
    ]
    results: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.reps):
        # Interleaved, so a noisy neighbour hurts every row alike.
        for name, size, run in cases:
            results[name].append(size / timed(run) / 1e6)

    print(f"telnet codec, {len(plain) / 1e6:.1f} MB of text, {len(lines)} lines, "
          f"median of {args.reps}, Python {sys.version.split()[0]}")
    for name, _, _ in cases:
        print(f"  {name:45s} {statistics.median(results[name]):8.1f} MB/s")
    print(f"  MCCP2 wire size / text size: bulk {ratio['bulk']:.3f}, "
          f"per line {ratio['per line']:.3f}")


if __name__ == "__main__":
    main()
