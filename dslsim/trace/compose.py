"""Usage profiles: one long trace composed from a schedule of scenes over the times of day, in bounded memory.

An always-on day is not one scene repeated: nights are silent, commutes are noisy, meetings are speech, and battery
life depends on that mix. A schedule (YAML, see docs/usage-profiles.md) defines **scenes** — a trace looped or cut
to each slot, or seeded synthetic routing (a light share or per-path shares, and a mean burst) — and **day plans**
whose slots tile 00:00 to 24:00 exactly, each plan repeated for some days. :func:`compose` writes the days as one
trace-format-v2 file, row group by row group (never more than :data:`ROW_GROUP_FRAMES` frames in memory), with a
per-frame ``scene`` column and the schedule in the metadata's ``source``.

Every scene shares one op graph, the **reference**'s (a named trace, or the default synth graph): same frame rate,
sample rate, hop, paths, stages and ops, and decisions; synthetic scenes draw their scores for its decisions.

Frame ``i`` arrives at ``i / frame_rate`` (as in every generated trace), and a slot from ``a`` to ``b`` seconds of
the composition holds frames ``floor(a * rate + 1/2)`` up to (not including) ``floor(b * rate + 1/2)``, so slots
and days follow each other without a gap or a repeated frame.

>>> schedule = parse_schedule({
...     "reference": {"synth": {"frame_rate": "1 Hz"}},
...     "scenes": {"quiet": {"synth": {"light_share": 0.95, "mean_burst": "2 s"}},
...                "busy": {"synth": {"light_share": 0.5, "mean_burst": "4 s"}}},
...     "days": [{"scenes": [{"scene": "quiet", "duration": "8 h"}, {"scene": "busy"}]}]})
>>> [(s.scene, clock(s.start), clock(s.end)) for s in schedule.days[0].slots]
[('quiet', '00:00', '08:00'), ('busy', '08:00', '24:00')]
>>> schedule.frames(days=1), schedule.slot_frames(day=0, slot=0)
(86400, (0, 28800))
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError, InputError, describe
from dslsim.trace.compose_schema import (DAY, MAX_DAYS, MAX_SCENES, REFERENCE_SYNTH, REPEAT_PATTERN, SCENE,
                                         SCENE_NAME_PATTERN, SCHEDULE, SLOT, SYNTH)
from dslsim.trace.schema import RESERVED_COLUMNS, Decision, Trace, TraceMeta
from dslsim.yamldoc import Node

#: Seconds in a day plan: every day tiles 00:00 to 24:00.
DAY_SECONDS = 86_400.0
#: Frames per Parquet row group, and the most frames held in memory at once while composing.
ROW_GROUP_FRAMES = 1_000_000
#: The per-frame column that names each frame's scene.
SCENE_COLUMN = "scene"
#: Two times closer than this (seconds) are the same instant: durations such as '0.1 h' convert with rounding.
_SAME_INSTANT = 1e-6
#: What a slot's time of day looks like.
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_TILING = ("a day's slots tile 00:00 to 24:00 exactly, each starting where the one before it ends (no overlaps, "
           "no gaps)")


def clock(seconds: float) -> str:
    """A time of day (seconds after midnight) as 'HH:MM', 'HH:MM:SS' when it has seconds, or with a fraction.

    >>> clock(0), clock(7 * 3600 + 30 * 60), clock(86400), clock(61.5)
    ('00:00', '07:30', '24:00', '00:01:01.500')
    """
    whole = round(seconds)
    if abs(seconds - whole) > _SAME_INSTANT:
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"
    h, rest = divmod(int(whole), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if s else f"{h:02d}:{m:02d}"


def _frame_at(seconds: float, frame_rate: float) -> int:
    """The first frame at or after ``seconds`` on the frame grid, rounding half up (shift-invariant, unlike
    round(), so every slot of a day of whole seconds holds the same frames on every day)."""
    return int(math.floor(seconds * frame_rate + 0.5))


@dataclass(frozen=True)
class SynthSettings:
    """Routing statistics of a synthetic scene (``synth:``)."""

    light_share: float | None
    """Share of frames on the light path of a two-path graph (a two-state burst chain), or None."""
    shares: tuple[float, ...] | None
    """Each path's share of frames, in path order (a chain that redraws the path), or None."""
    mean_burst: float
    """Seconds: the mean full-path burst (light_share), or the mean time between redraws (shares)."""

    def to_json(self) -> dict[str, Any]:
        """The settings as the composed trace's metadata records them."""
        out: dict[str, Any] = {"light_share": self.light_share} if self.light_share is not None else \
            {"shares": list(self.shares or ())}
        return {**out, "mean_burst_s": self.mean_burst}


@dataclass(frozen=True)
class Scene:
    """One scene of a schedule: a trace played from ``offset`` and looped or cut to each slot, or synthetic
    routing on the reference's graph."""

    name: str
    """Its name: the slots' ``scene`` and a category of the composed trace's ``scene`` column."""
    key: str
    """Its key path in the schedule (``scenes.night``), for errors."""
    description: str = ""
    trace: Trace | None = None
    """The scene's trace (read and validated once), for a trace scene."""
    trace_label: str | None = None
    """The trace as the schedule names it."""
    trace_sha256: str | None = None
    """The trace file's sha256 (provenance)."""
    offset: float = 0.0
    """Seconds into the trace where every slot of this scene starts playing it."""
    synth: SynthSettings | None = None
    """The routing statistics of a synthetic scene."""

    def to_json(self) -> dict[str, Any]:
        """The scene as the composed trace's metadata records it."""
        if self.synth is not None:
            return {"synth": self.synth.to_json()}
        return {"trace": self.trace_label, "trace_sha256": self.trace_sha256, "offset_s": self.offset}


