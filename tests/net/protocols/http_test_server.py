"""A small HTTP server on the real reactor, for the real-socket tests.

Run as ``python http_test_server.py [max_connections] [header_timeout] [idle_timeout]``;
it listens on 127.0.0.1 (a free port), prints ``PORT <n>`` and serves until
SIGTERM.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from reality.gateways.router import Router
from reality.net.defer import Deferred
from reality.net.protocols.http import HTTPFactory, Request, Response
from reality.net.reactor import SelectReactor

PAGE = ("<!doctype html><title>Reality</title><p>" + "welcome " * 100 + "</p>").encode()


def build(reactor: SelectReactor) -> Router:
    router = Router()
    home = Response(200, {"Content-Type": "text/html"}, PAGE)
    router.add("/", lambda request: home)
    router.add("/~{name}", lambda request: Response.text(f"home of {request.params['name']}"))
    router.add(
        "/echo",
        lambda request: Response(200, {"Content-Type": "application/octet-stream"}, request.body),
        methods=["POST", "PUT"],
    )

    def slow(request: Request) -> Deferred[Response]:
        d: Deferred[Response] = Deferred()
        reactor.call_later(0.3, d.callback, Response.text("slow"))
        return d

    router.add("/slow", slow)

    def stream(request: Request) -> Response:
        def pieces() -> Iterator[bytes]:
            for i in range(5):
                yield b"piece %d\n" % i

        return Response(200, {"Content-Type": "text/plain"}, pieces())

    router.add("/stream", stream)

    def boom(request: Request) -> Response:
        raise RuntimeError("the handler broke on purpose")

    router.add("/boom", boom)
    router.add("/path", lambda request: Response.text(f"{request.path}|{request.query}"))
    return router


def main() -> None:
    max_connections = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    header_timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    idle_timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
    reactor = SelectReactor()
    factory = HTTPFactory(
        build(reactor),
        reactor,
        max_connections=max_connections,
        header_timeout=header_timeout,
        idle_timeout=idle_timeout,
    )
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    print(f"PORT {port.get_host().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
