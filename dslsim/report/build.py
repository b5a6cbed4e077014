"""Build the HTML reports: one simulation (with named baselines and timelines), one stack of models (with each
model's share of the battery draw) or one sweep.

A stack's report is a simulation's report in a stack's words (calls, each against its model's deadline; the gain
against every model ungated): the same verdict, cards and summary, with the attribution table in front."""

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


def label(result: SimResult, key: str, text: str | None = None) -> str:
    """The label of figure ``key`` (or ``text``) as a report shows it: :data:`FIGURES`' own, in a stack's words for
    a stack's result (calls, not frames; the gain is against every model ungated)."""
    text = text or FIGURES[key].label
    if result.models is None:
        return text
    if key.startswith("battery_gain"):
        return "battery gain vs ungated"
    return text.replace("frames", "calls").replace("frame", "call").replace("the feature's", "the stack's")


def summary_table(result: SimResult) -> pd.DataFrame:
    """Every figure of the summary as (figure, value) rows, named and shown as :data:`FIGURES` says (a stack's in
    its words, :func:`label`)."""
    s = result.summary

    def row(key: str, text: str | None = None, also: str = "") -> tuple[str, str]:
        return label(result, key, text), FIGURES[key].format(getattr(s, key)) + also

    share, energy = FIGURES["shares"], FIGURES["energy_per_frame_J"]
    rows = [row("frames"), row("duration_s")]
    rows += [(label(result, "shares", f"{share.label} on '{path}'"), share.format(v)) for path, v in s.shares.items()]
    rows += [row(f"latency_{k}_s") for k in ("p50", "p95", "p99", "max")]
    # A stack has no deadline of its own: each model's is in its table.
    rows += [row("deadline_s") if result.models is None else ("deadline", "each model's own (per-model table)")]
    rows += [row("deadline_miss_rate"), row("dropped"), row("wakeups"), row("transition_energy_J")]
    rows += [(label(result, "energy_per_frame_J", f"energy per '{path}' frame"), energy.format(v))
             for path, v in s.energy_per_frame_J.items() if math.isfinite(v)]
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

    def card(key: str, text: str | None = None) -> tuple[str, str]:
        value = FIGURES[key].format(getattr(s, key))
        if key in spread:
            lo, _, hi = spread[key]
            value += f" ({FIGURES[key].number(lo)}-{FIGURES[key].number(hi)})"
        return label(result, key, text) + (", 5-95 % band" if key in spread else ""), value

    if not s.keeps_up:
        return ([card("always_on_power_W"), card("latency_p99_s"), card("deadline_miss_rate"),
                 card("max_utilization")], False,
                f"Does not keep up: {s.shortfall}. No battery life, charge or gain is reported.")
    cards = [card("battery_life_h"), card("always_on_power_W"), card("charge_per_day_Ah", "charge per day"),
             card("battery_pct_per_day", "of the battery per day"),
             card("feature_pct_per_day", "the feature's own, per day")]
    if s.battery_gain_pct is not None:
        cards.insert(1, card("battery_gain_pct"))
    missed, each = ("frames miss their deadline", "") if result.models is None else \
        ("calls miss their model's deadline", "each model ")
    verdict = (f"Keeps up: every queue drains, {FIGURES['deadline_miss_rate'].format(s.deadline_miss_rate)} of "
               f"{missed} ({each}at most {FIGURES['max_miss_rate'].format(s.max_miss_rate)} allowed).")
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
    _unsourced(rep, profile)
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
    _energy_section(rep, result)
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


#: The columns of a stack's attribution table (``SimResult.models``) as its report shows them, in two tables: who
#: pays (every row) and each model's calls against its deadline (the models' rows). Each column: (column, header with
#: its unit, scale to that unit, format spec of a cell). A column not listed is shown as it is, in the first table.
MODEL_COLUMNS = {
    "models": (
        ("part", "part", None, None), ("kind", "kind", None, None), ("priority", "priority", 1.0, ".0f"),
        ("gate", "gate", None, None), ("calls", "calls", 1.0, ",.0f"), ("ungated_calls", "ungated calls", 1.0, ",.0f"),
        ("calls_per_s", "calls/s", 1.0, ".4g"), ("busy_pct", "busy (%)", 1.0, ".3f"),
        ("energy_per_call_uJ", "energy per call (uJ)", 1.0, ".3f"), ("energy_J", "energy (J)", 1.0, ".4f"),
        ("power_mW", "power at the battery (mW)", 1.0, ".4f"), ("current_mA", "current (mA)", 1.0, ".4f"),
        ("mAh_per_day", "mAh/day", 1.0, ".3f"), ("pct_per_day", "battery %/day", 1.0, ".4f"),
        ("share_pct", "share of the draw (%)", 1.0, ".2f"),
        ("ungated_pct_per_day", "ungated battery %/day", 1.0, ".4f")),
    "model_latency": (
        ("part", "part", None, None), ("rate_hz", "rate (Hz)", 1.0, ".4g"), ("calls", "calls", 1.0, ",.0f"),
        ("deadline_s", "deadline (ms)", 1e3, ".4g"), ("latency_p50_s", "p50 latency (ms)", 1e3, ".3f"),
        ("latency_p95_s", "p95 latency (ms)", 1e3, ".3f"), ("latency_p99_s", "p99 latency (ms)", 1e3, ".3f"),
        ("latency_max_s", "max latency (ms)", 1e3, ".3f"), ("deadline_misses", "deadline misses", 1.0, ",.0f"),
        ("dropped", "dropped calls", 1.0, ",.0f"), ("deadline_miss_rate", "deadline miss rate (%)", 100.0, ".2f"),
        ("keeps_up", "keeps up", None, "")),
}