@dataclass(frozen=True)
class Slot:
    """One scene over part of a day: from ``start`` to ``end`` seconds after midnight."""

    scene: str
    start: float
    end: float
    key: str
    """Its key path in the schedule (``days[0].scenes[2]``)."""


@dataclass(frozen=True)
class DayPlan:
    """A day of slots tiling 00:00 to 24:00, followed on ``repeat`` consecutive days."""

    name: str
    repeat: int
    slots: tuple[Slot, ...]
    key: str
    """Its key path in the schedule (``days[1]``)."""


@dataclass(frozen=True)
class Column:
    """A per-frame column of the composed trace besides frame, t_arrival, path and scene."""

    name: str
    dtype: np.dtype
    """Its type in the file: the scenes' common one (float64 when float32 and float64 scenes meet)."""


@dataclass
class Schedule:
    """A validated schedule: the reference's graph, the scenes (their traces read), the day plans, and the
    per-frame columns the composed trace will have."""

    source: str
    """The schedule file (or a label), named in every error."""
    name: str
    seed: int
    """Seed of every synthetic scene: each day and slot draws its own stream from it."""
    meta: TraceMeta
    """The reference's metadata: the op graph, frame rate and decisions every scene shares."""
    reference: str
    """The reference as the schedule names it (or the default synth graph's description)."""
    scenes: dict[str, Scene]
    days: tuple[DayPlan, ...]
    columns: tuple[Column, ...] = ()
    """The extra per-frame columns every scene has, in order."""
    dropped: tuple[str, ...] = ()
    """Columns some scene has and the composed trace does not, each with why."""
    sha256: str | None = None
    """The schedule file's sha256, when read from a file."""

    @property
    def span_days(self) -> int:
        """Days the schedule spans: the sum of its day plans' repeats."""
        return sum(plan.repeat for plan in self.days)

    def plan_of(self, day: int) -> DayPlan:
        """The plan of day ``day`` (0-based) of a composition: the schedule's days in order, from the first plan
        again after :attr:`span_days`."""
        day %= self.span_days
        for plan in self.days:
            if day < plan.repeat:
                return plan
            day -= plan.repeat
        raise AssertionError("unreachable: day is below span_days")

    def frames(self, days: int) -> int:
        """Frames of a composition of ``days`` days."""
        return _frame_at(days * DAY_SECONDS, self.meta.frame_rate)

    def slot_frames(self, day: int, slot: int) -> tuple[int, int]:
        """(first frame, frame after the last) of slot ``slot`` of day ``day`` of a composition."""
        s = self.plan_of(day).slots[slot]
        base = day * DAY_SECONDS
        return _frame_at(base + s.start, self.meta.frame_rate), _frame_at(base + s.end, self.meta.frame_rate)

    def record(self, days: int, seed: int) -> dict[str, Any]:
        """What the composed trace's metadata ``source`` says: the schedule, its scenes and day plans, the seed,
        the days composed and the reference, so that the file can be made again."""
        return {
            "generator": "dslsim trace compose",
            "schedule": self.name,
            "schedule_file": self.source,
            **({"schedule_sha256": self.sha256} if self.sha256 else {}),
            "seed": seed,
            "days": days,
            "reference": self.reference,
            "reference_source": self.meta.source,
            "scenes": {name: scene.to_json() for name, scene in self.scenes.items()},
            "day_plans": [{"name": plan.name, "repeat": plan.repeat,
                           "slots": [[s.scene, clock(s.start), clock(s.end)] for s in plan.slots]}
                          for plan in self.days],
            **({"columns_dropped": list(self.dropped)} if self.dropped else {}),
        }


@dataclass(frozen=True)
class Composition:
    """What :func:`compose` wrote."""

    path: Path
    frames: int
    days: int
    seed: int
    frame_rate: float
    row_groups: int
    scene_frames: dict[str, int]
    """Frames of each scene, in the schedule's scene order."""
    path_frames: dict[str, int]
    """Frames on each path, in the graph's path order."""
    dropped: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        """Seconds covered."""
        return self.frames / self.frame_rate


# Loading -------------------------------------------------------------------------------------------------------


def load_schedule(path: str | Path) -> Schedule:
    """Load and validate a schedule file: every scene's trace read and checked against the reference's graph,
    every day tiled, before anything is written; every problem an :class:`InputError` naming the file and key."""
    from dslsim.fileio import file_sha256
    from dslsim.yamldoc import load_yaml

    path = Path(path)
    data = load_yaml(path)
    schedule = parse_schedule(data, str(path), path.parent, path.stem)
    schedule.sha256 = file_sha256(path)
    return schedule


def parse_schedule(data: Any, source: str = "<schedule>", base_dir: str | Path = ".",
                   default_name: str = "schedule") -> Schedule:
    """A schedule from a mapping (as a schedule file holds it); trace files are taken relative to ``base_dir``."""
    root = Node(data, source, sourced=True)
    SCHEDULE.check(root)
    base = Path(base_dir)
    name = _text(root, "name", default_name)
    seed = _integer(root, "seed", 0, 0, None)
    traces: dict[Path, tuple[Trace, str]] = {}
    meta, reference = _reference(root, base, traces)
    scenes = _scenes(root, meta, base, traces, reference)
    days = tuple(_day(node, i, scenes, meta.frame_rate) for i, node in enumerate(root.items_of("days")))
    span = sum(plan.repeat for plan in days)
    if span > MAX_DAYS:
        raise InputError(source, "days", f"day plans spanning {span} days (the sum of their repeats)",
                         f"at most {MAX_DAYS} days")
    schedule = Schedule(source=source, name=name, seed=seed, meta=meta, reference=reference, scenes=scenes,
                        days=days)
    schedule.columns, schedule.dropped = _columns(schedule)
    return schedule


def _text(node: Node, key: str, default: str) -> str:
    value = node.data.get(key, default)
    if not isinstance(value, str):
        raise InputError(node.source, node.at(key), describe(value), "a text")
    return value


