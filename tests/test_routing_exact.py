"""Shortcuts a sweep takes when it re-routes one trace per point give the numbers of the long way round."""

from __future__ import annotations

import numpy as np
import pytest

from dslsim.sim.engine import path_counts
from dslsim.sim.inputs import InMemory
from dslsim.sim.run import simulate
from dslsim.trace.io import read_trace
from dslsim.trace.schema import Decision
from dslsim.trace.synth import synth_trace


def _edge_thresholds(scores: np.ndarray) -> list[float]:
    """Thresholds on, just above and just below float32 scores (where a float32 comparison could go wrong)."""
    out = [0.0, 1.0, 0.1, 0.3, 0.7]
    for s in scores[:40].astype(np.float64):
        out += [s, np.nextafter(s, 2.0), np.nextafter(s, -1.0), (s + float(np.nextafter(np.float32(s), 2))) / 2]
    return [t for t in out if 0 <= t <= 1]


@pytest.mark.parametrize("when", ["above", "below"])
def test_float32_scores_route_as_in_float64(when):
    rng = np.random.default_rng(3)
    scores = rng.random(5000).astype(np.float32)
    scores[:3] = [np.nan, 0.0, 1.0]
    for threshold in _edge_thresholds(scores[3:]):
        decision = Decision("switch", "score", float(threshold), "full", when)
        wide = scores.astype(np.float64)
        expected = wide >= threshold if when == "above" else wide < threshold   # NaN: False either way
        np.testing.assert_array_equal(decision.fires(scores), expected)


def test_path_counts_match_a_count_by_hand():
    codes = np.array([0, 2, 2, 1, 0, 2], dtype=np.int8)
    assert path_counts(codes, 3).tolist() == [2, 1, 3]
    assert path_counts(codes, 4).tolist() == [2, 1, 3, 0]            # a path nobody takes
    assert path_counts(np.zeros(0, np.int8), 2).tolist() == [0, 0]
    wide = np.random.default_rng(0).integers(0, 5, 10_000)
    assert path_counts(wide, 5).tolist() == [int((wide == k).sum()) for k in range(5)]


def test_rerouted_input_simulates_as_a_fresh_one():
    trace = read_trace("dsl-75hz-10min")
    base = InMemory(trace)
    shares = set()
    for threshold in (0.2, 0.8):
        routed = trace.rethreshold(threshold)
        shared = simulate("watch", base.rerouted(routed), baseline=True, frames=False).summary.to_row()
        fresh = simulate("watch", routed, baseline=True, frames=False).summary.to_row()
        assert shared["keeps_up"] and np.isfinite(shared["battery_gain_pct"])
        assert shared == fresh
        shares.add(shared["share_light"])
    assert len(shares) == 2                                           # the points were routed differently
    with pytest.raises(ValueError):
        base.rerouted(synth_trace(duration=60.0, seed=4))
