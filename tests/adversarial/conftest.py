"""Attacks over real sockets on 127.0.0.1 against a live server.

Each test here reproduces one way a client tried to stall the world, eat
its memory or open a door, and proves the server holds: a probe keeps
getting answers during the attack, RSS stays bounded, the log stays short.
Every attack is bounded in count and time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
