"""HTTP views: the bootstrap page and the send endpoint."""
