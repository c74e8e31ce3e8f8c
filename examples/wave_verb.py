"""A worked example from docs/extending.md: adding a verb.

``wave [player]`` is told three ways, as every event in Reality is: the
actor, the target and the bystanders each get their own sentence. The
handler only collects output (``ctx.tell``, ``ctx.emit``); the world
delivers it after the handler has returned, and a :class:`Refusal` tells
the player why not and nobody else anything.
"""

from __future__ import annotations

from reality.game import markup
from reality.game.commands import Context, Refusal, VerbRegistry
from reality.game.events import Event
from reality.game.things import Player


def wave(ctx: Context, args: str) -> None:
    """``wave``: wave to the room; ``wave <player>``: wave at someone here."""
    me = ctx.player
    if not args.strip():
        ctx.act(f"{me.name} waves.", "You wave.")
        return
    # Player text goes back to the player escaped: it may hold colour markup.
    nobody = f"There is nobody called '{markup.escape(args.strip()[:40])}' here."
    target = ctx.find(args, ctx.room.players, nothing=nobody)
    if not isinstance(target, Player) or target is me:
        raise Refusal("Wave at someone else.")
    ctx.emit(
        Event(
            ctx.room,
            f"{me.name} waves at {target.name}.",
            actor=me,
            to_actor=f"You wave at {target.name}.",
            target=target,
            to_target=f"{me.name} waves at you.",
        )
    )


def register(registry: VerbRegistry) -> None:
    """Add ``wave`` (alias ``wav``) to ``registry``."""
    registry.register(
        "wave", wave, aliases=("wav",), usage="wave [player]",
        help="Wave to everyone here, or at one player.", category="social",
    )
