"""A tiny application for the SIGTERM test: two services that report stopping.

Run as a script; prints lines the test reads. Not a test module.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reality.net.defer import Deferred  # noqa: E402
from reality.net.protocol import Factory, Protocol  # noqa: E402
from reality.net.reactor import SelectReactor  # noqa: E402
from reality.net.service import Application, Service, TCPServer  # noqa: E402


class Reporter(Service):
    def __init__(self, name: str, reactor: SelectReactor) -> None:
        self.name = name
        self.reactor = reactor

    def start_service(self) -> None:
        super().start_service()
        print(f"started {self.name} threads={threading.active_count()}", flush=True)

    def stop_service(self) -> Deferred[None]:
        super().stop_service()
        d: Deferred[None] = Deferred()

        def done() -> None:
            print(f"stopped {self.name} threads={threading.active_count()}", flush=True)
            d.callback(None)

        # Stopping takes a while: the application must wait for it.
        self.reactor.call_later(0.1, done)
        return d


def main() -> None:
    reactor = SelectReactor()
    app = Application("sigterm-test")
    Reporter("first", reactor).set_service_parent(app)
    TCPServer(
        reactor, 0, Factory.for_protocol(Protocol), "127.0.0.1",
        on_listening=lambda a: print(f"listening {a.port}", flush=True),
    ).set_service_parent(app)
    Reporter("second", reactor).set_service_parent(app)
    app.run(reactor)
    print(f"exiting threads={threading.active_count()}", flush=True)


if __name__ == "__main__":
    main()
