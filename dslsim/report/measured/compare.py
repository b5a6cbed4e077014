"""A measured current trace against the simulation of the same trace: aligned, then compared as mean current and
power, energy per window and a fit of measured on simulated power.

The simulated power is what the measured rail would carry: the cores' and links' power over time (each state's
power, the ops' dynamic power while running, wake-ups spread over their wake intervals) plus the platform floor
the summary counts, at the rails (no converter) or at the battery (through the converter, plus the floor items
measured at the battery). Differences are the measurement's, relative to the simulation: +5 % means the device
drew 5 % more than simulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError
from dslsim.hw.profile import Profile
from dslsim.report.measured.align import (DRIFT_PARTS, Alignment, Drift, PowerSteps, clock_drift,
                                           estimate_clock_ppm, estimate_offset)
from dslsim.report.measured.reader import Measurement
from dslsim.sim.results import SimResult
from dslsim.trace.schema import Trace

#: Where the simulated power is taken: at the rails the cores are specified at, or at the battery.
SIDES = ("rail", "battery")
#: Default tolerance (%) on mean power within which the HTML and text verdicts call the two in agreement.
DEFAULT_TOLERANCE_PCT = 10.0
#: Bins of the overview curve and most samples drawn in the zoomed overlay.
OVERVIEW_BINS = 600
ZOOM_POINTS = 20_000
#: Frame periods the default zoom shows.
ZOOM_FRAMES = 8


@dataclass(frozen=True)
class SimulatedPower:
    """The simulated power over time as the measurement point sees it, and what it includes."""

    steps: PowerSteps
    """Power over simulated time (W)."""
    side: str
    """'rail' or 'battery'."""
    floor_W: float
    """The constant part added to the cores' and links' power at that side (W)."""
    floor_items: dict[str, float]
    """The platform floor items included, at their own side (W)."""
    left_out: dict[str, float]
    """Floor items the profile has that are not included (W), with why in :attr:`notes`."""
    converter_efficiency: float
    """The converter efficiency applied (1.0 at the rail)."""
    notes: list[str] = field(default_factory=list)
    """Sentences saying what is and is not in the simulated power."""


def simulated_power(result: SimResult, profile: Profile, *, side: str = "rail",
                    include_floor: bool = True) -> SimulatedPower:
    """The simulated power over ``result``'s recorded window (simulate with ``window=(0, trace.duration)``).

    ``side='rail'``: the cores' and links' power plus, with ``include_floor``, the profile's rail-side floor (what
    the summary's always-on power counts at the rails; floor items measured at the battery are not on a rail and
    are left out). ``side='battery'``: the same through the converter, plus the battery-side floor items: the
    summary's battery draw, over time.
    """
    from dslsim.report.plots import total_power

    if side not in SIDES:
        raise DslsimError(f"side {side!r}: expected one of {', '.join(SIDES)}.")
    tl = result.timeline
    if tl is None or tl.empty:
        raise DslsimError("the simulation recorded no timeline; simulate with window=(0, trace duration).")
    edges, compute = total_power(tl, list(dict.fromkeys(tl["resource"])))
    rail_floor = dict(profile.floor) if include_floor else {}
    battery_floor = dict(profile.battery_floor) if include_floor else {}
    notes, left_out = [], {}
    if not include_floor:
        left_out = {**profile.floor, **profile.battery_floor}
    if side == "rail":
        efficiency = 1.0
        power = compute + sum(rail_floor.values())
        floor = sum(rail_floor.values())
        if battery_floor:
            left_out.update(battery_floor)
            notes.append(f"floor items measured at the battery ({', '.join(battery_floor)}: "
                         f"{1e3 * sum(battery_floor.values()):.3f} mW) are on no rail and left out; compare at the "
                         f"battery (--at battery) to include them.")
        battery_floor = {}
        notes.append("at the rails: cores and links" + (
            f" plus the platform floor {1e3 * floor:.3f} mW ({', '.join(rail_floor)})" if rail_floor else
            (" (the profile has no rail-side floor)" if include_floor else " only (platform floor left out)"))
                     + "; no converter.")
    else:
        efficiency = profile.battery.converter_efficiency
        power = (compute + sum(rail_floor.values())) / efficiency + sum(battery_floor.values())
        floor = sum(rail_floor.values()) / efficiency + sum(battery_floor.values())
        notes.append(f"at the battery: cores, links and the rail-side floor through the converter "
                     f"({100 * efficiency:.0f} % efficient)" + (
                         f", plus {1e3 * sum(battery_floor.values()):.3f} mW measured at the battery" if battery_floor
                         else "") + (" (platform floor left out)" if not include_floor else "") + ".")
    if left_out and not include_floor:
        notes.append(f"left out: the platform floor ({', '.join(f'{k} {1e3 * v:.3f} mW' for k, v in left_out.items())})"
                     f", as for a rail that feeds only the cores.")
    return SimulatedPower(steps=PowerSteps(edges, power), side=side, floor_W=float(floor),
                          floor_items={**rail_floor, **battery_floor}, left_out=left_out,
                          converter_efficiency=efficiency, notes=notes)


@dataclass
class MeasuredComparison:
    """A measurement beside the simulation of the same trace. Times are the measurement's clock unless named
    ``*_sim_s``; measured time = simulated time + ``alignment.offset_s``. Differences: (measured - simulated) /
    simulated, in %."""

    measurement: Measurement
    """The measurement as read."""
    simulated: SimulatedPower
    """The simulated power and what it includes."""
    alignment: Alignment
    """The offset between the two clocks and how it was found."""
    voltage_source: str
    """Where the voltage came from: the file's column, or the given rail voltage."""
    voltage_V: float
    """The mean voltage over the compared span (V)."""
    span: tuple[float, float]
    """The compared span (measured clock, s): whole samples inside both."""
    mean_current_A: tuple[float, float]
    """Mean current, (measured, simulated), A; simulated = simulated power / the measured (or given) voltage."""
    mean_power_W: tuple[float, float]
    """Mean power, (measured, simulated), W."""
    window_s: float
    """The energy window (s): the trace's frame period unless asked otherwise."""
    windows: pd.DataFrame
    """One row per whole window inside the span: start (simulated and measured clock), the path of the frame that
    became ready at its start (when the window is the frame period), measured and simulated energy (J)."""
    fit: dict[str, float]
    """Measured power on simulated power, least squares over bins of ``fit['bin_s']``: slope, intercept_W, r2."""
    overview: pd.DataFrame
    """Mean power per bin over the whole span (measured clock): t_s, measured_W, simulated_W."""
    zoom: pd.DataFrame
    """Power over a few frame periods at the measurement's resolution: t_s, measured_W, simulated_W."""
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT
    """Mean-power difference (%) within which the verdict calls the two in agreement."""
    drift: Drift | None = None
    """The offset fitted to the first and last third of the span separately, and the clock rate difference it
    implies; None when the span is too short to tell."""
    clock_ppm: float = 0.0
    """The rate correction applied to the measurement's clock (ppm): its times divided by 1 + ppm / 1e6."""
    clock_source: str = "none"
    """Where :attr:`clock_ppm` came from: 'given', 'found' (from the offsets of parts of the recording) or 'none'
    (none needed or none could be found)."""
    warnings: list[str] = field(default_factory=list)
    """Things to know before trusting the comparison, one sentence each."""
    meta: dict[str, Any] = field(default_factory=dict)
    """What was compared: profile, scenario, trace."""

    @staticmethod
    def difference_pct(measured: float, simulated: float) -> float:
        """(measured - simulated) / simulated in % (NaN when the simulated value is zero)."""
        return 100.0 * (measured - simulated) / simulated if simulated else float("nan")

    @property
    def current_difference_pct(self) -> float:
        """Mean current, measured relative to simulated (%)."""
        return self.difference_pct(*self.mean_current_A)

    @property
    def power_difference_pct(self) -> float:
        """Mean power, measured relative to simulated (%)."""
        return self.difference_pct(*self.mean_power_W)

    @property
    def window_energy_J(self) -> tuple[float, float]:
        """Mean energy per window, (measured, simulated), J."""
        w = self.windows
        return (float(w["measured_J"].mean()), float(w["simulated_J"].mean())) if len(w) else (math.nan, math.nan)

    @property
    def window_difference_pct(self) -> dict[str, float]:
        """Per-window differences (%): the mean window's, and the median, 5th and 95th percentile of the windows'
        own; with the correlation of measured and simulated window energies."""
        w = self.windows
        if not len(w):
            return {"mean": math.nan, "median": math.nan, "p5": math.nan, "p95": math.nan, "r": math.nan}
        sim = w["simulated_J"].to_numpy()
        own = 100.0 * (w["measured_J"].to_numpy() - sim)[sim > 0] / sim[sim > 0]
        r = float(np.corrcoef(w["measured_J"], sim)[0, 1]) if len(w) > 2 and np.std(sim) > 0 else math.nan
        p5, p50, p95 = np.percentile(own, [5, 50, 95]) if len(own) else (math.nan,) * 3
        return {"mean": self.difference_pct(*self.window_energy_J), "median": float(p50), "p5": float(p5),
                "p95": float(p95), "r": r}

    def by_path(self) -> pd.DataFrame:
        """Mean energy per window for each path (the frame that became ready at the window's start): windows,
        measured and simulated uJ, difference %. Empty when windows are not the frame period."""
        w = self.windows
        if not len(w) or w["path"].isna().all():
            return pd.DataFrame(columns=["path", "windows", "measured_uJ", "simulated_uJ", "difference_pct"])
        g = w.dropna(subset=["path"]).groupby("path", sort=False, observed=True)
        table = pd.DataFrame({"windows": g.size(), "measured_uJ": 1e6 * g["measured_J"].mean(),
                              "simulated_uJ": 1e6 * g["simulated_J"].mean()}).reset_index()
        table["difference_pct"] = 100.0 * (table["measured_uJ"] - table["simulated_uJ"]) / table["simulated_uJ"]
        order = {p: i for i, p in enumerate(self.meta.get("paths", []))}  # the trace's own order of paths
        return table.sort_values("path", key=lambda s: s.map(order).fillna(len(order)), kind="stable") \
            .reset_index(drop=True)

    @property
    def agrees(self) -> bool:
        """Whether the mean power differs by at most the tolerance."""
        return abs(self.power_difference_pct) <= self.tolerance_pct

    def verdict(self) -> str:
        """One sentence: how far the measurement is from the simulation, against the tolerance."""
        d = self.power_difference_pct
        direction = "above" if d > 0 else "below"
        return (f"The measurement's mean power is {abs(d):.1f} % {direction} the simulation's "
                f"({'within' if self.agrees else 'outside'} the ±{self.tolerance_pct:g} % tolerance) over "
                f"{self.span[1] - self.span[0]:,.1f} s.")

    def summary_table(self) -> pd.DataFrame:
        """The headline figures: (figure, unit, measured, simulated, difference_pct)."""
        (im, isim), (pm, psim) = self.mean_current_A, self.mean_power_W
        em, esim = self.window_energy_J
        rows = [("mean current", "mA", 1e3 * im, 1e3 * isim), ("mean power", "mW", 1e3 * pm, 1e3 * psim),
                (f"energy per {_duration(self.window_s)} window", "uJ", 1e6 * em, 1e6 * esim)]
        for _, row in self.by_path().iterrows():
            rows.append((f"energy per window, '{row['path']}' frames ({int(row['windows']):,})", "uJ",
                         row["measured_uJ"], row["simulated_uJ"]))
        table = pd.DataFrame(rows, columns=["figure", "unit", "measured", "simulated"])
        table["difference_pct"] = 100.0 * (table["measured"] - table["simulated"]) / table["simulated"]
        return table

    def to_dict(self) -> dict[str, Any]:
        """Every figure as plain values (for JSON)."""
        a, m = self.alignment, self.measurement
        return {
            "measurement": {"file": m.source, "tool": m.tool, "columns": m.columns, "units": m.units,
                            "samples": m.samples, "sample_period_s": m.sample_period_s, "start_s": m.start_s,
                            "end_s": m.end_s, "ignored_columns": list(m.ignored)},
            "compared": self.meta, "voltage_V": self.voltage_V, "voltage_source": self.voltage_source,
            "simulated_power": {"side": self.simulated.side, "floor_W": self.simulated.floor_W,
                                "floor_items_W": self.simulated.floor_items, "left_out_W": self.simulated.left_out,
                                "converter_efficiency": self.simulated.converter_efficiency,
                                "notes": self.simulated.notes},
            "alignment": {"offset_s": a.offset_s, "found": a.found, "correlation": a.correlation,
                          "step_s": a.step_s, "runner_up_offset_s": a.runner_up_s,
                          "frame_correlation": a.frame_correlation, "runner_up_correlation": a.runner_up_correlation,
                          "ambiguous": a.ambiguous,
                          "clock_ppm_applied": self.clock_ppm, "clock_source": self.clock_source,
                          "drift": None if self.drift is None else {
                              "start_offset_s": self.drift.start_offset_s, "end_offset_s": self.drift.end_offset_s,
                              "ppm": self.drift.ppm}},
            "span_s": list(self.span), "span_sim_s": [t - a.offset_s for t in self.span],
            "mean_current_A": {"measured": self.mean_current_A[0], "simulated": self.mean_current_A[1],
                               "difference_pct": self.current_difference_pct},
            "mean_power_W": {"measured": self.mean_power_W[0], "simulated": self.mean_power_W[1],
                             "difference_pct": self.power_difference_pct},
            "window_s": self.window_s, "windows": len(self.windows),
            "energy_per_window_J": {"measured": self.window_energy_J[0], "simulated": self.window_energy_J[1],
                                    **{f"difference_{k}_pct" if k != "r" else "correlation": v
                                       for k, v in self.window_difference_pct.items()}},
            "by_path": self.by_path().to_dict(orient="records"), "fit": self.fit,
            "tolerance_pct": self.tolerance_pct, "agrees": self.agrees, "verdict": self.verdict(),
            "warnings": self.warnings,
        }


