"""``PassedChecks``: what passed, bounded, forgotten when a setting changes."""

from __future__ import annotations

from thywill.edge.passed import PassedChecks


def test_the_oldest_is_dropped_at_the_bound():
    passed = PassedChecks(3)
    for key in ("a", "b", "c", "d"):
        passed.add(key)
    assert len(passed) == 3
    assert "a" not in passed
    assert all(key in passed for key in ("b", "c", "d"))


def test_adding_again_keeps_one():
    passed = PassedChecks(3)
    passed.add(("host", 80))
    passed.add(("host", 80))
    assert len(passed) == 1


def test_a_setting_change_forgets_everything(settings):
    passed = PassedChecks(3)
    passed.add("a")
    settings.ALLOWED_HOSTS = ["changed.example"]
    assert len(passed) == 0
    assert "a" not in passed
