"""dslsim compare-measured: bench CSVs made from a simulation with a known gain, noise and clock offset, written as
the tools export them (PPK2, Otii-style, Joulescope), must give back that offset (within one sample) and that gain
(+5 %); every bad file is refused naming the file and the column, exit 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.hw.load import load_profile
from dslsim.report.measured import compare_measured, read_measurement
from dslsim.sim.run import simulate
from dslsim.trace.io import write_trace
from dslsim.trace.synth import synth_trace

GAIN = 1.05          # the "device" draws 5 % more than simulated, on every core and the floor alike
OFFSET_PPK = 0.0123  # measured time = simulated time + 12.3 ms
PPK_STEP = 50e-6     # 20 kHz (a PPK2 samples at 100 kHz; fewer rows keep the test fast, the search is the same)
OTII_STEP = 200e-6   # 5 kHz
OFFSET_OTII = -3.0 + 0.0123  # the recording's clock starts 2.9877 s into the trace
NOISE_A = 1e-4       # white noise, 0.1 mA rms (the mean current is about 2 mA)
RAIL_V = 1.8


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A 20 s trace, its simulation on the earbud, and a truth function: the energy drawn up to simulated time tau,
    integrated here straight from the simulation's state intervals (cores, links) plus the profile's floor."""
    folder = tmp_path_factory.mktemp("measured")
    trace = synth_trace(20.0, frame_rate=50.0, seed=3, width=8, embed_dim=32)
    trace_file = write_trace(trace, folder / "t.parquet")
    profile = load_profile("earbud")
    result = simulate(profile, trace, window=(0.0, trace.duration), baseline=False)
    timeline = result.timeline

    def energy(tau: np.ndarray) -> np.ndarray:
        total = profile.floor_power * tau
        for _, g in timeline.groupby("resource"):
            start, end, watts = (g[c].to_numpy() for c in ("start_s", "end_s", "power_W"))
            total = total + np.interp(tau, np.r_[start[0], end], np.r_[0.0, np.cumsum(watts * (end - start))])
        return total

    def true_power(t: np.ndarray, step: float, offset: float) -> np.ndarray:
        """Mean simulated power over each sample [t, t + step) of the measurement's clock."""
        return np.diff(energy(np.r_[t, t[-1] + step] - offset)) / step

    return {"folder": folder, "trace": trace, "trace_file": trace_file, "profile": profile, "result": result,
            "true_power": true_power}


def _ppk2(bench, name: str = "ppk.csv", ppm: float = 0.0) -> tuple[Path, np.ndarray]:
    """A PPK2 export; with ``ppm`` its clock runs that much faster than the device's (a drift)."""
    rng = np.random.default_rng(1)
    t = np.arange(0.0, 15.0, PPK_STEP)
    power = bench["true_power"](t / (1 + 1e-6 * ppm), PPK_STEP / (1 + 1e-6 * ppm), OFFSET_PPK)
    current = GAIN * power / RAIL_V + rng.normal(0.0, NOISE_A, len(t))
    path = bench["folder"] / name
    with open(path, "w") as fh:
        fh.write("Timestamp(ms),Current(uA),D0-D7\n")
        np.savetxt(fh, np.c_[1e3 * t, 1e6 * current], fmt=["%.3f", "%.3f"], delimiter=",", newline=",00000000\n")
    return path, current


@pytest.fixture(scope="module")
def ppk2(bench):
    return _ppk2(bench)


@pytest.fixture(scope="module")
def otii(bench):
    rng = np.random.default_rng(2)
    t = np.arange(0.0, 12.0, OTII_STEP)
    volts = 3.3 + rng.normal(0.0, 1e-3, len(t))
    current = GAIN * bench["true_power"](t, OTII_STEP, OFFSET_OTII) / volts + rng.normal(0.0, NOISE_A, len(t))
    path = bench["folder"] / "otii.csv"
    with open(path, "w") as fh:
        fh.write("Timestamp (s),Main current (A),Main voltage (V)\n")
        np.savetxt(fh, np.c_[t, current, volts], fmt=["%.6f", "%.9e", "%.5f"], delimiter=",")
    return path, current, volts