def _integer(node: Node, key: str, default: int, minimum: int, maximum: int | None) -> int:
    value = node.data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or \
            (maximum is not None and value > maximum):
        span = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise InputError(node.source, node.at(key), describe(value), f"a whole number {span}")
    return value


def _trace_file(value: Any, base: Path, source: str, key: str) -> Path:
    """A scene's or the reference's trace: a file relative to the schedule, else a shipped trace by name."""
    from dslsim.shipped import shipped_name, shipped_traces

    if not isinstance(value, str) or not value.strip():
        raise InputError(source, key, describe(value), "a trace file (relative to the schedule) or a shipped trace")
    given = Path(value)
    candidate = given if given.is_absolute() else base / given
    if candidate.is_file():
        return candidate
    if candidate.exists():
        raise InputError(source, key, f"'{value}' ({candidate} is a folder, a pipe or a device)", "a trace file")
    name = shipped_name(value, "trace")
    if name is not None:
        return shipped_traces()[name]
    raise InputError(source, key, f"'{value}' (no file {candidate}, and not a shipped trace)",
                     f"a trace file, relative to the schedule, or a shipped trace: {', '.join(shipped_traces())} "
                     f"('dslsim trace list')")


def _read_scene_trace(value: Any, base: Path, source: str, key: str,
                      traces: dict[Path, tuple[Trace, str]]) -> tuple[Trace, str]:
    """The trace a key names, read and validated once per file; (trace, its sha256)."""
    from dslsim.fileio import file_sha256
    from dslsim.trace.io import read_trace

    path = _trace_file(value, base, source, key).resolve()
    if path not in traces:
        try:
            traces[path] = (read_trace(path), file_sha256(path))
        except DslsimError as exc:
            raise InputError(source, key, f"'{value}', which is not a readable trace ({str(exc).rstrip('.')})",
                             "a dslsim trace (Parquet, format v2)") from None
    return traces[path]


def synth_graph(frame_rate: float = 75.0, width: int = 16, embed_dim: int | None = None, threshold: float = 0.5,
                frontend: str = "pcm", decimation: str = "hardware") -> TraceMeta:
    """The metadata of the trace ``dslsim trace synth`` (kind dsl) writes with these options: the analytic
    DSL-SoundStream graph, one switch, and the audio front end stage; its source without routing settings.

    >>> meta = synth_graph()
    >>> meta.frame_rate, list(meta.paths), meta.paths["light"][0]
    (75.0, ['light', 'full'], 'frontend')
    """
    from dslsim.trace.frontend import frontend_stage, with_frontend
    from dslsim.trace.synth import synth_trace

    # One frame is enough for the graph; its routing is thrown away (a burst of two frames keeps any rate valid).
    one = synth_trace(duration=1.0 / frame_rate, frame_rate=frame_rate, mean_burst=2.0 / frame_rate, width=width,
                      embed_dim=embed_dim or 4 * width, threshold=threshold)
    if frontend != "none":
        features = "none" if frontend == "pcm" else frontend
        one = with_frontend(one, frontend_stage(one.meta.sample_rate, one.meta.hop, features=features,
                                                decimation=decimation))
    routing = ("seed", "light_share_target", "mean_burst_s")
    source = {k: v for k, v in one.meta.source.items() if k not in routing}
    return TraceMeta(**{**one.meta.__dict__, "source": source})


def _reference(root: Node, base: Path, traces: dict) -> tuple[TraceMeta, str]:
    """The graph every scene shares, and how the schedule names it."""
    raw = root.data.get("reference")
    where = root.at("reference")
    if raw is None or isinstance(raw, dict):
        node = Node(raw if raw is not None else {"synth": {}}, root.source, where, root.sourced, root.provenance)
        node.check_keys({"synth"}, required=("synth",))
        synth = node.child("synth")
        REFERENCE_SYNTH.check(synth)
        rate = REFERENCE_SYNTH.quantity(synth, "frame_rate")
        if not 1e-3 <= rate <= 1e5:
            raise InputError(root.source, synth.at("frame_rate"), describe(synth.data.get("frame_rate")),
                             "a frame rate from 0.001 Hz to 100 kHz")
        width = _integer(synth, "width", 16, 1, 4096)
        embed = _integer(synth, "embed_dim", 4 * width, 1, 16384)
        threshold = REFERENCE_SYNTH.quantity(synth, "threshold")
        if not 0.0 < threshold < 1.0:
            raise InputError(root.source, synth.at("threshold"), describe(synth.data.get("threshold")),
                             "a switch threshold strictly between 0 and 1")
        options = dict(frame_rate=rate, width=width, embed_dim=embed, threshold=threshold,
                       frontend=REFERENCE_SYNTH.text(synth, "frontend"),
                       decimation=REFERENCE_SYNTH.text(synth, "decimation"))
        label = "default synth graph (" + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in options.items()) + ")"
        return synth_graph(**options), label
    trace, _ = _read_scene_trace(raw, base, root.source, where, traces)
    if SCENE_COLUMN in {d.score for d in trace.meta.decisions} | \
            {d.threshold_column for d in trace.meta.decisions}:
        raise InputError(root.source, where, f"'{raw}', whose decisions read a column '{SCENE_COLUMN}'",
                         f"a trace whose decisions read other columns (a composed trace's '{SCENE_COLUMN}' "
                         f"column names each frame's scene)")
    return trace.meta, str(raw)


