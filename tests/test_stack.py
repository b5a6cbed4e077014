"""Stacks: gates against call counts worked out by hand, priorities on a contention case worked by hand, the
attribution against a hand calculation on SIMPLE and adding up to the battery draw, per-model keeping up, both
engines bit for bit on random stacks, and bad stack files refused with the file and key path."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import SIMPLE, ROOT, make_trace, simple_profile, stage
from dslsim.errors import DslsimError, InputError
from dslsim.sim.run import simulate
from dslsim.sim.stack import load_stack
from dslsim.sim.stack_run import OTHER_ROWS, simulate_stack
from dslsim.trace.io import write_trace


def one_path_trace(folder, name, rate, seconds, macs, *, score=None, offset=0.0):
    """A one-path, one-stage trace file of ``seconds`` at ``rate`` calls/s, frames arriving ``offset`` s late, with
    an optional per-frame 'score' column; returns its file name."""
    n = int(round(seconds * rate))
    trace = make_trace(["run"] * n, frame_rate=rate, stages={name: stage(name, macs)}, paths={"run": [name]},
                       dense="run")
    trace.frames["t_arrival"] = np.arange(n) / rate + offset
    if score is not None:
        trace.frames["score"] = score(np.arange(n))
    write_trace(trace, folder / f"{name}.parquet")
    return f"{name}.parquet"


def write_stack(folder, doc) -> str:
    path = folder / "stack.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def model_rows(result) -> pd.DataFrame:
    return result.models[result.models["kind"] == "model"].set_index("part")


# Gates ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def cascade(tmp_path):
    """det (100 Hz) fires at frames 100, 600, 1100, 1600: ready at 1.01, 6.01, 11.01, 16.01 s, scores known at its
    10 ms deadline, so its gate opens at 1.02, 6.02, 11.02, 16.02 s for 1.5 s. kw (40 Hz, ready every 25 ms) then
    runs for calls ready in [1.02, 2.52) and so on: 0.025 j for j = 41..100, 60 calls per opening, 240 in all.
    kw's own score fires at its frames 50, 250, 450, 650 (ready 1.275, 6.275, 11.275, 16.275 s: all inside det's
    openings) and at frame 150 (ready 3.775 s, where det's gate is shut: that call is never made, so it fires
    nothing). With kw's deadline of 27 ms, big (50 Hz, ready every 20 ms) runs in [1.302, 1.802) and so on: 0.02 j
    for j = 66..90, 25 calls per opening, 100 in all."""
    det = one_path_trace(tmp_path, "det", 100.0, 20.0, 20_000, score=lambda i: (i % 500 == 100).astype(float))
    kw = one_path_trace(tmp_path, "kw", 40.0, 20.0, 40_000,
                        score=lambda i: np.isin(i, [50, 150, 250, 450, 650]).astype(float))
    big = one_path_trace(tmp_path, "big", 50.0, 20.0, 300_000)
    doc = {"name": "cascade", "scenario": {"placement": {"default": "a"}, "opp": {"a": "full"},
                                           "sleep": {"a": {"s1": "2 ms"}}},
           "models": {"det": {"trace": det, "priority": 2},
                      "kw": {"trace": kw, "gate": {"model": "det", "threshold": 0.5, "hold": "1.5 s"},
                             "priority": 1, "deadline": "27 ms"},
                      "big": {"trace": big, "gate": {"model": "kw", "threshold": 0.5, "hold": "0.5 s"}}}}
    return tmp_path, doc


def test_gates_let_through_the_calls_worked_out_by_hand(cascade):
    folder, doc = cascade
    result = simulate_stack(simple_profile(), write_stack(folder, doc))
    rows = model_rows(result)
    assert rows.loc["det", "calls"] == 2000 and rows.loc["kw", "calls"] == 240 and rows.loc["big", "calls"] == 100
    # Ungated: every model at its full rate for the 20 s.
    assert rows["ungated_calls"].tolist() == [2000, 800, 1000]
    assert result.summary.frames == 2340 and result.baseline.frames == 3800


def test_a_gate_open_a_known_share_of_the_time_makes_that_share_of_the_calls(tmp_path):
    """det fires once a second (frame 100 k + 37), hold 0.25 s: the gate is open a quarter of the time, so kw at
    40 Hz makes 10 calls a second, 600 in 60 s (each opening at k + 0.39 s covers the kw calls ready at 0.025 j in
    [k + 0.39, k + 0.64): j = 40 k + 16 .. 40 k + 25)."""
    det = one_path_trace(tmp_path, "det", 100.0, 60.0, 20_000, score=lambda i: (i % 100 == 37).astype(float))
    kw = one_path_trace(tmp_path, "kw", 40.0, 60.0, 40_000)
    doc = {"scenario": {"placement": {"default": "a"}},
           "models": {"det": {"trace": det}, "kw": {"trace": kw, "gate": {"model": "det", "threshold": 0.9,
                                                                           "hold": "250 ms"}}}}
    result = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False)
    assert model_rows(result).loc["kw", "calls"] == 600
    # 'below': every call but det's firing ones fires; the gate then never shuts (hold 250 ms >> 10 ms).
    doc["models"]["kw"]["gate"]["when"] = "below"
    result = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False)
    # Open from det's first non-firing call's score (ready 10 ms + 10 ms deadline = 20 ms): kw calls ready at
    # 25 ms onward, all 2400 of them.
    assert model_rows(result).loc["kw", "calls"] == 2400


def test_rate_and_duration_loop_and_rescale_a_trace(tmp_path):
    """A 2 s trace at 50 Hz replayed at 100 Hz covers 1 s, so a 10 s stack loops it ten times: 1000 calls."""
    loop = one_path_trace(tmp_path, "loop", 50.0, 2.0, 20_000)
    doc = {"duration": "10 s", "scenario": {"placement": {"default": "a"}},
           "models": {"loop": {"trace": loop, "rate": "100 Hz"}}}
    result = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False, frames=True)
    assert model_rows(result).loc["loop", "calls"] == 1000
    ready = result.frames["ready_s"].to_numpy()
    np.testing.assert_allclose(ready, (np.arange(1000) + 1) / 100.0, rtol=0, atol=1e-9)
    assert result.frames["frame"].tolist() == list(range(1000))
    assert (result.frames["path"] == "loop:run").all()


def test_a_model_file_calls_at_its_rate(tmp_path):
    """An op table as a model: one call per period, here 25 calls in 0.5 s at 50 Hz beside a 0.5 s trace."""
    (tmp_path / "kws.csv").write_text("name,kind,macs\nconv,conv1d,100000\nfc,linear,1000\n")
    base = one_path_trace(tmp_path, "base", 100.0, 0.5, 10_000)
    doc = {"scenario": {"placement": {"default": "a"}},
           "models": {"base": {"trace": base}, "kws": {"model": "kws.csv", "rate": "50 Hz"}}}
    result = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False)
    rows = model_rows(result)
    assert rows.loc["kws", "calls"] == 25 and rows.loc["base", "calls"] == 50
    # 101,000 MACs at 1 MAC/cycle, 100 MHz: 1.01 ms per call, 10 pJ/MAC + 1 mW x 1.01 ms.
    assert rows.loc["kws", "energy_per_call_uJ"] == pytest.approx(1.01 + 1.01, rel=1e-9)


# Priorities ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["batch", "reference"])
def test_a_shared_core_serves_the_higher_priority_first(tmp_path, engine):
    """c runs 0-5 ms of each 10 ms; a (ready at 1 ms) and b (ready at 2 ms) wait for it. First come, first served:
    a 5-8 ms (latency 7 ms), b 8-9 ms (7 ms). b above a: b 5-6 ms (4 ms), a 6-9 ms (8 ms)."""
    for (pa, pb), (lat_a, lat_b) in (((0, 0), (7e-3, 7e-3)), ((0, 5), (8e-3, 4e-3)), ((5, 0), (7e-3, 7e-3))):
        result = simulate_stack(simple_profile(), write_stack(tmp_path, _contention_doc(tmp_path, pa, pb)),
                                baseline=False, frames=True, engine=engine)
        frames = result.frames
        for model, latency in (("a", lat_a), ("b", lat_b)):
            lat = frames.loc[frames["path"] == f"{model}:run", "latency_s"].to_numpy()
            np.testing.assert_allclose(lat, latency, rtol=0, atol=1e-12)


def _contention_doc(tmp_path, prio_a, prio_b, order=("c", "a", "b")):
    files = {"c": one_path_trace(tmp_path, "c", 100.0, 1.0, 500_000),
             "a": one_path_trace(tmp_path, "a", 100.0, 1.0, 300_000, offset=0.001),
             "b": one_path_trace(tmp_path, "b", 100.0, 1.0, 100_000, offset=0.002)}
    prio = {"c": 0, "a": prio_a, "b": prio_b}
    return {"duration": "1 s", "scenario": {"placement": {"default": "a"}},
            "models": {m: {"trace": files[m], "priority": prio[m], "deadline": "20 ms"} for m in order}}


def test_calls_ready_together_go_by_priority_then_model_order(tmp_path):
    """x and y (1 ms each) ready at the same instants: at equal priority the model listed first runs first."""
    x = one_path_trace(tmp_path, "x", 100.0, 1.0, 100_000)
    y = one_path_trace(tmp_path, "y", 100.0, 1.0, 100_000)
    for order, prio, first in ((("x", "y"), (0, 0), "x"), (("y", "x"), (0, 0), "y"), (("x", "y"), (0, 1), "y")):
        doc = {"scenario": {"placement": {"default": "a"}},
               "models": {m: {"trace": {"x": x, "y": y}[m], "priority": p} for m, p in zip(order, prio)}}
        frames = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False, frames=True).frames
        lat = frames.groupby("path", observed=True)["latency_s"].max()
        assert lat[f"{first}:run"] == pytest.approx(1e-3, abs=1e-12)
        assert lat[f"{({'x', 'y'} - {first}).pop()}:run"] == pytest.approx(2e-3, abs=1e-12)


# Attribution ---------------------------------------------------------------------------------------------------


def test_attribution_of_one_model_worked_by_hand(tmp_path):
    """SIMPLE, no sleep policy: one model, 100 calls of 100 kMAC on core 'a' (1 ms, 1 uJ of ops + 1 mW x 1 ms of
    running power each) at 100 Hz; the run ends at 1.001 s (the last call, ready at 1.0 s, ends 1 ms later).
    Core a waits 0.901 s at 2 mW (leakage + idle) and rests at 0.1 mW (its sleep state s1): the model's share is
    100 x 2 uJ + 0.901 s x 2 mW - 1.001 s x 0.1 mW. Core b is no model's: 4 mW (leakage + idle) for 1.001 s, above
    its resting 0 W. At the battery (converter 80 %): each divided by 0.8 x 1.001 s; floor 1 mW / 0.8."""
    m = one_path_trace(tmp_path, "m", 100.0, 1.0, 100_000)
    doc = {"scenario": {"placement": {"default": "a"}}, "models": {"m": {"trace": m}}}
    result = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False)
    t = result.models.set_index("part")
    T = 1.001
    model_J = 100 * 2e-6 + 0.901 * 2e-3 - T * 0.1e-3
    assert t.loc["m", "energy_J"] == pytest.approx(model_J, rel=1e-9)
    assert t.loc["m", "power_mW"] == pytest.approx(1e3 * model_J / T / 0.8, rel=1e-9)
    assert t.loc[OTHER_ROWS[0], "power_mW"] == pytest.approx(4.0 / 0.8, rel=1e-9)
    assert t.loc[OTHER_ROWS[1], "power_mW"] == pytest.approx(0.1 / 0.8, rel=1e-9)
    assert t.loc[OTHER_ROWS[2], "power_mW"] == pytest.approx(1.0 / 0.8, rel=1e-9)
    amps = t.loc["m", "power_mW"] / 1e3 / 4.0            # the battery's 4 V
    assert t.loc["m", "mAh_per_day"] == pytest.approx(24e3 * amps, rel=1e-12)
    assert t.loc["m", "pct_per_day"] == pytest.approx(100 * 24 * amps / 0.1, rel=1e-12)   # of 100 mAh


def test_a_shared_core_s_waiting_is_split_by_busy_time(tmp_path):
    """p (1 ms per call) and q (3 ms per call) share core a at 100 Hz each for 1 s: q's share of a's waiting above
    rest is 3/4. Waiting: T - 0.4 s at 2 mW, T = 1.0 + 0.004 s (q's last call, ready with p's at 1.0 s, runs
    after it: p is listed first)."""
    p = one_path_trace(tmp_path, "p", 100.0, 1.0, 100_000)
    q = one_path_trace(tmp_path, "q", 100.0, 1.0, 300_000)
    doc = {"scenario": {"placement": {"default": "a"}},
           "models": {"p": {"trace": p, "deadline": "10 ms"}, "q": {"trace": q, "deadline": "10 ms"}}}
    t = simulate_stack(simple_profile(), write_stack(tmp_path, doc), baseline=False).models.set_index("part")
    T = 1.004
    excess = (T - 0.4) * 2e-3 - T * 0.1e-3
    assert t.loc["p", "energy_J"] == pytest.approx(100 * 2e-6 + excess / 4, rel=1e-9)
    assert t.loc["q", "energy_J"] == pytest.approx(100 * 6e-6 + 3 * excess / 4, rel=1e-9)
    assert t.loc["p", "busy_pct"] == pytest.approx(100 * 0.1 / T, rel=1e-9)


def test_the_rows_add_up_to_the_battery_draw(cascade):
    folder, doc = cascade
    for engine in ("batch", "reference"):
        result = simulate_stack(simple_profile(), write_stack(folder, doc), engine=engine)
        s, t = result.summary, result.models
        parts = t[t["kind"] != "total"]
        assert parts["power_mW"].sum() == pytest.approx(1e3 * s.battery_power_W, rel=1e-12)
        assert t.iloc[-1]["power_mW"] == pytest.approx(1e3 * s.battery_power_W, rel=1e-12)
        features = t[t["kind"] == "model"]["power_mW"].sum() + t.set_index("part").loc[OTHER_ROWS[0], "power_mW"]
        assert features == pytest.approx(1e3 * s.feature_power_W, rel=1e-9)
        assert parts["pct_per_day"].sum() == pytest.approx(s.battery_pct_per_day, rel=1e-12)
        # The same for the ungated run (every model at its full rate).
        assert t["ungated_pct_per_day"].iloc[:-1].sum() == pytest.approx(result.baseline.battery_pct_per_day,
                                                                          rel=1e-12)
        assert s.battery_gain_pct == pytest.approx(100 * (s.battery_life_h / result.baseline.battery_life_h - 1))


def test_a_model_that_misses_its_deadline_leaves_no_battery_figure_anywhere(cascade):
    """big takes 3 ms per call: with a 2 ms deadline every call misses, so the stack does not keep up."""
    folder, doc = cascade
    doc = copy.deepcopy(doc)
    doc["models"]["big"]["deadline"] = "2 ms"
    result = simulate_stack(simple_profile(), write_stack(folder, doc))
    s, rows = result.summary, model_rows(result)
    assert not s.keeps_up and s.queue_stable and math.isnan(s.battery_life_h) and math.isnan(s.feature_pct_per_day)
    assert rows["keeps_up"].tolist() == [True, True, False]
    assert rows.loc["big", "deadline_miss_rate"] == 1.0
    assert result.models["pct_per_day"].isna().all() and result.models["power_mW"].isna().all()
    assert "model 'big'" in s.shortfall and any("model 'big'" in w for w in result.warnings)


def test_python_entry_points_agree(cascade):
    folder, doc = cascade
    path = write_stack(folder, doc)
    a = simulate(simple_profile(), stack=path, frames=False)
    b = simulate_stack(simple_profile(), path)
    pd.testing.assert_frame_equal(a.models, b.models)
    with pytest.raises(DslsimError, match="not both"):
        simulate(simple_profile(), ROOT / "traces" / "dsl-75hz-10min.parquet", stack=path)


# Both engines, bit for bit --------------------------------------------------------------------------------------


def random_stack(tmp_path, seed):
    rng = np.random.default_rng(seed)
    models = {}
    names = ["m0", "m1", "m2", "m3"][: int(rng.integers(2, 5))]
    for i, name in enumerate(names):
        rate = float(rng.choice([50.0, 75.0, 100.0, 200.0]))
        seconds = float(rng.choice([2.0, 3.0]))
        fires = rng.random(int(seconds * rate)) < rng.uniform(0.01, 0.2)
        f = one_path_trace(tmp_path, f"{name}", rate, seconds, int(rng.integers(20_000, 400_000)),
                           score=lambda idx, fires=fires: fires[idx].astype(float), offset=float(rng.uniform(0, 3e-3)))
        spec = {"trace": f, "priority": int(rng.integers(0, 3)), "placement": {"default": str(rng.choice(["a", "b"]))}}
        if i > 0 and rng.random() < 0.7:
            spec["gate"] = {"model": names[int(rng.integers(0, i))], "threshold": 0.5,
                            "hold": f"{int(rng.integers(20, 400))} ms"}
        if rng.random() < 0.3:
            spec["deadline"] = "50 ms"
        models[name] = spec
    scenario = {"placement": {"default": "a"}, "when_busy": str(rng.choice(["queue", "drop"])),
                "sleep": {"a": {"s1": f"{int(rng.integers(1, 5))} ms"}, "b": {"off": f"{int(rng.integers(1, 9))} ms"}}}
    return write_stack(tmp_path, {"duration": "5 s", "scenario": scenario, "models": models})


@pytest.mark.parametrize("seed", range(6))
def test_both_engines_replay_a_random_stack_bit_for_bit(tmp_path, seed, monkeypatch):
    from dslsim.sim.engine import batch

    monkeypatch.setattr(batch, "WINDOW_FRAMES", 97)   # decisions carried across many windows
    path = random_stack(tmp_path, seed)
    a = simulate_stack(simple_profile(), path, engine="batch", frames=True)
    b = simulate_stack(simple_profile(), path, engine="reference", frames=True)
    pd.testing.assert_frame_equal(a.frames, b.frames, check_exact=True)
    pd.testing.assert_frame_equal(a.resources, b.resources, check_exact=True)
    pd.testing.assert_frame_equal(a.models, b.models, check_exact=True)
    assert a.summary.to_dict().keys() == b.summary.to_dict().keys()
    assert all(x == y or (x != x and y != y) for x, y in zip(a.summary.to_dict().values(),
                                                              b.summary.to_dict().values()))


def test_the_same_stack_gives_the_same_numbers(cascade):
    folder, doc = cascade
    path = write_stack(folder, doc)
    pd.testing.assert_frame_equal(simulate_stack(simple_profile(), path).models,
                                  simulate_stack(simple_profile(), path).models, check_exact=True)


# Bad stacks ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, key, found", [
    (lambda d: d["models"]["kw"]["gate"].update(model="dte"), "models.kw.gate.model", "'dte'"),
    (lambda d: d["models"]["det"].update(gate={"model": "big", "threshold": 0.5, "hold": "1 s"}),
     "gate.model", "cycle of gates"),
    (lambda d: d["models"]["kw"].update(gate={"model": "kw", "threshold": 0.5, "hold": "1 s"}),
     "models.kw.gate.model", "cycle of gates kw -> kw"),
    (lambda d: d["models"]["kw"].update(rate="0 Hz"), "models.kw.rate", "'0 Hz'"),
    (lambda d: d["models"]["kw"].update(rate="-5 Hz"), "models.kw.rate", "'-5 Hz'"),
    (lambda d: d["models"]["kw"]["gate"].update(hold="0 s"), "models.kw.gate.hold", "'0 s'"),
    (lambda d: d["models"]["kw"]["gate"].update(threshold=1.5), "models.kw.gate.threshold", "1.5"),
    (lambda d: d["models"]["kw"]["gate"].update(treshold=0.5), "models.kw.gate.treshold", "unknown key"),
    (lambda d: d["models"]["kw"].update(gaet={}), "models.kw.gaet", "unknown key"),
    (lambda d: d.update(modles={}), "modles", "unknown key"),
    (lambda d: d["models"]["kw"].update(model="kw.pt"), "models.kw", "trace and model"),
    (lambda d: d["models"]["kw"].pop("trace") and d["models"]["kw"].update(model="kw.pt"), "models.kw.model",
     "'kw.pt'"),
    (lambda d: d["models"]["kw"].pop("trace"), "models.kw", "neither trace nor model"),
    (lambda d: d["models"]["kw"].update(trace="nowhere.parquet"), "models.kw.trace", "'nowhere.parquet'"),
    (lambda d: d["models"]["kw"]["gate"].update(score="loudness"), "models.kw.gate.score", "'loudness'"),
    (lambda d: d["models"]["kw"].update(priority=1.5), "models.kw.priority", "1.5"),
    (lambda d: d["models"]["kw"].update(placement={"kw_typo": "a"}), "models.kw.placement.kw_typo", "kw_typo"),
    (lambda d: d["models"].update({"k:w": d["models"].pop("kw")}), "models.k:w", "'k:w'"),
    (lambda d: d.update(duration="-1 h"), "duration", "'-1 h'"),
])
def test_a_bad_stack_is_refused_with_file_and_key_path(cascade, change, key, found):
    folder, doc = cascade
    doc = copy.deepcopy(doc)
    change(doc)
    path = write_stack(folder, doc)
    with pytest.raises(InputError) as err:
        load_stack(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and key in message and found in message


def test_a_gate_on_a_model_file_or_an_unknown_core_is_refused(cascade):
    folder, doc = cascade
    (folder / "kws.csv").write_text("name,kind,macs\nconv,conv1d,1000\n")
    bad = copy.deepcopy(doc)
    bad["models"]["kw"] = {"model": "kws.csv", "rate": "40 Hz", "gate": {"model": "det", "threshold": 0.5,
                                                                         "hold": "1 s"}}
    path = write_stack(folder, bad)
    with pytest.raises(InputError, match=r"models\.big\.gate\.model.*a model file \(no scores\)"):
        load_stack(path)
    bad = copy.deepcopy(doc)
    bad["models"]["big"]["placement"] = {"default": "npu"}
    with pytest.raises(InputError, match=r"models\.big\.placement\.default.*'npu'.*a core of profile 'simple'"):
        simulate_stack(simple_profile(), write_stack(folder, bad))
    bad = copy.deepcopy(doc)
    bad["scenario"]["placement"]["decoder"] = "b"      # names a stage no model has: a typo
    with pytest.raises(DslsimError, match="decoder"):
        simulate_stack(simple_profile(), write_stack(folder, bad))


def test_the_cli_refuses_a_bad_stack_in_one_paragraph(cascade, tmp_path):
    from click.testing import CliRunner

    from dslsim.cli.main import cli

    folder, doc = cascade
    doc = copy.deepcopy(doc)
    doc["models"]["kw"]["gate"]["model"] = "dte"
    path = write_stack(folder, doc)
    profile = folder / "simple.yaml"
    profile.write_text(yaml.safe_dump(SIMPLE))
    out = folder / "out"
    res = CliRunner().invoke(cli, ["simulate", "-p", str(profile), "--stack", path, "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "models.kw.gate.model" in res.output and "'dte'" in res.output
    assert not out.exists()
    res = CliRunner().invoke(cli, ["simulate", "-p", str(profile), "--stack", path, "-t", "dsl-75hz-10min"])
    assert res.exit_code == 2 and "exclude each other" in res.output


# Sweeps --------------------------------------------------------------------------------------------------------


def test_a_sweep_varies_a_stack_s_gates_and_runs_its_ungated_baseline_once(cascade, monkeypatch):
    """big's hold 0.5 s -> 100 calls (above); 1 s -> its calls ready at 0.02 j in [1.302, 2.302) and so on,
    j = 66..115: 50 per opening, 200 in all. kw's gate 'below' 0.5 opens on every det call that does not fire: from
    20 ms on it never shuts (1.5 s hold, 10 ms apart), so kw makes all its 800 calls, its frame 150 (ready 3.775 s)
    among them, which opens big's gate a fifth time: 125 calls with a 0.5 s hold, 250 with 1 s."""
    from dslsim.sim import stack_run
    from dslsim.sweep.run import run_sweep
    from dslsim.sweep.spec import parse_spec

    folder, doc = cascade
    write_stack(folder, doc)
    (folder / "simple.yaml").write_text(yaml.safe_dump(SIMPLE))
    replays = []
    real = stack_run._replay
    monkeypatch.setattr(stack_run, "_replay", lambda sp, calls, runs, *a: replays.append(len(runs))
                        or real(sp, calls, runs, *a))
    spec = parse_spec({"name": "gates", "base": {"profile": "simple.yaml", "stack": "stack.yaml"},
                       "axes": {"stack.models.big.gate.hold": ["0.5 s", "1 s"],
                                "stack.models.kw.gate.when": ["above", "below"]}}, "sweep.yaml", folder)
    table = run_sweep(spec, folder / "out", jobs=1, progress=False)
    rows = table.set_index(["stack.models.big.gate.hold", "stack.models.kw.gate.when"])
    assert rows["big_calls"].to_dict() == {("0.5 s", "above"): 100, ("0.5 s", "below"): 125,
                                           ("1 s", "above"): 200, ("1 s", "below"): 250}
    assert rows["kw_calls"].to_dict() == {("0.5 s", "above"): 240, ("0.5 s", "below"): 800,
                                          ("1 s", "above"): 240, ("1 s", "below"): 800}
    assert (rows["big_ungated_calls"] == 1000).all() and (rows["det_calls"] == 2000).all()
    assert rows.loc[("1 s", "above"), "big_pct_per_day"] > rows.loc[("0.5 s", "above"), "big_pct_per_day"] > 0
    assert replays == [2, 1, 1, 1]          # the ungated run, which no gate changes, once for the four points


