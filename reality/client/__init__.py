"""``reality play``: a MUD client in the terminal, on prompt-toolkit and the telnet codec.

- :mod:`reality.client.connection`: the telnet client protocol (TTYPE/MTTS,
  NAWS, CHARSET, GMCP, MCCP2, masked input), independent of the screen;
- :mod:`reality.client.state`: what the screen shows (scrollback, prompt,
  room, completions), independent of prompt-toolkit's widgets;
- :mod:`reality.client.app`: the prompt-toolkit application and ``main``.

Together with :mod:`reality.net.asyncio_reactor` this is the one place in
Reality that uses :mod:`asyncio`: prompt-toolkit runs on it, and the
telnet protocol runs on the same loop through the asyncio-backed reactor.
"""
