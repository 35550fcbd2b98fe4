"""chat: rooms, nicknames, live presence and history (see README.md)."""
