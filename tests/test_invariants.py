"""Invariants on every shipped profile, a second-method energy check, and determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import SHIPPED_TRACE, assert_same_run, same_figures
from dslsim.hw.load import load_profile, shipped_profiles
from dslsim.sim.run import simulate
from dslsim.sim.scenario import load_scenario
from dslsim.trace.io import read_trace
from dslsim.trace.synth import synth_trace

PROFILES = sorted(shipped_profiles())


@pytest.fixture(scope="module")
def trace():
    # Two minutes of the shipped trace keep the suite fast and still hold several hundred full bursts.
    t = read_trace(SHIPPED_TRACE)
    return type(t)(t.meta, t.frames.iloc[:9000].reset_index(drop=True))


def test_three_profiles_are_shipped():
    assert set(PROFILES) >= {"earbud", "watch", "phone"}


@pytest.mark.parametrize("name", PROFILES)
def test_residencies_sum_to_simulated_time_on_every_core(name, trace):
    r = simulate(name, trace, baseline=False)
    t_end = r.summary["duration_s"]
    states = r.resources[r.resources["time_s"].notna()]
    for core, group in states[states["type"] == "core"].groupby("resource"):
        assert group["time_s"].sum() == pytest.approx(t_end, rel=1e-9), core
        assert (group["time_s"] >= 0).all()


@pytest.mark.parametrize("name", PROFILES)
def test_energy_adds_up_two_ways(name, trace):
    r = simulate(name, trace, baseline=False)
    res, s = r.resources, r.summary
    states = res[res["time_s"].notna()]["energy_J"].sum()
    active = res[res["component"] == "active"]["energy_J"].sum()
    # Per-frame energies (dynamic + active power while running + wake-ups + links) are accumulated separately
    # from the per-resource totals; with the other state energies and the end-of-run sleep entries they must
    # give the same total.
    assert active > 0
    via_frames = r.frames["energy_J"].sum() + (states - active) + s["unattributed_energy_J"]
    assert via_frames == pytest.approx(s["compute_energy_J"], rel=1e-9)
    dynamic = res[res["component"] == "dynamic"]["energy_J"].sum()
    trans = res[res["component"] == "transitions"]["energy_J"].sum()
    assert states + dynamic + trans == pytest.approx(s["compute_energy_J"], rel=1e-12)
    assert s["transition_energy_J"] == pytest.approx(trans, rel=1e-12)


@pytest.mark.parametrize("name", PROFILES)
def test_dynamic_energy_matches_op_table_by_hand(name, trace):
    """Second method: cost every op of every frame straight from the profile's numbers."""
    profile = load_profile(name)
    scenario = load_scenario(None, profile)
    r = simulate(profile, trace, scenario, baseline=False)
    counts = trace.frames["path"].value_counts()
    expected: dict[str, float] = {}
    for path, stages in trace.meta.paths.items():
        for st in stages:
            core_name = scenario.placement.get(st, scenario.default_core)
            core = profile.cores[core_name]
            opp = next(o for o in core.opps if o.name == scenario.opp[core_name])   # shipped scenarios name them
            joules = 0.0
            for op in trace.meta.stages[st].ops:
                cost = core.op_costs.get(op.kind, core.op_costs.get("default"))
                joules += op.macs * cost.energy_per_mac * (opp.voltage / core.ref_voltage) ** 2
                joules += (op.weight_bytes + op.act_in_bytes + op.act_out_bytes) * core.mem_energy_per_byte
            # Core-side energy reaches the rail through the regulator: an LDO passes current (efficiency = core
            # voltage / rail voltage), an SMPS power at its stated efficiency.
            supply = core.supply
            if supply is not None and supply.regulator == "ldo":
                joules /= min(1.0, opp.voltage / supply.voltage)
            elif supply is not None and supply.regulator == "smps":
                joules /= supply.efficiency
            expected[core_name] = expected.get(core_name, 0.0) + joules * counts[path]
    dyn = r.resources[r.resources["component"] == "dynamic"].set_index("resource")["energy_J"]
    for core_name, joules in expected.items():
        assert dyn[core_name] == pytest.approx(joules, rel=1e-9)


