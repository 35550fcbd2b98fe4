"""SendSequences: each client's highest send seq, kept at least max_age after it was
written and at most 1.5 times max_age, in generations dropped whole."""

from __future__ import annotations

import pytest

from thywill.push.sequences import SendSequences

MAX_AGE = 100.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sequences(clock: Clock) -> SendSequences:
    return SendSequences(MAX_AGE, clock=clock)


def test_a_client_without_a_record_reads_0(sequences):
    assert sequences.get("alice") == 0
    assert len(sequences) == 0


def test_the_newest_write_is_read_back(sequences, clock):
    sequences.set("alice", 3)
    clock.now += 60
    sequences.set("alice", 7)
    sequences.set("bob", 1)
    assert (sequences.get("alice"), sequences.get("bob")) == (7, 1)
    assert sorted(sequences) == ["alice", "bob"]  # each once, though alice moved


@pytest.mark.parametrize("written_at", [0.0, 10.0, 49.9])
def test_a_record_is_kept_max_age_and_gone_by_one_and_a_half(sequences, clock, written_at):
    """Whenever in its generation a record is written, it is there max_age later, and
    gone 1.5 times max_age later once something expires the generations."""
    start = clock.now
    clock.now = start + written_at
    sequences.set("alice", 5)
    clock.now = start + written_at + MAX_AGE - 0.001
    sequences.expire()
    assert sequences.get("alice") == 5
    clock.now = start + written_at + 1.5 * MAX_AGE
    sequences.expire()
    assert sequences.get("alice") == 0
    assert len(sequences) == 0


def test_a_write_renews_the_record(sequences, clock):
    sequences.set("alice", 1)
    clock.now += 90
    sequences.set("alice", 2)
    clock.now += 90  # 180 s after the first write, 90 after the second
    sequences.expire()
    assert sequences.get("alice") == 2


def test_after_a_long_silence_everything_is_forgotten_at_once(sequences, clock):
    for n in range(100):
        sequences.set(f"client-{n}", n + 1)
    clock.now += 1_000_000 * MAX_AGE  # a bounded number of turns, not a million
    sequences.expire()
    assert len(sequences) == 0
    sequences.set("alice", 1)
    clock.now += MAX_AGE - 0.001
    sequences.expire()
    assert sequences.get("alice") == 1


def test_memory_stays_bounded_under_a_steady_stream_of_new_clients(sequences, clock):
    """A new client every second for 10 max_age: at no point more than 1.5 times max_age
    of them are held."""
    most = 0
    for n in range(int(10 * MAX_AGE)):
        clock.now += 1.0
        sequences.set(f"client-{n}", 1)
        most = max(most, len(sequences))
    assert MAX_AGE <= most <= 1.5 * MAX_AGE + 1
