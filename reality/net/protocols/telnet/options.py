"""Telnet numbers and option payloads: the pure data and pure functions of the codec.

- command and option numbers (RFC 854 section "TELNET COMMAND STRUCTURE",
  RFC 855, and the option RFCs / MUD specifications named below) and
  :func:`option_name` for logs;
- encoders and decoders for option payloads: NAWS (RFC 1073), TTYPE with
  the MTTS bit field (RFC 1091 and the MUD Terminal Type Standard), CHARSET
  (RFC 2066 section 3), MSSP (the MUD Server Status Protocol), and GMCP (the
  Generic MUD Communication Protocol).

The RFC 1143 option state machine is :mod:`.qmethod`. Decoders never raise
on a peer's bytes: they return ``None`` (and the codec logs) when a payload
is malformed.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AO",
    "AYT",
    "BRK",
    "CHARSET",
    "CHARSET_ACCEPTED",
    "CHARSET_REJECTED",
    "CHARSET_REQUEST",
    "CHARSET_TTABLE_ACK",
    "CHARSET_TTABLE_IS",
    "CHARSET_TTABLE_NAK",
    "CHARSET_TTABLE_REJECTED",
    "DM",
    "DO",
    "DONT",
    "EC",
    "ECHO",
    "EL",
    "EOR",
    "EOR_CMD",
    "GA",
    "GMCP",
    "IAC",
    "IP",
    "LINEMODE",
    "MCCP2",
    "MSSP",
    "MSSP_VAL",
    "MSSP_VAR",
    "NAWS",
    "NOP",
    "SB",
    "SE",
    "SGA",
    "TTYPE",
    "WILL",
    "WONT",
    "Mtts",
    "charset_key",
    "decode_charset_request",
    "decode_gmcp",
    "decode_mssp",
    "decode_naws",
    "encode_charset_request",
    "encode_gmcp",
    "encode_mssp",
    "encode_naws",
    "option_name",
    "parse_mtts",
]

# -- RFC 854 commands -------------------------------------------------------

IAC = 255
DONT = 254
DO = 253
WONT = 252
WILL = 251
SB = 250
GA = 249
EL = 248
EC = 247
AYT = 246
AO = 245
IP = 244
BRK = 243
DM = 242
NOP = 241
SE = 240
EOR_CMD = 239  # RFC 885: the END-OF-RECORD command (not the option)

# -- options ------------------------------------------------------------------

ECHO = 1  # RFC 857
SGA = 3  # RFC 858
TTYPE = 24  # RFC 1091 (+ MTTS)
EOR = 25  # RFC 885
NAWS = 31  # RFC 1073
LINEMODE = 34  # RFC 1184 (refused: we do line editing ourselves)
CHARSET = 42  # RFC 2066
MSSP = 70  # MUD Server Status Protocol
MCCP2 = 86  # MUD Client Compression Protocol v2
GMCP = 201  # Generic MUD Communication Protocol

_OPTION_NAMES = {
    0: "BINARY",
    ECHO: "ECHO",
    SGA: "SGA",
    5: "STATUS",
    6: "TM",
    TTYPE: "TTYPE",
    EOR: "EOR",
    NAWS: "NAWS",
    32: "TSPEED",
    33: "LFLOW",
    LINEMODE: "LINEMODE",
    35: "XDISPLOC",
    36: "ENVIRON",
    39: "NEW-ENVIRON",
    CHARSET: "CHARSET",
    69: "MSDP",
    MSSP: "MSSP",
    MCCP2: "MCCP2",
    87: "MCCP3",
    90: "MSP",
    91: "MXP",
    93: "ZMP",
    GMCP: "GMCP",
}


def option_name(option: int) -> str:
    """A readable name for an option number, for logs: ``option_name(31) == "NAWS"``."""
    return _OPTION_NAMES.get(option, str(option))


# -- NAWS (RFC 1073) ----------------------------------------------------------


def encode_naws(width: int, height: int) -> bytes:
    """The NAWS payload (before IAC doubling): two 16-bit big-endian numbers."""
    width = min(max(int(width), 0), 0xFFFF)
    height = min(max(int(height), 0), 0xFFFF)
    return width.to_bytes(2, "big") + height.to_bytes(2, "big")


def decode_naws(payload: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a NAWS payload, or None if it is not 4 bytes."""
    if len(payload) != 4:
        return None
    return int.from_bytes(payload[:2], "big"), int.from_bytes(payload[2:], "big")


# -- MTTS (the MUD Terminal Type Standard, over RFC 1091 TTYPE) ---------------


