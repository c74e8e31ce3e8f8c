"""``reality play`` driven against a live server, without a terminal.

The server is ``run_server.py`` in a subprocess (tests/e2e/serverproc.py);
the client is the real :class:`PlayClient` with prompt-toolkit's pipe input
(keys typed by the test) and a dummy output. A second player is the
standard library's telnetlib. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from reality.client.app import PlayClient, history_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from serverproc import ServerProcess  # noqa: E402

TIMEOUT = 10.0


class SizedOutput(DummyOutput):
    """A dummy output whose terminal size the test can change."""

    def __init__(self, columns: int = 80, rows: int = 24) -> None:
        self.size = Size(rows=rows, columns=columns)

    def get_size(self) -> Size:
        return self.size


async def until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> None:
    """Wait (bounded) until ``predicate()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def scrollback(client: PlayClient) -> str:
    return "\n".join(line.text for line in client.state.lines)


def run(scenario: Coroutine[Any, Any, Any], limit: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, limit))


class Driver:
    """A PlayClient on pipe input, running as a task; the test types into it."""

    def __init__(self, port: int, history: Path, output: DummyOutput | None = None) -> None:
        self._pipe_context = create_pipe_input()
        self.pipe = self._pipe_context.__enter__()
        self.client = PlayClient(
            "127.0.0.1", port, input=self.pipe, output=output or SizedOutput(),
            history=history, terminal="xterm",
        )
        self.task: asyncio.Task[int] | None = None

    async def start(self) -> PlayClient:
        self.task = asyncio.ensure_future(self.client.run())
        await until(lambda: self.client.app is not None and self.client.app.is_running,
                    "the client's screen")
        return self.client

    def type(self, keys: str) -> None:
        self.pipe.send_text(keys)

    async def line(self, text: str) -> None:
        """Type a line and wait until the client has sent it (the buffer is empty)."""
        self.type(text + "\r")
        await until(lambda: self.client.buffer.text == "", f"{text!r} to be sent")

    async def wait_for_text(self, text: str) -> None:
        await until(lambda: text in scrollback(self.client), f"{text!r} in the scrollback")

    async def quit(self) -> int:
        assert self.task is not None
        self.type("\x04")  # Ctrl-D on an empty line
        try:
            return await asyncio.wait_for(self.task, TIMEOUT)
        finally:
            self._pipe_context.__exit__(None, None, None)


def test_play_login_masked_walk_speech_keeps_typing_and_completes(tmp_path):
    """Connect, log in with the password masked, walk, keep a half-typed line, Tab-complete."""
    hist = tmp_path / "history"
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]

        async def scenario() -> None:
            driver = Driver(port, hist)
            client = await driver.start()
            await driver.wait_for_text("Type your character's name")
            assert client.state.prompt == "> "

            # A new character, interactively: the password prompts hide input.
            await driver.line("Alice")
            question = "Create a new character named Alice? (y/n) "
            await until(lambda: client.state.prompt == question, "the confirmation")
            await driver.line("y")
            await until(lambda: client.state.masked, "input to be masked")
            assert client.state.prompt == "Choose a password: "
            await driver.line("sesame123")
            await until(lambda: client.state.prompt == "Repeat the password: ", "repeat")
            assert client.state.masked
            await driver.line("sesame123")
            await until(lambda: client.state.room_name == "The Hall", "Room.Info")
            assert not client.state.masked
            assert client.state.exits == ["north"]
            assert "sesame123" not in scrollback(client)

            # Walk there and back; the toolbar follows GMCP Room.Info.
            await driver.line("north")
            await until(lambda: client.state.room_name == "The Library", "the library")
            await driver.line("south")
            await until(lambda: client.state.room_name == "The Hall", "the hall again")

            # Another player speaks while Alice is half-way through a line.
            bob = server.telnet()
            bob.command("create Bob secret")
            driver.type("say half-typ")
            await until(lambda: client.buffer.text == "say half-typ", "typing")
            bob.command("say Hello, Alice!")
            await driver.wait_for_text('Bob says, "Hello, Alice!"')
            assert client.buffer.text == "say half-typ"
            assert client.buffer.cursor_position == len("say half-typ")
            await driver.line("ed line")
            bob.expect('Alice says, "half-typed line"')

            # Tab completes an exit, a verb, and a name in the room.
            await driver.line("look")  # the room's contents reach Room.Info after a command
            await until(lambda: "Bob" in client.state.players, "Bob in Room.Info")
            driver.type("nor\t")
            await until(lambda: client.buffer.text == "north", "the exit completed")
            driver.type("\x03")  # Ctrl-C clears the line and keeps the client running
            await until(lambda: client.buffer.text == "", "the line cleared")
            driver.type("inv\t")
            await until(lambda: client.buffer.text == "inventory", "the verb completed")
            driver.type("\x03")
            driver.type("get bra\t")
            await until(lambda: client.buffer.text == "get brass lamp", "the name completed")
            await driver.line("")
            await driver.wait_for_text("You pick up the brass lamp")
            driver.type("give lamp to B\t")
            await until(lambda: client.buffer.text == "give lamp to Bob", "a player's name")
            await driver.line("")
            bob.expect("Alice gives you the brass lamp")
            bob.close()
            assert threading.active_count() == 1, "the client runs in one thread"

            assert await driver.quit() == 0

        run(scenario())

    saved = hist.read_text()
    assert "+north" in saved and "+say half-typed line" in saved
    assert "+Alice" in saved, "the name typed at login is history"
    assert "sesame123" not in saved, "a masked password is not"


