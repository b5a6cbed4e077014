"""Run one sweep point: plain data in (a task from :meth:`SweepSpec.task`), one flat result row out (a point of a
stack: and each model's columns, ``<model>_<figure>``).

Runs in worker processes (local pool or Dask), so it imports lazily and caches the trace per process.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

#: All-dense baselines already simulated in this process, by plan and arrival times (threshold axes share them).
_BASELINES: dict = {}


@lru_cache(maxsize=2)
def _trace(path: str, mtime: float):
    """The trace, and its frames as a replay input (re-routed per point, its arrival times computed once)."""
    from dslsim.sim.inputs import InMemory
    from dslsim.trace.io import read_trace

    trace = read_trace(path)
    return trace, InMemory(trace)


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Simulate one point and return its row: axis values, point id, headline figures, quality if known."""
    from dslsim.hw.load import parse_profile
    from dslsim.sim.plan import DEFAULT_MAX_MISS_RATE
    from dslsim.sim.run import simulate
    from dslsim.sim.scenario import parse_scenario

    t0 = time.perf_counter()
    profile = parse_profile(task["profile"], task["profile_source"])
    scenario = replace(parse_scenario(task["scenario"], profile, task["scenario_source"]),
                       optional_stages=frozenset(task.get("optional_stages", ())))
    if len(_BASELINES) > 64:
        _BASELINES.clear()
    if task.get("stack") is not None:
        return _stack_point(task, profile, scenario, t0)
    trace, source = _trace(task["trace"], Path(task["trace"]).stat().st_mtime)
    thresholds = task.get("thresholds")
    if thresholds:
        trace = trace.rethreshold(thresholds[""] if "" in thresholds else thresholds)
        source = source.rerouted(trace)
    # A point keeps its summary only: no per-frame table, so a day-long trace costs the worker the trace alone.
    result = simulate(profile, source, scenario, baseline=task["baseline"], baseline_cache=_BASELINES,
                      max_miss_rate=task.get("max_miss_rate", DEFAULT_MAX_MISS_RATE), frames=False)
    s = result.summary
    row = _axis_values(task)
    row.update(s.to_row())
    row.update(trace.routed_error())
    row["sim_wall_s"] = time.perf_counter() - t0
    return row


def _axis_values(task: dict[str, Any]) -> dict[str, Any]:
    """The row's first columns: the point's id and axis values (and each quantity's SI number beside it)."""
    from dslsim.units import si_value

    row: dict[str, Any] = {"point_id": task["id"]}
    for axis, value in task["point"].items():
        row[axis] = str(value) if not isinstance(value, (int, float)) else value
        quantity = si_value(value)
        if quantity is not None:  # "1.94 ms" stays as the label; the number in SI units goes beside it
            row[f"{axis}_{quantity[1].replace('*', '').replace('/', '_per_')}"] = quantity[0]
    return row


#: A stack point's per-model columns (``<model>_<figure>``), from its attribution table.
MODEL_COLUMNS = ("calls", "ungated_calls", "pct_per_day", "mAh_per_day", "latency_p99_s", "deadline_miss_rate",
                 "keeps_up")


def _stack_point(task: dict[str, Any], profile, scenario, t0: float) -> dict[str, Any]:
    """One point of a sweep over a stack: the headline figures and each model's calls, drain and latency."""
    from dslsim.sim.plan import DEFAULT_MAX_MISS_RATE
    from dslsim.sim.stack import parse_stack
    from dslsim.sim.stack_run import simulate_stack

    source = task["stack_source"]
    stack = parse_stack(task["stack"], source, task["stack_dir"], Path(source).stem)
    result = simulate_stack(profile, stack, scenario, baseline=task["baseline"], baseline_cache=_BASELINES,
                            max_miss_rate=task.get("max_miss_rate", DEFAULT_MAX_MISS_RATE), frames=False)
    row = _axis_values(task)
    row.update(result.summary.to_row())
    models = result.models[result.models["kind"] == "model"]
    for record in models.to_dict("records"):
        for column in MODEL_COLUMNS:
            if column in record:
                value = record[column]
                row[f"{record['part']}_{column}"] = bool(value) if column == "keeps_up" else value
    row["sim_wall_s"] = time.perf_counter() - t0
    return row


def run_points(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`run_point` over several tasks (one Dask task for a chunk of neighbouring points)."""
    return [run_point(task) for task in tasks]
