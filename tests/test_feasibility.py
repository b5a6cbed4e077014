"""One definition of a run that keeps up, and the always-on budget as phone teams mean it (the feature's own
drain), in the summary, the named baselines and the CLI."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from conftest import make_trace, simple_profile
from dslsim.cli.main import cli
from dslsim.sim.baselines import named_baselines
from dslsim.sim.budget import check_budget
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario


def _late_run(max_miss_rate: float = 0.01):
    """SIMPLE's core 'a' at 100 MHz: a 'full' frame takes 3 ms (300 kMAC), a 'light' one 1 ms; frames every 10 ms,
    a 2 ms deadline: the queue is stable (30 % busy at most) but every 'full' frame misses, 1 in 4 frames."""
    profile = simple_profile()
    trace = make_trace(["full", "light", "light", "light"] * 25)
    scenario = parse_scenario({"placement": {"default": "a"}, "deadline": "2 ms"}, profile)
    return simulate(profile, trace, scenario, baseline=False, max_miss_rate=max_miss_rate)


def test_a_stable_queue_with_too_many_misses_does_not_keep_up():
    s = _late_run().summary
    assert s.queue_stable and s.deadline_miss_rate == pytest.approx(0.25)
    assert not s.keeps_up and math.isnan(s.battery_life_h) and math.isnan(s.feature_pct_per_day)
    assert "25.00 % of frames missed their 2 ms deadline" in s.shortfall
    relaxed = _late_run(max_miss_rate=0.3).summary
    assert relaxed.keeps_up and math.isfinite(relaxed.battery_life_h)


def test_the_named_baselines_use_the_same_definition():
    profile = simple_profile()
    trace = make_trace(["full", "light", "light", "light"] * 25)
    scenario = parse_scenario({"placement": {"default": "a"}, "deadline": "2 ms"}, profile)
    result = simulate(profile, trace, scenario, max_miss_rate=0.3)
    table = named_baselines(result, profile, trace, scenario).set_index("configuration")
    # The scenario keeps up within its 30 % allowance; every frame on 'full' misses them all.
    assert table.loc["scenario", "keeps_up"] == result.summary.keeps_up is True
    assert table.loc["all-full", "keeps_up"] == result.baseline.keeps_up is False


def test_the_features_own_drain_by_hand():
    """SIMPLE doing nothing: floor 1 mW, 'a' in its deepest sleep state (0.1 mW), 'b' in 'off' (0 W), through an
    80 % converter: (1 + 0.1 + 0) / 0.8 = 1.375 mW at the battery, whatever the scenario (4 V, 100 mAh)."""
    profile = simple_profile()
    result = simulate(profile, make_trace(["light"] * 50), parse_scenario({"placement": {"default": "a"}}, profile),
                      baseline=False)
    s = result.summary
    assert s.idle_device_power_W == pytest.approx(1.375e-3)
    feature_a = (s.battery_power_W - 1.375e-3) / 4.0
    assert s.feature_current_A == pytest.approx(feature_a)
    assert s.feature_pct_per_day == pytest.approx(100 * 24 * feature_a / 0.1)
    # A sleep policy changes what the run draws, not the reference: the device doing nothing is the same.
    slept = simulate(profile, make_trace(["light"] * 50),
                     parse_scenario({"placement": {"default": "a"}, "sleep": {"a": {"s1": "1 ms"}}}, profile),
                     baseline=False).summary
    assert slept.idle_device_power_W == pytest.approx(1.375e-3)
    assert slept.feature_current_A < s.feature_current_A
    verdict = check_budget(s, 1.0)
    assert verdict["of"] == "feature" and verdict["drain_pct_per_day"] == s.feature_pct_per_day
    assert check_budget(s, 1.0, "total")["drain_pct_per_day"] == s.battery_pct_per_day


def test_budget_verdict_in_json_and_exit_code():
    runner = CliRunner()
    args = ["simulate", "-p", "phone", "-t", "dsl-75hz-10min", "--no-baseline", "--json", "--budget", "1"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["budget"]["of"] == "feature"
    assert doc["budget"]["drain_pct_per_day"] == pytest.approx(doc["summary"]["feature_pct_per_day"])
    # The phone's floor alone is over 1 %/day; its feature is judged on its own drain.
    assert doc["summary"]["feature_pct_per_day"] < doc["summary"]["battery_pct_per_day"]
    over = runner.invoke(cli, args + ["--fail-over-budget"])
    assert over.exit_code == (5 if doc["budget"]["within"] is False else 0)
    assert runner.invoke(cli, args[:-2] + ["--budget", "100", "--fail-over-budget"]).exit_code == 0


def test_simulate_exits_4_on_misses_and_says_why(tmp_path):
    scenario = tmp_path / "late.yaml"
    scenario.write_text("placement: {default: dsp}\ndeadline: 0.5 ms\n")
    r = CliRunner().invoke(cli, ["simulate", "-p", "earbud", "-t", "dsl-75hz-10min", "-s", str(scenario),
                                 "--no-baseline"])
    assert r.exit_code == 4, r.output
    assert "missed their 0.5 ms deadline" in r.output and "battery life        none" in r.output
    ok = CliRunner().invoke(cli, ["simulate", "-p", "earbud", "-t", "dsl-75hz-10min", "-s", str(scenario),
                                  "--no-baseline", "--max-misses", "100"])
    assert ok.exit_code == 0, ok.output


# --- figures that name their sources -------------------------------------------------------------------------------


def test_contributors_add_up_to_the_battery_draw_and_name_their_sources(tmp_path):
    """SIMPLE's core 'a' runs 1 ms per 10 ms frame at 1 mW leakage (+ 10 pJ/MAC), waits at 2 mW, 'b' idles at 4 mW,
    the floor is 1 mW, through an 80 % converter: by hand, 'b' waiting is (2 + 2) / 0.8 = 5 mW at the battery."""
    import yaml

    from conftest import SIMPLE
    from dslsim.hw.load import load_profile
    from dslsim.report.explain import contributors

    doc = dict(SIMPLE, cores={**SIMPLE["cores"], "b": dict(SIMPLE["cores"]["b"], source="b's datasheet")})
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    profile = load_profile(str(tmp_path / "p.yaml"))
    result = simulate(profile, make_trace(["light"] * 100), parse_scenario({"placement": {"default": "a"}}, profile),
                      baseline=False)
    table = contributors(result, top=None).set_index("contributor")
    assert table["battery_mW"].sum() == pytest.approx(1e3 * result.summary.battery_power_W, rel=1e-9)
    assert table["share_pct"].sum() == pytest.approx(100.0)
    b = table.loc["b waiting (clock-gated or busy-polling) at full"]
    assert b["battery_mW"] == pytest.approx((2 + 2) / 0.8)
    assert "cores.b.opps[full].leakage" in b["key_paths"] and "b's datasheet" in b["sources"]
    assert table.loc["platform floor: mic", "battery_mW"] == pytest.approx(1 / 0.8)
    assert "cores.a.ops.default" in table.loc["a energy per op at full", "key_paths"]


def test_simulate_explain_names_the_dsp_and_its_source():
    r = CliRunner().invoke(cli, ["simulate", "-p", "watch", "-t", "dsl-75hz-10min", "--no-baseline", "--explain"])
    assert r.exit_code == 0, r.output
    first = r.output.split("where the battery draw")[1].splitlines()[1]
    assert "dsp running at low" in first and "cores.dsp.opps[low].run_current" in r.output and "GAP9" in r.output


def test_sweep_report_calls_tiny_differences_within_the_models_error():
    """Points whose battery life differs by 0.15 % (less than the validated error) are said to be within the
    model's uncertainty; infeasible points are on no front and rank last."""
    import pandas as pd

    from dslsim.report.build import sweep_report

    df = pd.DataFrame({"x": [1, 2, 3], "always_on_power_W": [1e-3, 1.1e-3, 0.5e-3], "latency_p99_s": [1e-3, 2e-3, 73.0],
                       "battery_life_h": [100.0, 100.15, float("nan")], "keeps_up": [True, True, False],
                       "deadline_miss_rate": [0, 0, 1.0], "wakeups": [1, 1, 1], "battery_gain_pct": [1, 1, None],
                       "point_id": ["a", "b", "c"]})
    manifest = {"name": "s", "axes": {"x": [1, 2, 3]}, "points": [{}, {}, {}], "profile": "p", "scenario": "s",
                "trace": "t"}
    html = sweep_report(manifest, df).render()
    assert "varies by 0.15 %" in html and "are within the model" in html
    assert "1 of 3 points do not keep up" in html
    assert "varies by" not in sweep_report(manifest, df, resolution_pct=0.1).render()