@pytest.mark.parametrize("name", PROFILES)
def test_lookahead_and_event_driven_engines_agree_bit_for_bit(name, trace):
    a = simulate(name, trace, lookahead=True)
    b = simulate(name, trace, lookahead=False)
    assert_same_run(a, b)


def test_same_inputs_same_numbers_bit_for_bit(trace):
    a = simulate("watch", trace)
    b = simulate("watch", trace)
    assert_same_run(a, b)


def test_light_routing_beats_the_dense_baseline(trace):
    r = simulate("watch", trace)
    s = r.summary
    assert s["baseline_battery_life_h"] < s["battery_life_h"]
    assert s["battery_gain_h"] == pytest.approx(s["battery_life_h"] - s["baseline_battery_life_h"], rel=1e-12)
    # The baseline run really put every frame on the full path.
    assert r.baseline["share_full"] == 1.0


def test_battery_life_from_power_by_hand(trace):
    r = simulate("earbud", trace, baseline=False)
    s, b = r.summary, load_profile("earbud").battery
    joules = b.capacity_ah * 3600 * b.voltage * b.usable_fraction
    watts = (s["compute_power_W"] + s["floor_power_W"]) / b.converter_efficiency + s["floor_battery_side_W"]
    assert s["battery_life_h"] == pytest.approx(joules / watts / 3600, rel=1e-12)


def test_synthetic_trace_is_reproducible_by_seed():
    a, b = synth_trace(60, seed=3), synth_trace(60, seed=3)
    c = synth_trace(60, seed=4)
    pd.testing.assert_frame_equal(a.frames, b.frames)
    assert not a.frames["path"].equals(c.frames["path"])
    assert np.array_equal(a.frames["score"] >= 0.5, a.frames["path"] == "full")


@pytest.mark.parametrize("name", PROFILES)
def test_timeline_tiles_the_window_and_matches_totals(name, trace):
    """A window covering the whole run: intervals tile it on every core and give back each state's residency."""
    r = simulate(name, trace, baseline=False, window=(0.0, 1e9))
    tl, t_end = r.timeline, r.summary["duration_s"]
    wake_energy = 0.0
    for core, group in tl.groupby("resource"):
        g = group.sort_values("start_s")
        assert g["start_s"].iloc[0] == 0.0 and g["end_s"].iloc[-1] == pytest.approx(t_end, rel=1e-12)
        assert np.allclose(g["start_s"].to_numpy()[1:], g["end_s"].to_numpy()[:-1], rtol=0, atol=1e-9)
        by_state = (g["end_s"] - g["start_s"]).groupby(g["state"]).sum()
        res = r.resources[(r.resources["resource"] == core) & r.resources["time_s"].notna()]
        # Interval lengths are differences of absolute times (~100 s), each good to ~1e-14 s.
        slack = 4 * np.finfo(float).eps * t_end * len(g)
        for state, seconds in zip(res["component"], res["time_s"]):
            assert by_state.get(state, 0.0) == pytest.approx(seconds, rel=1e-9, abs=slack), (core, state)
        # Energy from the intervals other than wake-ups (state power + dynamic power while active) is the core's
        # whole energy except lumped transition energy, which the wake-up intervals carry.
        energy = (g["end_s"] - g["start_s"]) * g["power_W"]
        wake = (g["state"] == "wake").to_numpy()
        parts = r.resources[(r.resources["resource"] == core) & (r.resources["component"] != "transitions")]
        # Each interval's length carries the same ~1e-14 s error, times its power (large for short link jobs).
        assert energy[~wake].sum() == pytest.approx(parts["energy_J"].sum(), rel=1e-9,
                                                    abs=slack * g["power_W"].max())
        wake_energy += energy[wake].sum()
    # Every wake-up's energy is drawn over its interval; sleep entries after the last frame have no wake-up.
    transitions = r.resources.loc[r.resources["component"] == "transitions", "energy_J"].sum()
    assert wake_energy == pytest.approx(transitions - r.summary["unattributed_energy_J"], rel=1e-9)


