"""The login set: the verbs and steps by which a connection becomes a player.

Before login, a line is read like this: first as a verb of the login set
(``connect <name> <password>``, ``create <name> <password>``, ``who``,
``help``, ``quit``), understood at every step (the password prompts too,
so that ``quit`` is never taken for a password); then as the answer the
current step waits for (a y/n, a password, the password again); at the
first step, a single word is a character's name: a known one is asked
for its password, a new one is offered to be created.

It knows nothing of sockets or telnet: a gateway's connection offers what
:class:`LoginPort` lists (text out, a prompt, echo on and off, the account
checks) and keeps ``state``, which the dialogue moves through ``login``,
``confirm``, ``password``, ``new_password`` and ``repeat_password``; the
port itself moves it to ``waiting`` while a password is checked and to
``playing`` once the world has the player. The world owns the set
(``world.login_verbs``), as it owns the playing set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from reality.game.accounts import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    InvalidName,
    InvalidPassword,
    check_name,
    check_password,
)
from reality.game.verbs.core import VerbRegistry

__all__ = [
    "LOGIN_WORDS",
    "PASSWORD_PROMPTS",
    "PROMPT",
    "LoginPort",
    "login_line",
    "login_verbs",
    "prompt_of",
]

PROMPT = "> "

#: The login dialogue's own words: understood at every prompt before login
#: (the password prompts too), and never a new character's name.
LOGIN_WORDS = frozenset(
    {"connect", "create", "quit", "exit", "logout", "who", "help", "new", "login", "guest"}
)

#: The prompts of the password steps; the client's echo is off while they wait.
PASSWORD_PROMPTS = {
    "password": "Password: ",
    "new_password": "Choose a password: ",
    "repeat_password": "Repeat the password: ",
}


class LoginPort(Protocol):
    """What a connection offers the login dialogue (telnet's session is one)."""

    #: The dialogue's step (see the module docstring).
    state: str
    pending_name: str | None
    pending_password: str | None

    def send_text(self, text: str) -> None:
        """Plain text for the person (lines end in ``\\n``)."""

    def send_prompt(self, text: str) -> None:
        """A prompt: text that waits on the same line for the answer."""

    def show(self, text: str) -> None:
        """Markup text (``who``'s listing)."""

    def set_echo(self, enabled: bool) -> object:
        """Show (True) or hide (False) what the person types: passwords."""

    def disconnect(self, message: str) -> None:
        """Show ``message`` and close."""

    def login_help(self) -> str:
        """The login help text."""

    def who_text(self) -> str:
        """Who is connected, as markup."""

    def is_command_word(self, word: str) -> bool:
        """Whether players type ``word`` as a command (no character may be named so)."""

    def account_exists(self, name: str) -> bool:
        """Whether an account has this name."""

    def sign_up_refusal(self, name: str) -> str | None:
        """Why a new account may not take this name now (reserved, limits), or None."""

    def begin_login(self, name: str, password: str, *, create: bool) -> None:
        """Check the password (or create the account): the port answers later."""


def login_verbs() -> VerbRegistry:
    """A fresh login set: the verbs understood at every step before login."""
    registry = VerbRegistry()
    r = registry.register
    r(
        "connect",
        _connect,
        usage="connect <name> <password>",
        category="login",
        help="Log in as an existing character in one line (or type just the name).",
    )
    r(
        "create",
        _create,
        usage="create <name> <password>",
        category="login",
        help="Make a new character with this name and password, and log in as it.",
    )
    r(
        "quit",
        _quit,
        aliases=["exit", "logout"],
        usage="quit",
        category="login",
        help="Close the connection (at a password prompt: start again).",
    )
    r("who", _who, usage="who", category="login", help="List the players connected now.")
    r(
        "help",
        _help,
        aliases=["?"],
        usage="help",
        category="login",
        help="Say how to log in; once in, 'help' lists everything you can do.",
    )
    return registry


def prompt_of(port: LoginPort) -> str:
    """The prompt of the dialogue's current step."""
    if port.state == "confirm":
        return f"Create a new character named {port.pending_name}? (y/n) "
    return PASSWORD_PROMPTS.get(port.state, PROMPT)


def login_line(verbs: VerbRegistry, port: LoginPort, text: str) -> None:
    """One line before login: a login verb, the answer to the step, or a name."""
    words = text.split()
    if not words:
        if port.state == "login":
            port.send_prompt(PROMPT)
        else:
            _back_to_start(port, "Never mind.")
        return
    verb = verbs.lookup(words[0].lower())
    if verb is not None:
        verb.handler(port, text[len(words[0]) :].strip())
        return
    step = _STEPS.get(port.state)
    if step is not None:
        step(port, text)
        return
    if len(words) == 1:
        _start_interactive(port, words[0])
    else:
        port.send_text("I don't understand that yet. " + port.login_help())
        port.send_prompt(PROMPT)


# -- the verbs ----------


def _connect(port: LoginPort, args: str) -> None:
    _name_and_password(port, "connect", args)


def _create(port: LoginPort, args: str) -> None:
    _name_and_password(port, "create", args)


def _name_and_password(port: LoginPort, verb: str, args: str) -> None:
    _leave_step(port)
    words = args.split()
    if len(words) != 2:
        port.send_text(f"Usage: {verb} <name> <password>\n")
        port.send_prompt(PROMPT)
        return
    name, password = words
    if verb == "create":
        try:
            check_new_name(port, name)
        except InvalidName as exc:
            port.send_text(f"{exc}\n")
            port.send_prompt(PROMPT)
            return
    port.begin_login(name, password, create=verb == "create")


def _quit(port: LoginPort, args: str) -> None:
    if port.state == "login":
        port.disconnect("Goodbye!")
    else:
        _back_to_start(port, "Never mind.")


def _who(port: LoginPort, args: str) -> None:
    _end_hidden_line(port)
    port.show(port.who_text())
    port.send_prompt(prompt_of(port))


def _help(port: LoginPort, args: str) -> None:
    _end_hidden_line(port)
    port.send_text(port.login_help())
    port.send_prompt(prompt_of(port))


# -- the steps ----------


def check_new_name(port: LoginPort, name: str) -> None:
    """Raise InvalidName unless ``name`` may be given to a new character."""
    check_name(name)
    if name.lower() in LOGIN_WORDS or port.is_command_word(name):
        raise InvalidName(f"'{name}' is a command, so it can't be a name.")


def _end_hidden_line(port: LoginPort) -> None:
    # With echo off the client did not show the Enter either.
    if port.state in PASSWORD_PROMPTS:
        port.send_text("\n")


def _leave_step(port: LoginPort) -> None:
    """Forget the step under way (turning echo back on after a password prompt)."""
    if port.state in PASSWORD_PROMPTS:
        _end_password_entry(port)
    port.state = "login"
    port.pending_name = None
    port.pending_password = None


def _back_to_start(port: LoginPort, message: str) -> None:
    _leave_step(port)
    port.send_text(f"{message} Type your character's name, or 'help'.\n")
    port.send_prompt(PROMPT)


def _start_interactive(port: LoginPort, name: str) -> None:
    # Names are public (who, homepages, mail addresses): saying that one
    # is new is fine. Nothing here says anything about a password.
    if port.account_exists(name):
        port.pending_name = name
        _ask_password(port, "password")
        return
    try:
        check_new_name(port, name)
    except InvalidName as exc:
        refusal: str | None = str(exc)
    else:
        # Reserved names and the sign-up limit are said before the
        # password is asked for, not after it was typed twice.
        refusal = port.sign_up_refusal(name)
    if refusal is not None:
        port.send_text(f"{refusal}\nType your character's name, or 'help'.\n")
        port.send_prompt(PROMPT)
        return
    port.pending_name = name
    port.state = "confirm"
    port.send_text(f"There is no character named {name} yet.\n")
    port.send_prompt(prompt_of(port))


def _got_confirmation(port: LoginPort, answer: str) -> None:
    answer = answer.strip().lower()
    if answer in ("y", "yes"):
        port.send_text(
            f"A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters and no spaces;"
            " it is not shown as you type.\n"
        )
        _ask_password(port, "new_password")
    elif answer in ("n", "no"):
        _back_to_start(port, "No character was created.")
    else:
        port.send_text("Please answer y or n.\n")
        port.send_prompt(prompt_of(port))


def _ask_password(port: LoginPort, state: str) -> None:
    port.state = state
    # Echo off before the prompt: the client stops showing what is typed.
    port.set_echo(False)
    port.send_prompt(prompt_of(port))


def _end_password_entry(port: LoginPort) -> None:
    port.set_echo(True)
    # The client did not echo the Enter either.
    port.send_text("\n")


def _got_password(port: LoginPort, password: str) -> None:
    name = port.pending_name or ""
    _leave_step(port)
    port.begin_login(name, password, create=False)


def _got_new_password(port: LoginPort, password: str) -> None:
    port.send_text("\n")  # echo is off: the client did not show the Enter
    try:
        check_password(password)
    except InvalidPassword as exc:
        port.send_text(f"{exc}\n")
        port.send_prompt(prompt_of(port))
        return
    port.pending_password = password
    port.state = "repeat_password"
    port.send_prompt(prompt_of(port))


def _got_repeated_password(port: LoginPort, password: str) -> None:
    if password != port.pending_password:
        port.send_text("\nThe two passwords differ; please choose one again.\n")
        port.pending_password = None
        port.state = "new_password"
        port.send_prompt(prompt_of(port))
        return
    name = port.pending_name or ""
    _leave_step(port)
    port.begin_login(name, password, create=True)


#: What each step does with a line that is no login verb.
_STEPS: dict[str, Callable[[Any, str], None]] = {
    "confirm": _got_confirmation,
    "password": _got_password,
    "new_password": _got_new_password,
    "repeat_password": _got_repeated_password,
}
