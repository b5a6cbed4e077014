"""The device model in datasheet terms, real op graphs from TFLite, calibration, and validation against MLPerf Tiny.

Expected numbers are computed here by hand from layer shapes and the cost formula, or recovered from data made
with known parameters; the validation is re-run and compared with the committed docs/validation.md.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, SIMPLE, make_trace, simple_profile, stage
from dslsim.cli.main import cli
from dslsim.errors import DslsimError, InputError
from dslsim.hw.load import parse_profile
from dslsim.cost import active_power, idle_power, op_cycles, power_sources, stage_cost
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario
from dslsim.trace.schema import Op, Stage

MODELS = ROOT / "dslsim" / "data" / "models" / "mlperf-tiny"
MAC_KINDS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d", "linear")

#: A core described the way an STM32 datasheet describes it: ranges with a clock limit, pin currents per MHz.
DATASHEET_CORE = {
    "kind": "mcu",
    "supply": {"voltage": "1.8 V", "regulator": "smps", "efficiency": 0.8},
    "opps": [{"name": "r2", "freq": "50 MHz", "voltage": "1.0 V", "run_current": "20 uA/MHz",
              "idle_current": "5 uA/MHz"},
             {"name": "r1", "freq": "100 MHz", "voltage": "1.2 V", "run_current": "40 uA/MHz",
              "idle_current": "10 uA/MHz", "base_current": "100 uA"}],
    "ops": {"default": {"cycles_per_mac": 2, "cycles_per_op": 1000, "cycles_per_output": 4}},
}


def _one_core_profile(core: dict):
    """SIMPLE's battery and floor with ``core`` as its only core 'a'."""
    data = copy.deepcopy(SIMPLE)
    data["cores"] = {"a": core}
    data.pop("links")
    data["default_scenario"] = {"placement": {"default": "a"}}
    return parse_profile(data, "simple.yaml")


def _datasheet_profile(**supply):
    merged = {k: v for k, v in dict(DATASHEET_CORE["supply"], **supply).items() if v is not None}
    return _one_core_profile(dict(DATASHEET_CORE, supply=merged))


# --- the cost model in datasheet terms ------------------------------------------------------------------------


def test_datasheet_core_costs_by_hand():
    profile = _datasheet_profile()
    core = profile.cores["a"]
    op = Op("conv", "conv1d", macs=10_000, act_out_bytes=500)
    # 10,000 MACs x 2 + 500 outputs x 4 + 1,000 per op = 23,000 cycles.
    assert op_cycles(op, core) == 23_000
    r1 = core.clock("r1")
    cost = stage_cost(Stage("s", (op,)), core, r1)
    seconds, joules = cost.seconds, cost.joules
    assert cost.sources == ("cores.a.ops.default",)              # conv1d has no entry of its own
    assert power_sources(core, r1, running=True) == ("cores.a.opps[r1].base_current", "cores.a.opps[r1].run_current",
                                                     "cores.a.supply")
    assert seconds == pytest.approx(23_000 / 100e6)
    assert joules == 0.0                                         # no per-MAC energy: the run current covers it
    assert active_power(core, r1) == pytest.approx(1.8 * (100e-6 + 40e-12 * 100e6))      # 7.38 mW
    assert idle_power(core, r1) == pytest.approx(1.8 * (100e-6 + 10e-12 * 100e6))        # idle follows the clock
    # A clock is served by the lowest range that supports it, at that clock.
    c = core.clock(60e6)
    assert c.opp.name == "r1" and c.freq == 60e6 and idle_power(core, c) == pytest.approx(1.8 * (100e-6 + 600e-6))
    c = core.clock(30e6)
    assert c.opp.name == "r2" and active_power(core, c) == pytest.approx(1.8 * 20e-12 * 30e6)
    with pytest.raises(ValueError):
        core.clock(101e6)


def test_regulators_ldo_passes_current_smps_passes_power():
    # Datasheet at 1.8 V; the board rail is 3.3 V.
    ldo = _datasheet_profile(regulator="ldo", voltage="3.3 V", datasheet_voltage="1.8 V", efficiency=None)
    smps = _datasheet_profile(voltage="3.3 V", datasheet_voltage="1.8 V")
    ck = ldo.cores["a"].clock("r2")
    assert active_power(ldo.cores["a"], ck) == pytest.approx(3.3 * 20e-12 * 50e6)     # same current, higher rail
    assert active_power(smps.cores["a"], ck) == pytest.approx(1.8 * 20e-12 * 50e6)    # same power


