"""Property-based fuzzing of every endpoint and WebSocket frame, against live servers."""
