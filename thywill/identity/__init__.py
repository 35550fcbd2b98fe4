"""Client identity: ids, signed tokens and their checks."""
