"""The MCU power model: Run and Sleep each with a floor and a part per MHz, peripherals a scenario keeps streaming,
how a core waits (clock-gated or busy-polling), and the floor-and-slope fit of datasheet tables."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from conftest import ROOT, SIMPLE, make_trace
from dslsim.calibration.currents import (fit_line, fit_table, leave_one_clock_out, load_datasheet_currents,
                                        share_within)
from dslsim.errors import DslsimError, InputError
from dslsim.hw.load import parse_profile
from dslsim.sim.plan import build_plan
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario
from dslsim.yamldoc import Node

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


def load_table(tmp_path, points, state="run", **choice):
    """A transcribed datasheet with one table of ``points`` (and a decoy table), picked as a measurement file
    would pick it."""
    doc = {"board": "x", "datasheet": {"id": "DS0", "revision": "Rev 1"},
           "tables": {state: [{"source": "DS0 Rev 1, Table 3. decoy", "points": []},
                              {"source": "DS0 Rev 1, Table 31. Run on LDO", "points": points}]}}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(doc))
    pick = {"file": "x.yaml", state: "Table 31", "supply": {"voltage": "3.0 V", "regulator": "ldo"},
            "ranges": {"1": "r1", "2": "r2"}, **choice}
    data = load_datasheet_currents(Node(pick, str(tmp_path / "m.yaml"), "systems.x.datasheet", True), tmp_path)
    return dataclasses.replace(data, voltages={"1": 1.2, "2": 1.0})


def test_leave_one_clock_out_by_hand(tmp_path):
    pts = [{"range": "1", "clock": f"{f} MHz", "typ": f"{i} mA"} for f, i in ((16, 1.0), (32, 1.6), (48, 2.2), (64, 3.0))]
    rows = leave_one_clock_out(load_table(tmp_path, pts))
    # Leaving out 64 MHz: the line through (16, 1.0), (32, 1.6), (48, 2.2) is 0.4 + 0.0375 f -> 2.8 mA, -6.67 %.
    last = rows[-1]
    assert last["clock_MHz"] == 64 and last["predicted_mA"] == pytest.approx(2.8)
    assert last["err_pct"] == pytest.approx(100 * (2.8 / 3.0 - 1))
    errors = [r["err_pct"] for r in rows]
    assert share_within(errors, 10) == pytest.approx(sum(abs(e) <= 10 for e in errors) / 4)


@pytest.mark.parametrize("points, choice, says", [
    ([{"range": "1", "clock": "16 MHz", "typ": "1 mA"}, {"range": "2", "clock": "8 MHz", "typ": "0.5 mA"}], {},
     "one clock per range"),
    ([{"range": "1", "clock": f"{f} MHz", "typ": f"{i} mA"} for f, i in ((16, 1.0), (32, 0.9), (64, 3.0))], {},
     "do not fall"),
    ([{"range": "1", "clock": "16 MHz", "typ": "-1 mA"}], {}, "tables.run[1].points[0].typ"),
    ([{"range": "7", "clock": "16 MHz", "typ": "1 mA"}], {}, "tables.run[1].points[0].range"),
    ([{"range": "1", "clock": "16 MHz", "typ": "1 mA"}], {"run": "Table 9"}, "systems.x.datasheet.run"),
    ([{"range": "1", "clock": "16 MHz", "typ": "1 mA"}], {"column": "typ_smps"}, "tables.run[1].points[0].typ_smps"),
])
def test_bad_tables_name_file_and_key(tmp_path, points, choice, says):
    with pytest.raises(DslsimError) as err:
        load_table(tmp_path, points, **choice)
    assert ("x.yaml" in str(err.value) or "m.yaml" in str(err.value)) and says in str(err.value)


def test_rows_are_filtered_and_a_lone_two_clock_range_is_fitted_but_not_tested(tmp_path):
    pts = [{"range": "1", "clock": "16 MHz", "typ": "1.0 mA", "peripherals": "disabled"},
           {"range": "1", "clock": "32 MHz", "typ": "1.6 mA", "peripherals": "disabled"},
           {"range": "1", "clock": "32 MHz", "typ": "9.9 mA", "peripherals": "enabled"}]
    data = load_table(tmp_path, pts, where={"peripherals": "disabled"})
    line = fit_table(data.tables["run"], data.voltages, 2)["1"]
    assert (line.base, line.per_hz, line.clocks) == (pytest.approx(0.4e-3), pytest.approx(37.5e-12), 2)
    assert leave_one_clock_out(data) == []


def test_a_range_borrows_the_shared_slope(tmp_path):
    """On the model exactly (range 1 at 1.2 V: 0.5 mA + 25 uA/MHz/V^2 x 1.44; range 2 at 1.0 V: 0.3 mA + 25 uA/MHz),
    every point is predicted exactly from the others, including range 2's two points, whose own line would need
    both: the slope comes from range 1 through V^2."""
    def mA(label, f):
        return (0.5 + 0.025 * 1.44 * f) if label == "1" else (0.3 + 0.025 * f)
    pts = [{"range": r, "clock": f"{f} MHz", "typ": f"{mA(r, f)!r} mA"} for r, f in
           (("1", 20), ("1", 40), ("1", 60), ("2", 10), ("2", 30))]
    rows = leave_one_clock_out(load_table(tmp_path, pts, supply={"voltage": "3.0 V", "regulator": "smps"}))
    assert len(rows) == 5
    for row in rows:
        assert row["predicted_mA"] == pytest.approx(row["current_mA"], rel=1e-9)


def _warnings(scenario: dict) -> list[str]:
    profile = mcu_profile()
    sc = parse_scenario({"placement": {"default": "m"}, "opp": {"m": "50 MHz"}, **scenario}, profile, "s.yaml")
    return [w for w in simulate(profile, make_trace(["full"] * 20), sc, baseline=False).warnings if "sleep" in w]


def test_never_sleeps_warning_names_the_idle_power_and_respects_streaming():
    (warning,) = _warnings({})
    assert f"{1e3 * 3.0 * (300e-6 + 8e-6 * 50):.3f} mW" in warning          # Sleep's power, not the total
    assert "stop2: 1 ms" in warning
    assert _warnings({"idle": {"m": "clock-gated"}}) == []                 # declared: a choice
    assert _warnings({"streaming": {"m": ["sai1"]}}) == []                 # stop2 would stop the audio
    (streaming,) = _warnings({"streaming": {"m": ["adf1"]}})               # adf1 captures in stop2: advise it
    assert "stop2" in streaming


# --- the audio front end on an MCU -----------------------------------------------------------------------------


def test_float_front_end_ops_and_their_cost_on_a_board_by_hand():
    """The float32 pipeline's op counts by hand, and its cycles on the shipped STM32U575 profile from the
    CMSIS-DSP counts the profile cites (a 1024-point FFT is 58,725 x 1.1 cycles, a 512-value magnitude 8,368)."""
    from dslsim.cost import op_cycles
    from dslsim.hw.load import load_profile
    from dslsim.trace.frontend import frontend_stage

    st = frontend_stage(16000, 320, features="logmel", feature_hop=320, n_fft=1024, n_mels=40, arithmetic="float32")
    by_name = {op.name: op for op in st.ops}
    assert [op.kind for op in st.ops] == ["elementwise", "vector", "vector", "fft", "magnitude", "filterbank", "log",
                                          "vector", "overhead"]
    assert by_name["fft"].macs == 2 * 1024 * 10 and by_name["magnitude"].macs == 512
    assert by_name["mel_filterbank"].macs == 1024 and by_name["log"].macs == 40
    core = load_profile("stm32u575").cores["mcu"]
    assert op_cycles(by_name["fft"], core) == pytest.approx(58725 * 1.1, rel=1e-4)
    assert op_cycles(by_name["magnitude"], core) == pytest.approx(8368, rel=1e-4)
    # The front end's kinds carry no neural-network runtime overhead per op (the calibrated kinds do: ~16k cycles).
    feature_ops = [op for op in st.ops if op.kind != "elementwise"]
    total = sum(op_cycles(op, core) for op in feature_ops)
    assert total == pytest.approx(1024 * 2 * 4.1016 + 58725 * 1.1 + 8368 + 1024 * 4.1016 + 40 * 40
                                  + 40 * 4.1016 + 1000, rel=1e-3)


def test_calibration_keeps_a_profiles_own_front_end_costs():
    """`dslsim calibrate` rewrites the network's op costs but not the front end's sourced entries."""
    from dslsim.calibration.fit import calibrated_profile_data, fit, load_measurements
    from dslsim.shipped import MEASUREMENTS

    data = load_measurements(MEASUREMENTS)
    doc = calibrated_profile_data(data, fit(data), "stm32u575")
    ops = doc["cores"]["mcu"]["ops"]
    assert ops["magnitude"]["cycles_per_mac"] == pytest.approx(8368 / 512, rel=1e-4)
    assert "arm_cfft_f32" in ops["fft"]["source"] and ops["conv2d"]["source"].startswith("calibrated from")


def test_calibrate_refuses_a_tabulated_clock_above_its_range(tmp_path):
    """A table row at 200 MHz in range 1 of a part whose range 1 stops at 160 MHz: exit 2, the table file and the
    row's key path named, nothing written."""
    from click.testing import CliRunner

    from dslsim.cli.main import cli
    from dslsim.shipped import DATA

    table = yaml.safe_load((DATA / "validation" / "datasheets" / "stm32u575.yaml").read_text())
    run = next(t for t in table["tables"]["run"] if "Table 38" in t["source"])
    run["points"][0] = dict(run["points"][0], range=1, clock="200 MHz", typ="15 mA")
    (tmp_path / "ds.yaml").write_text(yaml.safe_dump(table))
    spec = yaml.safe_load((DATA / "validation" / "mlperf-tiny.yaml").read_text())
    spec["models"] = {"kws": dict(spec["models"]["kws"], file=str(DATA / "models" / "mlperf-tiny" /
                                                                  "kws_ref_model.tflite"))}
    system = spec["systems"]["stm32u575"]
    system["results"] = {"kws": system["results"]["kws"]}
    system["datasheet"]["file"] = "ds.yaml"
    spec["systems"] = {"stm32u575": system}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(spec))
    r = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "m.yaml"), "--out-dir", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert "ds.yaml" in r.output and "tables.run[" in r.output and "200 MHz" in r.output and "no higher than" in r.output
    assert not (tmp_path / "out").exists()


