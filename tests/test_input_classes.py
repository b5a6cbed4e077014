"""Classes of malformed input, each handled by one mechanism: a strict unit grammar before pint, a YAML loader
that refuses duplicate keys, alias explosions and deep nesting, bounded error text, strict stage names."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# =================================================================================================================
# The corpus: for every input kind dslsim reads, cases generated from a valid file of that kind by changing one
# thing where it sits (a YAML or JSON key, an XML element, a CSV column, a frame column, an option's value). Each
# case must end one of two ways: read cleanly (and then what was read is sane: finite, in range), or refused with a
# DslsimError naming the input file and, for a value, the key path, column or element; never another exception,
# never a message that blames a file the user did not give. The registry at the end checks that every function of
# the package that reads a user's file belongs to a kind with cases here (or in tests/test_model_inputs.py).
# =================================================================================================================

import copy
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

#: Per input kind, how many generated cases it has; filled as the case lists below are built.
CORPUS: dict[str, int] = {}

#: Values every scalar leaf is replaced with: wrong type, words, non-finite, negative, zero, absurd.
GARBAGE = {"list": [1, 2], "words": "fast", "nan": float("nan"), "negative": -1, "zero": 0, "huge": 1e300}


@dataclass(frozen=True)
class Mutation:
    """One generated case: an id, the document changed, and the key path it changed (a tuple of keys and list
    indices) with what was done there."""

    id: str
    doc: Any
    path: tuple
    how: str
    key: Any = None
    """The key as it was, for a renamed one (``path`` ends with the new name)."""


def key_path(path: tuple) -> str:
    """dslsim's spelling of a key path: ``cores.a.opps[1].freq``."""
    out = ""
    for part in path:
        name = f"'{part}'" if isinstance(part, str) and "." in part else str(part)   # a dotted key, quoted
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out


def leaves(doc: Any, prefix: tuple = (), skip: tuple = ("source", "assumed", "description")) -> list[tuple]:
    """Key paths of every scalar in ``doc`` (mappings and lists walked), provenance notes left out."""
    if isinstance(doc, dict):
        return [p for k, v in doc.items() if k not in skip for p in leaves(v, prefix + (k,), skip)]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in leaves(v, prefix + (i,), skip)]
    return [prefix]


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def mutate_keys(doc: Any, kind: str, garbage: tuple[str, ...] = tuple(GARBAGE), removals: bool = True,
                renames: bool = True, only: Callable[[tuple], bool] = lambda p: True) -> list[Mutation]:
    """Structure-aware mutations of a YAML or JSON document: every scalar leaf replaced by each of ``garbage``,
    every mapping key removed and renamed (a typo: one letter dropped)."""
    out = []
    for path in leaves(doc):
        if not path or not only(path):
            continue
        for name in garbage:
            changed = copy.deepcopy(doc)
            _parent(changed, path)[path[-1]] = copy.deepcopy(GARBAGE[name])
            out.append(Mutation(f"{kind}:{key_path(path)}={name}", changed, path, name))
    seen = set()
    for path in leaves(doc):
        for depth in range(1, len(path) + 1):
            at = path[:depth]
            if at in seen or isinstance(at[-1], int) or not only(at):
                continue
            seen.add(at)
            if removals:
                changed = copy.deepcopy(doc)
                del _parent(changed, at)[at[-1]]
                out.append(Mutation(f"{kind}:{key_path(at)}:removed", changed, at, "removed"))
            if renames and len(str(at[-1])) > 2:
                changed = copy.deepcopy(doc)
                parent = _parent(changed, at)
                typo = str(at[-1])[:-1]
                if typo not in parent:
                    parent[typo] = parent.pop(at[-1])
                    out.append(Mutation(f"{kind}:{key_path(at)}:renamed", changed, at[:-1] + (typo,), "renamed",
                                        at[-1]))
    return out


