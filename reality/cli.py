"""The ``reality`` command.

Until the game is assembled, ``reality serve`` runs the engine's echo
example on the telnet port, so the README's start command always works.
"""

from __future__ import annotations

import argparse
import logging
import sys

from reality.net.protocol import Factory, Protocol
from reality.net.reactor import SelectReactor
from reality.net.service import Application, TCPServer


class _Echo(Protocol):
    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``reality`` command."""
    parser = argparse.ArgumentParser(prog="reality")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--bind", default="127.0.0.1")
    serve.add_argument("--telnet-port", type=int, default=4000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    reactor = SelectReactor()
    app = Application("reality")

    def listening(address: object) -> None:
        logging.getLogger("reality").info("echo listening on %s", address)

    TCPServer(reactor, args.telnet_port, Factory.for_protocol(_Echo), args.bind,
              on_listening=listening).set_service_parent(app)
    app.run(reactor)
    return 1 if app.start_failure else 0


if __name__ == "__main__":
    sys.exit(main())
