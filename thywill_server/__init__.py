"""thywill: a realtime push framework for Django."""
