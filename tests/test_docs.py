"""The developer documents are true to the code.

``docs/design.md``, ``docs/extending.md`` and ``docs/architecture.md`` name
modules by path (``reality/net/tcp.py``, ``reality/gateways/web/``) and by
dotted name (``reality.app.GATEWAYS``): every one must exist. The worked
examples of ``docs/extending.md`` run: the code it quotes from
``examples/`` is there line for line, the examples do what the document
says, and its world-feature patch applies to the code as it is and works.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "docs" / name
    for name in ("design.md", "extending.md", "architecture.md", "behaviours.md")
]
EXAMPLES = ROOT / "examples"
TINY = ROOT / "world" / "tiny.yaml"

#: Dotted words that look like module names but are not (a mail domain).
NOT_NAMES = {"reality.localhost"}

_PATH = re.compile(r"(?<![\w/.])reality/[\w/.]*[\w/]")
_DOTTED = re.compile(r"(?<![\w.])reality(?:\.\w+)+")
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _text(doc: Path) -> str:
    return doc.read_text(encoding="utf-8")


def _paths(doc: Path) -> set[str]:
    return {m.group(0) for m in _PATH.finditer(_text(doc))}


def _dotted(doc: Path) -> set[str]:
    return {m.group(0) for m in _DOTTED.finditer(_text(doc))} - NOT_NAMES


def _blocks(doc: Path, language: str = "") -> list[str]:
    return [code for lang, code in _BLOCK.findall(_text(doc)) if not language or lang == language]


def _resolve(name: str) -> object:
    """Import the longest module prefix of ``name``, then get the rest as attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(name)


# -- every name exists ----------------------------------------------------------------


def test_the_documents_exist_and_are_linked():
    """design.md and extending.md exist, and README and architecture.md link both."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in ("design.md", "extending.md"):
        assert (ROOT / "docs" / name).is_file()
        assert f"(docs/{name})" in readme
        assert f"({name})" in architecture


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_module_path_named_exists(doc):
    """Each ``reality/...py`` names a file and each ``reality/.../`` a directory."""
    missing = []
    for path in sorted(_paths(doc)):
        target = ROOT / path
        exists = target.is_dir() if path.endswith("/") else target.exists()
        if not exists:
            missing.append(path)
    assert missing == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_dotted_name_named_exists(doc):
    """Each ``reality.x.y`` imports (a module) or is an attribute of the module before it."""
    missing = []
    for name in sorted(_dotted(doc)):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == []


def test_the_path_reader_finds_paths_and_names():
    """The readers see what the documents write in backticks and in prose."""
    doc = "See `reality/net/tcp.py`, reality/gateways/web/ and `reality.app.GATEWAYS`."
    assert {m.group(0) for m in _PATH.finditer(doc)} == {
        "reality/net/tcp.py", "reality/gateways/web/",
    }
    assert {m.group(0) for m in _DOTTED.finditer(doc)} == {"reality.app.GATEWAYS"}


# -- the worked examples: quoted code is the examples' code ----------------------------


def _quoted_examples() -> list[tuple[str, str]]:
    quoted = []
    for code in _blocks(ROOT / "docs" / "extending.md", "python"):
        first, _, rest = code.partition("\n")
        match = re.fullmatch(r"# from (examples/[\w/]+\.py)", first.strip())
        if match:
            quoted.append((match.group(1), rest))
    return quoted


def test_extending_quotes_each_example():
    """extending.md quotes the verb, the protocol and the gateway examples."""
    files = {path for path, _ in _quoted_examples()}
    assert files == {"examples/wave_verb.py", "examples/finger.py", "examples/who_gateway.py"}


@pytest.mark.parametrize("quote", _quoted_examples(), ids=lambda q: q[0])
def test_quoted_code_is_in_the_example_file(quote):
    """A block that says ``# from examples/x.py`` appears in that file line for line."""
    path, code = quote
    assert code.strip() in (ROOT / path).read_text(encoding="utf-8")


def _quoted_world_code() -> list[str]:
    quoted = []
    for code in _blocks(ROOT / "docs" / "behaviours.md", "python"):
        first, _, rest = code.partition("\n")
        if first.strip() == "# from world/behaviours.py":
            quoted.append(rest)
    return quoted


