"""How sure a run's power and battery figures are: seeded Monte Carlo over the profile's uncertain numbers.

Every power, current and energy number of a profile (and the battery's capacity) may carry its own uncertainty
in the YAML, ``{value: 4 uA/MHz, tolerance: 20 %}`` (a relative half-width) or ``{value: 12 uA, min: 9 uA,
max: 30 uA}`` (a datasheet's typ and max). A number without one takes a default by how it is sourced: one marked
``assumed`` gets :attr:`Tolerances.assumed`, a sourced one :attr:`Tolerances.sourced`. Each sample draws every
such number independently and uniformly within its range, rebuilds the run's per-state powers, energies per op,
transition energies and floor from that profile, and prices the run's own residencies and counts with them.

What the band covers: the uncertainty of the device's power numbers, which is what the battery figures are most
sensitive to. What it does not: timing (cycles per MAC and clocks are kept, so the schedule, latencies and
residencies are the nominal run's), correlations between numbers (a datasheet's typ and max of two related
figures move independently here), the battery model's own error, and the trace (routing, rates).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dslsim.hw.load import parse_profile
from dslsim.hw.profile import Profile
from dslsim.sim.plan import Plan, build_plan
from dslsim.sim.results import SimResult
from dslsim.sim.scenario import Scenario
from dslsim.trace.schema import Trace
from dslsim.errors import InputError
from dslsim.units import _NUMBER as NUMBER_PATTERN, parse_quantity
from dslsim.yamldoc import PROVENANCE_KEYS, UNCERTAINTY_KEYS, spread_factors

#: The profile keys whose numbers set power and energy (and the battery's capacity), with their units: what a
#: sample varies.
UNCERTAIN_KEYS = {"run_current": "A/Hz", "idle_current": "A/Hz", "base_current": "A", "idle_base_current": "A",
                  "current_per_mhz": "A/Hz", "leakage": "W", "power": "W", "energy_per_mac": "J",
                  "energy_per_byte": "J/B", "entry_energy": "J", "exit_energy": "J", "capacity": "A*h",
                  "converter_efficiency": "", "usable_fraction": "", "efficiency": ""}
#: Of those, the shares: drawn only within a range they state themselves, and never past 1.
FRACTIONS = ("converter_efficiency", "usable_fraction", "efficiency")
#: The percentiles a band spans.
BAND = (5.0, 95.0)

#: A number at the start of a quantity's text, in the loader's own number grammar, and the rest (its unit).
_LEADING = re.compile(rf"^\s*({NUMBER_PATTERN})(.*)$", re.S)


@dataclass(frozen=True)
class Tolerances:
    """Relative half-widths for numbers that state no uncertainty of their own, by how they are sourced."""

    assumed: float = 0.30
    """For a number marked ``assumed`` (by itself or a mapping above it)."""
    sourced: float = 0.0
    """For a number with a source and no assumption."""


@dataclass(frozen=True)
class Uncertain:
    """One uncertain number of a profile document: where it is, its nominal value and its range as factors."""

    path: str
    """Key path (``cores.dsp.opps[0].run_current``)."""
    container: Any
    """The mapping or list that holds it (in the document being sampled)."""
    key: Any
    """Its key or index there."""
    low: float
    """Lowest factor on the nominal value."""
    high: float
    """Highest factor on the nominal value."""
    cap: float = math.inf
    """The drawn value's ceiling (1 for an efficiency or a share)."""