def test_core_side_energy_goes_through_the_regulator():
    # SIMPLE's core 'a' (10 pJ/MAC at 1 V, leakage 1 mW) behind an LDO from 2 V: efficiency = 1 V / 2 V.
    plain = simple_profile()
    ldo = simple_profile(cores={"a": {"supply": {"voltage": "2 V", "regulator": "ldo"}}})
    st = stage("s", 100_000)
    for p, factor in ((plain, 1.0), (ldo, 2.0)):
        core = p.cores["a"]
        cost = stage_cost(st, core, core.clock("full"))
        seconds, joules = cost.seconds, cost.joules
        assert seconds == pytest.approx(1e-3) and joules == pytest.approx(1e-6 * factor)
        assert active_power(core, core.clock("full")) == pytest.approx(1e-3 * factor)


def test_frame_energy_includes_static_power_while_running():
    profile = _datasheet_profile()
    trace = make_trace(["light"] * 3, frame_rate=10.0, stages={"front": stage("front", 100_000)},
                       paths={"light": ["front"]}, dense="light")
    r = simulate(profile, trace, parse_scenario({"placement": {"default": "a"}, "opp": {"a": "60 MHz"}}, profile),
                 baseline=False)
    seconds = (100_000 * 2 + 1000) / 60e6                   # conv1d op with no outputs
    watts = 1.8 * (100e-6 + 40e-12 * 60e6)
    assert r.frames["latency_s"].iloc[0] == pytest.approx(seconds)
    assert r.frames["energy_J"].iloc[0] == pytest.approx(watts * seconds)
    assert r.summary["energy_per_frame_light_J"] == pytest.approx(watts * seconds)


def test_floor_measured_at_the_battery_is_not_divided_by_the_converter_again():
    rail = simple_profile()
    battery = simple_profile(platform={"floor": {"mic": {"power": "1 mW", "at": "battery"}}})
    trace = make_trace(["light"] * 4)
    a, b = (simulate(p, trace, baseline=False).summary for p in (rail, battery))
    assert a["battery_power_W"] == pytest.approx((a["compute_power_W"] + 1e-3) / 0.8)
    assert b["battery_power_W"] == pytest.approx(b["compute_power_W"] / 0.8 + 1e-3)
    assert b["always_on_power_W"] == pytest.approx(a["always_on_power_W"])


@pytest.mark.parametrize("value, expected", [("250 MHz", "no higher than"), ("warp", "or a clock such as"),
                                             ("fast 9", "not a number with a unit")])
def test_scenario_clock_errors_name_the_key(value, expected):
    profile = _datasheet_profile()
    with pytest.raises(InputError, match=expected) as err:
        parse_scenario({"placement": {"default": "a"}, "opp": {"a": value}}, profile, "s.yaml")
    assert "opp.a" in str(err.value)


@pytest.mark.parametrize("core_change, key, expected", [
    ({"supply": None}, "opps[0]", "supply"),
    ({"supply": {"voltage": "1.8 V", "regulator": "smps"}}, "supply.efficiency", "efficiency"),
    ({"ops": {"default": {"cycles_per_mac": 1, "macs_per_cycle": 1}}}, "ops.default", "exactly one"),
    ({"ops": {"default": {"cycles_per_mac": 1, "energy_per_mac": "1 pJ"}}}, "ref_voltage", "quoted at"),
    ({"opps": [{"name": "r", "freq": "1 MHz", "voltage": "1 V", "run_current": "2 mW"}]}, "run_current",
     "current per clock"),
])
def test_bad_datasheet_fields_are_named(core_change, key, expected):
    core = dict(DATASHEET_CORE, **core_change)
    core = {k: v for k, v in core.items() if v is not None}
    with pytest.raises(InputError, match=expected) as err:
        _one_core_profile(core)
    assert key in str(err.value)


