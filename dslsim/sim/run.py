"""One call from Python: load inputs, build the plan, replay, and (optionally) compare against the dense baseline.

>>> from dslsim.sim.run import simulate
>>> result = simulate("earbud", "dsl-75hz-10min")
>>> round(result.summary.battery_life_h, 1), round(result.summary.battery_gain_pct, 1)
(12.1, 50.5)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError
from dslsim.hw.load import load_profile
from dslsim.hw.profile import Profile
from dslsim.sim.engine import Account, EngineOutput, run_engine
from dslsim.sim.plan import DEFAULT_MAX_MISS_RATE, Plan, build_plan
from dslsim.sim.results import SimResult, build_tables
from dslsim.sim.scenario import Scenario, load_scenario, parse_scenario
from dslsim.sim.summary import Summary
from dslsim.trace.io import read_trace
from dslsim.trace.schema import Trace


def simulate(profile: str | Path | Profile, trace: str | Path | Trace,
             scenario: str | Path | Scenario | Mapping | None = None,
             *, baseline: bool = True, progress: Callable[[str, float, float], None] | None = None,
             lookahead: bool = True, window: tuple[float, float] | None = None,
             baseline_cache: MutableMapping | None = None, engine: str = "auto",
             max_miss_rate: float = DEFAULT_MAX_MISS_RATE) -> SimResult:
    """Simulate ``trace`` on ``profile`` under ``scenario`` (a file, a mapping as a scenario file holds it, or
    by default the profile's default scenario). Profiles and traces: a shipped name or a file.

    With ``baseline=True`` the same scenario is simulated again with every frame on the trace's dense path,
    and the summary gains ``baseline_*`` and ``battery_gain_*`` entries. ``progress(label, done, total)``
    is called as simulated time advances. ``engine``: 'auto' (compiled batch engine for long runs), 'batch'
    or 'reference' (the SimPy replay; same numbers, bit for bit); ``lookahead=False`` runs every resource of
    the reference purely event-driven: slower still, same numbers (a cross-check). ``window=(t0, t1)``
    (seconds) records every core's state intervals there, in ``result.timeline``, for timeline and
    power-over-time plots. ``baseline_cache`` (any mapping, e.g. a dict kept across calls) reuses an all-dense
    baseline already computed for what its schedule depends on: a sweep over the switch threshold, the deadline
    or a core the dense path never visits then simulates the baseline once. ``max_miss_rate``: the share of frames
    that may miss their deadline (dropped ones included) in a run that keeps up; one that does not keep up has no
    battery figures.
    """
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    trace = trace if isinstance(trace, Trace) else read_trace(trace)
    if isinstance(scenario, Mapping):
        scenario = parse_scenario(scenario, profile)
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, profile)
    plan = build_plan(trace.meta, profile, scenario, max_miss_rate)
    ready = trace.frames["t_arrival"].to_numpy(dtype=np.float64) + trace.meta.frame_duration
    codes = trace.path_codes()
    check_size(plan, ready, trace.meta.frame_duration, codes)
    index = trace.frames["frame"].to_numpy()
    horizon = trace.duration

    def replay(label: str, path_codes: np.ndarray, timeline: tuple[float, float] | None = None) -> EngineOutput:
        span = float(ready[-1])
        tick = (lambda now: progress(label, now, span)) if progress else None
        return run_engine(plan, ready, path_codes, progress=tick, horizon=horizon, lookahead=lookahead,
                          window=timeline, engine=engine)

    # The baseline runs first and keeps only its summary, so peak memory is one run's, not two.
    base: Summary | None = None
    if baseline:
        dense = list(trace.meta.paths).index(trace.meta.dense_path)
        dense_codes = np.full_like(codes, dense)
        touched = sorted({hop.resource for hop in plan.hops[dense]})
        # What the dense path's schedule depends on: the resources it visits, its hops and the arrivals. Cores it
        # never visits, the battery, the floor and the deadline enter only when the summary is made below.
        key = (tuple((r, plan.resources[r]) for r in touched), plan.hops[dense], plan.frame_duration, horizon,
               hashlib.sha1(ready.tobytes()).hexdigest())
        out = baseline_cache.get(key) if baseline_cache is not None else None
        if out is None:
            out = replay("baseline", dense_codes)
            if baseline_cache is not None:
                baseline_cache[key] = summary_inputs(out)
        base = build_tables(with_idle_resources(out, plan, touched), plan, ready, dense_codes, index,
                            with_frames=False, horizon=horizon).summary
        del out, dense_codes  # the baseline's per-frame arrays go before the run's own are made
    run = build_tables(replay("simulate", codes, window), plan, ready, codes, index, horizon=horizon)
    summary = run.summary.with_baseline(base) if base is not None else run.summary
    warnings = scenario_warnings(summary, run.resources, plan, scenario.name)
    if base is not None and not base.keeps_up:
        warnings.append(f"with every frame on the '{trace.meta.dense_path}' path the scenario cannot keep up "
                        f"({base.shortfall}), so there is no baseline battery life to gain against.")
    meta = {"profile": plan.profile_name, "profile_file": plan.profile_file, "scenario": scenario.name,
            "trace_source": trace.meta.source, "dense_path": trace.meta.dense_path,
            "resources": [r.name for r in plan.resources],
            "opp": {r.name: r.opp for r in plan.resources if r.is_core},
            "window": tuple(window) if window is not None else None,
            # What fed each figure: the profile key paths behind every resource's components, and the floor.
            "sources": {r.name: dict(r.sources) for r in plan.resources},
            "floor": dict(profile.floor), "battery_floor": dict(profile.battery_floor),
            "converter_efficiency": profile.battery.converter_efficiency}
    return SimResult(frames=run.frames, resources=run.resources, summary=summary, baseline=base, meta=meta,
                     timeline=run.timeline, warnings=warnings)


def summary_inputs(out: EngineOutput) -> EngineOutput:
    """``out`` without the per-frame arrays a summary does not read (start, wake-ups, cores): what a baseline
    cache keeps."""
    return replace(out, start=out.start[:0], wakeups=out.wakeups[:0], used=out.used[:0])


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


#: Limits of one simulation: the engine marks a frame's cores in a 64-bit mask, steps run-ahead resources every
#: ``RUN_AHEAD`` simulated seconds (:mod:`dslsim.sim.engine.reference`), and a day at 75 Hz is 6.5 M frames;
#: past these a run is a typo, not a study.
MAX_RESOURCES = 62
MAX_SPAN_S = 10 * 365 * 86400.0
MAX_SERVICE_S = 3600.0
MAX_JOBS = 2_000_000_000
MAX_JOB_ENERGY_J = 1000.0


def check_size(plan: Plan, ready: np.ndarray, frame_duration: float, codes: np.ndarray) -> None:
    """Refuse, before any work, a simulation whose span, job count or single job is absurd, with the figure."""
    if len(plan.resources) > MAX_RESOURCES:
        raise DslsimError(f"{len(plan.resources)} cores and links: the engine handles at most {MAX_RESOURCES}.")
    span = float(ready[-1]) if len(ready) else 0.0
    if not np.isfinite(span) or span > MAX_SPAN_S:
        raise DslsimError(f"the trace spans {span:.3g} s of simulated time; at most {MAX_SPAN_S:.3g} s (10 years) "
                          f"per simulation.")
    for path, hops in zip(plan.path_names, plan.hops):
        for hop in hops:
            if not np.isfinite(hop.energy) or hop.energy > MAX_JOB_ENERGY_J:
                raise DslsimError(
                    f"path '{path}': one job on '{plan.resources[hop.resource].name}' would cost {hop.energy:.3g} J; "
                    f"check the profile's energies (at most {MAX_JOB_ENERGY_J:g} J per job).")
            if not np.isfinite(hop.service) or hop.service > MAX_SERVICE_S:
                where = f"stages {list(hop.stages)}" if hop.stages else "a link transfer"
                raise DslsimError(
                    f"path '{path}': {where} on '{plan.resources[hop.resource].name}' would take {hop.service:.3g} s "
                    f"per frame (frames come every {frame_duration:.3g} s); check the clock and the op counts "
                    f"(at most {MAX_SERVICE_S:g} s per job).")
    # A clock typo ('4 kHz' for a DSP) makes a core need ages to run what arrives in seconds; the engine's run time
    # follows simulated time, so refuse a backlog more than 100x the trace rather than grind through it.
    busy = np.zeros(len(plan.resources))
    for count, hops in zip(np.bincount(codes, minlength=len(plan.hops)), plan.hops):
        for hop in hops:
            busy[hop.resource] += count * hop.service
    worst = int(busy.argmax())
    if busy[worst] > 100 * max(span, 1.0):
        raise DslsimError(
            f"'{plan.resources[worst].name}' would need {busy[worst]:.3g} s to run what arrives in {span:.3g} s "
            f"({busy[worst] / max(span, 1e-12):.0f}x); check its clock and the placement.")
    jobs = len(ready) * max((len(h) for h in plan.hops), default=1)
    if jobs > MAX_JOBS:
        raise DslsimError(f"{len(ready):,} frames x up to {max(len(h) for h in plan.hops)} hops = {jobs:,} jobs; at "
                          f"most {MAX_JOBS:,} per simulation (split the trace).")


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
