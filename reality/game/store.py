"""SQLite persistence for the world: an explicit schema, versions, migrations.

One :class:`Store` owns one ``sqlite3`` connection, used only from the
reactor's thread. WAL journal mode, ``synchronous=FULL``: a method that
returns after a write has committed it, so whatever the world acknowledges
to a person (an account created, a homepage saved, a room dug) survives a
crash right after the acknowledgement.

Schema versions are kept per *component* in ``schema_version(component,
version)``. Each component has an ordered list of :class:`Migration`; a
store opened on an older database runs the missing steps in order, each in
its own transaction together with its version bump. The world's own tables
are the ``"core"`` component. Other parts add theirs without touching this
file's list, e.g. the mail part::

    from reality.game.store import Migration, register_migrations

    register_migrations("mail", [
        Migration("letters", "CREATE TABLE letters (...)"),
    ])

(register before the Store is opened; never reorder or edit a released
step, only append). Their queries use :attr:`Store.db` and group writes
with :meth:`Store.transaction`.

Tables of the core component::

    accounts(key, name, password_hash, created_at, last_login, admin 0|1)
    players(key, room, settings JSON, last_seen, homepage, homepage_updated, description)
    item_positions(item, kind 'room'|'player', place)      items moved at run time
    built_rooms(id, name, description, outdoor, created_by, created_at)
    built_exits(room, name, destination)                   exits added by @dig
    built_items(id, name, description, created_by, created_at)
    descriptions(kind, id, text)                           @describe overrides

No pickles: every stored value is a column of a plain type or JSON.

Opening an existing file is checked before anything is written to it: a
file that is not new but has no Reality schema (truncated to 0 bytes,
another program's database) raises :class:`NoRealitySchema` unless
``init_db=True``, and ``PRAGMA quick_check`` must pass or
:class:`StoreCorrupt` is raised. Both messages say how to restore from a
backup.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from attrs import define, field, frozen

from reality.game.accounts import name_key

log = logging.getLogger(__name__)

__all__ = [
    "Account",
    "BuiltExit",
    "BuiltItem",
    "BuiltRoom",
    "MIGRATIONS",
    "Migration",
    "NameTaken",
    "NoRealitySchema",
    "PlayerRecord",
    "SchemaTooNew",
    "StoreCorrupt",
    "Store",
    "StoreError",
    "register_migrations",
]


class StoreError(Exception):
    """A persistence failure a caller may want to handle."""


class NameTaken(StoreError):
    """An account with that name (in any letter case) exists already."""


class SchemaTooNew(StoreError):
    """The database was written by a newer Reality than this one."""


class NoRealitySchema(StoreError):
    """An existing database file holds no Reality schema (empty, or another program's)."""


class StoreCorrupt(StoreError):
    """The database file is damaged (``PRAGMA quick_check`` failed, or not SQLite at all)."""


_RESTORE = (
    "Stop here and restore the file from a backup: check the copy with "
    "'reality backup --verify BACKUP', copy it over the file (and delete any "
    "stale '-wal' and '-shm' files beside it) and start again (docs/operations.md)"
)


@frozen
class Migration:
    """One schema step: SQL text (may hold several statements) or a function."""

    description: str
    apply: str | Callable[[sqlite3.Connection], None]


CORE_MIGRATIONS: list[Migration] = [
    Migration(
        "accounts, players and item positions",
        """
        CREATE TABLE accounts (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_login REAL
        );
        CREATE TABLE players (
            key TEXT PRIMARY KEY REFERENCES accounts(key),
            room TEXT,
            settings TEXT NOT NULL DEFAULT '{}',
            last_seen REAL,
            homepage TEXT NOT NULL DEFAULT '',
            homepage_updated REAL
        );
        CREATE TABLE item_positions (
            item TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('room', 'player')),
            place TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "things built at run time, description overrides, player descriptions",
        """
        CREATE TABLE built_rooms (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            outdoor INTEGER NOT NULL DEFAULT 0,
            created_by TEXT,
            created_at REAL
        );
        CREATE TABLE built_exits (
            room TEXT NOT NULL,
            name TEXT NOT NULL,
            destination TEXT NOT NULL,
            PRIMARY KEY (room, name)
        );
        CREATE TABLE built_items (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            created_by TEXT,
            created_at REAL
        );
        CREATE TABLE descriptions (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        ALTER TABLE players ADD COLUMN description TEXT;
        """,
    ),
    Migration(
        "admin rights are a flag on the account, set by `reality admin`",
        "ALTER TABLE accounts ADD COLUMN admin INTEGER NOT NULL DEFAULT 0",
    ),
    Migration(
        "items in containers and with NPCs, door and lid states, things changed by builders",
        # SQLite cannot change a CHECK constraint: the positions table is
        # made anew, and its rows copied over.
        """
        CREATE TABLE item_positions_new (
            item TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('room', 'player', 'item', 'npc')),
            place TEXT NOT NULL
        );
        INSERT INTO item_positions_new(item, kind, place)
            SELECT item, kind, place FROM item_positions;
        DROP TABLE item_positions;
        ALTER TABLE item_positions_new RENAME TO item_positions;
        CREATE TABLE thing_states (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            closed INTEGER NOT NULL,
            locked INTEGER NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE TABLE thing_changes (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            attributes TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE TABLE destroyed (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE TABLE unlinked_exits (
            room TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (room, name)
        );
        """,
    ),
]

#: Every component's ordered migrations. Append with :func:`register_migrations`.
MIGRATIONS: dict[str, list[Migration]] = {"core": CORE_MIGRATIONS}


def register_migrations(component: str, steps: Sequence[Migration]) -> None:
    """Declare (or extend) a component's ordered migrations.

    Calling it again with a longer list that starts with the same steps is
    how a later release appends; changing a released step is refused.
    """
    existing = MIGRATIONS.get(component, [])
    if list(steps[: len(existing)]) != existing:
        raise ValueError(f"migrations of {component!r} may only be appended to")
    MIGRATIONS[component] = list(steps)


@frozen
class Account:
    """A login: the display name, its key, the password hash and whether it is an admin."""

    name: str
    key: str
    password_hash: str
    created_at: float
    last_login: float | None
    admin: bool = False


@define(slots=True)
class PlayerRecord:
    """A player's saved state."""

    key: str
    room: str | None = None
    settings: dict[str, Any] = field(factory=dict)
    last_seen: float | None = None
    homepage: str = ""
    homepage_updated: float | None = None
    description: str | None = None


@frozen
class BuiltRoom:
    id: str
    name: str
    description: str
    outdoor: bool
    created_by: str | None


@frozen
class BuiltExit:
    room: str
    name: str
    destination: str


@frozen
class BuiltItem:
    id: str
    name: str
    description: str
    created_by: str | None


_SAVE_PLAYER = (
    "INSERT INTO players(key, room, settings, last_seen) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(key) DO UPDATE SET room = excluded.room,"
    " settings = excluded.settings, last_seen = excluded.last_seen"
)
_SET_ITEM_POSITION = (
    "INSERT INTO item_positions(item, kind, place) VALUES (?, ?, ?)"
    " ON CONFLICT(item) DO UPDATE SET kind = excluded.kind, place = excluded.place"
)


class Store:
    """The world's SQLite database (``":memory:"`` for tests)."""

    def __init__(
        self,
        path: str,
        *,
        migrations: dict[str, list[Migration]] | None = None,
        synchronous: str = "FULL",
        init_db: bool = False,
    ) -> None:
        """Open (or create) the database at ``path``.

        An existing file must pass ``PRAGMA quick_check`` and already hold a
        Reality schema; ``init_db=True`` accepts one without a schema and
        creates it there (starting a fresh world on purpose).
        """
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"bad synchronous mode {synchronous!r}")
        self.path = path
        # "New" means this call creates the file. Anything else was written
        # before (by us, or by someone else) and must prove what it is.
        existed = path != ":memory:" and os.path.exists(path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a
        # transaction means exactly what transaction() says.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        self.db.row_factory = sqlite3.Row
        self._depth = 0
        try:
            try:
                if existed:
                    # Read-only checks first: a refused file is left as it was.
                    self._check_existing(init_db)
                if path != ":memory:":
                    mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    if mode.lower() != "wal":
                        log.warning("SQLite refused WAL mode for %s (got %s)", path, mode)
            except sqlite3.DatabaseError as exc:
                # "file is not a database", "database disk image is malformed"
                raise StoreCorrupt(
                    f"{path} is damaged or not a database ({exc}). {_RESTORE}."
                ) from None
            self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate(MIGRATIONS if migrations is None else migrations)
        except BaseException:
            self.db.close()
            raise

    def _check_existing(self, init_db: bool) -> None:
        """Refuse a damaged file, and one that is not new but holds no Reality schema."""
        # quick_check reads every page once (O(N), unlike integrity_check's
        # index cross-checks): about a second per few hundred MB.
        problems = [row[0] for row in self.db.execute("PRAGMA quick_check(20)")]
        if problems != ["ok"]:
            shown = "; ".join(str(p) for p in problems[:5])
            raise StoreCorrupt(
                f"{self.path} failed SQLite's quick_check: {shown}. {_RESTORE}; "
                f"'sqlite3 {self.path} .recover' may save what is left into a new file."
            )
        has_schema = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if has_schema is None and not init_db:
            tables = self.db.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            what = (
                "is empty" if tables == 0
                else f"holds {tables} tables of another program"
            )
            raise NoRealitySchema(
                f"{self.path} already exists but {what}: it is not a Reality database. "
                "If it was truncated or replaced by mistake, restore it from a backup; "
                "to start a new, empty world in this file on purpose, run with --init-db."
            )

    # -- schema ----------

    def migrate(self, migrations: dict[str, list[Migration]]) -> None:
        """Bring every component's schema up to date, step by step."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        for component, steps in migrations.items():
            current = self.schema_version(component)
            if current > len(steps):
                raise SchemaTooNew(
                    f"{self.path}: schema of {component!r} is version {current}, "
                    f"this program knows only up to {len(steps)}"
                )
            for version in range(current + 1, len(steps) + 1):
                step = steps[version - 1]
                log.info(
                    "migrating %s: %s to version %d (%s)",
                    self.path,
                    component,
                    version,
                    step.description,
                )
                with self.transaction():
                    if isinstance(step.apply, str):
                        # executescript() would commit our transaction first,
                        # so statements are run one by one inside it.
                        for statement in _statements(step.apply):
                            self.db.execute(statement)
                    else:
                        step.apply(self.db)
                    self.db.execute(
                        "INSERT INTO schema_version(component, version) VALUES (?, ?)"
                        " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                        (component, version),
                    )

    def schema_version(self, component: str = "core") -> int:
        """The schema version of a component (0 when it has no tables yet)."""
        row = self.db.execute(
            "SELECT version FROM schema_version WHERE component = ?", (component,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Group writes: one commit at the end of the outermost block.

        Nested blocks join the outer transaction. An exception rolls the
        whole transaction back and propagates.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (after a checkpoint of the WAL file)."""
        try:
            if self.path != ":memory:":
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            log.exception("WAL checkpoint failed on close")
        self.db.close()

    # -- accounts ----------

    def create_account(
        self, name: str, password_hash: str, *, now: float, admin: bool = False
    ) -> Account:
        """Create an account and its player row; committed when this returns.

        Raises :class:`NameTaken` when the name exists in any letter case.
        """
        key = name_key(name)
        try:
            with self.transaction():
                if admin:
                    self.db.execute(
                        "INSERT INTO accounts(key, name, password_hash, created_at, admin)"
                        " VALUES (?, ?, ?, ?, 1)",
                        (key, name, password_hash, now),
                    )
                else:
                    self.db.execute(
                        "INSERT INTO accounts(key, name, password_hash, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (key, name, password_hash, now),
                    )
                self.db.execute("INSERT INTO players(key) VALUES (?)", (key,))
        except sqlite3.IntegrityError:
            raise NameTaken(f"The name {name!r} is taken.") from None
        return Account(name, key, password_hash, now, None, admin)

    def get_account(self, name: str) -> Account | None:
        """The account with that name in any letter case, or None."""
        row = self.db.execute(
            "SELECT name, key, password_hash, created_at, last_login, admin"
            " FROM accounts WHERE key = ?",
            (name_key(name),),
        ).fetchone()
        if row is None:
            return None
        return Account(row[0], row[1], row[2], row[3], row[4], bool(row[5]))

    def set_password_hash(self, name: str, password_hash: str) -> Account | None:
        """Store a new password hash (``password``); the account, or None if it is gone.

        Committed when this returns: the player is told only then.
        """
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE accounts SET password_hash = ? WHERE key = ?",
                (password_hash, name_key(name)),
            )
        if cursor.rowcount <= 0:
            return None
        return self.get_account(name)

    def set_admin(self, name: str, admin: bool) -> bool:
        """Give or take an account's admin rights; False if there is no such account.

        Only ``reality admin`` calls this: rights are never granted over the network.
        """
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE accounts SET admin = ? WHERE key = ?", (int(admin), name_key(name))
            )
        return cursor.rowcount > 0

    def admin_keys(self) -> list[str]:
        """The keys of every account with admin rights, sorted."""
        return [
            r[0] for r in self.db.execute("SELECT key FROM accounts WHERE admin ORDER BY key")
        ]

    def count_accounts(self) -> int:
        """How many accounts exist."""
        return int(self.db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])

    # -- players ----------

    def load_player(self, name: str) -> PlayerRecord | None:
        """A player's saved state, or None if there is no such player."""
        row = self.db.execute(
            "SELECT key, room, settings, last_seen, homepage, homepage_updated, description"
            " FROM players WHERE key = ?",
            (name_key(name),),
        ).fetchone()
        if row is None:
            return None
        try:
            settings = json.loads(row[2]) if row[2] else {}
            if not isinstance(settings, dict):
                settings = {}
        except ValueError:
            log.warning("player %s has unreadable settings; using defaults", row[0])
            settings = {}
        return PlayerRecord(row[0], row[1], settings, row[3], row[4] or "", row[5], row[6])

    def set_homepage(self, name: str, text: str, now: float) -> None:
        """Replace a player's homepage Markdown; committed when this returns."""
        with self.transaction():
            self.db.execute(
                "UPDATE players SET homepage = ?, homepage_updated = ? WHERE key = ?",
                (text, now, name_key(name)),
            )

    def set_player_description(self, name: str, text: str | None) -> None:
        """Set (or with None clear) a player's description."""
        with self.transaction():
            self.db.execute(
                "UPDATE players SET description = ? WHERE key = ?", (text, name_key(name))
            )

    # -- items ----------

    def item_positions(self) -> dict[str, tuple[str, str]]:
        """Where items were moved at run time: ``{item: (kind, place)}``."""
        return {
            r[0]: (r[1], r[2])
            for r in self.db.execute("SELECT item, kind, place FROM item_positions")
        }

    def checkpoint(
        self,
        players: Iterable[tuple[str, str | None, dict[str, Any], float | None]] = (),
        items: Iterable[tuple[str, str, str]] = (),
        logins: Iterable[tuple[str, float]] = (),
        states: Iterable[tuple[str, str, bool, bool]] = (),
    ) -> None:
        """Save many positions in one transaction.

        ``players``: ``(name, room, settings, last_seen)``;
        ``items``: ``(item, kind, place)``, kind ``"room"``, ``"player"``,
        ``"item"`` (a container) or ``"npc"``;
        ``logins``: ``(name, when)``;
        ``states``: ``(kind, id, closed, locked)`` of doors and containers.
        """
        # executemany: the per-row cost stays in C, which keeps a checkpoint
        # of a thousand players to a few milliseconds of the loop's time.
        player_rows = [
            (name_key(name), room, json.dumps(settings, sort_keys=True), last_seen)
            for name, room, settings, last_seen in players
        ]
        with self.transaction():
            if player_rows:
                self.db.executemany(_SAVE_PLAYER, player_rows)
            self.db.executemany(_SET_ITEM_POSITION, items)
            self.db.executemany(
                "UPDATE accounts SET last_login = ? WHERE key = ?",
                [(when, name_key(name)) for name, when in logins],
            )
            state_rows = [(k, i, int(closed), int(locked)) for k, i, closed, locked in states]
            if state_rows:
                self.db.executemany(
                    "INSERT INTO thing_states(kind, id, closed, locked) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(kind, id) DO UPDATE SET closed = excluded.closed,"
                    " locked = excluded.locked",
                    state_rows,
                )

    def states(self) -> dict[tuple[str, str], tuple[bool, bool]]:
        """Saved door and container states: ``{(kind, id): (closed, locked)}``."""
        return {
            (r[0], r[1]): (bool(r[2]), bool(r[3]))
            for r in self.db.execute("SELECT kind, id, closed, locked FROM thing_states")
        }

    # -- what builders changed ----------

    def change_thing(self, kind: str, thing_id: str, attributes: dict[str, Any]) -> None:
        """Record attributes a builder set (``@set``, ``@rename``); committed on return.

        They are merged into those already recorded for the thing.
        """
        with self.transaction():
            row = self.db.execute(
                "SELECT attributes FROM thing_changes WHERE kind = ? AND id = ?", (kind, thing_id)
            ).fetchone()
            merged = {**(json.loads(row[0]) if row else {}), **attributes}
            self.db.execute(
                "INSERT INTO thing_changes(kind, id, attributes) VALUES (?, ?, ?)"
                " ON CONFLICT(kind, id) DO UPDATE SET attributes = excluded.attributes",
                (kind, thing_id, json.dumps(merged, sort_keys=True)),
            )

    def thing_changes(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every builder's change: ``{(kind, id): {attribute: value}}``."""
        return {
            (r[0], r[1]): json.loads(r[2])
            for r in self.db.execute("SELECT kind, id, attributes FROM thing_changes")
        }

    def destroy(self, kind: str, thing_id: str) -> None:
        """Record that a thing is gone for good (``@destroy``); committed on return."""
        with self.transaction():
            if kind == "item":
                self.db.execute("DELETE FROM built_items WHERE id = ?", (thing_id,))
                self.db.execute("DELETE FROM item_positions WHERE item = ?", (thing_id,))
            self.db.execute("DELETE FROM thing_changes WHERE kind = ? AND id = ?", (kind, thing_id))
            self.db.execute("DELETE FROM thing_states WHERE kind = ? AND id = ?", (kind, thing_id))
            self.db.execute(
                "INSERT OR IGNORE INTO destroyed(kind, id) VALUES (?, ?)", (kind, thing_id)
            )

    def destroyed(self) -> set[tuple[str, str]]:
        """Every ``(kind, id)`` destroyed by a builder."""
        return {(r[0], r[1]) for r in self.db.execute("SELECT kind, id FROM destroyed")}

    def add_exit(self, room: str, name: str, destination: str) -> None:
        """A builder's exit (``@open``, ``@dig``); committed on return."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO built_exits(room, name, destination) VALUES (?, ?, ?)"
                " ON CONFLICT(room, name) DO UPDATE SET destination = excluded.destination",
                (room, name, destination),
            )
            self.db.execute(
                "DELETE FROM unlinked_exits WHERE room = ? AND name = ?", (room, name)
            )

    def unlink_exit(self, room: str, name: str) -> None:
        """Remove an exit (``@unlink``): a built one is deleted, a world file's is hidden."""
        with self.transaction():
            self.db.execute("DELETE FROM built_exits WHERE room = ? AND name = ?", (room, name))
            self.db.execute(
                "INSERT OR IGNORE INTO unlinked_exits(room, name) VALUES (?, ?)", (room, name)
            )

    def unlinked_exits(self) -> set[tuple[str, str]]:
        """Every ``(room, exit name)`` a builder removed."""
        return {(r[0], r[1]) for r in self.db.execute("SELECT room, name FROM unlinked_exits")}

    # -- things built at run time ----------

    def add_built_room(
        self, room: BuiltRoom, exits: Sequence[BuiltExit] = (), *, now: float
    ) -> None:
        """Save a dug room and its exits together; committed when this returns."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO built_rooms(id, name, description, outdoor, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (room.id, room.name, room.description, int(room.outdoor), room.created_by, now),
            )
            self.db.executemany(
                "INSERT INTO built_exits(room, name, destination) VALUES (?, ?, ?)"
                " ON CONFLICT(room, name) DO UPDATE SET destination = excluded.destination",
                [(e.room, e.name, e.destination) for e in exits],
            )

    def built_rooms(self) -> list[BuiltRoom]:
        return [
            BuiltRoom(r[0], r[1], r[2], bool(r[3]), r[4])
            for r in self.db.execute(
                "SELECT id, name, description, outdoor, created_by FROM built_rooms ORDER BY rowid"
            )
        ]

    def built_exits(self) -> list[BuiltExit]:
        return [
            BuiltExit(r[0], r[1], r[2])
            for r in self.db.execute(
                "SELECT room, name, destination FROM built_exits ORDER BY rowid"
            )
        ]

    def add_built_item(self, item: BuiltItem, *, kind: str, place: str, now: float) -> None:
        """Save a created item and where it is; committed when this returns."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO built_items(id, name, description, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (item.id, item.name, item.description, item.created_by, now),
            )
            self.db.execute(_SET_ITEM_POSITION, (item.id, kind, place))

    def built_items(self) -> list[BuiltItem]:
        return [
            BuiltItem(r[0], r[1], r[2], r[3])
            for r in self.db.execute(
                "SELECT id, name, description, created_by FROM built_items ORDER BY rowid"
            )
        ]

    def set_description(self, kind: str, thing_id: str, text: str) -> None:
        """Override a thing's description (``kind``: room, item, npc, exit)."""
        with self.transaction():
            if kind == "room" and self._update_built("built_rooms", thing_id, text):
                return
            if kind == "item" and self._update_built("built_items", thing_id, text):
                return
            self.db.execute(
                "INSERT INTO descriptions(kind, id, text) VALUES (?, ?, ?)"
                " ON CONFLICT(kind, id) DO UPDATE SET text = excluded.text",
                (kind, thing_id, text),
            )

    def _update_built(self, table: str, thing_id: str, text: str) -> bool:
        cursor = self.db.execute(
            f"UPDATE {table} SET description = ? WHERE id = ?", (text, thing_id)
        )
        return cursor.rowcount > 0

    def descriptions(self) -> dict[tuple[str, str], str]:
        """Every description override: ``{(kind, id): text}``."""
        return {
            (r[0], r[1]): r[2] for r in self.db.execute("SELECT kind, id, text FROM descriptions")
        }


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (no semicolons in literals)."""
    for statement in script.split(";"):
        if statement.strip():
            yield statement
