"""HTTP views: the bootstrap page, the send endpoint and the health check."""