def test_history_persists_and_ctrl_r_searches_it(tmp_path):
    """A second session finds the first one's lines with Up and with Ctrl-R."""
    hist = tmp_path / "data" / "reality" / "history"
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]

        async def first() -> None:
            driver = Driver(port, hist)
            await driver.start()
            await driver.wait_for_text("Type your character's name")
            await driver.line("connect Nobody wrongpass")
            await driver.line("who")
            await driver.line("help")
            assert await driver.quit() == 0

        async def second() -> None:
            driver = Driver(port, hist)
            client = await driver.start()
            await driver.wait_for_text("Type your character's name")
            driver.type("\x1b[A")  # Up: the last line of the last session
            await until(lambda: client.buffer.text == "help", "history with Up")
            driver.type("\x03")
            driver.type("\x12")  # Ctrl-R: reverse incremental search
            await until(lambda: client.app.layout.is_searching, "the search to start")
            driver.type("wh")
            await until(lambda: client.app.current_buffer.text == "wh", "the search text")
            driver.type("\r")  # accept the match into the line
            await until(lambda: not client.app.layout.is_searching, "the search to end")
            await until(lambda: client.buffer.text == "who", "Ctrl-R to find 'who'")
            driver.type("\x03")
            assert await driver.quit() == 0

        run(first())
        saved = hist.read_text()
        assert "+who" in saved and "+help" in saved
        assert "wrongpass" not in saved, "login commands with passwords are not kept"
        run(second())


def test_resize_is_reported_over_naws(tmp_path):
    """The client reports the terminal's size at connect and again when it changes."""
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]

        async def scenario() -> None:
            output = SizedOutput(columns=90, rows=30)
            driver = Driver(port, tmp_path / "h", output=output)
            client = await driver.start()
            await driver.wait_for_text("Type your character's name")
            codec = client.state.protocol.codec
            assert codec.window_size == (90, 30)
            output.size = Size(rows=50, columns=120)
            client.app.invalidate()
            await until(lambda: codec.window_size == (120, 50), "the new size")
            # The server wraps to the width it was told: a long say stays within 120.
            await driver.line("create Wide secret")
            await driver.line("say " + "word " * 40)
            await driver.wait_for_text("You say")
            said = [line.text for line in client.state.lines
                    if line.kind == "server" and "word word" in line.text]
            assert said and all(len(text) <= 120 for text in said)
            assert len(said) >= 2, "a 200-character line is wrapped"
            assert await driver.quit() == 0

        run(scenario())


