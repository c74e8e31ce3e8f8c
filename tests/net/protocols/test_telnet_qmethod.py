"""RFC 1143 Q method corner cases, byte-exact, for both sides of an option."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from reality.net.protocols.telnet import OptionChanged, Side, TelnetCodec, TelnetConfig
from reality.net.protocols.telnet.options import (
    DO,
    DONT,
    ECHO,
    GMCP,
    IAC,
    NAWS,
    SGA,
    TTYPE,
    WILL,
    WONT,
)
from reality.net.protocols.telnet.qmethod import Q_TABLE, QUEUE_EMPTY, QUEUE_OPPOSITE, Q, QInput


def b(*codes: int) -> bytes:
    return bytes(codes)


def server() -> TelnetCodec:
    return TelnetCodec(
        TelnetConfig.server(offer_local=(), offer_remote=()), clock=lambda: 0.0
    )


def test_table_covers_every_state_queue_and_input():
    """Every (state, queue) pair RFC 1143 can be in has a row for every input."""
    pairs = [(Q.NO, QUEUE_EMPTY), (Q.YES, QUEUE_EMPTY)] + [
        (state, queue) for state in (Q.WANTNO, Q.WANTYES) for queue in (QUEUE_EMPTY, QUEUE_OPPOSITE)
    ]
    for state, queue in pairs:
        for what in QInput:
            new_state, new_queue, _ = Q_TABLE[(state, queue, what)]
            # The queue bit only means something while a request is pending.
            assert new_queue == QUEUE_EMPTY or new_state in (Q.WANTNO, Q.WANTYES)
    assert len(Q_TABLE) == len(pairs) * len(QInput)


def test_redundant_requests_are_not_answered():
    """WILL when already YES, WONT when already NO, DO/DONT likewise: no reply (no loop)."""
    codec = server()
    codec.receive(b(IAC, WILL, NAWS))
    assert codec.data_to_send() == b(IAC, DO, NAWS)
    assert codec.receive(b(IAC, WILL, NAWS)) == []
    assert codec.data_to_send() == b""
    assert codec.receive(b(IAC, WONT, ECHO, IAC, DONT, ECHO)) == []
    assert codec.data_to_send() == b""
    codec.receive(b(IAC, DO, SGA))
    assert codec.data_to_send() == b(IAC, WILL, SGA)
    codec.receive(b(IAC, DO, SGA))
    assert codec.data_to_send() == b""


def test_repeated_local_requests_send_one_offer():
    """Asking twice while the first request is pending sends one WILL."""
    codec = server()
    codec.request_local(ECHO)
    codec.request_local(ECHO)
    assert codec.data_to_send() == b(IAC, WILL, ECHO)
    assert codec.option_state(Side.LOCAL, ECHO) == (Q.WANTYES, False)
    codec.receive(b(IAC, DO, ECHO))
    codec.request_local(ECHO)
    assert codec.data_to_send() == b""


def test_disable_while_enable_pending_is_queued():
    """WANTYES + our disable queues it; the agreement then gets an immediate WONT."""
    codec = server()
    codec.request_local(ECHO)
    codec.disable_local(ECHO)
    assert codec.data_to_send() == b(IAC, WILL, ECHO)
    assert codec.option_state(Side.LOCAL, ECHO) == (Q.WANTYES, True)
    assert codec.receive(b(IAC, DO, ECHO)) == []
    assert codec.data_to_send() == b(IAC, WONT, ECHO)
    assert codec.option_state(Side.LOCAL, ECHO) == (Q.WANTNO, False)
    assert codec.receive(b(IAC, DONT, ECHO)) == []
    assert codec.option_state(Side.LOCAL, ECHO) == (Q.NO, False)
    assert codec.data_to_send() == b""


def test_enable_while_disable_pending_is_queued():
    """WANTNO + our enable queues it; the peer's confirmation makes us ask again."""
    codec = server()
    codec.receive(b(IAC, WILL, NAWS))
    codec.data_to_send()
    codec.disable_remote(NAWS)
    codec.request_remote(NAWS)
    assert codec.data_to_send() == b(IAC, DONT, NAWS)
    assert codec.option_state(Side.REMOTE, NAWS) == (Q.WANTNO, True)
    codec.receive(b(IAC, WONT, NAWS))
    assert codec.data_to_send() == b(IAC, DO, NAWS)
    assert codec.option_state(Side.REMOTE, NAWS) == (Q.WANTYES, False)
    events = codec.receive(b(IAC, WILL, NAWS))
    assert events[-1] == OptionChanged(NAWS, Side.REMOTE, True)
    assert codec.data_to_send() == b""


def test_queued_request_can_be_cancelled():
    """Enable then disable then enable while pending leaves just the first request."""
    codec = server()
    codec.request_remote(TTYPE)
    codec.disable_remote(TTYPE)
    codec.request_remote(TTYPE)
    assert codec.option_state(Side.REMOTE, TTYPE) == (Q.WANTYES, False)
    assert codec.data_to_send() == b(IAC, DO, TTYPE)


def test_refusal_while_queued_disable_is_quiet():
    """WANTYES with a queued disable, then WONT: simply NO, nothing sent."""
    codec = server()
    codec.request_remote(NAWS)
    codec.disable_remote(NAWS)
    codec.data_to_send()
    assert codec.receive(b(IAC, WONT, NAWS)) == []
    assert codec.option_state(Side.REMOTE, NAWS) == (Q.NO, False)
    assert codec.data_to_send() == b""


