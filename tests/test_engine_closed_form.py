"""Closed-form cases: every expected number below is worked out by hand from the SIMPLE profile.

SIMPLE core 'a' at opp 'full': 100 MHz, 1 V, 1 MAC/cycle, 10 pJ/MAC, leakage 1 mW, idle = 1 + 1 = 2 mW;
sleep 's1': 0.1 mW, exit 100 us, entry 1 uJ + exit 2 uJ. Core 'b': 100 MHz, 20 pJ/MAC, leakage 2 mW,
idle 4 mW, sleep 'off': 0 W, exit 500 us, 5 uJ + 5 uJ. Link a<->b: 50 us + bytes / (1 MB/s), 1 nJ/B.
Stage 'front' = 100 kMAC (1 ms, 1 uJ on 'a'), 'back' = 200 kMAC (2 ms, 4 uJ on 'b'), 'front' outputs 100 B.
Frames arrive every 10 ms and are ready one frame (10 ms) later.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_trace, simple_profile, stage
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario

REL = 1e-9


@pytest.fixture(autouse=True, params=[True, False], ids=["lookahead", "events"])
def engine_mode(request, monkeypatch):
    """Every case runs twice: with lookahead batching and purely event-driven."""
    monkeypatch.setattr(__import__(__name__), "LOOKAHEAD", request.param)


LOOKAHEAD = True


def run(trace, scenario: dict, profile=None, baseline=False):
    profile = profile or simple_profile()
    return simulate(profile, trace, parse_scenario(scenario, profile), baseline=baseline, lookahead=LOOKAHEAD)


def residency(result, core: str) -> dict[str, float]:
    df = result.resources
    rows = df[(df["resource"] == core) & df["time_s"].notna()]
    return dict(zip(rows["component"], rows["time_s"]))


def energy(result, core: str, component: str) -> float:
    df = result.resources
    return float(df[(df["resource"] == core) & (df["component"] == component)]["energy_J"].sum())


def test_one_core_periodic_no_sleep_energy_and_residency():
    r = run(make_trace(["light"] * 100), {"placement": {"default": "a"}, "opp": {"a": "full"}})
    s = r.summary
    # Last frame: arrives 0.99 s, ready 1.00 s, done 1.001 s.
    assert s["duration_s"] == pytest.approx(1.001, rel=REL)
    res = residency(r, "a")
    assert res["active"] == pytest.approx(100 * 1e-3, rel=REL)
    assert res["idle"] == pytest.approx(1.001 - 0.1, rel=REL)
    assert energy(r, "a", "active") == pytest.approx(0.1 * 1e-3, rel=REL)      # leakage while busy
    assert energy(r, "a", "idle") == pytest.approx(0.901 * 2e-3, rel=REL)
    assert energy(r, "a", "dynamic") == pytest.approx(100 * 1e-6, rel=REL)
    assert energy(r, "b", "idle") == pytest.approx(1.001 * 4e-3, rel=REL)      # b never runs, never sleeps
    # (0.1 + 1.802 + 0.1 + 4.004) mJ over 1.001 s = 6 mW; + 1 mW floor; / 0.8 converter = 8.75 mW.
    assert s["compute_power_W"] == pytest.approx(6e-3, rel=REL)
    assert s["always_on_power_W"] == pytest.approx(7e-3, rel=REL)
    assert s["battery_power_W"] == pytest.approx(8.75e-3, rel=REL)
    # 100 mAh * 4 V * 0.5 usable = 720 J; 720 J / 8.75 mW = 82285.714 s.
    assert s["battery_life_h"] == pytest.approx(720 / 8.75e-3 / 3600, rel=REL)
    assert np.allclose(r.frames["latency_s"], 1e-3, rtol=REL)
    assert s["wakeups"] == 0 and s["deadline_misses"] == 0


def test_voltage_squared_scaling_and_frequency_at_lower_opp():
    r = run(make_trace(["light"] * 10), {"placement": {"default": "a"}, "opp": {"a": "half"}})
    # 50 MHz: 100 kMAC take 2 ms; 0.5 V vs 1 V reference: 10 pJ * 0.25 per MAC.
    assert np.allclose(r.frames["latency_s"], 2e-3, rtol=REL)
    assert energy(r, "a", "dynamic") == pytest.approx(10 * 100_000 * 10e-12 * 0.25, rel=REL)


HEAVY = [0, 1, 2, 10, 11, 30, 60, 61]


def heavy_trace():
    return make_trace(["full" if i in HEAVY else "light" for i in range(70)])


@pytest.mark.parametrize("timeout_ms, wakes", [
    # 5 ms < the 8 ms gap b sees between consecutive heavy frames: b sleeps and wakes for each of the 8.
    (5, len(HEAVY)),
    # 50 ms: no sleep inside a burst; the first burst finds b idle only 11.15 ms (< 50), so it does not
    # wake; the bursts at frames 10, 30 and 60 follow gaps of 78, 188 and 297.5 ms: 3 wake-ups.
    (50, 3),
])
def test_sleep_timeout_vs_gap_between_heavy_frames(timeout_ms, wakes):
    scenario = {"placement": {"default": "a", "back": "b"}, "opp": {"a": "full"},
                "sleep": {"b": {"off": f"{timeout_ms} ms"}}}
    r = run(heavy_trace(), scenario)
    s = r.summary
    assert s["wakeups"] == wakes
    assert int(r.frames["wakeups"].sum()) == wakes
    # Each wake-up costs 5 + 5 uJ; after the last heavy frame (done at 623.15 ms) b idles 77.85 ms until
    # the run ends at 701 ms, long enough to enter 'off' once more (5 uJ, charged to no frame).
    assert energy(r, "b", "transitions") == pytest.approx(wakes * 10e-6 + 5e-6, rel=REL)
    assert s["unattributed_energy_J"] == pytest.approx(5e-6, rel=REL)
    lat = r.frames.set_index("frame")["latency_s"]
    # front 1 ms + link 100 B / 1 MB/s = 100 us + 50 us latency + (wake 500 us) + back 2 ms.
    woke = r.frames.set_index("frame")["wakeups"] > 0
    for i in HEAVY:
        expected = 1e-3 + 150e-6 + (500e-6 if woke[i] else 0.0) + 2e-3
        assert lat[i] == pytest.approx(expected, rel=REL)
    assert energy(r, "a<->b", "dynamic") == pytest.approx(len(HEAVY) * 100 * 1e-9, rel=REL)


def test_entry_latency_delays_a_wake_up_that_arrives_mid_entry():
    profile = simple_profile(cores={"a": {"sleep": {"s1": {"power": "0.1 mW", "entry_latency": "4.5 ms",
                                                           "exit_latency": "100 us"}}}})
    r = run(make_trace(["light"] * 5), {"placement": {"default": "a"}, "opp": {"a": "full"},
                                        "sleep": {"a": {"s1": "5 ms"}}}, profile)
    lat = r.frames["latency_s"].to_numpy()
    # Frame 0: idle 10 ms > 5 + 4.5 ms, entry finished: wake = 100 us.
    assert lat[0] == pytest.approx(1.1e-3, rel=REL)
    # Frame k >= 1 finds a idle for gap_k = 10 ms - latency_{k-1}; entry ends 9.5 ms into the gap, so the
    # wake waits 9.5 - gap_k = latency_{k-1} - 0.5 ms more, plus 0.1 ms exit and 1 ms work:
    # latency_k = latency_{k-1} + 0.6 ms -> 1.7, 2.3, 2.9, 3.5 ms.
    assert lat[1:] == pytest.approx([1.7e-3, 2.3e-3, 2.9e-3, 3.5e-3], rel=REL)


def test_saturated_core_queues_with_predicted_delay():
    trace = make_trace(["slow"] * 20, stages={"work": stage("work", 1_500_000)}, paths={"slow": ["work"]},
                       dense="slow")
    r = run(trace, {"placement": {"default": "a"}, "opp": {"a": "full"}, "deadline": "20 ms"})
    lat = r.frames["latency_s"].to_numpy()
    # 15 ms of work every 10 ms: frame i starts at 10 + 15 i ms, waits 5 i ms; latency = 15 + 5 i ms.
    assert np.allclose(lat, 15e-3 + 5e-3 * np.arange(20), rtol=REL)
    # Latency > 20 ms for i > 1: 18 misses.
    assert r.summary["deadline_misses"] == 18


def test_saturated_core_drops_frames_that_find_it_busy():
    trace = make_trace(["slow"] * 20, stages={"work": stage("work", 1_500_000)}, paths={"slow": ["work"]},
                       dense="slow")
    r = run(trace, {"placement": {"default": "a"}, "opp": {"a": "full"}, "when_busy": "drop"})
    dropped = r.frames["dropped"].to_numpy()
    # Frame 0 holds the core 10-25 ms, so frame 1 (ready at 20 ms) is dropped, frame 2 (30 ms) runs, ...
    assert dropped.tolist() == [i % 2 == 1 for i in range(20)]
    assert np.allclose(r.frames["latency_s"][~dropped], 15e-3, rtol=REL)
    assert r.summary["dropped"] == 10


def test_handover_that_arrives_first_is_served_first():
    # 'light' frames run 'solo' (6 ms) on b directly; 'full' frames run 'front' on a, then 'back' on b.
    # Frame 0 (full) reaches b at 10 + 1 + 0.15 = 11.15 ms; frame 1 (solo) is ready at 20 ms. If frame 1
    # were ready first it would have to wait: here it must not, b is free again at 13.15 ms.
    stages = {"front": stage("front", 100_000, 100), "back": stage("back", 200_000, in_bytes=100),
              "solo": stage("solo", 600_000)}
    trace = make_trace(["full", "light", "full", "light"], stages=stages,
                       paths={"light": ["solo"], "full": ["front", "back"]})
    r = run(trace, {"placement": {"default": "a", "back": "b", "solo": "b"}, "opp": {"a": "full"}})
    lat = r.frames["latency_s"].to_numpy()
    assert lat == pytest.approx([3.15e-3, 6e-3, 3.15e-3, 6e-3], rel=REL)


def test_fifo_order_when_a_handover_beats_a_waiting_arrival():
    # b serves 'solo' frames directly and 'back' after a hop through a. Frame 0 (full): ready 10 ms, a busy
    # until 20 ms (front = 1 MMAC = 10 ms), reaches b at 20.15 ms. Frame 1 (solo): ready at 20 ms, first.
    # So b runs frame 1 at 20-26 ms, then frame 0 at 26-28 ms: FIFO by arrival at b.
    stages = {"front": stage("front", 1_000_000, 100), "back": stage("back", 200_000, in_bytes=100),
              "solo": stage("solo", 600_000)}
    trace = make_trace(["full", "light"], stages=stages, paths={"light": ["solo"], "full": ["front", "back"]})
    r = run(trace, {"placement": {"default": "a", "back": "b", "solo": "b"}, "opp": {"a": "full"}})
    f = r.frames
    assert f["start_s"].tolist() == pytest.approx([10e-3, 20e-3], rel=REL)
    assert f["end_s"].tolist() == pytest.approx([28e-3, 26e-3], rel=REL)


def test_cycle_between_cores_is_served_in_fifo_order():
    # 'full' goes a -> b -> a (post-processing back on a): a and b feed each other, so both are event-driven.
    # Frame 0 (full): front on a 10-11 ms, link 150 us, back on b 11.15-13.15 ms, link 150 us, post on a
    # 13.3-14.3 ms. Frame 1 (light) ready at 20 ms: a idle, 20-21 ms.
    stages = {"front": stage("front", 100_000, 100), "back": stage("back", 200_000, 100, in_bytes=100),
              "post": stage("post", 100_000, in_bytes=100)}
    trace = make_trace(["full", "light", "full"], stages=stages,
                       paths={"light": ["front"], "full": ["front", "back", "post"]})
    r = run(trace, {"placement": {"default": "a", "back": "b"}, "opp": {"a": "full"}})
    f = r.frames
    assert f["end_s"].tolist() == pytest.approx([14.3e-3, 21e-3, 34.3e-3], rel=REL)
    assert f["cores"].astype(str).tolist() == ["a+b+a<->b", "a", "a+b+a<->b"]


def test_link_carries_what_the_receiving_stage_reads():
    # 'front' writes a 1-byte decision, but 'back' reads the 64-byte latent kept from earlier: the hand-off moves
    # 64 B (64 us at 1 MB/s + 50 us latency, 64 nJ), not the 1 byte the previous stage produced.
    stages = {"front": stage("front", 100_000, out_bytes=1), "back": stage("back", 200_000, in_bytes=64)}
    trace = make_trace(["full"], stages=stages, paths={"full": ["front", "back"]})
    r = run(trace, {"placement": {"default": "a", "back": "b"}, "opp": {"a": "full"}})
    assert r.frames["latency_s"].iloc[0] == pytest.approx(1e-3 + 64e-6 + 50e-6 + 2e-3, rel=REL)
    assert energy(r, "a<->b", "dynamic") == pytest.approx(64e-9, rel=REL)
