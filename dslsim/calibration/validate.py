"""Validate the device model against measured silicon: leave one benchmark out, calibrate on the rest, simulate
the one left out on every system, compare with what was measured; and leave one clock out of the datasheets'
current tables, the check of what users change.

The prediction goes through the whole simulator (profile parsing, scenario clock, cost model, engine), not a
shortcut formula: a trace of the left-out model at a rate slow enough that inferences never queue, on a scenario
with everything on the calibrated core at the measured clock and no sleep (MLPerf Tiny runs inferences back to
back), and the per-frame latency and energy the engine reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dslsim.calibration.currents import leave_one_clock_out, share_within
from dslsim.calibration.fit import MeasurementSet, calibrated_profile_data, fit
from dslsim.hw.load import parse_profile
from dslsim.shipped import MEASUREMENTS
from dslsim.sim.run import simulate
from dslsim.sim.scenario import parse_scenario
from dslsim.trace.optable import model_trace

#: The shipped measurement file.
SHIPPED_MEASUREMENTS = MEASUREMENTS


def predict(data: MeasurementSet, cal, system: str, model: str, frames: int = 3) -> tuple[float, float]:
    """(seconds, joules) of one inference of ``model`` on ``system`` with calibration ``cal``, simulated."""
    sysm = data.systems[system]
    profile = parse_profile(calibrated_profile_data(data, cal, system), f"{sysm.profile_path} (calibrated)")
    measured = [m.latency for m in data.measurements if m.system == system and m.model == model]
    period = 20 * (measured[0] if measured else 1.0)
    trace = model_trace(data.models[model], rate=1.0 / period, duration=frames * period,
                        source={"model": str(data.model_files[model])})
    scenario = parse_scenario({"name": "validation", "placement": {"default": sysm.core},
                               "opp": {sysm.core: f"{sysm.clock} Hz"}}, profile)
    result = simulate(profile, trace, scenario, baseline=False)
    frames_df = result.frames
    return float(frames_df["latency_s"].mean()), float(frames_df["energy_J"].mean())


def leave_one_out(data: MeasurementSet) -> pd.DataFrame:
    """One row per measurement: measured and predicted latency and energy, the model calibrated without it."""
    rows = []
    for model in data.models:
        if not any(m.model == model for m in data.measurements):
            continue
        cal = fit(data, exclude_model=model)
        for m in data.measurements:
            if m.model != model:
                continue
            latency, energy = predict(data, cal, m.system, model)
            rows.append({"system": m.system, "benchmark": model,
                         "clock_MHz": data.systems[m.system].clock / 1e6,
                         "calibrated_on": "+".join(x for x in data.models if x != model),
                         "latency_ms": 1e3 * m.latency, "predicted_latency_ms": 1e3 * latency,
                         "latency_err_pct": 100 * (latency / m.latency - 1),
                         "energy_uJ": 1e6 * m.energy, "predicted_energy_uJ": 1e6 * energy,
                         "energy_err_pct": 100 * (energy / m.energy - 1), "source": m.source})
    order = {s: i for i, s in enumerate(data.systems)}
    df = pd.DataFrame(rows)
    return df.sort_values(["system", "benchmark"], key=lambda c: c.map(order) if c.name == "system" else c,
                          kind="stable").reset_index(drop=True)


def error_summary(df: pd.DataFrame) -> dict[str, float]:
    """Median and largest |error| in %, and the shares of predictions within 5 % and 10 %, for latency and energy."""
    out = {}
    for what in ("latency", "energy"):
        out.update({f"{what}_{key}": value for key, value in _errors(df[f"{what}_err_pct"]).items()})
    return out


def _errors(err: pd.Series) -> dict[str, float]:
    """Median and largest |error| (%), and the shares within 5 % and 10 %."""
    values = err.to_list()
    magnitude = np.abs(np.array(values))
    return {"median_abs_err_pct": float(np.median(magnitude)), "max_abs_err_pct": float(magnitude.max()),
            "within_5_pct": share_within(values, 5.0), "within_10_pct": share_within(values, 10.0)}


def clock_validation(data: MeasurementSet) -> pd.DataFrame:
    """Leave one clock out on every system's datasheet current tables (Run and Sleep): one row per tabulated
    point that the other points can predict (see :func:`dslsim.calibration.currents.leave_one_clock_out`)."""
    rows = [row for sysm in data.systems.values() if sysm.datasheet is not None
            for row in leave_one_clock_out(sysm.datasheet)]
    return pd.DataFrame(rows, columns=["board", "state", "range", "opp", "clock_MHz", "current_mA", "predicted_mA",
                                       "err_pct", "source"])


def clock_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per board and state (and over all of them): predictions, median and largest |error|, shares within 5 / 10 %."""
    rows = []
    groups = [((board, state), g) for (board, state), g in df.groupby(["board", "state"], sort=False)]
    for (board, state), g in groups + [(("all", "run and sleep"), df)]:
        if len(g):
            rows.append({"board": board, "state": state, "predictions": len(g), **_errors(g["err_pct"])})
    return pd.DataFrame(rows)
