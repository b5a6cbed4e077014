"""Sweeps: spec validation before any work, correctness per point, resume after interruption, backends."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from dslsim.errors import DslsimError
from dslsim.hw.load import load_profile
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario
from dslsim.sweep.run import run_sweep
from dslsim.sweep.spec import load_spec
from dslsim.sweep.store import SweepStore
from dslsim.trace.io import write_trace
from dslsim.trace.synth import synth_trace


@pytest.fixture(scope="module")
def short_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "short.parquet"
    write_trace(synth_trace(20, seed=7, width=8, embed_dim=32), path)
    return path


def write_spec(tmp_path, trace, axes, **extra):
    spec = {"name": "t", "base": {"profile": "watch", "trace": str(trace)}, "axes": axes, **extra}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize("axes, key, expected", [
    ({"profile.cores.gpu.opps[0].freq": ["1 GHz"]}, "profile.cores.gpu", "no key 'gpu'"),
    ({"profile.cores.big.opps[turbo].freq": ["1 GHz"]}, "opps[turbo]", "no item [turbo]"),
    ({"scenario.sleep.big.core_off": ["2 MHz"]}, "sleep.big.core_off", "wrong kind of unit"),
    ({"scenario.opp.big": ["warp"]}, "opp.big", "an operating point of core 'big'"),
    ({"scenario.placement.full_decoder": []}, "axes.'scenario.placement.full_decoder'", "non-empty list"),
    ({"hardware.x": [1]}, "axes.'hardware.x'", "starting with profile."),
    ({"trace.frame_rate": [50]}, "axes.'trace.frame_rate'", "trace.threshold"),
    ({"trace.threshold": [1.5]}, "trace.threshold", "[0, 1]"),
    ({"scenario.sleep.big.core_off": {"range": ["1 ms", "5 V"], "steps": 3}}, "range", "same kind"),
])
def test_bad_axes_fail_before_any_work(tmp_path, short_trace, axes, key, expected):
    with pytest.raises(DslsimError) as err:
        load_spec(write_spec(tmp_path, short_trace, axes))
    assert key in str(err.value) and expected in str(err.value)
    assert not (tmp_path / "sweeps").exists()


def test_grid_range_and_random_sampling(tmp_path, short_trace):
    axes = {"scenario.sleep.big.core_off": {"range": ["1 ms", "25 ms"], "steps": 3, "scale": "log"},
            "scenario.opp.big": ["low", "mid", "high"]}
    spec = load_spec(write_spec(tmp_path, short_trace, axes))
    assert spec.axes["scenario.sleep.big.core_off"] == ["1 ms", "5 ms", "25 ms"]
    assert len(spec.points) == 9
    random = {"mode": "random", "n": 4, "seed": 3}
    a = load_spec(write_spec(tmp_path, short_trace, axes, sample=random)).points
    b = load_spec(write_spec(tmp_path, short_trace, axes, sample=random)).points
    assert a == b and len(a) == 4 and all(p in spec.points for p in a)


def test_a_point_equals_a_direct_simulation(tmp_path, short_trace):
    axes = {"scenario.placement.full_decoder": ["dsp", "big"], "scenario.sleep.big.core_off": ["2 ms", "30 ms"]}
    df = run_sweep(load_spec(write_spec(tmp_path, short_trace, axes)), tmp_path / "out", jobs=1)
    assert len(df) == 4
    profile = load_profile("watch")
    scenario = dict(profile.default_scenario)
    scenario["placement"] = {"default": "dsp", "full_decoder": "big"}
    scenario["sleep"] = {**scenario["sleep"], "big": {"core_off": "30 ms", "rail_off": "50 ms"}}
    direct = simulate(profile, short_trace, parse_scenario(scenario, profile)).summary
    row = df[(df["scenario.placement.full_decoder"] == "big") & (df["scenario.sleep.big.core_off"] == "30 ms")].iloc[0]
    assert row["battery_life_h"] == direct["battery_life_h"]
    assert row["wakeups"] == direct["wakeups"]
    assert row["battery_gain_pct"] == pytest.approx(direct["battery_gain_pct"], rel=1e-12)


def test_threshold_axis_reroutes_frames(tmp_path, short_trace):
    df = run_sweep(load_spec(write_spec(tmp_path, short_trace, {"trace.threshold": [0.2, 0.5, 0.8]})),
                   tmp_path / "out", jobs=1)
    shares = df.sort_values("trace.threshold")["share_light"].tolist()
    assert shares[0] < shares[1] < shares[2]


def test_profile_axis_with_list_selector(tmp_path, short_trace):
    axes = {"profile.links[big<->dsp].energy_per_byte": ["0 pJ/B", "1 nJ/B"], "profile.battery.capacity": ["300 mAh"]}
    df = run_sweep(load_spec(write_spec(tmp_path, short_trace, axes)), tmp_path / "out", jobs=1)
    cheap, dear = (df.set_index("profile.links[big<->dsp].energy_per_byte").loc[k, "compute_power_W"]
                   for k in ("0 pJ/B", "1 nJ/B"))
    assert dear > cheap


def test_interrupted_sweep_resumes_without_redoing_or_losing_points(tmp_path, short_trace):
    axes = {"scenario.sleep.big.core_off": ["1 ms", "2 ms", "4 ms", "8 ms", "16 ms", "32 ms"]}
    spec = load_spec(write_spec(tmp_path, short_trace, axes))
    out = tmp_path / "out"
    seen = []

    def stop_after_two(row):
        seen.append(row["point_id"])
        if len(seen) == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, jobs=1, on_row=stop_after_two)
    store = SweepStore(out)
    assert store.done() == set(seen)
    mtimes = {p.name: p.stat().st_mtime_ns for p in store.points_dir.iterdir()}
    again = []
    df = run_sweep(spec, out, jobs=1, on_row=lambda row: again.append(row["point_id"]))
    assert len(again) == 4 and not set(again) & set(seen)
    assert len(df) == 6 and set(df["point_id"]) == set(seen) | set(again)
    assert all(p.stat().st_mtime_ns == mtimes[p.name] for p in store.points_dir.iterdir() if p.name in mtimes)
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_killed_cli_sweep_resumes(tmp_path, short_trace, jobs):
    """Ctrl-C as a terminal sends it: to the whole process group, the pool's workers included; no worker prints a
    traceback, and nothing is lost."""
    import os

    axes = {"scenario.sleep.big.core_off": [f"{i} ms" for i in range(1, 25)], "scenario.sleep.big.rail_off": ["1 s"]}
    spec = write_spec(tmp_path, short_trace, axes)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dslsim.cli.main", "sweep", str(spec), "--out", str(out), "--jobs", str(jobs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "points").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err[-2000:])
    done = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}
    assert 3 <= len(done) < 24
    assert not list(out.rglob("*.tmp"))
    subprocess.run(cmd, check=True, capture_output=True)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}
    assert len(after) == 24 and all(after[k] == v for k, v in done.items())
    assert len(pd.read_parquet(out / "results.parquet")) == 24


def test_store_of_another_base_is_not_resumed(tmp_path, short_trace):
    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, short_trace, {"scenario.opp.big": ["low"]})), out, jobs=1)
    with pytest.raises(DslsimError, match="another sweep base"):
        run_sweep(load_spec(write_spec(tmp_path, short_trace, {"scenario.opp.big": ["mid"]})), out, jobs=1)


def _rows(df):
    return df.drop(columns=["sim_wall_s"]).sort_values("point_id").reset_index(drop=True)


def test_process_pool_matches_serial(tmp_path, short_trace):
    spec = load_spec(write_spec(tmp_path, short_trace, {"scenario.opp.big": ["low", "mid", "high"]}))
    serial = run_sweep(spec, tmp_path / "a", jobs=1)
    pooled = run_sweep(spec, tmp_path / "b", jobs=2)
    pd.testing.assert_frame_equal(_rows(serial), _rows(pooled))


def test_dask_local_cluster_on_loopback_matches_serial(tmp_path, short_trace):
    pytest.importorskip("distributed")
    spec = load_spec(write_spec(tmp_path, short_trace, {"scenario.opp.big": ["low", "high"]}))
    serial = run_sweep(spec, tmp_path / "a", jobs=1)
    distributed = run_sweep(spec, tmp_path / "b", scheduler="local", jobs=2)
    pd.testing.assert_frame_equal(_rows(serial), _rows(distributed))


def test_unreachable_scheduler_is_a_clear_error(tmp_path, short_trace):
    pytest.importorskip("distributed")
    spec = load_spec(write_spec(tmp_path, short_trace, {"scenario.opp.big": ["low"]}))
    with pytest.raises(DslsimError, match="cannot reach the Dask scheduler"):
        run_sweep(spec, tmp_path / "a", scheduler="tcp://127.0.0.1:9")


def test_routed_quality_from_per_path_error_columns(tmp_path):
    """err_<path> columns: the row's 'error' is the mean distortion of the path each frame took."""
    import numpy as np

    from dslsim.report.build import sweep_report

    t = synth_trace(20, seed=9, width=8, embed_dim=32)
    n = len(t)
    rng = np.random.default_rng(0)
    t.frames["err_light"] = rng.random(n) + 1.0          # light is always worse than full
    t.frames["err_full"] = rng.random(n) * 0.5
    path = tmp_path / "q.parquet"
    write_trace(t, path)
    df = run_sweep(load_spec(write_spec(tmp_path, path, {"trace.threshold": [0.3, 0.7]})), tmp_path / "o", jobs=1)
    for thr, row in df.set_index("trace.threshold").iterrows():
        full = t.frames["score"].to_numpy() >= thr
        chosen = np.where(full, t.frames["err_full"], t.frames["err_light"])
        assert row["error"] == pytest.approx(chosen.mean(), rel=1e-12)
        assert row["error_on_label"] == pytest.approx(chosen[t.frames["label"].to_numpy()].mean(), rel=1e-12)
    from dslsim.sweep.store import SweepStore

    store = SweepStore(tmp_path / "o")
    html = sweep_report(store.manifest(), store.table()).render()
    assert "Pareto front: quality vs battery life" in html


def test_fine_ranges_keep_distinct_readable_values(tmp_path, short_trace):
    spec = load_spec(write_spec(tmp_path, short_trace, {"trace.threshold": {"range": [0, 1], "steps": 1001}}))
    values = spec.axes["trace.threshold"]
    assert len(set(values)) == 1001 and values[:3] == [0.0, 0.001, 0.002]
    with pytest.raises(DslsimError) as err:
        load_spec(write_spec(tmp_path, short_trace, {"scenario.opp.big": ["low", "mid", "low"]}))
    assert "repeated values ['low']" in str(err.value) and len(str(err.value)) < 300
