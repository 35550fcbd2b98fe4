"""Transports: they read a client's feed after its cursor and write it to the wire.

They hold no business logic; every one reads through ``delivery.ClientFeed``.
"""
