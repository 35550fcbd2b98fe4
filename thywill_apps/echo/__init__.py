"""echo: the round-trip proof of concept."""