def cli_run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_ppk2_gives_back_the_offset_and_the_gain(bench, ppk2):
    path, current = ppk2
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", bench["trace_file"], "--voltage", "1.8 V", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["measurement"]["tool"] == "PPK2" and doc["measurement"]["ignored_columns"] == ["D0-D7"]
    assert abs(doc["alignment"]["offset_s"] - OFFSET_PPK) <= PPK_STEP          # within one sample
    assert doc["alignment"]["found"] and not doc["alignment"]["ambiguous"]
    # +5 % within 0.2 points: the noise averages to ~1e-5 of the mean over 300,000 samples; the rest is the
    # sample-edge error of an offset found to a fraction of a sample.
    assert doc["mean_current_A"]["difference_pct"] == pytest.approx(5.0, abs=0.2)
    assert doc["mean_power_W"]["difference_pct"] == pytest.approx(5.0, abs=0.2)
    assert doc["energy_per_window_J"]["difference_mean_pct"] == pytest.approx(5.0, abs=0.2)
    for row in doc["by_path"]:  # the gain holds frame by frame, on either path
        assert row["difference_pct"] == pytest.approx(5.0, abs=0.3)
    assert doc["fit"]["slope"] == pytest.approx(GAIN, abs=0.005)
    # The measured mean is the generated current's own mean over the compared span.
    t = np.arange(0.0, 15.0, PPK_STEP)
    lo, hi = doc["span_s"]
    inside = (t >= lo - 1e-9) & (t + PPK_STEP <= hi + 1e-9)
    assert doc["mean_current_A"]["measured"] == pytest.approx(current[inside].mean(), rel=1e-4)
    # 20 ms windows inside the compared ~14.99 s
    assert doc["window_s"] == pytest.approx(0.02) and doc["windows"] in (748, 749)


def test_a_drifting_clock_is_found_and_taken_out(bench):
    """The bench clock 200 ppm fast: over 15 s the frames slip 3 ms, more than a burst of work lasts."""
    path, _ = _ppk2(bench, "drift.csv", ppm=200.0)
    c = compare_measured(read_measurement(path), bench["result"], bench["profile"], bench["trace"], voltage=RAIL_V)
    assert c.clock_source == "found" and c.clock_ppm == pytest.approx(200.0, abs=5.0)
    assert abs(c.alignment.offset_s - OFFSET_PPK / (1 + 200e-6)) <= PPK_STEP
    assert c.power_difference_pct == pytest.approx(5.0, abs=0.2)
    assert c.window_difference_pct["median"] == pytest.approx(5.0, abs=0.2)   # windows line up again
    assert any("+199" in w or "+200" in w for w in c.warnings)
    # Told there is no drift, the ends slip and the comparison says by how much.
    fixed = compare_measured(read_measurement(path), bench["result"], bench["profile"], bench["trace"],
                             voltage=RAIL_V, offset=OFFSET_PPK + 7.5 * 200e-6, clock_ppm=0.0)  # right mid-recording
    assert fixed.drift.ppm == pytest.approx(200.0, abs=20.0)
    assert any("drift apart" in w and "--clock-ppm" in w for w in fixed.warnings)


def test_otii_with_its_voltage_column(bench, otii):
    path, current, volts = otii
    m = read_measurement(path)
    assert m.tool == "Otii" and m.units == {"time": "s", "current": "A", "voltage": "V"}
    c = compare_measured(m, bench["result"], bench["profile"], bench["trace"])
    assert abs(c.alignment.offset_s - OFFSET_OTII) <= OTII_STEP
    assert c.current_difference_pct == pytest.approx(5.0, abs=0.2)
    assert c.power_difference_pct == pytest.approx(5.0, abs=0.2)
    assert c.voltage_V == pytest.approx(3.3, abs=1e-3) and "Main voltage (V)" in c.voltage_source


def test_given_offset_floor_and_measurement_point(bench, ppk2):
    path, _ = ppk2
    m = read_measurement(path)
    profile, result, trace = bench["profile"], bench["result"], bench["trace"]
    base = compare_measured(m, result, profile, trace, voltage=RAIL_V, offset=OFFSET_PPK)
    assert not base.alignment.found and base.alignment.offset_s == OFFSET_PPK
    assert base.power_difference_pct == pytest.approx(5.0, abs=0.2)
    # Without the floor the simulated mean drops by the profile's floor (microphone 1.17 mW + PMIC 0.23 uW).
    bare = compare_measured(m, result, profile, trace, voltage=RAIL_V, offset=OFFSET_PPK, include_floor=False)
    assert base.mean_power_W[1] - bare.mean_power_W[1] == pytest.approx(1.17e-3 + 0.23e-6, rel=1e-9)
    # At the battery the same draw passes the 85 % converter (earbud.yaml: converter_efficiency 0.85).
    battery = compare_measured(m, result, profile, trace, voltage=RAIL_V, offset=OFFSET_PPK, side="battery")
    assert battery.mean_power_W[1] == pytest.approx(base.mean_power_W[1] / 0.85, rel=1e-9)


