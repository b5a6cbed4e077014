"""Build the HTML reports: one simulation (with named baselines and timelines) or one sweep."""

from __future__ import annotations

import math

import pandas as pd

from dslsim.errors import DslsimError
from dslsim.hw.profile import Profile
from dslsim.report import plots
from dslsim.report.analysis import pareto_front
from dslsim.report.explain import contributors
from dslsim.report.html import HtmlReport
from dslsim.sim.figures import FIGURES
from dslsim.sim.results import SimResult
from dslsim.trace.schema import Trace


def default_window(trace: Trace, width: float = 1.0) -> tuple[float, float]:
    """A window of ``width`` seconds starting 0.2 s before the first frame on the dense path."""
    frames = trace.frames
    dense = frames.index[frames["path"] == trace.meta.dense_path]
    t0 = float(frames["t_arrival"].iloc[dense[0]]) - 0.2 if len(dense) else 0.0
    t0 = max(0.0, min(t0, trace.duration - width))
    return t0, t0 + width


def summary_table(result: SimResult) -> pd.DataFrame:
    """Every figure of the summary as (figure, value) rows, named and shown as :data:`FIGURES` says."""
    s = result.summary

    def row(key: str, label: str | None = None, also: str = "") -> tuple[str, str]:
        return label or FIGURES[key].label, FIGURES[key].format(getattr(s, key)) + also

    share, energy = FIGURES["shares"], FIGURES["energy_per_frame_J"]
    rows = [row("frames"), row("duration_s")]
    rows += [(f"{share.label} on '{path}'", share.format(v)) for path, v in s.shares.items()]
    rows += [row(f"latency_{k}_s") for k in ("p50", "p95", "p99", "max")]
    rows += [row("deadline_s"), row("deadline_miss_rate"), row("dropped"), row("wakeups"), row("transition_energy_J")]
    rows += [(f"energy per '{path}' frame", energy.format(v)) for path, v in s.energy_per_frame_J.items()
             if math.isfinite(v)]
    rows += [row("compute_power_W"), row("floor_power_W"), row("always_on_power_W"), row("battery_power_W"),
             row("battery_life_h", also=f" ({FIGURES['battery_life_days'].format(s.battery_life_days)})"),
             row("battery_life_ideal_h", also=f" ({s.battery_model} model above)"), row("battery_current_A"),
             row("charge_per_day_Ah", also=f" = {FIGURES['battery_pct_per_day'].format(s.battery_pct_per_day)} of the "
                                           f"battery"),
             row("idle_device_power_W"), row("feature_current_A"),
             row("feature_charge_per_day_Ah", also=f" = {FIGURES['feature_pct_per_day'].format(s.feature_pct_per_day)} "
                                                   f"of the battery"),
             ("keeps up", "yes" if s.keeps_up else f"no: {s.shortfall}")]
    if s.battery_gain_h is not None:
        rows.append(row("battery_gain_h", also=f" ({FIGURES['battery_gain_pct'].format(s.battery_gain_pct)})"))
    return pd.DataFrame(rows, columns=["figure", "value"])


def headline_cards(result: SimResult, spread: dict[str, tuple[float, float, float]] | None = None
                   ) -> tuple[list[tuple[str, str]], bool, str]:
    """What a report shows first: (label, value) cards, whether the run keeps up, and the verdict sentence. With
    ``spread`` (uncertainty bands by figure) a card shows its 5-95 % band under the value."""
    s = result.summary
    spread = spread or {}

    def card(key: str, label: str | None = None) -> tuple[str, str]:
        value = FIGURES[key].format(getattr(s, key))
        if key in spread:
            lo, _, hi = spread[key]
            value += f" ({FIGURES[key].number(lo)}-{FIGURES[key].number(hi)})"
        return (label or FIGURES[key].label) + (", 5-95 % band" if key in spread else ""), value

    if not s.keeps_up:
        return ([card("always_on_power_W"), card("latency_p99_s"), card("deadline_miss_rate"),
                 card("max_utilization")], False,
                f"Does not keep up: {s.shortfall}. No battery life, charge or gain is reported.")
    cards = [card("battery_life_h"), card("always_on_power_W"), card("charge_per_day_Ah", "charge per day"),
             card("battery_pct_per_day", "of the battery per day"),
             card("feature_pct_per_day", "the feature's own, per day")]
    if s.battery_gain_pct is not None:
        cards.insert(1, card("battery_gain_pct"))
    verdict = (f"Keeps up: every queue drains, {FIGURES['deadline_miss_rate'].format(s.deadline_miss_rate)} of "
               f"frames miss their deadline (at most {FIGURES['max_miss_rate'].format(s.max_miss_rate)} allowed).")
    return cards, True, verdict


