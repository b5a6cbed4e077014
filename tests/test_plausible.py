"""Plausibility: numbers that parse but cannot be right are refused with the limit and why, numbers that can be
right but rarely are get one warning with the range and its source; the shipped profiles raise neither."""

from __future__ import annotations

import copy
import warnings

import pytest
import yaml
from click.testing import CliRunner

from conftest import SIMPLE
from dslsim.cli.main import cli
from dslsim.errors import InputError
from dslsim.hw.load import load_profile, parse_profile
from dslsim.plausible import RANGES, PlausibilityWarning, check
from dslsim.shipped import shipped_profiles


def test_every_range_has_a_source_and_ordered_bounds():
    for key, rng in RANGES.items():
        assert len(rng.source) > 40, key
        lo = rng.low if rng.low is not None else -float("inf")
        hi = rng.high if rng.high is not None else float("inf")
        assert lo < hi, key
        if rng.possible_low is not None:
            assert rng.possible_low <= lo and rng.why_impossible, key
        if rng.possible_high is not None:
            assert rng.possible_high >= hi and rng.why_impossible, key


@pytest.mark.parametrize("name", sorted(shipped_profiles()))
def test_shipped_profiles_are_plausible(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        load_profile(name)


def test_check_refuses_the_impossible_and_warns_the_implausible():
    # 0.0017 cycles/MAC: 590 MACs per cycle on a microcontroller (a 160 kHz clock for 160 MHz).
    with pytest.raises(InputError, match=r"m\.yaml: systems\.u5: found 0\.0017 cycles/MAC.*above 1/32"):
        check("cycles_per_mac.mcu", 0.0017, "m.yaml", "systems.u5")
    with pytest.warns(PlausibilityWarning, match=r"0\.05 cycles/MAC is outside .* 0\.1 to 50 cycles/MAC .*Helium"):
        assert check("cycles_per_mac.mcu", 0.05, "p.yaml", "cores.m.ops.conv2d.cycles_per_mac") == 0.05
    with pytest.raises(InputError, match="a finite"):
        check("c_rate", float("nan"), "c.yaml", "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check("android_current_ma", 0.0, "a.xml", "cpu.idle") == 0.0     # zero is a current
    with pytest.raises(InputError, match="at least 0 mA"):
        check("android_current_ma", -1.0, "a.xml", "cpu.idle")


def _profile(mutate) -> dict:
    doc = copy.deepcopy(SIMPLE)
    mutate(doc)
    return doc


def _ldo(doc, core_volts="1 V", rail="0.9 V"):
    doc["cores"]["a"]["supply"] = {"voltage": rail, "regulator": "ldo"}
    doc["cores"]["a"]["opps"][1]["voltage"] = core_volts


def test_an_ldo_whose_output_is_above_its_input_is_refused():
    """Core at 1 V from a 0.9 V rail through an LDO: the cost model took its efficiency as min(1, 1/0.9) = 1, a
    regulator that raises voltage for free."""
    with pytest.raises(InputError, match=r"dev\.yaml: cores\.a\.opps\[1\]\.voltage: found 1 V, above the LDO's input "
                                         r"0\.9 V \(cores\.a\.supply\.voltage\)"):
        parse_profile(_profile(_ldo), "dev.yaml")
    ok = parse_profile(_profile(lambda d: _ldo(d, rail="1.8 V")), "dev.yaml")
    assert ok.cores["a"].supply.voltage == 1.8


@pytest.mark.parametrize("mutate, path, needle", [
    (lambda d: d["cores"]["a"]["ops"].update(default={"macs_per_cycle": 5000, "energy_per_mac": "1 pJ"}),
     "cores.a.ops.default.macs_per_cycle", "above 1/2048"),            # a DSP at 5000 MACs per cycle
    (lambda d: d["cores"]["b"]["ops"].update(conv1d={"cycles_per_mac": 1e-5}),
     "cores.b.ops.conv1d.cycles_per_mac", "above 1/4096"),             # a CPU at 100,000 MACs per cycle
])
def test_impossible_cycle_costs_in_a_profile_are_refused(mutate, path, needle):
    with pytest.raises(InputError, match=needle) as err:
        parse_profile(_profile(mutate), "dev.yaml")
    assert f"dev.yaml: {path}" in str(err.value)


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["battery"].update(capacity="200 Ah"), "battery.capacity: 2e\\+05 mAh"),
    (lambda d: d["battery"].update(converter_efficiency=0.2), "battery.converter_efficiency: 0.2 is outside"),
    (lambda d: d["battery"].update(kinetic={"c": 0.5, "k": "1e-9 Hz"}), "battery.kinetic.k: 1e-09 1/s"),
    (lambda d: d["cores"]["a"]["ops"].update(default={"macs_per_cycle": 1000, "energy_per_mac": "1 pJ"}),
     "cores.a.ops.default.macs_per_cycle: 0.001 cycles/MAC"),
])
def test_implausible_profile_numbers_load_with_one_warning(mutate, needle):
    with pytest.warns(PlausibilityWarning, match=needle):
        parse_profile(_profile(mutate), "dev.yaml")


def test_the_cli_prints_a_plausibility_warning_once_as_one_line(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text(yaml.safe_dump(_profile(lambda d: d["battery"].update(capacity="200 Ah"))))
    r = CliRunner().invoke(cli, ["profiles", "validate", "--allow-unsourced", str(path), str(path)])
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "5 to 20000 mAh" in lines[0] and "PlausibilityWarning" not in r.output


def _measurements(tmp_path, edit) -> "Path":
    """The shipped MLPerf Tiny measurement file with absolute paths, edited."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = root / "dslsim" / "data" / "validation"
    spec = yaml.safe_load((folder / "mlperf-tiny.yaml").read_text())
    for model in spec["models"].values():
        model["file"] = str(folder / model["file"])
    for name, system in spec["systems"].items():
        system["profile"] = str(root / "hw_profiles" / f"{name}.yaml")
        if "datasheet" in system:
            system["datasheet"]["file"] = str(folder / system["datasheet"]["file"])
    edit(spec)
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_calibrate_refuses_a_fit_no_microcontroller_could_run(tmp_path):
    """'160 kHz' for 160 MHz: the measured latencies then say 1000x fewer cycles, 0.0012 cycles per MAC (over 800
    MACs per cycle on a Cortex-M33); refused with the file, the system and the clock, and nothing written."""
    bench = _measurements(tmp_path, lambda s: s["systems"]["stm32u575"].update(clock="160 kHz"))
    out = tmp_path / "profiles"
    r = CliRunner().invoke(cli, ["calibrate", str(bench), "--out-dir", str(out)])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert f"{bench}: systems.stm32u575: found 0.00122" in r.output and "systems.stm32u575.clock = 0.16 MHz" in r.output
    assert "above 1/32 cycles/MAC" in r.output and not out.exists()


def test_calibrating_the_shipped_measurements_raises_no_plausibility_warning(tmp_path):
    r = CliRunner().invoke(cli, ["calibrate", str(_measurements(tmp_path, lambda s: None))])
    assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_the_documented_table_is_the_table():
    """docs/input-safety.md shows the ranges dslsim checks, not an older copy of them."""
    from pathlib import Path

    from dslsim.plausible import table_markdown

    page = (Path(__file__).resolve().parents[1] / "docs" / "input-safety.md").read_text()
    assert table_markdown() in page, "docs/input-safety.md is stale: paste `python -m dslsim.plausible` into it"