def _scale(raw: Any, factor: float, cap: float = math.inf) -> Any:
    """``raw`` (a number, or a text that starts with one: '45 mAh') times ``factor``, no higher than ``cap``, in
    the same form."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return min(raw * factor, cap)
    match = _LEADING.match(str(raw))
    if not match:
        return raw
    number = float(match.group(1)) * factor
    if match.group(2).strip().startswith("%"):   # a share written in %
        number = min(number, 100.0 * cap)
    elif not match.group(2).strip():
        number = min(number, cap)
    return f"{number!r}{match.group(2)}"


def _range(node: dict, key: str, path: str, source: str, tolerances: Tolerances, assumed: bool) \
        -> tuple[float, float]:
    """(low, high) factors of a value mapping's own range (:func:`dslsim.yamldoc.spread_factors`), else the
    default by its sourcing."""
    if any(k in node for k in UNCERTAINTY_KEYS):
        value = parse_quantity(node["value"], UNCERTAIN_KEYS[key], source, f"{path}.value", minimum=None)
        factors = spread_factors(node, value, UNCERTAIN_KEYS[key], source, path)
        if factors is not None:
            return factors
    tol = tolerances.assumed if assumed else tolerances.sourced
    return 1.0 - tol, 1.0 + tol


def uncertain_numbers(document: dict, tolerances: Tolerances, source: str = "<profile>") -> list[Uncertain]:
    """Every power, current, energy and capacity number of a profile document with its range; value mappings
    lose their range keys (the loader then reads them as usual)."""
    found: list[Uncertain] = []

    def draw(node: dict, key: Any, value: Any, name: str, sub: str, here: bool) -> None:
        """Record ``node[key]`` (a bare number or a value mapping) under the drawn key ``name``."""
        stated = isinstance(value, dict) and any(k in value for k in UNCERTAINTY_KEYS)
        if name in FRACTIONS and not stated:
            return   # a share is drawn only within a range of its own: a default +-30 % would mean nothing
        if isinstance(value, dict):
            low, high = _range(value, name, sub, source, tolerances, here or "assumed" in value)
            for k in UNCERTAINTY_KEYS:
                value.pop(k, None)
            node, key = value, "value"
        else:
            low, high = _range({}, name, sub, source, tolerances, here)
        if (low, high) != (1.0, 1.0):
            found.append(Uncertain(sub, node, key, low, high, cap=1.0 if name in FRACTIONS else math.inf))

    def walk(node: Any, path: str, assumed: bool) -> None:
        if isinstance(node, dict):
            here = assumed or "assumed" in node
            for key, value in list(node.items()):
                if key in PROVENANCE_KEYS or (not path and key == "default_scenario"):
                    continue
                sub = f"{path}.{key}" if path else str(key)
                if key in UNCERTAINTY_KEYS:   # a drawn number's mapping never gets here: this one is not drawn
                    raise InputError(source, sub, f"a range on '{path}'", "ranges only on the numbers an "
                                     f"uncertainty draw varies: {', '.join(UNCERTAIN_KEYS)}")
                if key in UNCERTAIN_KEYS and isinstance(value, dict) and "value" not in value:
                    for opp, item in list(value.items()):   # one per operating point
                        if opp not in PROVENANCE_KEYS:
                            draw(value, opp, item, key, f"{sub}.{opp}", here or "assumed" in value)
                elif key in UNCERTAIN_KEYS and not isinstance(value, list):
                    draw(node, key, value, key, sub, here)
                else:
                    walk(value, sub, here)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]", assumed)

    walk(document, "", False)
    return found


def _dynamic_per_run(plan: Plan, r: int, counts: pd.Series) -> float:
    """Resource ``r``'s energy per op over the run's frames, as ``plan`` prices its hops."""
    return sum(counts.get(path, 0) * sum(h.energy for h in hops if h.resource == r)
               for path, hops in zip(plan.path_names, plan.hops))


def _priced(result: SimResult, nominal: Plan, trace: Trace):
    """A function pricing the nominal run's residencies, op counts and wake-ups with a sample plan's powers and
    energies: the compute energy (J). The run's own tables are read once here, not per sample."""
    res = result.resources
    counts = trace.frames["path"].value_counts()
    rows = {name: list(zip(g["component"], g["time_s"], g["energy_J"]))
            for name, g in res.groupby("resource", sort=False)}
    base_dynamic = [_dynamic_per_run(nominal, r, counts) for r in range(len(nominal.resources))]
    base_transition = [sum(st.state.entry_energy + st.state.exit_energy for st in rn.sleep) for rn in nominal.resources]

    def price(plan: Plan) -> float:
        total = 0.0
        for r, rs in enumerate(plan.resources):
            powers = dict(zip(rs.state_names, rs.state_powers))
            for comp, time, energy in rows.get(rs.name, ()):
                if comp in powers and time == time:   # a state, priced by its residency
                    total += time * powers[comp]
                elif comp == "dynamic" and energy:
                    base = base_dynamic[r]
                    total += energy * (_dynamic_per_run(plan, r, counts) / base if base else 1.0)
                elif comp == "transitions" and energy:
                    base = base_transition[r]
                    now = sum(st.state.entry_energy + st.state.exit_energy for st in rs.sleep)
                    total += energy * (now / base if base else 1.0)
        return total

    return price


def samples(result: SimResult, document: dict, profile: Profile, trace: Trace, scenario: Scenario, n: int = 200,
            seed: int = 0, tolerances: Tolerances = Tolerances()) -> pd.DataFrame:
    """``n`` seeded draws of the run's always-on power, battery draw, battery life and the feature's own share
    per day, one row each (see the module doc for what varies)."""
    rng = np.random.default_rng(seed)
    nominal = build_plan(trace.meta, profile, scenario, result.summary.max_miss_rate)
    s = result.summary
    keeps_up = s.keeps_up
    price = _priced(result, nominal, trace)
    rows = []
    for _ in range(n):
        doc = copy.deepcopy(document)
        numbers = uncertain_numbers(doc, tolerances, profile.source_file or "<profile>")
        for u in numbers:
            u.container[u.key] = _scale(u.container[u.key], rng.uniform(u.low, u.high), u.cap)
        sample = parse_profile(doc, profile.source_file)
        plan = build_plan(trace.meta, sample, scenario, s.max_miss_rate)
        compute = price(plan) / s.duration_s
        battery = sample.battery
        draw = (compute + plan.floor_power) / battery.converter_efficiency + plan.battery_floor_power
        idle = (sum(r.settled_power for r in plan.resources if r.is_core) + plan.floor_power) \
            / battery.converter_efficiency + plan.battery_floor_power
        life = battery.lifetime_s(draw) / 3600.0 if keeps_up else math.nan
        feature = 100.0 * 24.0 * (draw - idle) / battery.voltage / battery.capacity_ah if keeps_up else math.nan
        rows.append({"always_on_power_W": compute + plan.floor_power + plan.battery_floor_power,
                     "battery_power_W": draw, "battery_life_h": life, "feature_pct_per_day": feature})
    return pd.DataFrame(rows)


def bands(draws: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """(low, median, high) of each figure over the draws, at the :data:`BAND` percentiles."""
    out = {}
    for col in draws.columns:
        values = draws[col].to_numpy(dtype=float)
        if np.isfinite(values).any():
            lo, mid, hi = np.nanpercentile(values, [BAND[0], 50.0, BAND[1]])
            out[col] = (float(lo), float(mid), float(hi))
    return out
