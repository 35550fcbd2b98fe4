"""The application interface: what an application provides to thywill."""
