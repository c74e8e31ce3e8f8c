"""RFC 1143 section 7, the Q method: the option state machine, for both sides of every option.

Each side of each option is in one of four states (:class:`Q`), with a
queue bit for a change of mind while a request is out. :data:`Q_TABLE`
gives every transition, ``(state, queue, input) -> (new state, new queue,
what to send)``, and :class:`OptionStates` keeps the state of all 256
options on both sides and runs the table: the codec hands it what happened
(:class:`QInput`) and writes the verb it returns. No loops (a redundant
request is never answered), and a request the peer refused is remembered
so the codec does not ask again.

Nothing here reads or writes bytes or knows what an option means: what
follows a change (start MCCP2, ask TTYPE, ...) is the codec's business.
"""

from __future__ import annotations

import enum

from reality.net.protocols.telnet.config import Side
from reality.net.protocols.telnet.options import DO, DONT, WILL, WONT

__all__ = [
    "OptionStates",
    "Q",
    "QInput",
    "QUEUE_EMPTY",
    "QUEUE_OPPOSITE",
    "Q_TABLE",
    "SEND_NO",
    "SEND_NONE",
    "SEND_YES",
]


class Q(enum.IntEnum):
    """The state of one side of one option (RFC 1143 section 7)."""

    NO = 0
    YES = 1
    WANTNO = 2
    WANTYES = 3


QUEUE_EMPTY = 0
QUEUE_OPPOSITE = 1


class QInput(enum.IntEnum):
    """What can happen to one side of one option."""

    PEER_YES = 0  # WILL (him) or DO (us), and we agree to it
    PEER_YES_REFUSED = 1  # WILL or DO for something we do not support
    PEER_NO = 2  # WONT (him) or DONT (us)
    ASK_YES = 3  # our application wants the option on
    ASK_NO = 4  # our application wants the option off


# What a transition sends: nothing, the positive verb (DO for the peer's
# side, WILL for ours) or the negative one (DONT / WONT).
SEND_NONE = 0
SEND_YES = 1
SEND_NO = 2

_N, _Y, _WN, _WY = Q.NO, Q.YES, Q.WANTNO, Q.WANTYES
_E, _O = QUEUE_EMPTY, QUEUE_OPPOSITE

#: ``(state, queue, input) -> (new state, new queue, what to send)``.
#: One table serves both sides: the codec maps the verbs. The comments are
#: RFC 1143's own notes on the rows that mean the peer misbehaved or that
#: the request is redundant; those rows send nothing, which is what makes
#: the method loop-free.
Q_TABLE: dict[tuple[int, int, int], tuple[int, int, int]] = {
    # The peer says yes (WILL / DO).
    (_N, _E, QInput.PEER_YES): (_Y, _E, SEND_YES),
    (_Y, _E, QInput.PEER_YES): (_Y, _E, SEND_NONE),  # redundant: ignore
    (_WN, _E, QInput.PEER_YES): (_N, _E, SEND_NONE),  # error: DONT answered by WILL
    (_WN, _O, QInput.PEER_YES): (_Y, _E, SEND_NONE),  # error: DONT answered by WILL
    (_WY, _E, QInput.PEER_YES): (_Y, _E, SEND_NONE),  # our request granted
    (_WY, _O, QInput.PEER_YES): (_WN, _E, SEND_NO),  # granted, but we changed our mind
    # The peer says yes to something we do not support: only NO differs.
    (_N, _E, QInput.PEER_YES_REFUSED): (_N, _E, SEND_NO),
    (_Y, _E, QInput.PEER_YES_REFUSED): (_Y, _E, SEND_NONE),
    (_WN, _E, QInput.PEER_YES_REFUSED): (_N, _E, SEND_NONE),
    (_WN, _O, QInput.PEER_YES_REFUSED): (_Y, _E, SEND_NONE),
    (_WY, _E, QInput.PEER_YES_REFUSED): (_Y, _E, SEND_NONE),
    (_WY, _O, QInput.PEER_YES_REFUSED): (_WN, _E, SEND_NO),
    # The peer says no (WONT / DONT).
    (_N, _E, QInput.PEER_NO): (_N, _E, SEND_NONE),  # redundant: ignore
    (_Y, _E, QInput.PEER_NO): (_N, _E, SEND_NO),  # must agree to a disable
    (_WN, _E, QInput.PEER_NO): (_N, _E, SEND_NONE),  # our disable confirmed
    (_WN, _O, QInput.PEER_NO): (_WY, _E, SEND_YES),  # confirmed; now ask again
    (_WY, _E, QInput.PEER_NO): (_N, _E, SEND_NONE),  # our request refused
    (_WY, _O, QInput.PEER_NO): (_N, _E, SEND_NONE),  # refused, and we no longer want it
    # We want it on.
    (_N, _E, QInput.ASK_YES): (_WY, _E, SEND_YES),
    (_Y, _E, QInput.ASK_YES): (_Y, _E, SEND_NONE),  # already enabled
    (_WN, _E, QInput.ASK_YES): (_WN, _O, SEND_NONE),  # ask once the disable is through
    (_WN, _O, QInput.ASK_YES): (_WN, _O, SEND_NONE),  # already queued
    (_WY, _E, QInput.ASK_YES): (_WY, _E, SEND_NONE),  # already negotiating
    (_WY, _O, QInput.ASK_YES): (_WY, _E, SEND_NONE),  # cancel the queued disable
    # We want it off.
    (_N, _E, QInput.ASK_NO): (_N, _E, SEND_NONE),  # already disabled
    (_Y, _E, QInput.ASK_NO): (_WN, _E, SEND_NO),
    (_WN, _E, QInput.ASK_NO): (_WN, _E, SEND_NONE),  # already negotiating
    (_WN, _O, QInput.ASK_NO): (_WN, _E, SEND_NONE),  # cancel the queued enable
    (_WY, _E, QInput.ASK_NO): (_WY, _O, SEND_NONE),  # disable once the enable is through
    (_WY, _O, QInput.ASK_NO): (_WY, _O, SEND_NONE),  # already queued
}



