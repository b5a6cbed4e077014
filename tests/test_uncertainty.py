"""Uncertainty bands: the profile's stated ranges (tolerance, min/max) drawn by seeded Monte Carlo and priced on
the run's own residencies, checked against the nominal run and against closed forms."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import SIMPLE, make_trace
from dslsim.cli.main import cli
from dslsim.errors import InputError
from dslsim.hw.load import parse_profile
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario
from dslsim.sim.uncertainty import Tolerances, bands, samples


def _run(doc: dict, n: int = 400, seed: int = 0, tolerances: Tolerances = Tolerances(0.0, 0.0)):
    profile = parse_profile(copy.deepcopy(doc), "p.yaml")
    trace = make_trace(["light", "full"] * 50)
    scenario = parse_scenario({"placement": {"default": "a"}, "sleep": {"a": {"s1": "2 ms"}}}, profile)
    result = simulate(profile, trace, scenario, baseline=False)
    return result, samples(result, doc, profile, trace, scenario, n=n, seed=seed, tolerances=tolerances)


def test_without_ranges_every_draw_is_the_nominal_run():
    result, draws = _run(SIMPLE, n=5, tolerances=Tolerances(0.3, 0.0))   # SIMPLE marks nothing assumed
    s = result.summary
    assert np.allclose(draws["always_on_power_W"], s.always_on_power_W, rtol=1e-12)
    assert np.allclose(draws["battery_life_h"], s.battery_life_h, rtol=1e-12)
    assert np.allclose(draws["feature_pct_per_day"], s.feature_pct_per_day, rtol=1e-12)


def test_a_floor_tolerance_gives_the_uniform_band_by_hand():
    """Only the 1 mW floor varies, +-10 % uniform: the 5-95 % band of the always-on power is the compute power
    plus 0.91 to 1.09 mW (the uniform distribution's 5th and 95th percentiles)."""
    doc = copy.deepcopy(SIMPLE)
    doc["platform"]["floor"]["mic"]["power"] = {"value": "1 mW", "tolerance": "10 %"}
    result, draws = _run(doc, n=4000)
    lo, mid, hi = bands(draws)["always_on_power_W"]
    compute = result.summary.compute_power_W
    assert lo == pytest.approx(compute + 0.91e-3, abs=0.01e-3)
    assert hi == pytest.approx(compute + 1.09e-3, abs=0.01e-3)
    assert mid == pytest.approx(compute + 1e-3, abs=0.01e-3)


def test_a_sleep_power_range_moves_only_its_residency():
    """The sleep state's power between 0.05 and 0.3 mW (min/max around 0.1 mW): the compute energy moves by the
    sleep residency times the drawn power, nothing else."""
    doc = copy.deepcopy(SIMPLE)
    doc["cores"]["a"]["sleep"]["s1"]["power"] = {"value": "0.1 mW", "min": "0.05 mW", "max": "300 uW"}
    result, draws = _run(doc, n=2000)
    res = result.resources
    asleep = res[(res["resource"] == "a") & (res["component"] == "s1")]["time_s"].sum() / result.summary.duration_s
    spread = draws["always_on_power_W"] - result.summary.always_on_power_W
    assert spread.min() >= asleep * (0.05e-3 - 0.1e-3) - 1e-15
    assert spread.max() <= asleep * (0.3e-3 - 0.1e-3) + 1e-15
    assert spread.mean() == pytest.approx(asleep * (0.175e-3 - 0.1e-3), rel=0.05)


def test_same_seed_same_draws():
    doc = copy.deepcopy(SIMPLE)
    doc["platform"]["floor"]["mic"]["power"] = {"value": "1 mW", "tolerance": "10 %"}
    a = _run(doc, n=20, seed=7)[1]
    b = _run(doc, n=20, seed=7)[1]
    assert a.equals(b) and not a.equals(_run(doc, n=20, seed=8)[1])


@pytest.mark.parametrize("value, says", [
    ({"value": "1 mW", "tolerance": "-5 %"}, "platform.floor.mic.power.tolerance"),
    ({"value": "1 mW", "min": "2 mW"}, "min <= value <= max"),
    ({"value": "1 mW", "tolerance": "5 %", "max": "2 mW"}, "one way of stating the range"),
])
def test_bad_ranges_name_the_file_and_key(value, says):
    doc = copy.deepcopy(SIMPLE)
    doc["platform"]["floor"]["mic"]["power"] = value
    with pytest.raises(InputError) as err:
        parse_profile(doc, "p.yaml")
    assert "p.yaml" in str(err.value) and says in str(err.value)


def test_simulate_uncertainty_in_text_and_json(tmp_path):
    doc = copy.deepcopy(SIMPLE)
    doc["platform"]["floor"]["mic"]["power"] = {"value": "1 mW", "tolerance": "10 %"}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    from dslsim.trace.io import write_trace

    write_trace(make_trace(["light", "full"] * 50), tmp_path / "t.parquet")
    args = ["simulate", "-p", str(tmp_path / "p.yaml"), "-t", str(tmp_path / "t.parquet"), "--no-baseline",
            "--uncertainty", "50"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "5-95 % band" in r.output and "always-on power" in r.output
    doc_json = __import__("json").loads(CliRunner().invoke(cli, args + ["--json"]).stdout)
    band = doc_json["uncertainty"]["always_on_power_W"]
    assert band["low"] < doc_json["summary"]["always_on_power_W"] < band["high"]


def test_paired_differences_cancel_what_both_runs_share():
    """Two runs priced on the same draws: a shared 30 % swing cancels, so a steady 2 % difference is beyond the
    model's uncertainty, while a difference that changes sign across draws is within it."""
    import pandas as pd

    from dslsim.report.compare import mark_within

    rng = np.random.default_rng(0)
    shared = rng.uniform(0.7, 1.3, 500)
    a = pd.DataFrame({"always_on_power_W": 10e-3 * shared, "battery_life_h": 100 / shared})
    steady = pd.DataFrame({"always_on_power_W": 10.2e-3 * shared, "battery_life_h": 100 / shared
                           + rng.normal(0, 5, 500)})
    head = pd.DataFrame({"figure": ["always-on power", "battery life", "latency p50"]})
    marks = mark_within(head, a, steady)["difference"].tolist()
    assert marks == ["beyond the model's uncertainty", "within the model's uncertainty", ""]


def test_efficiencies_and_per_point_currents_are_drawn_and_undrawn_ranges_refused():
    from dslsim.sim.uncertainty import uncertain_numbers

    doc = copy.deepcopy(SIMPLE)
    doc["battery"]["converter_efficiency"] = {"value": 0.95, "tolerance": "10 %"}
    doc["cores"]["a"]["opps"][1]["freq"] = {"value": "100 MHz", "tolerance": "5 %"}
    with pytest.raises(InputError, match=r"cores\.a\.opps\[1\]\.freq\.tolerance"):
        uncertain_numbers(copy.deepcopy(doc), Tolerances())
    doc["cores"]["a"]["opps"][1]["freq"] = "100 MHz"
    doc["cores"]["a"]["supply"] = {"voltage": "1 V"}
    doc["cores"]["a"]["peripherals"] = {"sai": {"current_per_mhz": {"half": "1 uA/MHz", "full": {
        "value": "2 uA/MHz", "tolerance": "20 %"}}}}
    found = {u.path: (u.low, u.high, u.cap) for u in uncertain_numbers(copy.deepcopy(doc), Tolerances())}
    assert found["battery.converter_efficiency"] == (pytest.approx(0.9), pytest.approx(1.1), 1.0)
    assert found["cores.a.peripherals.sai.current_per_mhz.full"][:2] == (pytest.approx(0.8), pytest.approx(1.2))
    _, draws = _run(doc, n=200)
    assert draws["battery_power_W"].notna().all()        # efficiencies never pass 1: every draw loads