def test_the_mcu_audio_recipe_by_hand(tmp_path):
    """docs/mcu-audio.md's pipeline on the shipped STM32U575 at 24 MHz, streaming through SAI1 + GPDMA1: the MCU's
    mean power is its busy share at the Run power plus the rest at the Sleep power, both from the profile's range-4
    currents and the peripherals' (second method: the profile's numbers, not the engine)."""
    from click.testing import CliRunner

    from dslsim.cli.main import cli
    from dslsim.hw.load import load_profile
    from dslsim.trace.io import read_trace

    run = CliRunner()
    kws, mcu = tmp_path / "kws.parquet", tmp_path / "kws-mcu.parquet"
    model = ROOT / "dslsim" / "data" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
    assert run.invoke(cli, ["trace", "from-model", str(model), str(kws), "--rate", "1 Hz", "--duration", "20 s"]
                      ).exit_code == 0
    r = run.invoke(cli, ["trace", "add-frontend", str(kws), str(mcu), "--features", "mfcc", "--n-mfcc", "10",
                         "--n-fft", "1024", "--feature-hop", "320", "--hop", "16000", "--sample-rate", "16000",
                         "--arithmetic", "float32"])
    assert r.exit_code == 0, r.output
    scenario = yaml.safe_load((ROOT / "examples" / "stm32u575-sai-stream.yaml").read_text())
    scenario["opp"] = {"mcu": "24 MHz"}
    profile = load_profile("stm32u575")
    result = simulate(profile, read_trace(mcu), parse_scenario(scenario, profile, "s.yaml"), baseline=False)
    opp, core, f = profile.cores["mcu"].opp("range4"), profile.cores["mcu"], 24e6
    periph = sum(core.peripherals[p].base_current + core.peripherals[p].current_per_hz["range4"] * f
                 for p in ("sai1", "gpdma1"))
    run_w = 1.8 * (opp.base_current + opp.run_current * f + periph)
    sleep_w = 1.8 * (opp.idle_base_current + opp.idle_current * f + periph)
    res = result.resources
    busy = res[(res["resource"] == "mcu") & (res["component"] == "active")]["time_s"].sum()
    span = result.summary.duration_s
    expected = (busy * run_w + (span - busy) * sleep_w) / span
    assert result.summary.compute_power_W == pytest.approx(expected, rel=1e-9)
    # The front end takes about half of the busy time (docs/mcu-audio.md): more than the network alone would.
    alone = simulate(profile, read_trace(kws), parse_scenario(scenario, profile, "s.yaml"), baseline=False)
    assert 0.4 < 1 - alone.summary.latency_p50_s / result.summary.latency_p50_s < 0.6
