"""``reality play``'s keys on prompt-toolkit's pipe input, without a server.

The real :class:`PlayClient` screen runs on a dummy output; the test types
keys into a pipe and reads the buffer, the layout and what the input line
would draw. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prompt_toolkit.application.current import set_app
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.layout.controls import BufferControl
from prompt_toolkit.output import DummyOutput

from reality.client.app import PlayClient

TIMEOUT = 5.0


async def until(predicate: Callable[[], Any], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT} s waiting for {what}")
        await asyncio.sleep(0.01)


def input_line(client: PlayClient) -> str:
    """The text the input line draws now (a search previews its match there)."""
    assert client.app is not None
    control = next(
        c
        for c in (w.content for w in client.app.layout.find_all_windows())
        if isinstance(c, BufferControl) and c.buffer is client.buffer
    )
    with set_app(client.app):  # the control asks the running app what is searched
        content = control.create_content(80, 1)
    # (The line ends with a space where the cursor may stand.)
    return "".join(text for _, text, *_ in content.get_line(0)).rstrip(" ")


class Screen:
    """A PlayClient's screen running on pipe input, with some history."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.client = PlayClient("127.0.0.1", 1, input=pipe, output=DummyOutput(), history=None)
        for line in ("who", "say hello", "help"):
            self.client.history.append_string(line)
        self.app = self.client.app = self.client._build_application()
        self.task: asyncio.Future[int] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.app.run_async())
        await until(lambda: self.app.is_running, "the screen")

    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def search(self, keys: str) -> None:
        """Ctrl-R and type ``keys``; wait until the search field holds them."""
        self.pipe.send_text("\x12")
        await until(lambda: self.app.layout.is_searching, "the search to start")
        self.pipe.send_text(keys)
        await until(lambda: self.app.current_buffer.text == keys, "the search text")

    async def quit(self) -> None:
        self.pipe.send_text("\x03\x04")  # clear the line, then Ctrl-D on it
        assert self.task is not None
        assert await asyncio.wait_for(self.task, TIMEOUT) == 0


def play(scenario: Callable[[Screen], Any]) -> None:
    async def main() -> None:
        with create_pipe_input() as pipe:
            screen = Screen(pipe)
            await screen.start()
            await scenario(screen)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_ctrl_c_in_a_search_cancels_the_search_not_the_client():
    """Ctrl-R, type, Ctrl-C: the search ends, the line is as it was, the client runs on."""

    async def scenario(screen: Screen) -> None:
        client = screen.client
        await screen.search("wh")
        screen.pipe.send_text("\x03")  # Ctrl-C: cancel the search, as readline does
        await until(lambda: not screen.app.layout.is_searching, "the search to end")
        await asyncio.sleep(0.05)
        assert screen.running(), "Ctrl-C in a search must not quit the client"
        assert client.buffer.text == ""

        # A half-typed line comes back unchanged; Ctrl-G cancels too.
        screen.pipe.send_text("say hi")
        await until(lambda: client.buffer.text == "say hi", "typing")
        await screen.search("hel")
        screen.pipe.send_text("\x07")
        await until(lambda: not screen.app.layout.is_searching, "the search to end")
        assert client.buffer.text == "say hi" and screen.running()

        # Outside a search, Ctrl-C clears the line and then quits.
        screen.pipe.send_text("\x03")
        await until(lambda: client.buffer.text == "", "the line cleared")
        assert screen.running()
        screen.pipe.send_text("\x03")
        assert screen.task is not None
        assert await asyncio.wait_for(screen.task, TIMEOUT) == 0

    play(scenario)


def test_ctrl_r_shows_the_match_as_it_is_typed():
    """While searching, the input line shows the history line found so far; Enter takes it."""

    async def scenario(screen: Screen) -> None:
        client = screen.client
        await screen.search("wh")
        await until(lambda: input_line(client) == "who", "the match previewed")
        screen.pipe.send_text("\x03")
        await until(lambda: input_line(client) == "", "the line as it was")

        await screen.search("say")
        await until(lambda: input_line(client) == "say hello", "the match previewed")
        screen.pipe.send_text("\r")  # Enter takes the match into the line
        await until(lambda: not screen.app.layout.is_searching, "the search to end")
        assert client.buffer.text == "say hello"
        await screen.quit()

    play(scenario)
