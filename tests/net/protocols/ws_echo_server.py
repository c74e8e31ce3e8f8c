"""A WebSocket echo server on the engine, for the real-socket tests and the
benchmark.

Run as ``python ws_echo_server.py [selector|asyncio|uvloop] [--no-deflate]``;
it listens on 127.0.0.1 (a free port), prints ``PORT <n>`` and serves until
SIGTERM. Every message comes back as it came (text as text, binary as
binary); the text ``close <code> <reason>`` makes the server close with that
code; subprotocols ``echo`` and ``chat`` are known, ``echo`` is the default.
"""

from __future__ import annotations

import sys

from reality.net.asyncio_reactor import make_reactor
from reality.net.interfaces import IReactor
from reality.net.protocols.http import HTTPFactory, Request, Response
from reality.net.protocols.websocket import (
    BinaryMessage,
    HandshakeReject,
    TextMessage,
    server_handshake,
)
from reality.net.protocols.websocket.protocol import WebSocketHandler, WebSocketProtocol


class Echo(WebSocketHandler):
    def connection_made(self, ws: WebSocketProtocol) -> None:
        self.ws = ws

    def message_received(self, message: TextMessage | BinaryMessage) -> None:
        if type(message) is TextMessage:
            text = message.text
            if text.startswith("close "):
                _, code, *reason = text.split(" ", 2)
                self.ws.close(int(code), reason[0] if reason else "")
                return
            self.ws.send_text(text)
        else:
            self.ws.send_binary(message.data)  # type: ignore[union-attr]


def handler(reactor: IReactor, deflate: bool, max_message: int):  # noqa: ANN201
    def handle(request: Request) -> Response:
        answer = server_handshake(
            request.method,
            request.headers,
            subprotocols=["echo", "chat"],
            default_subprotocol="echo",
            deflate=deflate,
        )
        if isinstance(answer, HandshakeReject):
            return Response.text(answer.reason + "\n", answer.status, answer.headers)

        def switch() -> WebSocketProtocol:
            return WebSocketProtocol(
                Echo(),
                reactor,
                extensions=answer.extensions,
                subprotocol=answer.subprotocol,
                max_frame=max_message,
                max_message=max_message,
                ping_interval=None,
            )

        return Response(101, answer.response_headers, switch_to=switch)

    return handle


def main() -> None:
    args = sys.argv[1:]
    name = args[0] if args and not args[0].startswith("-") else "selector"
    deflate = "--no-deflate" not in args
    max_message = 16 << 20  # Autobahn's 9.x cases send messages up to 16 MiB
    reactor = make_reactor(name)
    factory = HTTPFactory(handler(reactor, deflate, max_message), reactor, max_connections=0)
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1", backlog=2048)
    print(f"PORT {port.get_host().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