def _duration(seconds: float) -> str:
    return f"{1e3 * seconds:.4g} ms" if seconds < 1 else f"{seconds:.4g} s"


def _fit(measured: PowerSteps, simulated: PowerSteps, offset: float, span: tuple[float, float],
         bin_s: float) -> dict[str, float]:
    """Least squares of measured on simulated mean power over bins of ``bin_s`` across ``span``."""
    n = int((span[1] - span[0]) / bin_s)
    if n < 3:
        return {"slope": math.nan, "intercept_W": math.nan, "r2": math.nan, "bin_s": bin_s}
    y = measured.grid(span[0], bin_s, n)
    x = simulated.grid(span[0] - offset, bin_s, n)
    if np.std(x) == 0:
        return {"slope": math.nan, "intercept_W": math.nan, "r2": math.nan, "bin_s": bin_s}
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = np.sum((y - y.mean()) ** 2)
    return {"slope": float(slope), "intercept_W": float(intercept),
            "r2": float(1 - np.sum(residual ** 2) / total) if total > 0 else math.nan, "bin_s": bin_s}


def check_voltage(measurement: Measurement, profile: Profile, voltage: float | None) -> None:
    """Refuse a non-positive ``voltage``, or none for a measurement without a voltage column (naming the profile's
    rail voltages as a hint)."""
    if voltage is not None and not (math.isfinite(voltage) and voltage > 0):
        raise DslsimError(f"--voltage {voltage!r}: expected a positive rail voltage.")
    if voltage is None and measurement.voltage_V is None:
        rails = sorted({f"{c.supply.voltage:g} V" for c in profile.cores.values() if c.supply is not None})
        raise DslsimError(f"{measurement.source}: no voltage column, so the rail voltage is needed: give --voltage"
                          + (f" (the profile's cores are supplied at {', '.join(rails)})" if rails else "") + ".")


