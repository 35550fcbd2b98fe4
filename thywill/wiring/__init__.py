"""Wiring: where everything is built from settings and wired together (the runtime),
and the system checks that build it the same way."""