def test_baseline_cache_reuses_an_identical_baseline(trace):
    """Re-thresholding changes no frame of the all-dense baseline: it is simulated once, with the same numbers."""
    cache: dict = {}
    a = simulate("watch", trace.rethreshold(0.4), baseline_cache=cache)
    b = simulate("watch", trace.rethreshold(0.6), baseline_cache=cache)
    plain = simulate("watch", trace.rethreshold(0.6))
    assert len(cache) == 1 and same_figures(a.baseline, b.baseline)
    assert same_figures(b.summary, plain.summary)
    simulate("earbud", trace, baseline_cache=cache)            # another device: another baseline
    assert len(cache) == 2


def test_baseline_cache_key_is_what_the_dense_schedule_depends_on(trace):
    """A change to a core the dense path never visits, to the battery or to the deadline reuses the cached
    schedule, and the summary is still the one a fresh run gives (those enter when the result is assembled);
    a change to a core the dense path visits runs the baseline again."""
    from dslsim.hw.load import load_profile
    from dslsim.sim.scenario import load_scenario, parse_scenario

    profile = load_profile("phone")
    base = dict(profile.default_scenario)
    cache: dict = {}
    simulate(profile, trace, baseline_cache=cache)
    variants = [parse_scenario({**base, "opp": {**base["opp"], "little": "low"}}, profile),      # untouched core
                parse_scenario({**base, "sleep": {**base["sleep"], "little": {"core_off": "1 ms"}}}, profile),
                parse_scenario({**base, "deadline": "5 ms"}, profile)]
    battery = dataclasses.replace(profile, battery=dataclasses.replace(profile.battery,
                                                                       capacity_ah=profile.battery.capacity_ah / 2))
    for prof, scenario in [(profile, v) for v in variants] + [(battery, load_scenario(None, battery))]:
        cached = simulate(prof, trace, scenario, baseline_cache=cache)
        fresh = simulate(prof, trace, scenario)
        assert len(cache) == 1
        assert same_figures(cached.baseline, fresh.baseline) and same_figures(cached.summary, fresh.summary)
    assert battery.battery.usable_energy != profile.battery.usable_energy
    simulate(profile, trace, parse_scenario({**base, "opp": {**base["opp"], "big": "low"}}, profile),
             baseline_cache=cache)
    assert len(cache) == 2


def test_resource_table_counts_each_wakeup_once(trace):
    r = simulate("watch", trace, baseline=False)
    assert int(r.resources["wakeups"].sum()) == r.summary["wakeups"] == int(r.frames["wakeups"].sum())


def test_baseline_cache_keeps_a_binned_baseline_per_deadline(trace, monkeypatch):
    """A baseline whose latencies went to the histogram cannot recount its late frames against another deadline:
    it is replayed once per deadline and then reused, not replayed again each time the deadline changes (a sweep
    with the deadline as its fastest axis replayed it for every point), and every summary is a fresh run's."""
    from dslsim.hw.load import load_profile
    from dslsim.sim import accumulate, run
    from dslsim.sim.scenario import parse_scenario

    monkeypatch.setattr(accumulate, "EXACT_LATENCIES", 1000)        # binned after 1,000 frames
    profile = load_profile("watch")
    scenarios = [parse_scenario({**profile.default_scenario, "deadline": d}, profile) for d in ("5 ms", "30 ms")]
    replays = []
    real_replay = run._replay
    monkeypatch.setattr(run, "_replay", lambda plan, source, runs, *rest: (replays.append(len(runs)),
                                                                            real_replay(plan, source, runs, *rest)))
    cache: dict = {}
    for threshold in (0.3, 0.5, 0.7):
        for scenario in scenarios:
            cached = simulate(profile, trace.rethreshold(threshold), scenario, baseline_cache=cache)
            fresh = simulate(profile, trace.rethreshold(threshold), scenario)
            assert same_figures(cached.baseline, fresh.baseline) and same_figures(cached.summary, fresh.summary)
    with_cache = replays[0::2]                                      # each cached call, then its fresh twin
    assert with_cache == [2, 2, 1, 1, 1, 1]                         # run + baseline for each deadline, then the run
    assert len(cache) == 1 and len(next(iter(cache.values()))) == 2
