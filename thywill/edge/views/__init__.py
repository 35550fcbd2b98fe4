"""HTTP views: the bootstrap page, the send endpoint, long-poll, Server-Sent Events and
the health check."""