def compare_measured(measurement: Measurement, result: SimResult, profile: Profile, trace: Trace, *,
                     voltage: float | None = None, side: str = "rail", include_floor: bool = True,
                     offset: float | None = None, window: float | None = None,
                     zoom: tuple[float, float] | None = None, tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
                     clock_ppm: float | None = None, trace_name: str | None = None) -> MeasuredComparison:
    """Compare ``measurement`` with ``result`` (a simulation of ``trace`` on ``profile`` with its timeline recorded
    over the whole trace: ``simulate(profile, trace, scenario, window=(0, trace.duration))``).

    ``voltage``: the rail voltage (V) when the file has no voltage column (it then also replaces the column).
    ``side``, ``include_floor``: what the simulated power includes (:func:`simulated_power`). ``offset``: measured
    time = simulated time + offset (s); estimated by cross-correlation when None. ``window``: the energy window
    (s), the trace's frame period by default. ``zoom``: the measured-clock span of the detailed overlay, a few
    frame periods around the first dense-path frame by default. ``tolerance_pct``: the mean-power difference the
    verdict accepts. ``clock_ppm``: how much faster the measurement's clock runs than the device's (ppm); its
    times are divided by 1 + ppm / 1e6 before anything else. None: found from the offsets of parts of the
    recording when the offset is searched for (and applied when it slips the clocks by more than two samples),
    0 otherwise. ``trace_name``: how the trace is named in the output (its file or shipped name).
    """
    m = measurement
    check_voltage(m, profile, voltage)
    voltage_source = f"--voltage {voltage:g} V" if voltage is not None else f"column {m.columns['voltage']!r}"
    sim = simulated_power(result, profile, side=side, include_floor=include_floor)
    watts = m.power_W(voltage)
    period = trace.meta.frame_duration
    clock_source = "given" if clock_ppm is not None else "none"
    if clock_ppm is None:
        clock_ppm = 0.0
        if offset is None:
            found = estimate_clock_ppm(PowerSteps(m.edges(), watts), sim.steps, period)
            if found is not None and abs(found) * 1e-6 * m.duration_s > 2 * m.sample_period_s:
                clock_ppm, clock_source = found, "found"
    if not (math.isfinite(clock_ppm) and abs(clock_ppm) < 1e5):
        raise DslsimError(f"--clock-ppm {clock_ppm!r}: expected a rate difference in ppm, well under 100,000.")
    # A clock correction rescales the measurement's time axis; current is what it is at any clock rate.
    edges = m.edges() / (1.0 + 1e-6 * clock_ppm)
    measured = PowerSteps(edges, watts)
    window = float(window) if window is not None else period
    if not (math.isfinite(window) and window > 0):
        raise DslsimError(f"--window {window!r}: expected a positive duration.")
    warnings = list(m.warnings)
    if offset is None:
        alignment = estimate_offset(measured, sim.steps, float(np.median(np.diff(edges))), period)
        if alignment.ambiguous:
            warnings.append(
                f"the alignment is not clear-cut: frame by frame, an offset of {1e3 * alignment.runner_up_s:+,.3f} ms "
                f"correlates nearly as well (r = {alignment.runner_up_correlation:.3f} against "
                f"{alignment.frame_correlation:.3f} at {1e3 * alignment.offset_s:+,.3f} ms); a longer recording "
                f"with more varied frames, or --offset, settles it.")
    else:
        alignment = Alignment(offset_s=float(offset), found=False)
    o = float(alignment.offset_s)
    # Whole samples inside both the recording and the simulated span.
    inside = (edges[:-1] >= sim.steps.start + o) & (edges[1:] <= sim.steps.end + o)
    if inside.sum() < 2:
        raise DslsimError(f"{m.source}: at an offset of {o:+.6g} s the measurement ({m.start_s:.6g} to "
                          f"{m.end_s:.6g} s) and the simulation (0 to {sim.steps.end:.6g} s of the trace) do not "
                          f"overlap; check --offset, the trace and the recording.")
    first, last = np.flatnonzero(inside)[[0, -1]]
    span = (float(edges[first]), float(edges[last + 1]))
    if span[1] - span[0] < window:
        raise DslsimError(f"{m.source}: the measurement and the simulation overlap for {span[1] - span[0]:.4g} s, "
                          f"less than one {_duration(window)} window.")
    sel = slice(first, last + 1)
    dt = np.diff(edges[sel.start:sel.stop + 1])
    sim_power = sim.steps.mean(edges[sel] - o, dt)
    volts = np.full(len(dt), voltage) if voltage is not None else m.voltage_V[sel]
    total = dt.sum()
    mean_current = (float(np.sum(m.current_A[sel] * dt) / total), float(np.sum(sim_power / volts * dt) / total))
    mean_power = (float(np.sum(watts[sel] * dt) / total), float(np.sum(sim_power * dt) / total))
    mean_voltage = float(np.sum(volts * dt) / total)
    if m.voltage_V is not None and voltage is not None:
        column_mean = float(np.sum(m.voltage_V[sel] * dt) / total)
        warnings.append(f"the file's voltage column ({m.columns['voltage']!r}, mean {column_mean:.4g} V) is "
                        f"replaced by --voltage {voltage:g} V.")

    resolution = float(np.median(np.diff(edges)))
    drift = clock_drift(measured, sim.steps, o, span, period, resolution)
    if drift is not None and abs(drift.slip_s) > max(2 * resolution, 0.02 * window):
        warnings.append(
            f"the measurement's clock and the device's drift apart: the offset is {1e3 * drift.start_offset_s:+,.3f} "
            f"ms over the first third and {1e3 * drift.end_offset_s:+,.3f} ms over the last ({drift.ppm:+,.1f} ppm), "
            f"so the windows and the overlay slip by up to {1e3 * abs(drift.slip_s) / 2:,.3f} ms at the ends (the "
            f"means are unaffected); correct it with --clock-ppm {clock_ppm + drift.ppm:.1f}.")
    if clock_source == "found":
        warnings.append(f"the measurement's clock runs {clock_ppm:+,.1f} ppm against the device's (found from the "
                        f"offsets of {DRIFT_PARTS} parts of the recording); its times are corrected for it.")
    windows = _windows(measured, sim.steps, o, span, window, trace)
    fit = _fit(measured, sim.steps, o, span, max(resolution, window / 8))
    overview = _overview(measured, sim.steps, o, span, period)
    zoom_table = _zoom(measured, sim.steps, o, span, zoom, period, trace, resolution)
    if not result.summary.keeps_up:
        warnings.append("the simulated scenario does not keep up with its frames, so its power over time is that of "
                        "a backlog the device would not run.")
    meta = {"profile": result.meta.get("profile"), "scenario": result.meta.get("scenario"),
            "trace": trace_name or str(trace.meta.source.get("model") or trace.meta.source.get("generator") or ""),
            "frame_period_s": period, "paths": list(trace.meta.paths)}
    return MeasuredComparison(
        measurement=m, simulated=sim, alignment=alignment, voltage_source=voltage_source, voltage_V=mean_voltage,
        span=span, mean_current_A=mean_current, mean_power_W=mean_power, window_s=window, windows=windows,
        fit=fit, overview=overview, zoom=zoom_table, tolerance_pct=tolerance_pct, drift=drift, clock_ppm=clock_ppm,
        clock_source=clock_source, warnings=warnings, meta=meta)


