"""The MCU power model: Run and Sleep each with a floor and a part per MHz, peripherals a scenario keeps streaming,
how a core waits (clock-gated or busy-polling), and the floor-and-slope fit of datasheet tables."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import SIMPLE, make_trace
from dslsim.calibration.currents import fit_line, leave_one_clock_out, load_datasheet_currents, share_within
from dslsim.errors import DslsimError, InputError
from dslsim.hw.load import parse_profile
from dslsim.sim.plan import build_plan
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario

#: A datasheet-style MCU at 3.0 V through an LDO (current passes): range r1 up to 100 MHz.
MCU = {
    "kind": "mcu",
    "supply": {"voltage": "3.0 V", "regulator": "ldo"},
    "opps": [{"name": "r1", "freq": "100 MHz", "voltage": "1.2 V", "base_current": "500 uA",
              "run_current": "40 uA/MHz", "idle_base_current": "300 uA", "idle_current": "8 uA/MHz"}],
    "ops": {"default": {"cycles_per_mac": 1}},
    "sleep": {"stop2": {"power": "10 uW", "exit_latency": "10 us"}},
    "peripherals": {"sai1": {"base_current": "20 uA", "current_per_mhz": "1 uA/MHz"},
                    "adf1": {"base_current": "5 uA", "runs_in": ["stop2"]}},
}


def mcu_profile():
    data = copy.deepcopy(SIMPLE)
    data["cores"] = {"m": copy.deepcopy(MCU)}
    data.pop("links")
    data["default_scenario"] = {"placement": {"default": "m"}}
    return parse_profile(data, "mcu.yaml")


def plan_for(scenario: dict):
    profile = mcu_profile()
    trace = make_trace(["full", "light"] * 5)
    sc = parse_scenario({"placement": {"default": "m"}, **scenario}, profile, "s.yaml")
    return build_plan(trace.meta, profile, sc).resources[0]


def test_run_and_sleep_have_their_own_floor_and_slope():
    r = plan_for({"opp": {"m": "60 MHz"}})
    assert r.active_power == pytest.approx(3.0 * (500e-6 + 40e-6 * 60))      # 8.7 mW
    assert r.idle_power == pytest.approx(3.0 * (300e-6 + 8e-6 * 60))         # 2.34 mW: not 0.3 x Run's
    # Halving the clock halves only the part per MHz.
    half = plan_for({"opp": {"m": "30 MHz"}})
    assert r.idle_power - half.idle_power == pytest.approx(3.0 * 8e-6 * 30)


def test_a_profile_without_a_sleep_floor_keeps_runs():
    data = copy.deepcopy(MCU)
    del data["opps"][0]["idle_base_current"]
    profile = parse_profile({**copy.deepcopy(SIMPLE), "cores": {"m": data}, "links": []}, "mcu.yaml")
    assert profile.cores["m"].opps[0].idle_base_current == pytest.approx(500e-6)


def test_streaming_peripherals_draw_in_run_and_sleep():
    r = plan_for({"opp": {"m": "60 MHz"}, "streaming": {"m": ["sai1"]}})
    sai = 3.0 * (20e-6 + 1e-6 * 60)
    assert r.active_power == pytest.approx(3.0 * (500e-6 + 40e-6 * 60) + sai)
    assert r.idle_power == pytest.approx(3.0 * (300e-6 + 8e-6 * 60) + sai)
    assert r.streaming == ("sai1",)


def test_busy_poll_waits_at_the_run_power():
    r = plan_for({"opp": {"m": "60 MHz"}, "idle": {"m": "busy-poll"}})
    assert r.idle_power == r.active_power == pytest.approx(3.0 * (500e-6 + 40e-6 * 60))
    assert r.unused_sleep_states == ()          # a declared idle mode is a choice, not an oversight


def test_stop_is_refused_while_a_peripheral_needs_the_clock():
    with pytest.raises(InputError) as err:
        plan_for({"streaming": {"m": ["sai1"]}, "sleep": {"m": {"stop2": "1 ms"}}})
    text = str(err.value)
    assert "s.yaml" in text and "sleep.m.stop2" in text and "sai1" in text


def test_a_peripheral_that_runs_in_stop_adds_its_floor_there():
    r = plan_for({"streaming": {"m": ["adf1"]}, "sleep": {"m": {"stop2": "1 ms"}}})
    assert r.sleep[0].state.power == pytest.approx(10e-6 + 3.0 * 5e-6)


def test_unknown_peripheral_and_idle_mode_are_refused():
    with pytest.raises(InputError, match="streaming.m"):
        plan_for({"streaming": {"m": ["i2s9"]}})
    with pytest.raises(InputError, match="idle.m"):
        plan_for({"idle": {"m": "spin"}})


def test_idle_energy_of_a_busy_poll_run_by_hand():
    """A frame of 100 kMAC every 10 ms at 50 MHz runs 2 ms then waits 8 ms: with busy-poll the core draws the run
    power all the time, so its energy is run power x simulated time."""
    profile = mcu_profile()
    trace = make_trace(["full"] * 20)
    sc = parse_scenario({"placement": {"default": "m"}, "opp": {"m": "50 MHz"}, "idle": {"m": "busy-poll"}},
                        profile, "s.yaml")
    res = simulate(profile, trace, sc, baseline=False).resources
    core = res[(res["resource"] == "m") & res["time_s"].notna()]
    run = 3.0 * (500e-6 + 40e-6 * 50)
    assert core["energy_J"].sum() == pytest.approx(run * core["time_s"].sum(), rel=1e-12)


# --- datasheet tables ------------------------------------------------------------------------------------------


def test_line_fit_is_the_least_squares_line():
    # Three points on 0.4 mA + 37.5 uA/MHz, the middle one 0.03 mA high: the fit moves by a third of it at the
    # mean clock (hand calculation of ordinary least squares).
    fit = fit_line([(16e6, 1.0e-3), (32e6, 1.63e-3), (64e6, 2.8e-3)])
    mean_f = (16 + 32 + 64) / 3 * 1e6
    assert fit.current(mean_f) == pytest.approx((1.0e-3 + 1.63e-3 + 2.8e-3) / 3)
    sxx = sum((f - mean_f) ** 2 for f in (16e6, 32e6, 64e6))
    sxy = sum((f - mean_f) * (i - (1.0e-3 + 1.63e-3 + 2.8e-3) / 3)
              for f, i in ((16e6, 1.0e-3), (32e6, 1.63e-3), (64e6, 2.8e-3)))
    assert fit.per_hz == pytest.approx(sxy / sxx)


def table_file(tmp_path, points, state="run"):
    doc = {"board": "x", "datasheet": {"id": "DS0", "revision": "Rev 1"},
           "supply": {"voltage": "3.0 V", "regulator": "ldo"}, "ranges": {"1": "r1", "2": "r2"},
           "tables": {state: {"source": "DS0 Rev 1, Table 9", "points": points}}}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_leave_one_clock_out_by_hand(tmp_path):
    pts = [{"range": "1", "clock": f"{f} MHz", "typ": f"{i} mA"} for f, i in ((16, 1.0), (32, 1.6), (48, 2.2), (64, 3.0))]
    rows = leave_one_clock_out(load_datasheet_currents(table_file(tmp_path, pts)))
    # Leaving out 64 MHz: the line through (16, 1.0), (32, 1.6), (48, 2.2) is 0.4 + 0.0375 f -> 2.8 mA, -6.67 %.
    last = rows[-1]
    assert last["clock_MHz"] == 64 and last["predicted_mA"] == pytest.approx(2.8)
    assert last["err_pct"] == pytest.approx(100 * (2.8 / 3.0 - 1))
    errors = [r["err_pct"] for r in rows]
    assert share_within(errors, 10) == pytest.approx(sum(abs(e) <= 10 for e in errors) / 4)


@pytest.mark.parametrize("points, says", [
    ([{"range": "1", "clock": "16 MHz", "typ": "1 mA"}], "at least 3 clocks"),
    ([{"range": "1", "clock": f"{f} MHz", "typ": f"{i} mA"} for f, i in ((16, 1.0), (32, 0.9), (64, 3.0))],
     "do not fall"),
    ([{"range": "1", "clock": "16 MHz", "typ": "-1 mA"}], "tables.run.points[0].typ"),
    ([{"range": "7", "clock": "16 MHz", "typ": "1 mA"}], "tables.run.points[0].range"),
])
def test_bad_tables_name_file_and_key(tmp_path, points, says):
    with pytest.raises(DslsimError) as err:
        load_datasheet_currents(table_file(tmp_path, points))
    assert "x.yaml" in str(err.value) and says in str(err.value)
