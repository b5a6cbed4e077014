"""The floors and parts per MHz `dslsim calibrate` fits to a datasheet's Run and Sleep current tables, and the run
currents it writes, go through the plausibility table (:mod:`dslsim.plausible`): impossible ones are refused naming
the file, the table, the range and the figure; implausible ones are written with one warning each.

The tables here are made by hand for one voltage range (range1 of the STM32U575 profile: 1.21 V, up to 160 MHz,
through an SMPS), so each fitted line is the straight line through the rows and every expected figure follows by
hand from the rows: the KWS measurement used (664.4239 uJ in 28.99 ms) is 22.919 mW, 12.733 mA at the tables' 1.8 V.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dslsim.calibration.fit import calibrated_profile_data, fit, load_measurements
from dslsim.cli.main import cli
from dslsim.errors import InputError
from dslsim.plausible import PlausibilityWarning, check

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "dslsim" / "data" / "validation"
CLOCKS = (40, 80, 160)                     # MHz, all in range 1 (up to 160 MHz)


def rows(floor_ma: float, per_mhz_ua: float, unit: str = "mA") -> list[dict]:
    """Rows on the line floor + per_mhz x f at :data:`CLOCKS`, their numbers in mA followed by ``unit`` (mA, or A
    for a unit slip: the same numbers, 1000x the current)."""
    return [{"range": 1, "clock": f"{f} MHz", "typ": f"{floor_ma + per_mhz_ua * f / 1e3:.6g} {unit}"}
            for f in CLOCKS]


GOOD_RUN = rows(0.5, 40.0)                 # 0.5 mA + 40 uA/MHz: 2.1, 3.7, 6.9 mA
GOOD_SLEEP = rows(0.3, 10.0)               # 0.3 mA + 10 uA/MHz: 0.7, 1.1, 1.9 mA


def write_bench(tmp_path: Path, run: list[dict], sleep: list[dict], energy_uj: float = 664.4239) -> Path:
    """A measurement file (one model, one system) picking a hand-made datasheet of one Run and one Sleep table."""
    sheet = {"board": "hand-made", "datasheet": {"id": "DS-HAND", "revision": "1"},
             "tables": {"run": [{"source": "DS-HAND, Table 1. Run mode", "points": run}],
                        "sleep": [{"source": "DS-HAND, Table 2. Sleep mode", "points": sleep}]}}
    (tmp_path / "sheet.yaml").write_text(yaml.safe_dump(sheet, sort_keys=False))
    shipped = yaml.safe_load((VALIDATION / "mlperf-tiny.yaml").read_text())
    kws = dict(shipped["models"]["kws"], file=str(VALIDATION / shipped["models"]["kws"]["file"]))
    bench = {"name": "hand", "models": {"kws": kws},
             "systems": {"u575": {
                 "profile": str(ROOT / "hw_profiles" / "stm32u575.yaml"), "core": "mcu", "clock": "160 MHz",
                 "datasheet": {"file": "sheet.yaml", "run": "Table 1", "sleep": "Table 2", "column": "typ",
                               "supply": {"voltage": "1.8 V", "regulator": "smps"}, "ranges": {"1": "range1"}},
                 "results": {"kws": {"latency": "28.99 ms", "energy": f"{energy_uj} uJ"}}}}}
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    return path


def calibrate(path: Path) -> tuple[dict, list[str]]:
    """The calibrated profile document of the system, and the plausibility warnings said on the way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PlausibilityWarning)
        data = load_measurements(path)
        doc = calibrated_profile_data(data, fit(data), "u575")
    return doc, [str(w.message) for w in caught if issubclass(w.category, PlausibilityWarning)]


def opp(doc: dict, name: str) -> dict:
    return next(p for p in doc["cores"]["mcu"]["opps"] if p["name"] == name)


def test_a_sound_table_is_written_as_fitted_without_a_word(tmp_path):
    doc, said = calibrate(write_bench(tmp_path, GOOD_RUN, GOOD_SLEEP))
    assert said == []
    r1 = opp(doc, "range1")
    assert r1["base_current"]["value"] == "500.0 uA" and r1["idle_base_current"]["value"] == "300.0 uA"
    assert r1["idle_current"]["value"] == "10.0 uA/MHz"
    # The Run part per MHz times the network's factor: (12.733 mA - 0.5 mA) / (40 uA/MHz x 160 MHz) = 1.9114.
    assert float(r1["run_current"]["value"].split()[0]) == pytest.approx(40 * 1.91137, rel=1e-4)


def test_a_run_table_whose_current_does_not_grow_with_the_clock_is_refused(tmp_path):
    """3 mA at every clock: no part per MHz (a column copied down the table?). It used to end in a division by
    zero (an internal error); now the table file, the table, the range and the figure are named."""
    bench = write_bench(tmp_path, rows(3.0, 0.0), GOOD_SLEEP)
    with pytest.raises(InputError) as err:
        load_measurements(bench)
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'sheet.yaml'}: tables.run[0] (Table 1), range '1' (range1): the part per MHz:")
    assert "found 0 uA/MHz (fitted on its rows at 40, 80, 160 MHz" in text and "above 0 uA/MHz" in text
    r = CliRunner().invoke(cli, ["calibrate", str(bench), "--out-dir", str(tmp_path / "out")])
    assert r.exit_code == 2 and "Traceback" not in r.output and "internal error" not in r.output, r.output
    assert "error: " in r.output and "tables.run[0] (Table 1)" in r.output and not (tmp_path / "out").exists()