def check_window(window: tuple[float, float] | None, trace: Trace) -> tuple[float, float]:
    """The timeline window to simulate for a report: ``window`` clipped to the trace, or :func:`default_window`."""
    window = window or default_window(trace)
    end = trace.duration
    if window[0] >= end:
        raise DslsimError(f"--window {window[0]:g} s:{window[1]:g} s starts after the trace ends ({end:g} s); "
                          f"choose a window inside 0 s:{end:g} s.")
    return window[0], min(window[1], end)


def simulation_report(result: SimResult, baselines: pd.DataFrame, profile: Profile, trace: Trace,
                      spread: dict[str, tuple[float, float, float]] | None = None) -> HtmlReport:
    """Report for one simulation: summary, named baselines, per-core energy, latency, timelines.

    ``result`` is the simulation (with a timeline ``window``), ``baselines`` its
    :func:`~dslsim.sim.baselines.named_baselines` table; nothing is simulated here.
    """
    window = result.meta.get("window")
    scenario_name = result.meta.get("scenario", "")
    rep = HtmlReport(f"dslsim: {profile.name} / {scenario_name}")
    rep.headline(*headline_cards(result, spread), result.warnings)
    if spread:
        rep.text("Bands: 5-95 % of seeded draws of the profile's power, current, energy and capacity numbers within "
                 "their stated ranges (assumed numbers without one: +-30 %); timing, correlations and the battery "
                 "model are not covered (docs/simulation.md).", note=True)
    src = trace.meta.source
    rep.text(f"Profile {profile.source_file}; scenario '{scenario_name}'; trace of {len(trace):,} frames at "
             f"{trace.meta.frame_rate:g} frames/s from {src.get('model', src.get('generator', 'unknown source'))}.")
    if profile.unsourced:
        rep.text(f"Warning: {len(profile.unsourced)} profile numbers carry no source: "
                 f"{', '.join(profile.unsourced[:10])}.", note=True)
    rep.heading("Summary")
    rep.table("summary", summary_table(result))
    rep.heading("Where the figures come from")
    rep.table("contributors", contributors(result), float_format="{:,.3f}",
              caption="The battery draw split by what pays for it, largest first, with the profile numbers behind "
                      "each and their sources: a contributor's share of the draw is its share of what shortens "
                      "the battery life.")
    rep.heading("Battery life against named baselines")
    base = baselines
    rep.figure("battery_comparison", *plots.battery_comparison(base),
               caption="Configurations that do not keep up (a growing queue, or more deadline misses than allowed) "
                       "have no battery life and no bar; they are labelled.")
    rep.table("baselines", base, caption="scenario_gain_pct: how much longer the scenario lasts than each row.")
    rep.heading("Where the energy goes")
    rep.figure("energy_breakdown", *plots.energy_breakdown(result),
               caption="Mean power drawn from the battery: per core and link (residency in each power state, dynamic "
                       "op energy, wake-up transitions), the platform floor and the converter's loss; the bars add "
                       "up to the battery draw.")
    rep.table("per_core", result.per_core())
    rep.heading("Paths")
    rep.figure("energy_by_path", *plots.energy_by_path(result),
               caption="Energy per frame of each path (active power while running, dynamic op energy, wake-ups, "
                       "links); the share of frames that took it in brackets.")
    rep.figure("path_shares_over_time", *plots.path_shares_over_time(result),
               caption="Share of frames on each path over the run (stacked).")
    rep.heading("Latency")
    rep.figure("latency_by_path", *plots.latency_by_path(result), caption="Latency = end of the last stage - frame ready time.")
    if window is None:
        return rep
    rep.heading(f"Timeline, {window[0]:.2f}-{window[1]:.2f} s")
    rep.figure("state_timeline", *plots.state_timeline(result), caption="Power state of every core and link.")
    rep.figure("power_over_time", *plots.power_over_time(result),
               caption="Power of all cores together (top) and of each core (log scale above 0.01 mW), state bands "
                       "behind; a wake-up's energy is drawn spread over its wake interval.")
    return rep


def feasible_front(df: pd.DataFrame, ok: pd.Series, minimize: list[str], maximize: list[str] = ()) -> pd.Series:
    """The Pareto front among the points that keep up (``ok``); the others are on no front."""
    front = pd.Series(False, index=df.index)
    if ok.any():
        front[ok] = pareto_front(df[ok], minimize=minimize, maximize=list(maximize))
    return front


