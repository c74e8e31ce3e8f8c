"""The Autobahn test suite's cases 1-7, 9, 12 and 13, ported as data.

The definitions follow the ``autobahntestsuite`` package (its
``case/case*.py``: what each case sends and what it expects), written anew
as a table, with sizes bounded so that the whole set runs in seconds (9.x
messages up to 1 MiB instead of 16 MiB, 10 messages per case instead of
1,000 for 9.7/9.8, 12.x and 13.x).

A case is a list of client steps and what the client must see back from
an echo server: the echoed messages and pongs in order, and the status
code of the server's Close. :func:`run_codec` plays a case against the
codec directly; ``test_websocket_autobahn.py`` plays it over real sockets
too. The server's bytes are decoded by ``wsproto``, an independent peer.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping as WPing,
    Pong as WPong,
    TextMessage as WText,
)

from reality.net.protocols.websocket import (
    BinaryMessage,
    Role,
    State,
    TextMessage,
    WebSocketConnection,
    encode_frame,
)

NORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1002, 1007, 1009


@dataclass(frozen=True)
class F:
    """A frame the client sends; ``chop`` splits it into writes of that size."""

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0  # Autobahn's numbering: 4 = RSV1, 2 = RSV2, 1 = RSV3
    chop: int | None = None

    def wire(self) -> list[bytes]:
        data = encode_frame(
            self.opcode,
            self.payload,
            fin=self.fin,
            rsv1=bool(self.rsv & 4),
            rsv2=bool(self.rsv & 2),
            rsv3=bool(self.rsv & 1),
            random_mask=True,
        )
        if self.chop is None:
            return [data]
        return [data[i : i + self.chop] for i in range(0, len(data), self.chop)]


def close_frame(code: int | None = None, reason: bytes = b"") -> F:
    payload = b"" if code is None else code.to_bytes(2, "big") + reason
    return F(8, payload)


@dataclass
class Case:
    """One case: the frames sent, then (``client_closes``) a Close 1000 from
    the client; ``expect`` what comes back, ``close`` the acceptable codes of
    the server's Close."""

    id: str
    frames: list[F]
    expect: list[tuple[str, object]] = field(default_factory=list)
    close: frozenset[int] = frozenset({NORMAL})
    client_closes: bool = True

    def writes(self) -> Iterator[bytes]:
        for frame in self.frames:
            yield from frame.wire()
        if self.client_closes:
            yield from close_frame(NORMAL).wire()


def T(text: str, **kw: object) -> F:
    return F(1, text.encode("utf-8"), **kw)  # type: ignore[arg-type]


def B(data: bytes, **kw: object) -> F:
    return F(2, data, **kw)  # type: ignore[arg-type]