def test_a_sleep_table_in_amperes_is_written_with_a_warning_for_each_figure(tmp_path):
    """The Sleep rows written in A where the datasheet says mA: 1000x, a 300 mA floor (over 50 mA) and 10,000
    uA/MHz (over 5000). Possible, so written, but each said once, naming the table and the range."""
    doc, said = calibrate(write_bench(tmp_path, GOOD_RUN, rows(0.3, 10.0, unit="A")))
    sheet = tmp_path / "sheet.yaml"
    floor = [s for s in said if s.startswith(f"{sheet}: tables.sleep[0] (Table 2), range '1' (range1): the floor:")]
    slope = [s for s in said if s.startswith(f"{sheet}: tables.sleep[0] (Table 2), range '1' (range1): the part per")]
    assert len(floor) == 1 and "300 mA" in floor[0] and "0 to 50 mA" in floor[0]
    assert len(slope) == 1 and "1e+04 uA/MHz" in slope[0] and "0 to 5000 uA/MHz" in slope[0]
    assert not [s for s in said if "tables.run" in s]
    assert opp(doc, "range1")["idle_base_current"]["value"] == "300000.0 uA"


def test_a_run_table_that_barely_grows_with_the_clock_is_warned(tmp_path):
    """0.01 mA more per 40 MHz: 0.25 uA/MHz, below the 1 uA/MHz of the most frugal published core."""
    _, said = calibrate(write_bench(tmp_path, rows(2.99, 0.25), GOOD_SLEEP))
    assert len(said) == 1 and "tables.run[0] (Table 1), range '1' (range1): the part per MHz" in said[0]
    assert "0.25 uA/MHz" in said[0] and "1 to 5000 uA/MHz" in said[0]


def test_a_line_that_would_cross_zero_gets_a_floor_of_zero_not_a_refusal(tmp_path):
    """4 mA at 100 MHz and 7 mA at 160 MHz lie on a line through -1 mA at 0 Hz: the fit keeps floors at or above
    zero (no board gives current back), so range 1 gets a floor of 0 and the slope that fits both rows best."""
    run = [{"range": 1, "clock": "100 MHz", "typ": "4 mA"}, {"range": 1, "clock": "160 MHz", "typ": "7 mA"}]
    doc, said = calibrate(write_bench(tmp_path, run, GOOD_SLEEP))
    assert said == [] and opp(doc, "range1")["base_current"]["value"] == "0.0 uA"


def test_a_written_run_current_scaled_past_the_range_is_warned_for_each_operating_point(tmp_path):
    """A network measured at 100x the power (an energy in the wrong unit): 2291.9 mW, 1273.29 mA at 1.8 V; the
    factor over the datasheet code is (1273.29 - 0.5) mA / (40 uA/MHz x 160 MHz) = 198.87, so range1 gets
    40 x 198.87 = 7955 uA/MHz, and the ranges without a table that much x (V / 1.21 V)^2: range2 (1.1 V) 6574,
    range3 (1.0 V) 5433 -- over 5000, warned -- and range4 (0.9 V) 4401, not."""
    bench = write_bench(tmp_path, GOOD_RUN, GOOD_SLEEP, energy_uj=66442.39)
    _, said = calibrate(bench)
    written = {name: [s for s in said if s.startswith(f"{bench}: systems.u575: operating point '{name}', run_current")]
               for name in ("range1", "range2", "range3", "range4")}
    assert len(written["range1"]) == 1 and "7955 uA/MHz" in written["range1"][0]
    assert len(written["range2"]) == 1 and "6574 uA/MHz" in written["range2"][0]
    assert len(written["range3"]) == 1 and "5433 uA/MHz" in written["range3"][0]
    assert written["range4"] == []


def test_a_profile_floor_above_the_measured_current_is_refused(tmp_path):
    """Without a datasheet the run current per MHz is the measured power per MHz less the profile's floor: a floor
    of 100 mA against 12.7 mA measured leaves a negative current, which would have been written."""
    profile = yaml.safe_load((ROOT / "hw_profiles" / "stm32u575.yaml").read_text())
    opp(profile, "range1")["base_current"] = "100 mA"
    (tmp_path / "u575.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    bench = write_bench(tmp_path, GOOD_RUN, GOOD_SLEEP)
    doc = yaml.safe_load(bench.read_text())
    system = doc["systems"]["u575"]
    del system["datasheet"]
    system["profile"] = "u575.yaml"
    bench.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(InputError) as err:
        calibrate(bench)
    text = str(err.value)
    assert text.startswith(f"{bench}: systems.u575: found -")
    assert "less the floor of operating point 'range1' of u575.yaml, 1e+05 uA" in text and "above 0 uA/MHz" in text


@pytest.mark.parametrize("key, value, expected", [
    ("floor_current", -1e-4, "at least 0 mA"),               # a floor below zero: a line extrapolated past 0 Hz
    ("run_current_per_mhz", -4e-11, "above 0 uA/MHz"),       # a Run current that falls as the clock rises
    ("idle_current_per_mhz", -1e-12, "at least 0 uA/MHz"),   # a Sleep part per MHz below zero
])
def test_negative_floors_and_slopes_are_impossible(key, value, expected):
    """The fit cannot give these (its floors and slopes are not negative), but the ranges refuse them wherever they
    come from."""
    with pytest.raises(InputError, match=expected):
        check(key, value, "sheet.yaml", "tables.run[0] (Table 1), range '1' (range1): the floor")


def test_zero_floor_and_sleep_slope_are_possible():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        assert check("floor_current", 0.0, "sheet.yaml", "k") == 0.0
        assert check("idle_current_per_mhz", 0.0, "sheet.yaml", "k") == 0.0
