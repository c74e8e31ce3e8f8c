"""The worker process and its pool: hashing and mail parsing off the loop."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from reality.game.loader import WorldFileError, WorldFileRefused, load_world
from reality.game.mail import parse_letter
from reality.gateways.worker import (
    definition_from_json,
    definition_to_json,
    error_from_json,
    handle,
    letter_from_json,
    letter_to_json,
)
from reality.gateways.workers import JobTimeout, ServerBusy, WorkerPool
from reality.net.testing import wait_for

MESSAGE = (
    b"From: Carol Example <carol@far.example>\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"Message-ID: <1@far.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from far away.\r\n"
    b'--b\r\nContent-Type: application/pdf; name="map.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"%PDF" * 500) + b"--b--\r\n"
)


def test_letter_survives_the_json_round_trip():
    """letter_to_json/letter_from_json give back an equal Letter."""
    letter = parse_letter(MESSAGE, received_at=5.0, envelope_from="carol@far.example")
    assert letter_from_json(json.loads(json.dumps(letter_to_json(letter)))) == letter


def test_parse_letter_op_matches_parsing_inline():
    """The worker's parse_letter op gives the same letter as parsing in the server."""
    request = {"id": 3, "op": "parse_letter", "data": base64.b64encode(MESSAGE).decode(),
               "received_at": 5.0, "envelope_from": "carol@far.example",
               "domain": "reality.localhost"}
    answer = handle(request)
    assert answer["id"] == 3
    letter = letter_from_json(answer["result"])
    assert letter == parse_letter(MESSAGE, received_at=5.0, envelope_from="carol@far.example")
    assert letter.subject == "Grüße"
    assert [a.name for a in letter.attachments] == ["map.pdf"]


def test_bad_requests_get_errors_and_the_worker_goes_on():
    """Malformed requests are answered with an error, never a crash."""
    assert "error" in handle({"id": 1, "op": "nope"})
    assert "error" in handle({"id": 2, "op": "parse_letter", "data": 5})
    assert "error" in handle({"id": 3, "op": "hash"})
    assert "error" in handle([1, 2])
    worker = subprocess.run(
        [sys.executable, "-m", "reality.gateways.worker"],
        input=b'not json\n{"id": 1, "op": "verify", "password": "x", "stored": "junk"}\n',
        capture_output=True, timeout=30,
    )
    lines = [json.loads(line) for line in worker.stdout.splitlines()]
    assert lines == [{"id": None, "error": "invalid JSON"}, {"id": 1, "result": False}]


def test_pool_parses_a_large_message_in_a_child_process(reactor):
    """A megabyte message is parsed by a worker process and comes back as the same Letter."""
    big = MESSAGE.replace(b"Hello from far away.", b"x" * 70 + b"\r\n" * 1) * 1
    big = big.replace(b"--b--", b"--b\r\nContent-Type: text/plain\r\n\r\n" + (b"y" * 76 + b"\r\n")
                      * 13000 + b"--b--")
    assert len(big) > 1_000_000
    pool = WorkerPool(reactor, size=1)
    pool.start()
    try:
        letter = wait_for(reactor, pool.parse_letter(
            big, received_at=1.0, envelope_from="carol@far.example", domain="x.test"), 60)
        assert letter == parse_letter(big, received_at=1.0, envelope_from="carol@far.example",
                                      domain="x.test", external=True)
        assert letter.external and letter.sender == "carol@far.example"
    finally:
        wait_for(reactor, pool.stop(), 10)


def test_pool_without_workers_is_busy(reactor):
    """A pool that is not started answers ServerBusy at once, so callers can fall back."""
    pool = WorkerPool(reactor, size=1)
    failures = []
    pool.parse_letter(b"x", received_at=0, envelope_from="", domain="d").add_errback(
        failures.append)
    assert failures and failures[0].check(ServerBusy)


DEFAULT_WORLD = Path(__file__).resolve().parents[2] / "world" / "default.yaml"


def test_world_definition_survives_the_json_round_trip():
    """definition_to_json/definition_from_json give back an equal WorldDefinition."""
    definition = load_world(DEFAULT_WORLD)
    assert definition.daynight is not None and definition.npcs and definition.items
    copy = definition_from_json(json.loads(json.dumps(definition_to_json(definition))))
    assert copy == definition


def test_exit_travel_messages_survive_the_json_round_trip(tmp_path):
    """An exit's own leave/arrive texts come back from the worker (@load kept losing them)."""
    world = tmp_path / "ladder.yaml"
    world.write_text(
        "name: Ladder\nstart: yard\nrooms:\n"
        "  yard:\n    name: The Yard\n    exits:\n"
        "      up: {to: loft, leave: climbs the ladder., arrive: climbs up from the yard.}\n"
        "  loft:\n    name: The Loft\n    exits: {down: yard}\n"
    )
    definition = load_world(world)
    ladder = definition.rooms["yard"].exits["up"]
    assert (ladder.leave, ladder.arrive) == ("climbs the ladder.", "climbs up from the yard.")
    copy = definition_from_json(json.loads(json.dumps(definition_to_json(definition))))
    assert copy == definition


