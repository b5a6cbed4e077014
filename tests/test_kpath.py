"""K-path dynamic networks: trace format v2 decisions (a cascade of thresholds), v1 read as one switch, the
synthetic early-exit and iterated-block traces, per-decision threshold sweeps and the K-path report figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import DslsimError, InputError
from dslsim.trace.io import read_trace, write_trace
from dslsim.trace.kpath import difficulty_levels, early_exit_trace, iterated_block_trace
from dslsim.trace.schema import Decision, Trace, TraceMeta

from conftest import make_trace


def cascade(frames: dict, thresholds=(0.5, 0.7)) -> Trace:
    """Three paths, two 'above' decisions, exit3 the fallback, over the conftest graph's stages."""
    base = make_trace(["light"])
    stages = base.meta.stages
    paths = {"exit1": ["front"], "exit2": ["front", "back"], "exit3": ["front", "back", "back"]}
    decisions = (Decision("exit1", "c1", thresholds[0], "exit1"), Decision("exit2", "c2", thresholds[1], "exit2"))
    meta = TraceMeta(frame_rate=100.0, sample_rate=32000.0, hop=320, paths=paths, stages=stages,
                     dense_path="exit3", decisions=decisions, fallback_path="exit3")
    n = len(frames["c1"])
    df = pd.DataFrame({"frame": np.arange(n), "t_arrival": np.arange(n) / 100.0, **frames})
    df["path"] = pd.Categorical.from_codes(meta.route(df), categories=list(paths))
    return Trace(meta, df).validate()


def test_cascade_routes_by_hand():
    # Frame by frame: c1 >= 0.5 -> exit1; else c2 >= 0.7 -> exit2; else exit3. NaN never fires.
    t = cascade({"c1": [0.9, 0.5, 0.49, 0.1, np.nan], "c2": [0.0, 0.0, 0.7, 0.69, 0.99]})
    assert t.frames["path"].tolist() == ["exit1", "exit1", "exit2", "exit3", "exit2"]
    lower = t.rethreshold({"exit2": 0.6})
    assert lower.frames["path"].tolist() == ["exit1", "exit1", "exit2", "exit2", "exit2"]
    assert lower.meta.thresholds == {"exit1": 0.5, "exit2": 0.6}
    with pytest.raises(DslsimError, match="give a threshold for each by name"):
        t.rethreshold(0.3)
    with pytest.raises(DslsimError, match="no decision named 'exit9'"):
        t.rethreshold({"exit9": 0.3})


def test_below_decision_fires_under_its_threshold():
    d = Decision("halt1", "resid", 0.1, "iter1", when="below")
    assert d.fires(np.array([0.05, 0.1, 0.2, np.nan])).tolist() == [True, False, False, False]


def test_v2_round_trip_and_v1_read_as_one_switch(tmp_path):
    t = cascade({"c1": [0.9, 0.2, 0.1], "c2": [0.1, 0.8, 0.1]})
    write_trace(t, tmp_path / "k.parquet")
    back = read_trace(tmp_path / "k.parquet")
    assert back.meta.decisions == t.meta.decisions and back.meta.fallback_path == "exit3"
    assert back.frames["path"].tolist() == ["exit1", "exit2", "exit3"]
    # A version-1 file: one threshold, a score column; read as the decision 'switch' (score >= t -> dense).
    import pyarrow as pa
    import pyarrow.parquet as pq

    v1 = make_trace(["light", "full", "light"])
    meta = v1.meta.to_json()
    meta.update(version=1, threshold=0.5)
    del meta["decisions"], meta["fallback_path"]
    frames = v1.frames.assign(score=[0.2, 0.5, 0.4])
    table = pa.Table.from_pandas(frames, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({b"dslsim.trace": json.dumps(meta).encode()}), tmp_path / "v1.parquet")
    old = read_trace(tmp_path / "v1.parquet")
    assert old.meta.version == 1 and old.meta.threshold == 0.5 and old.meta.fallback_path == "light"
    assert old.rethreshold(0.3).frames["path"].tolist() == ["light", "full", "full"]


@pytest.mark.parametrize("mutate, key", [
    (lambda m: m["decisions"][0].update(path="exit7"), "metadata.decisions[0].path"),
    (lambda m: m["decisions"][1].update(name="exit1"), "metadata.decisions[1].name"),
    (lambda m: m["decisions"][0].update(threshold=1.5), "metadata.decisions[0].threshold"),
    (lambda m: m["decisions"][0].update(when="sideways"), "metadata.decisions[0].when"),
    (lambda m: m["decisions"][0].update(score="path"), "metadata.decisions[0].score"),
    (lambda m: m.update(fallback_path=None), "metadata.fallback_path"),
    (lambda m: m["decisions"][0].update(score="c9"), "column 'c9'"),
    (lambda m: m["decisions"][0].update(threshold=0.95), "column 'path' row 0"),   # stored paths disagree
])
def test_bad_decisions_name_the_key(tmp_path, mutate, key):
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = cascade({"c1": [0.9, 0.2, 0.1], "c2": [0.1, 0.8, 0.1]})
    meta = t.meta.to_json()
    mutate(meta)
    frames = t.frames.assign(path=t.frames["path"].astype(str))
    table = pa.Table.from_pandas(frames, preserve_index=False)
    path = tmp_path / "bad.parquet"
    pq.write_table(table.replace_schema_metadata({b"dslsim.trace": json.dumps(meta).encode()}), path)
    with pytest.raises(InputError) as err:
        read_trace(path)
    assert key in str(err.value) and "bad.parquet" in str(err.value)


