"""SMTP paths: the addresses of ``MAIL FROM`` and ``RCPT TO`` and their parameters.

RFC 5321 4.1.2 (the path grammar), 4.1.3 (address literals), 4.5.1
(``<postmaster>``), 4.5.3.1 (the lengths), appendix C (source routes,
accepted and dropped); RFC 6531 3.3 (UTF-8 in addresses under SMTPUTF8);
RFC 1870 / RFC 6152 parameters (``SIZE=``, ``BODY=``) as ``KEY[=VALUE]``.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_PATH_LENGTH",
    "AddressSyntaxError",
    "PathSyntaxError",
    "parse_params",
    "parse_path",
]

#: RFC 5321 4.5.3.1.3: a path is at most 256 octets including the brackets.
MAX_PATH_LENGTH = 256

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_MAILBOX = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOMAIN}|{_LITERAL})")
# RFC 6531 3.3: with SMTPUTF8, atext, quoted text and domain labels may also
# hold any non-ASCII character (UTF8-non-ascii; U-labels in the domain).
_UTEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]"
_UDOT_ATOM = rf"{_UTEXT}+(?:\.{_UTEXT}+)*"
_UQUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"'
_ULETTER = r"A-Za-z0-9_\u0080-\U0010ffff"
_ULABEL = rf"[{_ULETTER}](?:[{_ULETTER}-]*[{_ULETTER}])?"
_UDOMAIN = rf"{_ULABEL}(?:\.{_ULABEL})*"
_UTF8_MAILBOX = re.compile(rf"(?:{_UDOT_ATOM}|{_UQUOTED})@(?:{_UDOMAIN}|{_LITERAL})")
_SOURCE_ROUTE = re.compile(rf"@{_DOMAIN}(?:,@{_DOMAIN})*:")
_POSTMASTER = "postmaster"


class PathSyntaxError(ValueError):
    """A ``MAIL FROM`` or ``RCPT TO`` argument is not well formed."""


class AddressSyntaxError(PathSyntaxError):
    """The path is well framed but the address inside it is not an address."""


def parse_path(text: str, allow_null: bool = False, utf8: bool = False) -> tuple[str, str]:
    """Split ``<address> params`` into the address and the parameter text.

    Follows RFC 5321 4.1.2: ``<local@domain>``; a source route
    (``<@a,@b:local@domain>``) is accepted and dropped (appendix C);
    ``<>`` only if ``allow_null``; ``<postmaster>`` with no domain is an
    address (4.5.1). Also accepts a bare ``local@domain`` without brackets,
    which some clients send. With ``utf8`` the address may hold UTF-8
    (RFC 6531 3.3); lengths are counted in octets either way. Raises
    :class:`PathSyntaxError` for a badly framed path and
    :class:`AddressSyntaxError` for a bad address.
    """
    text = text.lstrip(" ")
    if text.startswith("<"):
        end = _closing_bracket(text)
        if end < 0:
            raise PathSyntaxError("missing '>'")
        inner = text[1:end]
        rest = text[end + 1 :]
        if rest and not rest.startswith(" "):
            raise PathSyntaxError("junk after '>'")
        if _octets(text[: end + 1]) > MAX_PATH_LENGTH:
            raise AddressSyntaxError("path longer than 256 octets")
    else:
        inner, _, rest = text.partition(" ")
        if not inner:
            raise PathSyntaxError("no address")
        rest = " " + rest if rest else ""
    params = rest.strip(" ")
    if inner == "":
        if allow_null:
            return "", params
        raise AddressSyntaxError("the null address <> is not a recipient")
    route = _SOURCE_ROUTE.match(inner)
    if route is not None:
        inner = inner[route.end() :]
    if inner.lower() == _POSTMASTER:
        return inner, params
    mailbox = _UTF8_MAILBOX if utf8 else _MAILBOX
    if _octets(inner) > MAX_PATH_LENGTH - 2 or mailbox.fullmatch(inner) is None:
        raise AddressSyntaxError(f"not an address: {inner[:80]!r}")
    local = inner.rpartition("@")[0]
    if _octets(local) > 64:
        raise AddressSyntaxError("local part longer than 64 octets")
    return inner, params


def _octets(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass")) if not text.isascii() else len(text)


def _closing_bracket(text: str) -> int:
    # A quoted local part may itself contain '>', so walk the quotes.
    quoted = False
    escaped = False
    for index in range(1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ">":
            return index
    return -1


_PARAM_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def parse_params(text: str) -> dict[str, str | None] | None:
    """``SIZE=100 BODY=8BITMIME`` -> ``{"SIZE": "100", "BODY": "8BITMIME"}``; None if malformed."""
    params: dict[str, str | None] = {}
    for item in text.split():
        key, eq, value = item.partition("=")
        if not key or _PARAM_KEY.fullmatch(key) is None:
            return None
        if eq and not value:
            return None
        params[key.upper()] = value if eq else None
    return params

