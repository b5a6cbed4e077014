"""Classes of malformed input, each handled by one mechanism: a strict unit grammar before pint, a YAML loader
that refuses duplicate keys, alias explosions and deep nesting, bounded error text, strict stage names."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import ROOT, make_trace, simple_profile
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.yamldoc import load_yaml
from dslsim.errors import DslsimError, InputError, describe
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario
from dslsim.units import parse_quantity

#: Expressions pint would evaluate (some never return), numbers too long or too large, and other non-quantities.
BAD_QUANTITIES = ["9**9**9 mAh", "2**64 s", "(1+1) s", "1" * 100 + " s", "1e400 s", "inf s", "nan s", "1e19 s",
                  "__import__('os') s", "1 s; 2 s", "", "   ", "s", "1 s extra words here", "0x10 s", "1_000 s"]


@pytest.mark.parametrize("text", BAD_QUANTITIES)
def test_quantities_outside_the_grammar_fail_fast_and_name_the_key(text):
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        parse_quantity(text, "s", "f.yaml", "cores.a.latency")
    assert time.perf_counter() - start < 1.0
    assert "f.yaml: cores.a.latency:" in str(err.value)


@pytest.mark.parametrize("text, seconds", [("5 ms", 5e-3), ("1.2 us", 1.2e-6), ("1e-3 s", 1e-3), (".5 s", 0.5),
                                           ("10 min", 600.0), ("24 h", 86400.0), ("+3 s", 3.0)])
def test_quantities_inside_the_grammar_parse(text, seconds):
    assert parse_quantity(text, "s", "f", "k") == pytest.approx(seconds)


def _bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, expected", [
    ("a: 1\nb: 2\na: 3\n", "appears twice"),
    ("cores:\n  dsp: {kind: dsp}\n  dsp: {kind: mcu}\n", "appears twice"),
    (_bomb(), "expand to more than"),
    ("x: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_yaml_that_would_mislead_or_explode_is_refused(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(DslsimError, match=expected) as err:
        load_yaml(path)
    assert time.perf_counter() - start < 2.0 and str(path) in str(err.value)


def test_error_text_is_bounded_whatever_the_value():
    nested: list = ["x"] * 10
    for _ in range(8):
        nested = [nested] * 10                 # 10^9 leaves if repr() walked them all
    start = time.perf_counter()
    text = describe(nested)
    assert time.perf_counter() - start < 0.5 and len(text) < 100


def test_a_typo_in_a_placed_stage_name_is_an_error_listing_the_stages():
    profile = simple_profile()
    scenario = parse_scenario({"placement": {"default": "a", "bakc": "b"}}, profile, "s.yaml")
    with pytest.raises(DslsimError, match=r"\['bakc'\].*\['front', 'back'\]"):
        simulate(profile, make_trace(["light", "full"]), scenario, baseline=False)


@pytest.mark.parametrize("name", ["../../escaped", "/abs/path", "", "a/b", ["x"], ".hidden", "x" * 200])
def test_sweep_names_are_single_folder_names(tmp_path, name):
    import yaml

    from conftest import SHIPPED_TRACE
    from dslsim.sweep.spec import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": name, "base": {"profile": "watch", "trace": str(SHIPPED_TRACE)},
                                    "axes": {"scenario.opp.big": ["low"]}}))
    with pytest.raises(InputError, match="name: .*plain folder name"):
        load_spec(spec)


@pytest.mark.parametrize("state", ["idle", "dynamic", "active", "wake", "transitions"])
def test_sleep_states_may_not_take_the_tables_own_names(state):
    with pytest.raises(InputError, match="sleep state name other than"):
        simple_profile(cores={"a": {"sleep": {state: {"power": "1 uW"}}}})


def test_absurd_simulations_are_refused_before_any_work():
    """A '1e-300 Hz' clock or a trace spanning ages would run for ever; the plan says so, with the figure."""
    from dslsim.hw.load import parse_profile

    import copy

    from conftest import SIMPLE

    slow = copy.deepcopy(SIMPLE)
    slow["cores"]["a"]["opps"][1]["freq"] = "1e-12 Hz"
    profile = parse_profile(slow, "slow.yaml")
    start = time.perf_counter()
    with pytest.raises(DslsimError, match=r"would take .* s per frame"):
        simulate(profile, make_trace(["light"] * 3), baseline=False)
    trace = make_trace(["light"] * 3)
    trace.frames["t_arrival"] = [0.0, 1.0, 1e12]
    with pytest.raises(DslsimError, match="spans"):
        simulate(simple_profile(), trace, baseline=False)
    assert time.perf_counter() - start < 2.0


def _wav(path, rate: int, samples) -> None:
    import numpy as np
    from scipy.io import wavfile

    wavfile.write(path, rate, np.asarray(samples))


@pytest.mark.parametrize("make, expected", [
    (lambda p: _wav(p, 16000, [0.1, float("nan"), 0.2] * 100), "not finite"),
    (lambda p: _wav(p, 1, np.array([0, 1, 2], dtype=np.int16)), "sample rate of 1 Hz"),
    (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk"), "not a readable WAV"),
    (lambda p: p.write_bytes(b""), "not a readable WAV"),
])
def test_bad_wav_files_get_one_paragraph(tmp_path, make, expected):
    pytest.importorskip("scipy")
    from dslsim.model.data import read_wav

    path = tmp_path / "x.wav"
    make(path)
    with pytest.raises(DslsimError, match=expected) as err:
        read_wav(path, 16000)
    assert str(path) in str(err.value)


def test_damaged_checkpoints_are_refused_before_use(tmp_path):
    torch = pytest.importorskip("torch")
    from dslsim.model.train import load_checkpoint

    good = load_checkpoint(ROOT / "dslsim" / "model" / "assets" / "dsl-c8-16k.pt")
    cases = {"empty.pt": None, "nan.pt": dict(good, model={**good["model"], "threshold": torch.tensor(float("nan"))}),
             "zero.pt": dict(good, codec={**good["codec"], "width": 0}), "nokeys.pt": {"format": "dslsim.checkpoint"}}
    for name, payload in cases.items():
        path = tmp_path / name
        if payload is None:
            path.write_bytes(b"")
        else:
            torch.save(payload, path)
        with pytest.raises(DslsimError) as err:
            load_checkpoint(path)
        assert name in str(err.value)


def test_a_corrupt_sweep_point_is_redone_not_counted(tmp_path):
    from dslsim.sweep.store import SweepStore

    store = SweepStore(tmp_path)
    store.points_dir.mkdir(parents=True)
    (store.points_dir / "abc.parquet").write_bytes(b"PAR1 not really")
    (store.points_dir / "def.json").write_text('{"point_id": "def", "battery')          # cut short
    (store.points_dir / "ghi.json").write_text('{"point_id": "other"}')                # not its own row
    assert store.done() == set() and not any(store.points_dir.iterdir())


def test_a_store_of_an_earlier_version_still_resumes(tmp_path):
    """Point files of earlier versions (one-row Parquet) count as done and join the table beside JSON ones."""
    import json

    import pandas as pd

    from dslsim.sweep.store import SweepStore

    store = SweepStore(tmp_path)
    store.points_dir.mkdir(parents=True)
    (tmp_path / "manifest.json").write_text(json.dumps({"points": [{"id": "old"}, {"id": "new"}]}))
    pd.DataFrame([{"point_id": "old", "battery_life_h": 12.5}]).to_parquet(store.points_dir / "old.parquet")
    store.save({"point_id": "new", "battery_life_h": float("nan"), "keeps_up": True})
    assert store.done() == {"old", "new"}
    table = store.table()
    assert table["point_id"].tolist() == ["old", "new"] and table["battery_life_h"].iloc[0] == 12.5
    assert table["battery_life_h"].isna().iloc[1]


def test_sweep_flags_are_real_booleans(tmp_path):
    import yaml

    from conftest import SHIPPED_TRACE
    from dslsim.sweep.spec import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"base": {"profile": "watch", "trace": str(SHIPPED_TRACE)}, "baseline": "false",
                                    "axes": {"scenario.opp.big": ["low"]}}))
    with pytest.raises(InputError, match="baseline: found 'false'.*true or false"):
        load_spec(spec)


def test_huge_sweep_grids_are_sampled_without_being_built(tmp_path):
    """4.1e9 grid points with 'sample: random, n: 5' must not build the grid; a grid that large is refused."""
    import yaml

    from conftest import SHIPPED_TRACE
    from dslsim.sweep.spec import load_spec

    axes = {"scenario.sleep.big.core_off": {"range": ["1 ms", "100 ms"], "steps": 10_000},
            "scenario.sleep.big.rail_off": {"range": ["200 ms", "2 s"], "steps": 10_000},
            "scenario.sleep.dsp.retention": {"range": ["1 ms", "2 ms"], "steps": 41}}
    doc = {"name": "big", "base": {"profile": "watch", "trace": str(SHIPPED_TRACE)}, "axes": axes,
           "sample": {"mode": "random", "n": 5, "seed": 1}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    start = time.perf_counter()
    spec = load_spec(tmp_path / "s.yaml")
    assert len(spec.points) == 5 and time.perf_counter() - start < 10
    doc["sample"] = {"mode": "grid"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match="a grid of 4,100,000,000 points"):
        load_spec(tmp_path / "s.yaml")


def test_report_window_past_the_end_is_an_error(tmp_path):
    from conftest import SHIPPED_TRACE

    r = CliRunner().invoke(cli, ["report", "-p", "watch", "-t", str(SHIPPED_TRACE), "--window", "700 s:800 s",
                                 "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "starts after the trace ends (600 s)" in r.output
    assert not (tmp_path / "r.html").exists()


def test_simulate_out_marks_one_run(tmp_path):
    import json

    from conftest import SHIPPED_TRACE

    out = tmp_path / "o"
    args = ["simulate", "-p", "earbud", "-t", str(SHIPPED_TRACE), "--no-baseline", "--out", str(out), "--format", "csv"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    (out / "frames.parquet").write_text("from an older run")
    assert CliRunner().invoke(cli, args).exit_code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["run_id"] == json.loads((out / "summary.json").read_text())["run_id"]
    assert not (out / "frames.parquet").exists() and set(run["files"]) == {p.name for p in out.iterdir()} - {"run.json"}


def test_a_placement_value_that_is_not_a_name_is_an_error():
    with pytest.raises(InputError, match=r"placement.back: found \['b'\]"):
        parse_scenario({"placement": {"default": "a", "back": ["b"]}}, simple_profile(), "s.yaml")


def test_sweep_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL to a process-pool sweep must not leave its workers blocked for ever."""
    import os
    import signal
    import subprocess
    import sys

    import yaml

    from conftest import SHIPPED_TRACE

    spec = tmp_path / "orphans.yaml"
    spec.write_text(yaml.safe_dump({"name": "orphans", "base": {"profile": "watch", "trace": str(SHIPPED_TRACE)},
                                    "axes": {"scenario.sleep.big.core_off": [f"{i} ms" for i in range(1, 40)]}}))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "dslsim.cli.main", "sweep", str(spec), "--out", str(out),
                             "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == proc.pid:
                    found.append(int(pid))
        return found

    deadline = time.time() + 60
    while time.time() < deadline and (len(children()) < 2 or not list((out / "points").glob("*.json"))):
        time.sleep(0.1)
    workers = children()
    assert workers, "the sweep never started its workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.time() + 20
    alive = workers
    try:
        while time.time() < deadline and alive:
            time.sleep(0.2)
            alive = [w for w in alive if os.path.exists(f"/proc/{w}") and
                     open(f"/proc/{w}/stat").read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")]
        assert not alive, f"orphaned workers still running: {alive}"
    finally:
        for w in alive:  # never leave them behind, even when the test fails
            try:
                os.kill(w, signal.SIGKILL)
            except OSError:
                pass


def test_twelve_bit_pcm_is_refused(tmp_path):
    import struct

    data = bytes(2000)
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 12)
    path = tmp_path / "w12.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    pytest.importorskip("scipy")
    from dslsim.model.data import read_wav

    with pytest.raises(DslsimError, match="12-bit PCM"):
        read_wav(path, 16000)


def test_a_clock_typo_is_refused_before_the_engine_grinds(tmp_path):
    """'4 kHz' for a 100 MHz core: 2.5e4 times too slow; the plan refuses it with the figure, at once."""
    profile = simple_profile(cores={"a": {"opps": [{"name": "half", "freq": "4 kHz", "voltage": "0.5 V"},
                                                   {"name": "full", "freq": "4 kHz", "voltage": "1 V"}]}})
    start = time.perf_counter()
    with pytest.raises(DslsimError, match=r"'a' would need .* s to run what arrives in .* s"):
        simulate(profile, make_trace(["light"] * 50), baseline=False)
    assert time.perf_counter() - start < 2.0


def test_json_tables_keep_full_precision(tmp_path):
    import json

    import pandas as pd

    from dslsim.report.export import write_table

    write_table(pd.DataFrame({"energy_J": [3.3332946e-08, 1.2345678901234e-3]}), tmp_path / "t.json", "json")
    values = [row["energy_J"] for row in json.loads((tmp_path / "t.json").read_text())]
    assert values == pytest.approx([3.3332946e-08, 1.2345678901234e-3], rel=1e-14)