def _windows(measured: PowerSteps, simulated: PowerSteps, offset: float, span: tuple[float, float], window: float,
             trace: Trace) -> pd.DataFrame:
    """Energy in each whole window inside the span; windows start at the frames' ready times (simulated clock)."""
    period = trace.meta.frame_duration
    ready = trace.frames["t_arrival"].to_numpy(dtype=np.float64) + period
    origin = float(ready[0]) if len(ready) else 0.0
    lo, hi = span[0] - offset, span[1] - offset
    k0, k1 = math.ceil((lo - origin) / window - 1e-9), math.floor((hi - origin) / window + 1e-9) - 1
    starts = origin + window * np.arange(k0, k1 + 1)
    starts = starts[(starts >= lo - 1e-12) & (starts + window <= hi + 1e-12)]
    table = pd.DataFrame({"start_sim_s": starts, "start_s": starts + offset})
    path = pd.Series(pd.NA, index=table.index, dtype="object")
    if abs(window - period) <= 1e-9 * period and len(ready):
        i = np.clip(np.searchsorted(ready, starts - window / 2), 0, len(ready) - 1)
        hit = np.abs(ready[i] - starts) <= 1e-6 * window
        labels = trace.frames["path"].astype(str).to_numpy()
        path[hit] = labels[i[hit]]
    table["path"] = path
    table["measured_J"] = measured.mean(starts + offset, window) * window
    table["simulated_J"] = simulated.mean(starts, window) * window
    return table


