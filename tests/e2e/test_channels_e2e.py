"""Channels end to end: run_server.py, three players over real telnet on 127.0.0.1 (issue 14)."""

from __future__ import annotations

from serverproc import ServerProcess


def test_channels_across_sessions_and_a_restart(tmp_path):
    """chat reaches players in other rooms; leave/join; @channel; history survives a restart."""
    with ServerProcess(tmp_path, admins=("Root",)) as server:
        root = server.telnet()
        root.command("connect Root secret")
        alice = server.telnet()
        alice.command("create Alice secret")
        bob = server.telnet()
        bob.command("create Bob secret")
        assert "The Library" in bob.command("n")  # another room

        assert "[chat] Alice: hello everyone" in alice.command("chat hello everyone")
        bob.expect("[chat] Alice: hello everyone")
        root.expect("[chat] Alice: hello everyone")

        bob.command("newbie :waves")
        alice.expect("[newbie] Bob waves.")

        assert "You leave the chat channel" in bob.command("channel leave chat")
        alice.command("chat only some hear this")
        root.expect("[chat] Alice: only some hear this")
        out = bob.command("chat can I?")
        assert "You are not on the chat channel; 'channel join chat' to join." in out
        assert "only some hear this" not in out
        assert "chat (you are not on it)" in bob.command("channels")

        assert "You create the trade channel" in root.command("@channel create trade = Deals")
        assert "a channel may not hide a verb" in root.command("@channel create look")
        assert "Only admins" in alice.command("@channel create mine")
        bob.command("channel join trade")
        root.command("channel join trade")
        bob.command("trade apples for sale")
        root.expect("[trade] Bob: apples for sale")
        assert server.threads() == 1
        assert server.stop(timeout=10) == 0, server.output()

    with ServerProcess(tmp_path) as server:
        bob = server.telnet()
        bob.command("connect Bob secret")
        out = bob.command("channel history chat")
        assert "[chat] Alice: hello everyone" in out and "only some hear this" in out
        assert "[trade] Bob: apples for sale" in bob.command("channel history trade")
        out = bob.command("channels")
        assert "chat (you are not on it)" in out and "trade (you are on it)" in out
        bob.close()
