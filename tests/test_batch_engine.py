"""The compiled batch engine against the SimPy reference engine: the same numbers, bit for bit, on random
scenarios with queueing, drops, hand-over cycles, several sleep states and links, in windows small enough that
jobs wait across window boundaries; with paths of different priorities too, and the priority rule checked on a
contention case worked by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import assert_same_run, make_trace, simple_profile, stage
from dslsim.sim.engine import batch, run_engine
from dslsim.sim.plan import build_plan
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


# Priorities -------------------------------------------------------------------------------------------------------


def _engine_arrays(plan, trace):
    ready = trace.frames["t_arrival"].to_numpy(dtype=float) + trace.meta.frame_duration
    return ready, trace.path_codes()


def _same_output(a, b) -> None:
    for name in ("start", "end", "energy", "wakeups", "used", "dropped"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.residency, a.dynamic_energy, a.transition_energy, a.wake_count, a.unattributed_energy, a.t_end) == \
        (b.residency, b.dynamic_energy, b.transition_energy, b.wake_count, b.unattributed_energy, b.t_end)


def busy_case(seed: int):
    """A random case with its frames three times as dense (more contention between paths), each path given a
    random priority from 0 to 2."""
    profile, trace, scenario = random_case(seed)
    trace.frames["t_arrival"] = trace.frames["t_arrival"] / 3.0
    plan = build_plan(trace.meta, profile, scenario)
    rng = np.random.default_rng(seed + 1000)
    return replace(plan, priorities=tuple(int(p) for p in rng.integers(0, 3, len(plan.hops)))), trace


@pytest.mark.parametrize("window", [5, 64, 1 << 16])
@pytest.mark.parametrize("seed", range(10))
def test_priorities_batch_engine_matches_the_reference_bit_for_bit(seed, window, monkeypatch):
    monkeypatch.setattr(batch, "WINDOW_FRAMES", window)
    plan, trace = busy_case(seed)
    ready, codes = _engine_arrays(plan, trace)
    ref = run_engine(plan, ready, codes, engine="reference")
    _same_output(run_engine(plan, ready, codes, engine="batch"), ref)
    _same_output(run_engine(plan, ready, codes, engine="reference", lookahead=False), ref)


def test_priorities_change_the_schedule_where_paths_contend():
    """The random cases above are not all first come, first served in disguise: where jobs queue (under the drop
    policy they never wait, so only simultaneous arrivals could be reordered), most schedules change."""
    queueing, changed = 0, 0
    for seed in range(10):
        plan, trace = busy_case(seed)
        if plan.resources[0].drop_when_busy:
            continue
        queueing += 1
        ready, codes = _engine_arrays(plan, trace)
        fifo = run_engine(replace(plan, priorities=()), ready, codes, engine="batch")
        ranked = run_engine(plan, ready, codes, engine="batch")
        changed += not np.array_equal(fifo.start, ranked.start, equal_nan=True)
    assert queueing >= 4 and changed >= queueing / 2


@pytest.mark.parametrize("window", [5, 1 << 16])
@pytest.mark.parametrize("seed", range(6))
def test_the_priority_rule_with_one_priority_is_first_come_first_served(seed, window, monkeypatch):
    """Every resource served by the priority rule, every path at priority 0: today's FIFO schedule, bit for bit,
    in both engines."""
    from dslsim.sim.engine import reference

    monkeypatch.setattr(batch, "WINDOW_FRAMES", window)
    profile, trace, scenario = random_case(seed)
    plan = build_plan(trace.meta, profile, scenario)
    ready, codes = _engine_arrays(plan, trace)
    fifo = run_engine(plan, ready, codes, engine="batch")
    monkeypatch.setattr(batch, "PRIORITY_EVERYWHERE", True)
    monkeypatch.setattr(reference, "PRIORITY_EVERYWHERE", True)
    for engine in ("batch", "reference"):
        _same_output(run_engine(replace(plan, priorities=(0,) * len(plan.hops)), ready, codes, engine=engine), fifo)
        _same_output(run_engine(plan, ready, codes, engine=engine), fifo)


@pytest.mark.parametrize("engine", ["batch", "reference"])
def test_a_freed_core_serves_the_highest_priority_then_the_earliest(engine):
    """Core 'a' of SIMPLE at 100 MHz: a 100 kMAC stage takes 1 ms. 'lo' frames (priority 0) and 'hi' frames
    (priority 1) share it; sleep after 3 ms idle (exit 100 us). Worked by hand:

    * lo#0 ready 0 runs 0-1 ms; lo#1 ready 0.2 ms and hi#2 ready 0.5 ms wait: at 1 ms hi#2 goes first (1-2 ms),
      then lo#1 (2-3 ms), although lo#1 was ready first;
    * lo#3 and hi#4 both ready at 3.5 ms: hi#4 first (3.5-4.5 ms), lo#3 4.5-5.5 ms (a tie on ready time goes to
      the priority, not the frame order);
    * lo#5 ready at 20 ms finds the core asleep (14.5 ms idle > 3 ms) and wakes it: 20-20.1 ms waking, runs
      20.1-21.1 ms; hi#6, ready at 20.05 ms while the core wakes, does not take its place (non-preemptive): it
      runs 21.1-22.1 ms;
    * lo#7 ready at 30 ms runs at once (the decision is made when the core is free and has work: only lo#7),
      30.1-31.1 ms after waking; hi#8 ready at 30.5 ms waits to 31.1 ms.
    """
    stages = {"x": stage("x", 100_000), "y": stage("y", 100_000)}
    trace = make_trace(["lo", "lo", "hi", "lo", "hi", "lo", "hi", "lo", "hi"], stages=stages,
                       paths={"lo": ["x"], "hi": ["y"]}, dense="hi")
    profile = simple_profile()
    plan = build_plan(trace.meta, profile, parse_scenario(
        {"placement": {"default": "a"}, "opp": {"a": "full"}, "sleep": {"a": {"s1": "3 ms"}}}, profile))
    plan = replace(plan, priorities=(0, 1))
    ready = np.array([0.0, 0.2, 0.5, 3.5, 3.5, 20.0, 20.05, 30.0, 30.5]) * 1e-3
    out = run_engine(plan, ready, trace.path_codes(), engine=engine)
    expected = np.array([0.0, 2.0, 1.0, 4.5, 3.5, 20.1, 21.1, 30.1, 31.1]) * 1e-3
    np.testing.assert_allclose(out.start, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.end - out.start, 1e-3, rtol=0, atol=1e-12)
    assert out.wakeups.tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0]
    # First come, first served, the same frames: lo#1 before hi#2, lo#3 before hi#4.
    fifo = run_engine(replace(plan, priorities=()), ready, trace.path_codes(), engine=engine)
    np.testing.assert_allclose(fifo.start[:5], np.array([0.0, 1.0, 2.0, 3.5, 4.5]) * 1e-3, rtol=0, atol=1e-12)


def test_priorities_must_cover_every_path():
    profile, trace, scenario = random_case(0)
    plan = build_plan(trace.meta, profile, scenario)
    with pytest.raises(ValueError, match="priorities"):
        replace(plan, priorities=(1,))
