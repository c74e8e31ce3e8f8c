"""Room numbers: a stable integer for every room id, kept in the store.

Mappers (Mudlet's, and the IRE-style scripts written for it) key their maps
by a room *number*: GMCP ``Room.Info``'s ``num`` and the ``id`` of a room in
``/map.xml``. A room's id in the world file is text (``square``), so each
id is given a number the first time the world sees it, and the pair is
committed to the store's ``room_numbers`` table (the ``"rooms"`` component
of :mod:`reality.game.store`). The same id gets the same number after a
restart, after ``@load`` of a changed world file, and after the room was
destroyed and made again; a number is never given to another id
(``AUTOINCREMENT`` never hands out a number twice, even after a row is
deleted, and rows are never deleted).

Numbers are given in the world file's order at the first load (1, 2, 3...
for a fresh store), so a map made from a new world reads naturally; rooms
dug at run time with ``@dig`` get the next free number when they are made.
"""

from __future__ import annotations

from collections.abc import Iterable

from reality.game.store import MIGRATIONS, Migration, Store, register_migrations

__all__ = ["ROOM_MIGRATIONS", "RoomNumbers", "ensure_schema"]

ROOM_MIGRATIONS: list[Migration] = [
    Migration(
        "stable room numbers for mappers (GMCP Room.Info num, /map.xml)",
        """
        CREATE TABLE room_numbers (
            num INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE
        );
        """,
    ),
]

register_migrations("rooms", ROOM_MIGRATIONS)


def ensure_schema(store: Store) -> None:
    """Create the room-number table in a store opened before this module was imported."""
    store.migrate({"rooms": MIGRATIONS["rooms"]})


class RoomNumbers:
    """The id -> number table of one store, cached in memory (one dict lookup per use)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_schema(store)
        self._numbers: dict[str, int] = {
            str(row[1]): int(row[0]) for row in store.db.execute("SELECT num, id FROM room_numbers")
        }

    def __len__(self) -> int:
        return len(self._numbers)

    def get(self, room_id: str) -> int | None:
        """The number of ``room_id``, or None if it has none yet."""
        return self._numbers.get(room_id)

    def number(self, room_id: str) -> int:
        """The number of ``room_id``, given (and committed) now if it has none."""
        num = self._numbers.get(room_id)
        if num is None:
            self.assign((room_id,))
            num = self._numbers[room_id]
        return num

    def assign(self, room_ids: Iterable[str]) -> None:
        """Give every id of ``room_ids`` that has no number one, in order, in one transaction."""
        new = [rid for rid in dict.fromkeys(room_ids) if rid not in self._numbers]
        if not new:
            return
        given: dict[str, int] = {}
        with self.store.transaction() as db:
            for rid in new:
                cursor = db.execute("INSERT INTO room_numbers(id) VALUES (?)", (rid,))
                assert cursor.lastrowid is not None
                given[rid] = int(cursor.lastrowid)
        # Only once committed: a rolled-back number is no one's.
        self._numbers.update(given)
