"""Helpers shared by the test suites that talk to real server processes."""