def _scenes(root: Node, meta: TraceMeta, base: Path, traces: dict, reference: str) -> dict[str, Scene]:
    source = root.source
    node = root.child("scenes")
    if not node.data:
        raise InputError(source, "scenes", "no scenes", "at least one scene: name -> {trace: ...} or {synth: ...}")
    if len(node.data) > MAX_SCENES:
        raise InputError(source, "scenes", f"{len(node.data)} scenes", f"at most {MAX_SCENES}")
    scenes = {}
    for name, scene in root.children("scenes"):
        if not re.fullmatch(SCENE_NAME_PATTERN, name):
            raise InputError(source, scene.path, f"the scene name {name!r}",
                             "a plain name: a letter, then letters, digits, '_' or '-' (at most 64)")
        SCENE.check(scene)
        kinds = [k for k in SCENE.exactly_one if k in scene.data]
        if len(kinds) != 1:
            found = "both 'trace' and 'synth'" if kinds else "neither 'trace' nor 'synth'"
            raise InputError(source, scene.path, found,
                             "one of 'trace: <file or shipped trace>' and 'synth: {light_share: ..., mean_burst: ...}'")
        description = _text(scene, "description", "")
        if kinds == ["synth"]:
            if "offset" in scene.data:
                raise InputError(source, scene.at("offset"), describe(scene.data["offset"]),
                                 "no offset on a synth scene (an offset says where a trace scene starts playing)")
            scenes[name] = Scene(name, scene.path, description, synth=_synth(scene.child("synth"), meta))
            continue
        trace, sha = _read_scene_trace(scene.data["trace"], base, source, scene.at("trace"), traces)
        difference = graph_difference(trace.meta, meta)
        if difference is not None:
            raise InputError(source, scene.at("trace"),
                             f"'{scene.data['trace']}', whose op graph differs from the reference's "
                             f"({reference}) first at {difference}",
                             f"a trace with the reference's op graph: scene '{name}' and the reference must share "
                             f"frame rate, sample rate, hop, paths, stages, ops and decisions; make 'reference' "
                             f"that trace, or use a trace made with the reference's graph")
        offset = SCENE.quantity(scene, "offset")
        if _frame_at(offset, meta.frame_rate) >= len(trace):
            raise InputError(source, scene.at("offset"), repr(scene.data["offset"]),
                             f"an offset shorter than the trace ({trace.duration:g} s)")
        scenes[name] = Scene(name, scene.path, description, trace=trace, trace_label=str(scene.data["trace"]),
                             trace_sha256=sha, offset=offset)
    return scenes


def _synth(node: Node, meta: TraceMeta) -> SynthSettings:
    """A synthetic scene's settings, checked against the reference's graph."""
    SYNTH.check(node)
    source, paths = node.source, list(meta.paths)
    given = [k for k in SYNTH.exactly_one if k in node.data]
    if len(given) != 1:
        raise InputError(source, node.path, "both 'light_share' and 'shares'" if given else
                         "neither 'light_share' nor 'shares'",
                         f"one of them: 'light_share' (a two-path graph) or 'shares' (one per path: {paths})")
    burst = SYNTH.quantity(node, "mean_burst")
    burst_frames = burst * meta.frame_rate
    if burst_frames < 1.0:
        raise InputError(source, node.at("mean_burst"), repr(node.data.get("mean_burst", "0.5 s")),
                         f"at least one frame ({1 / meta.frame_rate:g} s at {meta.frame_rate:g} frames/s)")
    reach = _first_takers(meta)
    if given == ["light_share"]:
        share = SYNTH.quantity(node, "light_share")
        if share > 1.0:
            raise InputError(source, node.at("light_share"), repr(node.data["light_share"]), "a share from 0 to 1")
        if len(paths) != 2:
            raise InputError(source, node.at("light_share"), repr(node.data["light_share"]),
                             f"'shares', one per path: the reference has {len(paths)} paths {paths} (light_share "
                             f"is for a two-path graph)")
        q = 1.0 - share
        if 0.0 < q < 1.0 and q / (1.0 - q) / burst_frames > 1.0:
            raise InputError(source, node.at("mean_burst"), repr(node.data.get("mean_burst", "0.5 s")),
                             f"longer bursts: with a light share of {share:g}, bursts of {burst_frames:g} frames "
                             f"would have to start more often than every frame")
        wanted = {paths.index(meta.dense_path): q, 1 - paths.index(meta.dense_path): share}
        settings = SynthSettings(light_share=share, shares=None, mean_burst=burst)
    else:
        raw = node.data.get("shares")
        if not isinstance(raw, list) or len(raw) != len(paths):
            raise InputError(source, node.at("shares"), describe(raw),
                             f"a list of {len(paths)} shares, one per path in the reference's order {paths}")
        shares = [Node({"share": v}, source, f"{node.at('shares')}[{i}]").quantity("share", "")
                  for i, v in enumerate(raw)]
        for i, share in enumerate(shares):
            if share > 1.0:
                raise InputError(source, f"{node.at('shares')}[{i}]", repr(raw[i]), "a share from 0 to 1")
        if not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
            raise InputError(source, node.at("shares"), f"shares summing to {sum(shares):g}", "shares summing to 1")
        wanted = dict(enumerate(shares))
        settings = SynthSettings(light_share=None, shares=tuple(s / sum(shares) for s in shares), mean_burst=burst)
    for i, share in wanted.items():
        if share > 0 and reach[i] is None:
            key = node.at("light_share") if settings.light_share is not None else f"{node.at('shares')}[{i}]"
            raise InputError(source, key, f"a share of {share:g} for path '{paths[i]}'",
                             f"0: no decision of the reference takes path '{paths[i]}' and it is not the fallback, "
                             f"so no frame can be routed there")
    return settings


def _time_of_day(node: Node) -> float:
    """A slot's ``at``: seconds after midnight."""
    raw, key = node.data["at"], node.at("at")
    wanted = "a time of day in quotes, 'HH:MM' or 'HH:MM:SS', from '00:00' to '23:59:59'"
    if isinstance(raw, int) and not isinstance(raw, bool):
        # YAML 1.1 reads an unquoted 10:00 (or 7:00) as 10 * 60 + 0 = 600: the time is lost, so ask for quotes.
        raise InputError(node.source, key, f"the number {raw} (YAML reads an unquoted time such as 10:00 as a "
                                           f"base-60 number)", f"{wanted}, e.g. at: \"10:00\"")
    match = _CLOCK.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InputError(node.source, key, describe(raw), wanted)
    h, m, s = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if h > 23 or m > 59 or s > 59:
        raise InputError(node.source, key, f"{raw!r} (out of range)", wanted)
    return float(h * 3600 + m * 60 + s)


