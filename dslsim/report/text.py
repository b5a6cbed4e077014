"""Human-readable text for a simulation result: headline figures, then a per-core power breakdown."""

from __future__ import annotations

import math

from dslsim.sim.results import PERCENTILES, SimResult


def _ms(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x * 1e3:.3f} ms"


def _mw(x: float) -> str:
    return f"{x * 1e3:.3f} mW"


def budget_note(summary, budget_pct_per_day: float | None) -> str:
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
             f"{s['frames']:,} frames over {s['duration_s']:.1f} s", ""]
    shares = ", ".join(f"{path} {100 * v:.1f} %" for path, v in s.shares.items())
    lines.append(f"  paths               {shares}")
    lat = "  ".join(f"p{p} {_ms(s[f'latency_p{p}_s'])}" for p in PERCENTILES)
    lines.append(f"  latency             {lat}  max {_ms(s['latency_max_s'])}")
    lines.append(f"  deadline            {_ms(s['deadline_s'])}: {s['deadline_misses']:,} missed "
                 f"({100 * s['deadline_miss_rate']:.2f} %), {s['dropped']:,} dropped")
    per_frame = ", ".join(f"{path} {v * 1e6:.2f} uJ" for path, v in s.energy_per_frame_J.items() if math.isfinite(v))
    lines.append(f"  energy per frame    {per_frame}  (active power while running, dynamic, wake-ups, links)")
    lines.append(f"  wake-ups            {s['wakeups']:,}, costing {s['transition_energy_J'] * 1e3:.3f} mJ "
                 f"({_mw(s['transition_energy_J'] / s['duration_s'])} on average)")
    lines.append(f"  compute power       {_mw(s['compute_power_W'])}  (cores and links)")
    floor = f"platform floor {_mw(s['floor_power_W'])} at the rails"
    if s.get("floor_battery_side_W"):
        floor += f", {_mw(s['floor_battery_side_W'])} at the battery"
    lines.append(f"  always-on power     {_mw(s['always_on_power_W'])}  (compute {_mw(s['compute_power_W'])} "
                 f"+ {floor})")
    lines.append(f"  battery draw        {_mw(s['battery_power_W'])}  (after converter losses)")
    if s["keeps_up"]:
        model = "" if s.battery_life_h == s.battery_life_ideal_h else \
            f"  ({s.battery_model} battery model; an ideal reservoir: {s.battery_life_ideal_h:.1f} h)"
        lines.append(f"  battery life        {s['battery_life_h']:.1f} h = {s['battery_life_days']:.2f} days{model}")
        lines.append(f"  battery current     {1e3 * s.battery_current_A:.3f} mA average = "
                     f"{1e3 * s.charge_per_day_Ah:.2f} mAh/day = {s.battery_pct_per_day:.2f} % of the battery per day"
                     f"{budget_note(s, budget_pct_per_day)}")
    else:
        lines.append(f"  battery life        none: cannot keep up ('{s['busiest_resource']}' busy "
                     f"{100 * s['max_utilization']:.0f} % of the time)")
    if s.battery_gain_h is not None and s.keeps_up and math.isfinite(s.baseline_battery_life_h):
        lines.append(f"  vs all-'{m.get('dense_path')}'      {s['baseline_battery_life_h']:.1f} h at "
                     f"{_mw(s['baseline_always_on_power_W'])}: gain {s['battery_gain_h']:+.1f} h "
                     f"({s['battery_gain_pct']:+.1f} %)")
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
