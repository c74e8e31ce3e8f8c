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
    SchemaTooNew,
    Store,
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