def _repeat(node: Node) -> int:
    raw = node.data.get("repeat", 1)
    count = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, str) and re.fullmatch(REPEAT_PATTERN, raw):
        count = int(re.match(r"\s*(\d+)", raw).group(1))
    if count is None or not 1 <= count <= MAX_DAYS:
        raise InputError(node.source, node.at("repeat"), describe(raw),
                         f"a whole number of days from 1 to {MAX_DAYS}: repeat: 5 or repeat: 5 days")
    return count


def _day(node: Node, index: int, scenes: dict[str, Scene], frame_rate: float) -> DayPlan:
    """A day plan whose slots tile 00:00 to 24:00: a slot starts at its ``at`` or where the one before ends, and
    ends after its ``duration`` or at the next slot's ``at`` (24:00 for the last)."""
    DAY.check(node)
    source = node.source
    name = _text(node, "name", f"day {index + 1}")
    repeat = _repeat(node)
    items = list(node.items_of("scenes"))
    starts: list[float] = []
    ends: list[float | None] = []
    for i, slot in enumerate(items):
        SLOT.check(slot)
        scene = slot.data.get("scene")
        if not isinstance(scene, str) or scene not in scenes:
            raise InputError(source, slot.at("scene"), describe(scene),
                             f"one of the scenes defined under 'scenes': {', '.join(scenes)}")
        prev_end = ends[-1] if ends else 0.0
        if "at" in slot.data:
            at = _time_of_day(slot)
            if prev_end is None:       # the slot before has no duration: it lasts until this one starts
                if at <= starts[-1] + _SAME_INSTANT:
                    raise InputError(source, slot.at("at"), f"{slot.data['at']!r}, at or before the start of the "
                                     f"slot before it ('{items[i - 1].data['scene']}' from {clock(starts[-1])})",
                                     f"a later time: {_TILING}")
                ends[-1] = at
            elif at < prev_end - _SAME_INSTANT:
                before = f"'{items[i - 1].data['scene']}', {clock(starts[-1])} to {clock(prev_end)}" if i else ""
                raise InputError(source, slot.at("at"), f"{slot.data['at']!r}, inside the slot before it ({before})",
                                 f"'{clock(prev_end)}': {_TILING}")
            elif at > prev_end + _SAME_INSTANT:
                raise InputError(source, slot.at("at"), f"{slot.data['at']!r}, which leaves {clock(prev_end)} to "
                                 f"{clock(at)} without a scene", f"'{clock(prev_end)}': {_TILING}")
            start = at if prev_end is None else prev_end      # within a microsecond of it: the same instant
        elif prev_end is None:
            raise InputError(source, slot.path, "neither 'at' nor 'duration' on this slot or the one before it",
                             "'at' on this slot (the slot before it lasts until then), or a 'duration' on the slot "
                             "before it")
        else:
            start = prev_end
        end = None
        if "duration" in slot.data:
            end = start + SLOT.quantity(slot, "duration")
            if end > DAY_SECONDS + _SAME_INSTANT:
                raise InputError(source, slot.at("duration"), f"{slot.data['duration']!r}, which from "
                                 f"{clock(start)} ends at {clock(end)}, past midnight",
                                 f"a slot that ends by 24:00 ({_TILING}; a scene across midnight is two slots, one "
                                 f"ending at 24:00 and one starting the next day at 00:00)")
            end = min(end, DAY_SECONDS)
        starts.append(start)
        ends.append(end)
    if ends[-1] is None:
        ends[-1] = DAY_SECONDS
    elif ends[-1] < DAY_SECONDS - _SAME_INSTANT:
        last = items[-1]
        raise InputError(source, last.at("duration"), f"{last.data['duration']!r}, which ends the day at "
                         f"{clock(ends[-1])} and leaves {clock(ends[-1])} to 24:00 without a scene",
                         f"slots up to 24:00: {_TILING}")
    else:
        ends[-1] = DAY_SECONDS
    slots = []
    for item, start, end in zip(items, starts, ends):
        if (end - start) * frame_rate < 1.0:
            raise InputError(source, item.path, f"a slot of {end - start:g} s ({clock(start)} to {clock(end)})",
                             f"at least one frame ({1 / frame_rate:g} s at {frame_rate:g} frames/s)")
        slots.append(Slot(item.data["scene"], start, end, item.path))
    return DayPlan(name, repeat, tuple(slots), node.path)


# The op graph every scene shares -------------------------------------------------------------------------------


def graph_difference(a: TraceMeta, b: TraceMeta) -> str | None:
    """Where two traces' op graphs first differ (frame rate, sample rate, hop, dense path, decisions, fallback,
    paths in order, stages and each op), as 'key path: value in a vs value in b'; None when they are the same.

    >>> from dslsim.trace.io import read_trace
    >>> graph_difference(read_trace("dsl-75hz-10min").meta, synth_graph())
    >>> graph_difference(read_trace("dsl-50hz-10min").meta, synth_graph())
    'frame_rate: 50.0 vs 75.0'
    """
    def graph(meta: TraceMeta) -> dict:
        data = meta.to_json()
        return {k: v for k, v in data.items() if k not in ("format", "version", "source")}

    return _first_difference(graph(a), graph(b), "")