def fragments(opcode: int, data: bytes, size: int, chop: int | None = None) -> list[F]:
    """One message as frames of ``size`` bytes (at least one frame)."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        F(opcode if i == 0 else 0, piece, fin=i == len(pieces) - 1, chop=chop)
        for i, piece in enumerate(pieces)
    ]


def msg(value: str | bytes) -> tuple[str, object]:
    return ("text", value) if isinstance(value, str) else ("binary", value)


def pong(payload: bytes) -> tuple[str, object]:
    return ("pong", payload)


def failed(code: int, *frames: F, expect: list[tuple[str, object]] | None = None) -> Case:
    return Case("", list(frames), expect or [], frozenset({code}), client_closes=False)


def _c(case_id: str, case: Case) -> Case:
    case.id = case_id
    return case


# -- 1: framing ------------------------------------------------------------------

SIZES_1 = [0, 125, 126, 127, 128, 65535, 65536]


def _framing() -> list[Case]:
    cases = []
    for kind, op, unit in (("1.1", 1, "*"), ("1.2", 2, "\xfe")):
        for i, n in enumerate(SIZES_1, 1):
            payload = (unit * n).encode("latin-1")
            value: str | bytes = payload.decode() if op == 1 else payload
            cases.append(_c(f"{kind}.{i}", Case("", [F(op, payload)], [msg(value)])))
        payload = (unit * 65536).encode("latin-1")
        value = payload.decode() if op == 1 else payload
        cases.append(_c(f"{kind}.8", Case("", [F(op, payload, chop=997)], [msg(value)])))
    return cases


# -- 2: pings and pongs ------------------------------------------------------------


def _pings() -> list[Case]:
    binary = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    return [
        _c("2.1", Case("", [F(9)], [pong(b"")])),
        _c("2.2", Case("", [F(9, b"Hello, world!")], [pong(b"Hello, world!")])),
        _c("2.3", Case("", [F(9, binary)], [pong(binary)])),
        _c("2.4", Case("", [F(9, b"\xfe" * 125)], [pong(b"\xfe" * 125)])),
        _c("2.5", failed(PROTOCOL_ERROR, F(9, b"\xfe" * 126))),
        _c("2.6", Case("", [F(9, b"\xfe" * 125, chop=1)], [pong(b"\xfe" * 125)])),
        _c("2.7", Case("", [F(10)], [])),
        _c("2.8", Case("", [F(10, b"unsolicited pong payload")], [])),
        _c(
            "2.9",
            Case(
                "",
                [F(10, b"unsolicited pong payload"), F(9, b"ping payload")],
                [pong(b"ping payload")],
            ),
        ),
        _c(
            "2.10",
            Case(
                "",
                [F(9, b"payload-%d" % i) for i in range(10)],
                [pong(b"payload-%d" % i) for i in range(10)],
            ),
        ),
        _c(
            "2.11",
            Case(
                "",
                [F(9, b"payload-%d" % i, chop=1) for i in range(10)],
                [pong(b"payload-%d" % i) for i in range(10)],
            ),
        ),
    ]


# -- 3: reserved bits; 4: reserved opcodes ------------------------------------------------

HELLO = "Hello, world!"


def _reserved() -> list[Case]:
    binary = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    cases = [
        _c("3.1", failed(PROTOCOL_ERROR, T(HELLO, rsv=1))),
        _c("3.2", failed(PROTOCOL_ERROR, T(HELLO), T(HELLO, rsv=2), F(9), expect=[msg(HELLO)])),
        _c("3.3", failed(PROTOCOL_ERROR, T(HELLO), T(HELLO, rsv=3), F(9), expect=[msg(HELLO)])),
        _c(
            "3.4",
            failed(
                PROTOCOL_ERROR,
                T(HELLO, chop=1),
                T(HELLO, rsv=4, chop=1),
                F(9, chop=1),
                expect=[msg(HELLO)],
            ),
        ),
        _c("3.5", failed(PROTOCOL_ERROR, B(binary, rsv=5))),
        _c("3.6", failed(PROTOCOL_ERROR, B(HELLO.encode(), rsv=6))),
        _c("3.7", failed(PROTOCOL_ERROR, F(8, b"", rsv=7))),
    ]
    for group, ops in (("4.1", (3, 4, 5, 6, 7)), ("4.2", (11, 12, 13, 14, 15))):
        cases += [
            _c(f"{group}.1", failed(PROTOCOL_ERROR, F(ops[0]))),
            _c(f"{group}.2", failed(PROTOCOL_ERROR, F(ops[1], b"reserved opcode payload"))),
            _c(
                f"{group}.3", failed(PROTOCOL_ERROR, T(HELLO), F(ops[2]), F(9), expect=[msg(HELLO)])
            ),
            _c(
                f"{group}.4",
                failed(
                    PROTOCOL_ERROR, T(HELLO), F(ops[3], HELLO.encode()), F(9), expect=[msg(HELLO)]
                ),
            ),
            _c(
                f"{group}.5",
                failed(
                    PROTOCOL_ERROR,
                    T(HELLO, chop=1),
                    F(ops[4], HELLO.encode(), chop=1),
                    F(9, chop=1),
                    expect=[msg(HELLO)],
                ),
            ),
        ]
    return cases


# -- 5: fragmentation --------------------------------------------------------------------


def _fragmentation() -> list[Case]:
    f1, f2 = b"fragment1", b"fragment2"
    cases = [
        _c("5.1", failed(PROTOCOL_ERROR, F(9, f1, fin=False), F(0, f2))),
        _c("5.2", failed(PROTOCOL_ERROR, F(10, f1, fin=False), F(0, f2))),
    ]
    for i, chop in ((3, None), (4, None), (5, 1)):
        cases.append(
            _c(
                f"5.{i}",
                Case(
                    "",
                    [F(1, f1, fin=False, chop=chop), F(0, f2, chop=chop)],
                    [msg("fragment1fragment2")],
                ),
            )
        )
    for i, chop in ((6, None), (7, None), (8, 1)):
        cases.append(
            _c(
                f"5.{i}",
                Case(
                    "",
                    [
                        F(1, f1, fin=False, chop=chop),
                        F(9, b"ping payload", chop=chop),
                        F(0, f2, chop=chop),
                    ],
                    [pong(b"ping payload"), msg("fragment1fragment2")],
                ),
            )
        )
    for i, chop in ((9, None), (10, None), (11, 1)):
        cases.append(
            _c(
                f"5.{i}",
                failed(
                    PROTOCOL_ERROR,
                    F(0, b"non-continuation payload", chop=chop),
                    T(HELLO, chop=chop),
                ),
            )
        )
    for i, chop in ((12, None), (13, None), (14, 1)):
        cases.append(
            _c(
                f"5.{i}",
                failed(
                    PROTOCOL_ERROR,
                    F(0, b"non-continuation payload", fin=False, chop=chop),
                    T(HELLO, chop=chop),
                ),
            )
        )
    cases.append(
        _c(
            "5.15",
            failed(
                PROTOCOL_ERROR,
                F(1, f1, fin=False),
                F(0, f2),
                F(0, b"fragment3", fin=False),
                F(1, b"fragment4"),
                expect=[msg("fragment1fragment2")],
            ),
        )
    )
    cases.append(
        _c(
            "5.16",
            failed(
                PROTOCOL_ERROR,
                *[F(0, f1, fin=False), F(1, f2, fin=False), F(0, b"fragment3")] * 2,
            ),
        )
    )
    cases.append(
        _c("5.17", failed(PROTOCOL_ERROR, *[F(0, f1), F(1, f2, fin=False), F(0, b"fragment3")] * 2))
    )
    cases.append(_c("5.18", failed(PROTOCOL_ERROR, F(1, f1, fin=False), F(1, f2))))
    frags = [b"fragment%d" % i for i in range(1, 6)]
    for i in (19, 20):
        cases.append(
            _c(
                f"5.{i}",
                Case(
                    "",
                    [
                        F(1, frags[0], fin=False),
                        F(0, frags[1], fin=False),
                        F(9, b"pongme 1!"),
                        F(0, frags[2], fin=False),
                        F(0, frags[3], fin=False),
                        F(9, b"pongme 2!"),
                        F(0, frags[4]),
                    ],
                    [pong(b"pongme 1!"), pong(b"pongme 2!"), msg(b"".join(frags).decode())],
                ),
            )
        )
    return cases


# -- 6: UTF-8 ------------------------------------------------------------------------------

KOSME = "κόσμε".encode()
VALID_6_2 = "Hello-µ@ßöäüàá-UTF-8!!".encode()
INVALID_6_3 = KOSME + b"\xed\xa0\x80edited"

#: UTF-8 decoder test vectors after Markus Kuhn's UTF-8-test.txt (the source
#: of Autobahn's 6.5-6.23): (valid, bytes).
UTF8_VECTORS: list[tuple[bool, bytes]] = [
    # correct text, first and last sequences of each length, boundaries
    (True, b"hello\x24world"),
    (True, b"hello\xc2\xa2world"),
    (True, b"hello\xe2\x82\xacworld"),
    (True, b"hello\xf0\xa4\xad\xa2world"),
    (True, KOSME),
    (True, b"\x00"),
    (True, b"\xc2\x80"),
    (True, b"\xe0\xa0\x80"),
    (True, b"\xf0\x90\x80\x80"),
    (True, b"\x7f"),
    (True, b"\xdf\xbf"),
    (True, b"\xef\xbf\xbf"),
    (True, b"\xf4\x8f\xbf\xbf"),
    (True, b"\xed\x9f\xbf"),
    (True, b"\xee\x80\x80"),
    (True, b"\xef\xbf\xbd"),
    # noncharacters are valid UTF-8
    (True, b"\xef\xbf\xbe"),
    (True, b"\xef\xb7\x90"),
    (True, b"\xf0\x9f\xbf\xbf"),
    (True, b"\xf4\x8f\xbf\xbe"),
    # beyond U+10FFFF, 5- and 6-byte forms
    (False, b"\xf4\x90\x80\x80"),
    (False, b"\xf8\x88\x80\x80\x80"),
    (False, b"\xfc\x84\x80\x80\x80\x80"),
    (False, b"\xf7\xbf\xbf\xbf"),
    (False, b"\xfb\xbf\xbf\xbf\xbf"),
    (False, b"\xfd\xbf\xbf\xbf\xbf\xbf"),
    # unexpected continuation bytes
    (False, b"\x80"),
    (False, b"\xbf"),
    (False, b"\x80\xbf"),
    (False, b"\x80\xbf\x80\xbf\x80\xbf\x80"),
    (False, bytes(range(0x80, 0xC0))),
    # lonely start bytes
    (False, b" ".join(bytes([c]) for c in range(0xC0, 0xE0)) + b" "),
    (False, b" ".join(bytes([c]) for c in range(0xE0, 0xF0)) + b" "),
    (False, b" ".join(bytes([c]) for c in range(0xF0, 0xF8)) + b" "),
    (False, b"\xf8 \xf9 \xfa \xfb "),
    (False, b"\xfc \xfd "),
    # sequences with the last byte missing
    (False, b"\xc0"),
    (False, b"\xe0\x80"),
    (False, b"\xf0\x80\x80"),
    (False, b"\xdf"),
    (False, b"\xef\xbf"),
    (False, b"\xf7\xbf\xbf"),
    (False, b"\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"),
    # impossible bytes
    (False, b"\xfe"),
    (False, b"\xff"),
    (False, b"\xfe\xfe\xff\xff"),
    # overlong forms
    (False, b"\xc0\xaf"),
    (False, b"\xe0\x80\xaf"),
    (False, b"\xf0\x80\x80\xaf"),
    (False, b"\xc1\xbf"),
    (False, b"\xe0\x9f\xbf"),
    (False, b"\xf0\x8f\xbf\xbf"),
    (False, b"\xc0\x80"),
    (False, b"\xe0\x80\x80"),
    (False, b"\xf0\x80\x80\x80"),
    # UTF-16 surrogates, single and paired
    (False, b"\xed\xa0\x80"),
    (False, b"\xed\xad\xbf"),
    (False, b"\xed\xae\x80"),
    (False, b"\xed\xaf\xbf"),
    (False, b"\xed\xb0\x80"),
    (False, b"\xed\xbe\x80"),
    (False, b"\xed\xbf\xbf"),
    (False, b"\xed\xa0\x80\xed\xb0\x80"),
    (False, b"\xed\xaf\xbf\xed\xbf\xbf"),
]


def _utf8() -> list[Case]:
    cases = [
        _c("6.1.1", Case("", [F(1)], [msg("")])),
        _c("6.1.2", Case("", [F(1, fin=False), F(0, fin=False), F(0)], [msg("")])),
        _c(
            "6.1.3",
            Case(
                "",
                [F(1, fin=False), F(0, b"middle frame payload", fin=False), F(0)],
                [msg("middle frame payload")],
            ),
        ),
        _c("6.2.1", Case("", [F(1, VALID_6_2)], [msg(VALID_6_2.decode())])),
        _c(
            "6.2.2",
            Case(
                "",
                [F(1, VALID_6_2[:12], fin=False), F(0, VALID_6_2[12:])],
                [msg(VALID_6_2.decode())],
            ),
        ),
        _c("6.2.3", Case("", fragments(1, VALID_6_2, 1), [msg(VALID_6_2.decode())])),
        _c("6.2.4", Case("", fragments(1, KOSME, 1), [msg(KOSME.decode())])),
        _c("6.3.1", failed(INVALID_DATA, F(1, INVALID_6_3))),
        _c("6.3.2", failed(INVALID_DATA, *fragments(1, INVALID_6_3, 1))),
    ]
    # 6.4 (fail fast) needs pauses between writes: see test_fail_fast_* tests.
    for i, (valid, data) in enumerate(UTF8_VECTORS, 1):
        for variant, frames in (
            ("whole", [F(1, data)]),
            ("frag1", fragments(1, data, 1)),
            ("chop1", [F(1, data, chop=1)]),
        ):
            case_id = f"6.x.{i}.{variant}"
            if valid:
                cases.append(_c(case_id, Case("", frames, [msg(data.decode())])))
            else:
                cases.append(_c(case_id, failed(INVALID_DATA, *frames)))
    return cases


# -- 7: closing ------------------------------------------------------------------------------

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]


def _closing() -> list[Case]:
    hello = "Hello World!"
    big = (b"BAsd7&jh23" * 26215)[: 256 * 1024]
    closed = dict(client_closes=False)
    cases = [
        _c("7.1.1", Case("", [T(hello)], [msg(hello)])),
        _c("7.1.2", Case("", [close_frame(NORMAL), F(8)], [], **closed)),  # type: ignore[arg-type]
        _c("7.1.3", Case("", [close_frame(NORMAL), F(9)], [], **closed)),  # type: ignore[arg-type]
        _c("7.1.4", Case("", [close_frame(NORMAL), T(hello)], [], **closed)),  # type: ignore[arg-type]
        _c(
            "7.1.5",
            Case(
                "",
                [F(1, b"fragment1", fin=False), close_frame(NORMAL), F(0, b"fragment2")],
                [],
                **closed,
            ),  # type: ignore[arg-type]
        ),
        _c(
            "7.1.6",
            Case(
                "",
                [F(1, big), T(hello), close_frame(NORMAL), F(9)],
                [msg(big.decode()), msg(hello)],
                **closed,  # type: ignore[arg-type]
            ),
        ),
        _c("7.3.1", Case("", [close_frame()], [], **closed)),  # type: ignore[arg-type]
        _c("7.3.2", failed(PROTOCOL_ERROR, F(8, b"a"))),
        _c("7.3.3", Case("", [close_frame(NORMAL)], [], **closed)),  # type: ignore[arg-type]
        _c("7.3.4", Case("", [close_frame(NORMAL, b"Hello World!")], [], **closed)),  # type: ignore[arg-type]
        _c("7.3.5", Case("", [close_frame(NORMAL, b"*" * 123)], [], **closed)),  # type: ignore[arg-type]
        _c("7.3.6", failed(PROTOCOL_ERROR, close_frame(NORMAL, b"*" * 124))),
        _c("7.5.1", failed(INVALID_DATA, close_frame(NORMAL, INVALID_6_3))),
        _c("7.13.1", failed(PROTOCOL_ERROR, close_frame(5000))),
        _c("7.13.2", failed(PROTOCOL_ERROR, close_frame(65535))),
    ]
    for i, code in enumerate(VALID_CODES, 1):
        cases.append(
            _c(
                f"7.7.{i}",
                Case("", [close_frame(code)], [], frozenset({NORMAL, code}), client_closes=False),
            )
        )
    for i, code in enumerate(INVALID_CODES, 1):
        cases.append(_c(f"7.9.{i}", failed(PROTOCOL_ERROR, close_frame(code))))
    return cases


# -- 9: limits and performance (bounded) -----------------------------------------------------------

KIB, MIB = 1024, 1024 * 1024


def _big() -> list[Case]:
    cases = []
    for group, op, unit in (("9.1", 1, b"*"), ("9.2", 2, b"\xfe")):
        for i, n in enumerate((64 * KIB, 256 * KIB, 1 * MIB), 1):
            data = unit * n
            cases.append(
                _c(
                    f"{group}.{i}",
                    Case("", [F(op, data)], [msg(data.decode() if op == 1 else data)]),
                )
            )
    for group, op in (("9.3", 1), ("9.4", 2)):
        data = b"*" * MIB
        for i, size in enumerate((64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB), 1):
            cases.append(
                _c(
                    f"{group}.{i}",
                    Case("", fragments(op, data, size), [msg(data.decode() if op == 1 else data)]),
                )
            )
    for group, op in (("9.5", 1), ("9.6", 2)):
        data = b"*" * (256 * KIB)
        for i, chop in enumerate((64, 128, 256, 512, 1024, 2048), 1):
            cases.append(
                _c(
                    f"{group}.{i}",
                    Case("", [F(op, data, chop=chop)], [msg(data.decode() if op == 1 else data)]),
                )
            )
    for group, op in (("9.7", 1), ("9.8", 2)):
        for i, n in enumerate((0, 16, 64, 256, KIB, 4 * KIB), 1):
            data = b"*" * n
            value: str | bytes = data.decode() if op == 1 else data
            cases.append(_c(f"{group}.{i}", Case("", [F(op, data)] * 10, [msg(value)] * 10)))
    return cases


def all_cases() -> list[Case]:
    return _framing() + _pings() + _reserved() + _fragmentation() + _utf8() + _closing() + _big()


# -- 12, 13: permessage-deflate ----------------------------------------------------------

#: (message size, auto-fragment size) after Autobahn's MSG_SIZES.
DEFLATE_SIZES = [
    (16, 0),
    (64, 0),
    (256, 0),
    (1024, 0),
    (4096, 0),
    (8192, 0),
    (16384, 0),
    (32768, 0),
    (65536, 0),
    (131072, 0),
    (8192, 256),
    (16384, 256),
    (32768, 256),
    (65536, 256),
    (131072, 256),
    (131072, 1024),
    (131072, 4096),
    (131072, 32768),
]

#: What the client offers in 13.1-13.7: (server_no_context_takeover, server_max_window_bits).
DEFLATE_OFFERS: list[list[tuple[bool, int]]] = [
    [(False, 0)],
    [(True, 0)],
    [(False, 9)],
    [(False, 15)],
    [(True, 9)],
    [(True, 15)],
    [(True, 9), (True, 0), (False, 0)],
]

MESSAGES_PER_CASE = 10


def sample_data(kind: str) -> bytes:
    """Deterministic stand-ins for Autobahn's test files: JSON text, text of a
    book-like kind, an image-like binary, and incompressible bytes."""
    rng = random.Random(kind)
    if kind == "json":
        items = [
            f'{{"id": {i}, "name": "item-{rng.randrange(10**6)}", "tags": ["a", "ü", "€"], '
            f'"price": {rng.random():.4f}, "ok": {str(rng.random() < 0.5).lower()}}}'
            for i in range(3000)
        ]
        return ("[" + ", ".join(items) + "]").encode()
    if kind == "book":
        words = "der Geist der stets verneint und das mit Recht denn alles ist wert".split()
        return " ".join(rng.choice(words) for _ in range(60000)).encode()
    if kind == "image":
        return bytes(
            min(255, (x * y) % 256 + rng.randrange(8)) for y in range(256) for x in range(512)
        )
    return os.urandom(200_000) if kind == "random" else b""


def offer_header(offers: list[tuple[bool, int]]) -> str:
    parts = []
    for no_context, bits in offers:
        params = ["permessage-deflate", "client_no_context_takeover", "client_max_window_bits"]
        if no_context:
            params.append("server_no_context_takeover")
        if bits:
            params.append(f"server_max_window_bits={bits}")
        parts.append("; ".join(params))
    return ", ".join(parts)


def slices(data: bytes, size: int, count: int, text: bool) -> list[bytes]:
    """``count`` consecutive pieces of ``size`` bytes (wrapping around), cut at
    character boundaries for text."""
    out = []
    pos = 0
    for _ in range(count):
        piece = (data[pos:] + data)[:size]
        pos = (pos + size) % len(data)
        if text:
            piece = piece.decode("utf-8", "ignore").encode()
        out.append(piece)
    return out


# -- playing a case against the codec ---------------------------------------------------


def echo(server: WebSocketConnection, events: list[object]) -> None:
    for event in events:
        if type(event) is TextMessage:
            server.send_text(event.text)
        elif type(event) is BinaryMessage:
            server.send_binary(event.data)


class Peer:
    """The client's view of the server's bytes, decoded by wsproto."""

    def __init__(self) -> None:
        self.conn = Connection(ConnectionType.CLIENT)
        self.seen: list[tuple[str, object]] = []
        self.close_code: int | None = None
        self.closed = False
        self._parts: list[object] = []

    def feed(self, data: bytes) -> None:
        if not data or self.closed:
            return
        self.conn.receive_data(data)
        for event in self.conn.events():
            if isinstance(event, WText | BytesMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    kind = "text" if isinstance(event, WText) else "binary"
                    joiner: object = "" if kind == "text" else b""
                    self.seen.append((kind, joiner.join(self._parts)))  # type: ignore[attr-defined]
                    self._parts = []
            elif isinstance(event, WPong):
                self.seen.append(("pong", bytes(event.payload)))
            elif isinstance(event, WPing):
                pass
            elif isinstance(event, CloseConnection):
                self.close_code = int(event.code)
                self.closed = True


def run_codec(case: Case, coalesce: bool = False) -> Peer:
    """Play ``case`` against a server-role codec; what the client saw."""
    server = WebSocketConnection(Role.SERVER, max_frame=16 * MIB, max_message=16 * MIB)
    peer = Peer()
    writes = list(case.writes())
    if coalesce:
        writes = [b"".join(writes)]
    for data in writes:
        events = server.receive_data(data)
        echo(server, events)
        peer.feed(server.data_to_send())
        if server.state is State.CLOSED:
            break  # the server closes the TCP connection
    return peer


def check(case: Case, peer: Peer) -> None:
    assert peer.seen == case.expect, f"{case.id}: saw {peer.seen!r:.300}"
    assert peer.close_code in case.close, f"{case.id}: closed with {peer.close_code}"


Check = Callable[[Case, Peer], None]