@pytest.mark.parametrize("base, axis, value, found", [
    ({"stack": "stack.yaml"}, "stack.models.kw.gate.treshold", [0.5], "treshold"),
    ({"stack": "stack.yaml"}, "stack.models.kw.gait.threshold", [0.5], "gait"),
    ({"stack": "stack.yaml"}, "trace.threshold", [0.5], "a trace threshold in a sweep of a stack"),
    ({"stack": "stack.yaml"}, "stack.scenario.deadline", ["5 ms"], "the stack's scenario"),
    ({"trace": "dsl-75hz-10min"}, "stack.models.kw.gate.threshold", [0.5], "a stack axis in a sweep of a trace"),
    ({"trace": "dsl-75hz-10min", "stack": "stack.yaml"}, "scenario.deadline", ["5 ms"], "trace and stack"),
])
def test_a_bad_stack_sweep_is_refused_before_it_runs(cascade, base, axis, value, found):
    from dslsim.sweep.spec import parse_spec

    folder, doc = cascade
    write_stack(folder, doc)
    with pytest.raises(DslsimError, match=found):
        parse_spec({"base": {"profile": "watch", **base}, "axes": {axis: value}}, "sweep.yaml", folder)


# The stack file's JSON Schema ---------------------------------------------------------------------------------