def test_load_world_op_answers_a_definition_or_the_errors(tmp_path):
    """The worker's load_world op applies the path policy and returns a definition,
    or the errors (refused ones marked so), never raising."""
    (tmp_path / "w.yaml").write_text(DEFAULT_WORLD.read_text())
    (tmp_path / "bad.yaml").write_text("name: B\nstart: x\nrooms:\n  a: {name: A}\n")
    answer = handle({"id": 1, "op": "load_world", "path": "w.yaml", "world_dir": str(tmp_path)})
    assert definition_from_json(answer["result"]["definition"]).name == load_world(
        DEFAULT_WORLD).name
    answer = handle({"id": 2, "op": "load_world", "path": "bad.yaml", "world_dir": str(tmp_path)})
    error = error_from_json(answer["result"])
    assert type(error) is WorldFileError
    assert error.errors == [("bad.yaml", 2, "start room 'x' is not in 'rooms'")]
    answer = handle({"id": 3, "op": "load_world", "path": "/etc/passwd",
                     "world_dir": str(tmp_path)})
    assert isinstance(error_from_json(answer["result"]), WorldFileRefused)


def test_pool_loads_a_world_file_in_a_child_process(reactor, tmp_path):
    """pool.load_world gives the definition from a worker, or fails with WorldFileError."""
    (tmp_path / "w.yaml").write_text(DEFAULT_WORLD.read_text())
    os.mkfifo(tmp_path / "fifo.yaml")
    pool = WorkerPool(reactor, size=1)
    pool.start()
    try:
        definition = wait_for(reactor, pool.load_world("w.yaml", str(tmp_path)), 60)
        assert definition == load_world(tmp_path / "w.yaml", name="w.yaml")
        failures = []
        d = pool.load_world("fifo.yaml", str(tmp_path)).add_errback(failures.append)
        wait_for(reactor, d, 60)
        assert failures[0].check(WorldFileRefused)
        assert "FIFO" in str(failures[0].value)
    finally:
        wait_for(reactor, pool.stop(), 10)


# -- the CPU-time limit per job (issue 10, item 1) --------------------------------------------

#: The real worker with one more op that burns CPU until stopped.
SPINNER = (
    "import sys, reality.gateways.worker as w\n"
    "def spin(request):\n"
    "    while True:\n"
    "        pass\n"
    "w.OPS['spin'] = spin\n"
    "sys.exit(w.main())\n"
)


def test_a_job_over_its_cpu_limit_is_abandoned_and_the_worker_goes_on(reactor):
    """The worker stops a job at its CPU limit (JobTimeout, cpu=True) and answers the next one."""
    pool = WorkerPool(reactor, size=1, argv=[sys.executable, "-c", SPINNER], job_timeout=20)
    pool.start()
    try:
        worker = pool.workers[0]
        failures: list = []
        pool._submit({"op": "spin", "cpu_limit": 0.3}).add_errback(failures.append)
        verified = pool.verify("x", "junk")
        assert wait_for(reactor, verified, 20) is False
        assert failures and failures[0].check(JobTimeout) and failures[0].value.cpu
        assert pool.workers == [worker]  # not killed: the limit is kept in the worker
    finally:
        wait_for(reactor, pool.stop(), 10)


def test_mail_parses_carry_a_cpu_limit_and_a_wall_clock_limit(reactor):
    """parse_letter jobs go out with the pool's CPU limit and run under its parse timeout."""
    pool = WorkerPool(reactor, size=1, parse_cpu_limit=1.5, parse_timeout=3.0)
    sent: list = []
    pool.workers = [type("W", (), {"alive": True, "pending": [],
                                   "request": lambda self, *a: sent.append(a)})()]
    pool._running = True
    pool.parse_letter(b"x", received_at=0, envelope_from="", domain="d")
    (_, message, _, timeout), = sent
    assert message["cpu_limit"] == 1.5 and message["external"] is True
    assert timeout == 3.0


def test_handle_stops_a_job_at_its_cpu_limit_in_process(monkeypatch):
    """handle() itself keeps the CPU limit: a spinning op comes back as a cpu_limit error."""
    import signal

    from reality.gateways import worker

    def spin(request):
        while True:
            pass

    monkeypatch.setitem(worker.OPS, "spin", spin)
    previous = signal.getsignal(signal.SIGPROF)
    try:
        answer = handle({"id": 4, "op": "spin", "cpu_limit": 0.2})
    finally:
        signal.signal(signal.SIGPROF, previous)
    assert answer["id"] == 4 and answer["cpu_limit"] is True
    assert handle({"id": 5, "op": "verify", "password": "x", "stored": "junk"}) == {
        "id": 5, "result": False
    }
