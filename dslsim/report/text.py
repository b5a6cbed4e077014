"""Human-readable text for a simulation result: headline figures, then a per-core power breakdown.

Figures are named and formatted as :data:`dslsim.sim.figures.FIGURES` says; this module only lays them out.
"""

from __future__ import annotations

import math
from typing import Any

from dslsim.sim.figures import FIGURES
from dslsim.sim.results import SimResult
from dslsim.sim.summary import PERCENTILES, Summary


def _show(key: str, value) -> str:
    """``value`` formatted as the figure ``key`` is (its unit, scale and digits)."""
    return FIGURES[key].format(value)


def _n(key: str, value) -> str:
    """The number alone, as the figure ``key`` shows it (a count: '32,713')."""
    return FIGURES[key].number(value)


def _mw(watts: float) -> str:
    return _show("compute_power_W", watts)


def budget_line(summary: Summary, budget: dict[str, Any] | None) -> str:
    """The budget verdict as a report line's tail ('; within the always-on budget of 1 %/day (the feature's own
    drain)'), or nothing without a budget (:func:`dslsim.sim.budget.check_budget`)."""
    if budget is None:
        return ""
    what = "the feature's own drain" if budget["of"] == "feature" else "the device's total drain"
    if budget["within"] is None:
        return f"; no verdict on the {budget['budget_pct_per_day']:g} %/day budget: the run does not keep up"
    verdict = "within" if budget["within"] else "OVER"
    return f"; {verdict} the always-on budget of {budget['budget_pct_per_day']:g} %/day ({what})"


def render_summary(result: SimResult, budget: dict[str, Any] | None = None) -> str:
    """A plain-text report of ``result`` (what ``dslsim simulate`` prints); ``budget``: the verdict of an
    always-on budget check (:func:`dslsim.sim.budget.check_budget`), shown on the line it was checked against."""
    s, m = result.summary, result.meta
    lines = [f"dslsim: profile '{m.get('profile')}', scenario '{m.get('scenario')}', "
             f"{_n('frames', s.frames)} frames over {_show('duration_s', s.duration_s)}", ""]
    shares = ", ".join(f"{path} {_show('shares', v)}" for path, v in s.shares.items())
    lines.append(f"  paths               {shares}")
    lat = "  ".join(f"p{p} {_show(f'latency_p{p}_s', getattr(s, f'latency_p{p}_s'))}" for p in PERCENTILES)
    lines.append(f"  latency             {lat}  max {_show('latency_max_s', s.latency_max_s)}")
    lines.append(f"  deadline            {_show('deadline_s', s.deadline_s)}: "
                 f"{_n('deadline_misses', s.deadline_misses)} missed "
                 f"({_show('deadline_miss_rate', s.deadline_miss_rate)}), {_n('dropped', s.dropped)} dropped")
    per_frame = ", ".join(f"{path} {_show('energy_per_frame_J', v)}" for path, v in s.energy_per_frame_J.items()
                          if math.isfinite(v))
    lines.append(f"  energy per frame    {per_frame}  (active power while running, dynamic, wake-ups, links)")
    lines.append(f"  wake-ups            {_n('wakeups', s.wakeups)}, costing "
                 f"{_show('transition_energy_J', s.transition_energy_J)} "
                 f"({_mw(s.transition_energy_J / s.duration_s)} on average)")
    lines += _power_lines(s, budget)
    if s.battery_gain_h is not None and s.keeps_up and math.isfinite(s.baseline_battery_life_h):
        lines.append(f"  vs all-'{m.get('dense_path')}'      "
                     f"{_show('baseline_battery_life_h', s.baseline_battery_life_h)} at "
                     f"{_mw(s.baseline_always_on_power_W)}: gain {_show('battery_gain_h', s.battery_gain_h)} "
                     f"({_show('battery_gain_pct', s.battery_gain_pct)})")
    lines += _resource_lines(result)
    return "\n".join(lines)


