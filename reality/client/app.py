"""``reality play``: the prompt-toolkit application.

The screen, top to bottom::

    [toolbar]  room name and exits (GMCP Room.Info), the character's name
    [output]   the scrollback: server text with its ANSI colours, what you typed
    [status]   the server's prompt (marked by IAC GA / IAC EOR), connection state
    [input]    one line: history (persisted), Ctrl-R search, Tab completion

Incoming text only ever changes the output and status windows: the line
being typed lives in its own buffer and is never disturbed. When the server
turns its echo off (a password), the input line shows ``*`` and what is
typed there is neither echoed into the scrollback nor kept in history;
``connect <name> <password>``, ``create <name> <password>`` and
``password <old> <new>`` are echoed with the passwords starred and are not
kept either.

After a close that came with GMCP ``Client.Resume`` (the server is
upgrading, or an admin typed ``@bounce``) the client reconnects by itself
and presents the token: the player lands logged in.

Keys: Enter sends (or reconnects, when disconnected); Tab completes verbs,
exits, names in the room and what you carry; Up/Down walk the history,
Ctrl-R searches it (the line shows the match as you type; Enter takes it,
Ctrl-C or Ctrl-G cancels the search); PageUp/PageDown scroll back; Ctrl-C
clears the line, or quits on an empty one; Ctrl-D on an empty line quits.

The telnet connection runs on :class:`~reality.net.asyncio_reactor.AsyncioReactor`
installed on prompt-toolkit's running event loop; there is no thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.data_structures import Point
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition, is_searching
from prompt_toolkit.formatted_text import ANSI, StyleAndTextTuples, to_formatted_text
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.bindings.completion import generate_completions
from prompt_toolkit.key_binding.bindings.search import abort_search
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import (
    Float,
    FloatContainer,
    HSplit,
    Layout,
    Window,
)
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.menus import CompletionsMenu
from prompt_toolkit.layout.processors import (
    BeforeInput,
    ConditionalProcessor,
    PasswordProcessor,
)
from prompt_toolkit.output import ColorDepth, Output, create_output
from prompt_toolkit.styles import Style
from prompt_toolkit.widgets import SearchToolbar

from reality.client.connection import MudClientProtocol, client_config, connect
from reality.client.state import ClientState, Line
from reality.net import error
from reality.net.asyncio_reactor import AsyncioReactor

log = logging.getLogger(__name__)

__all__ = ["PlayClient", "history_path", "main"]

_DEPTH_BITS = {
    ColorDepth.DEPTH_1_BIT: 1,
    ColorDepth.DEPTH_4_BIT: 4,
    ColorDepth.DEPTH_8_BIT: 8,
    ColorDepth.DEPTH_24_BIT: 24,
}

#: Login commands whose third word is a password (Reality's, and MUSH-style servers').
_LOGIN_COMMANDS = ("connect", "create")

STYLE = Style.from_dict(
    {
        "toolbar": "reverse",
        "toolbar.room": "bold",
        "status": "bg:#303030 #d0d0d0",
        "status.prompt": "bold",
        "status.masked": "bg:#875f00 #ffffff bold",
        "status.down": "bg:#870000 #ffffff bold",
        "input-line": "",
        "echo": "#87afd7",
        "info": "#d7af5f italic",
    }
)


def history_path(environ: dict[str, str] | None = None) -> Path:
    """Where input history lives: ``$XDG_DATA_HOME/reality/history``.

    ``$XDG_DATA_HOME`` defaults to ``~/.local/share`` (XDG Base Directory
    specification).
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "reality" / "history"


def _open_history(path: Path | None) -> tuple[History, str | None]:
    if path is None:
        return InMemoryHistory(), None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as exc:
        return InMemoryHistory(), f"history will not be saved ({path}: {exc.strerror})"
    return FileHistory(str(path)), None


