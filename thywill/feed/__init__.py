"""The feed: reading a client's channels after its cursor, and keeping its presence
lease alive. It runs no application code."""
