"""Analysis and reports: Pareto fronts, named baselines, plots' data, and the HTML report in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import SHIPPED_TRACE
from dslsim.cli.main import cli
from dslsim.hw.load import load_profile
from dslsim.report.analysis import pareto_front
from dslsim.sim.baselines import big_core, low_power_core, named_baselines
from dslsim.sim.run import simulate
from dslsim.sim.scenario import load_scenario
from dslsim.trace.io import read_trace


def test_pareto_front_by_hand():
    df = pd.DataFrame({"power": [1.0, 2.0, 3.0, 1.5, 2.0, 1.0],
                       "latency": [5.0, 2.0, 1.0, 5.0, 2.0, 6.0]})
    # Row 3 is beaten by row 0 (less power, same latency); row 5 by row 0 too; rows 1 and 4 tie: both stay.
    assert pareto_front(df, minimize=["power", "latency"]).tolist() == [True, True, True, False, True, False]
    q = pd.DataFrame({"life": [10.0, 20.0, 30.0], "error": [0.1, 0.1, 0.5]})
    assert pareto_front(q, minimize=["error"], maximize=["life"]).tolist() == [False, True, True]


@pytest.fixture(scope="module")
def short():
    t = read_trace(SHIPPED_TRACE)
    return type(t)(t.meta, t.frames.iloc[:4500].reset_index(drop=True))


def test_named_baselines(short):
    profile = load_profile("watch")
    assert (big_core(profile), low_power_core(profile)) == ("big", "mcu")
    scenario = load_scenario(None, profile)
    result = simulate(profile, short, scenario)
    table = named_baselines(result, profile, short, scenario).set_index("configuration")
    assert list(table.index) == ["scenario", "all-full", "all-on-big", "all-on-mcu"]
    # The MCU (96 MHz, 1 MAC/cycle) needs ~0.17 s per 13.3 ms frame: it cannot keep up.
    assert not table.loc["all-on-mcu", "keeps_up"] and table.loc["all-on-big", "keeps_up"]
    life = table["battery_life_h"]
    assert table.loc["all-full", "scenario_gain_pct"] == pytest.approx(100 * (life["scenario"] / life["all-full"] - 1))
    assert life["scenario"] > life["all-full"]
    # The scenario and all-dense rows are the result's own figures, not new runs.
    assert life["scenario"] == result.summary["battery_life_h"]
    assert life["all-full"] == result.baseline["battery_life_h"]
    plain = simulate(profile, short.with_paths("full"), scenario, baseline=False).summary
    assert life["all-full"] == plain["battery_life_h"]


def _report(tmp_path, *args):
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", *map(str, args), "--out", str(out), "--data-dir", str(tmp_path / "data")])
    assert r.exit_code == 0, r.output
    return out


def test_simulation_report_is_self_contained_with_figure_data(tmp_path):
    out = _report(tmp_path, "-p", "phone", "-t", SHIPPED_TRACE, "--window", "5 s:6 s")
    html = out.read_text()
    assert html.count("<img") == 7 and html.count("data:image/png;base64,") == 7
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)          # nothing external to fetch
    for name in ("summary", "baselines", "energy_breakdown", "energy_by_path", "path_shares_over_time",
                 "latency_by_path", "state_timeline", "power_over_time"):
        assert (tmp_path / "data" / f"{name}.csv").exists()
    timeline = pd.read_csv(tmp_path / "data" / "state_timeline.csv")
    assert timeline["start_s"].min() >= 5.0 and timeline["end_s"].max() <= 6.0


def test_sweep_report(tmp_path):
    import yaml

    from dslsim.sweep.run import run_sweep
    from dslsim.sweep.spec import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"base": {"profile": "watch", "trace": str(SHIPPED_TRACE)},
                                    "axes": {"scenario.opp.big": ["low", "high"],
                                             "trace.threshold": [0.4, 0.6]}}))
    run_sweep(load_spec(spec), tmp_path / "sw", jobs=1)
    out = _report(tmp_path, "--sweep", tmp_path / "sw")
    html = out.read_text()
    assert html.count("<img") == 2 and "Pareto" in html
    front = pd.read_csv(tmp_path / "data" / "pareto_power_latency.csv")
    assert front["on_front"].any() and len(front) == 4


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_report_renders_in_headless_chromium_with_every_image_loaded(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium on this machine")
    out = _report(tmp_path, "-p", "watch", "-t", SHIPPED_TRACE)
    n_images = out.read_text().count("<img")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                          out.as_uri()], capture_output=True, text=True, timeout=120).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the report's load check did not run"
    assert int(loaded.group(1)) == int(loaded.group(2)) == n_images == 7


def test_text_report_columns_stay_apart_at_a_days_scale(monkeypatch):
    """Millions of wake-ups and hundreds of mW still leave a gap between every column (they ran together)."""
    from dslsim.report.text import render_summary

    result = simulate("phone", "dsl-75hz-10min", baseline=False)
    big = result.per_core().assign(wakeups=6_480_000, running_mW=1234.5678, total_mW=99999.9999)
    monkeypatch.setattr(type(result), "per_core", lambda self: big)
    lines = render_summary(result).splitlines()
    start = lines.index("  per resource (mean power over the run)") + 1
    header, rows = lines[start], [r for r in lines[start + 1:] if not r.startswith("  (")]
    assert rows and all(len(re.split(r"\s{2,}", row.strip())) == len(re.split(r"\s{2,}", header.strip())) - (
        1 if row.split()[0].count("<->") else 0) for row in rows), rows


def test_energy_breakdown_adds_up_to_the_battery_draw():
    from dslsim.report import plots

    result = simulate("phone", "dsl-75hz-10min", baseline=False)
    fig, data = plots.energy_breakdown(result)
    total = data.drop(columns="resource").to_numpy().sum()
    assert total == pytest.approx(1e3 * result.summary["battery_power_W"], rel=1e-9)
    assert {"platform floor", "platform floor (battery side)", "converter"} <= set(data["resource"])


def test_wake_up_energy_shows_as_power_over_its_interval():
    """SIMPLE core a: s1 entry 1 uJ + exit 2 uJ, exit latency 100 us: each wake draws 3 uJ / 100 us = 30 mW."""
    from conftest import make_trace, simple_profile
    from dslsim.report import plots
    from dslsim.sim.scenario import parse_scenario

    profile = simple_profile()
    trace = make_trace(["light"] * 20, frame_rate=100.0)
    scn = parse_scenario({"placement": {"default": "a"}, "sleep": {"a": {"s1": "1 ms"}}}, profile)
    result = simulate(profile, trace, scn, baseline=False, window=(0.0, 0.2))
    wakes = result.timeline[(result.timeline["resource"] == "a") & (result.timeline["state"] == "wake")]
    assert len(wakes) > 5 and np.allclose(wakes["power_W"], 0.03)
    assert np.allclose((wakes["end_s"] - wakes["start_s"]), 100e-6)
    edges, total = plots.total_power(result.timeline, ["a", "b"])
    tl = result.timeline
    # The summed trace holds the same energy as the cores' own intervals, and at every moment the sum of the two.
    assert (total * np.diff(edges)).sum() == pytest.approx(((tl["end_s"] - tl["start_s"]) * tl["power_W"]).sum())
    t = float(wakes["start_s"].iloc[2]) + 50e-6
    row = tl[(tl["start_s"] <= t) & (tl["end_s"] > t)]
    assert total[np.searchsorted(edges, t, side="right") - 1] == pytest.approx(row["power_W"].sum())


def test_heat_map_text_reads_on_light_and_dark_cells():
    import matplotlib

    from dslsim.report.plots import text_color

    cmap = matplotlib.colormaps["viridis"]
    assert text_color(cmap(1.0)) == "black" and text_color(cmap(0.0)) == "white"


def test_sweep_command_prints_the_units_simulate_prints(tmp_path):
    import yaml

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "units", "base": {"profile": "watch", "trace": "dsl-75hz-10min"},
                                    "axes": {"trace.threshold": [0.4, 0.6]}}))
    r = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(tmp_path / "o"), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    header = next(line for line in r.output.splitlines() if "trace.threshold" in line and "battery" in line)
    assert "always_on_power_mW" in header and "latency_p99_ms" in header and "_W" not in header.replace(
        "power_mW", "")


def test_report_tables_scroll_inside_the_page():
    from dslsim.report.html import HtmlReport

    rep = HtmlReport("t")
    rep.table("wide", pd.DataFrame({f"column_{i}": [1.0] * 200 for i in range(40)}))
    html = rep.render()
    assert "<div class=scroll><table" in html and ".scroll { overflow-x: auto;" in html


@pytest.mark.parametrize("name", ["phone", "watch", "earbud"])
def test_phone_style_figures_agree_with_battery_life(name):
    """% of the battery per day x battery life in days = 100 x the usable fraction (closed form), and the mean
    current is the battery draw over the nominal voltage."""
    profile = load_profile(name)
    s = simulate(profile, "dsl-75hz-10min", baseline=False).summary
    assert s.battery_pct_per_day * s.battery_life_days == pytest.approx(100 * profile.battery.usable_fraction,
                                                                        rel=1e-12)
    assert s.battery_current_A * profile.battery.voltage == pytest.approx(s.battery_power_W, rel=1e-12)
    assert s.charge_per_day_Ah == pytest.approx(24 * s.battery_current_A, rel=1e-12)


def test_budget_check_in_the_text_report():
    r = CliRunner().invoke(cli, ["simulate", "-p", "watch", "-t", "dsl-75hz-10min", "--budget", "100"])
    assert r.exit_code == 0 and "within the always-on budget of 100 %/day" in r.output
    r = CliRunner().invoke(cli, ["simulate", "-p", "watch", "-t", "dsl-75hz-10min", "--budget", "0.001"])
    assert r.exit_code == 0 and "OVER the always-on budget of 0.001 %/day" in r.output