class MudCompleter(Completer):
    """Tab completion from the client state: verbs, exits, names in the room."""

    def __init__(self, state: ClientState) -> None:
        self.state = state

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Any:
        if self.state.masked:
            return
        word, matches = self.state.completions(document.text_before_cursor)
        for match in matches:
            yield Completion(match, start_position=-len(word))


class _LogToScreen(logging.Handler):
    """Warnings from the engine go to the scrollback: stderr belongs to the screen."""

    def __init__(self, state: ClientState) -> None:
        super().__init__(logging.WARNING)
        self.state = state

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.state.info(f"[{record.levelname.lower()}] {record.getMessage()}")
        except Exception:  # pragma: no cover - never let logging break the UI
            pass


class PlayClient:
    """One ``reality play`` session: the screen, the state, the connection."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 4000,
        *,
        input: Input | None = None,
        output: Output | None = None,
        history: Path | None = None,
        terminal: str | None = None,
        connect_timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.terminal = terminal if terminal is not None else os.environ.get("TERM", "ansi")
        self.state = ClientState(on_change=self._invalidate)
        self.state.on_disconnected = self._disconnected
        self.reactor: AsyncioReactor | None = None
        self.output = output if output is not None else create_output()
        self._input = input
        self.history, history_problem = _open_history(history)
        self._history_problem = history_problem
        self._size = (0, 0)
        self._scroll = 0
        self._seen_total = 0
        self._fragments: dict[int, StyleAndTextTuples] = {}
        self._rows_shown = 1
        self._connecting = False
        self.buffer = Buffer(
            name="input",
            multiline=False,
            history=self.history,
            completer=MudCompleter(self.state),
            complete_while_typing=False,
            accept_handler=self._accept,
        )
        # Built once connected: a failed first connection needs no screen.
        self.app: Application[int] | None = None

    # -- layout --------------------------------------------------------------------------

    def _build_application(self) -> Application[int]:
        search = SearchToolbar(ignore_case=True)
        masked = Condition(lambda: self.state.masked)
        self.output_window = Window(
            FormattedTextControl(
                self._output_fragments,
                focusable=False,
                show_cursor=False,
                get_cursor_position=self._output_cursor,
            ),
            wrap_lines=True,
            always_hide_cursor=True,
        )
        input_window = Window(
            BufferControl(
                buffer=self.buffer,
                input_processors=[
                    ConditionalProcessor(PasswordProcessor(), masked),
                    BeforeInput(lambda: "(hidden) " if self.state.masked else "",
                                style="class:status.masked"),
                ],
                search_buffer_control=search.control,
                # Ctrl-R shows the line it found as the search is typed.
                preview_search=True,
            ),
            height=1,
            style="class:input-line",
        )
        body = HSplit(
            [
                Window(FormattedTextControl(self._toolbar_fragments), height=1,
                       style="class:toolbar"),
                self.output_window,
                Window(FormattedTextControl(self._status_fragments), height=1,
                       style="class:status"),
                search,
                input_window,
            ]
        )
        root = FloatContainer(
            content=body,
            floats=[
                Float(xcursor=True, ycursor=True,
                      content=CompletionsMenu(max_height=8, scroll_offset=1)),
            ],
        )
        return Application(
            layout=Layout(root, focused_element=input_window),
            key_bindings=self._key_bindings(),
            style=STYLE,
            full_screen=True,
            mouse_support=False,
            input=self._input,
            output=self.output,
            before_render=self._before_render,
        )

    def _visible_rows(self) -> int:
        info = self.output_window.render_info
        if info is not None:
            return max(1, info.window_height)
        return max(1, self.output.get_size().rows - 3)

    def _output_fragments(self) -> StyleAndTextTuples:
        lines = self.state.lines
        new = self.state.total_lines - self._seen_total
        if new:
            self._seen_total = self.state.total_lines
            if self._scroll:
                # Scrolled back: keep looking at the same lines.
                self._scroll = min(self._scroll + new, max(0, len(lines) - 1))
        rows = self._visible_rows()
        end = len(lines) - self._scroll
        start = max(0, end - rows)
        fragments: StyleAndTextTuples = []
        cache: dict[int, StyleAndTextTuples] = {}
        first_index = self.state.total_lines - len(lines)
        for i in range(start, end):
            key = first_index + i
            line = lines[i]
            parsed = self._fragments.get(key)
            if parsed is None:
                parsed = _render_line(line)
            cache[key] = parsed
            if i > start:
                fragments.append(("", "\n"))
            fragments.extend(parsed)
        if not self._scroll and self.state.partial:
            if end > start:
                fragments.append(("", "\n"))
            fragments.extend(to_formatted_text(ANSI(self.state.partial)))
        # Only what is on screen stays parsed; scrolling re-parses cheaply.
        self._fragments = cache
        self._rows_shown = sum(text.count("\n") for _, text, *_ in fragments) + 1
        return fragments

    def _output_cursor(self) -> Point:
        # The window scrolls to keep this "cursor" visible: the last line.
        return Point(x=0, y=max(0, self._rows_shown - 1))

    def _toolbar_fragments(self) -> StyleAndTextTuples:
        state = self.state
        parts: StyleAndTextTuples = []
        if state.room_name:
            parts.append(("class:toolbar.room", f" {state.room_name} "))
            exits = ", ".join(state.exits) if state.exits else "none"
            parts.append(("class:toolbar", f"  exits: {exits} "))
        else:
            parts.append(("class:toolbar", f" reality play: {self.host}:{self.port} "))
        if state.character:
            parts.append(("class:toolbar", f"  [{state.character}] "))
        return parts

    def _status_fragments(self) -> StyleAndTextTuples:
        state = self.state
        parts: StyleAndTextTuples = []
        if state.prompt:
            parts.extend(("class:status.prompt " + style, text)
                         for style, text, *_ in to_formatted_text(ANSI(state.prompt.rstrip())))
            parts.append(("class:status", "  "))
        if state.masked:
            parts.append(("class:status.masked", " input hidden "))
            parts.append(("class:status", " "))
        if not state.is_connected:
            label = " connecting... " if self._connecting else " disconnected: Enter reconnects "
            parts.append(("class:status.down", label))
        else:
            parts.append(("class:status", state.status))
        if self._scroll:
            parts.append(("class:status", f"  [scrolled back {self._scroll} lines: PgDn]"))
        return parts

    # -- keys -------------------------------------------------------------------------------

    def _key_bindings(self) -> KeyBindings:
        kb = KeyBindings()
        buffer_empty = Condition(lambda: not self.buffer.text)

        @kb.add("tab")
        def _complete(event: KeyPressEvent) -> None:
            generate_completions(event)

        # In a Ctrl-R search, Ctrl-C (and Ctrl-G) cancels the search and
        # brings back the line as it was, as readline does.
        kb.add("c-c", filter=is_searching)(abort_search)
        kb.add("c-g", filter=is_searching)(abort_search)

        @kb.add("c-c", filter=~is_searching)
        def _interrupt(event: KeyPressEvent) -> None:
            if self.buffer.text:
                self.buffer.reset()
            else:
                self.quit()

        @kb.add(Keys.SIGINT)
        def _sigint(event: KeyPressEvent) -> None:
            self.quit()

        @kb.add("c-d", filter=buffer_empty)
        def _eof(event: KeyPressEvent) -> None:
            self.quit()

        @kb.add("pageup")
        def _page_up(event: KeyPressEvent) -> None:
            step = max(1, self._visible_rows() - 1)
            self._scroll = min(self._scroll + step, max(0, len(self.state.lines) - 1))

        @kb.add("pagedown")
        def _page_down(event: KeyPressEvent) -> None:
            step = max(1, self._visible_rows() - 1)
            self._scroll = max(0, self._scroll - step)

        return kb

    # -- input ------------------------------------------------------------------------------

    def _accept(self, buffer: Buffer) -> bool:
        text = buffer.text
        self._scroll = 0
        if text.strip() == "/quit":
            self.quit()
            return False
        protocol: MudClientProtocol | None = self.state.protocol
        if protocol is None:
            if text.strip() in ("", "/reconnect"):
                self.reconnect()
            else:
                self.state.info("*** Not connected. Press Enter to reconnect, Ctrl-D to quit.")
            buffer.reset()
            return True
        if self.state.masked:
            protocol.send_line(text)
            # Reset before prompt-toolkit files the line: a password is never history.
            buffer.reset()
            return True
        protocol.send_line(text)
        words = text.split()
        if len(words) == 3 and words[0].lower() in _LOGIN_COMMANDS:
            # "connect <name> <password>": neither shown nor kept in history.
            self.state.echo_input(f"{words[0]} {words[1]} {'*' * len(words[2])}")
            buffer.reset()
            return True
        if words and words[0].lower() == "password" and len(words) > 1:
            # "password <old> <new>": two passwords, neither shown nor kept.
            self.state.echo_input(" ".join([words[0], *("*" * len(w) for w in words[1:])]))
            buffer.reset()
            return True
        self.state.echo_input(text)
        return False

    def quit(self) -> None:
        """Close the connection and leave the application."""
        protocol = self.state.protocol
        if protocol is not None:
            protocol.close()
        app = self.app
        if app is not None and app.is_running and not app.is_done:
            app.exit(result=0)

    # -- connection ---------------------------------------------------------------------------

    def _terminal_capabilities(self) -> tuple[int, bool, tuple[int, int]]:
        try:
            depth = self.output.get_default_color_depth()
        except Exception:
            depth = ColorDepth.DEPTH_4_BIT
        bits = _DEPTH_BITS.get(depth, 4)
        encoding = (self.output.encoding() or "").lower().replace("-", "")
        size = self.output.get_size()
        return bits, encoding == "utf8", (size.columns, size.rows)

    def _config(self) -> Any:
        bits, utf8, size = self._terminal_capabilities()
        self._size = size
        return client_config(self.terminal, bits, utf8, size)

    async def connect(self, resume_token: str | None = None) -> MudClientProtocol:
        """Connect once; raises :class:`~reality.net.error.ConnectError` on failure.

        ``resume_token`` (the server's ``Client.Resume``) is presented once
        GMCP is agreed: the player lands logged in.
        """
        assert self.reactor is not None
        self._connecting = True
        self.state.status = "connecting"
        self._invalidate()
        try:
            d = connect(self.reactor, self.host, self.port, self.state, self._config(),
                        timeout=self.connect_timeout, tls=self.tls,
                        resume_token=resume_token)
            return await self.reactor.as_future(d)
        finally:
            self._connecting = False
            self._invalidate()

    #: Seconds between the tries of an automatic reconnection (after an upgrade).
    resume_delays = (0.2, 0.5, 1.0, 2.0, 4.0)

    def reconnect(self) -> None:
        """Start connecting again (Enter on a dead connection).

        With a resume token from the server (it closed us for an upgrade),
        present it: the player lands logged in.
        """
        if self._connecting or self.state.is_connected:
            return
        self.state.info(f"*** Connecting to {self.host}:{self.port}...")
        token = self.state.take_resume_token()

        async def attempt() -> None:
            try:
                await self.connect(token)
            except Exception as exc:
                self.state.info(f"*** Could not connect: {_reason(exc)}.")
                self.state.info("*** Press Enter to try again, or Ctrl-D to quit.")

        assert self.app is not None
        self.app.create_background_task(attempt())

    def _disconnected(self) -> None:
        """The connection ended: with a resume token, reconnect by ourselves.

        A few tries, spaced out (the new server may take a moment to take
        over the port), while the token is still valid; then Enter, as after
        any other disconnection.
        """
        app = self.app
        if self.state.resume_token is None or app is None or not app.is_running:
            return
        token = self.state.take_resume_token()
        if token is None:
            return

        async def attempts() -> None:
            for delay in self.resume_delays:
                await asyncio.sleep(delay)
                if self.state.is_connected or self._connecting:
                    return
                try:
                    await self.connect(token)
                    return
                except Exception as exc:
                    self.state.info(f"*** Could not connect yet: {_reason(exc)}.")
            self.state.info("*** Press Enter to try again, or Ctrl-D to quit.")

        app.create_background_task(attempts())

    def _before_render(self, app: Application[int]) -> None:
        size = self.output.get_size()
        size_now = (size.columns, size.rows)
        if size_now != self._size:
            self._size = size_now
            protocol = self.state.protocol
            if protocol is not None:
                protocol.resize(*size_now)

    def _invalidate(self) -> None:
        app = self.app
        if app is not None and app.is_running:
            app.invalidate()

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> int:
        """Connect, run the screen until the player quits; the exit status.

        A first connection that fails is reported on stderr with status 1
        and no screen at all.
        """
        loop = asyncio.get_running_loop()
        self.reactor = AsyncioReactor(loop)
        self._reactor_stopped = self.reactor.start()
        engine_log = logging.getLogger("reality")
        handler = _LogToScreen(self.state)
        engine_log.addHandler(handler)
        try:
            try:
                await self.connect()
            except Exception as exc:
                print(f"reality play: cannot connect to {self.host}:{self.port}: "
                      f"{_reason(exc)}", file=sys.stderr)
                if isinstance(exc, error.ConnectionRefusedError):
                    print("reality play: is the server running? "
                          "Start one with: python run_server.py", file=sys.stderr)
                return 1
            if self._history_problem:
                self.state.info(f"*** Note: {self._history_problem}.")
            self.app = self._build_application()
            sigterm = _add_signal_handler(loop, signal.SIGTERM, self.quit)
            try:
                status = await self.app.run_async()
            finally:
                if sigterm:
                    loop.remove_signal_handler(signal.SIGTERM)
            protocol = self.state.protocol
            if protocol is not None:
                protocol.close()
            return status if isinstance(status, int) else 0
        finally:
            engine_log.removeHandler(handler)
            await self._stop_reactor()

    async def _stop_reactor(self) -> None:
        reactor = self.reactor
        if reactor is None or not reactor.running:
            return
        stopped = reactor.as_future(self._reactor_stopped)
        reactor.stop()
        try:
            await asyncio.wait_for(stopped, timeout=2.0)
        except TimeoutError:
            reactor.crash()


def _render_line(line: Line) -> StyleAndTextTuples:
    if line.kind == "server":
        return to_formatted_text(ANSI(line.text))
    style = "class:echo" if line.kind == "input" else "class:info"
    return [(style, line.text)]


def _reason(exc: BaseException) -> str:
    """Why a connection attempt failed, in a few words."""
    if isinstance(exc, error.ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, error.ConnectingTimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _add_signal_handler(loop: asyncio.AbstractEventLoop, signum: int, f: Any) -> bool:
    try:
        loop.add_signal_handler(signum, f)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


def main(
    host: str = "localhost",
    port: int = 4000,
    *,
    tls: bool = False,
    cafile: str | None = None,
    insecure: bool = False,
) -> int:
    """``reality play [--tls [--cafile FILE | --insecure]] [HOST] [PORT]``: play until quitting.

    Returns the exit status. With ``tls`` the certificate is checked
    against the system's trusted authorities, or ``cafile`` (a self-signed
    server's certificate); ``insecure`` skips the check (still encrypted).
    """
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
    context = None
    if tls:
        from reality.net.tls import client_context

        try:
            context = client_context(cafile, verify=not insecure)
        except (OSError, ssl.SSLError) as error:
            print(f"reality play: cannot read {cafile}: {error}")
            return 2
    client = PlayClient(host, port, history=history_path(), tls=context)
    status = asyncio.run(client.run())
    if status == 0:
        print(f"reality play: disconnected from {host}:{port}.")
    return status
