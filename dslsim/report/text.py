"""Human-readable text for a simulation result: headline figures, then a per-core power breakdown.

Figures are named and formatted as :data:`dslsim.sim.figures.FIGURES` says; this module only lays them out.
"""

from __future__ import annotations

import math

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


def budget_note(summary: Summary, budget_pct_per_day: float | None) -> str:
    """', within the always-on budget of 1 %/day' (or 'over'), or nothing without a budget."""
    if budget_pct_per_day is None:
        return ""
    verdict = "within" if summary.battery_pct_per_day <= budget_pct_per_day else "OVER"
    return f"; {verdict} the always-on budget of {budget_pct_per_day:g} %/day"


def render_summary(result: SimResult, budget_pct_per_day: float | None = None) -> str:
    """A plain-text report of ``result`` (what ``dslsim simulate`` prints); ``budget_pct_per_day``: an always-on
    budget in % of the battery per day to check the run against (Android's guidance for always-on features is
    under 1 %/day)."""
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
    lines.append(f"  compute power       {_mw(s.compute_power_W)}  (cores and links)")
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
        lines.append(f"  battery current     {_show('battery_current_A', s.battery_current_A)} average = "
                     f"{_show('charge_per_day_Ah', s.charge_per_day_Ah)}/day = "
                     f"{_show('battery_pct_per_day', s.battery_pct_per_day)} of the battery per day"
                     f"{budget_note(s, budget_pct_per_day)}")
    else:
        lines.append(f"  battery life        none: cannot keep up ('{s.busiest_resource}' busy "
                     f"{_show('max_utilization', s.max_utilization)} of the time)")
    if s.battery_gain_h is not None and s.keeps_up and math.isfinite(s.baseline_battery_life_h):
        lines.append(f"  vs all-'{m.get('dense_path')}'      "
                     f"{_show('baseline_battery_life_h', s.baseline_battery_life_h)} at "
                     f"{_mw(s.baseline_always_on_power_W)}: gain {_show('battery_gain_h', s.battery_gain_h)} "
                     f"({_show('battery_gain_pct', s.battery_gain_pct)})")
    lines += ["", "  per resource (mean power over the run)"]
    table = result.per_core()
    # Every column is separated by at least two spaces whatever its width (a day has millions of wake-ups).
    width = max([len("resource")] + [len(r) for r in table["resource"]])
    lines.append(f"  {'resource':<{width}}  {'opp':<8}  {'active':>7}  {'static':>12}  {'dynamic':>12}  {'wake':>12}"
                 f"  {'total':>12}  {'wakes':>11}")
    for row in table.itertuples():
        if row.type == "link" and row.total_mW == 0 and row.active_pct == 0:
            continue  # a link no path uses: a row of zeros says nothing
        lines.append(f"  {row.resource:<{width}}  {row.opp:<8}  {row.active_pct:>6.2f}%  {row.static_mW:>9.4f} mW"
                     f"  {row.dynamic_mW:>9.4f} mW  {row.transitions_mW:>9.4f} mW  {row.total_mW:>9.4f} mW"
                     f"  {row.wakeups:>11,}")
    return "\n".join(lines)