def test_difficulty_chain_has_the_asked_shares_and_burst_lengths():
    """Stationary shares equal the asked ones; a level's runs last B / (1 - p) frames on average (redrawn with
    probability 1/B per frame, kept when the redraw gives the same level)."""
    shares, burst = [0.5, 0.3, 0.2], 20.0
    levels = difficulty_levels(2_000_000, shares, burst, seed=4)
    assert np.bincount(levels, minlength=3) / len(levels) == pytest.approx(shares, abs=0.01)
    change = np.flatnonzero(np.diff(levels)) + 1
    starts = np.r_[0, change]
    lengths = np.diff(np.r_[starts, len(levels)])
    for level, p in enumerate(shares):
        mine = lengths[levels[starts] == level][1:-1]
        assert mine.mean() == pytest.approx(burst / (1 - p), rel=0.03)


def test_early_exit_trace_scores_reproduce_paths_and_thresholds_move_frames():
    t = early_exit_trace(duration=600.0, frame_rate=50.0, shares=[0.6, 0.3, 0.1], thresholds=[0.8, 0.7], seed=2)
    assert [d.threshold for d in t.meta.decisions] == [0.8, 0.7]
    # The graph: exit i runs blocks 1..i and heads 1..i, so each exit costs one block and head more.
    macs = [t.meta.path_macs(p) for p in t.meta.paths]
    step = t.meta.stages["block1"].macs + t.meta.stages["exit1"].macs
    assert np.diff(macs) == pytest.approx([step, step])
    assert t.rethreshold({"exit1": 0.8, "exit2": 0.7}).frames["path"].equals(t.frames["path"])
    # Raising exit1's threshold sends frames on; with every threshold above every score, all reach exit3.
    later = t.rethreshold({"exit1": 0.95})
    assert (later.frames["path"] == "exit1").mean() < (t.frames["path"] == "exit1").mean()
    assert (t.rethreshold({"exit1": 1.0, "exit2": 1.0}).frames["path"] == "exit3").all()
    # The deeper the exit, the lower the error of the frames it takes; taking every frame at exit1 costs quality.
    assert t.routed_error()["error"] < t.with_paths("exit1").routed_error()["error"]


def test_iterated_block_trace_halts_below_the_residual_threshold():
    t = iterated_block_trace(duration=300.0, shares=[0.4, 0.3, 0.2, 0.1], thresholds=0.1, seed=1)
    assert [d.when for d in t.meta.decisions] == ["below"] * 3
    halted_first = t.frames["path"] == "iter1"
    assert (t.frames.loc[halted_first, "resid_iter1"] < 0.1).all()
    assert (t.frames.loc[~halted_first, "resid_iter1"] >= 0.1).all()
    # Iterations share one block: each extra iteration costs the same.
    assert t.meta.stages["iter1"].macs == t.meta.stages["iter4"].macs


