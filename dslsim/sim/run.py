"""One call from Python: load inputs, build the plan, replay, and (optionally) compare against the dense baseline.

>>> from dslsim.sim.run import simulate
>>> result = simulate("earbud", "dsl-75hz-10min")
>>> round(result.summary.battery_life_h, 1), round(result.summary.battery_gain_pct, 1)
(12.1, 50.5)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError, InputError
from dslsim.hw.load import load_profile
from dslsim.hw.profile import Profile
from dslsim.sim.accumulate import PERCENTILE_RELATIVE_ERROR, FrameTotals
import dslsim.sim.engine as engines
from dslsim.sim.engine import Account, EngineOutput, jobs_in, run_engine
from dslsim.sim.engine.blocks import FrameBlock
# The limits and checks of a run, and its warnings, live beside the plan and the results (a stack's replay uses
# them too); they are imported here under their old names.
from dslsim.sim.plan import (DEFAULT_MAX_MISS_RATE, MAX_JOB_ENERGY_J, MAX_JOBS, MAX_RESOURCES,  # noqa: F401
                             MAX_SERVICE_S, MAX_SPAN_S, Plan, build_plan, check_backlog, check_size)
from dslsim.sim.inputs import FromFile, InMemory, TraceInput
from dslsim.sim.results import (FrameCollector, FrameWriter, SimResult, finishing, run_tables,
                                 scenario_warnings)
from dslsim.sim.scenario import Scenario, load_scenario, parse_scenario
from dslsim.sim.summary import Summary
from dslsim.trace.io import TraceFile, read_trace
from dslsim.trace.schema import Trace


def simulate(profile: str | Path | Profile, trace: str | Path | Trace | InMemory | None = None,
             scenario: str | Path | Scenario | Mapping | None = None,
             *, baseline: bool = True, progress: Callable[[str, float, float], None] | None = None,
             lookahead: bool = True, window: tuple[float, float] | None = None,
             baseline_cache: MutableMapping | None = None, engine: str = "auto",
             max_miss_rate: float = DEFAULT_MAX_MISS_RATE, frames: bool = True,
             frames_out: str | Path | None = None, stack: str | Path | Mapping | None = None) -> SimResult:
    """Simulate ``trace`` on ``profile`` under ``scenario`` (a file, a mapping as a scenario file holds it, or
    by default the profile's default scenario). Profiles and traces: a shipped name or a file; a trace may also
    be a :class:`~dslsim.trace.schema.Trace` or an :class:`~dslsim.sim.inputs.InMemory` input (which a caller
    re-routing one trace many times keeps, see :meth:`~dslsim.sim.inputs.InMemory.rerouted`).

    With ``baseline=True`` the same scenario is simulated again with every frame on the trace's dense path,
    and the summary gains ``baseline_*`` and ``battery_gain_*`` entries. ``progress(label, done, total)``
    is called as simulated time advances. ``engine``: 'auto' (compiled batch engine for long runs), 'batch'
    or 'reference' (the SimPy replay; same numbers, bit for bit); ``lookahead=False`` runs every resource of
    the reference purely event-driven: slower still, same numbers (a cross-check). ``window=(t0, t1)``
    (seconds) records every core's state intervals there, in ``result.timeline``, for timeline and
    power-over-time plots. ``baseline_cache`` (any mapping, e.g. a dict kept across calls) reuses an all-dense
    baseline already computed for what its schedule depends on: a sweep over the switch threshold, the deadline
    or a core the dense path never visits then simulates the baseline once (once per deadline for a run of more
    than :data:`~dslsim.sim.accumulate.EXACT_LATENCIES` frames, whose binned latencies cannot be recounted
    against another deadline). ``max_miss_rate``: the share of frames
    that may miss their deadline (dropped ones included) in a run that keeps up; one that does not keep up has no
    battery figures.

    ``frames=False`` keeps no per-frame table (``result.frames`` is empty): a trace file is then read block by
    block and the run's memory does not grow with its length (the batch engine; a month of frames fits in well
    under a gigabyte). ``frames_out``: stream the per-frame table to this Parquet file as the run goes.

    ``stack`` (a stack file, or a mapping as one holds it), instead of ``trace``: several models on the device,
    gated by each other's scores, sharing its cores by priority (:func:`dslsim.sim.stack_run.simulate_stack`; the
    baseline is then every model at its full rate, ``window`` and ``lookahead`` do not apply).
    """
    if stack is not None:
        if trace is not None:
            raise DslsimError("give a trace or a stack, not both (a stack names its models' traces).")
        if window is not None or not lookahead:
            raise DslsimError("a stack runs without a timeline window and with look-ahead (its engines' default).")
        from dslsim.sim.stack_run import simulate_stack

        return simulate_stack(profile, stack, scenario, baseline=baseline, engine=engine,
                              max_miss_rate=max_miss_rate, frames=frames, frames_out=frames_out, progress=progress,
                              baseline_cache=baseline_cache)
    if trace is None:
        raise DslsimError("give a trace (a file or a shipped trace name) or a stack file to simulate.")
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    if isinstance(scenario, Mapping):
        scenario = parse_scenario(scenario, profile)
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, profile)
    source = _input(trace, frames, engine, lookahead, window)
    plan = build_plan(source.meta, profile, scenario, max_miss_rate)
    # A size refusal is about the pair: it names the trace and the profile, which the check does not know.
    where = (f"{trace if not isinstance(trace, (Trace, InMemory)) else 'the trace'} on "
             f"{profile.source_file or plan.profile_name}")
    with _naming(where):
        check_size(plan, source.span, source.frames, source.meta.frame_duration)
    if isinstance(source, FromFile) and engine == "reference":
        raise DslsimError("the reference engine replays a trace held in memory; keep the per-frame table "
                          "(frames=True) or use the batch engine.")

    def backlog(codes: np.ndarray, span: float) -> None:
        with _naming(where):
            check_backlog(plan, codes, span)

    dense = list(source.meta.paths).index(source.meta.dense_path)
    runs: list[_Run] = []
    base_run: _Run | None = None
    cached = None
    if baseline:
        touched = sorted({hop.resource for hop in plan.hops[dense]})
        # What the dense path's schedule depends on: the resources it visits, its hops and the arrivals. Cores it
        # never visits, the battery, the floor and the deadline enter only when the summary is made below.
        key = (tuple((r, plan.resources[r]) for r in touched), plan.hops[dense], plan.frame_duration, source.span,
               source.key())
        # A cached run counted its late frames against its own deadline: kept per deadline (a run too long for
        # exact latencies cannot recount them), recounted when that can be exact.
        by_deadline = baseline_cache.get(key, {}) if baseline_cache is not None else {}
        cached = by_deadline.get(plan.deadline)
        if cached is None:
            recounts = ((out, counted.for_deadline(plan.deadline)) for out, counted in by_deadline.values())
            cached = next(((out, totals) for out, totals in recounts if totals is not None), None)
        if cached is None:
            base_run = _Run("baseline", dense, [FrameTotals(len(plan.path_names), plan.deadline)])
            runs.append(base_run)
    totals = FrameTotals(len(plan.path_names), plan.deadline)
    collector = FrameCollector(plan) if frames else None
    writer = FrameWriter(plan, frames_out) if frames_out is not None else None
    main = _Run("simulate", None, [totals] + [s for s in (collector, writer) if s is not None])
    runs.append(main)
    with finishing(writer):
        _replay(plan, source, runs, engine, lookahead, window, progress, backlog)
    out = main.out
    base: Summary | None = None
    if baseline:
        if base_run is not None:
            cached = (base_run.out, base_run.sinks[0])
            if baseline_cache is not None:
                baseline_cache.setdefault(key, {})[plan.deadline] = cached
        base = run_tables(with_idle_resources(cached[0], plan, touched), cached[1], plan, source.span).summary
    run = run_tables(out, totals, plan, source.span)
    summary = run.summary.with_baseline(base) if base is not None else run.summary
    warnings = scenario_warnings(summary, run.resources, plan, scenario.name)
    if base is not None and not base.keeps_up:
        warnings.append(f"with every frame on the '{source.meta.dense_path}' path the scenario cannot keep up "
                        f"({base.shortfall}), so there is no baseline battery life to gain against.")
    meta = {"profile": plan.profile_name, "profile_file": plan.profile_file, "scenario": scenario.name,
            "trace_source": source.meta.source, "dense_path": source.meta.dense_path,
            "resources": [r.name for r in plan.resources],
            "opp": {r.name: r.opp for r in plan.resources if r.is_core},
            "window": tuple(window) if window is not None else None,
            # What fed each figure: the profile key paths behind every resource's components, and the floor.
            "sources": {r.name: dict(r.sources) for r in plan.resources},
            "floor": dict(profile.floor), "battery_floor": dict(profile.battery_floor),
            "converter_efficiency": profile.battery.converter_efficiency,
            "latency_percentiles": "exact" if totals.latency.exact else
            f"histogram, within {100 * PERCENTILE_RELATIVE_ERROR:.4f} % of the exact values"}
    return SimResult(frames=collector.table() if collector is not None else pd.DataFrame(),
                     resources=run.resources, summary=summary, baseline=base, meta=meta,
                     timeline=run.timeline, warnings=warnings)


@contextmanager
def _naming(where: str) -> Iterator[None]:
    """Prefix a refusal raised inside with ``where`` (what it is about)."""
    try:
        yield
    except InputError:
        raise
    except DslsimError as exc:
        raise DslsimError(f"{where}: {exc}") from None


@dataclass
class _Run:
    """One replay of a simulation: its label (for progress), the path every frame takes (None: as routed), where
    its frames go, and, once run, the engine's figures."""

    label: str
    path_code: int | None
    sinks: list[Callable]
    out: EngineOutput | None = None

    def sink(self, block: FrameBlock) -> None:
        """Hand a block of finished frames to every sink."""
        for s in self.sinks:
            s(block)