# --- op graphs from real models ----------------------------------------------------------------------------------


def _hand_macs() -> dict[str, int]:
    """MAC totals of the four MLPerf Tiny models from their layer shapes (out_h*out_w*C_out*k_h*k_w*C_in/group)."""
    kws = 25 * 5 * 64 * 10 * 4 * 1 + 4 * (25 * 5 * 64 * 3 * 3) + 4 * (25 * 5 * 64 * 64) + 64 * 12
    # MobileNetV1 0.25: (input side, stride, c_in, c_out) of the 13 depthwise-separable blocks.
    blocks = [(48, 1, 8, 16), (48, 2, 16, 32), (24, 1, 32, 32), (24, 2, 32, 64), (12, 1, 64, 64), (12, 2, 64, 128),
              (6, 1, 128, 128), (6, 1, 128, 128), (6, 1, 128, 128), (6, 1, 128, 128), (6, 1, 128, 128),
              (6, 2, 128, 256), (3, 1, 256, 256)]
    vww = 48 * 48 * 8 * 3 * 3 * 3 + 256 * 2
    for side, stride, c_in, c_out in blocks:
        out = side // stride
        vww += out * out * c_in * 9 + out * out * c_in * c_out
    ic = (32 * 32 * 16 * 9 * 3 + 2 * 32 * 32 * 16 * 9 * 16 + 16 * 16 * 32 * 9 * 16 + 16 * 16 * 32 * 9 * 32
          + 16 * 16 * 32 * 16 + 8 * 8 * 64 * 9 * 32 + 8 * 8 * 64 * 9 * 64 + 8 * 8 * 64 * 32 + 64 * 10)
    ad = 640 * 128 + 3 * 128 * 128 + 128 * 8 + 8 * 128 + 3 * 128 * 128 + 128 * 640
    return {"kws_ref_model": kws, "vww_96_int8": vww, "pretrainedResnet_quant": ic, "ad01_int8": ad}


@pytest.mark.parametrize("name, macs", list(_hand_macs().items()))
def test_tflite_mac_totals_equal_hand_counts(name, macs):
    from dslsim.trace.tflite import read_tflite

    graph = read_tflite(MODELS / f"{name}.tflite")
    assert sum(op.macs for op in graph.ops if op.kind in MAC_KINDS) == macs
    assert not graph.unknown and all(op.dtype == "int8" for op in graph.ops if op.kind in MAC_KINDS)
    # Every op is accounted for, and weight bytes = int8 weights + int32 biases.
    assert len(graph.ops) == {"kws_ref_model": 13, "vww_96_int8": 31, "pretrainedResnet_quant": 16,
                              "ad01_int8": 10}[name]


def test_dead_channels_are_counted_only_when_skipped():
    from dslsim.trace.tflite import read_tflite

    vww = read_tflite(MODELS / "vww_96_int8.tflite")
    assert sum(vww.nonzero_macs) < 0.6 * sum(op.macs for op in vww.ops)       # the VWW weights are mostly dead
    kws = read_tflite(MODELS / "kws_ref_model.tflite")
    assert sum(kws.nonzero_macs) == sum(op.macs for op in kws.ops)


def test_trace_from_model_cli_and_op_table(tmp_path):
    runner = CliRunner()
    out = tmp_path / "kws.parquet"
    r = runner.invoke(cli, ["trace", "from-model", str(MODELS / "kws_ref_model.tflite"), str(out), "--rate", "2 Hz",
                            "--duration", "10 s"])
    assert r.exit_code == 0, r.output
    from dslsim.trace.io import read_trace

    t = read_trace(out)
    assert len(t) == 20 and len(t.meta.paths["inference"]) == 13
    assert t.meta.stages["000_conv_2d"].ops[0].kind == "conv2d" and t.meta.stages["000_conv_2d"].macs == 320_000
    # The same graph as an op table gives the same trace costs.
    table = tmp_path / "ops.csv"
    import pandas as pd

    pd.DataFrame([vars(t.meta.stages[s].ops[0]) for s in t.meta.paths["inference"]]).to_csv(table, index=False)
    r = runner.invoke(cli, ["trace", "from-model", str(table), str(tmp_path / "t2.parquet"), "--rate", "2 Hz",
                            "--duration", "10 s"])
    assert r.exit_code == 0, r.output
    assert read_trace(tmp_path / "t2.parquet").meta.path_macs("inference") == t.meta.path_macs("inference")
    s = simulate("stm32u575", t).summary                       # a board profile runs it
    assert s["frames"] == 20 and s["latency_p50_s"] == pytest.approx(0.029, rel=0.05)


