"""Client.Verbs names the verbs that things near the player give, as they come and go."""

from __future__ import annotations

import random

from reality.game.loader import parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.gmcp import verb_list
from reality.net.testing import Clock

BELL = """
name: Bells
start: tower
rooms:
  tower: {name: The Tower, exits: {down: yard}}
  yard: {name: The Yard, exits: {up: tower}}
items:
  bell:
    name: bronze bell
    location: tower
    fixed: true
    behaviours: [{sound: {verb: ring, you: "You ring it.", here: "rings the bell."}}]
"""


class Session:
    def attach(self, player): ...
    def show(self, text): ...
    def send_data(self, kind, data): ...
    def disconnect(self, message): ...


def test_client_verbs_follow_the_things_here() -> None:
    world = World(Clock(), Store(":memory:"), rng=random.Random(1))
    world.load(parse_world(BELL, "bells.yaml"))
    world.store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
    alice = world.connect("Alice", Session())
    assert "ring" in verb_list(world, alice)["verbs"]
    world.execute(alice, "down")
    verbs = verb_list(world, alice)["verbs"]
    assert "ring" not in verbs and "look" in verbs and verbs == sorted(verbs)
