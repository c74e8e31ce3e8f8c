"""SQLite persistence: schema versions, migrations, durable writes, restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reality.game.store import (
    CORE_MIGRATIONS,
    MIGRATIONS,
    BuiltExit,
    BuiltItem,
    BuiltRoom,
    Migration,
    NameTaken,
    NoRealitySchema,
    SchemaTooNew,
    Store,
    StoreCorrupt,
    register_migrations,
)


def tables(store: Store) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_migrates_from_empty() -> None:
    """A new database gets every core table and the latest version."""
    store = Store(":memory:")
    assert store.schema_version("core") == len(CORE_MIGRATIONS)
    assert {"accounts", "players", "item_positions", "built_rooms", "descriptions"} <= tables(store)


def test_migrates_from_an_older_version_keeping_data(tmp_path: Path) -> None:
    """A version-1 database is brought up to date without losing its rows."""
    path = str(tmp_path / "old.sqlite3")
    old = Store(path, migrations={"core": CORE_MIGRATIONS[:1]})
    old.create_account("Alice", "h", now=1.0)
    assert old.schema_version() == 1
    assert "built_rooms" not in tables(old)
    old.close()

    new = Store(path)
    assert new.schema_version() == len(CORE_MIGRATIONS)
    assert new.get_account("alice").name == "Alice"
    assert new.load_player("alice").description is None
    new.close()


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    """A database written by a newer program is not touched."""
    path = str(tmp_path / "new.sqlite3")
    Store(path).close()
    with pytest.raises(SchemaTooNew):
        Store(path, migrations={"core": CORE_MIGRATIONS[:1]})


def test_another_component_adds_its_own_migrations() -> None:
    """A component (e.g. mail) appends tables with its own version row."""
    steps = [Migration("letters", "CREATE TABLE test_letters (id INTEGER PRIMARY KEY)")]
    store = Store(":memory:", migrations={"core": CORE_MIGRATIONS, "testmail": steps})
    assert store.schema_version("testmail") == 1
    assert "test_letters" in tables(store)


def test_register_migrations_only_appends() -> None:
    """Released steps cannot be changed, only followed by new ones."""
    first = Migration("one", "CREATE TABLE reg_one (x)")
    register_migrations("regtest", [first])
    register_migrations("regtest", [first, Migration("two", "CREATE TABLE reg_two (x)")])
    with pytest.raises(ValueError):
        register_migrations("regtest", [Migration("changed", "CREATE TABLE reg_x (x)")])
    del MIGRATIONS["regtest"]


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    """A step that fails rolls back whole, and the version stays where it was."""
    path = str(tmp_path / "m.sqlite3")
    bad = [
        Migration("ok", "CREATE TABLE fine (x)"),
        Migration("bad", "CREATE TABLE half (x); CREATE TABLE fine (x)"),
    ]
    with pytest.raises(sqlite3.OperationalError):
        Store(path, migrations={"core": CORE_MIGRATIONS, "broken": bad})
    store = Store(path, migrations={"core": CORE_MIGRATIONS, "broken": bad[:1]})
    assert store.schema_version("broken") == 1
    assert "fine" in tables(store) and "half" not in tables(store)
    store.close()


def test_account_names_are_unique_without_case() -> None:
    """Creating "ALICE" after "Alice" raises NameTaken; lookups ignore case."""
    store = Store(":memory:")
    account = store.create_account("Alice", "hash", now=5.0)
    assert (account.name, account.key, account.created_at) == ("Alice", "alice", 5.0)
    with pytest.raises(NameTaken):
        store.create_account("ALICE", "other", now=6.0)
    assert store.get_account("aLiCe").password_hash == "hash"
    assert store.get_account("bob") is None
    assert store.count_accounts() == 1


def test_account_is_committed_when_create_returns(tmp_path: Path) -> None:
    """Another connection sees a new account at once: it was committed."""
    path = str(tmp_path / "db.sqlite3")
    store = Store(path)
    store.create_account("Alice", "hash", now=1.0)
    other = sqlite3.connect(path)
    assert other.execute("SELECT name FROM accounts").fetchall() == [("Alice",)]
    other.close()
    store.close()


def test_wal_mode_on_files(tmp_path: Path) -> None:
    """File databases use the WAL journal."""
    store = Store(str(tmp_path / "w.sqlite3"))
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_transaction_groups_and_rolls_back() -> None:
    """Writes in one transaction block commit together or not at all."""
    store = Store(":memory:")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.checkpoint(items=[("lamp", "room", "hall")])  # nested: joins the outer one
            store.checkpoint(items=[("key", "room", "hall")])
            raise RuntimeError("boom")
    assert store.item_positions() == {}
    with store.transaction():
        store.checkpoint(items=[("lamp", "room", "hall")])
        store.checkpoint(items=[("key", "player", "alice")])
    assert store.item_positions() == {"lamp": ("room", "hall"), "key": ("player", "alice")}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Players, homepages, items and built things are all there after reopening."""
    path = str(tmp_path / "db.sqlite3")
    store = Store(path)
    store.create_account("Alice", "hash", now=1.0)
    store.checkpoint(
        players=[("alice", "library", {"color": "off"}, 42.0)],
        items=[("lamp", "player", "alice")],
    )
    store.set_homepage("alice", "# Hello", 50.0)
    store.add_built_room(
        BuiltRoom("@tower", "The Tower", "", False, "alice"),
        [BuiltExit("hall", "up", "@tower"), BuiltExit("@tower", "down", "hall")],
        now=2.0,
    )
    store.add_built_item(
        BuiltItem("@bell", "bell", "", "alice"), kind="room", place="hall", now=3.0
    )
    store.set_description("room", "@tower", "Tall.")
    store.set_description("item", "lamp", "Shiny.")
    store.close()

    store = Store(path)
    record = store.load_player("ALICE")
    assert (record.room, record.settings, record.last_seen) == ("library", {"color": "off"}, 42.0)
    assert (record.homepage, record.homepage_updated) == ("# Hello", 50.0)
    assert store.item_positions() == {"lamp": ("player", "alice"), "@bell": ("room", "hall")}
    assert store.built_rooms() == [BuiltRoom("@tower", "The Tower", "Tall.", False, "alice")]
    assert store.built_exits() == [
        BuiltExit("hall", "up", "@tower"),
        BuiltExit("@tower", "down", "hall"),
    ]
    assert store.built_items() == [BuiltItem("@bell", "bell", "", "alice")]
    assert store.descriptions() == {("item", "lamp"): "Shiny."}
    store.close()


