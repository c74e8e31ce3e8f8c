"""A real terminal for end-to-end tests: tmux on a private socket.

``send-keys`` types, ``capture-pane`` reads the screen a person would see.
Every call is bounded; :meth:`Tmux.kill` ends the private tmux server.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable


class Tmux:
    """One tmux server on a private socket, running one session in a fixed-size window."""

    def __init__(self, columns: int = 100, rows: int = 30) -> None:
        self.socket = f"reality-test-{os.getpid()}-{time.monotonic_ns()}"
        self.columns = columns
        self.rows = rows

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10)
        return done.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", "play", "-x", str(self.columns),
                 "-y", str(self.rows), command)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "play", *keys)

    def screen(self, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "play")

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the screen after {timeout} s:\n{screen}")
            time.sleep(0.05)

    def wait_until(self, ready: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The screen, once ``ready(screen)`` is true (AssertionError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ready(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen did not get ready in {timeout} s:\n{screen}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return "play" in self.run("list-sessions", "-F", "#{session_name}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)
