"""The engine: reactor, Deferreds, transports, protocols, services. Knows nothing of the game."""