def test_behaviours_md_quotes_the_shipped_module():
    """behaviours.md is linked from extending.md, and every block it says comes from
    ``world/behaviours.py`` (Lindenford's own behaviours) is there line for line."""
    assert "(behaviours.md)" in (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    module = (ROOT / "world" / "behaviours.py").read_text(encoding="utf-8")
    quoted = _quoted_world_code()
    assert len(quoted) >= 5
    for code in quoted:
        assert code.strip() in module, f"not in world/behaviours.py:\n{code}"


def _example(name: str) -> Any:
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


# -- adding a verb ----------------------------------------------------------------------


def _fake_session() -> Any:
    """A recording Session: the world tests' FakeSession (tests/game/game_fakes.py)."""
    spec = importlib.util.spec_from_file_location("game_fakes", ROOT / "tests/game/game_fakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeSession()


def _world(**options: Any) -> Any:
    from reality.game.loader import load_world
    from reality.game.store import Store
    from reality.game.world import World
    from reality.net.testing import Clock

    world = World(Clock(), Store(":memory:"), **options)
    world.load(load_world(TINY))
    return world


def _join(world: Any, name: str) -> tuple[Any, Any]:
    world.store.create_account(name, "scrypt$2$1$1$AA==$AA==", now=0.0)
    session = _fake_session()
    return world.connect(name, session), session


def test_the_wave_verb_tells_each_observer_their_own_sentence():
    """extending.md, "Adding a verb": actor, target and bystander each get their sentence;
    a refusal tells only the actor; help lists the verb."""
    from reality.game.commands import default_registry

    wave_verb = _example("wave_verb")
    registry = default_registry()
    wave_verb.register(registry)
    world = _world(verbs=registry)
    try:
        alice, a = _join(world, "Alice")
        bob, b = _join(world, "Bob")
        carol, c = _join(world, "Carol")
        for session in (a, b, c):
            session.shown.clear()
        world.execute(alice, "wave bob")
        assert a.shown == ["You wave at Bob."]
        assert b.shown == ["Alice waves at you."]
        assert c.shown == ["Alice waves at Bob."]
        world.execute(carol, "wav")
        assert c.shown[-1] == "You wave."
        assert a.shown[-1] == b.shown[-1] == "Carol waves."
        before = (len(b.shown), len(c.shown))
        world.execute(alice, "wave {red}nobody")
        assert a.shown[-1] == "There is nobody called '{{red}nobody' here."
        assert (len(b.shown), len(c.shown)) == before
        world.execute(alice, "help wave")
        assert "wave [player]" in a.shown[-1]
    finally:
        world.store.close()


# -- adding a protocol ------------------------------------------------------------------


def _doc_block(containing: str) -> str:
    for code in _blocks(ROOT / "docs" / "extending.md", "python"):
        if containing in code and not code.startswith("# from"):
            return code
    raise AssertionError(f"no runnable block with {containing!r} in extending.md")


def test_the_finger_block_in_the_document_runs():
    """The test shown in "Adding a protocol" runs as written, with fake time and wires."""
    from reality.net.protocol import Address
    from reality.net.testing import Clock, StringTransport

    finger = _example("finger")
    namespace = {
        "Clock": Clock, "StringTransport": StringTransport, "Address": Address,
        "FingerFactory": finger.FingerFactory,
    }
    exec(compile(_doc_block("FingerFactory("), "extending.md", "exec"), namespace)


def test_finger_answers_lists_and_bounds():
    """An empty line lists the names; a long line is refused; max_queries closes."""
    from reality.net.protocol import Address
    from reality.net.testing import Clock, StringTransport

    finger = _example("finger")
    factory = finger.FingerFactory({"Bob": "Fishing.", "alice": "Hi."}, Clock(), max_queries=2)
    protocol = factory.build_protocol(Address("TCP", "127.0.0.1", 1))
    transport = StringTransport()
    protocol.make_connection(transport)
    protocol.data_received(b"\r\nnobody\r\n")
    assert transport.value() == b"alice bob\r\nnobody: no such user\r\n"
    assert transport.disconnecting
    protocol = factory.build_protocol(Address("TCP", "127.0.0.1", 1))
    transport = StringTransport()
    protocol.make_connection(transport)
    protocol.data_received(b"x" * 300 + b"\r\n")
    assert transport.value() == b"name too long\r\n"
    assert transport.disconnecting


def test_finger_over_a_real_socket():
    """listen() on the selector reactor serves a real client on 127.0.0.1."""
    from reality.net.reactor import SelectReactor

    finger = _example("finger")
    reactor = SelectReactor()
    port = finger.listen(reactor, reactor, {"alice": "Building a castle."}, 0)
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=2)
    try:
        client.setblocking(False)
        client.sendall(b"alice\r\n")
        received = b""
        for _ in range(200):
            reactor.iterate(0.01)
            try:
                received += client.recv(1024)
            except BlockingIOError:
                pass
            if received.endswith(b"\r\n"):
                break
        assert received == b"alice: Building a castle.\r\n"
    finally:
        client.close()
        port.stop_listening()
        reactor.iterate(0)
        reactor.close()


# -- adding a gateway -------------------------------------------------------------------


def test_the_who_gateway_installs_like_the_others(monkeypatch):
    """Listed in app.GATEWAYS, the who gateway is tracked by the server, its port opens as
    the 'who' service, and a connection is sent the players online, then closed."""
    from reality import app
    from reality.game.loader import load_world
    from reality.net.protocol import Address
    from reality.net.testing import FakeConnection, MemoryReactor, StringTransport
    from reality.settings import Settings

    who = _example("who_gateway")
    # The line extending.md tells the reader to write in reality/app.py:
    line = next(
        code for code in _blocks(ROOT / "docs" / "extending.md", "python")
        if code.startswith("GATEWAYS")
    )
    namespace: dict[str, Any] = {
        "web": app.web, "mail": app.mail, "telnet": app.telnet, "who": who,
        "Install": app.Install,
    }
    exec(compile(line, "extending.md", "exec"), namespace)
    monkeypatch.setattr(app, "GATEWAYS", namespace["GATEWAYS"])

    reactor = MemoryReactor()
    settings = Settings(world=str(TINY), db=":memory:", telnet_port=0, http_port=0,
                        smtp_port=0, pop3_port=0, imap_port=0, workers=1, max_per_address=1)
    server = app.Server(settings, reactor, load_world(TINY))
    try:
        gateway = server.gateways[-1]
        assert isinstance(gateway, who.WhoGateway)
        server.app.get_service_named("who").start_service()
        assert reactor.tcp_servers[-1].port == who.WHO_PORT
        assert reactor.tcp_servers[-1].factory is gateway

        conn = FakeConnection(gateway)
        assert conn.take() == b"Nobody is online.\r\n"
        assert conn.closed

        server.store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
        server.world.connect("Alice", _fake_session())
        conn = FakeConnection(gateway)
        assert conn.take() == b"Alice\r\n"
        assert conn.closed and gateway.open_connections == 0

        # A connection still flushing counts; one per address: the next is refused.
        peer = Address("TCP", "192.0.2.9", 1000)
        slow = gateway.build_protocol(peer)
        slow.make_connection(StringTransport(peer=peer))
        assert gateway.open_connections == 1
        assert server.open_connections() == 1
        refused = FakeConnection(gateway, peer=peer)
        assert refused.take().startswith(b"Too many connections")
    finally:
        server.store.close()


# -- adding a world feature -------------------------------------------------------------


def _hunks(diff: str) -> list[tuple[str, str, str]]:
    """``(file, old, new)`` for each hunk of a diff whose ``@@`` lines carry no numbers."""
    hunks: list[tuple[str, str, str]] = []
    current: str | None = None
    old: list[str] = []
    new: list[str] = []

    def close() -> None:
        if current is not None and (old or new):
            hunks.append((current, "".join(old), "".join(new)))
        old.clear()
        new.clear()

    for line in diff.splitlines(keepends=True):
        if line.startswith("--- "):
            close()
        elif line.startswith("+++ b/"):
            current = line[6:].strip()
        elif line.startswith("@@"):
            close()
        elif line.startswith("-"):
            old.append(line[1:])
        elif line.startswith("+"):
            new.append(line[1:])
        else:
            old.append(line[1:])
            new.append(line[1:])
    close()
    return hunks


_FEATURE_CHECK = textwrap.dedent(
    """
    import sys
    import reality
    assert reality.__file__.startswith(sys.argv[1]), reality.__file__
    from reality.game.loader import parse_world, WorldFileError
    from reality.game.commands import default_registry
    from reality.game.store import Store
    from reality.game.world import World
    from reality.gateways.worker import definition_from_json, definition_to_json
    from reality.net.testing import Clock

    YAML = '''
    name: Smells
    start: hall
    rooms:
      hall:
        name: The Hall
        smell: Old books and candle wax.
        exits: {north: yard}
      yard:
        name: The Yard
    '''
    definition = definition_from_json(definition_to_json(parse_world(YAML, "test.yaml")))
    assert definition.rooms["hall"].smell == "Old books and candle wax."

    class Session:
        shown = []
        def attach(self, player): pass
        def show(self, text): self.shown.append(text)
        def send_data(self, kind, data): pass
        def disconnect(self, message): pass

    world = World(Clock(), Store(":memory:"), verbs=default_registry())
    world.load(definition)
    world.store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
    session = Session()
    alice = world.connect("Alice", session)
    world.execute(alice, "smell")
    assert session.shown[-1] == "Old books and candle wax.", session.shown[-1]
    world.execute(alice, "north")
    world.execute(alice, "smell")
    assert session.shown[-1] == "You smell nothing special.", session.shown[-1]

    try:
        parse_world(YAML.replace("smell: Old books and candle wax.", "smell: yes"), "test.yaml")
    except WorldFileError as error:
        print(str(error))
    else:
        raise AssertionError("smell: yes was accepted")
    """
)


def test_the_world_feature_patch_applies_and_works(tmp_path):
    """extending.md's ``smell:`` patch applies to the code as it is (each hunk exactly once),
    and in a copy of reality/ with it applied the key loads, survives the worker's JSON,
    reaches the verb, and a bad value gets the file:line error the document quotes."""
    diffs = _blocks(ROOT / "docs" / "extending.md", "diff")
    assert len(diffs) == 1
    copy = tmp_path / "reality"
    shutil.copytree(ROOT / "reality", copy, ignore=shutil.ignore_patterns("__pycache__"))
    hunks = _hunks(diffs[0])
    assert {path for path, _, _ in hunks} == {
        "reality/game/loader.py", "reality/game/things.py",
        "reality/game/world.py", "reality/game/commands.py",
    }
    for path, old, new in hunks:
        target = tmp_path / path
        source = target.read_text(encoding="utf-8")
        assert source.count(old) == 1, f"a hunk for {path} no longer matches the code:\n{old}"
        target.write_text(source.replace(old, new), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", _FEATURE_CHECK, str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    error = result.stdout.strip()
    assert error == (
        "test.yaml:7: 'smell' of room 'hall' must be text, not a boolean (put it in quotes)"
    )
    assert error.replace(" ", "") in (
        (ROOT / "docs" / "extending.md").read_text(encoding="utf-8").replace(" ", "")
        .replace("\n", "")
    )


# -- the classes and methods design.md names ----------------------------------------------

#: Backticked words in design.md that are not Python names (GMCP packages, an HTTP
#: field, a file), and the design map's name that the page says does not exist.
NOT_CLASSES = {
    "Allow", "Char.Name", "Room.Info", "Char.Items", "Client.Verbs", "DESIGN.md",
    "Player.notify",
}

_MEMBER = re.compile(r"`([A-Z]\w*)\.(\w+)")
_CLASS = re.compile(r"`([A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*)`")


def _classes() -> tuple[dict[str, list[type]], set[str]]:
    """Every class defined in a module of ``reality``, by name; every module-level name."""
    found: dict[str, list[type]] = {}
    names: set[str] = set()
    for path in sorted((ROOT / "reality").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts.pop()
        module = importlib.import_module(".".join(parts))
        names.update(vars(module))
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                found.setdefault(value.__name__, []).append(value)
    return found, names


def _has(cls: type, member: str) -> bool:
    """A class attribute, or an instance attribute its code assigns (``self.member =``)."""
    if hasattr(cls, member):
        return True
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return False
    return re.search(rf"self\.{member}\b[^=\n]*=", source) is not None


def test_every_class_and_method_design_names_exists():
    """``TelnetSession.line_received``, ``World.execute``... : each class named in design.md
    is defined in reality/, and each ``Class.member`` is an attribute of such a class."""
    text = _text(ROOT / "docs" / "design.md")
    classes, names = _classes()
    missing = []
    for name in sorted(set(_CLASS.findall(text)) - NOT_CLASSES):
        if name not in names:
            missing.append(name)
    members = {(c, m) for c, m in _MEMBER.findall(text) if f"{c}.{m}" not in NOT_CLASSES}
    assert len(members) > 20
    for owner, member in sorted(members):
        if not any(_has(cls, member) for cls in classes.get(owner, ())):
            missing.append(f"{owner}.{member}")
    assert missing == []
