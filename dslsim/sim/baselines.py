"""Named baselines: how a scenario compares with the plain choices a device team would make instead.

Rows: the scenario itself; every frame on the trace's dense path; every stage on the core with the highest MAC
rate; every stage on the core with the lowest idle power. The first two come from a :class:`SimResult` that
already holds them (``simulate(..., baseline=True)``), so only the single-core placements run here.

>>> from dslsim.sim.run import simulate
>>> result = simulate("watch", "dsl-75hz-10min")
>>> table = named_baselines(result, "watch", "dsl-75hz-10min")
>>> table["configuration"].tolist()
['scenario', 'all-full', 'all-on-big', 'all-on-mcu']
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from dslsim.cost import idle_power
from dslsim.hw.load import load_profile
from dslsim.hw.profile import Profile
from dslsim.sim.results import SimResult
from dslsim.sim.summary import Summary
from dslsim.sim.scenario import Scenario, load_scenario
from dslsim.trace.io import read_trace
from dslsim.trace.schema import Trace


def big_core(profile: Profile) -> str:
    """The core with the highest peak MAC rate (fastest operating point x best MACs per cycle)."""
    return max(profile.cores, key=lambda c: max(o.freq for o in profile.cores[c].opps) *
               max(k.macs_per_cycle for k in profile.cores[c].op_costs.values()))


def low_power_core(profile: Profile) -> str:
    """The core with the lowest idle power at its slowest operating point."""
    def lowest(core) -> float:
        return min(idle_power(core, core.clock(o.name)) for o in core.opps)
    return min(profile.cores, key=lambda c: lowest(profile.cores[c]))


def on_one_core(scenario: Scenario, core: str) -> Scenario:
    """``scenario`` with every stage placed on ``core`` (operating points, sleep and busy policies kept)."""
    return replace(scenario, name=f"all on {core}", placement={}, default_core=core)


def comparison_table(rows: list[tuple[str, str, Summary]]) -> pd.DataFrame:
    """Configurations side by side, one row each from ``(name, description, summary)``: power, p99 latency,
    misses, battery life, whether it keeps up, and ``scenario_gain_pct``, how much longer the first row lasts than
    each."""
    df = pd.DataFrame([{"configuration": name, "description": text, "always_on_power_mW": 1e3 * s.always_on_power_W,
                        "latency_p99_ms": 1e3 * s.latency_p99_s, "deadline_miss_rate": s.deadline_miss_rate,
                        "dropped": s.dropped, "battery_life_h": s.battery_life_h, "keeps_up": s.keeps_up}
                       for name, text, s in rows])
    df["scenario_gain_pct"] = 100.0 * (df["battery_life_h"].iloc[0] / df["battery_life_h"] - 1.0)
    return df


def named_baselines(result: SimResult, profile: str | Path | Profile, trace: str | Path | Trace,
                    scenario: str | Path | Scenario | None = None) -> pd.DataFrame:
    """Battery life of ``result``'s scenario against the named baselines on the same device and trace.

    ``result`` is the scenario's own simulation with its all-dense baseline (``simulate(..., baseline=True)``);
    ``profile``, ``trace`` and ``scenario`` are what it ran. ``keeps_up`` is the summaries' own (a stable queue
    and deadline misses within the run's allowance); a row that does not keep up has no battery life.
    ``scenario_gain_pct`` is how much longer the scenario lasts than that row.
    """
    from dslsim.sim.run import simulate

    if result.baseline is None:
        raise ValueError("named_baselines needs a result simulated with baseline=True")
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    trace = trace if isinstance(trace, Trace) else read_trace(trace)
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, profile)
    dense = trace.meta.dense_path
    rows = [("scenario", f"as configured ({scenario.name})", result.summary),
            (f"all-{dense}", f"every frame on the '{dense}' path", result.baseline)]
    big, low = big_core(profile), low_power_core(profile)
    cores = [(big, "highest MAC rate")] + ([(low, "lowest idle power")] if low != big else [])
    for core, why in cores:
        s = simulate(profile, trace, on_one_core(scenario, core), baseline=False,
                     max_miss_rate=result.summary.max_miss_rate).summary
        rows.append((f"all-on-{core}", f"every stage on '{core}' ({why})", s))
    return comparison_table(rows)
