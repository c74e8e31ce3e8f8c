"""Frame-level vocabulary of RFC 6455 §5: opcodes, close codes, masking and
the encoding of one frame.

Decoding lives in :mod:`.connection`, which needs the state of the
conversation to judge a frame; encoding is a pure function, used by the
connection and by tests that need to build frames a peer might send (even
invalid ones).
"""

from __future__ import annotations

import enum
import os

__all__ = [
    "Opcode",
    "encode_frame",
    "mask_payload",
    "valid_received_close_code",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 §5.2, §11.8)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


#: Status codes that may appear in a Close frame on the wire (RFC 6455 §7.4.1,
#: and the IANA registry's 1012-1014). 1004 is reserved; 1005, 1006 and 1015
#: are for reporting only and must never be sent.
_DEFINED = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


def valid_received_close_code(code: int) -> bool:
    """Whether ``code`` may travel in a Close frame (RFC 6455 §7.4): the
    defined codes, the registered range 3000-3999 and the private 4000-4999."""
    return code in _DEFINED or 3000 <= code <= 4999


def mask_payload(mask: bytes, data: bytes, offset: int = 0) -> bytes:
    """``data`` XOR the 4-byte ``mask`` (RFC 6455 §5.3), starting ``offset``
    bytes into the payload (for a frame that arrives in pieces).

    Masking is its own inverse. One big-integer XOR is the fastest way to do
    it in pure Python: far faster than a loop over the bytes.
    """
    n = len(data)
    if not n:
        return b""
    if offset & 3:
        k = offset & 3
        mask = mask[k:] + mask[:k]
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: bytes | None = None,
    random_mask: bool = False,
) -> bytes:
    """One frame on the wire: header, masking key, payload (RFC 6455 §5.2).

    ``mask`` masks with the given 4 bytes; ``random_mask`` with 4 bytes from
    ``os.urandom`` (what a client must do). Nothing is checked: a test may
    build any frame, however wrong.
    """
    if random_mask:
        mask = os.urandom(4)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0)
    b0 |= (0x10 if rsv3 else 0) | (opcode & 0x0F)
    n = len(payload)
    m = 0x80 if mask is not None else 0
    if n < 126:
        header = bytes((b0, m | n))
    elif n < 65536:
        header = bytes((b0, m | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((b0, m | 127)) + n.to_bytes(8, "big")
    if mask is None:
        return header + payload
    return header + mask + mask_payload(mask, payload)
