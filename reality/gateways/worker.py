"""The worker process: CPU-heavy jobs off the server's loop, over pipes.

    python -m reality.gateways.worker

Reads one JSON request per line on stdin and writes one JSON answer per
line on stdout, in order:

    {"id": 7, "op": "hash", "password": "..."}                -> {"id": 7, "result": "scrypt$..."}
    {"id": 8, "op": "verify", "password": "...", "stored": "..."} -> {"id": 8, "result": true}
    {"id": 9, "op": "parse_letter", "data": "<base64>", "received_at": 1.0,
     "envelope_from": "a@b", "domain": "reality.localhost", "external": true,
     "cpu_limit": 5.0}                                       -> {"id": 9, "result": {...}}
    {"id": 10, "op": "markdown", "text": "# Hi"}          -> {"id": 10, "result": "<h2>Hi</h2>..."}
    {"id": 11, "op": "map", "rooms": [[id, name, outdoor, {dir: id}], ...],
     "start": "hall", "title": "World"}                      -> {"id": 11, "result": "<svg ..."}
    {"id": 12, "op": "load_world", "path": "castle.yaml", "world_dir": "/srv/worlds"}
        -> {"id": 12, "result": {"definition": {...}}}
        or {"id": 12, "result": {"errors": [[file, line, message], ...], "more": 0,
                                 "refused": false}}

A malformed request gets ``{"id": ..., "error": "..."}``; the worker goes
on. Any request may carry ``"cpu_limit"`` (seconds of CPU time, see
:func:`handle`); one over it gets ``{"id": ..., "error": ..., "cpu_limit": true}``.
It exits at end of input (also when the server dies), and ignores SIGINT
and SIGTERM, which a terminal sends to the whole process group.

Why a process: scrypt costs tens of milliseconds on purpose; parsing a
large or hostile e-mail message can cost a hundred; markdown-it-py takes up
to 0.3 s for 20,000 hostile characters of a homepage, and laying out the
map of a world of thousands of rooms a second, and reading and parsing a
big world file for ``@load`` seconds. Any of these would stall
every player if it ran on the server's loop, and the server has no threads.
"""

from __future__ import annotations

import base64
import gc
import json
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from reality.game.accounts import hash_password, verify_password
from reality.game.help import HelpTopic
from reality.game.loader import (
    BehaviourDef,
    DayNightDef,
    DoorDef,
    ExitDef,
    ItemDef,
    NpcDef,
    RoomDef,
    WorldDefinition,
    WorldFileError,
    WorldFileRefused,
    load_world_file,
)
from reality.game.mail.letters import Attachment, Letter, parse_letter
from reality.game.world import RoomInfo

__all__ = [
    "definition_from_json",
    "definition_to_json",
    "error_from_json",
    "error_to_json",
    "handle",
    "letter_from_json",
    "letter_to_json",
    "main",
    "rooms_from_json",
    "rooms_to_json",
]


def letter_to_json(letter: Letter) -> dict[str, Any]:
    """A :class:`Letter` as JSON-safe values."""
    return {
        "sender": letter.sender,
        "from_header": letter.from_header,
        "subject": letter.subject,
        "sent_at": letter.sent_at,
        "received_at": letter.received_at,
        "body": letter.body,
        "attachments": [[a.name, a.size] for a in letter.attachments],
        "message": base64.b64encode(letter.message).decode("ascii"),
        "message_id": letter.message_id,
        "envelope_from": letter.envelope_from,
        "external": letter.external,
    }


def letter_from_json(value: dict[str, Any]) -> Letter:
    """The :class:`Letter` that :func:`letter_to_json` described."""
    return Letter(
        sender=str(value["sender"]),
        from_header=str(value["from_header"]),
        subject=str(value["subject"]),
        sent_at=None if value["sent_at"] is None else float(value["sent_at"]),
        received_at=float(value["received_at"]),
        body=str(value["body"]),
        attachments=tuple(Attachment(str(n), int(s)) for n, s in value["attachments"]),
        message=base64.b64decode(value["message"]),
        message_id=str(value.get("message_id", "")),
        envelope_from=str(value.get("envelope_from", "")),
        external=bool(value.get("external", True)),
    )


