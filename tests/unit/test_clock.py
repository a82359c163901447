"""The clock shift of a worker (pigeon_lab.load.clock): estimated within the shortest round
trip, zero for clocks that already agree, applied to a history table."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon_lab.history.recorder import Recorder
from pigeon_lab.load.clock import (
    SKEW_ENV,
    ClockShift,
    Readings,
    Sample,
    estimate,
    rebase,
    skew_ns,
)

MS = 1_000_000


def sample(offset: int, wall_offset: int, start: int, up: int, down: int) -> Sample:
    """A round trip of ``up`` + ``down`` ns to a master whose clocks read ``offset`` /
    ``wall_offset`` ns more than the worker's."""
    sent = Readings(start, start + 5)
    at = start + up
    master = Readings(at + offset, at + 5 + wall_offset)
    back = at + down
    return Sample(sent, master, Readings(back, back + 5))


@given(
    offset=st.integers(-(10**15), 10**15),
    trips=st.lists(
        st.tuples(st.integers(1, 50 * MS), st.integers(1, 50 * MS)), min_size=1, max_size=5
    ),
)
def test_the_shift_is_within_the_shortest_round_trip(
    offset: int, trips: list[tuple[int, int]]
) -> None:
    samples = [sample(offset, offset, 10**12 + i * 10**9, u, d) for i, (u, d) in enumerate(trips)]
    shift = estimate(samples)
    best = min(u + d for u, d in trips)
    assert shift.uncertainty_ns == best // 2
    # the estimate is within half the trip; one that small is taken as zero: within the trip
    assert abs(shift.mono_ns - offset) <= best + 1
    assert abs(shift.wall_ns - offset) <= best + 1


def test_clocks_that_agree_within_the_uncertainty_are_left_alone() -> None:
    assert estimate([sample(300_000, -200_000, 10**12, MS, MS)]) == ClockShift(0, 0, MS)
    assert estimate([]) == ClockShift()


def test_two_clocks_shift_apart_when_they_differ_apart() -> None:
    shift = estimate([sample(-(10**12), 7 * MS, 10**12, MS, MS)])
    assert shift.mono_ns == -(10**12) and shift.wall_ns == 7 * MS


def test_rebase_moves_t_and_wall_only() -> None:
    r = Recorder()
    r.record("connect", "u0", "u0", "ws0")
    t = r.to_table()
    out = rebase(t, -5, 7)
    assert out.schema.equals(t.schema)
    assert out.column("t")[0].as_py() == t.column("t")[0].as_py() - 5
    assert out.column("wall")[0].as_py() == t.column("wall")[0].as_py() + 7
    assert rebase(t, 0, 0) is t
    empty = t.slice(0, 0)
    assert rebase(empty, 1, 1).num_rows == 0 and isinstance(empty, pa.Table)


def test_the_test_skew_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SKEW_ENV, raising=False)
    assert skew_ns() == 0
    monkeypatch.setenv(SKEW_ENV, "1.5")
    assert skew_ns() == 1_500_000_000
    monkeypatch.setenv(SKEW_ENV, "soon")
    with pytest.raises(ValueError, match=SKEW_ENV):
        skew_ns()
