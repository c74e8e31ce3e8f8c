"""permessage-deflate (RFC 7692): negotiating its parameters, and
compressing and decompressing messages within a bound.

The negotiation is a pure function of header values (:func:`server_negotiate`,
:func:`client_offer`, :func:`client_accept`); :class:`MessageDeflater` does
the work for one connection and one role.

zlib cannot make a raw deflate stream with an 8-bit window (it quietly uses
9), so a peer that asks for 8 bits is answered with 9, as other servers do;
any window decompresses with our 15-bit inflater.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = [
    "DeflateParams",
    "ExtensionError",
    "MessageDeflater",
    "client_accept",
    "client_offer",
    "parse_extensions",
    "server_negotiate",
]

NAME = "permessage-deflate"
_TAIL = b"\x00\x00\xff\xff"


class ExtensionError(ValueError):
    """An extension header or parameter is malformed."""


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The negotiated permessage-deflate parameters (RFC 7692 §7.1).

    ``*_no_context_takeover``: that side starts every message with an empty
    window. ``*_max_window_bits``: the largest LZ77 window that side may
    compress with (zlib wbits, 9..15).
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def header_value(self, *, response: bool = True) -> str:
        """The Sec-WebSocket-Extensions value that states these parameters."""
        parts = [NAME]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits != 15:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.client_max_window_bits != 15:
            parts.append(f"client_max_window_bits={self.client_max_window_bits}")
        return "; ".join(parts)


def _split_quoted(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == sep and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise ExtensionError("unterminated quoted string")
    out.append("".join(current))
    return out


def parse_extensions(value: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """``Sec-WebSocket-Extensions`` (RFC 6455 §9.1) as (name, [(param, value)])."""
    result: list[tuple[str, list[tuple[str, str | None]]]] = []
    for item in _split_quoted(value, ","):
        if not item.strip():
            continue
        pieces = _split_quoted(item, ";")
        name = pieces[0].strip().lower()
        if not name:
            raise ExtensionError("extension without a name")
        params: list[tuple[str, str | None]] = []
        for piece in pieces[1:]:
            piece = piece.strip()
            if not piece:
                continue
            key, eq, val = piece.partition("=")
            key = key.strip().lower()
            if not key:
                raise ExtensionError("parameter without a name")
            if eq:
                val = val.strip()
                if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
                    val = val[1:-1]
                params.append((key, val))
            else:
                params.append((key, None))
        result.append((name, params))
    return result


def _bits(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 2 or value[0] == "0":
        raise ExtensionError(f"invalid window bits {value!r}")
    n = int(value)
    if not 8 <= n <= 15:
        raise ExtensionError(f"window bits {n} out of range 8-15")
    return n


def _offer_params(params: list[tuple[str, str | None]]) -> dict[str, str | None]:
    seen: dict[str, str | None] = {}
    for key, value in params:
        if key in seen:
            raise ExtensionError(f"{key} given twice")
        if key not in (
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ):
            raise ExtensionError(f"unknown parameter {key}")
        if key.endswith("takeover") and value is not None:
            raise ExtensionError(f"{key} takes no value")
        seen[key] = value
    return seen


def server_negotiate(offers: str) -> tuple[DeflateParams, str] | None:
    """The server's choice among a client's offers: the first acceptable
    permessage-deflate offer (RFC 7692 §5.1), as parameters and the
    response header value; None to decline (no offer, or none valid)."""
    try:
        parsed = parse_extensions(offers)
    except ExtensionError:
        return None
    for name, params in parsed:
        if name != NAME:
            continue
        try:
            offer = _offer_params(params)
            server_bits = 15
            if "server_max_window_bits" in offer:
                server_bits = max(9, _bits(offer["server_max_window_bits"]))
            client_bits = 15
            client_value = offer.get("client_max_window_bits")
            if client_value is not None:
                # The client will not use a bigger window than it says.
                client_bits = max(9, _bits(client_value))
        except ExtensionError:
            continue
        chosen = DeflateParams(
            server_no_context_takeover="server_no_context_takeover" in offer,
            client_no_context_takeover="client_no_context_takeover" in offer,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )
        # Answer every parameter the client offered a value for (some clients
        # insist on seeing server_max_window_bits again), and
        # client_max_window_bits only then (RFC 7692 §7.1.2.2).
        parts = [NAME]
        if chosen.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if chosen.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if "server_max_window_bits" in offer:
            parts.append(f"server_max_window_bits={server_bits}")
        if client_value is not None:
            parts.append(f"client_max_window_bits={client_bits}")
        response = "; ".join(parts)
        return chosen, response
    return None


def client_offer() -> str:
    """What a client offers: permessage-deflate, letting the server limit our window."""
    return f"{NAME}; client_max_window_bits"


def client_accept(response: str) -> DeflateParams:
    """The parameters a server's response sets (RFC 7692 §5.1 client rules);
    :class:`ExtensionError` if the response is not one we can accept."""
    parsed = parse_extensions(response)
    if len(parsed) != 1 or parsed[0][0] != NAME:
        raise ExtensionError(f"the server accepted extensions we did not offer: {response!r}")
    params = _offer_params(parsed[0][1])
    server_bits = 15
    if "server_max_window_bits" in params:
        server_bits = _bits(params["server_max_window_bits"])
    client_bits = 15
    if "client_max_window_bits" in params:
        client_bits = max(9, _bits(params["client_max_window_bits"]))
    return DeflateParams(
        "server_no_context_takeover" in params,
        "client_no_context_takeover" in params,
        server_bits,
        client_bits,
    )


class MessageDeflater:
    """Compression for one connection: ours out, the peer's in.

    ``server`` says which side we are, so which parameters bind our
    compressor and which the peer's. Inflating is bounded: :meth:`inflate`
    never produces more than it is allowed, however small the input.
    """

    __slots__ = (
        "_compress_bits",
        "_compress_reset",
        "_compressor",
        "_decompress_reset",
        "_inflater",
    )

    def __init__(self, params: DeflateParams, *, server: bool) -> None:
        if server:
            self._compress_bits = params.server_max_window_bits
            self._compress_reset = params.server_no_context_takeover
            self._decompress_reset = params.client_no_context_takeover
        else:
            self._compress_bits = params.client_max_window_bits
            self._compress_reset = params.client_no_context_takeover
            self._decompress_reset = params.server_no_context_takeover
        self._compressor: zlib._Compress | None = None
        self._inflater: zlib._Decompress | None = None

    def compress(self, data: bytes) -> bytes:
        """One message's payload, compressed (RFC 7692 §7.2.1)."""
        compressor = self._compressor
        if compressor is None or self._compress_reset:
            compressor = self._compressor = zlib.compressobj(
                zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self._compress_bits
            )
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_TAIL):
            out = out[:-4]
        return out

    def inflate(self, data: bytes, limit: int) -> bytes | None:
        """Decompress a piece of a message; None if it would exceed ``limit`` bytes.

        Raises :class:`zlib.error` on corrupt data.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(-15)
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            return None
        return out

    def end_message(self, limit: int) -> bytes | None:
        """Finish a message: inflate the implied tail; None if over ``limit``."""
        out = self.inflate(_TAIL, limit)
        inflater = self._inflater
        if self._decompress_reset or (inflater is not None and inflater.eof):
            self._inflater = None
        return out