def test_refused_connection_is_a_clear_error(tmp_path, capsys):
    """Nothing listening: one clear message on stderr, exit status 1, no screen."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> int:
        with create_pipe_input() as pipe:
            client = PlayClient("127.0.0.1", port, input=pipe, output=DummyOutput(),
                                history=None)
            status = await client.run()
            assert client.app is None
            return status

    assert run(scenario()) == 1
    err = capsys.readouterr().err
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in err
    assert "python run_server.py" in err


def test_dropped_connection_offers_reconnect(tmp_path):
    """The server closing the line is reported; Enter reconnects; a dead server is reported."""
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]

        async def scenario() -> None:
            driver = Driver(port, tmp_path / "h")
            client = await driver.start()
            await driver.wait_for_text("Type your character's name")
            await driver.line("quit")
            await until(lambda: not client.state.is_connected, "the disconnect")
            await driver.wait_for_text("Press Enter to reconnect")
            assert "disconnected" in client.state.status
            await driver.line("")
            await until(lambda: client.state.is_connected, "the reconnect")
            await until(lambda: scrollback(client).count("Type your character's name") == 2,
                        "a second banner")
            server.stop()
            await until(lambda: not client.state.is_connected, "the server to go away")
            await driver.line("")
            await driver.wait_for_text("Could not connect: connection refused")
            assert await driver.quit() == 0

        run(scenario())


def test_history_path_follows_xdg_data_home(tmp_path):
    """History lives in $XDG_DATA_HOME/reality/history, else ~/.local/share/reality/history."""
    assert history_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "reality" / "history"
    default = history_path({})
    assert default == Path.home() / ".local" / "share" / "reality" / "history"
    assert history_path({"XDG_DATA_HOME": "relative/dir"}) == default


@pytest.mark.parametrize("bad", ["", "/dev/null/x"])
def test_unusable_history_file_falls_back_to_memory(tmp_path, bad):
    """A history file that cannot be created does not stop the client; it says so."""
    from reality.client.app import _open_history

    history, problem = _open_history(Path(bad) / "history" if bad else None)
    history.append_string("look")
    assert list(history.get_strings()) == ["look"]
    assert (problem is None) == (bad == "")


def test_tab_completes_what_the_character_carries(tmp_path):
    """Over a real server: after 'get lamp', 'drop br' Tab completes from Char.Items.List."""
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]

        async def scenario() -> None:
            driver = Driver(port, tmp_path / "h")
            client = await driver.start()
            await driver.wait_for_text("Type your character's name")
            await driver.line("create Carrie secret12")
            await until(lambda: client.state.room_name == "The Hall", "Room.Info")
            await driver.line("get lamp")
            await until(lambda: client.state.inventory == [("lamp", "brass lamp")], "the list")
            await until(lambda: "brass lamp" not in client.state.items, "the room without it")
            driver.type("drop br\t")
            await until(lambda: client.buffer.text == "drop brass lamp", "the carried lamp")
            await driver.line("")
            await until(lambda: client.state.inventory == [], "the empty list")
            assert await driver.quit() == 0

        run(scenario())


def test_play_comes_back_logged_in_after_a_bounce(tmp_path):
    """@bounce closes the client's connection as an upgrade would: ``reality play``
    keeps the Client.Resume token, reconnects by itself and lands logged in where
    it was, without the password being typed again."""
    hist = tmp_path / "history"
    with ServerProcess(tmp_path, admins=("Root",)) as server:
        port = server.ports["telnet"]

        async def scenario() -> None:
            driver = Driver(port, hist)
            client = await driver.start()
            await driver.wait_for_text("Type your character's name")
            await driver.line("create Player sesame123")
            await until(lambda: client.state.room_name == "The Hall", "logged in")
            await driver.line("north")
            await until(lambda: client.state.room_name == "The Library", "the library")
            first = client.state.protocol

            admin = server.telnet()
            admin.command("connect Root secret")
            reply = admin.command("@bounce Player")
            assert "You bounce Player" in reply, reply
            await driver.wait_for_text("logging you back in")
            await until(lambda: client.state.is_connected and client.state.protocol is not first,
                        "the client to reconnect by itself")
            await until(lambda: client.state.room_name == "The Library", "back in the library")
            assert "please log in again" not in scrollback(client)
            assert client.state.resume_token is None
            await driver.line("say I am back")
            await driver.wait_for_text('You say, "I am back"')
            assert "Player" in admin.command("who")
            admin.close()
            assert await driver.quit() == 0

        run(scenario())
