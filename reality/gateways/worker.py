"""The password-hashing worker: a child process the reactor talks to over pipes.

    python -m reality.gateways.hashworker

Reads one JSON request per line on stdin and writes one JSON answer per
line on stdout, in order:

    {"id": 7, "op": "hash", "password": "..."}              -> {"id": 7, "result": "scrypt$..."}
    {"id": 8, "op": "verify", "password": "...", "stored": "..."} -> {"id": 8, "result": true}

A malformed request gets ``{"id": ..., "error": "..."}``; the worker goes
on. It exits at end of input (also when the server dies), and ignores
SIGINT and SIGTERM, which a terminal sends to the whole process group.
scrypt is deliberately slow (tens of milliseconds), which is why it runs
here and not on the server's loop.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

from reality.game.accounts import hash_password, verify_password


def handle(request: Any) -> dict[str, Any]:
    """Answer one decoded request."""
    if not isinstance(request, dict):
        return {"id": None, "error": "a request must be a JSON object"}
    ident = request.get("id")
    op = request.get("op")
    password = request.get("password")
    if not isinstance(password, str):
        return {"id": ident, "error": "password must be a string"}
    params = {k: request[k] for k in ("n", "r", "p") if isinstance(request.get(k), int)}
    if op == "hash":
        return {"id": ident, "result": hash_password(password, **params)}
    if op == "verify":
        stored = request.get("stored")
        if not isinstance(stored, str):
            return {"id": ident, "error": "stored must be a string"}
        return {"id": ident, "result": verify_password(password, stored)}
    return {"id": ident, "error": f"unknown op {op!r}"}


def main() -> int:
    """Serve requests until stdin closes."""
    # A Ctrl-C in the server's terminal reaches the whole process group. The
    # server shuts down in order and closes our stdin when it is done with
    # us; dying early would only fail the logins still in flight.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError:
            answer: dict[str, Any] = {"id": None, "error": "invalid JSON"}
        else:
            try:
                answer = handle(request)
            except Exception as exc:  # keep serving whatever one request does
                answer = {"id": request.get("id") if isinstance(request, dict) else None,
                          "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
