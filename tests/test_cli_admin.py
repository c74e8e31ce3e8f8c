"""``reality admin add|remove``: the only way to give or take admin rights."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reality.cli import main
from reality.game.accounts import verify_password
from reality.game.store import Store


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def account(db: Path, name: str):
    store = Store(str(db))
    try:
        return store.get_account(name)
    finally:
        store.close()


def test_add_creates_an_admin_with_the_first_line_of_a_pipe(tmp_path, monkeypatch, capsys):
    """From a pipe the password is the first line; the account is created with admin rights."""
    db = tmp_path / "r.sqlite3"
    assert run(monkeypatch, "admin", "add", "Root", "--db", str(db),
               stdin="s3cret-password\nignored\n") == 0
    root = account(db, "root")
    assert root.name == "Root" and root.admin
    assert verify_password("s3cret-password", root.password_hash)
    assert "Created" in capsys.readouterr().out


def test_add_on_a_taken_name_fails_unless_grant(tmp_path, monkeypatch, capsys):
    """A player's name: exit 1 with a message; --grant makes that account an admin."""
    db = tmp_path / "r.sqlite3"
    store = Store(str(db))
    store.create_account("Pat", "h", now=1.0)
    store.close()
    assert run(monkeypatch, "admin", "add", "pat", "--db", str(db), stdin="x\n") == 1
    assert "taken" in capsys.readouterr().err
    assert not account(db, "pat").admin
    assert run(monkeypatch, "admin", "add", "pat", "--db", str(db), "--grant") == 0
    assert account(db, "pat").admin
    assert account(db, "pat").password_hash == "h", "--grant keeps the player's password"
    # --grant (or a plain add) on an admin: nothing to do, exit 0.
    assert run(monkeypatch, "admin", "add", "Pat", "--db", str(db), "--grant") == 0
    assert run(monkeypatch, "admin", "add", "Pat", "--db", str(db)) == 0
    assert "already an admin" in capsys.readouterr().out


def test_remove_takes_the_rights_away(tmp_path, monkeypatch, capsys):
    """remove clears the flag (the account stays); an unknown name is exit 1."""
    db = tmp_path / "r.sqlite3"
    assert run(monkeypatch, "admin", "add", "Root", "--db", str(db), stdin="secret\n") == 0
    assert run(monkeypatch, "admin", "remove", "ROOT", "--db", str(db)) == 0
    assert account(db, "root") is not None and not account(db, "root").admin
    assert run(monkeypatch, "admin", "remove", "Ghost", "--db", str(db)) == 1
    assert "no account" in capsys.readouterr().err


def test_add_refuses_a_bad_name_or_password(tmp_path, monkeypatch, capsys):
    """Names are letters only; an empty or too-short password is refused; nothing is made."""
    db = tmp_path / "r.sqlite3"
    assert run(monkeypatch, "admin", "add", "R00t", "--db", str(db), stdin="secret\n") == 1
    assert run(monkeypatch, "admin", "add", "Root", "--db", str(db), stdin="") == 1
    assert run(monkeypatch, "admin", "add", "Root", "--db", str(db), stdin="ab\n") == 1
    assert account(db, "root") is None


def test_add_on_a_terminal_asks_twice(tmp_path, monkeypatch, capsys):
    """On a terminal the password is asked twice; different answers change nothing."""
    db = tmp_path / "r.sqlite3"
    answers = iter(["secret1", "secret2", "secret3", "secret3"])

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["admin", "add", "Root", "--db", str(db)]) == 1
    assert "differ" in capsys.readouterr().err
    assert main(["admin", "add", "Root", "--db", str(db)]) == 0
    assert verify_password("secret3", account(db, "root").password_hash)


def test_admin_refuses_an_empty_database_file(tmp_path, monkeypatch, capsys):
    """The same database checks as serve: a truncated file is not quietly reused."""
    db = tmp_path / "r.sqlite3"
    db.write_bytes(b"")
    assert run(monkeypatch, "admin", "add", "Root", "--db", str(db), stdin="secret\n") == 1
    assert "not a Reality database" in capsys.readouterr().err


def test_serve_help_names_the_new_flags(capsys):
    """serve --help documents --max-signups-per-hour, --init-db and what --admin now means."""
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-signups-per-hour" in out and "--init-db" in out
    assert "reserve a name" in out
