"""Database components: where client records live."""
