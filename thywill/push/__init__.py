"""Push backends: where messages to clients are stored, ordered and waited on."""
