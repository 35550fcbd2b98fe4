"""What handlers and hook functions are given, and how they are called: the context they
act through, the outbox it fills, and calling sync or async user code."""