def _replay(plan: Plan, source: TraceInput, runs: list[_Run], engine: str, lookahead: bool,
            window: tuple[float, float] | None, progress: Callable[[str, float, float], None] | None,
            check: Callable[[np.ndarray, float], None]) -> None:
    """Replay ``runs`` over ``source``: the trace is read once, each chunk fed to every run, the runs in threads
    of their own (the compiled engine releases the GIL). The reference engine replays a trace in memory, one run
    after another."""
    span = source.span
    if isinstance(source, InMemory):
        batch_runs = []
        for run in runs:
            index, ready, codes = next(source.chunks(run.path_code, check if run.path_code is None else None))
            if _engine_for(plan, codes, engine, lookahead, window if run.path_code is None else None) == "batch":
                batch_runs.append(run)
                continue
            tick = (lambda now, label=run.label: progress(label, now, span)) if progress else None
            run.out = run_engine(plan, ready, codes, progress=tick, horizon=span, lookahead=lookahead,
                                 window=window if run.path_code is None else None, engine="reference")
            run.sink(FrameBlock(0, index, ready, codes, run.out.start, run.out.end, run.out.energy,
                                run.out.wakeups, run.out.used, run.out.dropped))
        runs = batch_runs
        if not runs:
            return
    from dslsim.sim.engine.batch import BatchReplay  # numba loads only when the batch engine runs

    replays = [BatchReplay(plan, run.sink, None, span) for run in runs]
    # Each run feeds in a thread of its own while this thread reads and checks the next block, so reading overlaps
    # the replay; a run takes its chunks in order (its previous feed is awaited before the next is given).
    pool = ThreadPoolExecutor(max_workers=len(runs))
    pending: list = []
    try:
        for index, ready, codes in source.chunks(None, check):
            for future in pending:
                future.result()
            pending = [pool.submit(replay.feed, index, ready,
                                   codes if run.path_code is None else np.full_like(codes, run.path_code))
                       for run, replay in zip(runs, replays)]
            if progress is not None:
                for run in runs:
                    progress(run.label, float(ready[0]), span)
        for future in pending:
            future.result()
        for run, replay in zip(runs, replays):
            run.out = replay.finish()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _input(trace: str | Path | Trace | InMemory, frames: bool, engine: str, lookahead: bool,
           window: tuple[float, float] | None) -> TraceInput:
    """The frames to replay: in memory when given so, when the per-frame table is kept or the reference engine
    must run (it replays arrays); otherwise a file read block by block."""
    if isinstance(trace, InMemory):
        return trace
    if isinstance(trace, Trace):
        return InMemory(trace)
    if frames or engine == "reference" or window is not None or not lookahead:
        return InMemory(read_trace(trace))
    source = TraceFile(trace)
    # A short trace is replayed by the reference engine under 'auto' (cheaper than loading the compiled one).
    if engine == "auto" and source.frames < engines.BATCH_MIN_JOBS:
        return InMemory(read_trace(trace))
    return FromFile(source)


