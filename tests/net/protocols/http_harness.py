"""A test harness for the HTTP server: an HTTPFactory, one channel from it, a
StringTransport and a fake Clock (shared by the channel and factory tests)."""

from __future__ import annotations

from reality.net.protocols.http import HTTPFactory, Request, Response
from reality.net.testing import Clock, StringTransportWithDisconnection

DATE = b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def get(path: str, *extra: bytes, version: bytes = b"1.1") -> bytes:
    return b"GET %s HTTP/%s\r\nHost: x\r\n%s\r\n" % (path.encode(), version, b"".join(extra))


class Harness:
    """A factory, a channel, its transport and the clock it runs on."""

    def __init__(self, handler, **options) -> None:
        self.clock = Clock()
        self.factory = HTTPFactory(handler, self.clock, date_source=lambda: 0, **options)
        self.transport, self.channel = self.connect()

    def connect(self):
        transport = StringTransportWithDisconnection()
        channel = self.factory.build_protocol(transport.get_peer())
        transport.protocol = channel
        channel.make_connection(transport)
        return transport, channel

    def send(self, data: bytes) -> bytes:
        self.channel.data_received(data)
        return self.transport.take()


def hello(request: Request) -> Response:
    return Response.text(f"hello {request.path}")
