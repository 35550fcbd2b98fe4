"""THYWILL_GC_FREEZE: once the server runs, what start-up built is frozen out of the
garbage collector's way (gc.freeze()), unless the setting turns it off."""

from __future__ import annotations

import gc

import pytest
from django.core.checks import Error
from django.test import override_settings

from thywill.wiring.checks import check_settings
from thywill.wiring.runtime import get_runtime


@pytest.fixture
def unfrozen():
    """Whatever a test froze is handed back to the collector after it."""
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_start_up_freezes_what_it_built(unfrozen):
    """The first start of the background work (lifespan start-up, or Daphne's first
    request) freezes every object alive then: the collector no longer walks them."""
    survivor: list[object] = []  # a container, so the collector tracks it
    assert any(o is survivor for o in gc.get_objects())
    with override_settings(THYWILL_GC_FREEZE=True):
        get_runtime().start_background()
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())


async def test_off_it_freezes_nothing(unfrozen):
    with override_settings(THYWILL_GC_FREEZE=False):
        get_runtime().start_background()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_setting_that_is_not_a_bool_is_reported(value):
    """THYWILL_GC_FREEZE must be True or False (thywill.E019)."""
    with override_settings(THYWILL_GC_FREEZE=value):
        assert check_settings() == [
            Error(
                f"THYWILL_GC_FREEZE must be True or False, not {value!r}.",
                id="thywill.E019",
            )
        ]