def test_joulescope_export_without_header_needs_the_names(bench, tmp_path):
    t = np.arange(0.0, 10.0, 1e-4)
    current = bench["true_power"](t, 1e-4, 0.5) / RAIL_V
    path = tmp_path / "js.csv"
    np.savetxt(path, np.c_[t, current, np.full(len(t), RAIL_V)], fmt="%.9g", delimiter=",")
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", bench["trace_file"])
    assert r.exit_code == 2 and str(path) in r.stderr and "--header" in r.stderr
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", bench["trace_file"], "--json",
                "--header", "time (s),current (A),voltage (V)")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert abs(doc["alignment"]["offset_s"] - 0.5) <= 1e-4
    assert doc["mean_power_W"]["difference_pct"] == pytest.approx(0.0, abs=0.1)
    # The statistics CSV's bare names are SI.
    stats = tmp_path / "js-stats.csv"
    stats.write_text("#time,current,voltage,power,charge,energy\n" + "".join(
        f"{0.5 * i},{0.0004 + 1e-6 * i},3.3,0,0,0\n" for i in range(12)))
    m = read_measurement(stats)
    assert m.tool == "Joulescope" and m.ignored == ("power", "charge", "energy")
    assert m.current_A[2] == pytest.approx(0.000402) and m.sample_period_s == pytest.approx(0.5)


def test_reader_units_and_encodings(tmp_path):
    path = tmp_path / "win.csv"
    path.write_bytes(b"Time [us];Current [\xb5A]\r\n" + b"".join(b"%d;%d\r\n" % (10 * i, 5 + i) for i in range(12)))
    m = read_measurement(path)     # cp1252 'µ', semicolons, brackets, CRLF
    assert m.units == {"time": "us", "current": "\u00b5A"}
    assert m.time_s[1] == pytest.approx(10e-6) and m.current_A[1] == pytest.approx(6e-6)
    cells = tmp_path / "cells.csv"  # values carrying their own (consistent) unit
    cells.write_text("time (ms),current\n" + "".join(f"{i},{2 + i} mA\n" for i in range(12)))
    assert read_measurement(cells).current_A[3] == pytest.approx(5e-3)


