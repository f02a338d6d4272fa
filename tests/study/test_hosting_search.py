"""The count search on its own (no runs): against every monotone answer, and what it does otherwise."""

from __future__ import annotations

import math

import pytest

from sim.study.hosting_search import CountSearch


def search(max_count: int, passes: object, probes: int) -> CountSearch:
    """Run the search to the end with ``passes(count) -> bool`` standing in for the runs."""
    state = CountSearch(max_count)
    for _ in range(4 * max_count + 4):
        counts = state.next_counts(probes)
        if not counts:
            return state
        for count in counts:
            state.record(count, passes(count))  # type: ignore[operator]
    raise AssertionError("the search did not finish")


@pytest.mark.parametrize("probes", [1, 2, 3])
def test_finds_every_threshold_like_a_grid(probes: int) -> None:
    for max_count in range(1, 40):
        for capacity in range(-1, max_count + 1):  # -1: even 0 EVs fail
            state = search(max_count, lambda n, c=capacity: n <= c, probes)
            assert state.capacity == max(capacity, 0), (max_count, capacity, probes)
            assert state.fails_without_evs == (capacity == -1)
            assert state.first_fail == capacity + 1 and state.monotone
            if probes == 1:  # doubling then bisection: about 2 log2(max_count) runs, never a grid
                assert len(state.passed) <= 2 * math.ceil(math.log2(max_count + 1)) + 2


def test_count_zero_runs_only_when_one_ev_fails() -> None:
    assert 0 not in search(10, lambda n: n <= 5, 1).passed
    state = search(10, lambda n: n == 0, 1)
    assert state.passed[0] is True and state.capacity == 0 and not state.fails_without_evs


def test_a_pass_above_a_failure_is_reported_not_hidden() -> None:
    state = CountSearch(8)
    for count, ok in ((1, True), (2, True), (4, False), (8, True), (3, True)):
        state.record(count, ok)
    assert state.done and state.capacity == 3 and not state.monotone
    with pytest.raises(ValueError, match="outside 0..8"):
        state.record(9, True)
    with pytest.raises(ValueError, match="not finished"):
        _ = CountSearch(8).capacity
