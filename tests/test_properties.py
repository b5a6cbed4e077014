"""Property-based tests of the engine's invariants over random scenarios (hypothesis): whatever the arrivals,
placement, sleep timeouts and busy policy, residencies tile the run, energy adds up two ways, the two engine modes
agree bit for bit, and no frame finishes before its own work is done."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_same_run, make_trace, simple_profile, stage
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario

STAGES = {"front": stage("front", 100_000, 100), "back": stage("back", 200_000, in_bytes=100),
          "post": stage("post", 50_000, in_bytes=100)}
PATHS = {"light": ["front"], "full": ["front", "back"], "loop": ["front", "back", "post"]}


@st.composite
def cases(draw):
    n = draw(st.integers(1, 40))
    paths = draw(st.lists(st.sampled_from(list(PATHS)), min_size=n, max_size=n))
    rate = draw(st.sampled_from([50.0, 200.0, 400.0, 1000.0]))
    placement = {s: draw(st.sampled_from(["a", "b"])) for s in STAGES}
    sleep = {}
    if draw(st.booleans()):
        sleep["a"] = {"s1": f"{draw(st.integers(1, 20))} ms"}
    if draw(st.booleans()):
        sleep["b"] = {"off": f"{draw(st.integers(1, 20))} ms"}
    busy = draw(st.sampled_from(["queue", "drop"]))
    opp = draw(st.sampled_from(["half", "full"]))
    return paths, rate, {"placement": placement, "sleep": sleep, "when_busy": busy, "opp": {"a": opp}}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_engine_invariants_hold_for_random_scenarios(case):
    paths, rate, scenario = case
    profile = simple_profile()
    trace = make_trace(paths, frame_rate=rate, stages=STAGES, paths=PATHS)
    scn = parse_scenario(scenario, profile)
    a = simulate(profile, trace, scn, baseline=False, engine="batch")
    for kw in ({"engine": "reference"}, {"engine": "reference", "lookahead": False}):
        b = simulate(profile, trace, scn, baseline=False, **kw)
        assert_same_run(a, b)
    s, res = a.summary, a.resources
    states = res[res["time_s"].notna()]
    for core, group in states[states["type"] == "core"].groupby("resource"):
        assert group["time_s"].sum() == pytest.approx(s["duration_s"], rel=1e-9, abs=1e-12), core
        assert (group["time_s"] >= -1e-15).all()
    active = res[res["component"] == "active"]["energy_J"].sum()
    via_frames = a.frames["energy_J"].sum() + (states["energy_J"].sum() - active) + s["unattributed_energy_J"]
    assert via_frames == pytest.approx(s["compute_energy_J"], rel=1e-9, abs=1e-15)
    done = a.frames[~a.frames["dropped"]]
    assert (done["end_s"] >= done["ready_s"]).all() and (done["latency_s"] > 0).all()
    assert np.isfinite(s["compute_power_W"]) and s["compute_power_W"] > 0