def _overview(measured: PowerSteps, simulated: PowerSteps, offset: float, span: tuple[float, float],
              period: float) -> pd.DataFrame:
    """Mean power over bins of whole frame periods (a bin near the period would alias into a beat pattern)."""
    length = span[1] - span[0]
    step = period * max(1, math.ceil(length / (OVERVIEW_BINS * period)))
    n = int(length / step)
    if n < 2:
        n = min(OVERVIEW_BINS, max(2, int(length / period) * 8))
        step = length / n
    return pd.DataFrame({"t_s": span[0] + step * (np.arange(n) + 0.5),
                         "measured_W": measured.grid(span[0], step, n),
                         "simulated_W": simulated.grid(span[0] - offset, step, n)})


def _zoom(measured: PowerSteps, simulated: PowerSteps, offset: float, span: tuple[float, float],
          zoom: tuple[float, float] | None, period: float, trace: Trace, resolution: float) -> pd.DataFrame:
    if zoom is None:
        frames = trace.frames
        ready = frames["t_arrival"].to_numpy(dtype=np.float64) + period + offset
        dense = (frames["path"].astype(str) == trace.meta.dense_path).to_numpy() & (ready >= span[0] + 2 * period)
        t0 = float(ready[dense][0]) - 2 * period if dense.any() else span[0]
        zoom = (t0, t0 + ZOOM_FRAMES * period)
    t0, t1 = max(zoom[0], span[0]), min(zoom[1], span[1])
    if not t1 > t0:
        raise DslsimError(f"--zoom {zoom[0]:g}:{zoom[1]:g} s lies outside the compared span "
                          f"{span[0]:.6g} to {span[1]:.6g} s (measurement clock).")
    n = max(2, min(ZOOM_POINTS, int(round((t1 - t0) / resolution))))
    step = (t1 - t0) / n
    return pd.DataFrame({"t_s": t0 + step * np.arange(n), "measured_W": measured.grid(t0, step, n),
                         "simulated_W": simulated.grid(t0 - offset, step, n)})