def _power_lines(s: Summary, budget: dict[str, Any] | None) -> list[str]:
    """The power and battery lines of a report: compute, always-on, battery draw, life, current, the feature's
    own drain (or why there is no battery figure)."""
    lines = [f"  compute power       {_mw(s.compute_power_W)}  (cores and links)"]
    floor = f"platform floor {_mw(s.floor_power_W)} at the rails"
    if s.floor_battery_side_W:
        floor += f", {_mw(s.floor_battery_side_W)} at the battery"
    lines.append(f"  always-on power     {_mw(s.always_on_power_W)}  (compute {_mw(s.compute_power_W)} "
                 f"+ {floor})")
    lines.append(f"  battery draw        {_mw(s.battery_power_W)}  (after converter losses)")
    if s.keeps_up:
        ideal = _show("battery_life_ideal_h", s.battery_life_ideal_h)
        model = "" if s.battery_life_h == s.battery_life_ideal_h else \
            f"  ({s.battery_model} battery model; an ideal reservoir: {ideal})"
        lines.append(f"  battery life        {_show('battery_life_h', s.battery_life_h)} = "
                     f"{_show('battery_life_days', s.battery_life_days)}{model}")
        total_budget = budget if budget is not None and budget["of"] == "total" else None
        feature_budget = budget if budget is not None and budget["of"] == "feature" else None
        lines.append(f"  battery current     {_show('battery_current_A', s.battery_current_A)} average = "
                     f"{_show('charge_per_day_Ah', s.charge_per_day_Ah)}/day = "
                     f"{_show('battery_pct_per_day', s.battery_pct_per_day)} of the battery per day"
                     f"{budget_line(s, total_budget)}")
        lines.append(f"  feature's own       {_show('feature_current_A', s.feature_current_A)} = "
                     f"{_show('feature_charge_per_day_Ah', s.feature_charge_per_day_Ah)}/day = "
                     f"{_show('feature_pct_per_day', s.feature_pct_per_day)} of the battery per day "
                     f"(the device doing nothing draws {_mw(s.idle_device_power_W)}){budget_line(s, feature_budget)}")
    else:
        lines.append(f"  battery life        none: cannot keep up ({s.shortfall}){budget_line(s, budget)}")
    return lines


def _resource_lines(result: SimResult) -> list[str]:
    """The per-resource table of a report (mean power by state, wake-ups)."""
    lines = ["", "  per resource (mean power over the run)"]
    table = result.per_core()
    # Every column is separated by at least two spaces whatever its width (a day has millions of wake-ups).
    width = max([len("resource")] + [len(r) for r in table["resource"]])
    columns = ("running", "idle", "sleep", "dynamic", "wake-ups", "total")
    lines.append(f"  {'resource':<{width}}  {'opp':<8}  {'busy':>7}" + "".join(f"  {c:>12}" for c in columns)
                 + f"  {'wakes':>11}")
    for row in table.itertuples():
        if row.type == "link" and row.total_mW == 0 and row.active_pct == 0:
            continue  # a link no path uses: a row of zeros says nothing
        values = (row.running_mW, row.idle_mW, row.sleep_mW, row.dynamic_mW, row.transitions_mW, row.total_mW)
        lines.append(f"  {row.resource:<{width}}  {row.opp:<8}  {row.active_pct:>6.2f}%"
                     + "".join(f"  {v:>9.4f} mW" for v in values) + f"  {row.wakeups:>11,}")
    lines.append("  (running, idle, sleep: each state's power for its time; dynamic: energy per op on top of "
                 "running; wake-ups: transition energy)")
    return lines


