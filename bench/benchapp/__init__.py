"""The benchmark's thywill application: echo to the sender, fan-out to every client."""
