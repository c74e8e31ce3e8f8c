"""What ``reality play`` shows and knows, apart from how it is drawn.

:class:`ClientState` is a :class:`~reality.client.connection.ClientListener`:
the connection tells it lines, prompts, GMCP messages and echo changes, and
the UI reads it to draw the screen. Keeping it free of prompt-toolkit's
widgets lets tests check the client's behaviour without a terminal.

- The scrollback holds at most ``max_lines`` lines (oldest dropped), each
  tagged with who it is from: the server, the player's own input, or the
  client itself.
- The server's prompt (text ended by IAC GA or IAC EOR) goes to the status
  line, not the scrollback. The gateway starts output that follows a
  prompt on a fresh line; since the prompt is not in the scrollback, that
  blank line is dropped.
- GMCP ``Room.Info`` gives the room's name and exits (the toolbar) and the
  names of who and what is here; ``Client.Verbs`` the verbs; the IRE-style
  ``Char.Items.List`` (``location: "inv"``, and its ``Char.Items.Add`` /
  ``Char.Items.Remove`` updates) what the character carries. All feed
  :meth:`ClientState.completions`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from attrs import frozen

__all__ = ["DEFAULT_VERBS", "ClientState", "Line"]

#: Verbs offered for completion until the server sends its own (Client.Verbs).
DEFAULT_VERBS = (
    "look", "go", "north", "south", "east", "west", "up", "down", "say", "emote",
    "tell", "who", "inventory", "get", "drop", "give", "help", "quit",
)
_SERVER = "server"
_INPUT = "input"
_INFO = "info"


@frozen
class Line:
    """One line of scrollback: ``kind`` is "server", "input" or "info"."""

    kind: str
    text: str


class ClientState:
    """The client's model: scrollback, prompt, room, verbs, connection status."""

    def __init__(self, max_lines: int = 5000, on_change: Callable[[], Any] | None = None) -> None:
        self.lines: deque[Line] = deque(maxlen=max_lines)
        #: Lines appended since the start (the scrollback may have dropped some).
        self.total_lines = 0
        self.partial = ""
        self.prompt = ""
        self.masked = False
        self.is_connected = False
        self.status = "connecting"
        self.room_name = ""
        self.exits: list[str] = []
        self.players: list[str] = []
        self.items: list[str] = []
        self.npcs: list[str] = []
        #: What the character carries: (id, name) from Char.Items (location "inv").
        self.inventory: list[tuple[str, str]] = []
        self.verbs: list[str] = list(DEFAULT_VERBS)
        self.character = ""
        self.protocol: Any = None
        self._after_prompt = False
        self.on_change = on_change
        #: GMCP Client.Resume: the token the server gave before closing us for
        #: an upgrade, and until when (time.monotonic()) it is worth using.
        self.resume_token: str | None = None
        self.resume_until = 0.0
        #: Called after a disconnection, once the state says so (the app
        #: reconnects by itself when a resume token is held).
        self.on_disconnected: Callable[[], Any] | None = None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _append(self, kind: str, text: str) -> None:
        self.lines.append(Line(kind, text))
        self.total_lines += 1

    # -- what the client itself says ------------------------------------------------

    def info(self, text: str) -> None:
        """A message from the client (connection errors, hints)."""
        for line in text.split("\n"):
            self._append(_INFO, line)
        self._changed()

    def echo_input(self, text: str) -> None:
        """Show a line the player sent (not for masked input)."""
        self._append(_INPUT, self.prompt + text)
        self._after_prompt = False
        self._changed()

    # -- ClientListener ------------------------------------------------------------------

    def connected(self, protocol: Any) -> None:
        self.protocol = protocol
        self.is_connected = True
        peer = getattr(protocol, "peer", None)
        self.status = f"connected to {peer}" if peer is not None else "connected"
        self.masked = False
        self.partial = ""
        self._changed()

    def line_received(self, text: str) -> None:
        self.partial = ""
        if self._after_prompt:
            self._after_prompt = False
            if not text.strip():
                self._changed()
                return
        self._append(_SERVER, text)
        self._changed()

    def partial_received(self, text: str) -> None:
        self.partial = text
        self._changed()

    def prompt_received(self, text: str) -> None:
        self.partial = ""
        self.prompt = text
        self._after_prompt = True
        self._changed()

    def gmcp_received(self, package: str, data: Any) -> None:
        if package == "Room.Info" and isinstance(data, dict):
            self.room_name = str(data.get("name", ""))
            exits = data.get("exits", {})
            self.exits = [str(e) for e in exits] if isinstance(exits, (dict, list)) else []
            self.players = _names(data.get("players"))
            self.items = _names(data.get("items"))
            self.npcs = _names(data.get("npcs"))
        elif package == "Client.Verbs" and isinstance(data, dict):
            verbs = _names(data.get("verbs"))
            if verbs:
                self.verbs = verbs
        elif package == "Client.Resume" and isinstance(data, dict):
            token, expires = data.get("token"), data.get("expires", 60)
            if isinstance(token, str) and token:
                seconds = float(expires) if isinstance(expires, (int, float)) else 60.0
                self.resume_token = token
                self.resume_until = time.monotonic() + max(0.0, min(seconds, 3600.0))
            return
        elif package == "Char.Name" and isinstance(data, dict):
            self.character = str(data.get("name", ""))
        elif package.startswith("Char.Items.") and isinstance(data, dict):
            if data.get("location") != "inv" or not self._items_changed(package, data):
                return
        else:
            return
        self._changed()

    def _items_changed(self, package: str, data: dict[str, Any]) -> bool:
        """Apply a Char.Items List, Add or Remove for the inventory; False if malformed."""
        if package == "Char.Items.List":
            items = data.get("items")
            if not isinstance(items, list):
                return False
            self.inventory = [item for item in map(_item, items) if item is not None]
            return True
        item = _item(data.get("item"))
        if item is None:
            return False
        if package == "Char.Items.Add":
            self.inventory.append(item)
        elif package == "Char.Items.Remove":
            # IRE sends the id (and sometimes only the id): remove by id.
            self.inventory = [kept for kept in self.inventory if kept[0] != item[0]]
        else:
            return False
        return True

    def masked_changed(self, masked: bool) -> None:
        self.masked = masked
        self._changed()

    def disconnected(self, message: str, clean: bool) -> None:
        self.is_connected = False
        self.protocol = None
        self.masked = False
        self.prompt = ""
        # The toolbar must not claim a room we are no longer in.
        self.room_name = ""
        self.exits = []
        self.players, self.items, self.npcs = [], [], []
        self.inventory = []
        self.status = "disconnected"
        self.info(f"*** Disconnected: {message}.")
        if self.resume_token is not None and time.monotonic() < self.resume_until:
            self.info("*** The server is upgrading: reconnecting and logging you back in...")
        else:
            self.resume_token = None
            self.info("*** Press Enter to reconnect, or Ctrl-D to quit.")
        if self.on_disconnected is not None:
            self.on_disconnected()

    def take_resume_token(self) -> str | None:
        """The resume token if it is still worth presenting (then forgotten), else None."""
        token, self.resume_token = self.resume_token, None
        if token is not None and time.monotonic() < self.resume_until:
            return token
        return None

    # -- completion ------------------------------------------------------------------------

    def completions(self, text_before_cursor: str) -> tuple[str, list[str]]:
        """What the word being typed could become: ``(word, candidates)``.

        The first word of a line completes to verbs and exits; later words
        to the names in the room, what the character carries, and the
        exits. Matching ignores case unless the word has a capital letter
        ("B" finds Bob, not the book); a multi-word name ("brass lamp")
        completes as a whole.
        """
        words = text_before_cursor.split(" ")
        first = len(words) == 1
        if first:
            pool: Iterable[str] = [*self.verbs, *self.exits]
            word = words[0]
        else:
            carried = [name for _, name in self.inventory]
            pool = [*self.exits, *self.players, *self.npcs, *self.items, *carried]
            word = words[-1]
            # "get brass l" should still complete "brass lamp".
            for start in range(1, len(words) - 1):
                tail = " ".join(words[start:])
                if any(_starts(name, tail) and " " in name for name in pool):
                    word = tail
                    break
        seen: set[str] = set()
        matches = []
        exact = word != word.lower()
        for name in pool:
            if name in seen or name.lower() == word.lower():
                continue
            if name.startswith(word) if exact else _starts(name, word):
                seen.add(name)
                matches.append(name)
        return word, matches


def _starts(name: str, prefix: str) -> bool:
    return name.lower().startswith(prefix.lower())


def _item(value: Any) -> tuple[str, str] | None:
    """(id, name) of an IRE item object ``{"id": ..., "name": ...}``; None if it is not one."""
    if not isinstance(value, dict):
        return None
    ident, name = value.get("id"), value.get("name", "")
    if not isinstance(ident, (str, int)) or not isinstance(name, str):
        return None
    return str(ident), name


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if isinstance(v, (str, int))]