def rooms_to_json(rooms: Sequence[RoomInfo]) -> list[list[Any]]:
    """Rooms for the map as JSON-safe values."""
    return [[r.id, r.name, r.outdoor, r.exits] for r in rooms]


def rooms_from_json(value: Any) -> list[RoomInfo]:
    """The rooms :func:`rooms_to_json` described."""
    return [
        RoomInfo(str(rid), str(name), bool(outdoor), {str(k): str(v) for k, v in exits.items()})
        for rid, name, outdoor, exits in value
    ]


def definition_to_json(d: WorldDefinition) -> dict[str, Any]:
    """A :class:`WorldDefinition` as JSON-safe values: its fields by name."""
    return attrs.asdict(d, recurse=True)


def _behaviours(value: list[dict[str, Any]]) -> tuple[BehaviourDef, ...]:
    return tuple(BehaviourDef(**b) for b in value)


def definition_from_json(v: dict[str, Any]) -> WorldDefinition:
    """The :class:`WorldDefinition` that :func:`definition_to_json` described.

    This runs on the server's loop: it trusts the worker (which validated
    the file) and only rebuilds the values (tuples where the definition
    has tuples), with no checks repeated.
    """
    rooms = {
        rid: RoomDef(
            **{
                **r,
                "aliases": tuple(r["aliases"]),
                "behaviours": _behaviours(r["behaviours"]),
                "exits": {
                    name: ExitDef(**{**e, "aliases": tuple(e["aliases"])})
                    for name, e in r["exits"].items()
                },
            }
        )
        for rid, r in v["rooms"].items()
    }
    items = {
        iid: ItemDef(
            **{**i, "aliases": tuple(i["aliases"]), "behaviours": _behaviours(i["behaviours"])}
        )
        for iid, i in v["items"].items()
    }
    npcs = {
        nid: NpcDef(
            **{**n, "aliases": tuple(n["aliases"]), "behaviours": _behaviours(n["behaviours"])}
        )
        for nid, n in v["npcs"].items()
    }
    doors = {
        did: DoorDef(**{**d, "between": tuple(d["between"]), "aliases": tuple(d["aliases"])})
        for did, d in v["doors"].items()
    }
    daynight = v["daynight"]
    return WorldDefinition(
        name=v["name"],
        start=v["start"],
        rooms=rooms,
        items=items,
        npcs=npcs,
        welcome=v["welcome"],
        daynight=None if daynight is None else DayNightDef(**daynight),
        path=v["path"],
        doors=doors,
        python=tuple((str(p), int(line)) for p, line in v["python"]),
        help={
            key: HelpTopic(**{**t, "aliases": tuple(t["aliases"])})
            for key, t in v.get("help", {}).items()
        },
    )


def error_to_json(error: WorldFileError) -> dict[str, Any]:
    """A world file's errors as JSON-safe values."""
    return {
        "errors": [list(e) for e in error.errors],
        "more": error.more,
        "refused": isinstance(error, WorldFileRefused),
    }


def error_from_json(value: dict[str, Any]) -> WorldFileError:
    """The :class:`WorldFileError` (or WorldFileRefused) :func:`error_to_json` described."""
    kind = WorldFileRefused if value.get("refused") else WorldFileError
    errors = [(str(f), int(n), str(m)) for f, n, m in value["errors"]]
    return kind(errors, int(value.get("more", 0)))