@pytest.mark.parametrize("content, suffix, expected", [
    (b"not a model", ".tflite", "not a TensorFlow Lite"),
    (b"kind\nconv2d\n", ".csv", "columns"),
    (b"name,kind,macs\nx,conv2d,-5\n", ".csv", "row 2.macs"),
    (b"ops: 3", ".yaml", "non-empty list"),
])
def test_bad_models_get_one_paragraph(tmp_path, content, suffix, expected):
    bad = tmp_path / f"m{suffix}"
    bad.write_bytes(content)
    r = CliRunner().invoke(cli, ["trace", "from-model", str(bad), str(tmp_path / "o.parquet"), "--rate", "1 Hz"])
    assert r.exit_code == 2 and expected in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o.parquet").exists()


# --- calibration and validation ----------------------------------------------------------------------------------


def _shipped_spec() -> dict:
    """The shipped measurement file with absolute paths, to be edited and written anywhere."""
    spec = yaml.safe_load((ROOT / "dslsim" / "data" / "validation" / "mlperf-tiny.yaml").read_text())
    for model in spec["models"].values():
        model["file"] = str(MODELS / Path(model["file"]).name)
    for name, system in spec["systems"].items():
        system["profile"] = str(ROOT / "hw_profiles" / f"{name}.yaml")
        if "datasheet" in system:
            system["datasheet"]["file"] = str(ROOT / "dslsim" / "data" / "validation" / system["datasheet"]["file"])
    return spec


def test_calibration_recovers_known_costs(tmp_path):
    """Measurements made from a known shape and speeds are fitted back to that shape and those speeds."""
    from dslsim.calibration.fit import features, fit, load_measurements
    from dslsim.trace.model_ops import read_model_ops

    spec = _shipped_spec()
    shape, speeds, powers = np.array([1.7, 9.0, 5000.0]), {"stm32u575": 1.0, "stm32l4r5": 1.3, "stm32h7a3": 0.5,
                                                           "stm32u385": 1.0}, 0.02
    models = {}
    for name, system in spec["systems"].items():
        clock = float(system["clock"].split()[0]) * 1e6
        for bench, res in system["results"].items():
            if bench not in models:
                models[bench] = features(read_model_ops(Path(spec["models"][bench]["file"]),
                                                   spec["models"][bench]["dead_channels"]))
            t = float(speeds[name] * models[bench] @ shape / clock)
            res["latency"] = f"{t * 1e3!r} ms"
            res["energy"] = f"{powers * t * 1e6!r} uJ"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))     # the first system sets the scale (speed 1)
    cal = fit(load_measurements(path))
    assert [cal.cycles_per_mac, cal.cycles_per_output, cal.cycles_per_op] == pytest.approx(shape, rel=1e-6)
    assert cal.speed == pytest.approx(speeds, rel=1e-6) and cal.power["stm32h7a3"] == pytest.approx(powers)


def test_leave_one_benchmark_out_meets_the_target_and_matches_the_docs(tmp_path):
    """docs/validation.md is what `dslsim validate` computes now, and its errors are within the target."""
    runner = CliRunner()
    page = tmp_path / "validation.md"
    r = runner.invoke(cli, ["validate", "--markdown", str(page), "--csv", str(tmp_path / "v.csv")])
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_csv(tmp_path / "v.csv")
    assert len(df) == 16
    for what in ("latency", "energy"):
        err = df[f"{what}_err_pct"].abs()
        assert err.median() <= 15 and err.max() <= 30, what
    assert page.read_text() == (ROOT / "docs" / "validation.md").read_text(), \
        "docs/validation.md is stale: run `dslsim validate --markdown docs/validation.md`"