def _first_difference(x: Any, y: Any, at: str) -> str | None:
    if isinstance(x, dict) and isinstance(y, dict):
        # Paths are ordered (the order of the categories); the stages are a set of names.
        kx, ky = (sorted(x), sorted(y)) if at == "stages" else (list(x), list(y))
        if kx != ky:
            return f"{at or 'metadata'}: {describe(kx, 120)} vs {describe(ky, 120)}"
        for key in kx:
            found = _first_difference(x[key], y[key], f"{at}.{key}" if at else str(key))
            if found:
                return found
        return None
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return f"{at}: {len(x)} entries vs {len(y)}"
        for i, (u, v) in enumerate(zip(x, y)):
            found = _first_difference(u, v, f"{at}[{i}]")
            if found:
                return found
        return None
    return None if x == y else f"{at}: {x!r} vs {y!r}"


# Per-frame columns ---------------------------------------------------------------------------------------------


def _synth_columns(meta: TraceMeta) -> dict[str, np.dtype]:
    """The columns a synthetic scene writes: each decision's score (float32, as every generator stores them), its
    per-frame threshold column if it has one (float64: the threshold exactly), and on a two-path graph ``label``
    (True on the dense path, as ``dslsim trace synth`` writes it)."""
    out = {}
    for d in meta.decisions:
        out[d.score] = np.dtype(np.float32)
        if d.threshold_column is not None:
            out[d.threshold_column] = np.dtype(np.float64)
    if len(meta.paths) == 2:
        out["label"] = np.dtype(bool)
    return out


def _columns(schedule: Schedule) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """The composed trace's extra columns: those every scene has, in the first scene's order, as booleans when
    every scene's are, else as the scenes' common number type; and the others, each with why it is left out."""
    reserved = set(RESERVED_COLUMNS) | {SCENE_COLUMN}
    per_scene: dict[str, dict[str, Any]] = {}
    for scene in schedule.scenes.values():
        if scene.trace is not None:
            frames = scene.trace.frames
            per_scene[scene.name] = {c: frames[c].dtype for c in frames.columns if c not in reserved}
        else:
            per_scene[scene.name] = _synth_columns(schedule.meta)
    order: list[str] = []
    for cols in per_scene.values():
        order += [c for c in cols if c not in order]
    needed = {d.score for d in schedule.meta.decisions} | \
        {d.threshold_column for d in schedule.meta.decisions if d.threshold_column is not None}
    kept, dropped = [], []
    for name in order:
        missing = [s for s, cols in per_scene.items() if name not in cols]
        types = {s: cols[name] for s, cols in per_scene.items() if name in cols}
        plain = [t for t in types.values() if isinstance(t, np.dtype) and t.kind in "biuf"]
        why = None
        if missing:
            why = f"not in scene{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        elif len(plain) < len(types):
            why = "not a number or a boolean in every scene"
        elif len({t.kind == "b" for t in plain}) > 1:
            why = "a boolean in some scenes and a number in others"
        if why is None:
            dtype = plain[0] if plain[0].kind == "b" else np.result_type(*plain)
            kept.append(Column(name, np.dtype(dtype)))
        elif name in needed:
            raise InputError(schedule.source, "scenes", f"the decision column '{name}' {why}",
                             "every scene to store each decision's scores as numbers")
        else:
            dropped.append(f"{name} ({why})")
    return tuple(kept), tuple(dropped)


# Routing streams -----------------------------------------------------------------------------------------------


def _first_takers(meta: TraceMeta) -> list[int | None]:
    """Per path (in order): the index of the first decision that takes it, ``len(decisions)`` for the fallback
    that no decision takes, None for a path no frame can reach. Without decisions every path is reachable."""
    if not meta.decisions:
        return [0] * len(meta.paths)
    out: list[int | None] = []
    for name in meta.paths:
        first = next((j for j, d in enumerate(meta.decisions) if d.path == name), None)
        out.append(first if first is not None else len(meta.decisions) if name == meta.fallback_path else None)
    return out


class _BurstChain:
    """The two-state chain of :func:`dslsim.trace.synth.markov_routing`, drawn window by window: bursts of mean
    ``mean_burst_frames`` frames on the dense path, started so that the light share is ``light_share``. It draws
    the same numbers in the same order, so its windows join to what that function returns for one call."""

    def __init__(self, rng: np.random.Generator, light_share: float, mean_burst_frames: float):
        self.rng = rng
        q = 1.0 - light_share
        self.leave = 1.0 / mean_burst_frames
        self.enter = q * self.leave / (1.0 - q) if q < 1.0 else 1.0
        self.fixed = None if 0.0 < q < 1.0 else q >= 1.0      # all bursts, or none: no draws
        self.burst = bool(rng.random() < q) if self.fixed is None else self.fixed
        self.left = int(rng.geometric(self.leave if self.burst else self.enter)) if self.fixed is None else -1

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` frames: True in a burst."""
        if self.fixed is not None:
            return np.full(n, self.fixed)
        out = np.empty(n, dtype=bool)
        pos = 0
        while pos < n:
            if self.left == 0:
                self.burst = not self.burst
                self.left = int(self.rng.geometric(self.leave if self.burst else self.enter))
            k = min(self.left, n - pos)
            out[pos:pos + k] = self.burst
            pos += k
            self.left -= k
        return out


class _LevelChain:
    """The chain of :func:`dslsim.trace.kpath.difficulty_levels`, drawn window by window: a path drawn from
    ``shares``, kept for a geometric run of mean ``mean_frames`` frames, then drawn again (the same numbers in the
    same order as that function)."""

    def __init__(self, rng: np.random.Generator, shares: tuple[float, ...], mean_frames: float):
        self.rng, self.p, self.redraw = rng, np.asarray(shares, dtype=np.float64), 1.0 / mean_frames
        self.level, self.left = 0, 0

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` frames' path indices."""
        out = np.empty(n, dtype=np.int8)
        pos = 0
        while pos < n:
            if self.left == 0:
                self.level = int(self.rng.choice(len(self.p), p=self.p))
                self.left = int(self.rng.geometric(self.redraw))
            k = min(self.left, n - pos)
            out[pos:pos + k] = self.level
            pos += k
            self.left -= k
        return out


