"""Turn raw engine output into the DataFrames a user keeps: per frame, per resource, and a summary."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dslsim.sim.accumulate import FrameTotals
from dslsim.sim.engine import EngineOutput, State
from dslsim.sim.figures import html_table
from dslsim.sim.plan import Plan
from dslsim.sim.summary import PERCENTILES, Summary


@dataclass(repr=False)
class SimResult:
    """Results of one simulation.

    * ``frames``: one row per frame (path, ready, start, end, latency_s, energy_J, wakeups, cores, dropped);
    * ``resources``: one row per core or link and component (a power state with its residency, or the
      'dynamic' / 'transitions' energy), with time_s, energy_J and mean power_W (SI throughout); ``wakeups`` is on the
      'transitions' row only, so summing the column counts each wake-up once;
    * ``summary``: the headline figures, a :class:`~dslsim.sim.summary.Summary` (typed attributes; reads as a
      flat mapping with SI units in the key names);
    * ``baseline``: the summary of the all-dense-path run on the same scenario, when computed;
    * ``timeline``: when a window was asked for, every state interval overlapping it (resource, state,
      start_s, end_s, power_W with the job's dynamic power included while active), clipped to the window.
    """

    frames: pd.DataFrame
    resources: pd.DataFrame
    summary: Summary
    baseline: Summary | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    timeline: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    """Things the user should know before trusting the figures (a scenario that cannot keep up, an idle core
    that never sleeps), one sentence each."""
    models: pd.DataFrame | None = None
    """For a stack (:func:`dslsim.sim.stack_run.simulate_stack`): one row per model and per remaining part of the
    battery draw (the cores at rest, the platform floor), what each draws, its latency and deadline misses
    (:func:`dslsim.sim.stack_run.attribution`); None for a single trace."""

    def __repr__(self) -> str:
        """One line: what ran and the headline figures (the tables are attributes, not part of the repr)."""
        s = self.summary
        gain = s.battery_gain_pct
        return (f"<SimResult {self.meta.get('profile', '?')}/{self.meta.get('scenario', '?')}: {s.frames:,} frames, "
                f"always-on {1e3 * s.always_on_power_W:.3f} mW, battery {s.battery_life_h:.1f} h"
                f"{f' ({gain:+.1f} % vs dense)' if gain is not None else ''}"
                f"{', cannot keep up' if not s.keeps_up else ''}; .frames .resources .summary>")

    def _repr_html_(self) -> str:
        """A notebook's view: what ran, the warnings, then the headline figures; the tables are attributes."""
        s, m = self.summary, self.meta
        title = (f"<b>{html.escape(str(m.get('profile', '?')))} / {html.escape(str(m.get('scenario', '?')))}</b>: "
                 f"{s.frames:,} frames over {s.duration_s:.1f} s")
        warnings = "".join(f"<div style='color:#b00020'>warning: {html.escape(w)}</div>" for w in self.warnings)
        return (f"<div>{title}</div>{warnings}"
                + html_table(s.headline(), ".summary (every figure), .frames, .resources, .per_core(), .timeline"))

    def per_core(self) -> pd.DataFrame:
        """Wide table per resource: time share running, and mean power by what it pays for: running, idle and
        sleep residency (state power x time), dynamic energy per op, wake-up transitions."""
        return per_core_table(self.resources, self.summary.duration_s)


def per_core_table(resources: pd.DataFrame, duration: float) -> pd.DataFrame:
    """:meth:`SimResult.per_core` from a resources table and the simulated time (s).

    ``running_mW``: the state power while a job runs (the operating point's active power); ``idle_mW``: waiting
    clock-gated (or busy-polling); ``sleep_mW``: the sleep states (and the wake intervals, which draw 0 W: a
    transition's energy is ``transitions_mW``); ``dynamic_mW``: the energy per op on top of the running power.
    """
    t_end = duration
    rows = []
    for name, group in resources.groupby("resource", sort=False):
        component = group["component"]
        states = group[group["time_s"].notna()]

        def energy(mask) -> float:
            return 1e3 * float(group.loc[mask, "energy_J"].sum()) / t_end

        running = energy(component == "active")
        idle = energy(component == "idle")
        sleep = energy(group["time_s"].notna() & ~component.isin(["active", "idle"]))
        dynamic = energy(component == "dynamic")
        trans = energy(component == "transitions")
        active = states.loc[states["component"] == "active", "time_s"].sum()
        rows.append({"resource": name, "type": group["type"].iloc[0], "opp": group["opp"].iloc[0],
                     "active_pct": 100 * active / t_end, "running_mW": running, "idle_mW": idle,
                     "sleep_mW": sleep, "dynamic_mW": dynamic, "transitions_mW": trans,
                     "total_mW": running + idle + sleep + dynamic + trans, "wakeups": int(group["wakeups"].sum())})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ResultTables:
    """The tables and summary one engine run gives, before a :class:`SimResult` is assembled from them."""

    frames: pd.DataFrame
    """One row per frame (empty when not asked for)."""
    resources: pd.DataFrame
    """One row per resource and component."""
    summary: Summary
    """The headline figures (without the baseline comparison)."""
    timeline: pd.DataFrame | None
    """The state intervals in the recorded window, if one was asked for."""


def run_tables(out: EngineOutput, totals: FrameTotals, plan: Plan, horizon: float) -> ResultTables:
    """The resource table, summary and timeline of one engine run, the per-frame figures from ``totals``
    (the per-frame table, if kept, comes from a :class:`FrameCollector`)."""
    resources = resource_table(out, plan)
    summary = summarize(totals, out, resources, plan, horizon)
    return ResultTables(frames=pd.DataFrame(), resources=resources, summary=summary,
                        timeline=timeline_table(out, plan))


def core_labels(plan: Plan, masks: np.ndarray) -> list[str]:
    """The 'cores' label of each resource bit mask: the names of the resources it sets, joined by '+' ('-' for
    none)."""
    return ["+".join(r.name for i, r in enumerate(plan.resources) if m >> i & 1) or "-" for m in masks.tolist()]


#: The per-frame table's columns, in order.
FRAME_COLUMNS = ("frame", "path", "ready_s", "start_s", "end_s", "latency_s", "energy_J", "wakeups", "cores",
                 "dropped")


class FrameCollector:
    """A frame sink that keeps every frame, for the per-frame table of :class:`SimResult` (memory grows with
    the run: for long runs stream the table to a file with :class:`FrameWriter` instead)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.parts: list[dict[str, np.ndarray]] = []

    def __call__(self, block) -> None:
        """Keep a copy of a :class:`dslsim.sim.engine.batch.FrameBlock`'s arrays."""
        self.parts.append({k: np.array(getattr(block, k)) for k in
                           ("index", "codes", "ready", "start", "end", "energy", "wakeups", "used", "dropped")})

    def table(self) -> pd.DataFrame:
        """The per-frame table (columns :data:`FRAME_COLUMNS`)."""
        if not self.parts:
            return pd.DataFrame(columns=list(FRAME_COLUMNS))
        a = {k: np.concatenate([p[k] for p in self.parts]) if len(self.parts) > 1 else self.parts[0][k]
             for k in self.parts[0]}
        self.parts = []
        mask_codes = np.unique(a["used"])
        return pd.DataFrame({
            "frame": a["index"],
            "path": pd.Categorical.from_codes(a["codes"].astype(np.int8), categories=list(self.plan.path_names)),
            "ready_s": a["ready"],
            "start_s": a["start"],
            "end_s": a["end"],
            "latency_s": a["end"] - a["ready"],
            "energy_J": a["energy"],
            "wakeups": a["wakeups"],
            "cores": pd.Categorical.from_codes(np.searchsorted(mask_codes, a["used"]).astype(np.int16),
                                               categories=core_labels(self.plan, mask_codes)),
            "dropped": a["dropped"],
        }, copy=False)


class FrameWriter:
    """A frame sink that streams the per-frame table to a Parquet file, block by block, so memory stays bounded;
    the file appears under its name only when :meth:`close` is called (a temporary file until then)."""

    def __init__(self, plan: Plan, path: str | Path):
        import pyarrow as pa

        self.plan = plan
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._labels: dict[int, str] = {}
        paths = pa.dictionary(pa.int8(), pa.string())
        self.schema = pa.schema([("frame", pa.int64()), ("path", paths), ("ready_s", pa.float64()),
                                 ("start_s", pa.float64()), ("end_s", pa.float64()), ("latency_s", pa.float64()),
                                 ("energy_J", pa.float64()), ("wakeups", pa.int16()), ("cores", pa.string()),
                                 ("dropped", pa.bool_())])
        self._writer = None

    def __call__(self, block) -> None:
        """Write a :class:`dslsim.sim.engine.batch.FrameBlock` as a row group."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        masks, inverse = np.unique(block.used, return_inverse=True)
        for m, label in zip(masks.tolist(), core_labels(self.plan, masks)):
            self._labels.setdefault(m, label)
        cores = pa.DictionaryArray.from_arrays(pa.array(inverse.astype(np.int32)),
                                               pa.array([self._labels[m] for m in masks.tolist()]))
        path = pa.DictionaryArray.from_arrays(pa.array(np.asarray(block.codes, dtype=np.int8)),
                                              pa.array(list(self.plan.path_names)))
        table = pa.table([pa.array(block.index), path, pa.array(block.ready), pa.array(block.start),
                          pa.array(block.end), pa.array(block.end - block.ready), pa.array(block.energy),
                          pa.array(block.wakeups), cores.cast(pa.string()), pa.array(block.dropped)],
                         schema=self.schema)
        self._writer.write_table(table)

    def close(self) -> Path:
        """Finish the file and give it its name."""
        import pyarrow.parquet as pq

        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abandon(self) -> None:
        """Remove the temporary file (the run failed or was interrupted)."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # the file goes anyway
                pass
        self._tmp.unlink(missing_ok=True)


@contextmanager
def finishing(writer: "FrameWriter | None") -> Iterator[None]:
    """Give ``writer``'s file its name when the block inside ends, or remove it when the block fails or is
    interrupted; nothing to do without a writer."""
    try:
        yield
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    if writer is not None:
        writer.close()


def timeline_table(out: EngineOutput, plan: Plan) -> pd.DataFrame | None:
    """State intervals recorded in the engine's window, as a DataFrame, sorted by resource and time."""
    if out.timeline is None:
        return None
    w0, w1 = out.window
    w1 = min(w1, out.t_end)
    rows = []
    for r, res in enumerate(plan.resources):
        names, powers = res.state_names, res.state_powers
        for state, t0, t1, dyn in out.timeline[r]:
            t0, t1 = max(t0, w0), min(t1, w1)
            if t1 > t0:
                rows.append((res.name, names[state], t0, t1, powers[state] + dyn))
    df = pd.DataFrame(rows, columns=["resource", "state", "start_s", "end_s", "power_W"])
    return df.sort_values(["resource", "start_s"], kind="stable").reset_index(drop=True)


def resource_table(out: EngineOutput, plan: Plan) -> pd.DataFrame:
    """One row per resource and component: residency and energy of each state, dynamic, transitions."""
    rows = []
    for r, res in enumerate(plan.resources):
        kind = "core" if res.is_core else "link"
        for state, power, time in zip(res.state_names, res.state_powers, out.residency[r]):
            if not res.is_core and state not in ("active", "idle"):
                continue
            rows.append((res.name, kind, res.opp, state, time, time * power, 0))
        rows.append((res.name, kind, res.opp, "dynamic", np.nan, out.dynamic_energy[r], 0))
        if res.is_core:  # wake-ups are counted once, on the row of the energy they cost, so the column sums right
            rows.append((res.name, kind, res.opp, "transitions", np.nan, out.transition_energy[r],
                         out.wake_count[r]))
    resources = pd.DataFrame(rows, columns=["resource", "type", "opp", "component", "time_s", "energy_J",
                                            "wakeups"])
    resources["power_W"] = resources["energy_J"] / out.t_end
    return resources


def summarize(totals: FrameTotals, out: EngineOutput, resources: pd.DataFrame, plan: Plan,
              horizon: float, miss_check: tuple[bool, str] | None = None) -> Summary:
    """Headline figures: latency percentiles, deadline misses, power, energy per frame by path, battery life;
    the per-frame figures from ``totals`` (reduced as the run went), the rest from the engine's accounts.

    ``miss_check``: (within the allowance, why not) when the caller judges the deadline misses itself (a stack judges
    each model against its own deadline); by default the run's miss rate against ``plan.max_miss_rate``."""
    t_end = out.t_end
    n = totals.frames
    dropped = totals.dropped
    p = {f"latency_p{q}_s": v for q, v in zip(PERCENTILES, totals.latency.percentiles(PERCENTILES))}
    misses = totals.late + dropped
    shares = {name: float(totals.path_frames[i]) / n if n else 0.0 for i, name in enumerate(plan.path_names)}
    per_frame = {name: float(totals.path_energy[i]) / int(totals.path_frames[i]) if totals.path_frames[i]
                 else float("nan") for i, name in enumerate(plan.path_names)}
    compute = float(resources["energy_J"].sum())
    compute_power = compute / t_end
    battery = plan.battery
    # Rail-side loads pass through the converter; floor items measured at the battery already include it.
    battery_power = (compute_power + plan.floor_power) / battery.converter_efficiency + plan.battery_floor_power
    ideal_s = battery.lifetime_s(battery_power, modelled=False)
    life_s = battery.lifetime_s(battery_power)
    # A resource busy for as long as frames arrive (or longer) has a queue that grows without bound: its power
    # is averaged over a drain time the device would never get, so there is no battery life to report.
    span = max(float(horizon), 1e-12)
    busy = {r.name: (out.residency[i][State.ACTIVE] + out.residency[i][State.WAKE]) / span
            for i, r in enumerate(plan.resources)}
    worst = max(busy, key=busy.get)
    miss_rate = misses / n if n else 0.0
    stable = bool(busy[worst] < 1.0)
    keeps_up = stable and (miss_rate <= plan.max_miss_rate if miss_check is None else miss_check[0])
    nan = float("nan")
    life_h = life_s / 3600.0 if keeps_up else nan
    current = battery_power / battery.voltage if keeps_up else nan
    # The same device doing nothing (its floor, every core in its deepest sleep state): the feature's own drain is the rest.
    settled = sum(r.settled_power for r in plan.resources if r.is_core)
    idle_device = (settled + plan.floor_power) / battery.converter_efficiency + plan.battery_floor_power
    feature_current = (battery_power - idle_device) / battery.voltage if keeps_up else nan
    return Summary(
        frames=n, duration_s=t_end, dropped=dropped, **p,
        latency_max_s=totals.latency_max, deadline_s=plan.deadline,
        deadline_misses=misses, deadline_miss_rate=miss_rate, shares=shares,
        energy_per_frame_J=per_frame, wakeups=int(sum(out.wake_count)),
        transition_energy_J=float(sum(out.transition_energy)),
        unattributed_energy_J=float(sum(out.unattributed_energy)),  # sleep entries after the last frame
        compute_energy_J=compute, compute_power_W=compute_power, floor_power_W=plan.floor_power,
        floor_battery_side_W=plan.battery_floor_power,
        always_on_power_W=compute_power + plan.floor_power + plan.battery_floor_power,
        battery_power_W=battery_power, max_utilization=busy[worst], busiest_resource=worst, queue_stable=stable,
        max_miss_rate=plan.max_miss_rate, keeps_up=keeps_up,
        battery_life_drained_h=life_s / 3600.0, battery_life_h=life_h, battery_life_days=life_h / 24.0,
        battery_life_ideal_h=ideal_s / 3600.0 if keeps_up else float("nan"),
        battery_model="kinetic" if battery.kinetic is not None else "ideal",
        battery_current_A=current, charge_per_day_Ah=24.0 * current,
        battery_pct_per_day=100.0 * 24.0 * current / battery.capacity_ah, idle_device_power_W=idle_device,
        feature_power_W=battery_power - idle_device, feature_current_A=feature_current,
        feature_charge_per_day_Ah=24.0 * feature_current,
        feature_pct_per_day=100.0 * 24.0 * feature_current / battery.capacity_ah,
        miss_shortfall=(miss_check[1] or None) if miss_check is not None and not miss_check[0] else None)


def scenario_warnings(summary: Summary, resources: pd.DataFrame, plan: Plan, scenario_name: str) -> list[str]:
    """Sentences about figures that would mislead: a backlog that never drains, cores that could sleep but idle
    clocked all run by oversight (not those whose idle mode is declared, nor those whose streaming audio needs the
    clock in every sleep state they have)."""
    s = summary
    out = []
    if not s.queue_stable:
        out.append(f"the scenario cannot keep up: '{s.busiest_resource}' is busy "
                   f"{100 * s.max_utilization:.0f} % of the time frames arrive, so its queue grows without bound "
                   f"(p50 latency {1e3 * s.latency_p50_s:,.1f} ms); no battery life is reported. Averaged over "
                   f"the time to drain the queue it would read {s.battery_life_drained_h:,.1f} h, which no device "
                   f"would see.")
    elif not s.keeps_up:
        out.append(f"the scenario cannot keep up: {s.shortfall}; no battery life is reported (it would read "
                   f"{s.battery_life_drained_h:,.1f} h for a device that misses that many frames).")
    for r in plan.resources:
        if not r.unused_sleep_states:
            continue
        rows = resources[(resources["resource"] == r.name) & (resources["component"] == "idle")]
        idle_share = float(rows["time_s"].sum()) / s.duration_s if s.duration_s > 0 else 0.0
        out.append(f"core '{r.name}' has sleep states ({', '.join(r.unused_sleep_states)}) but no sleep policy "
                   f"and no declared idle mode in scenario '{scenario_name}': it waits clock-gated at "
                   f"{1e3 * r.idle_power:.3f} mW whenever it is not running ({100 * idle_share:.0f} % of the time); "
                   f"add 'sleep: {{{r.name}: {{{r.unused_sleep_states[0]}: 1 ms}}}}' if it may sleep, or "
                   f"'idle: {{{r.name}: clock-gated}}' if it must not.")
    return out