class OptionStates:
    """The RFC 1143 state of both sides of every option, and the requests the peer refused."""

    __slots__ = ("_us", "_him", "_refused_local", "_refused_remote")

    def __init__(self) -> None:
        # Per option: low two bits the Q state, bit 2 the queue.
        self._us = bytearray(256)
        self._him = bytearray(256)
        self._refused_local: set[int] = set()
        self._refused_remote: set[int] = set()

    def local_enabled(self, option: int) -> bool:
        """True if we perform ``option``."""
        return self._us[option] & 3 == Q.YES

    def remote_enabled(self, option: int) -> bool:
        """True if the peer performs ``option``."""
        return self._him[option] & 3 == Q.YES

    def local_idle(self, option: int) -> bool:
        """True if we neither perform ``option`` nor negotiate it (state NO)."""
        return self._us[option] & 3 == Q.NO

    def state(self, side: Side, option: int) -> tuple[Q, bool]:
        """The state of one side of an option and its queue bit (True = OPPOSITE)."""
        code = (self._us if side is Side.LOCAL else self._him)[option]
        return Q(code & 3), bool(code >> 2)

    def refused(self, side: Side, option: int) -> bool:
        """True if the peer refused our request to enable ``option`` on ``side``."""
        return option in (self._refused_local if side is Side.LOCAL else self._refused_remote)

    def export(self) -> dict[str, object]:
        """Both sides' states and the refusals, JSON-ready (a code upgrade carries them)."""
        return {
            "us": self._us.hex(),
            "him": self._him.hex(),
            "refused_local": sorted(self._refused_local),
            "refused_remote": sorted(self._refused_remote),
        }

    def restore(self, state: dict[str, object]) -> None:
        """Take the states :meth:`export` gave (another process's, for the same connection)."""
        us, him = bytes.fromhex(str(state["us"])), bytes.fromhex(str(state["him"]))
        if len(us) != 256 or len(him) != 256:
            raise ValueError("option states must cover 256 options")
        self._us[:] = us
        self._him[:] = him
        self._refused_local = {int(o) for o in state.get("refused_local", ())}  # type: ignore[attr-defined]
        self._refused_remote = {int(o) for o in state.get("refused_remote", ())}  # type: ignore[attr-defined]

    def step(self, side: Side, option: int, what: QInput) -> tuple[int, bool, bool]:
        """Run one transition: ``(verb to send or 0, enabled before, enabled after)``.

        The verb is WILL/WONT for our side and DO/DONT for the peer's.
        """
        local = side is Side.LOCAL
        states = self._us if local else self._him
        code = states[option]
        state, queue = code & 3, code >> 2
        new_state, new_queue, send = Q_TABLE[(state, queue, what)]
        states[option] = new_state | (new_queue << 2)
        verb = 0
        if send != SEND_NONE:
            yes = send == SEND_YES
            verb = (WILL if yes else WONT) if local else (DO if yes else DONT)
        refused = self._refused_local if local else self._refused_remote
        if what == QInput.PEER_NO and state == Q.WANTYES and queue == QUEUE_EMPTY:
            refused.add(option)
        elif new_state == Q.YES:
            refused.discard(option)
        return verb, state == Q.YES, new_state == Q.YES
