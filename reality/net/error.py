"""Exceptions of the engine: why a connection ended, why a connect failed."""

from __future__ import annotations


class ConnectionClosed(Exception):
    """Base class: a connection is over (the reason given to ``connection_lost``)."""


class ConnectionDone(ConnectionClosed):
    """The connection was closed cleanly (by us or by an orderly shutdown of the peer)."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "connection was closed cleanly"


class ConnectionLost(ConnectionClosed):
    """The connection was lost in an unclean way (reset, broken pipe, aborted)."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "connection was lost"


class ConnectError(Exception):
    """An outgoing connection could not be established."""


class ConnectionRefusedError(ConnectError):  # noqa: A001 - our own hierarchy
    """The peer refused the connection (nothing is listening)."""


class ConnectingTimeoutError(ConnectError):
    """The connection attempt did not complete in time."""


class DNSLookupError(ConnectError):
    """The host name could not be resolved."""


class CannotListenError(Exception):
    """A listening port could not be opened (address in use, permission denied, ...)."""

    def __init__(self, interface: str, port: int, reason: BaseException) -> None:
        super().__init__(interface, port, reason)
        self.interface = interface
        self.port = port
        self.reason = reason

    def __str__(self) -> str:
        where = f"{self.interface or '*'}:{self.port}"
        return f"cannot listen on {where}: {self.reason}"


class ProcessDone(Exception):
    """A child process ended with exit status 0."""

    def __init__(self, status: int = 0) -> None:
        super().__init__(status)
        self.exit_code = 0
        self.signal: int | None = None
        self.status = status


class ProcessTerminated(Exception):
    """A child process ended with a non-zero status or a signal."""

    def __init__(
        self, exit_code: int | None = None, signal: int | None = None, status: int = 0
    ) -> None:
        super().__init__(exit_code, signal, status)
        self.exit_code = exit_code
        self.signal = signal
        self.status = status

    def __str__(self) -> str:
        if self.signal is not None:
            return f"process ended by signal {self.signal}"
        return f"process ended with exit code {self.exit_code}"