def test_the_committed_stack_schema_is_fresh_and_accepts_the_shipped_stack():
    jsonschema = pytest.importorskip("jsonschema")
    import json

    from dslsim.cli.schemas import document_schema, schema_text

    committed = ROOT / "docs" / "schemas" / "stack.schema.json"
    assert committed.read_text(encoding="utf-8") == schema_text("stack")
    validator = jsonschema.Draft202012Validator(document_schema("stack"))
    for path in sorted((ROOT / "examples" / "stacks").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if "models" in doc:
            assert not list(validator.iter_errors(doc)), path


def test_the_schema_and_the_loader_refuse_a_typo_at_the_same_key(cascade):
    jsonschema = pytest.importorskip("jsonschema")
    from jsonschema.exceptions import best_match

    from dslsim.cli.schemas import document_schema

    folder, doc = cascade
    doc = copy.deepcopy(doc)
    doc["models"]["kw"]["gate"]["hodl"] = "1 s"
    error = best_match(jsonschema.Draft202012Validator(document_schema("stack")).iter_errors(doc))
    assert list(error.absolute_path) == ["models", "kw", "gate"] and "hodl" in error.message
    with pytest.raises(InputError, match=r"models\.kw\.gate\.hodl"):
        load_stack(write_stack(folder, doc))


# The shipped stack ---------------------------------------------------------------------------------------------

SHIPPED_STACK = ROOT / "examples" / "stacks" / "vad-ww-codec.yaml"


def _calls_through_gate(gating, gated, threshold, hold, duration):
    """The gate as docs/stacks.md states it, one call at a time (a plain loop, not the engine's numpy): the traces
    loop (a pass lasts the last arrival plus one period), a firing call opens the gate at its ready time plus its
    period (its deadline), for ``hold`` seconds; a gated call is made when its ready time is in an opening."""
    import bisect

    def calls(trace):
        period = 1.0 / trace.meta.frame_rate
        arrival = trace.frames["t_arrival"].to_numpy()
        length = float(arrival[-1]) + period
        out, loop = [], 0
        while True:
            for i, a in enumerate(arrival.tolist()):
                t = loop * length + a
                if t >= duration:
                    return out, period
                out.append((t + period, i))
            loop += 1

    g_calls, g_period = calls(gating)
    score = gating.frames["score"].to_numpy()
    opens = [ready + g_period for ready, i in g_calls if score[i] >= threshold]
    made = 0
    for ready, _ in calls(gated)[0]:
        j = bisect.bisect_right(opens, ready) - 1
        made += j >= 0 and ready < opens[j] + hold
    return made, len(calls(gated)[0])


@pytest.mark.parametrize("profile", ["earbud", "phone"])
def test_the_shipped_stack_runs_on_the_earbud_and_the_phone(profile):
    from dslsim.trace.io import read_trace

    result = simulate_stack(profile, SHIPPED_STACK)
    rows, s = model_rows(result), result.summary
    vad, ww = read_trace("vad-fr-50s"), read_trace("okay-nabu-fr-50s")
    made, full = _calls_through_gate(vad, ww, 0.5, 1.0, 600.0)
    assert rows.loc["ww", "calls"] == made and rows.loc["ww", "ungated_calls"] == full
    assert rows.loc["vad", "calls"] == 60_000
    # No one says the wake word in the scene: okay_nabu's score stays far below its 0.85 cutoff, the codec sleeps.
    assert np.nanmax(ww.frames["score"]) < 0.85 and rows.loc["codec", "calls"] == 0
    assert rows.loc["codec", "ungated_calls"] == 30_000
    assert s.keeps_up and rows["keeps_up"].all() and s.battery_gain_pct > 0
    assert result.models["power_mW"].iloc[:-1].sum() == pytest.approx(1e3 * s.battery_power_W, rel=1e-12)


def test_the_shipped_gate_sweep_loads():
    from dslsim.sweep.spec import load_spec

    spec = load_spec(ROOT / "examples" / "stacks" / "sweep-vad-ww-codec-gates.yaml")
    assert len(spec.points) == 12 and spec.stack_doc["name"] == "vad-ww-codec"


def test_the_cli_prints_writes_and_judges_a_stack(cascade):
    import json

    from click.testing import CliRunner

    from dslsim.cli.main import cli

    folder, doc = cascade
    profile = folder / "simple.yaml"
    profile.write_text(yaml.safe_dump(SIMPLE))
    path = write_stack(folder, doc)
    out = folder / "out"
    res = CliRunner().invoke(cli, ["simulate", "-p", str(profile), "--stack", path, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "per model" in res.output and "vs ungated" in res.output
    models = pd.read_csv(out / "models.csv")
    assert models["part"].tolist() == ["det", "kw", "big", *OTHER_ROWS, "total"]
    assert models.set_index("part").loc["kw", "calls"] == 240
    assert {"models.csv", "models.parquet"} <= set(json.loads((out / "run.json").read_text())["files"])
    res = CliRunner().invoke(cli, ["simulate", "-p", str(profile), "--stack", path, "--json", "--no-baseline"])
    doc_json = json.loads(res.stdout)
    assert [m["part"] for m in doc_json["models"]][:3] == ["det", "kw", "big"]
    assert doc_json["meta"]["models"]["kw"]["gate"] == {"model": "det", "score": "score", "threshold": 0.5,
                                                         "hold_s": 1.5, "when": "above"}
    late = copy.deepcopy(doc)
    late["models"]["big"]["deadline"] = "2 ms"
    res = CliRunner().invoke(cli, ["simulate", "-p", str(profile), "--stack", write_stack(folder, late)])
    assert res.exit_code == 4 and "model 'big'" in res.output


def test_a_truncated_model_file_is_refused_naming_the_stack_key_and_the_file(cascade):
    import shutil

    import pymicro_wakeword

    folder, doc = cascade
    source = Path(pymicro_wakeword.__file__).parent / "models" / "okay_nabu.tflite"
    data = source.read_bytes()
    model = folder / "nabu.tflite"
    model.write_bytes(data[: len(data) // 3])
    bad = copy.deepcopy(doc)
    bad["models"]["kws"] = {"model": "nabu.tflite", "rate": "33 Hz", "gate": {"model": "det", "threshold": 0.5,
                                                                             "hold": "1 s"}}
    path = write_stack(folder, bad)
    with pytest.raises(DslsimError) as err:
        load_stack(path)
    message = str(err.value)
    assert message.startswith(f"{path}: models.kws.model: ") and "nabu.tflite" in message
    shutil.copy(source, model)      # the whole file reads; without its manifest beside it, it states no rate
    bad["models"]["kws"].pop("rate")
    with pytest.raises(InputError, match=r"models\.kws\.rate: found nothing, expected calls per second"):
        load_stack(write_stack(folder, bad))
