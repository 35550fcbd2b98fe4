"""The edge: what speaks ASGI and HTTP. The transport endpoints (send, long-poll, SSE,
WebSocket), the bootstrap page and the health check, served straight from ASGI where it
pays; they parse and check what arrives, ask the runtime for the rest, and hold no
business logic."""
