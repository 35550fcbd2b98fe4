"""Tic-tac-toe: two players and any watchers a room, its rules in hook scripts."""
