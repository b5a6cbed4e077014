"""Replaying a stack (:mod:`dslsim.sim.stack`) and attributing its battery draw to its models.

>>> from dslsim.sim.stack_run import simulate_stack
>>> result = simulate_stack("earbud", "examples/stacks/vad-ww-codec.yaml")      # doctest: +SKIP
>>> result.models[["part", "pct_per_day", "latency_p99_s"]]                     # doctest: +SKIP

**Attribution** (Battery Historian's way: what each feature costs, the rest apart). Every joule of the run is
either *charged to a call* — the running power while its jobs ran, its ops' dynamic energy, the wake-ups it
caused, its link transfers (the per-frame energy the engines give) — or spent *waiting*: a core idle or asleep
between jobs, and the sleep entries after the last job. A model gets the energy of its calls, plus a share of
each core's (and link's) waiting energy *above what that core draws when the device does nothing* (its
``settled_power``: the deepest sleep state, as the summary's feature drain counts it), split between the models
that used the core in proportion to their busy time on it. That share is the price of keeping the core out of its
deepest state for them (clock-gated waits, shallow sleep). The rows that are no model's: **other cores and links**
(what a core or link no model uses draws above its settled power), **cores at rest** (every core's settled power:
the device doing nothing) and the **platform floor** (microphone, PMIC...). At the battery every row passes through
the converter like the run's draw, and the rows add up to the run's battery draw (``Summary.battery_power_W``), to
rounding; the models and the other cores add up to the feature's own drain (``feature_power_W``). A model's share
can be slightly below its calls' energy: the settled power of its cores while its jobs ran is counted once, with the
cores at rest.

Each model's latency and deadline misses are against its own deadline (one call period by default); a model keeps
up when no core's queue grows without bound and at most the allowance of its calls miss. The stack keeps up when
every model does; otherwise no battery figure is given, for any row.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from dslsim.hw.load import load_profile
from dslsim.hw.profile import Profile
import dslsim.sim.engine as engines
from dslsim.sim.accumulate import PERCENTILE_RELATIVE_ERROR, FrameTotals, LatencyQuantiles
from dslsim.sim.engine import EngineOutput, State, run_engine
from dslsim.sim.engine.blocks import FrameBlock
from dslsim.sim.plan import DEFAULT_MAX_MISS_RATE, check_backlog, check_size
from dslsim.sim.results import (FrameCollector, FrameWriter, SimResult, finishing, resource_table,
                                 scenario_warnings, summarize)
from dslsim.sim.scenario import Scenario
from dslsim.sim.stack import Stack, StackCalls, StackPlan, compile_stack, load_stack, parse_stack
from dslsim.sim.summary import PERCENTILES, Summary

#: The rows of the attribution table that are no model's, in order.
OTHER_ROWS = ("other cores and links", "cores at rest", "platform floor")


class StackTotals:
    """A frame sink for a stack's run: each model's own :class:`FrameTotals` (against its own deadline), the run's
    over every call, and each model's busy time on each resource (for its share of the waiting power)."""

    def __init__(self, sp: StackPlan):
        plan = sp.plan
        self.sp = sp
        """The compiled stack."""
        self.models = [FrameTotals(len(m.meta.paths), m.deadline) for m in sp.stack.models]
        """Per model, its calls' totals (path codes its own, deadline its own)."""
        self.latency = LatencyQuantiles()
        """Every call's latency, for the run's percentiles (the other totals are the models' summed)."""
        self.completed = np.zeros(len(plan.hops), np.int64)
        """Per merged path code, the calls that were not dropped."""
        self.dropped_used: dict[tuple[int, int], int] = {}
        """(path code, resources used) -> dropped calls: a dropped call ran the hops before the drop."""
        self._model_of_code = sp.model_of_code.astype(np.int8)   # a stack has at most 127 paths
        self.service = np.zeros((len(plan.hops), len(plan.resources)))
        """Per path code and resource, the seconds of service its hops there take."""
        for c, hops in enumerate(plan.hops):
            for hop in hops:
                self.service[c, hop.resource] += hop.service

    def __call__(self, block: FrameBlock) -> None:
        """Take a block of finished calls."""
        codes = np.asarray(block.codes, np.int64)
        dropped = np.asarray(block.dropped, bool)
        latency = block.end - block.ready
        self.latency.add(latency[~dropped] if dropped.any() else latency)
        self.completed += np.bincount(codes[~dropped], minlength=len(self.completed))
        if dropped.any():
            pairs, counts = np.unique(np.stack((codes[dropped], np.asarray(block.used)[dropped])), axis=1,
                                      return_counts=True)
            for (c, used), n in zip(pairs.T.tolist(), counts.tolist()):
                self.dropped_used[(c, used)] = self.dropped_used.get((c, used), 0) + n
        model = self._model_of_code[codes]
        if len(self.models) == 1:
            self.models[0].add(block.ready, codes - self.sp.first_code[0], block.end, block.energy, dropped)
            return
        # One stable sort by model (numpy's radix sort of 8-bit integers) instead of a mask per model: each model's
        # calls come out contiguous and in their order, at a third of the masks' cost.
        order = np.argsort(model, kind="stable")
        bounds = np.searchsorted(model[order], np.arange(len(self.models) + 1))
        ready, end, energy = block.ready[order], block.end[order], block.energy[order]
        codes, dropped = codes[order], dropped[order]
        for i, totals in enumerate(self.models):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            if hi > lo:
                totals.add(ready[lo:hi], codes[lo:hi] - self.sp.first_code[i], end[lo:hi], energy[lo:hi],
                           dropped[lo:hi])

    def busy(self) -> np.ndarray:
        """Seconds each model kept each resource running ([model, resource])."""
        per_code = self.completed[:, None] * self.service
        plan = self.sp.plan
        for (c, used), n in self.dropped_used.items():
            for hop in plan.hops[c]:
                if used >> hop.resource & 1:
                    per_code[c, hop.resource] += n * hop.service
        out = np.zeros((len(self.models), len(plan.resources)))
        np.add.at(out, self.sp.model_of_code, per_code)
        return out

    def aggregate(self) -> "RunTotals":
        """Every call's totals, each call late against its own model's deadline."""
        return RunTotals(self)

    def miss_rates(self) -> list[float]:
        """Each model's share of calls that missed their deadline (dropped ones included)."""
        return [(t.late + t.dropped) / t.frames if t.frames else 0.0 for t in self.models]