def test_the_model_resolution_is_the_validated_error():
    """The sweep report's default resolution is docs/validation.md's median energy error (recomputed)."""
    from dslsim.calibration.fit import load_measurements
    from dslsim.calibration.validate import error_summary, leave_one_out
    from dslsim.report.build import MODEL_RESOLUTION_PCT
    from dslsim.shipped import MEASUREMENTS

    measured = error_summary(leave_one_out(load_measurements(MEASUREMENTS)))["energy_median_abs_err_pct"]
    assert MODEL_RESOLUTION_PCT == pytest.approx(round(measured, 1))


def test_a_sweep_spec_states_its_miss_allowance(tmp_path):
    """'max_misses' reaches every point: a 0.5 ms deadline most frames miss does not keep up at 1 % and does at
    100 % (the earbud's queue stays stable), and a store made with one allowance is not resumed with another."""
    import yaml

    from dslsim.sweep.run import run_sweep
    from dslsim.sweep.spec import load_spec

    def spec(name, allow):
        doc = {"name": name, "base": {"profile": "earbud", "trace": "dsl-75hz-10min"}, "baseline": False,
               "max_misses": allow, "axes": {"scenario.deadline": ["0.5 ms"]}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc))
        return load_spec(tmp_path / f"{name}.yaml")

    strict, lax = spec("strict", "1 %"), spec("lax", "100 %")
    assert strict.digest() != lax.digest()
    assert list(run_sweep(strict, tmp_path / "strict", jobs=1)["keeps_up"]) == [False]
    assert list(run_sweep(lax, tmp_path / "lax", jobs=1)["keeps_up"]) == [True]
    with pytest.raises(Exception, match="max_misses"):
        spec("bad", "150 %")