def _string(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _hash(request: dict[str, Any]) -> Any:
    params = {k: request[k] for k in ("n", "r", "p") if isinstance(request.get(k), int)}
    return hash_password(_string(request, "password"), **params)


def _verify(request: dict[str, Any]) -> Any:
    return verify_password(_string(request, "password"), _string(request, "stored"))


def _parse_letter(request: dict[str, Any]) -> Any:
    data = base64.b64decode(_string(request, "data"))
    received_at = request.get("received_at")
    if not isinstance(received_at, (int, float)):
        raise ValueError("received_at must be a number")
    letter = parse_letter(
        data,
        received_at=float(received_at),
        envelope_from=str(request.get("envelope_from", "")),
        domain=str(request.get("domain", "reality.localhost")),
        external=request.get("external") is True,
    )
    return letter_to_json(letter)


def _markdown(request: dict[str, Any]) -> Any:
    # Only workers that render need it; the website is not imported.
    from reality.gateways.markdown import render_markdown

    return str(render_markdown(_string(request, "text")))


def _map(request: dict[str, Any]) -> Any:
    from reality.gateways.worldmap import map_svg

    start = request.get("start")
    return map_svg(
        rooms_from_json(request.get("rooms", [])),
        start if isinstance(start, str) else None,
        str(request.get("title", "")),
    )


def _load_world(request: dict[str, Any]) -> Any:
    path = _string(request, "path")
    world_dir = _string(request, "world_dir")
    # Composing YAML makes a node per value: with the cyclic collector on,
    # its full passes over a growing heap made a 2.7 MB file take four
    # times as long. Nothing here makes cycles worth collecting mid-parse.
    gc.disable()
    try:
        definition = load_world_file(path, world_dir)
    except WorldFileError as error:
        return error_to_json(error)
    finally:
        gc.enable()
    return {"definition": definition_to_json(definition)}


OPS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "hash": _hash,
    "verify": _verify,
    "parse_letter": _parse_letter,
    "markdown": _markdown,
    "map": _map,
    "load_world": _load_world,
}


class CPULimitExceeded(Exception):
    """The job used up its CPU time (``cpu_limit``); it was abandoned."""


def _over_cpu_limit(signum: int, frame: Any) -> None:
    raise CPULimitExceeded()


def handle(request: Any) -> dict[str, Any]:
    """Answer one decoded request.

    A request with ``"cpu_limit": seconds`` runs under that much CPU time
    (``ITIMER_PROF``, which counts this process's user and system time): past
    it the job stops and the answer is ``{"error": ..., "cpu_limit": true}``,
    and the worker goes on with the next one. Code that holds the CPU in one
    C call cannot be stopped this way; the pool's wall-clock limit (it kills
    the worker) is the backstop for that.
    """
    if not isinstance(request, dict):
        return {"id": None, "error": "a request must be a JSON object"}
    ident = request.get("id")
    op = OPS.get(request.get("op"))  # type: ignore[arg-type]
    if op is None:
        return {"id": ident, "error": f"unknown op {request.get('op')!r}"}
    limit = request.get("cpu_limit")
    seconds = float(limit) if isinstance(limit, (int, float)) and limit > 0 else 0.0
    timed = seconds > 0
    try:
        if timed:
            # Installed here too, not only in main(): SIGPROF's default action
            # ends the process, which must never happen to a caller of handle().
            signal.signal(signal.SIGPROF, _over_cpu_limit)
            signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            return {"id": ident, "result": op(request)}
        finally:
            if timed:
                signal.setitimer(signal.ITIMER_PROF, 0)
    except CPULimitExceeded:
        return {"id": ident, "error": f"over its CPU time limit of {limit} s", "cpu_limit": True}
    except Exception as exc:  # one bad request must not end the worker
        return {"id": ident, "error": f"{type(exc).__name__}: {exc}"}


def main() -> int:
    """Serve requests until stdin closes."""
    # A Ctrl-C in the server's terminal reaches the whole process group. The
    # server shuts down in order and closes our stdin when it is done with
    # us; dying early would only fail the jobs still in flight.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = sys.stdout
    for line in sys.stdin.buffer:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError:
            answer: dict[str, Any] = {"id": None, "error": "invalid JSON"}
        else:
            answer = handle(request)
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