def expect_clean_or_named(run: Callable[[], Any], source: Path | str, where: str | None = None,
                          check: Callable[[Any], None] | None = None, must_refuse: bool = False) -> str:
    """Run a reader on one case: a clean read passes ``check``; a refusal is a DslsimError naming ``source``
    (and ``where`` when given). Returns 'clean' or 'refused'; any other exception fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # plausibility warnings are a clean read's business
        try:
            result = run()
        except DslsimError as exc:
            text = str(exc)
            assert str(source) in text, f"the refusal does not name {source}: {text}"
            assert where is None or where in text, f"the refusal does not name {where!r}: {text}"
            assert "Traceback" not in text and len(text) < 2000
            return "refused"
    assert not must_refuse, "read cleanly, but this case cannot be right"
    if check is not None:
        check(result)
    return "clean"


def finite_numbers(value: Any, where: str = "") -> None:
    """Every number inside ``value`` (dataclasses, mappings, lists) is finite."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        assert math.isfinite(value), f"{where} = {value}"
        return
    if isinstance(value, dict):
        for k, v in value.items():
            finite_numbers(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            finite_numbers(v, f"{where}[{i}]")
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            finite_numbers(getattr(value, name), f"{where}.{name}")


def _refusal_names_the_key(m: Mutation) -> str | None:
    """What a refusal of ``m`` must name: the key path for a value of the wrong type, a removed or a renamed
    key's parent or itself; cross-key checks may name a neighbour, so only the file is asked of others."""
    path = m.path
    while m.how == "list" and len(path) > 1 and isinstance(path[-1], int):
        path = path[:-1]                 # an item of a list may be reported as the list ('links[0].between')
    # Other changes may surface at a key that refers to the changed one (a renamed operating point, at the
    # scenario that names it): the file is named, and the refusal is an InputError with its own key path.
    return key_path(path) if m.how in ("list", "renamed") else None


def user_named(path: tuple, maps: tuple[str, ...]) -> bool:
    """Whether the last key of ``path`` is a name the user chooses (a core, an op kind, a sleep state): renaming
    it makes a new entry, not a typo."""
    return len(path) >= 2 and path[-2] in maps and not isinstance(path[-1], int)


#: Cases that show a gap in a reader this corpus does not own, by case id: why, and whose file it is. Each runs as a
#: strict xfail, so the day the reader is fixed the entry must go.
KNOWN_GAPS: dict[str, str] = {}


def cases(items: list[Mutation]) -> list:
    """``items`` as pytest parameters, ids set, the known gaps marked as strict xfails."""
    return [pytest.param(m, id=m.id, marks=[pytest.mark.xfail(reason=KNOWN_GAPS[m.id], strict=True)]
                         if m.id in KNOWN_GAPS else []) for m in items]


# --- hardware profiles (YAML keys of a shipped profile) ---------------------------------------------------------

def unshared(doc: Any) -> Any:
    """``doc`` without YAML aliases (a copy per use), so a change at one key path changes that one alone."""
    return json.loads(json.dumps(doc))


PROFILE_SEED = unshared(load_yaml(ROOT / "hw_profiles" / "watch.yaml"))
#: Mappings of a profile (and its default scenario) whose keys are the user's names.
PROFILE_NAMES = ("cores", "ops", "sleep", "floor", "peripherals", "placement", "opp", "streaming", "idle", "dsp",
                 "big", "mcu", "little")
PROFILE_CASES = [m for m in mutate_keys(PROFILE_SEED, "profile", garbage=("list", "words", "negative", "huge"))
                 if not (m.how == "renamed" and user_named(m.path, PROFILE_NAMES))]
CORPUS["profile_yaml"] = len(PROFILE_CASES)


def _sane_profile(profile) -> None:
    finite_numbers(profile.battery, "battery")
    for name, core in profile.cores.items():
        assert all(p.freq > 0 and p.voltage > 0 for p in core.opps), name
        assert all(c.cycles_per_mac >= 0 for c in core.op_costs.values()), name


@pytest.mark.parametrize("m", cases(PROFILE_CASES))
def test_profile_corpus(m):
    from dslsim.hw.load import parse_profile

    from dslsim.sim.scenario import load_scenario

    def read():      # as 'dslsim profiles validate' reads a profile: its default scenario too
        profile = parse_profile(m.doc, "watch-mutated.yaml")
        load_scenario(None, profile)
        return profile

    expect_clean_or_named(read, "watch-mutated.yaml", _refusal_names_the_key(m), _sane_profile,
                          must_refuse=m.how in ("list", "renamed"))


# --- battery cell files (YAML keys of the shipped cell) ---------------------------------------------------------

CELL_SEED = unshared(load_yaml(ROOT / "dslsim" / "data" / "validation" / "cells" / "enertech-ai2020.yaml"))
CELL_CASES = mutate_keys(CELL_SEED, "cell")
CORPUS["cell_yaml"] = len(CELL_CASES)


def _sane_cell(cell) -> None:
    finite_numbers(cell.discharges, "discharges")
    times = [d.time_s for d in cell.discharges]
    assert all(d.current_a > 0 for d in cell.discharges) and times == sorted(times, reverse=True)


@pytest.mark.parametrize("m", cases(CELL_CASES))
def test_cell_corpus(tmp_path, m):
    from dslsim.hw.cellfit import load_cell

    path = tmp_path / "cell.yaml"
    path.write_text(yaml.safe_dump(m.doc))
    expect_clean_or_named(lambda: load_cell(path), path, _refusal_names_the_key(m), _sane_cell,
                          must_refuse=m.how in ("list", "renamed", "nan", "negative", "zero", "huge"))


@given(st.lists(st.tuples(st.floats(-1e3, 1e6) | st.sampled_from([math.nan, math.inf]),
                          st.floats(-1.0, 1e7) | st.sampled_from([math.nan, math.inf])), min_size=0, max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cell_discharges_of_any_numbers_load_cleanly_or_are_refused(tmp_path, rows):
    """Random C-rates and times: a cell that loads has finite positive currents and times that fall as the
    current rises (a longer discharge at a higher current is refused), whatever the numbers."""
    from dslsim.hw.cellfit import load_cell

    items = [{"c_rate": r, "time": f"{t!r} s"} for r, t in rows]
    path = tmp_path / "random-cell.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "nominal_capacity": "1 Ah", "discharges": {"items": items}}))
    expect_clean_or_named(lambda: load_cell(path), path, None, _sane_cell)


CORPUS["cell_yaml"] += 60


# --- Android power_profile.xml (elements of the example files) -------------------------------------------------

def _android_seeds() -> dict[str, str]:
    from test_android import CLASSIC, POLICY_XML

    legacy = ('<device><item name="battery.capacity">2700</item><item name="cpu.idle">6.8</item>'
              '<item name="cpu.awake">0.4</item><array name="cpu.clusters.cores"><value>4</value></array>'
              '<array name="cpu.speeds.cluster0"><value>500000</value><value>1000000</value></array>'
              '<array name="cpu.active.cluster0"><value>20</value><value>50</value></array></device>')
    return {"classic": CLASSIC.format(s0=300_000, s1=1_000_000, c0=10), "policy": POLICY_XML, "legacy": legacy}


#: What each XML element's text is replaced with.
XML_TEXT = {"words": "lots", "empty": "", "nan": "nan", "inf": "inf", "negative": "-5", "zero": "0",
            "hz": "3000000000", "huge": "1e300"}


def android_cases() -> list[tuple[str, str, str, str]]:
    """(id, seed, xml text, the element's key path) for every element and value of every seed: text replaced
    (:data:`XML_TEXT`), element removed, element repeated, name misspelt."""
    import xml.etree.ElementTree as ElementTree

    out = []
    for seed, text in _android_seeds().items():
        root = ElementTree.fromstring(text)
        for i, element in enumerate(list(root)):
            name = element.get("name")
            targets = [(element, name)] if element.tag == "item" else \
                [(v, f"{name}[{j}]") for j, v in enumerate(element.findall("value"))]
            for target, where in targets:
                for how, value in XML_TEXT.items():
                    changed = ElementTree.fromstring(text)
                    node = list(changed)[i] if target is element else list(changed)[i].findall("value")[
                        int(where.rsplit("[", 1)[1][:-1])]
                    node.text = value
                    out.append((f"android:{seed}:{where}={how}", seed, ElementTree.tostring(changed, "unicode"), where))
            for how in ("removed", "repeated", "renamed"):
                changed = ElementTree.fromstring(text)
                node = list(changed)[i]
                if how == "removed":
                    changed.remove(node)
                elif how == "repeated":
                    changed.append(copy.deepcopy(node))
                else:
                    node.set("name", name[:-1])
                out.append((f"android:{seed}:{name}:{how}", seed, ElementTree.tostring(changed, "unicode"), name))
    return out


ANDROID_CASES = android_cases()
CORPUS["android_xml"] = len(ANDROID_CASES)
#: Speeds the per-policy seed is imported with (its file carries none).
POLICY_SPEEDS = {0: [500_000, 1_500_000], 4: [400_000, 1_200_000, 2_400_000]}


def _sane_android(profile) -> None:
    finite_numbers(profile.battery, "battery")
    for core in profile.cores.values():
        for p in core.opps:
            assert p.freq > 0 and p.run_current >= 0 and p.idle_current >= 0 and math.isfinite(p.run_current)
    assert profile.battery_floor_power >= 0


@pytest.mark.parametrize("case", ANDROID_CASES, ids=[c[0] for c in ANDROID_CASES])
def test_android_corpus(case):
    from dslsim.hw.android import android_profile, parse_power_profile
    from dslsim.hw.load import parse_profile

    name, seed, text, where = case
    speeds = POLICY_SPEEDS if seed == "policy" else None

    def read():
        doc, _ = android_profile(parse_power_profile(text, "phone.xml"), "phone.xml", speeds=speeds)
        return parse_profile(doc, "phone.xml (as imported)")

    # Impossible text at an element the import maps must be refused there; elsewhere (an unmapped element, a
    # count of cores) it may be read past.
    how = name.rsplit("=", 1)[-1] if "=" in name else name.rsplit(":", 1)[-1]
    must = how in ("words", "empty", "nan", "inf") or (how in ("negative", "hz") and "speeds" in where) or \
        (how == "negative" and where.split("[")[0].startswith(("cpu.core_power", "cpu.scaling_step_power",
                                                                "cpu.active", "battery.capacity", "cpu.idle")))
    outcome = expect_clean_or_named(read, "phone.xml", where if must else None, _sane_android, must_refuse=must)
    if how == "repeated":
        assert outcome == "refused"        # two elements of one name: which one Android reads is not defined


# --- calibrate measurement files and the datasheet tables they pick (YAML keys) ---------------------------------

VALIDATION = ROOT / "dslsim" / "data" / "validation"


def _measurement_seeds() -> tuple[dict, dict]:
    """A one-model, one-system measurement file cut from the shipped one, and the datasheet it picks, trimmed to
    the two tables it uses (the loader's cost is YAML parsing: a small file keeps each case at ~0.1 s)."""
    spec = load_yaml(VALIDATION / "mlperf-tiny.yaml")
    system = spec["systems"]["stm32u575"]
    bench = {"name": "mini", "models": {"kws": dict(spec["models"]["kws"],
                                                    file=str(VALIDATION / spec["models"]["kws"]["file"]))},
             "systems": {"stm32u575": dict(system, profile=str(ROOT / "hw_profiles" / "stm32u575.yaml"),
                                           results={"kws": system["results"]["kws"]},
                                           datasheet=dict(system["datasheet"], file="sheet.yaml"))}}
    sheet = load_yaml(VALIDATION / "datasheets" / "stm32u575.yaml")
    tables = {"run": [t for t in sheet["tables"]["run"] if "Table 38" in t["source"]],
              "sleep": [t for t in sheet["tables"]["sleep"] if "Table 45" in t["source"]]}
    return unshared(bench), unshared({"board": sheet["board"], "datasheet": sheet["datasheet"], "tables": tables})


BENCH_SEED, SHEET_SEED = _measurement_seeds()
MEASUREMENT_CASES = [m for m in mutate_keys(BENCH_SEED, "measurement", garbage=("list", "negative"))
                     if not (m.how == "renamed" and user_named(m.path, ("models", "systems", "results", "ranges")))
                     and not (m.how == "negative" and m.path[-1] not in ("latency", "energy", "clock", "voltage"))]
CORPUS["measurement_yaml"] = len(MEASUREMENT_CASES)
#: The keys of a transcribed datasheet the calibration reads; the others (title, conditions, notes) describe the
#: transcription for people and may hold anything.
SHEET_KEYS = ("board", "datasheet", "id", "revision", "tables", "run", "sleep", "points", "range", "clock", "typ",
              "source")
#: Those it cannot do without (a table's kind missing is reported at the measurement file's choice of it).
SHEET_REQUIRED = ("board", "datasheet", "id", "tables", "points", "range", "clock", "typ", "source")
SHEET_CASES = [m for m in mutate_keys(SHEET_SEED, "datasheet", garbage=("list", "words", "negative", "zero"),
                                      only=lambda p: (len(p) <= 4 or p[4] in (0, 15)) and (
                                          isinstance(p[-1], int) or p[-1] in SHEET_KEYS))]
CORPUS["datasheet_yaml"] = len(SHEET_CASES)


def _read_bench(tmp_path: Path, bench: dict, sheet: dict):
    from dslsim.calibration.fit import fit, load_measurements

    (tmp_path / "sheet.yaml").write_text(yaml.safe_dump(sheet))
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(bench))
    return path, lambda: fit(load_measurements(path))


def _sane_calibration(cal) -> None:
    finite_numbers([cal.cycles_per_mac, cal.cycles_per_output, cal.cycles_per_op, cal.speed, cal.power])
    assert cal.cycles_per_mac > 0 and all(p > 0 for p in cal.power.values())


@pytest.mark.parametrize("m", cases(MEASUREMENT_CASES))
def test_measurement_corpus(tmp_path, m):
    path, read = _read_bench(tmp_path, m.doc, SHEET_SEED)
    expect_clean_or_named(read, path, _refusal_names_the_key(m), _sane_calibration,
                          must_refuse=m.how in ("list", "renamed"))


@pytest.mark.parametrize("m", cases(SHEET_CASES))
def test_datasheet_corpus(tmp_path, m):
    _, read = _read_bench(tmp_path, BENCH_SEED, m.doc)
    last = m.key if m.how == "renamed" else m.path[-1]
    used = all(isinstance(k, int) or k in SHEET_KEYS for k in m.path[:-1]) and (isinstance(last, int) or
                                                                              last in SHEET_KEYS)
    must = used and (m.how == "list" or (m.how == "renamed" and last in SHEET_REQUIRED) or
                     (m.how == "words" and last in ("range", "clock", "typ")) or
                     (m.how in ("negative", "zero") and last in ("clock", "typ")))
    expect_clean_or_named(read, tmp_path / "sheet.yaml", _refusal_names_the_key(m) if m.how == "list" else None,
                          _sane_calibration, must_refuse=must)


def _every_typ(state: str, edit: Callable[[str], str]) -> Callable[[dict], dict]:
    """A change of every row's typical current of the seed's ``state`` table."""
    def change(sheet: dict) -> dict:
        sheet = unshared(sheet)
        for row in sheet["tables"][state][0]["points"]:
            row["typ"] = edit(row["typ"])
        return sheet
    return change


#: Whole tables changed by hand, and what calibrate must make of the lines it fits to them (reasoned from the seed,
#: DS13737 Tables 38 and 45: Run 39 to 71 uA/MHz over floors of 0 to 0.32 mA, Sleep 12 to 21 uA/MHz over 0.1 to
#: 0.44 mA): refused when a line is impossible, warned (naming the table) when implausible, else read cleanly.
SHEET_FIT_CASES = [
    # One current at every clock: no part per MHz, which no running core has.
    ("run-flat", _every_typ("run", lambda typ: "3 mA"), "refused"),
    # Every Run row in A where the datasheet says mA: floors up to 0.32 A (over 50 mA), 39,000+ uA/MHz (over 5000).
    ("run-in-amperes", _every_typ("run", lambda typ: typ.replace("mA", "A")), "warned"),
    ("sleep-in-amperes", _every_typ("sleep", lambda typ: typ.replace("mA", "A")), "warned"),
    # Every Run row in uA: 0.04 to 0.07 uA/MHz, below the 1 uA/MHz of the most frugal published core.
    ("run-in-microamperes", _every_typ("run", lambda typ: typ.replace("mA", "uA")), "warned"),
    # Sleep in uA or flat: a Sleep part per MHz of 0.01 to 0.02 uA/MHz or of 0 is possible and has no plausible
    # lower bound (a clock-gated core may draw next to nothing per MHz); floors of 0.1 uA or the flat 3 mA pass.
    ("sleep-in-microamperes", _every_typ("sleep", lambda typ: typ.replace("mA", "uA")), "clean"),
    ("sleep-flat", _every_typ("sleep", lambda typ: "3 mA"), "clean"),
]
CORPUS["datasheet_yaml"] += len(SHEET_FIT_CASES)


@pytest.mark.parametrize("name, change, outcome", SHEET_FIT_CASES, ids=[c[0] for c in SHEET_FIT_CASES])
def test_datasheet_tables_whose_fitted_lines_are_impossible_or_implausible(tmp_path, name, change, outcome):
    from dslsim.plausible import PlausibilityWarning

    _, read = _read_bench(tmp_path, BENCH_SEED, change(SHEET_SEED))
    state = name.split("-")[0]
    table = {"run": "tables.run[0] (Table 38)", "sleep": "tables.sleep[0] (Table 45)"}[state]
    if outcome == "refused":
        expect_clean_or_named(read, tmp_path / "sheet.yaml", f"{table}, range", must_refuse=True)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PlausibilityWarning)
        _sane_calibration(read())
    said = [str(w.message) for w in caught if issubclass(w.category, PlausibilityWarning)]
    named = [s for s in said if s.startswith(f"{tmp_path / 'sheet.yaml'}: {table}, range ")]
    assert (len(named) > 0) == (outcome == "warned"), said
    assert len(named) == len(said), said          # nothing about the table left as it was


# --- op tables: CSV columns and YAML keys ----------------------------------------------------------------------

def _op_table_seed() -> "pd.DataFrame":
    """The shipped KWS model's ops as an op table (the TFLite reader's output, written as a user would)."""
    import pandas as pd

    from dslsim.trace.model_ops import read_model_ops

    ops = read_model_ops(ROOT / "dslsim" / "data" / "models" / "mlperf-tiny" / "kws_ref_model.tflite", "keep")
    return pd.DataFrame([{"name": o.name, "kind": o.kind, "macs": o.macs, "weight_bytes": o.weight_bytes,
                          "act_in_bytes": o.act_in_bytes, "act_out_bytes": o.act_out_bytes, "dtype": o.dtype}
                         for o in ops[:6]])


OP_SEED = _op_table_seed()
#: What a column's values are replaced with (in its third row, or every row).
CELL_VALUES = {"words": "lots", "empty": "", "nan": "nan", "inf": "inf", "negative": "-3", "huge": "1e400"}


def op_csv_cases() -> list[tuple[str, str, str | None, bool]]:
    """(id, CSV text, the column the refusal must name or None, must it be refused) per column of the seed: the
    column renamed (a typo), dropped, repeated, and one row's value replaced by each of :data:`CELL_VALUES`."""
    out = []
    base = OP_SEED.astype(str)
    for column in base.columns:
        renamed = base.rename(columns={column: column[:-1]})
        out.append((f"op_csv:{column}:renamed", renamed.to_csv(index=False), column[:-1], True))
        dropped = base.drop(columns=[column])
        out.append((f"op_csv:{column}:dropped", dropped.to_csv(index=False), None, column in ("kind", "macs")))
        repeated = base.assign(**{f"{column}_again": base[column]}).rename(columns={f"{column}_again": column})
        out.append((f"op_csv:{column}:repeated", repeated.to_csv(index=False), column, True))
        for how, value in CELL_VALUES.items():
            changed = base.copy()
            changed.loc[2, column] = value
            numeric = column in ("macs", "weight_bytes", "act_in_bytes", "act_out_bytes")
            must = (numeric and how not in ("empty",)) or (column in ("kind", "dtype") and how != "empty" and
                                                           column == "dtype") or (column == "kind" and how == "empty")
            out.append((f"op_csv:{column}[2]={how}", changed.to_csv(index=False), "row 4", must))
    out.append(("op_csv:no rows", base.head(0).to_csv(index=False), None, True))
    out.append(("op_csv:not csv", "\x00\x01\x02 binary", None, True))
    return out


OP_CSV_CASES = op_csv_cases()
CORPUS["op_table_csv"] = len(OP_CSV_CASES)


def _sane_ops(ops) -> None:
    assert ops and all(math.isfinite(o.macs) and o.macs >= 0 and o.bytes_moved >= 0 for o in ops)


@pytest.mark.parametrize("case", OP_CSV_CASES, ids=[c[0] for c in OP_CSV_CASES])
def test_op_table_csv_corpus(tmp_path, case):
    from dslsim.trace.optable import model_trace, read_op_table

    _, text, where, must = case
    path = tmp_path / "ops.csv"
    path.write_text(text)
    expect_clean_or_named(lambda: read_op_table(path), path, where, _sane_ops, must_refuse=must)
    if not must:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model_trace(read_op_table(path), rate=2.0, duration=5.0)      # what is read makes a trace
            except DslsimError:
                pass


OP_YAML_SEED = {"ops": unshared(OP_SEED.to_dict("records"))}
OP_YAML_CASES = mutate_keys(OP_YAML_SEED, "op_yaml", garbage=("list", "words", "negative", "huge"),
                            only=lambda p: len(p) < 2 or p[1] in (0, 5))
CORPUS["op_table_yaml"] = len(OP_YAML_CASES)


@pytest.mark.parametrize("m", cases(OP_YAML_CASES))
def test_op_table_yaml_corpus(tmp_path, m):
    from dslsim.trace.optable import read_op_table

    path = tmp_path / "ops.yaml"
    path.write_text(yaml.safe_dump(m.doc))
    numeric = m.path[-1] in ("macs", "weight_bytes", "act_in_bytes", "act_out_bytes")
    expect_clean_or_named(lambda: read_op_table(path), path, _refusal_names_the_key(m), _sane_ops,
                          must_refuse=m.how in ("list", "renamed") or (numeric and m.how in ("words", "negative")))


# --- traces: JSON keys of the metadata, and frame columns -------------------------------------------------------

def _trace_seed():
    """A 4-second early-exit trace: decisions, per-exit scores and error columns, three stages per path."""
    from dslsim.trace.kpath import early_exit_trace

    return early_exit_trace(duration=4.0, frame_rate=50.0, shares=[0.6, 0.3, 0.1], seed=3, width=8, steps=4)


TRACE_SEED = _trace_seed()
TRACE_META_SEED = unshared(TRACE_SEED.meta.to_json())
def _one_of_each(p: tuple) -> bool:
    """Mutate one stage (its first op) and one path of the metadata: the others are read by the same code."""
    if p[:1] == ("stages",):
        return len(p) < 2 or (p[1] == "block1" and (len(p) < 4 or p[3] == 0))
    if p[:1] == ("paths",):
        return len(p) < 2 or p[1] == "exit2"
    return True


TRACE_META_CASES = [m for m in mutate_keys(TRACE_META_SEED, "trace_meta", garbage=("list", "words", "negative"),
                                           only=_one_of_each)
                    if not (m.how == "renamed" and user_named(m.path, ("paths", "stages", "source")))
                    and m.path[:1] != ("source",)]          # free-form provenance: any JSON object
#: What a frame column is replaced with.
FRAME_EDITS = {
    "dropped": lambda f, c: f.drop(columns=[c]),
    "words": lambda f, c: f.assign(**{c: "lots"}),
    "nan": lambda f, c: f.assign(**{c: np.where(np.arange(len(f)) == 7, np.nan, f[c].astype(float))}),
    "negative": lambda f, c: f.assign(**{c: -f[c].astype(float) - 1.0}),
    "shuffled": lambda f, c: f.assign(**{c: f[c].to_numpy()[::-1].copy()}),
}
TRACE_FRAME_CASES = [(f"trace_frames:{c}:{how}", c, how) for c in TRACE_SEED.frames.columns for how in FRAME_EDITS
                     if not (c == "path" and how in ("nan", "negative"))]
CORPUS["trace_parquet"] = len(TRACE_META_CASES) + len(TRACE_FRAME_CASES)


def _write_raw_trace(path: Path, frames, meta: dict) -> None:
    """Write a trace file as another tool (or damage) would: no checks on the way out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dslsim.trace.io import META_KEY

    table = pa.Table.from_pandas(frames, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()}), path)


def _sane_trace(t) -> None:
    assert len(t) > 0 and np.isfinite(t.frames["t_arrival"].to_numpy()).all()
    assert (t.frames["path"].cat.codes >= 0).all()
    for p in t.meta.paths:
        assert math.isfinite(t.meta.path_macs(p)) and t.meta.path_macs(p) >= 0
    finite_numbers(t.routed_error())


@pytest.mark.parametrize("m", cases(TRACE_META_CASES))
def test_trace_metadata_corpus(tmp_path, m):
    from dslsim.trace.io import read_trace

    path = tmp_path / "t.parquet"
    _write_raw_trace(path, TRACE_SEED.frames, m.doc)
    expect_clean_or_named(lambda: read_trace(path), path, _refusal_names_the_key(m) and "metadata", _sane_trace,
                          must_refuse=m.how in ("list", "renamed"))


@pytest.mark.parametrize("case", TRACE_FRAME_CASES, ids=[c[0] for c in TRACE_FRAME_CASES])
def test_trace_frames_corpus(tmp_path, case):
    from dslsim.trace.io import read_trace

    _, column, how = case
    path = tmp_path / "t.parquet"
    frames = FRAME_EDITS[how](TRACE_SEED.frames.copy(), column)
    _write_raw_trace(path, frames, TRACE_META_SEED)
    # The three frame columns and the decisions' scores are required; a path's error column is optional (a trace
    # without it has no routed error) and any finite number (lower is better), so only text and NaN are wrong.
    if column.startswith("err_"):
        must = how in ("words", "nan")
    else:
        read_by = column in ("frame", "t_arrival", "path") or column.startswith("conf_")
        must = read_by and how in ("dropped", "words", "nan", "negative") and not (
            column.startswith("conf_") and how == "nan") and not (column == "frame" and how == "negative")
    expect_clean_or_named(lambda: read_trace(path), path, f"'{column}'" if must else None, _sane_trace,
                          must_refuse=must)


# --- saved runs (JSON keys of run.json and summary.json, columns of the resources table) ------------------------

@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One run as 'simulate --out' writes it (CSV tables), to be copied and damaged per case."""
    from dslsim.report.export import write_result

    folder = tmp_path_factory.mktemp("run") / "a"
    write_result(simulate("earbud", "dsl-c32-75hz-2min", baseline=False), folder, ("csv",), frames=False)
    return folder


def _run_seeds() -> dict[str, Any]:
    return {"run.json": {"run_id": "r1", "complete": True, "files": ["summary.json", "resources.csv"]},
            "summary.json": {"run_id": "r1", "summary": {
                "frames": 9000, "duration_s": 120.0, "always_on_power_W": 1e-3, "compute_power_W": 5e-4,
                "battery_power_W": 1.2e-3, "battery_life_h": 140.0, "latency_p50_s": 4e-3, "latency_p99_s": 8e-3,
                "deadline_miss_rate": 0.0, "dropped": 0, "wakeups": 12, "max_utilization": 0.3,
                "keeps_up": True, "share_light": 0.8, "share_full": 0.2}}}


RUN_CASES = [(name, m) for name, doc in _run_seeds().items()
             for m in mutate_keys(doc, f"run:{name}", garbage=("list", "words", "nan"), renames=False)]
#: What a column of the resources table is replaced with.
TABLE_EDITS = ("dropped", "words", "renamed")
RESOURCE_COLUMNS = ("resource", "component", "time_s", "power_W")
RUN_TABLE_CASES = [(f"run:resources.csv:{c}:{how}", c, how) for c in RESOURCE_COLUMNS for how in TABLE_EDITS]
CORPUS["run_folder"] = len(RUN_CASES) + len(RUN_TABLE_CASES)


def _copy_run(saved: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(saved, to)
    return to


@pytest.mark.parametrize("case", RUN_CASES, ids=[c[1].id for c in RUN_CASES])
def test_run_folder_json_corpus(saved_run, tmp_path, case):
    """Each key of a run's two JSON files changed: the comparison reads it or refuses it naming the file."""
    from dslsim.report.compare import Run, compare
    from dslsim.sim.figures import HEADLINE

    name, m = case
    folder = _copy_run(saved_run, tmp_path / "b")
    real = json.loads((folder / name).read_text())
    doc = copy.deepcopy(real)
    # The real file, with the seed's key changed where the real one has it (the seed lists the keys compared).
    try:
        target = _parent(doc, m.path)
        if m.how == "removed":
            target.pop(m.path[-1], None)
        else:
            target[m.path[-1]] = copy.deepcopy(_parent(m.doc, m.path)[m.path[-1]])
    except (KeyError, IndexError, TypeError):
        doc = m.doc
    (folder / name).write_text(json.dumps(doc))

    def read():
        head, _ = compare(Run.read(saved_run), Run.read(folder))
        finite_numbers([v for v in head["delta"] if isinstance(v, float) and not math.isnan(v)])
        return head

    # What a comparison reads: the run ids (must match), 'complete' (must be true), the headline figures and
    # 'keeps_up'; other keys (the list of files, the frame count) are carried, not compared.
    compared = m.path[:1] in (("run_id",), ("complete",), ("summary",)) and (
        len(m.path) < 2 or m.path[1] in HEADLINE or m.path[1].startswith("share_") or m.path[1] == "keeps_up")
    must = compared and (m.how in ("list", "words") or (m.how == "removed" and len(m.path) == 1) or
                         (m.how == "nan" and m.path[:1] in (("run_id",), ("complete",))))
    expect_clean_or_named(read, folder, None, must_refuse=must)


@pytest.mark.parametrize("case", RUN_TABLE_CASES, ids=[c[0] for c in RUN_TABLE_CASES])
def test_run_folder_table_corpus(saved_run, tmp_path, case):
    import pandas as pd

    from dslsim.report.compare import Run, compare

    _, column, how = case
    folder = _copy_run(saved_run, tmp_path / "b")
    table = pd.read_csv(folder / "resources.csv")
    if how == "dropped":
        table = table.drop(columns=[column])
    elif how == "renamed":
        table = table.rename(columns={column: column[:-1]})
    else:
        table[column] = "lots"
    table.to_csv(folder / "resources.csv", index=False)
    must = how in ("dropped", "renamed") or column in ("time_s", "power_W")
    expect_clean_or_named(lambda: compare(Run.read(saved_run), Run.read(folder)), folder, None,
                          must_refuse=must)


# --- sweep stores (JSON keys of the manifest, point files) ------------------------------------------------------

def _store_seed(folder: Path):
    """A sweep store as 'dslsim sweep' leaves it, without running the points: the manifest of a two-point spec
    and one finished point file."""
    from dslsim.sweep.spec import parse_spec
    from dslsim.sweep.store import SweepStore

    spec = parse_spec({"name": "s", "base": {"profile": "watch", "trace": "dsl-c32-75hz-2min"},
                       "axes": {"scenario.opp.big": ["low", "high"]}}, "s.yaml", ".")
    store = SweepStore(folder)
    store.open(spec)
    manifest = store.manifest()
    store.save({"point_id": manifest["points"][0]["id"], "battery_life_h": 12.5, "keeps_up": True})
    return store


STORE_MANIFEST_SEED = {"name": "s", "source": "s.yaml", "digest": "d", "profile": "watch.yaml", "scenario": "x",
                       "trace": "t.parquet", "baseline": True, "axes": {"scenario.opp.big": ["low", "high"]},
                       "points": [{"id": "p1", "scenario.opp.big": "low"}, {"id": "p2", "scenario.opp.big": "high"}]}
STORE_CASES = mutate_keys(STORE_MANIFEST_SEED, "store:manifest.json", garbage=("list", "words", "nan"))
#: What a point file is replaced with.
POINT_EDITS = {"cut short": '{"point_id": "p1", "battery', "a list": "[1, 2]", "another point": '{"point_id": "p9"}',
               "empty": "", "binary": "\x00\xff\x10"}
CORPUS["sweep_store"] = len(STORE_CASES) + len(POINT_EDITS)


@pytest.mark.parametrize("m", cases(STORE_CASES))
def test_sweep_store_manifest_corpus(tmp_path, m):
    store = _store_seed(tmp_path / "store")
    real = json.loads((store.root / "manifest.json").read_text())
    ids = [p["id"] for p in real["points"]]
    doc = json.loads(json.dumps(m.doc).replace('"p1"', json.dumps(ids[0])).replace('"p2"', json.dumps(ids[1])))
    (store.root / "manifest.json").write_text(json.dumps(doc))

    def read():      # what 'report --sweep' reads
        manifest = store.manifest(require=("name", "axes", "profile", "scenario", "trace"))
        return manifest, store.table()

    needed = m.path[:1] in (("points",), ("axes",), ("name",), ("profile",), ("scenario",), ("trace",))
    # Any text is an id (rows of unknown ids sort last); a number or a list is not.
    must = (m.how == "removed" and len(m.path) == 1 and needed) or (m.how in ("list", "words", "nan") and m.path in (
        ("points",), ("axes",))) or (m.how in ("list", "nan") and m.path[:1] == ("points",) and m.path[-1] == "id")
    expect_clean_or_named(read, store.root / "manifest.json", None, must_refuse=must)


@pytest.mark.parametrize("how", POINT_EDITS)
def test_sweep_store_point_corpus(tmp_path, how):
    """A damaged point file is not a result: it is removed and its point runs again, never read as one."""
    store = _store_seed(tmp_path / "store")
    point = next(store.points_dir.glob("*.json"))
    point.write_text(POINT_EDITS[how])
    assert store.done() == set() and not point.exists()
    assert store.table().empty


# --- sweep specs, scenarios, schedules (YAML keys of the shipped examples) --------------------------------------

SPEC_SEED = unshared(load_yaml(ROOT / "examples" / "sweep-sleep-timeout.yaml"))
SPEC_SEED["base"]["trace"] = "dsl-c32-75hz-2min"        # a short trace: the spec loader reads it once per case
SPEC_CASES = [m for m in mutate_keys(SPEC_SEED, "spec", garbage=("list", "words", "negative"))
              if not (m.how == "renamed" and user_named(m.path, ("axes",)))]
CORPUS["sweep_spec_yaml"] = len(SPEC_CASES)


@pytest.mark.parametrize("m", cases(SPEC_CASES))
def test_sweep_spec_corpus(m):
    from dslsim.sweep.spec import parse_spec

    # A value of an axis is checked where the point that holds it loads: the refusal names the point, not the key.
    of_an_axis_list = m.path[:1] == ("axes",) and len(m.path) == 3 and isinstance(m.path[2], int) and \
        m.path[1] != "trace.threshold"
    expect_clean_or_named(lambda: parse_spec(m.doc, "spec.yaml", ROOT / "examples"), "spec.yaml",
                          None if of_an_axis_list else _refusal_names_the_key(m),
                          must_refuse=m.how in ("list", "renamed"))


SCENARIO_SEED = unshared(load_yaml(ROOT / "examples" / "stm32u575-sai-stream.yaml"))
SCENARIO_SEEDS = {"stream": SCENARIO_SEED, "watch": unshared(load_yaml(ROOT / "hw_profiles" / "watch.yaml")
                                                             ["default_scenario"])}
SCENARIO_CASES = [(seed, m) for seed, doc in SCENARIO_SEEDS.items()
                  for m in mutate_keys(doc, f"scenario:{seed}", garbage=("list", "words", "negative"))
                  if not (m.how == "renamed" and user_named(m.path, PROFILE_NAMES))]
CORPUS["scenario_yaml"] = len(SCENARIO_CASES)


@pytest.mark.parametrize("case", SCENARIO_CASES, ids=[c[1].id for c in SCENARIO_CASES])
def test_scenario_corpus(case):
    from dslsim.hw.load import load_profile
    from dslsim.sim.scenario import parse_scenario

    seed, m = case
    profile = load_profile("stm32u575" if seed == "stream" else "watch")
    if m.id in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[m.id])
    expect_clean_or_named(lambda: parse_scenario(m.doc, profile, "scn.yaml"), "scn.yaml", _refusal_names_the_key(m),
                          must_refuse=m.how in ("list", "renamed"))


SCHEDULE_SEED = unshared(load_yaml(ROOT / "examples" / "usage" / "week-of-a-wearable.yaml"))
SCHEDULE_CASES = [m for m in mutate_keys(SCHEDULE_SEED, "schedule", garbage=("list", "words", "negative"),
                                         only=lambda p: p[:2] != ("days", 1) and not (
                                             p[:1] == ("days",) and len(p) > 3 and p[3] not in (0, 1)))
                  if not (m.how == "renamed" and user_named(m.path, ("scenes",)))]
CORPUS["schedule_yaml"] = len(SCHEDULE_CASES)


@pytest.mark.parametrize("m", cases(SCHEDULE_CASES))
def test_schedule_corpus(m):
    from dslsim.trace.compose import parse_schedule

    expect_clean_or_named(lambda: parse_schedule(m.doc, "week.yaml", ROOT / "examples" / "usage"), "week.yaml",
                          _refusal_names_the_key(m), must_refuse=m.how in ("list", "renamed"))


# --- stacks of models (YAML keys) -------------------------------------------------------------------------------

STACK_SEED = {"name": "vad-ww-kws", "duration": "1 min", "models": {
    "vad": {"trace": "vad-fr-50s", "priority": 2, "placement": {"default": "dsp"}},
    "ww": {"trace": "okay-nabu-fr-50s", "gate": {"model": "vad", "threshold": 0.5, "hold": "1 s"}, "priority": 1,
           "deadline": "20 ms"},
    "kws": {"model": str(ROOT / "dslsim" / "data" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"),
            "rate": "2 Hz", "gate": {"model": "ww", "threshold": 0.9, "hold": "2 s"}}}}
STACK_CASES = [m for m in mutate_keys(STACK_SEED, "stack", garbage=("list", "words", "negative"))
               if not (m.how == "renamed" and user_named(m.path, ("models", "placement")))]
CORPUS["stack_yaml"] = len(STACK_CASES)


@pytest.mark.parametrize("m", cases(STACK_CASES))
def test_stack_corpus(m):
    """A stack as 'simulate --stack' reads it: parsed, then compiled onto a profile (placements, gates)."""
    from dslsim.hw.load import load_profile
    from dslsim.sim.stack import compile_stack, parse_stack

    profile = load_profile("earbud")
    expect_clean_or_named(lambda: compile_stack(parse_stack(m.doc, "stack.yaml", ROOT), profile), "stack.yaml",
                          _refusal_names_the_key(m), must_refuse=m.how in ("list", "renamed"))


# --- bench current traces for compare-measured (CSV columns) ----------------------------------------------------

def _bench_csv_seeds() -> dict[str, "pd.DataFrame"]:
    """A PPK2 export and a Joulescope one, 200 samples each."""
    import pandas as pd

    i = np.arange(200)
    return {"ppk2": pd.DataFrame({"Timestamp(ms)": 0.01 * i, "Current(uA)": 100.0 + (i % 7),
                                  "D0-D7": ["00000000"] * 200}),
            "joulescope": pd.DataFrame({"time (s)": 1e-5 * i, "current (A)": 1e-4 + 1e-6 * (i % 5),
                                        "voltage (V)": 1.8 + 0.0 * i})}


BENCH_CSV_SEEDS = _bench_csv_seeds()
BENCH_CSV_EDITS = ("dropped", "renamed", "words", "nan", "negative", "reversed", "unit")
BENCH_CSV_CASES = [(f"measured:{seed}:{c}:{how}", seed, c, how) for seed, df in BENCH_CSV_SEEDS.items()
                   for c in df.columns for how in BENCH_CSV_EDITS]
CORPUS["measured_csv"] = len(BENCH_CSV_CASES)


@pytest.mark.parametrize("case", BENCH_CSV_CASES, ids=[c[0] for c in BENCH_CSV_CASES])
def test_bench_current_csv_corpus(tmp_path, case):
    from dslsim.report.measured.reader import read_measurement

    _, seed, column, how = case
    df = BENCH_CSV_SEEDS[seed].copy()
    if how == "dropped":
        df = df.drop(columns=[column])
    elif how == "renamed":
        df = df.rename(columns={column: column.replace("i", "", 1)})
    elif how == "unit":
        df = df.rename(columns={column: column.replace("(", "(k", 1) if "(" in column else column + " (kA)"})
    elif how == "words":
        df[column] = df[column].astype(object)
        df.loc[5, column] = "lots"
    elif how == "nan":
        df[column] = df[column].astype(object)
        df.loc[5, column] = "nan"
    elif how == "negative":
        df[column] = [f"-{v}" for v in df[column]]
    else:
        df[column] = df[column].to_numpy()[::-1]
    path = tmp_path / "bench.csv"
    df.to_csv(path, index=False)

    def sane(m) -> None:
        t, i = np.asarray(m.time_s), np.asarray(m.current_A)
        assert len(t) >= 10 and np.isfinite(t).all() and np.isfinite(i).all() and (np.diff(t) > 0).all()

    role = "time" if "ime" in column else "current" if "urrent" in column else "voltage" if "oltage" in column \
        else None
    # A misspelt name is still read by its unit ('Curent(uA)' is a current); a wrong unit or a missing column is not.
    must = role in ("time", "current") and how in ("dropped", "words", "nan", "unit") or (
        role == "time" and how in ("reversed",))
    expect_clean_or_named(lambda: read_measurement(path), path, None, sane, must_refuse=must)


# --- WAV files and the label tables beside them ----------------------------------------------------------------

def _wav_bytes(rate: int = 16000, channels: int = 1, bits: int = 16, frames: int = 800, fmt: int = 1,
               data_size: int | None = None) -> bytes:
    import struct

    data = bytes(frames * channels * bits // 8)
    block = channels * bits // 8
    header = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    size = len(data) if data_size is None else data_size
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + header + b"data"
            + struct.pack("<I", size) + data)


#: One header field of a valid 16-bit mono WAV changed at a time.
WAV_CASES = {"rate 0": dict(rate=0), "rate 1 MHz": dict(rate=1_000_000), "no channels": dict(channels=0),
             "7-bit": dict(bits=7), "12-bit": dict(bits=12), "format 3 at 16 bits": dict(fmt=3),
             "format 99": dict(fmt=99), "data size past the end": dict(data_size=10**9), "no samples": dict(frames=0),
             "valid": {}}
CORPUS["wav"] = 2 * len(WAV_CASES) + 5      # two readers; and the five cases of test_bad_wav_files / twelve-bit above


@pytest.mark.parametrize("how", list(WAV_CASES))
def test_wav_header_corpus(tmp_path, how):
    pytest.importorskip("scipy")
    from dslsim.model.data import read_wav

    path = tmp_path / "x.wav"
    path.write_bytes(_wav_bytes(**WAV_CASES[how]))
    from dslsim.model.scores import read_audio

    for read in (lambda: read_wav(path, 16000), lambda: read_audio(path)):   # the codec's reader, the scorers'
        outcome = expect_clean_or_named(read, path, None, lambda x: finite_numbers(np.asarray(x, dtype=float).tolist()))
        assert (outcome == "clean") == (how == "valid")


LABEL_CASES = {"no speech column": "frame,other\n" + "".join(f"{i},1\n" for i in range(5)),
               "text labels": "speech\n" + "yes\n" * 5, "too few rows": "speech\n1\n",
               "2 as a label": "speech\n" + "2\n" * 5, "-1 as a label": "speech\n" + "-1\n" * 5,
               "nan labels": "speech\n" + "nan\n" * 5, "empty labels": "speech\n" + "\n" * 5, "empty": "",
               "binary": "\x00\x01", "header only": "speech\n", "valid": "speech\n" + "1\n" * 5}
CORPUS["wav_labels_csv"] = len(LABEL_CASES)


@pytest.mark.parametrize("how", LABEL_CASES)
def test_wav_label_table_corpus(tmp_path, how):
    """'model table --wav-dir': a recording's labels, one row per frame, from the CSV of the same name."""
    pytest.importorskip("torch")
    from scipy.io import wavfile

    from dslsim.model.evaluate import wav_clips

    wavfile.write(tmp_path / "a.wav", 16000, np.zeros(5 * 320, dtype=np.int16))
    (tmp_path / "a.csv").write_text(LABEL_CASES[how])
    outcome = expect_clean_or_named(lambda: wav_clips(tmp_path, 16000, 320), tmp_path / "a.csv")
    assert (outcome == "clean") == (how == "valid")


# --- command-line values ----------------------------------------------------------------------------------------

def _commands() -> dict[str, "click.Command"]:
    """Every command of the CLI modules whose values are typed here, by its full name."""
    import click

    from dslsim.cli.main import cli

    owned = {"dslsim.cli.trace_cmd", "dslsim.cli.validate_cmd", "dslsim.cli.profiles_cmd", "dslsim.cli.compare_cmd",
             "dslsim.cli.model_cmd", "dslsim.cli.early_exit_cmd", "dslsim.cli.measured_cmd", "dslsim.cli.report_cmd"}
    out = {}

    def walk(command, name):
        if isinstance(command, click.Group):       # listed and loaded as the CLI does (commands load lazily)
            ctx = click.Context(command)
            for sub_name in command.list_commands(ctx):
                walk(command.get_command(ctx, sub_name), f"{name} {sub_name}")
        elif command.callback is not None and command.callback.__module__ in owned:
            out[name] = command
    walk(cli, "dslsim")
    return out


#: Options of those commands that other modules declare (shared decorators), left to their owners.
SHARED_OPTIONS = {"max_misses"}
BAD_VALUES = ("nan", "inf", "-1e400", "", "x")


def _typed_options() -> list[tuple[str, "click.Option"]]:
    from dslsim.cli.params import Typed

    return [(f"{name} {p.opts[0]}", p) for name, command in _commands().items() for p in command.params
            if isinstance(p.type, Typed)]


TYPED_OPTIONS = _typed_options()
CLI_CASES = [(f"cli:{where}={value!r}", p, value) for where, p in TYPED_OPTIONS for value in BAD_VALUES]
CORPUS["cli_values"] = len(CLI_CASES)


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_value_corpus(case):
    """Every typed option refuses non-numbers, non-finite numbers and empty text, saying what it found and what it
    expected; its default (when it has one) is a value of its own type."""
    import click

    _, param, value = case
    with pytest.raises(click.BadParameter, match="found .*, expected "):
        param.type.convert(value, param, None)
    param.get_default(click.Context(click.Command("probe")))      # converts the default, if any, by its type


def test_no_numeric_option_of_these_commands_is_untyped():
    """A plain float, int or FloatRange lets nan, inf or a negative seed through to the code; every numeric option
    of the commands here is a dslsim.cli.params type or an IntRange, and --help shows its range."""
    import click

    from dslsim.cli.params import Typed

    loose = [f"{name} {p.opts[0] if p.opts else p.name}" for name, command in _commands().items()
             for p in command.params if p.name not in SHARED_OPTIONS and (
                 isinstance(p.type, click.FloatRange) or p.type in (click.FLOAT, click.INT))]
    assert not loose, f"untyped numeric options: {loose}"
    for where, param in TYPED_OPTIONS:
        assert isinstance(param.type, Typed) and param.type.describe(), where
    from dslsim.cli.main import cli

    r = CliRunner().invoke(cli, ["trace", "synth", "--help"])
    assert "[default: 0.8; a share in (0, 1)]" in " ".join(r.output.split())


@pytest.mark.parametrize("text, kind, value", [("1", "percent", 1.0), ("0.5 %", "percent", 0.5),
                                               ("5 mW", "power", 5e-3), ("72 h", "life", 259200.0),
                                               ("3 day", "life", 259200.0)])
def test_a_budget_is_a_percentage_a_power_or_a_battery_life(text, kind, value):
    from dslsim.cli.params import Budget

    got = Budget().convert(text, None, None)
    assert got.kind == kind and got.value == pytest.approx(value)
    # 1 %/day of a battery of 1 Wh usable is 36 J a day; 5 mW for a day is 432 J, 12 % of 3600 J.
    assert Budget().convert("5 mW", None, None).percent_per_day(3600.0) == pytest.approx(12.0)
    assert Budget().convert("72 h", None, None).percent_per_day(3600.0) == pytest.approx(100 / 3)


# --- the registry: every reader of a user's file has its input kind, every kind its cases ------------------------

#: Calls that read a file (or parse what was read): a function making one is a reader.
READ_CALLS = {"read_input_bytes", "check_input_file", "load_yaml", "read_csv", "read_parquet", "read_table",
              "ParquetFile", "read_text", "read_bytes", "fromfile", "fromstring", "np.load", "torch.load",
              "wavfile.read", "open"}

#: Every function of the package that reads a file a user gives, by the input kinds it reads.
READERS = {
    "dslsim.hw.load.load_profile": ("profile_yaml",),
    "dslsim.cli.profiles_cmd.sources": ("profile_yaml",),                 # re-reads a profile just validated
    "dslsim.cli.simulate_cmd.simulate": ("profile_yaml",),                # the same, for --uncertainty draws
    "dslsim.cli.compare_cmd.compare": ("profile_yaml", "run_folder"),
    "dslsim.cli.report_cmd.report": ("profile_yaml",),
    "dslsim.report.explain._notes": ("profile_yaml",),
    "dslsim.calibration.fit.calibrated_profile_data": ("profile_yaml",),
    "dslsim.hw.cellfit.load_cell": ("cell_yaml",),
    "dslsim.hw.android.parse_power_profile": ("android_xml",),
    "dslsim.cli.profiles_cmd.import_android": ("android_xml",),
    "dslsim.calibration.fit.load_measurements": ("measurement_yaml",),
    "dslsim.calibration.currents.load_datasheet_currents": ("datasheet_yaml",),
    "dslsim.trace.optable.read_op_table": ("op_table_csv", "op_table_yaml"),
    "dslsim.trace.io.TraceFile.__init__": ("trace_parquet",),
    "dslsim.sweep.shipping.ship_inputs": ("trace_parquet",),              # the trace a cluster sweep ships
    "dslsim.report.compare.Run.read": ("run_folder",),
    "dslsim.sweep.store.SweepStore._read": ("sweep_store",),
    "dslsim.sweep.store.SweepStore.manifest": ("sweep_store",),
    "dslsim.sweep.spec.load_spec": ("sweep_spec_yaml",),
    "dslsim.sweep.spec.parse_spec": ("sweep_spec_yaml", "scenario_yaml"),
    "dslsim.sim.scenario.load_scenario": ("scenario_yaml",),
    "dslsim.sim.stack.load_stack": ("stack_yaml",),
    "dslsim.trace.compose.load_schedule": ("schedule_yaml",),
    "dslsim.report.measured.reader.read_measurement": ("measured_csv",),
    "dslsim.report.measured.reader._decode_head": ("measured_csv",),
    "dslsim.model.data.read_wav": ("wav",),
    "dslsim.model.scores.read_audio": ("wav",),
    "dslsim.model.data._check_pcm_width": ("wav",),
    "dslsim.model.evaluate.wav_clips": ("wav_labels_csv",),
    "dslsim.model.train.load_checkpoint": ("checkpoint",),
    "dslsim.model.early_exit.load": ("checkpoint",),
    "dslsim.trace.tflite.read_tflite": ("tflite",),
    "dslsim.trace.tflite._manifest_rate": ("tflite",),                   # the JSON manifest beside a streaming model
    "dslsim.trace.onnx_model.read_onnx": ("onnx",),
}

#: Functions that read files that are not a user's input, and why.
NOT_USER_INPUT = {
    "dslsim.fileio.read_input_bytes": "the bounded reader every reader above goes through",
    "dslsim.fileio.hash_file": "hashes files their readers have already checked",
    "dslsim.yamldoc.load_yaml": "the YAML reader the YAML kinds go through",
    "dslsim.units._known": "the unit-conversion cache dslsim writes itself (checksummed)",
    "dslsim.cli.profiles_cmd.init": "copies a shipped profile",
    "dslsim.model.codec_compare.code_classical": "reads the files Codec2 and Opus write for it",
    "dslsim.model.scores.model_spec": "the manifest of a model package installed with dslsim (by its name)",
    "dslsim.cli.simulate_cmd._write_models": "reads back the run.json 'simulate --out' has just written",
}

#: Kinds whose cases live in other test files: the file and how the count is found.
ELSEWHERE = {"tflite": ("test_model_inputs.py", "TFLITE_CASES"), "onnx": ("test_model_inputs.py", "ONNX_CASES")}
#: Cases of kinds tested by hand above (the damaged checkpoints test), counted here.
BY_HAND = {"checkpoint": 4}


def reading_functions() -> dict[str, set[str]]:
    """Every function and method of the package (``module.Class.function``) that calls one of
    :data:`READ_CALLS`, with the calls (an ``open`` only when not for writing)."""
    import ast

    package = ROOT / "dslsim"
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)

        def visit(node, scope):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(child, scope + (child.name,))
                    continue
                if isinstance(child, ast.Call) and scope:
                    f = child.func
                    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                    base = ast.unparse(f.value).split(".")[-1] if isinstance(f, ast.Attribute) else ""
                    dotted = f"{base}.{name}" if base else name
                    writes = name == "open" and any(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                                    and set(a.value) & set("wax") for a in child.args[1:])
                    if (name in READ_CALLS or dotted in READ_CALLS) and not writes and base != "os" and not (
                            name == "open" and base not in ("", "io")):
                        found.setdefault(".".join((module,) + scope), set()).add(dotted)
                visit(child, scope)
        visit(ast.parse(path.read_text()), ())
    return found


def count_cases_elsewhere(file: str, name: str) -> int:
    """How many cases the list ``name`` of test module ``tests/file`` gives the parametrized test that uses it:
    its length times the test's other parametrize lists (literals, read from the source); 0 without the file."""
    import ast
    import importlib

    path = Path(__file__).with_name(file)
    if not path.exists():
        return 0
    items = len(getattr(importlib.import_module(path.stem), name))
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            marks = [d for d in node.decorator_list if isinstance(d, ast.Call) and len(d.args) >= 2
                     and ast.unparse(d.func).endswith("parametrize")]
            if any(isinstance(d.args[1], ast.Name) and d.args[1].id == name for d in marks):
                for d in marks:
                    if isinstance(d.args[1], (ast.List, ast.Tuple)):
                        items *= len(d.args[1].elts)
                return items
    return items


def corpus_counts() -> dict[str, int]:
    """Generated cases per input kind: this file's, and those counted in other test files."""
    counts = dict(CORPUS, **BY_HAND)
    for kind, (file, name) in ELSEWHERE.items():
        counts[kind] = count_cases_elsewhere(file, name)
    return counts


def test_every_reader_of_a_users_file_has_an_input_kind():
    """A new function that reads files fails here until it is registered in READERS with its input kind (and that
    kind has cases), or in NOT_USER_INPUT with the reason it reads no user input."""
    found = reading_functions()
    new = sorted(f for f in found if f not in READERS and f not in NOT_USER_INPUT)
    assert not new, (f"functions that read files but belong to no input kind: "
                     f"{ {f: sorted(found[f]) for f in new} }; add each to READERS (with generated cases for its kind "
                     f"in this file) or to NOT_USER_INPUT (with why it reads no user input)")
    gone = sorted(f for f in {**READERS, **NOT_USER_INPUT} if f not in found)
    assert not gone, f"registered readers that no longer read files (or were renamed): {gone}"


def test_every_input_kind_has_generated_cases():
    counts = corpus_counts()
    kinds = {k for kinds in READERS.values() for k in kinds}
    thin = {k: counts.get(k, 0) for k in sorted(kinds) if counts.get(k, 0) < (4 if k in BY_HAND else 10)}
    assert not thin, f"input kinds with (almost) no cases: {thin}"


if __name__ == "__main__":  # pragma: no cover - `python tests/test_input_classes.py` prints the counts
    for kind, n in sorted(corpus_counts().items()):
        print(f"{kind:<18} {n:6d}")
    print(f"{'total':<18} {sum(corpus_counts().values()):6d}")