class Mtts(enum.IntFlag):
    """The MTTS bit field a client reports as its third TTYPE, ``"MTTS <n>"``."""

    ANSI = 1
    VT100 = 2
    UTF8 = 4
    COLORS_256 = 8
    MOUSE_TRACKING = 16
    OSC_COLOR_PALETTE = 32
    SCREEN_READER = 64
    PROXY = 128
    TRUECOLOR = 256
    MNES = 512
    MSLP = 1024
    SSL = 2048


def parse_mtts(name: str) -> Mtts | None:
    """The flags in an ``"MTTS <n>"`` terminal type, or None if it is not one."""
    head, _, number = name.strip().partition(" ")
    if head.upper() != "MTTS" or not number.isdigit() or len(number) > 10:
        return None
    # Bits we do not know yet are kept: IntFlag accepts unknown members.
    return Mtts(int(number) & 0xFFFFFFFF)


# -- CHARSET (RFC 2066 section 3) ---------------------------------------------

CHARSET_REQUEST = 1
CHARSET_ACCEPTED = 2
CHARSET_REJECTED = 3
CHARSET_TTABLE_IS = 4
CHARSET_TTABLE_REJECTED = 5
CHARSET_TTABLE_ACK = 6
CHARSET_TTABLE_NAK = 7


def encode_charset_request(names: Iterable[str]) -> bytes:
    """A REQUEST payload offering ``names``, separated by ``;``."""
    return bytes([CHARSET_REQUEST]) + b"".join(
        b";" + name.encode("ascii", "replace") for name in names
    )


def decode_charset_request(body: bytes) -> list[str]:
    """The character set names offered in a REQUEST body (after the REQUEST byte).

    RFC 2066 allows ``[TTABLE] <version>`` before the list; we never accept
    translation tables, so that prefix is skipped. The first byte of the list
    is the separator the sender chose.
    """
    if body.startswith(b"[TTABLE]"):
        body = body[len(b"[TTABLE]") + 1 :]
    if len(body) < 2:
        return []
    sep, rest = body[:1], body[1:]
    return [part.decode("ascii", "replace") for part in rest.split(sep) if part]


def charset_key(name: str) -> str:
    """A comparison key that treats ``utf-8``, ``UTF8`` and ``Utf_8`` alike."""
    return name.upper().replace("-", "").replace("_", "")


# -- MSSP ---------------------------------------------------------------------

MSSP_VAR = 1
MSSP_VAL = 2


def _mssp_clean(text: object) -> bytes:
    # VAR, VAL, NUL and IAC would break the framing: they cannot be escaped.
    return str(text).encode("utf-8", "replace").translate(None, b"\x00\x01\x02\xff")


def encode_mssp(variables: Mapping[str, Any]) -> bytes:
    """The MSSP payload for ``{"NAME": "Reality", "PORT": [4000, 4001], ...}``."""
    out = bytearray()
    for name, value in variables.items():
        out.append(MSSP_VAR)
        out += _mssp_clean(name)
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        for item in values:
            out.append(MSSP_VAL)
            out += _mssp_clean(item)
    return bytes(out)


def decode_mssp(payload: bytes) -> dict[str, tuple[str, ...]] | None:
    """``{name: (value, ...)}`` from an MSSP payload, or None if it is malformed."""
    if not payload or payload[0] != MSSP_VAR:
        return None
    result: dict[str, list[str]] = {}
    for chunk in payload[1:].split(bytes([MSSP_VAR])):
        name, *values = chunk.split(bytes([MSSP_VAL]))
        key = name.decode("utf-8", "replace")
        result.setdefault(key, []).extend(v.decode("utf-8", "replace") for v in values)
    return {key: tuple(values) for key, values in result.items()}


# -- GMCP ---------------------------------------------------------------------


def encode_gmcp(package: str, data: Any = None) -> bytes:
    """``Package.Name <json>``; with ``data=None`` just the package name."""
    if data is None:
        return package.encode("utf-8", "replace")
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{package} {body}".encode("utf-8", "replace")


def decode_gmcp(payload: bytes) -> tuple[str, Any] | None:
    """``(package, data)`` from a GMCP payload, or None when it is not valid.

    A message without a body has ``data=None``. Invalid UTF-8 or JSON, an
    empty or non-printable package name, make the message invalid.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    package, _, body = text.partition(" ")
    if not package or not package.isprintable():
        return None
    body = body.strip()
    if not body:
        return package, None
    try:
        return package, json.loads(body)
    except (ValueError, RecursionError):
        return None
