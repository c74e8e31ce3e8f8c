"""World.connect binds the session to its player before it shows the player anything."""

from __future__ import annotations

from typing import Any

from game_fakes import FakeSession


class WatchingSession(FakeSession):
    """Notes, for everything shown, whether the session knew its player then."""

    def __init__(self) -> None:
        super().__init__()
        self.known_when_shown: list[bool] = []
        self.attached: list[Any] = []

    def attach(self, player: Any) -> None:
        super().attach(player)
        self.attached.append(player)

    def show(self, text: str) -> None:
        self.known_when_shown.append(self.player is not None)
        super().show(text)

    def send_data(self, kind: str, data: dict[str, Any]) -> None:
        self.known_when_shown.append(self.player is not None)
        super().send_data(kind, data)


def test_a_fresh_login_attaches_the_session_before_the_room_and_the_mail_line(world) -> None:
    """The room description, Char.Name and the unread-mail line all come after attach."""
    world.store.create_account("Carol", "scrypt$2$1$1$AA==$AA==", now=0.0)
    world.unread_count = lambda key: 2
    session = WatchingSession()
    player = world.connect("Carol", session)
    assert session.attached == [player]
    assert session.known_when_shown and all(session.known_when_shown)
    assert "You have 2 unread letters." in session.text()


def test_a_take_over_attaches_the_new_session_before_it_shows_anything(world, join) -> None:
    """Taking a character over binds the new session first; the old one is closed."""
    carol, old = join(world, "Carol")
    new = WatchingSession()
    again = world.connect("Carol", new)
    assert again is carol
    assert new.attached == [carol]
    assert new.known_when_shown and all(new.known_when_shown)
    assert "take over" in new.text()
    assert old.closed is not None