class RunTotals:
    """A stack's totals over every call, read as :func:`dslsim.sim.results.summarize` reads a :class:`FrameTotals`:
    the models' counts and energies summed (path codes in merged order), the latency of every call."""

    def __init__(self, totals: StackTotals):
        models = totals.models
        self.frames: int = sum(t.frames for t in models)
        """Calls made."""
        self.dropped: int = sum(t.dropped for t in models)
        """Calls dropped."""
        self.late: int = sum(t.late for t in models)
        """Calls that ended after their own model's deadline (dropped ones not included)."""
        self.path_frames: np.ndarray = np.concatenate([t.path_frames for t in models])
        """Calls per merged path code."""
        self.path_energy: np.ndarray = np.concatenate([t.path_energy for t in models])
        """Energy of the calls per merged path code (J)."""
        maxima = [t.latency_max for t in models if t.latency_max == t.latency_max]
        self.latency_max: float = max(maxima) if maxima else math.nan
        """The largest latency of any call (s)."""
        self.latency: LatencyQuantiles = totals.latency
        """Every call's latency."""


@dataclass
class _Run:
    """One replay of a stack: gated (as the gates let calls through) or not, where its calls go, its output."""

    label: str
    """Its name on the progress bars ('simulate', 'ungated')."""
    gated: bool
    """Whether the gates apply (else every model at its full rate)."""
    sinks: list[Callable]
    """Where its finished calls go, block by block."""
    out: EngineOutput | None = None
    """The engine's per-resource figures, once run."""

    def sink(self, block: FrameBlock) -> None:
        """Hand a block of finished calls to every sink."""
        for s in self.sinks:
            s(block)


