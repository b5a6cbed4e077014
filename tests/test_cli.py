"""The commands a user runs: simulate (text, JSON, files), trace synth/info, profiles list/show, --help."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import SHIPPED_TRACE
from dslsim.cli.main import cli
from dslsim.sim.run import simulate


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def test_simulate_prints_the_headline_figures():
    out = run("simulate", "--profile", "watch", "--trace", SHIPPED_TRACE)
    for text in ("latency", "p99", "always-on power", "battery life", "vs all-'full'", "dsp", "big", "wake-ups"):
        assert text in out


def test_simulate_json_matches_python_api():
    out = json.loads(run("simulate", "-p", "earbud", "-t", SHIPPED_TRACE, "--json"))
    api = simulate("earbud", SHIPPED_TRACE).summary
    assert out["summary"]["battery_life_h"] == pytest.approx(api["battery_life_h"], rel=1e-12)


def test_simulate_writes_every_table_in_every_format(tmp_path):
    out_dir = tmp_path / "out"
    run("simulate", "-p", "phone", "-t", SHIPPED_TRACE, "--out", out_dir,
        "--format", "csv", "--format", "parquet", "--format", "json")
    names = {p.name for p in out_dir.iterdir()}
    for table in ("frames", "resources", "per_core"):
        for fmt in ("csv", "parquet", "json"):
            assert f"{table}.{fmt}" in names
    assert not [n for n in names if n.endswith(".tmp")]
    summary = json.loads((out_dir / "summary.json").read_text())["summary"]
    frames = pd.read_parquet(out_dir / "frames.parquet")
    assert len(frames) == summary["frames"] == 45_000
    csv = pd.read_csv(out_dir / "resources.csv")
    assert csv["energy_J"].sum() == pytest.approx(summary["compute_energy_J"], rel=1e-9)


def test_trace_synth_then_info(tmp_path):
    path = tmp_path / "t.parquet"
    out = run("trace", "synth", path, "--duration", "30 s", "--frame-rate", "50", "--light-share", "0.7",
              "--seed", "5", "--width", "8")
    assert "1,500 frames" in out
    info = run("trace", "info", path)
    assert "50 frames/s" in info and "full_decoder" in info and "MMAC/frame" in info


def test_profiles_list_and_show():
    listing = run("profiles", "list")
    for name in ("earbud", "watch", "phone"):
        assert name in listing
    shown = run("profiles", "show", "phone")
    assert "4614 mAh" in shown and "core big (cpu)" in shown and "link dsp<->big" in shown


@pytest.mark.parametrize("command", [[], ["simulate"], ["trace"], ["trace", "synth"], ["trace", "info"],
                                     ["profiles"], ["profiles", "list"], ["profiles", "show"], ["profiles", "init"],
                                     ["profiles", "validate"]])
def test_every_command_has_help_with_an_example(command):
    out = run(*command, "--help")
    assert "Example" in out and "dslsim" in out


def test_a_command_imports_only_what_it_runs():
    """`dslsim simulate` loads its own command, not the sweep's, the model's or the report's modules."""
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['dslsim', 'simulate', '-p', 'watch', '-t', %r]\n"
            "from dslsim.cli.entry import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "print(sorted(m for m in sys.modules if m.startswith('dslsim.cli.')))" % str(SHIPPED_TRACE))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.strip().splitlines()[-1]
    assert "dslsim.cli.simulate_cmd" in loaded
    for other in ("sweep_cmd", "model_cmd", "report_cmd", "trace_cmd", "measured_cmd"):
        assert f"dslsim.cli.{other}" not in loaded


def test_every_listed_command_loads_under_its_name():
    from dslsim.cli.main import COMMANDS, load_command

    listing = run("--help")
    for name in COMMANDS:
        assert load_command(name).name == name and f"  {name} " in listing
    assert {"simulate", "sweep", "report", "trace", "model", "profiles"} <= set(COMMANDS)
    assert "early-exit" in run("model", "--help") and "compose" in run("trace", "--help")