def test_shipped_board_profiles_are_the_calibration(tmp_path):
    """The shipped STM32 profiles are exactly what `dslsim calibrate` writes from the shipped measurements."""
    r = CliRunner().invoke(cli, ["calibrate", "--out-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for name in ("stm32u575", "stm32l4r5", "stm32h7a3", "stm32u385"):
        assert (tmp_path / f"{name}.yaml").read_text() == (ROOT / "hw_profiles" / f"{name}.yaml").read_text(), name


def test_bad_measurement_files_name_the_key(tmp_path):
    from dslsim.calibration.fit import load_measurements

    for edit, where in ((lambda s: s["systems"]["stm32u575"]["results"]["kws"].update(latency="fast"),
                         "systems.stm32u575.results.kws.latency"),
                        (lambda s: s["systems"]["stm32h7a3"]["results"].update(asr={"latency": "1 ms"}),
                         "systems.stm32h7a3.results.asr"),
                        (lambda s: s["systems"]["stm32u385"].update(clock="400 MHz"), "systems.stm32u385.clock"),
                        (lambda s: s["models"]["ad"].update(file="nowhere.tflite"), "models.ad.file")):
        spec = _shipped_spec()
        edit(spec)
        (tmp_path / "m.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        with pytest.raises(DslsimError, match=where.replace(".", r"\.")):
            load_measurements(tmp_path / "m.yaml")


# --- the front end as a stage --------------------------------------------------------------------------------------


def test_frontend_op_counts_by_hand():
    from dslsim.trace.frontend import frontend_stage

    sw = frontend_stage(16000, 320, decimation="software")
    # CIC: 2 additions x 4 orders x 320 x 64 PDM bits; FIR: 32 taps x 320 outputs.
    assert [op.macs for op in sw.ops] == [2 * 4 * 320 * 64, 32 * 320]
    mfcc = frontend_stage(16000, 16000, features="mfcc", feature_hop=320, n_fft=512, n_mels=40, n_mfcc=10)
    per_window = 512 + 2 * 512 * 9 + 2 * 257 + 2 * 257 + 40 + 40 * 10
    assert mfcc.macs == pytest.approx(16000 + 50 * per_window)
    assert [op.kind for op in mfcc.ops].count("fft") == 1


def test_frontend_is_a_placeable_stage(tmp_path):
    """Prepended to every path; placed on another core it costs there and its output crosses a link."""
    from dslsim.trace.frontend import frontend_stage, with_frontend

    base = make_trace(["light", "full"] * 5, frame_rate=10.0)
    fe = frontend_stage(32000, 320, decimation="software")
    t = with_frontend(base, fe)
    assert all(seq[0] == "frontend" for seq in t.meta.paths.values())
    profile = simple_profile()
    here = simulate(profile, t, parse_scenario({"placement": {"default": "a"}}, profile), baseline=False)
    there = simulate(profile, t, parse_scenario({"placement": {"default": "a", "frontend": "b"}}, profile),
                     baseline=False)
    # On 'a' (1 MAC/cycle at 100 MHz) the front end adds its ops' cycles to every frame's latency.
    plain = simulate(profile, base, parse_scenario({"placement": {"default": "a"}}, profile), baseline=False)
    assert (here.frames["latency_s"] - plain.frames["latency_s"]).to_numpy() == pytest.approx(fe.macs / 100e6)
    # On 'b' (also 1 MAC/cycle at 100 MHz), 'front' on 'a' then reads its own input (0 B in this trace) over
    # the a<->b link: the same compute time plus the link's 50 us latency, on every frame.
    extra = (there.frames["latency_s"] - plain.frames["latency_s"]).to_numpy()
    assert extra == pytest.approx(fe.macs / 100e6 + 50e-6)


def test_profile_sources_page_is_current(tmp_path):
    """docs/profile-sources.md lists every number of every shipped profile with a source or an assumption."""
    page = tmp_path / "sources.md"
    r = CliRunner().invoke(cli, ["profiles", "sources", "--markdown", str(page)])
    assert r.exit_code == 0, r.output
    text = page.read_text()
    assert text == (ROOT / "docs" / "profile-sources.md").read_text(), \
        "docs/profile-sources.md is stale: run `dslsim profiles sources --markdown docs/profile-sources.md`"
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| key")]
    assert rows and all(not line.endswith("|  |  |") for line in rows)


def test_audio_dsp_costs_ds_cnn_what_measured_silicon_costs():
    """The shipped audio DSP, built from GAP9's measured power and throughput, costs DS-CNN about what GAP9 measured
    (18.56 uJ per inference at 240 MHz, MLPerf Tiny v1.0), not the 1.2 pJ/MAC it used to."""
    from dslsim.trace.model_ops import read_model_ops
    from dslsim.hw.load import load_profile

    ops = read_model_ops(MODELS / "kws_ref_model.tflite")
    core = load_profile("earbud").cores["dsp"]
    clock = core.clock("low")
    st = Stage("kws", tuple(o for o in ops if o.kind in MAC_KINDS))
    cost = stage_cost(st, core, clock)
    seconds, joules = cost.seconds, cost.joules
    energy = joules + active_power(core, clock) * seconds
    assert seconds == pytest.approx(0.7322e-3, rel=0.05)
    assert energy == pytest.approx(18.561e-6, rel=0.05)
    assert energy / 2_656_768 > 5e-12                       # all-in pJ per MAC in the measured range (7-12 pJ)


# --- no figure that misleads -----------------------------------------------------------------------------------


def test_a_scenario_that_cannot_keep_up_gets_no_battery_life(tmp_path):
    """Core 'a' needs 10 ms per frame but frames come every 5 ms: busy 200 % of the time, the queue grows."""
    profile = simple_profile()
    trace = make_trace(["light"] * 50, frame_rate=200.0, stages={"front": stage("front", 1_000_000)},
                       paths={"light": ["front"]}, dense="light")
    r = simulate(profile, trace, parse_scenario({"placement": {"default": "a"}}, profile), baseline=False)
    s = r.summary
    assert not s["keeps_up"] and s["busiest_resource"] == "a"
    assert s["max_utilization"] == pytest.approx(50 * 10e-3 / trace.duration, rel=1e-9)   # 2.0
    assert np.isnan(s["battery_life_h"]) and s["battery_life_drained_h"] > 0
    assert any("cannot keep up" in w for w in r.warnings)
    # Dropping instead of queueing keeps the queue stable, but a dropped frame misses its deadline: half of them
    # dropped is far over the 1 % allowed, so no battery life unless the allowance covers them.
    drop = parse_scenario({"placement": {"default": "a"}, "when_busy": "drop"}, profile)
    d = simulate(profile, trace, drop, baseline=False).summary
    assert d.queue_stable and d.dropped > 0 and not d.keeps_up and np.isnan(d.battery_life_h)
    d = simulate(profile, trace, drop, baseline=False, max_miss_rate=1.0).summary
    assert d.keeps_up and np.isfinite(d.battery_life_h)


def test_cli_exits_4_on_backlog_unless_allowed(tmp_path):
    from dslsim.trace.io import write_trace

    trace = make_trace(["light"] * 50, frame_rate=200.0, stages={"front": stage("front", 1_000_000)},
                       paths={"light": ["front"]}, dense="light")
    write_trace(trace, tmp_path / "t.parquet")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(SIMPLE))
    runner = CliRunner()
    args = ["simulate", "-p", str(tmp_path / "p.yaml"), "-t", str(tmp_path / "t.parquet"), "--no-baseline"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 4 and "cannot keep up" in r.output and "battery life        none" in r.output
    assert runner.invoke(cli, args + ["--allow-backlog"]).exit_code == 0


def test_idle_cores_without_sleep_policy_are_named_and_when_busy_takes_links():
    profile = simple_profile()
    scn = parse_scenario({"placement": {"default": "a"}, "when_busy": {"default": "queue", "a<->b": "drop"}},
                         profile)
    assert scn.busy_policy("a<->b") == "drop"
    r = simulate(profile, make_trace(["light"] * 4), scn, baseline=False)
    named = [w for w in r.warnings if "no sleep policy" in w]
    # 'a' runs frames and idles in between; 'b' is never used: both idle clocked (1 + 1 mW and 2 + 2 mW).
    assert any("core 'a'" in w for w in named) and any("core 'b'" in w and "4.000 mW" in w for w in named)
