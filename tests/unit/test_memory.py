"""The memory trimmer: glibc's malloc_trim after clients were released, rate-limited."""

from __future__ import annotations

from thywill.wiring.memory import MemoryTrimmer, glibc_malloc_trim


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_trims_at_most_once_per_interval():
    """The first release trims; releases within ``min_interval`` do not; the next
    release after it does."""
    calls: list[int] = []
    clock = Clock()
    trimmer = MemoryTrimmer(
        lambda pad: calls.append(pad) or 1, min_interval=10.0, clock=clock
    )
    await trimmer.released()
    clock.now += 9.9
    await trimmer.released()
    assert calls == [0]
    clock.now += 0.2
    await trimmer.released()
    assert calls == [0, 0]
    assert trimmer.trims == 2


async def test_without_malloc_trim_nothing_is_done():
    """Where the C library has no malloc_trim (musl, macOS), releases do nothing."""
    trimmer = MemoryTrimmer(None)
    await trimmer.released()
    assert trimmer.trims == 0


def test_glibcs_malloc_trim_is_found_and_runs():
    """On glibc (this Debian machine) the call exists and returns 0 or 1."""
    trim = glibc_malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)
