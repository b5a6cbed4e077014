"""Sweep spec (YAML): a base (profile, scenario, trace), axes over dotted paths, grid or seeded random points.

::

    name: heavy-path
    base:
      profile: phone                          # shipped name or a file (relative to this spec)
      trace: dsl-75hz-10min.parquet
      scenario: null                          # default: the profile's default_scenario
    baseline: true                            # battery gain vs. all frames on the dense path, per point
    axes:
      scenario.placement.full_decoder: [big, little, dsp]
      scenario.sleep.big.core_off: {range: [1 ms, 50 ms], steps: 6, scale: log}
      profile.links[dsp<->big].bandwidth: [100 MB/s, 1 GB/s]
      trace.threshold: [0.3, 0.5, 0.7]
    sample: {mode: grid}                      # or {mode: random, n: 40, seed: 0}

Axis roots: ``profile.`` (any profile field), ``scenario.`` (any scenario field; missing mappings such as a
new core under ``sleep`` are created), ``trace.threshold`` (a switch's, re-applied to the trace's stored scores)
and ``trace.threshold.<decision>`` (one decision of a cascade: an early exit, a halting step).

A base may name a ``stack`` (:mod:`dslsim.sim.stack`) instead of a trace; ``stack.`` axes then vary its fields, such
as its gates (``stack.models.ww.gate.threshold``, ``stack.models.codec.gate.hold``), priorities or placements, and
each row gains every model's calls, drain and latency (``<model>_pct_per_day`` ...). The scenario is the base's
``scenario`` file if given, else the stack's own, else the profile's default; its ungated run is simulated once for
all points that share it.
Every point is validated before any work starts. The keys are declared in :mod:`dslsim.sweep.spec_schema` (the JSON
Schema editors use is generated from it).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dslsim.yamldoc import Node, load_yaml
from dslsim.errors import DslsimError, InputError, describe
from dslsim.fileio import hash_file
from dslsim.hw.load import parse_profile, profile_path
from dslsim.shipped import shipped_traces, trace_path
from dslsim.sim.scenario import parse_scenario
from dslsim.sweep.paths import PathError, set_path
from dslsim.sweep.spec_schema import BASE, MAX_POINTS, MAX_STEPS, NAME_PATTERN, RANGE, ROOTS, SAMPLE, SCALES, SPEC


@dataclass
class SweepSpec:
    """A validated sweep: base documents, axes (name -> list of values) and the points to run."""

    name: str
    source: str
    profile_file: str
    profile_doc: dict
    scenario_doc: dict
    scenario_source: str
    trace_file: str
    baseline: bool
    axes: dict[str, list[Any]]
    points: list[dict[str, Any]] = field(default_factory=list)
    stack_doc: dict | None = None
    """The stack document every point starts from, when the base names a stack (``trace_file`` is then '')."""
    stack_source: str = ""
    """The stack file (its models' files are relative to its folder)."""
    stack_inputs: tuple[str, ...] = ()
    """The files the stack's models read (traces, model files), hashed into the digest."""
    max_miss_rate: float = 0.01
    """The share of frames a point may have miss their deadline and still keep up (``max_misses``)."""
    optional_stages: tuple[str, ...] = ()
    """The default scenario's own placements (see :attr:`dslsim.sim.scenario.Scenario.optional_stages`)."""

    def digest(self) -> str:
        """Identity of the base and axes: a store made for another base is not resumed."""
        h = hashlib.sha256()
        # The allowance changes every point's verdict: a store made with another one is not resumed.
        h.update(json.dumps([self.profile_doc, self.scenario_doc, self.baseline, self.axes, self.max_miss_rate]
                            + ([self.stack_doc] if self.stack_doc is not None else []),
                            sort_keys=True, default=str).encode())
        for path in (self.stack_inputs if self.stack_doc is not None else (self.trace_file,)):
            h = hash_file(path, h)
        return h.hexdigest()[:16]

    def task(self, point: dict[str, Any]) -> dict[str, Any]:
        """The self-contained description of one point that a worker runs (plain data, picklable)."""
        profile, scenario, thresholds = apply_point(self, point)
        task = {"id": point_id(point), "point": point, "profile": profile, "profile_source": self.profile_file,
                "scenario": scenario, "scenario_source": self.scenario_source, "trace": self.trace_file or None,
                "thresholds": thresholds, "baseline": self.baseline, "optional_stages": list(self.optional_stages),
                "max_miss_rate": self.max_miss_rate}
        if self.stack_doc is not None:
            task.update(stack=apply_stack_point(self, point), stack_source=self.stack_source,
                        stack_dir=str(Path(self.stack_source).parent))
        return task


def point_id(point: dict[str, Any]) -> str:
    """A stable short id for a point (its axis values)."""
    return hashlib.sha1(json.dumps(point, sort_keys=True, default=str).encode()).hexdigest()[:12]


def apply_point(spec: SweepSpec, point: dict[str, Any]) -> tuple[dict, dict, dict[str, float] | None]:
    """Profile and scenario documents with the point's values set, and the thresholds to re-route the trace
    with (by decision name; ``""`` for the only decision of a switch), or None."""
    profile, scenario = copy.deepcopy(spec.profile_doc), copy.deepcopy(spec.scenario_doc)
    thresholds: dict[str, float] = {}
    for axis, value in point.items():
        root, _, rest = axis.partition(".")
        if root == "stack":
            continue  # apply_stack_point
        if root == "trace":
            thresholds[rest.partition(".")[2]] = value
        else:
            try:
                set_path(profile if root == "profile" else scenario, rest, value, create=root == "scenario")
            except PathError as exc:
                raise PathError(axis, str(exc)) from None
    return profile, scenario, thresholds or None


def apply_stack_point(spec: SweepSpec, point: dict[str, Any]) -> dict:
    """The stack document with the point's ``stack.`` values set (existing keys only: a typo in an axis is an
    error, not a new model field)."""
    doc = copy.deepcopy(spec.stack_doc)
    for axis, value in point.items():
        root, _, rest = axis.partition(".")
        if root != "stack":
            continue
        try:
            # A gate's optional keys (score, when) and a model's (rate, deadline, placement) may be absent: the
            # last key may be new, the mappings on the way must exist.
            set_path(doc, rest, value, create=False)
        except PathError as exc:
            raise PathError(axis, str(exc)) from None
    return doc


def _flag(node: Node, key: str, default: bool) -> bool:
    """A true/false value; the text "false" is not true."""
    value = node.data.get(key, default)
    if not isinstance(value, bool):
        raise InputError(node.source, node.at(key), describe(value), "true or false (without quotes)")
    return value


def load_spec(path: str | Path) -> SweepSpec:
    """Load, expand and validate a sweep spec file; every problem is reported before any simulation runs."""
    path = Path(path)
    return parse_spec(load_yaml(path), str(path), path.parent, path.stem)


def parse_spec(data: Any, source: str = "<sweep>", base_dir: str | Path = ".", default_name: str = "sweep"
               ) -> SweepSpec:
    """A sweep spec from a mapping (as a spec file holds it); relative files are taken from ``base_dir``.

    >>> spec = parse_spec({"name": "timeouts", "base": {"profile": "watch", "trace": "dsl-75hz-10min"},
    ...                    "axes": {"scenario.sleep.big.core_off": ["2 ms", "20 ms"],
    ...                             "trace.threshold": [0.3, 0.6]}})
    >>> len(spec.points), spec.points[0]
    (4, {'scenario.sleep.big.core_off': '2 ms', 'trace.threshold': 0.3})
    """
    source = str(source)
    root = Node(data, source, sourced=True)
    SPEC.check(root)
    base = root.child("base")
    BASE.check(base)
    here = Path(base_dir)

    def relative(value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else here / p

    prof_name = BASE.text(base, "profile")
    try:
        prof_file = profile_path(relative(prof_name) if Path(prof_name).suffix in (".yaml", ".yml") else prof_name)
    except DslsimError as exc:
        raise InputError(source, "base.profile", repr(prof_name), f"a shipped profile or a profile file ({exc})") \
            from None
    profile_doc = load_yaml(prof_file)
    profile = parse_profile(profile_doc, str(prof_file))
    given = [k for k in BASE.exactly_one if base.data.get(k) is not None]
    if len(given) != 1:
        raise InputError(source, "base", f"{' and '.join(given) if given else 'neither trace nor stack'}",
                         "exactly one of 'trace' (a trace file or shipped trace) and 'stack' (a stack file)")
    stack_doc, stack_source, stack_inputs, stack_scenario = None, "", (), None
    if given[0] == "stack":
        from dslsim.sim.stack import load_stack

        stack_file = relative(BASE.text(base, "stack"))
        if not stack_file.is_file():
            raise InputError(source, "base.stack", repr(base.data["stack"]), "an existing stack file (relative to "
                                                                             "this spec)")
        stack = load_stack(stack_file)
        stack_doc, stack_source = copy.deepcopy(stack.doc), str(stack_file)
        stack_inputs = tuple(dict.fromkeys(m.source for m in stack.models))
        stack_scenario = stack.scenario
    if base.data.get("scenario"):
        scenario_path = relative(BASE.text(base, "scenario"))
        if not scenario_path.is_file():
            raise InputError(source, base.at("scenario"), repr(base.data["scenario"]),
                             f"a scenario file, relative to this spec (looked for {scenario_path})")
        scenario_source = str(scenario_path)
        scenario_doc = load_yaml(scenario_source)
    elif isinstance(stack_scenario, str):
        scenario_source, scenario_doc = stack_scenario, load_yaml(stack_scenario)
    elif isinstance(stack_scenario, dict):
        scenario_source, scenario_doc = f"{stack_source} (scenario)", stack_scenario
    else:
        scenario_source, scenario_doc = f"{prof_file} (default_scenario)", profile.default_scenario
    trace_file: Path | str = ""
    if stack_doc is None:
        trace_file = relative(BASE.text(base, "trace"))
        if not trace_file.is_file():
            try:
                trace_file = trace_path(BASE.text(base, "trace"))
            except DslsimError:
                raise InputError(source, "base.trace", repr(base.data["trace"]),
                                 f"an existing trace file or a shipped trace ({', '.join(shipped_traces())})") \
                    from None
    axes = _axes(root, source)
    for axis in axes:
        head = axis.split(".", 1)[0]
        if head == "stack" and stack_doc is None:
            raise InputError(source, f"axes.'{axis}'", "a stack axis in a sweep of a trace",
                             "a base that names a stack (base.stack), or profile., scenario. or trace. axes")
        if axis.startswith("stack.scenario.") or axis == "stack.scenario":
            raise InputError(source, f"axes.'{axis}'", "an axis into the stack's scenario",
                             "scenario.<field>: the scenario axes vary the stack's scenario (or the base's)")
        if head == "trace" and stack_doc is not None:
            raise InputError(source, f"axes.'{axis}'", "a trace threshold in a sweep of a stack",
                             "stack.models.<model>.gate.threshold (a stack's gates) or profile., scenario. axes")
    name = root.data.get("name", default_name)
    # The name becomes a folder under the output root: one plain path component, so a sweep never writes (or,
    # with --fresh, deletes) anywhere else.
    if not (isinstance(name, str) and re.fullmatch(NAME_PATTERN, name)):
        raise InputError(source, "name", describe(name), "a plain folder name: letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    spec = SweepSpec(name=name, source=source, profile_file=str(prof_file),
                     profile_doc=profile_doc, scenario_doc=copy.deepcopy(scenario_doc),
                     scenario_source=scenario_source, trace_file=str(trace_file),
                     baseline=_flag(root, "baseline", True), axes=axes,
                     max_miss_rate=_share(root, "max_misses"),
                     optional_stages=() if base.data.get("scenario") or stack_scenario is not None
                     else tuple((scenario_doc or {}).get("placement", {})),
                     stack_doc=stack_doc, stack_source=stack_source, stack_inputs=stack_inputs)
    spec.points = _points(root, axes, source)
    _validate_points(spec)
    return spec


def _axes(root: Node, source: str) -> dict[str, list[Any]]:
    raw = root.data.get("axes")
    if not isinstance(raw, dict) or not raw:
        raise InputError(source, "axes", describe(raw), "a mapping of dotted paths to lists of values")
    axes = {}
    for axis, values in raw.items():
        where = f"axes.'{axis}'"
        head = str(axis).split(".", 1)[0]
        if head not in ROOTS or "." not in str(axis):
            raise InputError(source, where, repr(axis), "a dotted path starting with profile., scenario., "
                                                        "trace.threshold or stack.")
        if head == "trace" and not (axis == "trace.threshold" or (str(axis).startswith("trace.threshold.")
                                                                  and str(axis).count(".") == 2)):
            raise InputError(source, where, repr(axis), "trace.threshold (a switch's) or trace.threshold.<decision> "
                                                        "(the only trace fields a sweep varies)")
        if isinstance(values, dict):
            values = _range(values, source, where)
        if not isinstance(values, list) or not values:
            raise InputError(source, where, describe(values), "a non-empty list of values or {range: [a, b], steps: n}")
        seen, repeated = set(), []
        for v in map(str, values):
            if v in seen and v not in repeated:
                repeated.append(v)
            seen.add(v)
        if repeated:
            raise InputError(source, where, f"repeated values {repeated[:5]}{' ...' if len(repeated) > 5 else ''}",
                             "distinct values")
        axes[str(axis)] = values
    return axes


def _share(root: Node, key: str) -> float:
    """A share from 0 to 1 ('5 %' or 0.05) under ``key``."""
    value = SPEC.quantity(root, key)
    if value > 1.0:
        raise InputError(root.source, root.at(key), describe(root.data.get(key)), "a share from 0 to 100 %")
    return value


def _range(spec: dict, source: str, where: str) -> list[Any]:
    """Expand {range: [a, b], steps: n, scale: linear|log} into values, keeping the unit of the ends."""
    from dslsim.units import QUANTITY, registry

    node = Node(spec, source, where, sourced=True)
    RANGE.check(node)
    ends, steps, scale = spec["range"], spec["steps"], spec.get("scale", "linear")
    if not (isinstance(ends, list) and len(ends) == 2):
        raise InputError(source, f"{where}.range", describe(ends), "[start, stop]")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        raise InputError(source, f"{where}.steps", describe(steps), f"a whole number from 1 to {MAX_STEPS:,}")
    if scale not in SCALES:
        raise InputError(source, f"{where}.scale", repr(scale), "linear or log")
    for i, end in enumerate(ends):   # only 'number unit' text reaches pint: an expression could run for ever
        text = str(end)
        match = QUANTITY.match(text) if len(text) <= 64 and not isinstance(end, bool) else None
        if match is None or len(match.group("number")) > 30:
            raise InputError(source, f"{where}.range[{i}]", describe(end), "a number with a unit, e.g. '1 ms'")
    try:
        lo, hi = (registry().Quantity(str(e)) for e in ends)
        hi = hi.to(lo.units)
    except Exception:
        raise InputError(source, f"{where}.range", repr(ends), "two quantities of the same kind, e.g. [1 ms, 50 ms]") from None
    a, b = float(lo.magnitude), float(hi.magnitude)
    if scale == "log" and (a <= 0 or b <= 0):
        raise InputError(source, f"{where}.range", repr(ends), "positive ends for a log scale")
    values = np.geomspace(a, b, steps) if scale == "log" else np.linspace(a, b, steps)
    unit = f"{lo.units:~}"
    # The fewest significant digits (at least 3) that keep every value distinct: short, readable labels.
    for digits in range(3, 17):
        text = [f"{v:.{digits}g}" for v in values]
        if len(set(text)) == len(text) or digits == 16:
            break
    return [float(t) if not unit else f"{t} {unit}" for t in text]


def _points(root: Node, axes: dict[str, list[Any]], source: str) -> list[dict[str, Any]]:
    sample = root.data.get("sample", {"mode": "grid"})
    node = Node(sample, source, "sample", sourced=True)
    SAMPLE.check(node)
    mode = SAMPLE.text(node, "mode")
    names = list(axes)
    sizes = [len(axes[n]) for n in names]
    total = math.prod(sizes)

    def point(index: int) -> dict[str, Any]:
        """The grid point at ``index`` (row-major, as itertools.product orders them), without building the grid."""
        combo = []
        for size in reversed(sizes):
            index, i = divmod(index, size)
            combo.append(i)
        return {n: axes[n][i] for n, i in zip(names, reversed(combo))}

    if mode == "grid":
        if total > MAX_POINTS:
            raise InputError(source, "axes", f"a grid of {total:,} points",
                             f"at most {MAX_POINTS:,} (or 'sample: {{mode: random, n: ...}}')")
        return [point(i) for i in range(total)]
    n, seed = sample.get("n"), sample.get("seed", 0)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_POINTS:
        raise InputError(source, "sample.n", describe(n), f"the number of random points, from 1 to {MAX_POINTS:,}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputError(source, "sample.seed", describe(seed), "a whole number")
    if seed < 0:  # numpy's generator refuses it
        raise InputError(source, "sample.seed", describe(seed), "a whole number, 0 or more")
    rng = np.random.default_rng(seed)
    if total <= 10 * n:   # small grid: an exact sample without replacement
        picks = rng.choice(total, size=min(n, total), replace=False).tolist()
    else:                 # huge grid: draw indices until n distinct ones, never listing the grid
        chosen: set[int] = set()
        while len(chosen) < n:
            chosen.update(int(i) for i in rng.integers(0, total, size=n - len(chosen)))
        picks = list(chosen)
    return [point(i) for i in sorted(picks)]


def _validate_points(spec: SweepSpec) -> None:
    """Apply and parse every point now, so a bad axis fails before the first simulation."""
    from dslsim.trace.io import read_trace

    threshold_axes = [a for a in spec.axes if a.startswith("trace.")]
    if threshold_axes:
        meta = read_trace(spec.trace_file).meta
        names = [d.name for d in meta.decisions]
        for axis in threshold_axes:
            decision = axis.partition(".")[2].partition(".")[2]
            if decision and decision not in names:
                raise InputError(spec.source, f"axes.'{axis}'", f"a trace whose decisions are {names or 'none'}",
                                 "trace.threshold.<one of them>")
            if not decision and len(names) != 1:
                raise InputError(spec.source, f"axes.'{axis}'", f"a trace with {len(names)} decisions {names}",
                                 "one decision (a switch) for 'trace.threshold'; name the decision otherwise, "
                                 "as trace.threshold.<decision>")
    checked: set[str] = set()
    for point in spec.points:
        for axis, value in point.items():
            if axis.startswith("trace.") and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                                  and 0 <= value <= 1):
                raise InputError(spec.source, f"axes.'{axis}'", describe(value), "numbers in [0, 1]")
        try:
            profile_doc, scenario_doc, _ = apply_point(spec, point)
        except PathError as exc:
            axis, reason = exc.args
            raise InputError(spec.source, f"axes.'{axis}'", "a path that does not fit",
                             f"an existing key ({reason})") from None
        stack_doc = None
        if spec.stack_doc is not None:
            try:
                stack_doc = apply_stack_point(spec, point)
            except PathError as exc:
                axis, reason = exc.args
                raise InputError(spec.source, f"axes.'{axis}'", "a path that does not fit",
                                 f"an existing key of the stack ({reason})") from None
        key = json.dumps([profile_doc, scenario_doc, stack_doc], sort_keys=True, default=str)
        if key in checked:
            continue
        checked.add(key)
        where = ", ".join(f"{a}={v}" for a, v in point.items())
        try:
            profile = parse_profile(profile_doc, f"{spec.profile_file} [sweep point {where}]")
            scenario = parse_scenario(scenario_doc, profile, f"{spec.scenario_source} [sweep point {where}]")
            if stack_doc is not None:
                from dslsim.sim.stack import compile_stack, parse_stack

                stack = parse_stack(stack_doc, f"{spec.stack_source} [sweep point {where}]",
                                    Path(spec.stack_source).parent, Path(spec.stack_source).stem)
                compile_stack(stack, profile, replace(scenario, optional_stages=frozenset(spec.optional_stages)),
                              spec.max_miss_rate)
        except InputError as exc:
            raise DslsimError(f"{spec.source}: a sweep point does not load: {exc}") from None