def simulate_stack(profile: str | Path | Profile, stack: str | Path | Stack | Mapping,
                   scenario: str | Path | Scenario | Mapping | None = None, *, baseline: bool = True,
                   engine: str = "auto", max_miss_rate: float = DEFAULT_MAX_MISS_RATE, frames: bool = False,
                   frames_out: str | Path | None = None, progress: Callable[[str, float, float], None] | None = None,
                   baseline_cache: MutableMapping | None = None) -> SimResult:
    """Replay a stack (a file, a mapping as a stack file holds it, or a :class:`Stack`) on ``profile``.

    ``scenario`` (a file, a mapping or a Scenario) wins over the stack's own; neither: the profile's default. With
    ``baseline=True`` the stack runs again with every model at its full rate (no gates): ``result.baseline`` is
    that run's summary, and the summary's ``battery_gain_*`` the gates' gain against it. ``result.models`` is the
    attribution table (:func:`attribution`). ``engine``, ``max_miss_rate``, ``frames``, ``frames_out`` and
    ``progress`` as :func:`dslsim.sim.run.simulate`; ``baseline_cache`` (a dict kept across calls) reuses an
    ungated run whose models, placement and device did not change (a sweep over the gates runs it once).
    """
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    if isinstance(stack, Mapping):
        stack = parse_stack(dict(stack))
    elif not isinstance(stack, Stack):
        stack = load_stack(stack)
    if engine not in engines.ENGINES:
        raise ValueError(f"engine {engine!r}; expected one of {engines.ENGINES}")
    if isinstance(scenario, Mapping):
        scenario = dict(scenario)
    sp = compile_stack(stack, profile, scenario, max_miss_rate)
    plan = sp.plan
    calls = StackCalls(sp)
    check_size(plan, sp.span, calls.total_calls, plan.frame_duration)
    jobs = sum(s.total * max(len(plan.hops[c]) for c in range(len(plan.hops)) if sp.model_of_code[c] == i)
               for i, s in enumerate(calls.streams))
    use = engine if engine != "auto" else ("batch" if jobs >= engines.BATCH_MIN_JOBS else "reference")

    main_totals = StackTotals(sp)
    collector = FrameCollector(plan) if frames else None
    writer = FrameWriter(plan, frames_out) if frames_out is not None else None
    main = _Run("simulate", True, [main_totals] + [s for s in (collector, writer) if s is not None])
    runs = [main]
    base_run, cached, key = None, None, None
    if baseline:
        key = _ungated_key(sp)
        cached = baseline_cache.get(key) if baseline_cache is not None else None
        if cached is None:
            base_run = _Run("ungated", False, [StackTotals(sp)])
            runs.append(base_run)
    with finishing(writer):
        _replay(sp, calls, runs, use, progress)
    if base_run is not None:
        cached = (base_run.out, base_run.sinks[0])
        if baseline_cache is not None:
            baseline_cache[key] = cached
    summary, resources, table = _tables(sp, main.out, main_totals)
    base = None
    if cached is not None:
        base, _, base_table = _tables(sp, *cached)
        summary = summary.with_baseline(base)
        table["ungated_calls"] = list(base_table["calls"].iloc[:len(sp.stack.models)]) + [np.nan] * len(OTHER_ROWS) \
            + [base_table["calls"].iloc[-1]]
        table["ungated_pct_per_day"] = list(base_table["pct_per_day"])
    warnings = scenario_warnings(summary, resources, plan, sp.scenario.name)
    warnings += _model_warnings(sp, table, summary)
    if base is not None and not base.keeps_up:
        warnings.append(f"with every model at its full rate (no gates) the stack cannot keep up ({base.shortfall}), "
                        f"so there is no ungated battery life to gain against.")
    meta = _meta(sp, profile, main_totals)
    return SimResult(frames=collector.table() if collector is not None else pd.DataFrame(), resources=resources,
                     summary=summary, baseline=base, meta=meta, timeline=None, warnings=warnings, models=table)


