"""HTTP views: the bootstrap page, the session endpoint, the send endpoint, long-poll,
Server-Sent Events and the health check."""
