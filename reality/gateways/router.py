"""The website's router: requests to handlers by path pattern and method.

Application code over the HTTP codec (:mod:`reality.net.protocols.http`),
which knows nothing of it: a :class:`Router` is just a handler, a callable
from :class:`~reality.net.protocols.http.Request` to a Response, with a
``body_refusal(head)`` method that :class:`~reality.net.protocols.http.HTTPChannel`
asks before it reads a request body.

Paths are compared after decoding percent-escaped unreserved characters
only (RFC 3986 §6.2.2.2), so ``%2F`` never splits a segment. Answers it
gives itself (RFC 9110 §15): 404 for an unknown path, 405 with ``Allow``
(§10.2.1) for a method the path does not serve, 501 for a method the
server does not know, and 413 for a body a route does not take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from attrs import define, field

from reality.net.protocols.http.channel import Handler
from reality.net.protocols.http.events import (
    KNOWN_METHODS,
    Request,
    RequestHead,
    Response,
    error_response,
    split_target,
)

__all__ = ["BODY_METHODS", "Router"]

_NO_PARAMS: dict[str, str] = {}  # returned, never stored: a static route has no parameters
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNRESERVED_ESCAPE_RE = re.compile(r"%(2[DEde]|5[Ff]|7[Ee]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa])")


def _normalize_path(raw_path: str) -> str:
    """Decode percent-escaped unreserved characters (RFC 3986 §6.2.2.2) only.

    ``%7E`` is ``~``, but ``%2F`` stays escaped so it cannot split a segment.
    """
    if "%" not in raw_path:
        return raw_path
    return _UNRESERVED_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), raw_path)


#: Methods whose routes take a request body unless told otherwise (``Router.add(body=...)``).
BODY_METHODS: frozenset[str] = frozenset({"POST", "PUT", "PATCH"})


@define(slots=True)
class _Route:
    pattern: str
    handlers: dict[str, Handler]
    regex: re.Pattern[str] | None = None
    #: The methods of this route that take a request body.
    bodies: set[str] = field(factory=set)

    @property
    def allow(self) -> str:
        return ", ".join(sorted(self.handlers))


class Router:
    """Routes requests by path pattern and method to handlers.

    Patterns are paths whose segments may hold ``{name}`` parameters, each
    matching one non-empty segment piece: ``"/~{name}"``,
    ``"/players/{name}"``. Captured values are percent-decoded into
    ``request.params``. A route for GET also answers HEAD. A known path
    with another method gets 405 with ``Allow``; a method the server does
    not know gets 501; an unknown path gets 404 (or ``not_found(request)``).

    Each route says which of its methods take a request body (by default
    POST, PUT and PATCH; ``add(..., body=False)`` or ``True`` decides).
    :meth:`body_refusal` answers a request announcing any other body as
    soon as its head arrives (404, 405 or 413), so the body is never read.
    """

    def __init__(self, not_found: Handler | None = None) -> None:
        self.not_found = not_found
        self._static: dict[str, _Route] = {}
        self._dynamic: list[_Route] = []

    def add(
        self,
        pattern: str,
        handler: Handler,
        methods: Iterable[str] = ("GET",),
        *,
        body: bool | None = None,
    ) -> None:
        """Serve ``pattern`` with ``handler`` for ``methods`` (GET implies HEAD).

        ``body`` says whether these methods take a request body here; None
        means those of :data:`BODY_METHODS` do and the others do not.
        """
        if not pattern.startswith("/"):
            raise ValueError(f"a route pattern must start with '/', not {pattern!r}")
        methods = [m.upper() for m in methods]
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")
        route = self._find_pattern(pattern)
        if route is None:
            route = _Route(pattern, {})
            if _PARAM_RE.search(pattern):
                route.regex = _compile_pattern(pattern)
                self._dynamic.append(route)
            else:
                if "{" in pattern or "}" in pattern:
                    raise ValueError(f"malformed parameter in route pattern {pattern!r}")
                self._static[pattern] = route
        for method in methods:
            if method in route.handlers and route.handlers[method] is not handler:
                raise ValueError(f"{method} {pattern} already has a handler")
            route.handlers[method] = handler
            takes_body = method in BODY_METHODS if body is None else body
            if takes_body:
                route.bodies.add(method)
            else:
                route.bodies.discard(method)

    def route(
        self, pattern: str, methods: Iterable[str] = ("GET",), *, body: bool | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`."""

        def register(handler: Handler) -> Handler:
            self.add(pattern, handler, methods, body=body)
            return handler

        return register

    def body_refusal(self, head: RequestHead) -> Response | None:
        """The answer to a request head announcing a body its route does not take, or None.

        :class:`HTTPChannel` asks before reading the body: no such path is
        404, a method the path does not allow 405 (with ``Allow``), a method
        that takes no body here 413.
        """
        raw_path, _, _ = split_target(head.target)
        route, _ = self.match(raw_path)
        if route is None:
            return error_response(404)
        method = head.method
        if method not in route.handlers:
            return error_response(405, headers={"Allow": route.allow})
        if method not in route.bodies:
            return error_response(413, f"{method} {route.pattern} takes no request body")
        return None

    def _find_pattern(self, pattern: str) -> _Route | None:
        if pattern in self._static:
            return self._static[pattern]
        for route in self._dynamic:
            if route.pattern == pattern:
                return route
        return None

    def match(self, raw_path: str) -> tuple[_Route | None, dict[str, str]]:
        """The route for ``raw_path`` and its decoded parameters (None if no route)."""
        path = _normalize_path(raw_path)
        route = self._static.get(path)
        if route is not None:
            return route, _NO_PARAMS
        for route in self._dynamic:
            assert route.regex is not None
            m = route.regex.fullmatch(path)
            if m is not None:
                params = {k: unquote(v, errors="replace") for k, v in m.groupdict().items()}
                return route, params
        return None, {}

    def __call__(self, request: Request) -> Any:
        method = request.method
        if method not in KNOWN_METHODS:
            return error_response(501, f"method {method[:32]} is not implemented")
        raw_path = request.raw_path or request.path
        route = self._static.get(raw_path) if "%" not in raw_path else None
        if route is None:
            route, params = self.match(raw_path)
        else:
            params = _NO_PARAMS
        if route is None:
            if self.not_found is not None:
                return self.not_found(request)
            return error_response(404)
        handler = route.handlers.get(method)
        if handler is None:
            return error_response(405, headers={"Allow": route.allow})
        if params:
            request.params = params
        return handler(request)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    names: set[str] = set()
    pos = 0
    for m in _PARAM_RE.finditer(pattern):
        literal = pattern[pos : m.start()]
        if "{" in literal or "}" in literal:
            raise ValueError(f"malformed parameter in route pattern {pattern!r}")
        parts.append(re.escape(literal))
        name = m.group(1)
        if name in names:
            raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
        names.add(name)
        parts.append(f"(?P<{name}>[^/]+)")
        pos = m.end()
    tail = pattern[pos:]
    if "{" in tail or "}" in tail:
        raise ValueError(f"malformed parameter in route pattern {pattern!r}")
    parts.append(re.escape(tail))
    return re.compile("".join(parts))
