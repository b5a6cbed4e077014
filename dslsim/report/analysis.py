"""Analysis of results tables: Pareto fronts and battery-gain tables against named baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dslsim.hw.profile import Profile
from dslsim.sim.scenario import Scenario
from dslsim.trace.schema import Trace


def pareto_front(df: pd.DataFrame, minimize: list[str] = (), maximize: list[str] = ()) -> pd.Series:
    """Boolean mask of the rows no other row beats on every objective (and strictly on one).

    >>> df = pd.DataFrame({"power": [1, 2, 3, 1.5], "latency": [3, 2, 1, 3]})
    >>> pareto_front(df, minimize=["power", "latency"]).tolist()
    [True, True, True, False]
    """
    cols = list(minimize) + list(maximize)
    values = df[cols].to_numpy(dtype=float) * np.array([1.0] * len(minimize) + [-1.0] * len(maximize))
    keep = np.ones(len(df), dtype=bool)
    for i in range(len(df)):
        others = np.delete(values, i, axis=0)
        dominated = np.all(others <= values[i], axis=1) & np.any(others < values[i], axis=1)
        keep[i] = not dominated.any() and np.all(np.isfinite(values[i]))
    return pd.Series(keep, index=df.index)


def big_core(profile: Profile) -> str:
    """The core with the highest peak MAC rate (fastest operating point x best MACs per cycle)."""
    return max(profile.cores, key=lambda c: max(o.freq for o in profile.cores[c].opps) *
               max(k.macs_per_cycle for k in profile.cores[c].op_costs.values()))


def low_power_core(profile: Profile) -> str:
    """The core with the lowest idle power at its slowest operating point."""
    from dslsim.hw.cost import idle_power

    def lowest(core) -> float:
        return min(idle_power(core, core.clock(o.name)) for o in core.opps)
    return min(profile.cores, key=lambda c: lowest(profile.cores[c]))


def _on_one_core(scenario: Scenario, core: str) -> Scenario:
    return Scenario(name=f"all on {core}", placement={}, default_core=core, opp=scenario.opp, sleep=scenario.sleep,
                    deadline=scenario.deadline, when_busy=scenario.when_busy)


def baseline_table(profile: Profile, trace: Trace, scenario: Scenario, *, max_miss_rate: float = 0.01) -> pd.DataFrame:
    """Battery life of the scenario against named baselines on the same device and trace.

    Rows: the scenario itself; every frame on the dense path; every stage on the big core; every stage on the
    low-power core. ``keeps_up`` is False when a configuration drops frames or misses more than
    ``max_miss_rate`` of its deadlines (its battery figure is then not a fair comparison).
    ``scenario_gain_pct`` is how much longer the scenario lasts than that row.
    """
    from dslsim.sim.run import simulate

    configs = [("scenario", f"as configured ({scenario.name})", trace, scenario),
               (f"all-{trace.meta.dense_path}", f"every frame on the '{trace.meta.dense_path}' path",
                trace.with_paths(trace.meta.dense_path), scenario)]
    big, low = big_core(profile), low_power_core(profile)
    configs.append((f"all-on-{big}", f"every stage on '{big}' (highest MAC rate)", trace, _on_one_core(scenario, big)))
    if low != big:
        configs.append((f"all-on-{low}", f"every stage on '{low}' (lowest idle power)", trace,
                        _on_one_core(scenario, low)))
    rows = []
    for name, text, t, scn in configs:
        s = simulate(profile, t, scn, baseline=False).summary
        rows.append({"configuration": name, "description": text, "always_on_power_mW": 1e3 * s["always_on_power_W"],
                     "latency_p99_ms": 1e3 * s["latency_p99_s"], "deadline_miss_rate": s["deadline_miss_rate"],
                     "dropped": s["dropped"], "battery_life_h": s["battery_life_h"],
                     "keeps_up": s["keeps_up"] and s["dropped"] == 0 and s["deadline_miss_rate"] <= max_miss_rate})
    df = pd.DataFrame(rows)
    df["scenario_gain_pct"] = 100.0 * (df["battery_life_h"].iloc[0] / df["battery_life_h"] - 1.0)
    return df