def _engine_for(plan: Plan, codes: np.ndarray, engine: str, lookahead: bool,
                window: tuple[float, float] | None) -> str:
    """The engine that replays ``codes``: as asked, 'auto' by the run's size; only the reference records a
    timeline or runs without look-ahead."""
    if engine == "auto":
        engine = "batch" if jobs_in(plan, codes) >= engines.BATCH_MIN_JOBS else "reference"
    return "reference" if window is not None or not lookahead else engine


def with_idle_resources(out: EngineOutput, plan: Plan, touched: list[int]) -> EngineOutput:
    """``out`` with every resource outside ``touched`` recomputed for ``plan`` as the engine accounts a resource
    that no frame visits (idle from 0, then its sleep states, up to the end of the run)."""
    lists = {name: list(getattr(out, name)) for name in
             ("residency", "dynamic_energy", "transition_energy", "wake_count", "unattributed_energy")}
    for r, res in enumerate(plan.resources):
        if r in touched:
            continue
        account = Account(res, 1 << r)
        account.close(out.t_end)
        lists["residency"][r] = account.residency
        lists["dynamic_energy"][r], lists["transition_energy"][r] = account.dynamic, account.transitions
        lists["wake_count"][r], lists["unattributed_energy"][r] = account.wakes, account.unattributed
    return replace(out, **lists)
