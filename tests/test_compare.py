"""dslsim compare: saved runs read back equal the runs in memory; per-state rows add up to each run's compute
power; a folder mixing two runs is refused; the CLI compares two scenarios."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import DslsimError
from dslsim.report.compare import Run, compare
from dslsim.report.export import write_result
from dslsim.sim.run import simulate

LITTLE = {"name": "little-full", "placement": {"default": "dsp", "full_decoder": "little"},
          "opp": {"dsp": "low", "little": "mid"},
          "sleep": {"dsp": {"retention": "1 ms"}, "little": {"core_off": "5 ms", "rail_off": "50 ms"},
                    "big": {"core_off": "5 ms", "cluster_off": "50 ms"}}}


@pytest.fixture(scope="module")
def runs():
    return simulate("phone", "dsl-75hz-10min", baseline=False), simulate("phone", "dsl-75hz-10min", LITTLE,
                                                                          baseline=False)


def test_per_state_rows_add_up_to_each_runs_compute_power(runs):
    a, b = runs
    head, states = compare(Run.of(a, "big"), Run.of(b, "little"))
    for name, r in (("big", a), ("little", b)):
        assert states[f"power_mW_{name}"].sum() == pytest.approx(1e3 * r.summary["compute_power_W"], rel=1e-9)
    row = head.set_index("figure").loc["battery life"]
    assert row["delta"] == pytest.approx(b.summary["battery_life_h"] - a.summary["battery_life_h"])
    # The full decoder left the big core: all of its dynamic energy is gone, the little core's appears.
    dyn = states.set_index(["resource", "component"])
    assert dyn.loc[("big", "dynamic"), "power_mW_little"] == 0 and dyn.loc[("little", "dynamic"), "power_mW_big"] == 0


def test_saved_runs_compare_like_runs_in_memory(runs, tmp_path):
    a, b = runs
    write_result(a, tmp_path / "a", ("csv",), frames=False)
    write_result(b, tmp_path / "b", ("parquet",), frames=False)
    h1, s1 = compare(Run.read(tmp_path / "a"), Run.read(tmp_path / "b"))
    h2, s2 = compare(Run.of(a, "a"), Run.of(b, "b"))
    pd.testing.assert_frame_equal(h1, h2)
    pd.testing.assert_frame_equal(s1, s2, check_dtype=False, rtol=1e-12)


def test_a_folder_mixing_two_runs_is_refused(runs, tmp_path):
    write_result(runs[0], tmp_path / "a", ("csv",), frames=False)
    stamp = json.loads((tmp_path / "a" / "run.json").read_text())
    stamp["run_id"] = "another"
    (tmp_path / "a" / "run.json").write_text(json.dumps(stamp))
    with pytest.raises(DslsimError, match="different or unfinished runs"):
        Run.read(tmp_path / "a")
    with pytest.raises(DslsimError, match="not a saved run"):
        Run.read(tmp_path)


def test_cli_compares_a_scenario_with_the_default(tmp_path):
    import yaml

    spec = tmp_path / "little.yaml"
    spec.write_text(yaml.safe_dump(LITTLE))
    r = CliRunner().invoke(cli, ["compare", "-p", "phone", "-t", "dsl-75hz-10min", "-s", str(spec),
                                 "--csv", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    assert "always-on power" in r.output and "little" in r.output
    assert len(pd.read_csv(tmp_path / "cmp-headline.csv")) == 1 + 10      # whether each keeps up, then the headline
    bad = CliRunner().invoke(cli, ["compare", str(tmp_path)])
    assert bad.exit_code == 2 and "two run folders" in bad.output


@pytest.mark.parametrize("damage, says", [
    (lambda d: (d / "summary.json").write_text("[1, 2]"), "summary.json: found list"),
    (lambda d: (d / "summary.json").write_text("{not json"), "summary.json: not JSON"),
    (lambda d: (d / "run.json").unlink(), "no run.json"),
    (lambda d: (d / "resources.parquet").write_bytes(b"PAR1 not really"), "resources.parquet: not a readable table"),
    (lambda d: (d / "resources.parquet").write_bytes(b""), "resources.parquet: empty"),
])
def test_a_damaged_run_folder_is_refused_by_file(tmp_path, damage, says):
    """Every way a saved run can be broken ends in one line naming the file, exit 2, never an internal error."""
    runner = CliRunner()
    for name in ("a", "b"):
        r = runner.invoke(cli, ["simulate", "-p", "earbud", "-t", "dsl-75hz-10min", "--no-baseline", "--out",
                                str(tmp_path / name), "--format", "parquet", "--no-frames"])
        assert r.exit_code == 0, r.output
    damage(tmp_path / "b")
    r = runner.invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert r.exit_code == 2, r.output
    assert says in r.output and "Traceback" not in r.output


def test_runs_named_like_the_tables_own_columns_keep_their_figures(runs, tmp_path):
    """Run folders called 'figure' and 'delta': their columns used to overwrite the table's own (the labels and
    the deltas). Each keeps its own column, and the delta is still b - a, taken from the summaries."""
    a, b = runs
    write_result(a, tmp_path / "figure", ("csv",), frames=False)
    write_result(b, tmp_path / "delta", ("csv",), frames=False)
    r = CliRunner().invoke(cli, ["compare", str(tmp_path / "figure"), str(tmp_path / "delta"),
                                 "--csv", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    head = pd.read_csv(tmp_path / "cmp-headline.csv").set_index("figure")
    assert list(head.columns) == ["unit", "figure (run)", "delta (run)", "delta", "ratio"]
    row = head.loc["battery life"]
    assert float(row["figure (run)"]) == pytest.approx(a.summary["battery_life_h"])
    assert row["delta"] == pytest.approx(b.summary["battery_life_h"] - a.summary["battery_life_h"])
    states = pd.read_csv(tmp_path / "cmp-states.csv")
    assert {"power_mW_figure (run)", "power_mW_delta (run)", "delta_power_mW"} <= set(states.columns)


@pytest.mark.parametrize("key, value", [("battery_life_h", "long"), ("always_on_power_W", [1]),
                                        ("share_light", True), ("keeps_up", "yes")])
def test_a_summary_figure_of_the_wrong_type_is_refused_by_key(runs, tmp_path, key, value):
    for name, run in zip("ab", runs):
        write_result(run, tmp_path / name, ("csv",), frames=False)
    doc = json.loads((tmp_path / "b" / "summary.json").read_text())
    doc["summary"][key] = value
    (tmp_path / "b" / "summary.json").write_text(json.dumps(doc))
    r = CliRunner().invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert r.exit_code == 2 and f"{tmp_path / 'b' / 'summary.json'}: summary.{key}: found" in r.output, r.output
