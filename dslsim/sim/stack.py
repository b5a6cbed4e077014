"""Stacks: several models on one device, each with its own calls, gated by each other's scores, sharing the cores
by priority.

A stack file (YAML; the keys are declared in :mod:`dslsim.sim.stack_schema`)::

    name: vad-ww-codec
    duration: 24 h                      # each model's trace loops to fill it (default: the longest trace)
    scenario: null                      # operating points, sleep and busy policy: a file, a mapping, or the
                                        #   profile's default_scenario
    models:
      vad:
        trace: vad-scores.parquet       # the model run always-on: its calls, paths, scores and op graph
        priority: 2
        placement: {default: dsp}
      ww:
        model: okay_nabu.tflite         # or a model file: one call per period, no scores
        rate: 33.3 Hz                   #   (its own rate if it states one)
        gate: {model: vad, threshold: 0.5, hold: 1 s}
        priority: 1
      codec:
        trace: dsl-75hz-10min
        gate: {model: ww, threshold: 0.9, hold: 10 s, score: score}
        deadline: 13.3 ms               # default: one call period

**What a model's calls are.** A model's trace is taken as the model running always-on over the stack's time line:
call *k* is frame ``k mod n`` of its trace in loop ``k div n``, arriving at ``loop x D + t_arrival`` (``D``: the
trace's length; both scaled by the trace's rate over ``rate`` when a rate is given), ready one call period later,
routed down the path the trace gives it. A model file is a trace of one call that loops at its rate.

**Gates.** A call of the gating model *fires* when its score passes the threshold (``score >= threshold``, or
``<`` with ``when: below``; a missing score never fires). The gating model's score is taken to be known at its
deadline (ready time + deadline: in a run that keeps up, its call has finished by then), and from then the gate
stays open for ``hold`` seconds, each firing restarting the hold. A gated model's call exists only when its ready
time falls in an open interval: ``open <= ready < open + hold``. A gating model that is gated itself only fires
on the calls it makes, so gates chain (VAD -> wake word -> codec). All of it is numpy over the calls' times.

**One merged run.** The stack compiles into one plan (:func:`compile_stack`) whose paths are ``<model>:<path>``
(stages ``<model>:<stage>``, placed by the model's own placement, then the scenario's) with each path the
priority of its model, and one stream of calls of every model in ready-time order (ties: model order)
(:class:`StackCalls`). The engines replay it as they replay a trace; a core shared by models of different
priorities serves the waiting job of the highest priority when it frees (:attr:`dslsim.sim.plan.Plan.priorities`).
The *ungated* stream (every model at its full rate, same routing) is the baseline the gates' battery gain is
measured against.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from dslsim.errors import DslsimError, InputError, describe
from dslsim.hw.profile import Profile
from dslsim.sim.plan import DEFAULT_MAX_MISS_RATE, Plan, build_plan
from dslsim.sim.scenario import Scenario, load_scenario, parse_scenario
from dslsim.sim.stack_schema import GATE, GATE_WHEN, MAX_PRIORITY, MODEL, MODEL_NAME, MODEL_SUFFIXES, STACK
from dslsim.trace.schema import MAX_PATHS, Stage, Trace, TraceMeta
from dslsim.yamldoc import Node, load_yaml

#: Calls per block of one model's stream (about 2 MB of arrays): bounds the memory of a stack's replay whatever
#: its duration.
BLOCK_CALLS = 1 << 16

#: The separator of a model's name and its path or stage names in the merged run ('ww:inference').
SEP = ":"


@dataclass(frozen=True)
class Gate:
    """When a model runs: while ``model``'s score has fired within the last ``hold`` seconds."""

    model: str
    """The gating model's name."""
    threshold: float
    """The score that fires the gate (0 to 1)."""
    hold: float
    """Seconds the gate stays open after a firing call's score is known (s)."""
    score: str
    """The gating model's per-call score column."""
    when: str = "above"
    """'above': a call fires at score >= threshold; 'below': at score < threshold."""

    def describe(self) -> str:
        """The gate in a few words: ``vad >= 0.5, hold 1 s``."""
        op = ">=" if self.when == "above" else "<"
        return f"{self.model}.{self.score} {op} {self.threshold:g}, hold {self.hold:g} s"


