"""A :class:`~dslsim.report.measured.compare.MeasuredComparison` as text, figures (matplotlib ``Figure`` objects
made without pyplot), a self-contained HTML report and CSV tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dslsim.report.measured.compare import MeasuredComparison

MEASURED_COLOR = "#1f77b4"
SIMULATED_COLOR = "#d62728"
DIFFERENCE_COLOR = "#555555"


def _pct(value: float) -> str:
    return f"{value:+.2f} %" if math.isfinite(value) else "n/a"


def _ms(seconds: float) -> str:
    """An offset: in ms to the microsecond below a second, in s to the microsecond above."""
    return f"{1e3 * seconds:+,.3f} ms" if abs(seconds) < 1 else f"{seconds:+,.6f} s"


def _clock(seconds: float) -> str:
    return f"{round(seconds, 4) + 0.0:,.4f}"  # + 0.0: no '-0.0000' for a start a rounding error below zero


def _period(seconds: float) -> str:
    return f"{1e6 * seconds:,.3f} us" if seconds < 1e-3 else f"{1e3 * seconds:,.4g} ms"


def describe_measurement(c: MeasuredComparison) -> str:
    """One line: the tool, the columns read (and read past), samples, sampling period and span."""
    m = c.measurement
    cols = ", ".join(f"{m.columns[r]!r}" for r in ("time", "current", "voltage") if r in m.columns)
    ignored = f" (read past: {', '.join(repr(h) for h in m.ignored)})" if m.ignored else ""
    return (f"{m.tool} columns {cols}{ignored}; {m.samples:,} samples every {_period(m.sample_period_s)} over "
            f"{m.duration_s:,.3f} s")


def describe_alignment(c: MeasuredComparison) -> str:
    """One line: the offset, how it was found, and how clear the choice was."""
    a = c.alignment
    if not a.found:
        return f"{_ms(a.offset_s)} (given); measured time = simulated time + offset"
    runner = (f" against {a.runner_up_correlation:.3f} at the next best, {_ms(a.runner_up_s)}"
              if a.runner_up_s is not None else "")
    return (f"{_ms(a.offset_s)}, found by cross-correlation (r = {a.correlation:.3f} on a {_period(a.step_s)} grid; "
            f"frame by frame {a.frame_correlation:.3f}{runner}); measured time = simulated time + offset")


def describe_drift(c: MeasuredComparison) -> str | None:
    """One line: the offset over the first and last third of the span, the clock rate difference, and any
    correction applied; None when the span is too short to tell."""
    d = c.drift
    if d is None:
        return None
    applied = f" after the --clock-ppm {c.clock_ppm:g} correction" if c.clock_ppm else ""
    return (f"{d.ppm:+,.1f} ppm{applied}: the offset is {_ms(d.start_offset_s)} over the first third, "
            f"{_ms(d.end_offset_s)} over the last")


def render_text(c: MeasuredComparison) -> str:
    """The comparison as the terminal shows it."""
    m, meta = c.measurement, c.meta
    span_sim = (c.span[0] - c.alignment.offset_s, c.span[1] - c.alignment.offset_s)
    lines = [f"dslsim compare-measured: {m.source} against profile '{meta.get('profile')}', scenario "
             f"'{meta.get('scenario')}', trace '{meta.get('trace')}'", "",
             f"  {'measurement':<19}{describe_measurement(c)}",
             f"  {'voltage':<19}{c.voltage_V:.4g} V ({c.voltage_source})"]
    for i, note in enumerate(c.simulated.notes):
        lines.append(f"  {'simulated power' if i == 0 else '':<19}{note}")
    lines.append(f"  {'offset':<19}{describe_alignment(c)}")
    if describe_drift(c):
        lines.append(f"  {'clock drift':<19}{describe_drift(c)}")
    lines += [
              f"  {'compared':<19}{c.span[1] - c.span[0]:,.3f} s: measured {_clock(c.span[0])} to "
              f"{_clock(c.span[1])} s = simulated {_clock(span_sim[0])} to {_clock(span_sim[1])} s", ""]
    table = c.summary_table()
    prefix = "energy per window, "
    labels = [f if not f.startswith(prefix) else "  " + f[len(prefix):] for f in table["figure"]]
    width = max(28, max(len(label) for label in labels) + 3)
    lines.append(f"  {'':<{width}}{'measured':>14}{'simulated':>14}{'difference':>12}")
    for label, (_, row) in zip(labels, table.iterrows()):
        lines.append(f"  {label:<{width}}{row['measured']:>11,.4g} {row['unit']:<2}{row['simulated']:>11,.4g} "
                     f"{row['unit']:<2}{_pct(row['difference_pct']):>12}")
    w = c.window_difference_pct
    if len(c.windows):
        lines.append(f"  {'window by window':<{width}}median {_pct(w['median'])}, 90 % of the {len(c.windows):,} "
                     f"windows within {_pct(w['p5'])} .. {_pct(w['p95'])}; correlation "
                     + (f"{w['r']:.3f}" if math.isfinite(w["r"]) else "n/a (no variation)"))
    if math.isfinite(c.fit["slope"]):
        lines.append(f"  {'fit':<{width}}{_fit_text(c.fit)}")
    lines += ["", f"  {c.verdict()}"]
    return "\n".join(lines)


def _fit_text(f: dict[str, float]) -> str:
    return (f"measured = {f['slope']:.4f} x simulated {'+' if f['intercept_W'] >= 0 else '-'} "
            f"{1e3 * abs(f['intercept_W']):.4g} mW (R\u00b2 {f['r2']:.3f}, {_period(f['bin_s'])} bins)")


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def overlay_figure(c: MeasuredComparison):
    """Measured and simulated power over time: the whole compared span (binned means), a few frame periods at the
    measurement's resolution, and their difference there. Returns ``(figure, data)``; the data is the detailed
    overlay (measurement clock)."""
    fig = _figure(figsize=(10, 8.2))
    axes = fig.subplots(3, 1, gridspec_kw={"height_ratios": [1.0, 1.3, 0.8]})
    ov, zm = c.overview, c.zoom
    top = axes[0]
    top.plot(ov["t_s"], 1e3 * ov["measured_W"], color=MEASURED_COLOR, lw=0.9, label="measured")
    top.plot(ov["t_s"], 1e3 * ov["simulated_W"], color=SIMULATED_COLOR, lw=0.9, label="simulated")
    top.axvspan(zm["t_s"].iloc[0], zm["t_s"].iloc[-1], color="#999999", alpha=0.25, lw=0, label="detail below")
    top.set_ylabel("mean power (mW)")
    step = float(ov["t_s"].iloc[1] - ov["t_s"].iloc[0]) if len(ov) > 1 else c.span[1] - c.span[0]
    top.set_xlabel(f"measurement time (s); means over {_period(step)} bins")
    top.legend(ncol=3, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=9)
    mid, low = axes[1], axes[2]
    t_ms = 1e3 * zm["t_s"].to_numpy()
    mid.step(t_ms, 1e3 * zm["measured_W"], where="post", color=MEASURED_COLOR, lw=0.7, label="measured")
    mid.step(t_ms, 1e3 * zm["simulated_W"], where="post", color=SIMULATED_COLOR, lw=1.0, label="simulated")
    mid.set_ylabel("power (mW)")
    mid.legend(ncol=2, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    diff = 1e3 * (zm["measured_W"] - zm["simulated_W"]).to_numpy()
    low.fill_between(t_ms, diff, step="post", color=DIFFERENCE_COLOR, alpha=0.6, lw=0)
    low.axhline(0, color="black", lw=0.6)
    low.set_ylabel("measured -\nsimulated (mW)")
    low.set_xlabel(f"measurement time (ms), offset {_ms(c.alignment.offset_s)}")
    for ax in (mid, low):
        ax.set_xlim(t_ms[0], t_ms[-1])
    fig.tight_layout()
    data = zm.assign(difference_W=zm["measured_W"] - zm["simulated_W"])
    return fig, data


def window_energy_figure(c: MeasuredComparison):
    """Energy of each window, measured against simulated, coloured by the path of the frame that started it, with
    the line of equality and the fit. Returns ``(figure, windows table)``."""
    w = c.windows
    fig = _figure(figsize=(7, 4.6))
    ax = fig.subplots()
    paths = [p for p in dict.fromkeys(w["path"].dropna())] or [None]
    for i, path in enumerate(paths):
        sel = w["path"] == path if path is not None else np.ones(len(w), bool)
        ax.scatter(1e6 * w.loc[sel, "simulated_J"], 1e6 * w.loc[sel, "measured_J"], s=6, alpha=0.5,
                   color=f"C{i}", label=f"'{path}' frames" if path is not None else "windows")
    lo = 1e6 * float(np.nanmin(w[["simulated_J", "measured_J"]].to_numpy())) if len(w) else 0.0
    hi = 1e6 * float(np.nanmax(w[["simulated_J", "measured_J"]].to_numpy())) if len(w) else 1.0
    xs = np.array([lo, hi])
    ax.plot(xs, xs, color="black", lw=0.8, ls="--", label="measured = simulated")
    f = c.fit
    if math.isfinite(f["slope"]):
        # The fit is on power; per window it reads E_m = slope E_s + intercept x window.
        ax.plot(xs, f["slope"] * xs + 1e6 * f["intercept_W"] * c.window_s, color=SIMULATED_COLOR, lw=0.8,
                label=f"fit: {f['slope']:.3f} x {'+' if f['intercept_W'] >= 0 else '-'} "
                      f"{1e3 * abs(f['intercept_W']):.3g} mW x window")
    ax.set_xlabel(f"simulated energy per {_period(c.window_s)} window (uJ)")
    ax.set_ylabel("measured energy (uJ)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig, w


def html_report(c: MeasuredComparison):
    """The comparison as an :class:`~dslsim.report.html.HtmlReport`: verdict and headline cards first, then the
    figures, the tables and what was compared."""
    from dslsim.report.html import HtmlReport

    m = c.measurement
    rep = HtmlReport(f"Measured vs simulated: {Path(m.source).name}")
    (im, isim), (pm, psim) = c.mean_current_A, c.mean_power_W
    em, esim = c.window_energy_J
    cards = [("mean current, measured / simulated", f"{1e3 * im:.4g} / {1e3 * isim:.4g} mA"),
             ("current difference", _pct(c.current_difference_pct)),
             ("mean power, measured / simulated", f"{1e3 * pm:.4g} / {1e3 * psim:.4g} mW"),
             ("power difference", _pct(c.power_difference_pct)),
             (f"energy per {_period(c.window_s)} window", f"{1e6 * em:.4g} / {1e6 * esim:.4g} uJ"),
             ("offset (measured - simulated clock)", _ms(c.alignment.offset_s))]
    rep.headline(cards, c.agrees, c.verdict(), c.warnings)
    fig, data = overlay_figure(c)
    rep.figure("power_over_time", fig, data,
               f"Top: mean power over the compared {c.span[1] - c.span[0]:,.1f} s, measured (blue) and simulated "
               f"(red). Middle: the shaded stretch at the measurement's resolution. Bottom: measured minus simulated "
               f"there. Simulated power {c.simulated.notes[0]}")
    rep.heading("Mean current, power and energy per window")
    table = c.summary_table().rename(columns={"difference_pct": "difference %"})
    rep.table("summary", table, "Differences are the measurement's relative to the simulation. Energy per window: "
              "the windows start when a frame becomes ready; a path's row averages the windows its frames start.")
    w = c.window_difference_pct
    if len(c.windows):
        rep.text(f"Window by window: median {_pct(w['median'])}, 90 % of the {len(c.windows):,} windows within "
                 f"{_pct(w['p5'])} .. {_pct(w['p95'])}; correlation of measured and simulated window energies "
                 + (f"{w['r']:.3f}." if math.isfinite(w["r"]) else "n/a (no variation)."))
        fig, data = window_energy_figure(c)
        rep.figure("energy_per_window", fig, data,
                   "Each window's measured energy against the simulated one. On the dashed line they agree; a "
                   "slope above it is a gain error (currents per MHz, clock), a parallel shift a constant one "
                   "(floor, idle or sleep current).")
    rep.heading("What was compared")
    f = c.fit
    rows = [("measurement", f"{m.source}: {describe_measurement(c)}."),
            ("voltage", f"{c.voltage_V:.4g} V ({c.voltage_source})."),
            *[("simulated power", note) for note in c.simulated.notes],
            ("profile, scenario, trace", f"{c.meta.get('profile')}, {c.meta.get('scenario')}, {c.meta.get('trace')}."),
            ("offset", describe_alignment(c) + "."),
            *([("clock drift", describe_drift(c) + ".")] if describe_drift(c) else []),
            ("compared", f"{c.span[1] - c.span[0]:,.3f} s of the measurement ({_clock(c.span[0])} to "
                         f"{_clock(c.span[1])} s)."),
            ("fit", _fit_text(f) + ". A slope off 1 is a gain error (currents per MHz, the clock), an intercept a "
                                   "constant one (floor, idle or sleep currents)." if math.isfinite(f["slope"])
             else "n/a: the simulated power does not vary.")]
    for label, text in rows:
        rep.text(f"{label}: {text}")
    return rep


def write_tables(c: MeasuredComparison, prefix: str | Path) -> list[Path]:
    """PREFIX-summary.csv (headline figures), PREFIX-windows.csv (energy per window), PREFIX-overview.csv (binned
    power over the span) and PREFIX-detail.csv (the detailed overlay), each written atomically."""
    from dslsim.report.export import write_table

    tables = {"summary": c.summary_table(), "windows": c.windows, "overview": c.overview,
              "detail": c.zoom.assign(difference_W=c.zoom["measured_W"] - c.zoom["simulated_W"])}
    return [write_table(df, Path(f"{prefix}-{name}.csv"), "csv") for name, df in tables.items()]