def test_unreadable_settings_fall_back_to_defaults() -> None:
    """A corrupted settings column gives empty settings, not a crash."""
    store = Store(":memory:")
    store.create_account("Alice", "hash", now=1.0)
    store.db.execute("UPDATE players SET settings = 'not json' WHERE key = 'alice'")
    assert store.load_player("alice").settings == {}


def test_admin_rights_are_a_flag_on_the_account(tmp_path: Path) -> None:
    """create_account(admin=True) and set_admin() store the flag; it survives a restart."""
    path = str(tmp_path / "a.sqlite3")
    store = Store(path)
    assert not store.create_account("Alice", "h", now=1.0).admin
    assert store.create_account("Root", "h", now=1.0, admin=True).admin
    assert store.set_admin("alice", True)
    assert not store.set_admin("nobody", True)
    store.close()
    store = Store(path)
    assert store.get_account("ALICE").admin and store.get_account("root").admin
    assert store.admin_keys() == ["alice", "root"]
    store.set_admin("root", False)
    assert not store.get_account("root").admin
    store.close()


def test_an_old_database_gains_the_admin_flag_off(tmp_path: Path) -> None:
    """The migration adds the flag with no admins: rights are never guessed from names."""
    path = str(tmp_path / "old.sqlite3")
    old = Store(path, migrations={"core": CORE_MIGRATIONS[:2]})
    old.create_account("Root", "h", now=1.0)
    old.close()
    new = Store(path)
    assert new.get_account("root").admin is False
    new.close()


def test_an_empty_existing_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A 0-byte database file (truncated) stops the store with advice, unless init_db."""
    path = tmp_path / "truncated.sqlite3"
    path.write_bytes(b"")
    with pytest.raises(NoRealitySchema) as info:
        Store(str(path))
    message = str(info.value)
    assert "is empty" in message and "backup" in message and "--init-db" in message
    assert path.read_bytes() == b"", "a refused file is not written to"
    store = Store(str(path), init_db=True)
    assert store.schema_version() == len(CORE_MIGRATIONS)
    store.close()
    Store(str(path)).close()  # now it is a Reality database


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    """An SQLite file of another program (tables, no Reality schema) is refused."""
    path = tmp_path / "other.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, title TEXT)")
    db.commit()
    db.close()
    with pytest.raises(NoRealitySchema, match="another program"):
        Store(str(path))


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    """A text file given as the database is reported as damaged, with the restore advice."""
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(StoreCorrupt, match="backup"):
        Store(str(path))


def _big_database(path: Path) -> None:
    store = Store(str(path))
    with store.transaction():
        for i in range(3000):
            store.db.execute(
                "INSERT INTO accounts(key, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (f"p{i}", f"P{i}", "x" * 200, float(i)),
            )
    store.close()


def test_garbage_in_the_middle_of_the_file_is_found_at_start(tmp_path: Path) -> None:
    """8 KiB of garbage mid-file: quick_check fails and the store refuses to open."""
    path = tmp_path / "big.sqlite3"
    _big_database(path)
    Store(str(path)).close()  # sound before
    size = path.stat().st_size
    assert size > 200_000
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(bytes((i * 37 + 11) % 256 for i in range(8192)))
    with pytest.raises(StoreCorrupt) as info:
        Store(str(path))
    assert "quick_check" in str(info.value) or "malformed" in str(info.value)
    assert "backup" in str(info.value)