def _bad(tmp_path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


ROWS = "".join(f"{0.01 * i:.2f},{100 + i}\n" for i in range(20))
BAD = {
    "no-time": ("Current(uA),Voltage(V)\n" + "".join(f"{100 + i},1.8\n" for i in range(20)),
                ["no time column", "'Current(uA)'"]),
    "non-numeric": ("Timestamp(ms),Current(uA)\n" + ROWS.replace("0.05,105", "0.05,abc"),
                    ["column 'Current(uA)'", "line 7", "'abc' is not a number"]),
    "backwards": ("Timestamp(ms),Current(uA)\n" + ROWS.replace("0.05,105", "0.03,105"),
                  ["column 'Timestamp(ms)'", "line 7", "time goes backwards"]),
    "repeats": ("Timestamp(ms),Current(uA)\n" + ROWS.replace("0.05,105", "0.04,105"),
                ["column 'Timestamp(ms)'", "line 7", "time repeats"]),
    "mixed-units": ("Time (s),Current (mA)\n" + "".join(f"{i},{i + 1} mA\n" for i in range(12)) + "12,3 uA\n",
                    ["column 'Current (mA)'", "mixed units", "'mA'", "line 14 says 'uA'"]),
    "mixed-cells": ("time (s),current\n1,3 mA\n" + "".join(f"{i},{i + 1} uA\n" for i in range(2, 14)),
                    ["column 'current'", "mixed units", "'mA'", "'uA'"]),
    "unknown-unit": ("Timestamp(ms),Current(kA)\n" + ROWS, ["column 'Current(kA)'", "unit 'kA'"]),
    "no-unit": ("Timestamp,Current(uA)\n" + ROWS, ["column 'Timestamp'", "no unit"]),
    "empty-value": ("Timestamp(ms),Current(uA)\n" + ROWS.replace("0.05,105", "0.05,"),
                    ["column 'Current(uA)'", "line 7", "empty"]),
    "two-currents": ("Timestamp(ms),Current(uA),Current(mA)\n" + ROWS.replace("\n", ",0.1\n"),
                     ["2 current columns", "--column current="]),
    "empty": ("", ["is empty"]),
    "header-only": ("Timestamp(ms),Current(uA)\n", ["no samples"]),
    "too-few": ("Timestamp(ms),Current(uA)\n0,1\n0.01,2\n", ["2 samples", "at least 10"]),
    "binary": (b"PK\x03\x04\x00\x00binary", ["binary data", "export it as CSV"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_is_refused_naming_file_and_column(bench, tmp_path, case):
    text, expected = BAD[case]
    path = _bad(tmp_path, f"{case}.csv", text)
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", bench["trace_file"], "--voltage", "1.8")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    assert r.stderr.startswith(f"error: {path}: ")
    for part in expected:
        assert part in r.stderr, (part, r.stderr)


def test_bad_paths_and_options(bench, ppk2, tmp_path):
    trace = bench["trace_file"]
    r = cli_run("compare-measured", tmp_path, "-p", "earbud", "-t", trace, "--voltage", "1.8")
    assert r.exit_code == 2 and "is a folder" in r.stderr
    r = cli_run("compare-measured", tmp_path / "nope.csv", "-p", "earbud", "-t", trace, "--voltage", "1.8")
    assert r.exit_code == 2 and "no such file" in r.stderr
    path, _ = ppk2
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", trace, "--max-mb", "1")
    assert r.exit_code == 2 and str(path) in r.stderr and "at most 1 MiB" in r.stderr
    small = _bad(tmp_path, "small.csv", "Timestamp(ms),Current(uA)\n" + ROWS)
    r = cli_run("compare-measured", small, "-p", "earbud", "-t", trace)  # PPK2 has no voltage column
    assert r.exit_code == 2 and str(small) in r.stderr and "--voltage" in r.stderr and "1.8 V" in r.stderr
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", trace, "--voltage", "1.8", "--offset", "30 s")
    assert r.exit_code == 2 and "do not overlap" in r.stderr


def test_a_periodic_workload_is_flagged_ambiguous(bench, tmp_path):
    """Every frame on one path: the power repeats every frame period, so one period either way fits as well, and
    the comparison says so instead of trusting the first peak."""
    from dslsim.report.measured.compare import simulated_power
    from dslsim.trace.schema import Trace

    trace = bench["trace"]
    frames = trace.frames.copy()
    frames["path"] = frames["path"].where(frames["path"] == "light", "light")
    flat = Trace(trace.meta, frames)
    result = simulate(bench["profile"], flat, window=(0.0, flat.duration), baseline=False)
    t = np.arange(0.0, 8.0, 1e-4)
    steps = simulated_power(result, bench["profile"]).steps
    current = steps.grid(0.5, 1e-4, len(t)) / RAIL_V + np.random.default_rng(4).normal(0.0, NOISE_A, len(t))
    path = tmp_path / "flat.csv"
    np.savetxt(path, np.c_[t, current], fmt="%.9g", delimiter=",", header="time (s),current (A)", comments="#")
    c = compare_measured(read_measurement(path), result, bench["profile"], flat, voltage=RAIL_V)
    assert c.alignment.ambiguous and any("not clear-cut" in w for w in c.warnings)


def test_html_and_csv_outputs(bench, ppk2, tmp_path):
    path, _ = ppk2
    html, prefix = tmp_path / "m.html", tmp_path / "out" / "m"
    r = cli_run("compare-measured", path, "-p", "earbud", "-t", bench["trace_file"], "--voltage", "1.8",
                "--html", html, "--data-dir", tmp_path / "data", "--csv", prefix)
    assert r.exit_code == 0, r.output
    import re

    found = re.search(r"offset +([-+][\d.]+) ms, found by cross-correlation", r.stdout)
    assert found and abs(float(found.group(1)) - 1e3 * OFFSET_PPK) <= 1e3 * PPK_STEP
    assert "mean current" in r.stdout and "fit" in r.stdout
    page = html.read_text()
    assert page.count("<img") == 2 and "data-images-loaded" in page and "above the simulation" in page
    assert {p.name for p in (tmp_path / "data").iterdir()} >= {"power_over_time.png", "power_over_time.csv",
                                                               "energy_per_window.png", "summary.csv"}
    import pandas as pd

    windows = pd.read_csv(f"{prefix}-windows.csv")
    assert set(windows["path"].dropna()) <= {"light", "full"} and len(windows) in (748, 749)
    assert (windows["measured_J"] / windows["simulated_J"]).median() == pytest.approx(GAIN, abs=0.003)
    summary = pd.read_csv(f"{prefix}-summary.csv")
    assert summary.loc[summary["figure"] == "mean current", "difference_pct"].item() == pytest.approx(5.0, abs=0.2)
    assert Path(f"{prefix}-overview.csv").is_file() and Path(f"{prefix}-detail.csv").is_file()
