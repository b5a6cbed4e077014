"""The headline figures of one simulation: a frozen, typed record, and the one place its fields are defined.

It reads like the flat mapping it replaces (``summary["battery_life_h"]``, ``summary.items()``; per-path figures
as ``share_<path>`` and ``energy_per_frame_<path>_J``) and has typed attributes (``summary.battery_life_h``,
``summary.shares["light"]``). :meth:`Summary.to_dict` is the flat form for JSON and tables, :meth:`to_row` the
headline subset a sweep keeps per point.

>>> from dslsim.sim.run import simulate
>>> s = simulate("earbud", "dsl-75hz-10min").summary
>>> round(s.battery_life_h, 1) == round(s["battery_life_h"], 1), sorted(s.shares)
(True, ['full', 'light'])
>>> "battery_gain_pct" in s.to_row()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any, Iterator

#: Latency percentiles reported in the summary.
PERCENTILES = (50, 95, 99)

#: The headline figures a sweep keeps per point (:meth:`Summary.to_row`), beside the per-path shares.
ROW_FIELDS = ("latency_p50_s", "latency_p99_s", "latency_max_s", "deadline_miss_rate", "dropped", "wakeups",
              "transition_energy_J", "compute_power_W", "always_on_power_W", "battery_power_W", "battery_life_h",
              "battery_life_days", "battery_current_A", "battery_pct_per_day", "keeps_up", "baseline_battery_life_h", "battery_gain_h", "battery_gain_pct")


@dataclass(frozen=True, eq=False)
class Summary(Mapping):
    """Headline figures of a run, SI units in the names (``_s``, ``_W``, ``_J``, ``_h``).

    ``shares`` and ``energy_per_frame_J`` are by path name. The ``baseline_*`` and ``battery_gain_*`` figures
    are set when the run was compared with its all-dense baseline (:meth:`with_baseline`), else None (and left
    out of :meth:`to_dict`). ``battery_life_h`` is NaN when the scenario cannot keep up (``keeps_up``); the life
    the drained queue would give is ``battery_life_drained_h``.

    ``battery_life_h`` comes from the profile's battery model (``battery_model``: 'kinetic' for a kinetic battery
    model with rate and recovery effects, else 'ideal'; self-discharge included either way);
    ``battery_life_ideal_h`` is the ideal reservoir's figure beside it (usable energy / battery draw).

    Phone-style figures: ``battery_current_A`` (the mean current drawn from the battery at its nominal voltage),
    ``charge_per_day_Ah`` and ``battery_pct_per_day`` (that charge as a share of the nominal capacity, as a
    battery indicator counts it); NaN when the scenario cannot keep up.
    """

    frames: int
    duration_s: float
    dropped: int
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    latency_max_s: float
    deadline_s: float
    deadline_misses: int
    deadline_miss_rate: float
    shares: dict[str, float]
    energy_per_frame_J: dict[str, float]
    wakeups: int
    transition_energy_J: float
    unattributed_energy_J: float
    compute_energy_J: float
    compute_power_W: float
    floor_power_W: float
    floor_battery_side_W: float
    always_on_power_W: float
    battery_power_W: float
    max_utilization: float
    busiest_resource: str
    keeps_up: bool
    battery_life_drained_h: float
    battery_life_h: float
    battery_life_days: float
    battery_life_ideal_h: float
    battery_model: str
    battery_current_A: float
    charge_per_day_Ah: float
    battery_pct_per_day: float
    baseline_always_on_power_W: float | None = field(default=None)
    baseline_battery_life_h: float | None = field(default=None)
    battery_gain_h: float | None = field(default=None)
    battery_gain_pct: float | None = field(default=None)

    def with_baseline(self, baseline: Mapping) -> "Summary":
        """This summary with the figures against ``baseline`` (the all-dense run's summary) filled in."""
        return replace(self, baseline_always_on_power_W=baseline["always_on_power_W"],
                       baseline_battery_life_h=baseline["battery_life_h"],
                       battery_gain_h=self.battery_life_h - baseline["battery_life_h"],
                       battery_gain_pct=100.0 * (self.battery_life_h / baseline["battery_life_h"] - 1.0))

    @cached_property
    def _flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "shares":
                out.update({f"share_{p}": v for p, v in value.items()})
            elif f.name == "energy_per_frame_J":
                out.update({f"energy_per_frame_{p}_J": v for p, v in value.items()})
            elif value is not None:
                out[f.name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The flat form: every figure under its key, per-path figures as ``share_<path>`` and
        ``energy_per_frame_<path>_J``."""
        return dict(self._flat)

    def to_row(self) -> dict[str, Any]:
        """The headline figures a sweep keeps per point (:data:`ROW_FIELDS` that are set, and the shares)."""
        flat = self._flat
        row = {k: flat[k] for k in ROW_FIELDS if k in flat}
        row.update({f"share_{p}": v for p, v in self.shares.items()})
        return row

    def __getitem__(self, key: str) -> Any:
        return self._flat[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def __repr__(self) -> str:
        return (f"Summary({self.frames:,} frames, always-on {1e3 * self.always_on_power_W:.3f} mW, "
                f"battery {self.battery_life_h:.1f} h)")
