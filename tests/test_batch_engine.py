"""The compiled batch engine against the SimPy reference engine: the same numbers, bit for bit, on random
scenarios with queueing, drops, hand-over cycles, several sleep states and links, in windows small enough that
jobs wait across window boundaries."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import assert_same_run, make_trace, simple_profile, stage
from dslsim.sim.engine import batch
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario

STAGES = {"front": stage("front", 100_000, 100), "back": stage("back", 200_000, in_bytes=100),
          "post": stage("post", 50_000, in_bytes=100)}
PATHS = {"light": ["front"], "full": ["front", "back"], "loop": ["front", "back", "post"]}
#: Core a gets a second, deeper sleep state, so gaps are split over idle and two sleep states.
TWO_STATES = {"cores": {"a": {"sleep": {"s1": {"power": "0.1 mW", "exit_latency": "100 us", "entry_energy": "1 uJ",
                                               "exit_energy": "2 uJ"},
                                        "s2": {"power": "0.01 mW", "exit_latency": "400 us",
                                               "entry_latency": "50 us", "entry_energy": "3 uJ",
                                               "exit_energy": "4 uJ"}}}}}


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 1500))
    # Bursts of one path, like a switch's output.
    names, out = list(PATHS), []
    while len(out) < n:
        out += [names[rng.integers(3)]] * int(rng.integers(1, 30))
    trace = make_trace(out[:n], frame_rate=float(rng.choice([100.0, 400.0, 900.0])), stages=STAGES, paths=PATHS)
    jitter = rng.exponential(1.0 / trace.meta.frame_rate, n).cumsum() if rng.random() < 0.5 else None
    if jitter is not None:  # irregular arrivals: bursts of queueing, long gaps that reach deep sleep
        trace.frames["t_arrival"] = jitter - jitter[0]
    profile = simple_profile(**(TWO_STATES if rng.random() < 0.5 else {}))
    sleep = {}
    if rng.random() < 0.7:
        sleep["a"] = {"s1": f"{rng.integers(1, 8)} ms"}
        if any(s.name == "s2" for s in profile.cores["a"].sleep_states):
            sleep["a"]["s2"] = f"{rng.integers(8, 30)} ms"
    if rng.random() < 0.6:
        sleep["b"] = {"off": f"{rng.integers(1, 20)} ms"}
    scenario = {"placement": {s: str(rng.choice(["a", "b"])) for s in STAGES}, "sleep": sleep,
                "when_busy": str(rng.choice(["queue", "drop"])), "opp": {"a": str(rng.choice(["half", "full"]))}}
    return profile, trace, parse_scenario(scenario, profile)


@pytest.mark.parametrize("window", [5, 64, 1 << 16])
@pytest.mark.parametrize("seed", range(12))
def test_batch_engine_matches_the_reference_bit_for_bit(seed, window, monkeypatch):
    monkeypatch.setattr(batch, "WINDOW_FRAMES", window)
    profile, trace, scenario = random_case(seed)
    a = simulate(profile, trace, scenario, engine="batch")
    b = simulate(profile, trace, scenario, engine="reference")
    assert_same_run(a, b)


def test_auto_engine_picks_by_size(monkeypatch):
    """Short runs go to the reference engine (no compile cost), long ones to the batch engine."""
    import sys

    from dslsim.sim import engine

    called = []
    real = batch.BatchReplay.finish
    monkeypatch.setattr(batch.BatchReplay, "finish", lambda *a, **k: called.append(1) or real(*a, **k))
    monkeypatch.delitem(sys.modules, "dslsim.sim.engine.kernel", raising=False)   # as in a process without it loaded
    profile, trace, scenario = random_case(0)
    simulate(profile, trace, scenario, baseline=False)
    assert not called
    monkeypatch.setattr(engine, "BATCH_MIN_JOBS", 10)
    simulate(profile, trace, scenario, baseline=False)
    assert called


def test_resource_groups_come_upstream_first_and_cycles_together():
    profile, trace, _ = random_case(1)
    from dslsim.sim.plan import build_plan

    ff = build_plan(trace.meta, profile, parse_scenario({"placement": {"front": "a", "back": "b", "post": "b"}},
                                                         profile))
    cyc = build_plan(trace.meta, profile, parse_scenario({"placement": {"front": "a", "back": "b", "post": "a"}},
                                                          profile))
    names = [r.name for r in ff.resources]
    order = [[names[r] for r in g] for g in batch._order(ff)]
    assert order.index(["a"]) < order.index([n for n in names if n not in ("a", "b")]) < order.index(["b"])
    assert all(len(g) == 1 for g in batch._order(ff))
    assert any(len(g) == 3 for g in batch._order(cyc))       # a -> link -> b -> link -> a: one group
