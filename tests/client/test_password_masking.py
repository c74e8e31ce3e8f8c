"""``reality play`` never shows or keeps the passwords of ``password <old> <new>``."""

from __future__ import annotations

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from reality.client.app import PlayClient


class _Wire:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_line(self, text: str) -> None:
        self.sent.append(text)


def test_password_command_is_sent_but_echoed_starred_and_not_kept():
    """The line goes to the server whole; the scrollback shows stars; history gets nothing."""
    with create_pipe_input() as pipe:
        client = PlayClient("127.0.0.1", 1, history=None, input=pipe, output=DummyOutput())
        wire = _Wire()
        client.state.protocol = wire  # type: ignore[assignment]
        buffer = Buffer()
        buffer.text = "password old-pw new-pw"
        assert client._accept(buffer) is True  # True: prompt-toolkit keeps no history of it
        assert wire.sent == ["password old-pw new-pw"]
        assert client.state.lines[-1].text == "password ****** ******"
        assert buffer.text == ""