def _replay(sp: StackPlan, calls: StackCalls, runs: list[_Run], engine: str,
            progress: Callable[[str, float, float], None] | None) -> None:
    """Replay ``runs`` over the merged call stream, generated once: the batch engine fed stretch by stretch (two
    runs in two threads), or the reference engine on the whole arrays."""
    plan, span = sp.plan, sp.span
    checked = False

    def check(codes: np.ndarray, ready: np.ndarray) -> None:
        nonlocal checked
        if not checked and len(codes):
            check_backlog(plan, codes, float(ready[-1]))
            checked = True

    if engine == "reference":
        parts: dict[int, list] = {i: [] for i in range(len(runs))}
        for em in calls:
            for i, run in enumerate(runs):
                parts[i].append(em.gated() if run.gated else em.ungated())
            check(*_codes_ready(parts[0][-1]))
        for i, run in enumerate(runs):
            index, ready, codes = (np.concatenate(c) for c in zip(*parts[i])) if parts[i] else \
                (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
            parts[i] = []
            tick = (lambda now, label=run.label: progress(label, now, span)) if progress else None
            run.out = run_engine(plan, ready, codes, progress=tick, horizon=span, engine="reference")
            run.sink(FrameBlock(0, index, ready, codes, run.out.start, run.out.end, run.out.energy,
                                run.out.wakeups, run.out.used, run.out.dropped))
        return
    from dslsim.sim.engine.batch import BatchReplay  # numba loads only when the batch engine runs

    replays = [BatchReplay(plan, run.sink, None, span) for run in runs]
    pool = ThreadPoolExecutor(max_workers=len(runs))
    try:
        stream = iter(calls)
        em = next(stream, None)
        while em is not None:
            feeds = []
            for run, replay in zip(runs, replays):
                chunk = em.gated() if run.gated else em.ungated()
                if run.gated:
                    check(*_codes_ready(chunk))
                if len(chunk[1]):
                    feeds.append((replay.feed, *chunk))
            # The runs replay this stretch in their threads while this one makes the next stretch (the compiled loop
            # and numpy release the GIL).
            futures = [pool.submit(*f) for f in feeds]
            nxt = next(stream, None)
            for future in futures:
                future.result()
            if progress is not None and len(em.ready):
                for run in runs:
                    progress(run.label, float(em.ready[-1]), span)
            em = nxt
        for run, replay in zip(runs, replays):
            run.out = replay.finish()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _codes_ready(chunk: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return chunk[2], chunk[1]


def _ungated_key(sp: StackPlan) -> tuple:
    """What the ungated run depends on: the plan (resources, hops, priorities), the span, and each model's calls
    and deadline (its gate does not enter)."""
    plan = sp.plan
    models = []
    for m in sp.stack.models:
        digest = hashlib.sha1(m.arrival.tobytes() + m.codes.tobytes()).hexdigest()
        models.append((m.name, m.rate, m.length, m.deadline, digest))
    return (plan.resources, plan.hops, plan.priorities, plan.max_miss_rate, sp.span, sp.stack.duration,
            tuple(models))


def _tables(sp: StackPlan, out: EngineOutput, totals: StackTotals) -> tuple[Summary, pd.DataFrame, pd.DataFrame]:
    """The summary, resource table and attribution table of one replay."""
    plan = sp.plan
    resources = resource_table(out, plan)
    busy = {r.name: (out.residency[i][State.ACTIVE] + out.residency[i][State.WAKE]) / max(sp.span, 1e-12)
            for i, r in enumerate(plan.resources)}
    stable = max(busy.values(), default=0.0) < 1.0
    rates = totals.miss_rates()
    late = [(m.name, rate) for m, rate in zip(sp.stack.models, rates) if rate > plan.max_miss_rate]
    why = "; ".join(f"model '{name}': {100 * rate:.2f} % of calls missed their "
                    f"{1e3 * sp.stack.model(name).deadline:g} ms deadline" for name, rate in late)
    if late:
        why += f", more than the {100 * plan.max_miss_rate:g} % allowed"
    summary = summarize(totals.aggregate(), out, resources, plan, sp.span, miss_check=(not late, why))
    return summary, resources, attribution(sp, out, resources, totals, summary, stable)


def attribution(sp: StackPlan, out: EngineOutput, resources: pd.DataFrame, totals: StackTotals,
                summary: Summary, stable: bool) -> pd.DataFrame:
    """One row per model, then the rows that are no model's (:data:`OTHER_ROWS`), then the total: what each draws
    (mean power at the battery, current, mAh and % of the battery per day) and, for models, their calls, busy time,
    energy, latency and deadline misses. The split is the module's (its docstring says how the waiting power is
    shared); battery figures are NaN unless the stack keeps up (``summary.keeps_up``)."""
    plan = sp.plan
    t = out.t_end
    eff = plan.battery.converter_efficiency
    volts = plan.battery.voltage
    capacity = plan.battery.capacity_ah
    busy = totals.busy()
    share = np.zeros_like(busy)
    used = busy.sum(axis=0)
    share[:, used > 0] = busy[:, used > 0] / used[used > 0]
    energy = resources.groupby("resource", sort=False)["energy_J"].sum()
    waiting = np.zeros(len(plan.resources))
    settled = np.zeros(len(plan.resources))
    for r, res in enumerate(plan.resources):
        charged = (out.residency[r][State.ACTIVE] * res.active_power + out.dynamic_energy[r]
                   + out.transition_energy[r] - out.unattributed_energy[r])
        waiting[r] = float(energy[res.name]) - charged
        settled[r] = res.settled_power * t if res.is_core else 0.0
    excess = waiting - settled
    keeps = summary.keeps_up
    nan = math.nan

    def battery_figures(joules: float) -> dict[str, float]:
        watts = joules / t / eff if keeps else nan
        amps = watts / volts
        return {"power_mW": 1e3 * watts, "current_mA": 1e3 * amps, "mAh_per_day": 24e3 * amps,
                "pct_per_day": 100.0 * 24.0 * amps / capacity}

    rows = []
    for i, m in enumerate(sp.stack.models):
        mt = totals.models[i]
        direct = float(mt.path_energy.sum())
        attributed = direct + float(share[i] @ excess)
        p = mt.latency.percentiles(PERCENTILES)
        misses = mt.late + mt.dropped
        miss_rate = misses / mt.frames if mt.frames else 0.0
        rows.append({
            "part": m.name, "kind": "model", "priority": m.priority,
            "gate": m.gate.describe() if m.gate is not None else "always on",
            "rate_hz": m.rate, "calls": mt.frames, "calls_per_s": mt.frames / sp.span if sp.span > 0 else nan,
            "busy_pct": 100.0 * float(busy[i].sum()) / t,
            "energy_per_call_uJ": 1e6 * direct / mt.frames if mt.frames else nan,
            "energy_J": attributed, **battery_figures(attributed),
            **{f"latency_p{q}_s": v for q, v in zip(PERCENTILES, p)}, "latency_max_s": mt.latency_max,
            "deadline_s": m.deadline, "deadline_misses": misses, "dropped": mt.dropped,
            "deadline_miss_rate": miss_rate, "keeps_up": bool(stable and miss_rate <= plan.max_miss_rate)})
    other = float(excess[used == 0].sum())
    at_rest = float(settled.sum())
    floor_rail = plan.floor_power * t
    rows.append({"part": OTHER_ROWS[0], "kind": "device", "energy_J": other, **battery_figures(other)})
    rows.append({"part": OTHER_ROWS[1], "kind": "device", "energy_J": at_rest, **battery_figures(at_rest)})
    # Floor items measured at the battery are past the converter already: counted as the rail energy they equal.
    floor = floor_rail + plan.battery_floor_power * t * eff
    rows.append({"part": OTHER_ROWS[2], "kind": "device", "energy_J": floor, **battery_figures(floor)})
    table = pd.DataFrame(rows)
    total = {"part": "total", "kind": "total", "energy_J": float(table["energy_J"].sum()),
             **battery_figures(float(table["energy_J"].sum())), "calls": int(table["calls"].sum())}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table["share_pct"] = 100.0 * table["energy_J"] / total["energy_J"]
    return table


def _model_warnings(sp: StackPlan, table: pd.DataFrame, summary: Summary) -> list[str]:
    """A sentence per model that misses more calls than allowed (its battery figures are then NaN)."""
    out = []
    for row in table[table["kind"] == "model"].itertuples():
        if not row.keeps_up and summary.queue_stable:
            out.append(f"model '{row.part}' misses {100 * row.deadline_miss_rate:.2f} % of its calls' "
                       f"{1e3 * row.deadline_s:g} ms deadline (more than the {100 * sp.plan.max_miss_rate:g} % "
                       f"allowed): the stack does not keep up, and no battery figure is given.")
    return out


def _meta(sp: StackPlan, profile: Profile, totals: StackTotals) -> dict:
    """What ran, as :func:`dslsim.sim.run.simulate`'s meta, with the stack's models."""
    plan = sp.plan
    exact = all(t.latency.exact for t in totals.models)
    return {"profile": plan.profile_name, "profile_file": plan.profile_file, "scenario": sp.scenario.name,
            "stack": sp.stack.name, "stack_file": sp.stack.source, "baseline": "ungated",
            "duration_s": sp.stack.duration,
            "models": {m.name: {"source": m.source, "kind": m.kind, "rate_hz": m.rate, "priority": m.priority,
                                "deadline_s": m.deadline,
                                "gate": None if m.gate is None else {"model": m.gate.model, "score": m.gate.score,
                                                                     "threshold": m.gate.threshold,
                                                                     "hold_s": m.gate.hold, "when": m.gate.when},
                                "paths": list(m.meta.paths)} for m in sp.stack.models},
            "trace_source": {"stack": sp.stack.name}, "dense_path": None,
            "resources": [r.name for r in plan.resources],
            "opp": {r.name: r.opp for r in plan.resources if r.is_core}, "window": None,
            "sources": {r.name: dict(r.sources) for r in plan.resources},
            "floor": dict(profile.floor), "battery_floor": dict(profile.battery_floor),
            "converter_efficiency": profile.battery.converter_efficiency,
            "latency_percentiles": "exact" if exact else
            f"histogram, within {100 * PERCENTILE_RELATIVE_ERROR:.4f} % of the exact values"}


__all__ = ["OTHER_ROWS", "StackTotals", "attribution", "simulate_stack"]