def _cell(value: Any, fmt: str, scale: float = 1.0) -> str:
    """A table cell: ``value * scale`` formatted, or '-' for a missing figure."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value * scale, fmt)


def attribution_lines(result: SimResult) -> list[str]:
    """The per-model attribution table of a stack's result (:func:`dslsim.sim.stack_run.attribution`) as text."""
    t = result.models
    ungated = "ungated_pct_per_day" in t.columns
    head = (f"  {'part':<22} {'prio':>4}  {'calls':>11} {'made':>6}  {'busy':>7}  {'uJ/call':>8}  {'p50 ms':>7}"
            f"  {'p99 ms':>7}  {'deadline':>8}  {'missed':>7}  {'mW (batt)':>10}  {'mAh/day':>8}  {'%/day':>7}"
            + (f"  {'ungated %/day':>13}" if ungated else ""))
    lines = ["", "  per model (its calls' energy, and its share by busy time of its cores' waiting above rest; "
                 "docs/stacks.md)", head]
    for row in t.itertuples():
        is_model = row.kind == "model"
        made = row.calls / row.ungated_calls if ungated and is_model and row.ungated_calls else math.nan
        cells = [f"  {row.part:<22}", f"{_cell(row.priority, '.0f') if is_model else '':>4}",
                 f"{_cell(row.calls, ',.0f') if row.kind != 'device' else '':>11}",
                 f"{_cell(made, '.1%') if is_model and ungated else '':>6}",
                 f"{_cell(row.busy_pct, '.3f') + '%' if is_model else '':>7}",
                 f"{_cell(row.energy_per_call_uJ, '.2f') if is_model else '':>8}",
                 f"{_cell(row.latency_p50_s, '.3f', 1e3) if is_model else '':>7}",
                 f"{_cell(row.latency_p99_s, '.3f', 1e3) if is_model else '':>7}",
                 f"{_cell(row.deadline_s, '.3g', 1e3) + ' ms' if is_model else '':>8}",
                 f"{_cell(row.deadline_miss_rate, '.2%') if is_model else '':>7}",
                 f"{_cell(row.power_mW, '.4f'):>10}", f"{_cell(row.mAh_per_day, '.3f'):>8}",
                 f"{_cell(row.pct_per_day, '.4f'):>7}"]
        if ungated:
            cells.append(f"{_cell(row.ungated_pct_per_day, '.4f'):>13}")
        lines.append(" ".join(cells[:2]) + "  " + "  ".join(cells[2:]).replace("   ", "   "))
    lines.append("  (made: its calls against its full rate; busy: share of the run its jobs ran; mW, mAh and % of the "
                 "battery at the battery, after the converter; the rows add up to the battery draw)")
    return lines


def render_stack(result: SimResult, budget: dict[str, Any] | None = None) -> str:
    """A plain-text report of a stack's result (what ``dslsim simulate --stack`` prints): the device's figures, the
    per-model attribution table, the gain against every model ungated, and the per-resource table."""
    s, m = result.summary, result.meta
    models = m.get("models", {})
    lines = [f"dslsim: profile '{m.get('profile')}', stack '{m.get('stack')}' ({len(models)} models: "
             f"{', '.join(models)}), scenario '{m.get('scenario')}', {_n('frames', s.frames)} calls over "
             f"{_show('duration_s', s.duration_s)}"]
    lines += attribution_lines(result)
    lines += ["", f"  latency             over every call: p50 {_show('latency_p50_s', s.latency_p50_s)}  p99 "
                  f"{_show('latency_p99_s', s.latency_p99_s)}  max {_show('latency_max_s', s.latency_max_s)}; "
                  f"{_n('deadline_misses', s.deadline_misses)} missed their model's deadline, "
                  f"{_n('dropped', s.dropped)} dropped",
              f"  wake-ups            {_n('wakeups', s.wakeups)}, costing "
              f"{_show('transition_energy_J', s.transition_energy_J)} "
              f"({_mw(s.transition_energy_J / s.duration_s)} on average)"]
    lines += _power_lines(s, budget)
    if s.battery_gain_h is not None and s.keeps_up and math.isfinite(s.baseline_battery_life_h):
        lines.append(f"  vs ungated          {_show('baseline_battery_life_h', s.baseline_battery_life_h)} at "
                     f"{_mw(s.baseline_always_on_power_W)} with every model at its full rate: the gates gain "
                     f"{_show('battery_gain_h', s.battery_gain_h)} ({_show('battery_gain_pct', s.battery_gain_pct)})")
    lines += _resource_lines(result)
    return "\n".join(lines)


def uncertainty_text(spread: dict[str, tuple[float, float, float]], draws: int, seed: int) -> str:
    """The --uncertainty bands as text lines (:func:`dslsim.sim.uncertainty.bands`)."""
    lines = [f"  uncertainty ({draws} draws of the profile's power numbers, seed {seed}; 5-95 % band, median)"]
    for key in ("always_on_power_W", "battery_power_W", "battery_life_h", "feature_pct_per_day"):
        if key in spread:
            lo, mid, hi = spread[key]
            label = FIGURES[key].label
            lines.append(f"  {label:<34} {FIGURES[key].number(lo)} - {FIGURES[key].number(hi)} "
                         f"{FIGURES[key].unit} (median {FIGURES[key].format(mid)})")
    lines.append("  (covers the stated ranges of currents, powers, energies and capacity; not timing, correlations "
                 "or the battery model: docs/simulation.md)")
    return "\n".join(lines)