def test_cli_synth_simulate_and_sweep_each_threshold(tmp_path):
    out = tmp_path / "ee.parquet"
    runner = CliRunner()
    r = runner.invoke(cli, ["trace", "synth", str(out), "--kind", "early-exit", "--duration", "2 min",
                            "--frame-rate", "50", "--shares", "0.6,0.3,0.1", "--thresholds", "0.8,0.7"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["simulate", "-p", "watch", "-t", str(out)])
    assert r.exit_code == 0, r.output
    assert "exit1" in r.output and "vs all-'exit3'" in r.output
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: ee\nbase: {{profile: watch, trace: {out}}}\nbaseline: true\n"
                    "axes:\n  trace.threshold.exit1: [0.5, 0.9]\n  trace.threshold.exit2: [0.7]\n")
    r = runner.invoke(cli, ["sweep", str(spec), "--out", str(tmp_path / "store"), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "store" / "results.csv").sort_values("trace.threshold.exit1")
    # A lower first threshold lets more frames leave early: less energy, more error.
    assert df["battery_life_h"].iloc[0] > df["battery_life_h"].iloc[1]
    assert df["error"].iloc[0] > df["error"].iloc[1]
    # The default scenario's own placement of 'full_decoder' is skipped on this trace; a typo on an axis is not.
    typo = tmp_path / "typo.yaml"
    typo.write_text(f"name: ty\nbase: {{profile: watch, trace: {out}}}\naxes:\n  scenario.placement.blok1: [dsp]\n")
    r = runner.invoke(cli, ["sweep", str(typo), "--out", str(tmp_path / "t"), "--jobs", "1"])
    assert r.exit_code == 2 and "['blok1'] that the trace does not have" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: ee\nbase: {{profile: watch, trace: {out}}}\naxes:\n  trace.threshold: [0.5]\n")
    r = runner.invoke(cli, ["sweep", str(bad), "--out", str(tmp_path / "b"), "--jobs", "1"])
    assert r.exit_code == 2 and "trace.threshold.<decision>" in r.output


def test_report_figures_for_k_paths(tmp_path):
    from dslsim.report import plots
    from dslsim.sim.run import simulate
    from dslsim.hw.load import load_profile

    t = early_exit_trace(duration=60.0, shares=[0.5, 0.3, 0.2], seed=3)
    result = simulate(load_profile("watch"), t)
    _, shares = plots.path_shares_over_time(result, bins=10)
    counts = t.frames["path"].value_counts(normalize=True, sort=False)
    # Equal bins of equal frame counts: the mean of the bins' shares is the overall share.
    assert shares[[f"{p}_share" for p in t.meta.paths]].mean().to_numpy() == pytest.approx(counts.to_numpy(), abs=0.02)
    _, energy = plots.energy_by_path(result)
    assert list(energy["path"]) == ["exit1", "exit2", "exit3"]
    assert energy["energy_per_frame_uJ"].is_monotonic_increasing


def test_layer_subset_trace_paths_are_the_subsets():
    from dslsim.trace.kpath import layer_subset_trace

    t = layer_subset_trace(duration=120.0, blocks=4, subsets=["1", "1+3", "1+2+3+4"], shares=[0.5, 0.3, 0.2], seed=5)
    assert list(t.meta.paths) == ["blocks1", "blocks1+3", "blocks1+2+3+4"]
    assert t.meta.paths["blocks1+3"] == ["stem", "policy", "block1", "block3", "head"]
    assert t.meta.decisions == () and t.meta.dense_path == "blocks1+2+3+4"
    # Every block costs the same, so a path's MACs are the shared part plus one block per member.
    shared = sum(t.meta.stages[s].macs for s in ("stem", "policy", "head"))
    block = t.meta.stages["block1"].macs
    assert [t.meta.path_macs(p) for p in t.meta.paths] == pytest.approx([shared + block, shared + 2 * block,
                                                                          shared + 4 * block])
    with pytest.raises(DslsimError, match="no decisions"):
        t.rethreshold(0.5)
    with pytest.raises(DslsimError, match="distinct block numbers"):
        layer_subset_trace(duration=10.0, blocks=2, subsets=["1", "3"], shares=[0.5, 0.5])


def test_more_paths_than_a_frame_code_holds_are_refused():
    """Frames store their path as an int8 code: 128 shares would wrap the 128th level to -128 (an internal
    OverflowError before); 127 still work."""
    from dslsim.trace.kpath import difficulty_levels

    with pytest.raises(DslsimError, match="at most 127 paths"):
        difficulty_levels(100, [1 / 128] * 128, 5.0, seed=0)
    levels = difficulty_levels(20_000, [1 / 127] * 127, 1.0, seed=0)
    assert levels.min() == 0 and levels.max() == 126


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_a_seed_must_be_a_whole_number_at_least_zero(seed):
    from dslsim.trace.kpath import early_exit_trace
    from dslsim.trace.synth import synth_trace

    for make in (early_exit_trace, synth_trace):
        with pytest.raises(DslsimError, match="seed"):
            make(duration=1.0, seed=seed)


@pytest.mark.parametrize("args, expected", [
    (["--kind", "early-exit", "--shares", ",".join(["0.005"] * 200)], "'--shares': found 200 numbers"),
    (["--kind", "layer-subset", "--subsets", "+,a", "--shares", "0.5,0.5"], "'--subsets': found the subset '+'"),
    (["--kind", "layer-subset", "--subsets", "1,1", "--shares", "0.5,0.5"], "'1' twice"),
    (["--seed", "-1"], "'--seed': found -1, expected a whole number >= 0"),
    (["--kind", "early-exit", "--thresholds", "nan"], "'--thresholds': found 'nan'"),
    (["--shares", "0.5,0.5"], "--shares does not apply to --kind dsl"),
    (["--thresholds", "0.5"], "--thresholds does not apply to --kind dsl"),
    (["--steps", "8"], "--steps does not apply to --kind dsl"),
    (["--kind", "early-exit", "--light-share", "0.3"], "--light-share does not apply to --kind early-exit"),
    (["--kind", "iterated-block", "--subsets", "1,2"], "--subsets does not apply to --kind iterated-block"),
    (["--kind", "layer-subset", "--thresholds", "0.5"], "--thresholds does not apply to --kind layer-subset"),
])
def test_synth_options_are_typed_and_refused_for_other_kinds(tmp_path, args, expected):
    out = tmp_path / "t.parquet"
    r = CliRunner().invoke(cli, ["trace", "synth", str(out), "--duration", "5 s", *args])
    assert r.exit_code == 2 and "Traceback" not in r.output and expected in r.output, r.output
    assert not out.exists()
