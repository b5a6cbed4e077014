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

How each figure is named and shown (label, unit, digits) is in :mod:`dslsim.sim.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any, Iterator

from dslsim.sim.figures import FIGURES, HEADLINE, html_table

#: Latency percentiles reported in the summary.
PERCENTILES = (50, 95, 99)

#: The headline figures a sweep keeps per point (:meth:`Summary.to_row`), beside the per-path shares.
ROW_FIELDS = ("latency_p50_s", "latency_p99_s", "latency_max_s", "deadline_miss_rate", "dropped", "wakeups",
              "transition_energy_J", "compute_power_W", "always_on_power_W", "battery_power_W", "battery_life_h",
              "battery_life_days", "battery_current_A", "battery_pct_per_day", "feature_current_A",
              "feature_pct_per_day", "keeps_up", "baseline_battery_life_h", "battery_gain_h", "battery_gain_pct")


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
    battery indicator counts it), and the same for the feature alone (``feature_*``: the run less the same device
    doing nothing, as Android's always-on budget counts it); NaN when the scenario cannot keep up.
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
    queue_stable: bool
    """No resource is busy for as long as frames arrive (its queue would grow without bound otherwise)."""
    max_miss_rate: float
    """The share of frames that may miss their deadline (dropped ones included) in a run that keeps up."""
    keeps_up: bool
    """The one definition of a run that keeps up: :attr:`queue_stable` and :attr:`deadline_miss_rate` at most
    :attr:`max_miss_rate`. A run that does not keep up has no battery figures (NaN) anywhere."""
    battery_life_drained_h: float
    battery_life_h: float
    battery_life_days: float
    battery_life_ideal_h: float
    battery_model: str
    battery_current_A: float
    charge_per_day_Ah: float
    battery_pct_per_day: float
    idle_device_power_W: float
    """What the same device draws from its battery doing nothing: its floor, and every core in its deepest sleep
    state (or, with none, waiting clock-gated at its lowest operating point), no peripheral streaming."""
    feature_power_W: float
    """The feature's own drain at the battery: :attr:`battery_power_W` less :attr:`idle_device_power_W`."""
    feature_current_A: float
    """The feature's own mean battery current (NaN when the run does not keep up)."""
    feature_charge_per_day_Ah: float
    """The feature's own charge per day."""
    feature_pct_per_day: float
    """The feature's own share of the battery per day, as an always-on budget counts it."""
    miss_shortfall: str | None = field(default=None)
    """Why the run's deadline misses are too many, when a caller judged them otherwise than by the run's overall
    miss rate (a stack: each model against its own deadline and the allowance); None otherwise."""
    baseline_always_on_power_W: float | None = field(default=None)
    baseline_battery_life_h: float | None = field(default=None)
    battery_gain_h: float | None = field(default=None)
    battery_gain_pct: float | None = field(default=None)

    @property
    def shortfall(self) -> str:
        """Why the run does not keep up, in a few words ('' when it does)."""
        if self.keeps_up:
            return ""
        if not self.queue_stable:
            return f"'{self.busiest_resource}' busy {100 * self.max_utilization:.0f} % of the time"
        if self.miss_shortfall:
            return self.miss_shortfall
        dropped = f" ({self.dropped:,} dropped)" if self.dropped else ""
        return (f"{100 * self.deadline_miss_rate:.2f} % of frames missed their {1e3 * self.deadline_s:g} ms "
                f"deadline{dropped}, more than the {100 * self.max_miss_rate:g} % allowed")

    def with_baseline(self, baseline: "Summary") -> "Summary":
        """This summary with the figures against ``baseline`` (the all-dense run's summary) filled in."""
        return replace(self, baseline_always_on_power_W=baseline.always_on_power_W,
                       baseline_battery_life_h=baseline.battery_life_h,
                       battery_gain_h=self.battery_life_h - baseline.battery_life_h,
                       battery_gain_pct=100.0 * (self.battery_life_h / baseline.battery_life_h - 1.0))

    @classmethod
    def from_dict(cls, flat: Mapping[str, Any]) -> "Summary":
        """A summary from its flat form (:meth:`to_dict`, as ``summary.json`` stores it with NaN as null): per-path
        figures from ``share_<path>`` and ``energy_per_frame_<path>_J``; a figure the mapping lacks (a run saved by
        an older dslsim) or holds as null is NaN, a baseline figure None."""
        shares = {k[len("share_"):]: v for k, v in flat.items() if k.startswith("share_")}
        energy = {k[len("energy_per_frame_"):-len("_J")]: v for k, v in flat.items()
                  if k.startswith("energy_per_frame_") and k.endswith("_J")}
        values: dict[str, Any] = {"shares": shares, "energy_per_frame_J": energy}
        for f in fields(cls):
            if f.name not in values:
                value = flat.get(f.name)
                values[f.name] = value if value is not None or f.default is None else float("nan")
        return cls(**values)

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

    def headline(self) -> list[tuple[str, str]]:
        """(label, shown value) of the headline figures (:data:`~dslsim.sim.figures.HEADLINE`), the battery gain
        when a baseline was run, and each path's share."""
        rows = [(FIGURES[k].label, FIGURES[k].format(getattr(self, k))) for k in HEADLINE]
        if self.battery_gain_h is not None:
            gain_h, gain_pct = FIGURES["battery_gain_h"], FIGURES["battery_gain_pct"]
            gain = f"{gain_h.format(self.battery_gain_h)} ({gain_pct.format(self.battery_gain_pct)})"
            rows.insert(HEADLINE.index("battery_life_h") + 1, (gain_h.label, gain))
        share = FIGURES["shares"]
        rows += [(f"{share.label} on '{path}'", share.format(v)) for path, v in self.shares.items()]
        return rows

    def _repr_html_(self) -> str:
        """A notebook's view: the headline figures; every figure is in :meth:`to_dict`."""
        return html_table(self.headline(), f"{self.frames:,} frames over {self.duration_s:.1f} s; all {len(self)} "
                                           f"figures: .to_dict()")
