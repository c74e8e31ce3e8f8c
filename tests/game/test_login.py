"""The login set on its own: the dialogue's steps with a fake connection, no telnet."""

from __future__ import annotations

from reality.game.login import LOGIN_WORDS, login_line, login_verbs


class Port:
    """A connection as the login set sees it, recording what it is sent."""

    def __init__(self, accounts: set[str] = frozenset()) -> None:
        self.state = "login"
        self.pending_name: str | None = None
        self.pending_password: str | None = None
        self.accounts = set(accounts)
        self.out: list[str] = []
        self.echo = True
        self.logins: list[tuple[str, str, bool]] = []
        self.closed: str | None = None

    def send_text(self, text: str) -> None:
        self.out.append(text)

    def send_prompt(self, text: str) -> None:
        self.out.append(f"[{text}]")

    def show(self, text: str) -> None:
        self.out.append(text)

    def set_echo(self, enabled: bool) -> bool:
        self.echo = enabled
        return True

    def disconnect(self, message: str) -> None:
        self.closed = message

    def login_help(self) -> str:
        return "HELP\n"

    def who_text(self) -> str:
        return "nobody"

    def is_command_word(self, word: str) -> bool:
        return word == "look"

    def account_exists(self, name: str) -> bool:
        return name.lower() in self.accounts

    def sign_up_refusal(self, name: str) -> str | None:
        return "Too many new characters from your address today." if name == "Zed" else None

    def begin_login(self, name: str, password: str, *, create: bool) -> None:
        self.state = "waiting"
        self.logins.append((name, password, create))

    def take(self) -> list[str]:
        out, self.out = self.out, []
        return out


def _run(port: Port, *lines: str) -> list[str]:
    verbs = login_verbs()
    for line in lines:
        login_line(verbs, port, line)
    return port.take()


def test_a_new_character_is_asked_to_confirm_and_choose_a_password_twice() -> None:
    port = Port()
    out = _run(port, "Alice", "y")
    assert out[:2] == [
        "There is no character named Alice yet.\n",
        "[Create a new character named Alice? (y/n) ]",
    ]
    assert port.state == "new_password" and not port.echo
    out = _run(port, "secret1", "secret2")
    assert "\nThe two passwords differ; please choose one again.\n" in out
    assert port.state == "new_password"
    _run(port, "secret1", "secret1")
    assert port.logins == [("Alice", "secret1", True)]
    assert port.echo


def test_a_known_name_asks_for_its_password_with_echo_off() -> None:
    port = Port({"bob"})
    assert _run(port, "Bob") == ["[Password: ]"]
    assert not port.echo
    _run(port, "hunter22")
    assert port.logins == [("Bob", "hunter22", False)] and port.echo


def test_login_verbs_work_at_every_step_and_quit_backs_out_first() -> None:
    port = Port({"bob"})
    _run(port, "Bob")
    out = _run(port, "quit")
    assert port.closed is None and port.state == "login"
    assert out[-1] == "[> ]"
    _run(port, "connect bob pw12345")
    assert port.logins == [("bob", "pw12345", False)]
    port.state = "login"
    _run(port, "quit")
    assert port.closed == "Goodbye!"


def test_names_that_are_commands_or_reserved_are_refused_before_a_password() -> None:
    port = Port()
    assert _run(port, "look")[0].startswith("'look' is a command, so it can't be a name.")
    assert _run(port, "postmaster")[0].startswith("'postmaster' is reserved")
    assert _run(port, "Zed")[0].startswith("Too many new characters from your address today.")
    assert _run(port, "create who secret1")[0] == "'who' is a command, so it can't be a name.\n"
    assert port.logins == []
    assert "who" in LOGIN_WORDS


def test_usage_and_help() -> None:
    port = Port()
    assert _run(port, "connect bob") == ["Usage: connect <name> <password>\n", "[> ]"]
    assert _run(port, "help") == ["HELP\n", "[> ]"]
    assert _run(port, "two words") == ["I don't understand that yet. HELP\n", "[> ]"]