def model_tables(result: SimResult) -> dict[str, tuple[pd.DataFrame, dict[str, str]]]:
    """A stack's attribution table as its report shows it, by table name (:data:`MODEL_COLUMNS`): every column of
    ``result.models`` in one of them, headed with its unit and scaled to it, and each listed column's format spec.
    A run that does not keep up has no battery figure: its shares of the draw are left out too."""
    t = result.models.copy()
    if not result.summary.keeps_up:
        t["share_pct"] = math.nan
    listed = {c for columns in MODEL_COLUMNS.values() for c, *_ in columns}
    tables = {}
    for name, columns in MODEL_COLUMNS.items():
        rows = t if name == "models" else t[t["kind"] == "model"]
        out, formats = {}, {}
        for column, header, scale, spec in columns:
            if column in rows:
                out[header] = rows[column] * scale if scale is not None else rows[column]
                if spec is not None:
                    formats[header] = spec
        if name == "models":
            out.update({c: rows[c] for c in rows.columns if c not in listed})
        tables[name] = (pd.DataFrame(out).reset_index(drop=True), formats)
    return tables


def ungated_table(result: SimResult) -> pd.DataFrame:
    """A stack's run against its ungated run (every model at its full rate), in the columns of
    :func:`~dslsim.sim.baselines.named_baselines`; ``scenario_gain_pct`` is how much longer the stack lasts."""
    from dslsim.sim.baselines import comparison_table

    return comparison_table([("stack", "as configured: each model gated by its gate", result.summary),
                             ("ungated", "every model at its full rate, no gates", result.baseline)])


def stack_report(result: SimResult, profile: Profile) -> HtmlReport:
    """Report for one stack of models (:func:`~dslsim.sim.stack_run.simulate_stack`'s result): the verdict and
    headline figures as for one simulation, each model's share of the battery draw (figure and table), the run
    against every model ungated, the summary, and where the energy goes. Nothing is simulated here."""
    m = result.meta
    models = m.get("models", {})
    rep = HtmlReport(f"dslsim: {profile.name} / stack {m.get('stack')} / {m.get('scenario', '')}")
    rep.headline(*headline_cards(result), result.warnings)
    inputs = "; ".join(f"{name} from {'trace' if info.get('kind') == 'trace' else 'model file'} {info.get('source')}"
                       for name, info in models.items())
    rep.text(f"Profile {profile.source_file}; scenario '{m.get('scenario', '')}'; stack file {m.get('stack_file')} "
             f"(stack '{m.get('stack')}'): {FIGURES['frames'].number(result.summary.frames)} calls over "
             f"{FIGURES['duration_s'].format(result.summary.duration_s)} of {len(models)} models: {inputs}.")
    _unsourced(rep, profile)
    rep.heading("Who pays for what: each model's share of the battery draw")
    if result.summary.keeps_up:
        rep.figure("model_shares", *plots.model_shares(result.models),
                   caption="Each model's calls' energy plus its share, by busy time, of its cores' waiting above "
                           "rest; the rows that are no model's apart (docs/stacks.md). Each bar is labelled with "
                           "its share, its power at the battery and its % of the battery per day; the bars add up "
                           "to the battery draw.")
    else:
        rep.text("The stack does not keep up: there is no battery draw to share, and no model has a battery figure. "
                 "The table gives each model's calls, latency and deadline misses.", note=True)
    tables = model_tables(result)
    rep.table("models", tables["models"][0], formats=tables["models"][1],
              caption="One row per model, then the rows that are no model's, then the total. Power, current, mAh "
                      "and % of the battery at the battery, after the converter; the rows add up to the total. "
                      "busy: share of the run its jobs ran; energy per call: its calls' own energy; ungated: the "
                      "same stack with every model at its full rate.")
    rep.table("model_latency", tables["model_latency"][0], formats=tables["model_latency"][1],
              caption="Each model's calls against its own deadline (dropped calls count as misses). A model keeps "
                      "up when no core's queue grows without bound and at most the allowed share of its calls "
                      "miss.")
    if result.baseline is not None:
        rep.heading("Battery life against the ungated run")
        base = ungated_table(result)
        if base["keeps_up"].any():      # neither keeping up: a figure of two labels and no bar says no more
            rep.figure("battery_comparison", *plots.battery_comparison(base),
                       caption="The stack as its gates run it, and every model at its full rate. A run that does "
                               "not keep up has no battery life and no bar; it is labelled.")
        rep.table("baselines", base, caption="scenario_gain_pct: how much longer the stack lasts than each row.")
    rep.heading("Summary")
    rep.table("summary", summary_table(result),
              caption="The device's figures over every call: latency percentiles mix the models (each model's are "
                      "in its row above).")
    rep.heading("Where the figures come from")
    rep.table("contributors", contributors(result), float_format="{:,.3f}",
              caption="The battery draw split by what pays for it, largest first, with the profile numbers behind "
                      "each and their sources.")
    _energy_section(rep, result)
    return rep


def _energy_section(rep: HtmlReport, result: SimResult) -> None:
    """Where the energy goes: the battery draw per core and link, and the per-core table."""
    rep.heading("Where the energy goes")
    rep.figure("energy_breakdown", *plots.energy_breakdown(result),
               caption="Mean power drawn from the battery: per core and link (residency in each power state, dynamic "
                       "op energy, wake-up transitions), the platform floor and the converter's loss; the bars add "
                       "up to the battery draw.")
    rep.table("per_core", result.per_core())


def _unsourced(rep: HtmlReport, profile: Profile) -> None:
    """A note on the profile numbers that carry no source, if any."""
    if profile.unsourced:
        rep.text(f"Warning: {len(profile.unsourced)} profile numbers carry no source: "
                 f"{', '.join(profile.unsourced[:10])}.", note=True)


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
