"""The wire: everything that crosses it, both ways: send bodies and frames coming in;
deliveries, batches, results, SSE events and WebSocket frames going out."""