def test_peer_disabling_an_enabled_option_is_acknowledged():
    """YES + WONT (or DONT): we must agree, once, and report the change."""
    codec = server()
    codec.receive(b(IAC, WILL, NAWS, IAC, DO, SGA))
    codec.data_to_send()
    events = codec.receive(b(IAC, WONT, NAWS, IAC, DONT, SGA))
    assert events == [
        OptionChanged(NAWS, Side.REMOTE, False),
        OptionChanged(SGA, Side.LOCAL, False),
    ]
    assert codec.data_to_send() == b(IAC, DONT, NAWS, IAC, WONT, SGA)


def test_peer_answering_dont_with_will_is_an_error_not_a_loop():
    """WANTNO + WILL (the peer got it wrong): state NO, and no reply to argue with."""
    codec = server()
    codec.receive(b(IAC, WILL, NAWS))
    codec.data_to_send()
    codec.disable_remote(NAWS)
    codec.data_to_send()
    # Only the change our own disable caused is reported; the WILL adds nothing.
    assert codec.receive(b(IAC, WILL, NAWS)) == [OptionChanged(NAWS, Side.REMOTE, False)]
    assert codec.option_state(Side.REMOTE, NAWS) == (Q.NO, False)
    assert codec.data_to_send() == b""


def test_refusals_are_remembered_per_side():
    """A refused DO is not repeated by request_remote; the local side is independent."""
    codec = server()
    codec.request_remote(NAWS)
    codec.data_to_send()
    codec.receive(b(IAC, WONT, NAWS))
    assert codec.refused(Side.REMOTE, NAWS)
    assert codec.request_remote(NAWS) is False
    assert codec.data_to_send() == b""
    assert not codec.refused(Side.LOCAL, NAWS)
    # If the peer changes its mind and offers it, that is accepted and forgiven.
    codec.receive(b(IAC, WILL, NAWS))
    assert codec.data_to_send() == b(IAC, DO, NAWS)
    assert not codec.refused(Side.REMOTE, NAWS)


def test_unsupported_option_repeated_gets_the_same_refusal():
    """RFC 1143: NO + WILL we do not want is refused each time; state stays NO."""
    codec = server()
    codec.receive(b(IAC, WILL, 77, IAC, WILL, 77))
    assert codec.data_to_send() == b(IAC, DONT, 77) * 2
    assert codec.option_state(Side.REMOTE, 77) == (Q.NO, False)


def pump(a: TelnetCodec, b_: TelnetCodec, limit: int = 40) -> int:
    """Move bytes both ways until quiet; return the number of rounds it took."""
    for rounds in range(limit):
        to_b, to_a = a.data_to_send(), b_.data_to_send()
        if not to_a and not to_b:
            return rounds
        b_.receive(to_b)
        a.receive(to_a)
    raise AssertionError("negotiation never settled: a loop")


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["server", "client"]),
        st.sampled_from(["request_local", "request_remote", "disable_local", "disable_remote"]),
        st.sampled_from([ECHO, SGA, NAWS, TTYPE, GMCP, 99]),
        st.booleans(),  # deliver the bytes now, or let requests pile up
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ACTIONS)
def test_two_ends_always_settle_and_agree(actions):
    """Any mix of requests from both ends, delivered at any time, settles with no loop
    and both ends agree on every option's state."""
    both = set(range(256))
    config = TelnetConfig.server(
        offer_local=(), offer_remote=(), local_options=frozenset(both - {99}),
        remote_options=frozenset(both - {99}),
    )
    ends = {
        "server": TelnetCodec(config, clock=lambda: 0.0),
        "client": TelnetCodec(config, clock=lambda: 0.0),
    }
    for who, method, option, deliver in actions:
        codec = ends[who]
        try:
            getattr(codec, method)(option, **({"retry": True} if "request" in method else {}))
        except ValueError:
            assert option == 99
        if deliver:
            pump(ends["server"], ends["client"])
    pump(ends["server"], ends["client"])
    srv, cli = ends["server"], ends["client"]
    for option in (ECHO, SGA, NAWS, TTYPE, GMCP, 99):
        assert srv.option_state(Side.LOCAL, option)[0] in (Q.NO, Q.YES)
        assert srv.option_state(Side.REMOTE, option)[0] in (Q.NO, Q.YES)
        assert srv.local_enabled(option) == cli.remote_enabled(option)
        assert srv.remote_enabled(option) == cli.local_enabled(option)


ONE_END_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["request_local", "request_remote", "disable_local", "disable_remote"]),
        st.sampled_from([ECHO, SGA, NAWS]),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ONE_END_ACTIONS)
def test_an_agreeable_peer_ends_in_the_last_state_asked_for(actions):
    """With a peer that accepts everything, each option ends as our last request
    wanted, however requests overlap the answers (the queue bit at work)."""
    everything = frozenset(range(256))
    ours = TelnetCodec(
        TelnetConfig.server(offer_local=(), offer_remote=(), local_options=everything,
                            remote_options=everything),
        clock=lambda: 0.0,
    )
    peer = TelnetCodec(
        TelnetConfig.client(local_options=everything, remote_options=everything,
                            ask_only_local=frozenset()),
        clock=lambda: 0.0,
    )
    wish: dict[tuple[str, int], bool] = {}
    for method, option, deliver in actions:
        verb, side = method.split("_")
        if verb == "request":
            getattr(ours, method)(option, retry=True)
        else:
            getattr(ours, method)(option)
        wish[(side, option)] = verb == "request"
        if deliver:
            pump(ours, peer)
    pump(ours, peer)
    for option in (ECHO, SGA, NAWS):
        assert ours.local_enabled(option) == wish.get(("local", option), False)
        assert ours.remote_enabled(option) == wish.get(("remote", option), False)
        assert peer.remote_enabled(option) == ours.local_enabled(option)