@dataclass(frozen=True)
class StackModel:
    """One model of a stack, resolved: its calls (from its trace, or a model file's one looping call), rate,
    gate, priority, placement and deadline."""

    name: str
    """The model's name (the prefix of its paths in results)."""
    meta: TraceMeta
    """Its paths, stages and op graph (a model file's: one path, one stage per op)."""
    arrival: np.ndarray
    """Arrival time of each of its trace's frames in run time (s): the trace's, scaled to ``rate``."""
    codes: np.ndarray
    """Path code of each frame (int8, into ``meta.paths``)."""
    scores: dict[str, np.ndarray]
    """The per-frame score columns of its trace (float64; NaN where missing)."""
    length: float
    """Seconds one pass of its trace covers in run time (its last arrival plus one call period)."""
    rate: float
    """Calls per second."""
    source: str
    """The trace or model file it was read from."""
    kind: str
    """'trace' or 'model' (a model file)."""
    gate: Gate | None = None
    """When it runs (None: always)."""
    priority: int = 0
    """Its jobs' priority where they wait for a shared core (higher first)."""
    placement: dict[str, str] = field(default_factory=dict)
    """Its own stage -> core placement (without 'default')."""
    default_core: str | None = None
    """The core of its stages its placement does not name (None: the scenario's placement decides)."""
    deadline: float = 0.0
    """Latency past which a call misses (s)."""

    @property
    def period(self) -> float:
        """Seconds between calls (one call's audio)."""
        return 1.0 / self.rate

    def full_calls(self, duration: float) -> int:
        """How many calls arrive before ``duration`` at its full rate (its trace looped): those whose arrival, computed
        as the stream computes it (loop x length + arrival), is before it."""
        n = len(self.arrival)
        loops = int(duration // self.length)
        # Every loop before loops - 1 is whole; the last two or three are counted call by call, as they arrive.
        count = max(loops - 1, 0) * n
        for loop in range(max(loops - 1, 0), loops + 2):
            count += int(np.count_nonzero(loop * self.length + self.arrival < duration))
        return count


@dataclass(frozen=True)
class Stack:
    """A validated stack: models in file order (gates checked: known models, no cycles), its duration, and the
    scenario it names (resolved against a profile by :func:`compile_stack`)."""

    name: str
    """The stack's name."""
    source: str
    """The stack file ('' when given in code)."""
    models: tuple[StackModel, ...]
    """The models, in file order (the tie-break between calls ready at the same time)."""
    duration: float
    """Simulated time (s)."""
    scenario: str | dict | None = None
    """The scenario file (resolved path), an inline scenario mapping, or None for the profile's default."""
    doc: dict = field(default_factory=dict, compare=False)
    """The stack document as read (a sweep varies its fields)."""

    def model(self, name: str) -> StackModel:
        """The model called ``name``."""
        return next(m for m in self.models if m.name == name)

    @property
    def order(self) -> list[int]:
        """Model indices in gate order: a gating model before every model it gates."""
        names = [m.name for m in self.models]
        done: list[int] = []
        while len(done) < len(names):
            for i, m in enumerate(self.models):
                if i not in done and (m.gate is None or names.index(m.gate.model) in done):
                    done.append(i)
        return done


def load_stack(path: str | Path) -> Stack:
    """Load and validate a stack file; every problem names the file and key path."""
    path = Path(path)
    if path.is_dir():
        raise DslsimError(f"{path}: a folder, not a stack file.")
    if not path.is_file():
        raise DslsimError(f"{path}: no such stack file.")
    return parse_stack(load_yaml(path), str(path), path.parent, path.stem)


def parse_stack(data: Any, source: str = "<stack>", base_dir: str | Path = ".", default_name: str = "stack") \
        -> Stack:
    """A stack from a mapping as a stack file holds it; files are taken relative to ``base_dir``."""
    root = Node(data, source, sourced=True)
    STACK.check(root)
    here = Path(base_dir)
    name = root.data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise InputError(source, "name", describe(name), "a non-empty text")
    models_node = root.child("models")
    if not models_node.data:
        raise InputError(source, "models", "no models", "at least one model")
    raw: list[tuple[str, Node]] = []
    for key in models_node.data:
        if not isinstance(key, str) or not _matches(MODEL_NAME, key):
            raise InputError(source, f"models.{key}", describe(key),
                             "a model name of letters, digits, '_' and '-', starting with a letter (at most 40)")
        raw.append((key, models_node.child(key)))
    names = [k for k, _ in raw]
    gates = {k: node.child("gate") for k, node in raw if node.has("gate")}
    for k, gate in gates.items():
        GATE.check(gate)
        target = gate.data.get("model")
        if target not in names:
            raise InputError(source, gate.at("model"), describe(target), f"one of the stack's models {names}")
    _check_cycles(gates, source)
    loaded = [_model(k, node, here, source) for k, node in raw]
    by_name = {m.name: m for m in loaded}
    models = []
    for m, (k, node) in zip(loaded, raw):
        if k in gates:
            m = replace(m, gate=_gate(gates[k], by_name, source))
        models.append(m)
    paths = sum(len(m.meta.paths) for m in models)
    if paths > MAX_PATHS:
        raise InputError(source, "models", f"{paths} paths over its models", f"at most {MAX_PATHS} in one stack")
    if root.has("duration"):
        duration = STACK.quantity(root, "duration")
    else:
        traced = [m.length for m in models if m.kind == "trace"]
        if not traced:
            raise InputError(source, "duration", "nothing", "the simulated time (every model is a model file, so no "
                                                            "trace gives one), e.g. '1 h'")
        duration = max(traced)
    scenario = root.data.get("scenario")
    if isinstance(scenario, str):
        file = here / scenario if not Path(scenario).is_absolute() else Path(scenario)
        if not file.is_file():
            raise InputError(source, "scenario", describe(scenario), "a scenario file (relative to the stack file)")
        scenario = str(file)
    elif scenario is not None and not isinstance(scenario, dict):
        raise InputError(source, "scenario", describe(scenario), "a scenario file, a scenario mapping, or nothing")
    return Stack(name=name, source=source, models=tuple(models), duration=duration, scenario=scenario,
                 doc=data)


def _matches(pattern: str, text: str) -> bool:
    return re.match(pattern, text) is not None


def _check_cycles(gates: dict[str, Node], source: str) -> None:
    """Refuse gates that lead back to the model they gate (a model must be reached from an ungated one)."""
    for start in gates:
        chain = [start]
        while chain[-1] in gates:
            nxt = gates[chain[-1]].data["model"]
            if nxt in chain:
                loop = chain[chain.index(nxt):] + [nxt]
                raise InputError(source, gates[chain[-1]].at("model"), f"{nxt!r}, which closes the cycle of gates "
                                 f"{' -> '.join(loop)}",
                                 "gates that lead back to a model that always runs (no cycles)")
            chain.append(nxt)


def _model(name: str, node: Node, here: Path, source: str) -> StackModel:
    """One model's calls from its trace or model file, with its rate, priority, placement and deadline."""
    MODEL.check(node)
    given = [k for k in MODEL.exactly_one if node.has(k)]
    if len(given) != 1:
        raise InputError(source, node.path, f"{' and '.join(given) if given else 'neither trace nor model'}",
                         "exactly one of 'trace' (a trace file or shipped trace) and 'model' (a model file)")
    rate = MODEL.quantity(node, "rate") if node.has("rate") else None
    if given[0] == "trace":
        meta, arrival, codes, scores, file = _trace_calls(node, here, source)
        own = meta.frame_rate
        scale = own / rate if rate is not None else 1.0
        rate = rate if rate is not None else own
        arrival = arrival * scale if scale != 1.0 else arrival
        length = float(arrival[-1]) + 1.0 / rate
        kind = "trace"
    else:
        meta, rate, file = _model_file(node, here, source, rate)
        arrival, codes, scores = np.zeros(1), np.zeros(1, np.int8), {}
        length = 1.0 / rate
        kind = "model"
    priority = node.data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or abs(priority) > MAX_PRIORITY:
        raise InputError(source, node.at("priority"), describe(priority),
                         f"a whole number from {-MAX_PRIORITY} to {MAX_PRIORITY} (higher runs first)")
    placement: dict[str, str] = {}
    default_core = None
    if node.has("placement"):
        place = node.child("placement")
        for stage, core in place.data.items():
            if not isinstance(core, str) or not core:
                raise InputError(source, place.at(stage), describe(core), "a core of the profile")
            if stage == "default":
                default_core = core
            elif stage not in meta.stages:
                raise InputError(source, place.at(stage), f"the stage {stage!r}",
                                 f"'default' or a stage of model '{name}': {list(meta.stages)}")
            else:
                placement[str(stage)] = core
    deadline = MODEL.quantity(node, "deadline") if node.has("deadline") else 1.0 / rate
    return StackModel(name=name, meta=meta, arrival=arrival, codes=codes, scores=scores, length=length, rate=rate,
                      source=file, kind=kind, priority=priority, placement=placement, default_core=default_core,
                      deadline=deadline)


def _resolve(node: Node, key: str, here: Path) -> Path:
    value = node.text(key)
    path = Path(value)
    return path if path.is_absolute() else here / path


#: What a model's trace gives a stack: its metadata, arrivals (s), path codes, score columns by name.
Calls = tuple[TraceMeta, np.ndarray, np.ndarray, dict[str, np.ndarray]]


def _trace_calls(node: Node, here: Path, source: str) -> tuple[TraceMeta, np.ndarray, np.ndarray,
                                                                dict[str, np.ndarray], str]:
    """A model's trace: (meta, arrivals, path codes, score columns, file)."""
    from dslsim.shipped import shipped_traces, trace_path

    value = node.text("trace")
    file = _resolve(node, "trace", here)
    if not file.is_file():
        try:
            file = trace_path(value)
        except DslsimError:
            raise InputError(source, node.at("trace"), describe(value),
                             f"a trace file (relative to the stack file) or a shipped trace "
                             f"({', '.join(shipped_traces())})") from None
    meta, arrival, codes, scores = _read_calls(str(file.resolve()), file.stat().st_mtime_ns)
    return meta, arrival, codes, scores, str(file)


@lru_cache(maxsize=8)
def _read_calls(path: str, mtime_ns: int) -> Calls:
    """A trace's arrivals, path codes and score columns (cached per process: a sweep parses its stack per point)."""
    from dslsim.trace.io import read_trace

    trace = read_trace(path)
    frames = trace.frames
    reserved = {"frame", "t_arrival", "path"}
    scores = {}
    for column in frames.columns:
        if column in reserved or not np.issubdtype(frames[column].dtype, np.number):
            continue
        values = frames[column].to_numpy(dtype=np.float64, na_value=np.nan)
        scores[str(column)] = values
    arrival = frames["t_arrival"].to_numpy(dtype=np.float64)
    for a in (arrival, *scores.values()):
        a.setflags(write=False)
    codes = trace.path_codes().astype(np.int8)
    codes.setflags(write=False)
    return trace.meta, arrival, codes, scores


def _model_file(node: Node, here: Path, source: str, rate: float | None) -> tuple[TraceMeta, float, str]:
    """A model file's op graph as a one-call trace's metadata, and its rate."""
    from dslsim.trace.model_ops import read_model
    from dslsim.trace.optable import model_trace

    file = _resolve(node, "model", here)
    if file.suffix.lower() not in MODEL_SUFFIXES:
        raise InputError(source, node.at("model"), describe(node.data["model"]),
                         f"a model file dslsim reads: {', '.join(MODEL_SUFFIXES)}")
    if not file.is_file():
        raise InputError(source, node.at("model"), describe(node.data["model"]),
                         "an existing model file (relative to the stack file)")
    try:
        graph = read_model(file)
    except DslsimError as exc:  # the reader names the file and the key inside it; say which model of the stack
        raise DslsimError(f"{source}: {node.at('model')}: {exc}") from None
    if rate is None:
        if graph.call_rate_hz is None:
            raise InputError(source, node.at("rate"), "nothing",
                             f"calls per second, e.g. '50 Hz' ({file.name} does not state how often it is called)")
        rate = graph.call_rate_hz
    trace = model_trace(graph.ops, rate, 1.0 / rate, source={"model": str(file), "importer": "dslsim stack"})
    return trace.meta, float(rate), str(file)


def _gate(node: Node, models: dict[str, StackModel], source: str) -> Gate:
    """A gate, its score column checked against the gating model's trace."""
    target = models[node.data["model"]]
    threshold = GATE.quantity(node, "threshold")
    if threshold > 1.0:
        raise InputError(source, node.at("threshold"), describe(node.data["threshold"]), "a score from 0 to 1")
    hold = GATE.quantity(node, "hold")
    when = GATE.text(node, "when") if node.has("when") else GATE_WHEN[0]
    if target.kind == "model":
        raise InputError(source, node.at("model"), f"'{target.name}', a model file (no scores)",
                         "a model given as a trace with a per-call score column to gate on")
    if node.has("score"):
        score = GATE.text(node, "score")
        if score not in target.scores:
            raise InputError(source, node.at("score"), describe(score),
                             f"a score column of model '{target.name}''s trace: {sorted(target.scores) or 'it has none'}")
    else:
        decisions = target.meta.decisions
        if len(decisions) == 1:
            score = decisions[0].score
        elif "score" in target.scores:
            score = "score"
        else:
            raise InputError(source, node.at("score"), "nothing",
                             f"the score column of model '{target.name}' to gate on: its trace has "
                             f"{len(decisions)} decisions and no column 'score' (columns: "
                             f"{sorted(target.scores) or 'none'})")
    values = target.scores[score]
    finite = values[np.isfinite(values)]
    if len(finite) and (finite.min() < 0 or finite.max() > 1):
        raise InputError(source, node.at("score"), f"column {score!r} of model '{target.name}' with values from "
                         f"{finite.min():g} to {finite.max():g}", "a score column in [0, 1]")
    return Gate(model=target.name, threshold=threshold, hold=hold, score=score, when=when)


# Compiling a stack into one run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackPlan:
    """A stack compiled for a profile: the merged plan and where each model's paths are in it."""

    stack: Stack
    """The stack."""
    plan: Plan
    """The merged plan: paths ``<model>:<path>`` in model order, each with its model's priority."""
    scenario: Scenario
    """The device scenario the stack ran under (its placement merged per model)."""
    first_code: tuple[int, ...]
    """Per model, its first path code in the merged plan (its paths follow in its trace's order)."""
    model_of_code: np.ndarray
    """Per merged path code, the index of its model."""
    span: float
    """The simulated window's end (s): the last full-rate call's ready time."""

    @property
    def names(self) -> list[str]:
        """The models' names, in stack order."""
        return [m.name for m in self.stack.models]


def merged_meta(stack: Stack) -> TraceMeta:
    """One trace metadata with every model's stages and paths, prefixed with its name."""
    stages: dict[str, Stage] = {}
    paths: dict[str, list[str]] = {}
    for m in stack.models:
        for name, st in m.meta.stages.items():
            stages[f"{m.name}{SEP}{name}"] = Stage(f"{m.name}{SEP}{name}", st.ops)
        for path, members in m.meta.paths.items():
            paths[f"{m.name}{SEP}{path}"] = [f"{m.name}{SEP}{s}" for s in members]
    first = stack.models[0]
    return TraceMeta(frame_rate=first.rate, sample_rate=first.meta.sample_rate, hop=first.meta.hop, paths=paths,
                     stages=stages, dense_path=f"{first.name}{SEP}{first.meta.dense_path}",
                     source={"stack": stack.name})


def compile_stack(stack: Stack, profile: Profile, scenario: Scenario | str | Path | dict | None = None,
                  max_miss_rate: float = DEFAULT_MAX_MISS_RATE) -> StackPlan:
    """The merged plan of ``stack`` on ``profile``. ``scenario`` (a Scenario, a file or a mapping) wins over the
    stack's own; neither: the profile's default scenario. Each stage is placed by its model's placement, then its
    'default', then the scenario's placement of a stage of that name, then the scenario's default."""
    where = stack.source or "<stack>"
    if scenario is None:
        scenario = stack.scenario
    if isinstance(scenario, Scenario):
        scn = scenario
    elif isinstance(scenario, dict):
        scn = parse_scenario(scenario, profile, f"{where} (scenario)" if scenario is stack.scenario else
                             "<scenario>")
    else:
        scn = load_scenario(scenario, profile)
    cores = list(profile.cores)
    placement: dict[str, str] = {}
    for m in stack.models:
        for stage, core in [*m.placement.items()] + ([("default", m.default_core)] if m.default_core else []):
            if core not in profile.cores:
                raise InputError(where, f"models.{m.name}.placement.{stage}", describe(core),
                                 f"a core of profile '{profile.name}': {cores}")
        for stage in m.meta.stages:
            core = m.placement.get(stage) or m.default_core or scn.placement.get(stage) or scn.default_core
            if core is None:
                raise InputError(where, f"models.{m.name}.placement", f"no core for stage {stage!r}",
                                 f"'default: <core>' or '{stage}: <core>' (the scenario '{scn.name}' places no "
                                 f"stage of that name and has no default)")
            placement[f"{m.name}{SEP}{stage}"] = core
    stage_names = {s for m in stack.models for s in m.meta.stages}
    unused = [s for s in scn.placement if s not in stage_names and s not in scn.optional_stages]
    if unused:  # a typo would silently leave the stage to a default core
        raise DslsimError(f"scenario '{scn.name}' ({scn.source or 'given in code'}): placement names stage(s) "
                          f"{unused} that no model of stack '{stack.name}' has; their stages are "
                          f"{sorted(stage_names)}.")
    merged = replace(scn, placement=placement, default_core=None, optional_stages=frozenset())
    meta = merged_meta(stack)
    plan = build_plan(meta, profile, merged, max_miss_rate)
    first, model_of_code, priorities = [], [], []
    for i, m in enumerate(stack.models):
        first.append(len(model_of_code))
        model_of_code += [i] * len(m.meta.paths)
        priorities += [m.priority] * len(m.meta.paths)
    # One deadline per model (in the stack's totals); the plan's own is not a figure of a stack.
    plan = replace(plan, priorities=tuple(priorities), deadline=math.nan,
                   frame_duration=min(m.period for m in stack.models))
    span = max(_last_ready(m, stack.duration) for m in stack.models)
    return StackPlan(stack=stack, plan=plan, scenario=scn, first_code=tuple(first),
                     model_of_code=np.asarray(model_of_code, np.int64), span=span)


def _last_ready(model: StackModel, duration: float) -> float:
    """The ready time of a model's last full-rate call in ``duration`` (0 without calls)."""
    k = model.full_calls(duration)
    if k == 0:
        return 0.0
    loop, i = divmod(k - 1, len(model.arrival))
    return (loop * model.length + float(model.arrival[i])) + model.period


# The merged stream of calls ------------------------------------------------------------------------------------


@dataclass
class Emission:
    """Consecutive calls of every model, merged in ready-time order (ties: model order): the ungated stream, and
    which of its calls exist once the gates are applied."""

    index: np.ndarray
    """Each call's place in its model's full-rate sequence (int64)."""
    ready: np.ndarray
    """Ready times (s)."""
    codes: np.ndarray
    """Merged path codes (int64)."""
    exists: np.ndarray
    """Whether the call is made with the gates applied (bool)."""

    def gated(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The calls the gates let through, as an engine chunk (index, ready, codes)."""
        keep = self.exists
        return self.index[keep], self.ready[keep], self.codes[keep]

    def ungated(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every call, as an engine chunk."""
        return self.index, self.ready, self.codes


class _ModelStream:
    """One model's full-rate calls, its trace looped, produced in blocks of :data:`BLOCK_CALLS`."""

    def __init__(self, model: StackModel, first_code: int, duration: float):
        self.model = model
        self.first_code = first_code
        self.duration = duration
        self.next = 0                     # the next call's index
        self.total = model.full_calls(duration)
        # Calls buffered: index, ready time, merged path code, row of the trace (for its scores).
        self.buffer: list[np.ndarray] = [np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64),
                                         np.zeros(0, np.int64)]

    @property
    def exhausted(self) -> bool:
        """Whether every call is in the buffer or gone."""
        return self.next >= self.total

    def refill(self) -> None:
        """Append the next block of calls to the buffer."""
        k = np.arange(self.next, min(self.next + BLOCK_CALLS, self.total), dtype=np.int64)
        self.next = int(k[-1]) + 1 if len(k) else self.total
        n = len(self.model.arrival)
        loop, i = np.divmod(k, n)
        ready = (loop * self.model.length + self.model.arrival[i]) + self.model.period
        codes = self.model.codes[i].astype(np.int64) + self.first_code
        self.buffer = [np.concatenate((old, new)) for old, new in zip(self.buffer, (k, ready, codes, i))]

    @property
    def last_ready(self) -> float:
        """The ready time of the buffer's last call (inf when empty and exhausted)."""
        ready = self.buffer[1]
        return float(ready[-1]) if len(ready) else (math.inf if self.exhausted else -math.inf)

    def take_before(self, limit: float) -> list[np.ndarray]:
        """Remove and return the buffered calls ready before ``limit`` (index, ready, codes, trace row)."""
        cut = int(np.searchsorted(self.buffer[1], limit, side="left"))
        head = [b[:cut] for b in self.buffer]
        self.buffer = [b[cut:] for b in self.buffer]
        return head


class StackCalls:
    """The merged call stream of a compiled stack, in :class:`Emission`s; memory bounded by a few blocks per model,
    whatever the duration. Deterministic: the same stack gives the same calls, bit for bit."""

    def __init__(self, sp: StackPlan):
        self.sp = sp
        stack = sp.stack
        names = sp.names
        self.streams = [_ModelStream(m, sp.first_code[i], stack.duration) for i, m in enumerate(stack.models)]
        self.order = stack.order
        self.gate_of = [names.index(m.gate.model) if m.gate is not None else -1 for m in stack.models]

    @property
    def total_calls(self) -> int:
        """Calls of the ungated stream."""
        return sum(s.total for s in self.streams)

    def __iter__(self) -> Iterator[Emission]:
        streams = self.streams
        for s in streams:
            s.refill()
        last_open = [-math.inf] * len(streams)   # per gated model: the latest opening of its gate so far
        while True:
            active = [i for i, s in enumerate(streams) if not s.exhausted]
            if active:
                lasts = [streams[i].last_ready for i in active]
                j = int(np.argmin(lasts))
                limit, refill = lasts[j], active[j]
            else:
                limit, refill = math.inf, -1
            # Calls ready at the limit stay: a model's next block may hold more calls at that very time, and ties
            # go by model order.
            parts = [s.take_before(limit) for s in streams]
            if any(len(p[0]) for p in parts):
                yield self._emit(parts, last_open)
            if refill < 0:
                return
            streams[refill].refill()

    def _emit(self, parts: list[list[np.ndarray]], last_open: list[float]) -> Emission:
        """Merge one stretch of every model's calls and apply the gates (in gate order, so a gating model's own
        gate is applied before it opens another's); ``last_open`` carries each gate's latest opening across
        stretches."""
        models = self.sp.stack.models
        exists: list[np.ndarray] = [np.ones(0, bool)] * len(parts)
        for i in self.order:
            ready = parts[i][1]
            g = self.gate_of[i]
            if g < 0:
                exists[i] = np.ones(len(ready), bool)
                continue
            gate = models[i].gate
            opens = _opens(parts[g][1], models[g].scores[gate.score][parts[g][3]], exists[g], gate,
                           models[g].deadline)
            exists[i] = _open(ready, opens, last_open[i], models[i].gate.hold)
            if len(opens):
                last_open[i] = max(last_open[i], float(opens[-1]))
        index = np.concatenate([p[0] for p in parts])
        ready = np.concatenate([p[1] for p in parts])
        codes = np.concatenate([p[2] for p in parts])
        made = np.concatenate(exists)
        if len(parts) > 1:
            order = np.argsort(ready, kind="stable")   # sorted runs in model order: ties go to the earlier model
            index, ready, codes, made = index[order], ready[order], codes[order], made[order]
        return Emission(index=index, ready=ready, codes=codes, exists=made)


def _opens(ready: np.ndarray, score: np.ndarray, made: np.ndarray, gate: Gate, deadline: float) -> np.ndarray:
    """When each firing call of a gating model opens the gate: its ready time plus its deadline (sorted)."""
    with np.errstate(invalid="ignore"):
        fires = score >= gate.threshold if gate.when == "above" else score < gate.threshold
    return ready[fires & made] + deadline


def _open(ready: np.ndarray, opens: np.ndarray, carried: float, hold: float) -> np.ndarray:
    """Whether calls ready at ``ready`` find the gate open: the latest opening at or before each (from ``opens``, this
    stretch's, or ``carried``, the latest before it) is less than ``hold`` ago."""
    if carried > -math.inf:
        opens = np.concatenate(([carried], opens))
    if not len(opens):
        return np.zeros(len(ready), bool)
    j = np.searchsorted(opens, ready, side="right") - 1
    latest = opens[np.maximum(j, 0)]
    return (j >= 0) & (ready < latest + hold)
