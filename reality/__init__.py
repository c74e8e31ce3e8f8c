"""Reality: a multiplayer text-game server on its own event-driven engine."""

__version__ = "0.1.0"