def slot_seed(seed: int, day: int, slot: int) -> int:
    """The seed of slot ``slot`` of day ``day`` (0-based) of a composition with seed ``seed``: a 64-bit whole
    number mixed from the three (numpy's SeedSequence), so that every day and slot draws a stream of its own, the
    same for the same seed. A synthetic slot routes as ``markov_routing`` or ``difficulty_levels`` would with it.

    >>> slot_seed(1, 0, 0) == slot_seed(1, 0, 0) != slot_seed(1, 1, 0)
    True
    """
    return int(np.random.SeedSequence([seed, day, slot]).generate_state(1, np.uint64)[0])


class _SynthStream:
    """One slot of a synthetic scene: path codes from its chain, each decision's score drawn on the side that
    routes the frame to its path (as ``dslsim trace synth`` draws them: Beta(5, 2) into the firing range,
    Beta(2, 5) into the other), from streams of their own so that a window's size never changes a number."""

    def __init__(self, meta: TraceMeta, settings: SynthSettings, seed: int):
        paths = list(meta.paths)
        self.meta = meta
        self.dense = paths.index(meta.dense_path)
        rate = meta.frame_rate
        route = np.random.default_rng(seed)
        if settings.light_share is not None:
            chain = _BurstChain(route, settings.light_share, settings.mean_burst * rate)
            light = 1 - self.dense
            self.next_codes = lambda n: np.where(chain.take(n), self.dense, light).astype(np.int8)
        else:
            levels = _LevelChain(route, settings.shares or (), settings.mean_burst * rate)
            self.next_codes = levels.take
        takers = _first_takers(meta)
        self.taker = np.array([len(meta.decisions) if t is None else t for t in takers], dtype=np.int64)
        self.high = [np.random.default_rng([seed, 1, j]) for j in range(len(meta.decisions))]
        self.low = [np.random.default_rng([seed, 2, j]) for j in range(len(meta.decisions))]

    def take(self, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The next ``n`` frames: path codes and the scene's columns."""
        from dslsim.trace.synth import float32_on_side

        codes = self.next_codes(n)
        columns: dict[str, np.ndarray] = {}
        first = self.taker[codes]
        for j, d in enumerate(self.meta.decisions):
            fires = j >= first             # a decision after the one that takes the frame would fire too
            above = fires if d.when == "above" else ~fires
            t = d.threshold
            score = np.empty(n, dtype=np.float64)
            k = int(above.sum())
            score[above] = t + (1 - t) * self.high[j].beta(5, 2, k)
            score[~above] = t * self.low[j].beta(2, 5, n - k)
            columns[d.score] = float32_on_side(score, above, t)
            if d.threshold_column is not None:
                columns[d.threshold_column] = np.full(n, t, dtype=np.float64)
        if len(self.meta.paths) == 2:
            columns["label"] = codes == self.dense
        return codes, columns


class _TraceStream:
    """One slot of a trace scene: the trace's frames from the scene's offset, looped."""

    def __init__(self, codes: np.ndarray, columns: dict[str, np.ndarray], start: int):
        self.codes, self.columns, self.pos = codes, columns, start

    def take(self, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The next ``n`` frames: path codes and the scene's columns."""
        m = len(self.codes)
        index = (self.pos + np.arange(n, dtype=np.int64)) % m
        self.pos = (self.pos + n) % m
        return self.codes[index], {c: v[index] for c, v in self.columns.items()}


# Composing -----------------------------------------------------------------------------------------------------


def compose(schedule: Schedule, out: str | Path, days: int | None = None, seed: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            row_group_frames: int = ROW_GROUP_FRAMES) -> Composition:
    """Write ``days`` days of ``schedule`` (default: the days it spans) to ``out`` as a trace-format-v2 Parquet
    file, one row group of at most ``row_group_frames`` frames at a time, each checked as it is written (the rules
    of :meth:`Trace.validate`, and frames contiguous with strictly increasing arrival times across row groups); the
    file appears only once complete. ``seed`` overrides the schedule's; ``progress(done, total)`` is called after
    every row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dslsim.fileio import atomic_path
    from dslsim.trace.io import META_KEY, metadata_bytes, parquet_encodings

    days = schedule.span_days if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise DslsimError(f"days {days!r}: expected a whole number from 1 to {MAX_DAYS}.")
    seed = schedule.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DslsimError(f"seed {seed!r}: expected a whole number of at least 0.")
    if row_group_frames < 1:
        raise DslsimError(f"row groups of {row_group_frames} frames: expected at least one.")
    meta = TraceMeta(**{**schedule.meta.__dict__, "source": schedule.record(days, seed)})
    paths, scene_names = list(meta.paths), list(schedule.scenes)
    schema = pa.schema(
        [pa.field("frame", pa.int64()), pa.field("t_arrival", pa.float64()),
         pa.field("path", pa.dictionary(pa.int8(), pa.string())),
         *[pa.field(c.name, pa.from_numpy_dtype(c.dtype)) for c in schedule.columns],
         pa.field(SCENE_COLUMN, pa.dictionary(pa.int8(), pa.string()))],
        # Key order is part of the contract (paths are ordered), so the JSON is not key-sorted (as write_trace).
        metadata={META_KEY: metadata_bytes(meta)})
    path_dictionary, scene_dictionary = pa.array(paths, pa.string()), pa.array(scene_names, pa.string())
    total = schedule.frames(days)
    path_counts = np.zeros(len(paths), dtype=np.int64)
    scene_counts = np.zeros(len(scene_names), dtype=np.int64)
    out = Path(out)
    groups = 0
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd", **parquet_encodings(schema.empty_table())) as writer:
            last: tuple[int, float] | None = None
            for window in _windows(schedule, days, seed, total, row_group_frames):
                frames = window.frames(meta)
                last = _check(meta, frames, last, window, schedule.source)
                arrays = [pa.array(frames["frame"].to_numpy()), pa.array(frames["t_arrival"].to_numpy()),
                          pa.DictionaryArray.from_arrays(pa.array(window.codes), path_dictionary),
                          *[pa.array(window.columns[c.name]) for c in schedule.columns],
                          pa.DictionaryArray.from_arrays(pa.array(window.scenes), scene_dictionary)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                path_counts += np.bincount(window.codes, minlength=len(paths))
                scene_counts += np.bincount(window.scenes, minlength=len(scene_names))
                groups += 1
                if progress is not None:
                    progress(window.stop, total)
    return Composition(path=out, frames=total, days=days, seed=seed, frame_rate=meta.frame_rate, row_groups=groups,
                       scene_frames=dict(zip(scene_names, map(int, scene_counts))),
                       path_frames=dict(zip(paths, map(int, path_counts))), dropped=schedule.dropped)


@dataclass
class _Window:
    """One row group's frames, assembled from the slots it overlaps."""

    start: int
    stop: int
    codes: np.ndarray
    scenes: np.ndarray
    columns: dict[str, np.ndarray]
    slots: list[str]
    """Where its frames come from ('days[0].scenes[2] on day 3'), for errors."""

    def frames(self, meta: TraceMeta) -> pd.DataFrame:
        """The window as a frame table, arrival times as every generated trace has them (frame / rate)."""
        frame = np.arange(self.start, self.stop, dtype=np.int64)
        table = {"frame": frame, "t_arrival": frame.astype(np.float64) / meta.frame_rate,
                 "path": pd.Categorical.from_codes(self.codes, categories=list(meta.paths))}
        return pd.DataFrame({**table, **self.columns})


def _slot_streams(schedule: Schedule, days: int, seed: int) -> Iterator[tuple[int, int, int, Any, str]]:
    """Every slot of the composition in order, made lazily: (scene index, first frame, frame after the last, its
    stream, where it is in the schedule)."""
    names = list(schedule.scenes)
    prepared: dict[str, tuple[np.ndarray, dict[str, np.ndarray], int]] = {}
    for scene in schedule.scenes.values():
        if scene.trace is not None:
            frames = scene.trace.frames
            columns = {c.name: frames[c.name].to_numpy(dtype=c.dtype) for c in schedule.columns}
            prepared[scene.name] = (scene.trace.path_codes().astype(np.int8), columns,
                                    _frame_at(scene.offset, schedule.meta.frame_rate))
    for day in range(days):
        plan = schedule.plan_of(day)
        for i, slot in enumerate(plan.slots):
            first, stop = schedule.slot_frames(day, i)
            scene = schedule.scenes[slot.scene]
            if scene.synth is not None:
                # Each day and slot draws its own seeded streams: a fresh day, the same file for the same seed.
                stream: Any = _SynthStream(schedule.meta, scene.synth, slot_seed(seed, day, i))
            else:
                stream = _TraceStream(*prepared[scene.name])
            yield names.index(slot.scene), first, stop, stream, f"{slot.key} (scene '{slot.scene}') on day {day + 1}"


def _windows(schedule: Schedule, days: int, seed: int, total: int, size: int) -> Iterator[_Window]:
    """The composition in windows of ``size`` frames (the last shorter), each assembled from the slots it
    overlaps; only the current window and the current slot's stream are held."""
    slots = _slot_streams(schedule, days, seed)
    scene, first, stop, stream, where = next(slots)
    for start in range(0, total, size):
        end = min(start + size, total)
        codes, scenes, columns, sources = [], [], {c.name: [] for c in schedule.columns}, []
        pos = start
        while pos < end:
            while stop <= pos:
                scene, first, stop, stream, where = next(slots)
            k = min(stop, end) - pos
            c, cols = stream.take(k)
            codes.append(c)
            scenes.append(np.full(k, scene, dtype=np.int8))
            for column in schedule.columns:
                columns[column.name].append(np.asarray(cols[column.name], dtype=column.dtype))
            sources.append(where)
            pos += k
        yield _Window(start, end, np.concatenate(codes).astype(np.int8, copy=False), np.concatenate(scenes),
                      {name: np.concatenate(parts) for name, parts in columns.items()}, sources)


def _check(meta: TraceMeta, frames: pd.DataFrame, last: tuple[int, float] | None, window: _Window,
           source: str) -> tuple[int, float]:
    """Check a window as :meth:`Trace.validate` checks a whole trace (columns, monotonic times, declared paths,
    scores in [0, 1], paths that the decisions give), and that its frames continue the last window's: the next
    index, a later arrival time. Returns (last frame, its arrival time)."""
    where = f"{source}: composing frames {window.start:,} to {window.stop - 1:,} from {', '.join(window.slots)}"
    try:
        Trace(meta, frames).validate(where)
    except InputError as exc:
        raise DslsimError(f"{exc} The composed trace would not be a valid trace; nothing was written.") from None
    index = frames["frame"].to_numpy()
    t = frames["t_arrival"].to_numpy()
    gaps = np.diff(index) != 1
    later = np.diff(t) > 0
    row = int(np.argmax(gaps)) + 1 if gaps.any() else int(np.argmax(~later)) + 1 if not later.all() else None
    if row is None and last is not None and (index[0] != last[0] + 1 or not t[0] > last[1]):
        row = 0
    if row is not None:
        before = (index[row - 1], t[row - 1]) if row else last
        raise DslsimError(f"{where}: frame {index[row]} at {t[row]!r} s follows frame {before[0]} at {before[1]!r} s; "
                          f"expected contiguous frames with increasing arrival times. Nothing was written.")
    return int(index[-1]), float(t[-1])
