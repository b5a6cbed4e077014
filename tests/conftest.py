"""Shared builders: tiny profiles and traces whose results can be computed by hand."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from dslsim.hw.load import parse_profile
from dslsim.trace.frames import frame_table
from dslsim.trace.schema import Op, Stage, Trace, TraceMeta

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """The suite keeps its caches (the unit-conversion store) in its own folder, not the user's."""
    import os
    import tempfile

    os.environ.setdefault("DSLSIM_CACHE_DIR", tempfile.mkdtemp(prefix="dslsim-test-cache-"))
SHIPPED_TRACE = ROOT / "traces" / "dsl-75hz-10min.parquet"

#: One core at 100 MHz and 1 V, 1 MAC/cycle, 10 pJ/MAC, leakage 1 mW, +1 mW idle, one sleep state.
#: A 100 kMAC stage therefore takes exactly 1 ms and 1 uJ.
SIMPLE = {
    "name": "simple",
    "battery": {"capacity": "100 mAh", "voltage": "4 V", "usable_fraction": 0.5, "converter_efficiency": 0.8},
    "platform": {"floor": {"mic": {"power": "1 mW"}}},
    "cores": {
        "a": {
            "kind": "dsp", "ref_voltage": "1 V",
            "opps": [{"name": "half", "freq": "50 MHz", "voltage": "0.5 V", "leakage": "0.5 mW"},
                     {"name": "full", "freq": "100 MHz", "voltage": "1 V", "leakage": "1 mW"}],
            "ops": {"default": {"macs_per_cycle": 1, "energy_per_mac": "10 pJ"}},
            "idle": {"power": "1 mW"},
            "sleep": {"s1": {"power": "0.1 mW", "exit_latency": "100 us", "entry_energy": "1 uJ",
                             "exit_energy": "2 uJ"}},
        },
        "b": {
            "kind": "cpu", "ref_voltage": "1 V",
            "opps": [{"name": "full", "freq": "100 MHz", "voltage": "1 V", "leakage": "2 mW"}],
            "ops": {"default": {"macs_per_cycle": 1, "energy_per_mac": "20 pJ"}},
            "idle": {"power": "2 mW"},
            "sleep": {"off": {"power": "0 W", "exit_latency": "500 us", "entry_energy": "5 uJ",
                              "exit_energy": "5 uJ"}},
        },
    },
    "links": [{"between": ["a", "b"], "latency": "50 us", "bandwidth": "1 MB/s", "energy_per_byte": "1 nJ/B"}],
    "default_scenario": {"placement": {"default": "a"}, "opp": {"a": "full"}, "deadline": "5 ms"},
}


def simple_profile(**changes):
    """The SIMPLE profile with nested changes applied, e.g. ``{"cores": {"a": {...}}}`` merged in."""
    data = copy.deepcopy(SIMPLE)
    _merge(data, changes)
    return parse_profile(data, "simple.yaml")


def _merge(base: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def stage(name: str, macs: float, out_bytes: float = 0.0, in_bytes: float = 0.0) -> Stage:
    """A stage of one op with no memory traffic except its input and output bytes (memory energy is 0 in
    SIMPLE); a link hand-off into it carries ``in_bytes``."""
    return Stage(name, (Op(name=f"{name}.op", kind="conv1d", macs=macs, act_in_bytes=in_bytes,
                           act_out_bytes=out_bytes),))


def make_trace(paths_per_frame, frame_rate: float = 100.0, stages=None, paths=None, dense="full") -> Trace:
    """A trace with one frame per entry of ``paths_per_frame`` (path names), arriving every 1/frame_rate s."""
    stages = stages or {"front": stage("front", 100_000, 100), "back": stage("back", 200_000, in_bytes=100)}
    paths = paths or {"light": ["front"], "full": ["front", "back"]}
    n = len(paths_per_frame)
    meta = TraceMeta(frame_rate=frame_rate, sample_rate=frame_rate * 320, hop=320, paths=paths, stages=stages,
                     dense_path=dense)
    frames = frame_table(n, frame_rate)
    frames["path"] = pd.Categorical(list(paths_per_frame), categories=list(paths))
    return Trace(meta, frames).validate()


def same_figures(a, b) -> bool:
    """Two summaries (or flat mappings) with the same keys and every figure equal bit for bit, NaN equal to NaN
    (a scenario that cannot keep up has no battery life)."""
    return a.keys() == b.keys() and all(x == y or (x != x and y != y) for x, y in ((a[k], b[k]) for k in a))


def assert_same_run(a, b) -> None:
    """Two simulation results are the same run bit for bit: frames, resources and summary."""
    pd.testing.assert_frame_equal(a.frames, b.frames, check_exact=True)
    pd.testing.assert_frame_equal(a.resources, b.resources, check_exact=True)
    assert same_figures(a.summary, b.summary)


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    """Run a test inside an empty temporary folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
