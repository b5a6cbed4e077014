"""The headline figures of a run, named once: each summary figure's label, the unit reports show it in, the scale
from its SI field to that unit and how many digits it gets. Text report, HTML report, comparison, notebook views
and sweep rows read them here, so a figure is called and shown the same way everywhere.

>>> FIGURES["always_on_power_W"].format(0.003418)
'3.418 mW'
>>> FIGURES["battery_gain_pct"].format(113.84), FIGURES["wakeups"].format(32713)
('+113.8 %', '32,713')
>>> FIGURES["latency_p99_s"].format(float("nan"))
'n/a'
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Figure:
    """How one summary figure is named and shown."""

    key: str
    """The :class:`~dslsim.sim.summary.Summary` field (and flat key) it reads, in SI units."""
    label: str
    """What reports call it ('always-on power')."""
    unit: str = ""
    """The unit it is shown in ('mW'; what a count counts, 'frames', which tables name in a unit column)."""
    scale: float = 1.0
    """Factor from the field's SI unit to :attr:`unit` (1e3 for W to mW)."""
    digits: int | None = 3
    """Digits after the point; None for a count (whole number with thousands separators)."""
    signed: bool = False
    """Whether a plus sign is shown (a gain or a delta)."""

    def shown(self, value: Any) -> float:
        """``value`` (SI) in the shown unit; NaN for a missing value."""
        return float("nan") if value is None else float(value) * self.scale

    def number(self, value: Any) -> str:
        """The number alone, e.g. '3.418'; 'n/a' for a missing or non-finite value."""
        x = self.shown(value)
        if not math.isfinite(x):
            return "n/a"
        sign = "+" if self.signed else ""
        return f"{int(round(x)):{sign},}" if self.digits is None else f"{x:{sign}.{self.digits}f}"

    def format(self, value: Any) -> str:
        """The number with its unit, e.g. '3.418 mW' (a count bare, '32,713'); 'n/a' for a missing or non-finite
        value."""
        text = self.number(value)
        return text if text == "n/a" or self.digits is None else f"{text} {self.unit}"


def _figures(*figures: Figure) -> dict[str, Figure]:
    return {f.key: f for f in figures}


#: Every figure a report shows, by summary field. ``shares`` and ``energy_per_frame_J`` are per path.
FIGURES: dict[str, Figure] = _figures(
    Figure("frames", "frames", digits=None),
    Figure("duration_s", "simulated time", "s", digits=1),
    Figure("shares", "share", "%", 100.0, 1),
    Figure("latency_p50_s", "latency p50", "ms", 1e3),
    Figure("latency_p95_s", "latency p95", "ms", 1e3),
    Figure("latency_p99_s", "latency p99", "ms", 1e3),
    Figure("latency_max_s", "latency max", "ms", 1e3),
    Figure("deadline_s", "deadline", "ms", 1e3),
    Figure("deadline_misses", "missed deadlines", "frames", digits=None),
    Figure("deadline_miss_rate", "deadline misses", "%", 100.0, 2),
    Figure("dropped", "dropped frames", "frames", digits=None),
    Figure("energy_per_frame_J", "energy per frame", "uJ", 1e6, 2),
    Figure("wakeups", "wake-ups", "count", digits=None),
    Figure("transition_energy_J", "wake-up energy", "mJ", 1e3),
    Figure("compute_power_W", "compute power", "mW", 1e3),
    Figure("floor_power_W", "platform floor", "mW", 1e3),
    Figure("floor_battery_side_W", "platform floor at the battery", "mW", 1e3),
    Figure("always_on_power_W", "always-on power", "mW", 1e3),
    Figure("battery_power_W", "battery draw", "mW", 1e3),
    Figure("max_utilization", "busiest resource utilisation", "%", 100.0, 0),
    Figure("battery_life_h", "battery life", "h", digits=1),
    Figure("battery_life_days", "battery life", "days", digits=2),
    Figure("battery_life_ideal_h", "battery life, ideal reservoir", "h", digits=1),
    Figure("battery_current_A", "mean battery current", "mA", 1e3),
    Figure("charge_per_day_Ah", "charge per day", "mAh", 1e3, 2),
    Figure("battery_pct_per_day", "battery per day", "%", digits=2),
    Figure("idle_device_power_W", "the device doing nothing", "mW", 1e3),
    Figure("feature_power_W", "the feature's own drain", "mW", 1e3),
    Figure("feature_current_A", "the feature's own current", "mA", 1e3),
    Figure("feature_charge_per_day_Ah", "the feature's own charge per day", "mAh", 1e3, 2),
    Figure("feature_pct_per_day", "the feature's own battery per day", "%", digits=2),
    Figure("max_miss_rate", "deadline misses allowed", "%", 100.0, 2),
    Figure("baseline_always_on_power_W", "all-dense always-on power", "mW", 1e3),
    Figure("baseline_battery_life_h", "all-dense battery life", "h", digits=1),
    Figure("battery_gain_h", "battery gain vs all-dense", "h", digits=1, signed=True),
    Figure("battery_gain_pct", "battery gain vs all-dense", "%", digits=1, signed=True),
)

#: The headline figures, in reading order: what a comparison of two runs and a notebook view show first.
HEADLINE = ("always_on_power_W", "compute_power_W", "battery_power_W", "battery_life_h", "latency_p50_s",
            "latency_p99_s", "deadline_miss_rate", "dropped", "wakeups", "max_utilization")


def html_table(rows: Iterable[tuple[str, str]], caption: str = "") -> str:
    """A two-column (figure, value) HTML table for a notebook, escaped, with an optional caption below it (the
    caption alone when there are no rows)."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
                   f"<td style='text-align:right'>{html.escape(value)}</td></tr>" for label, value in rows)
    note = f"<div style='font-size:smaller;color:#555'>{html.escape(caption)}</div>" if caption else ""
    return (f"<table>{body}</table>" if body else "") + note