def _label(df: pd.DataFrame, axes: list[str]) -> pd.Series:
    return df[axes].astype(str).agg(", ".join, axis=1)


#: The device model's validated median error on energy per inference (docs/validation.md), in %: differences
#: between sweep points below it are within the model's uncertainty.
MODEL_RESOLUTION_PCT = 3.0


def sweep_report(manifest: dict, df: pd.DataFrame, resolution_pct: float = MODEL_RESOLUTION_PCT) -> HtmlReport:
    """Report for a sweep: results, Pareto fronts, heat maps of the first two axes. ``resolution_pct``: the
    relative difference below which points are called within the model's uncertainty of each other.

    ``manifest`` and ``df`` are a sweep store's (:meth:`~dslsim.sweep.store.SweepStore.manifest` and
    :meth:`~dslsim.sweep.store.SweepStore.table`).
    """
    axes = list(manifest["axes"])
    rep = HtmlReport(f"dslsim sweep: {manifest['name']}")
    rep.text(f"{len(df)} of {len(manifest['points'])} points finished. Base: profile {manifest['profile']}, "
             f"scenario {manifest['scenario']}, "
             f"{'stack ' + manifest['stack'] if manifest.get('stack') else 'trace ' + str(manifest['trace'])}. "
             f"Axes: {', '.join(axes)}.")
    if df.empty:
        return rep
    df = df.assign(always_on_power_mW=df["always_on_power_W"] * 1e3, latency_p99_ms=df["latency_p99_s"] * 1e3,
                   point=_label(df, axes))
    ok = df["keeps_up"].astype(bool) if "keeps_up" in df else pd.Series(True, index=df.index)
    life = df.loc[ok, "battery_life_h"].dropna()
    if len(life) > 1 and life.median() > 0:
        spread = 100.0 * (life.max() - life.min()) / life.median()
        if spread < resolution_pct:
            rep.text(f"Battery life varies by {spread:.2f} % across the points that keep up: less than "
                     f"{resolution_pct:g} %, the device model's median error on energy per inference where it was "
                     f"validated (STM32 boards at their measured clocks, docs/validation.md; unvalidated profiles "
                     f"are likely less certain), so these points are within the model's uncertainty of each other. "
                     f"The plots below stretch their axes over that spread.", note=True)
    if not ok.all():
        rep.text(f"{int((~ok).sum())} of {len(df)} points do not keep up (a growing queue, or more deadline misses "
                 f"than allowed): they have no battery life, are on no Pareto front and rank last below.", note=True)
    rep.heading("Pareto front: always-on power vs p99 latency")
    front = feasible_front(df, ok, minimize=["always_on_power_mW", "latency_p99_ms"])
    rep.figure("pareto_power_latency", *plots.pareto(df, "always_on_power_mW", "latency_p99_ms", front, "point",
                                                     "always-on power (mW)", "p99 latency (ms)", ok),
               caption="Red: points that keep up and no other such point beats on both power and latency.")
    if "error" in df.columns:
        rep.heading("Pareto front: quality vs battery life")
        qfront = feasible_front(df, ok, minimize=["error"], maximize=["battery_life_h"])
        rep.figure("pareto_quality_battery", *plots.pareto(df, "battery_life_h", "error", qfront, "point",
                                                           "battery life (h)", "mean error of the path taken (err_<path>)",
                                                           ok),
                   caption="Distortion of the path each frame took (the trace's per-path error columns).")
    varying = [a for a in axes if df[a].nunique() > 1] or axes[:1]
    if len(varying) >= 2:
        rep.heading(f"Battery life over {varying[0]} and {varying[1]}")
        rep.figure("heatmap_battery", *plots.heatmap(df, varying[0], varying[1], "battery_life_h", "battery life (h)"),
                   caption="Mean over any other axes.")
    else:
        rep.heading(f"Battery life over {varying[0]}")
        rep.figure("heatmap_battery", *plots.heatmap(df.assign(all="all"), varying[0], "all", "battery_life_h",
                                                     "battery life (h)"))
    rep.heading("All points")
    cols = axes + [c for c in ("keeps_up", "always_on_power_mW", "latency_p99_ms", "deadline_miss_rate", "wakeups",
                               "battery_life_h", "battery_gain_pct", "error", "error_on_label") if c in df.columns]
    best = df.assign(_ok=ok).sort_values(["_ok", "battery_life_h"], ascending=[False, False])
    rep.table("results", best[cols + ["point_id"]],
              caption="Points that keep up first, by battery life; battery_gain_pct is against every frame on the "
                      "dense path.")
    return rep
