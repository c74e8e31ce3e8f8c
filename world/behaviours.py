"""Lindenford's own behaviours: a wishing fountain, a heavy sack, a key that goes home.

``world/default.yaml`` names this file (``python: [behaviours.py]``) and
attaches the behaviours by name::

    fountain:
      behaviours:
        - wish: {answers: ["The bronze fish seems to wink at you."]}

This is world code: it runs inside the server with the server's rights,
like a Twisted plugin, so only load modules you have read. The server
loads it with the world and again on ``@load``; an error in it is
reported as ``behaviours.py:LINE`` and changes nothing. How to write one
is in ``docs/behaviours.md``.
"""

from __future__ import annotations

from reality.game.behaviours import Behaviour, Happening, verb
from reality.game.things import Item, Player, Room
from reality.game.verbs.core import Context


class Wish(Behaviour):
    """A fountain (or well, or shrine) that answers a wish a moment later.

    ``answers`` are what it may answer, chosen at random; ``delay`` is how
    many seconds the answer takes (the wait is half the magic). While an
    answer is on its way, further wishes are heard but answered together,
    so a player typing ``wish`` a hundred times starts one timer, not a
    hundred.
    """

    name = "wish"

    def __init__(self, answers: list[str], delay: float = 2.0) -> None:
        if not answers:
            raise ValueError("'answers' must have at least one line")
        if not 0 <= delay <= 60:
            raise ValueError("'delay' must be between 0 and 60 seconds")
        self.answers = list(answers)
        self.delay = float(delay)
        self.pending = False

    @verb("wish", help="wish: make a wish at the fountain (it may answer).")
    def wish(self, ctx: Context, args: str) -> None:
        me = ctx.player
        ctx.act(
            f"{me.name} closes their eyes and makes a wish at {self.owner.the()}.",
            f"You close your eyes and make a wish at {self.owner.the()}.",
        )
        if not self.pending:
            self.pending = True
            self.after(self.delay, self.answer)

    def answer(self) -> None:
        self.pending = False
        room = self.owner.location
        if not isinstance(room, Room) or not room.players:
            return  # nobody is left to see it
        h = Happening(self.world, "wish", room=room)
        h.owner = self.owner
        h.show(room, self.world.rng.choice(self.answers))
        h.buffer.flush()

    def stop(self) -> None:
        super().stop()
        self.pending = False


class Heavy(Behaviour):
    """A thing that can be picked up only with free arms: a veto with a reason.

    Whoever already carries more than ``most`` things is refused, and reads
    ``say`` (or a sentence made from the thing's name).
    """

    name = "heavy"

    def __init__(self, most: int = 2, say: str = "") -> None:
        if most < 0:
            raise ValueError("'most' must be 0 or more")
        self.most = most
        self.line = say

    def allow(self, h: Happening) -> str | None:
        if h.action != "take" or h.thing is not self.owner:
            return None
        taker = h.actor
        if isinstance(taker, Player) and len(taker.inventory) > self.most:
            return self.line or f"{self.owner.The()} is too heavy to lift with your arms this full."
        return None


class Homing(Behaviour):
    """An item that finds its way home when left lying about.

    When the item is dropped, or put in a container, anywhere but its home
    (its ``location`` in the world file), it goes back there ``after``
    seconds later, unless somebody picks it up first. Carried off by a
    player who then leaves the game, it goes home too (checked every
    ``after`` seconds), so a quest never waits for someone who is gone.
    ``say`` is shown in its home room when it gets there.
    """

    name = "homing"

    def __init__(self, after: float = 300.0, say: str = "") -> None:
        if after < 1:
            raise ValueError("'after' must be at least 1 second")
        self.seconds = float(after)
        self.line = say

    def dropped(self, h: Happening) -> None:
        self.stop()  # a second drop restarts the wait
        if not self._at_home():
            self.after(self.seconds, self.go_home)

    def taken(self, h: Happening) -> None:
        self.stop()  # in somebody's hands: it stays with them, while they play
        self.every(self.seconds, self.check_holder)

    def start(self) -> None:
        # After a restart: wherever it was left, the waits begin again.
        if isinstance(self.holder(), Player):
            self.every(self.seconds, self.check_holder)
        elif not self._at_home():
            self.after(self.seconds, self.go_home)

    def holder(self) -> object:
        item = self.owner
        return item.outermost() if isinstance(item, Item) else None

    def check_holder(self) -> None:
        holder = self.holder()
        if isinstance(holder, Player) and not holder.online:
            self.stop()
            self.go_home(from_player=True)

    def _at_home(self) -> bool:
        item = self.owner
        where = item.location
        return isinstance(item, Item) and where is not None and where.id == item.home

    def go_home(self, from_player: bool = False) -> None:
        item = self.owner
        if not isinstance(item, Item) or self._at_home():
            return
        if isinstance(item.location, Player) and not from_player:
            return
        self.world.return_home(item)
        home = item.location
        if self.line and isinstance(home, Room) and home.players:
            h = Happening(self.world, "homing", room=home)
            h.owner = item
            h.show(home, self.line)
            h.buffer.flush()
