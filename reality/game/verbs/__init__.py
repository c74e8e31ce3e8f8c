"""The verbs, split by who uses them.

- :mod:`.core`: the parser, the registry (:class:`~.core.VerbRegistry`),
  :class:`~.core.Context` and :class:`~.core.WorldView` (the world as a
  verb sees it), name matching, and ``go`` (the parser's fallback for an
  exit's name);
- :mod:`.player`: the players' verbs, the homepage editor and help;
- :mod:`.building`: the builders' (admin) verbs.

:mod:`reality.game.commands` registers them all and re-exports the names
other modules import.
"""
