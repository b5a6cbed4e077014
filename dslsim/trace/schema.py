"""Trace format v2: dataclasses for the metadata and the checks that make a trace trustworthy.

A trace is a table with one row per frame (``frame``, ``t_arrival`` in seconds, ``path``, the scores its
decisions read, and any extra per-frame columns) plus versioned JSON metadata: frame rate, sample rate, hop,
source, the paths as ordered lists of stages, each stage's op list, and the **decisions** that route a frame:
an ordered cascade, each reading one score column against its own threshold and sending the frame down its path
when it fires; a frame no decision takes goes down the fallback path. A DSL or Gated Compression switch is one
decision; an early-exit network with K exits is K - 1 ("leave at exit i when its confidence passes t_i"); an
iterated block halts after iteration i the same way. Version 1 files (one ``threshold``, one ``score``) are read
as a single decision.

A decision's threshold is one number, or per frame: ``threshold_column`` names a column holding the threshold
each frame was routed by (an online budget controller's, :mod:`dslsim.trace.budget`, which moves the threshold
to hold a light share on the audio it runs on); ``threshold`` is then the controller's initial one.

>>> d = Decision(name="exit1", score="conf_exit1", threshold=0.8, path="exit1")
>>> d.fires(np.array([0.5, 0.8, 0.95])).tolist()
[False, True, True]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError, InputError, describe

FORMAT = "dslsim.trace"
VERSION = 2
#: Versions this dslsim reads (it writes VERSION).
READS = (1, 2)
#: Per-frame columns with a fixed meaning, which a decision may not use as its score.
RESERVED_COLUMNS = ("frame", "t_arrival", "path")

#: Op kinds dslsim's exporters write (a profile may add any other kind: one table entry). ``generic`` is where an
#: importer puts ops it cannot classify.
KNOWN_OP_KINDS = ("conv1d", "conv_transpose1d", "conv2d", "conv_transpose2d", "depthwise_conv2d", "pointwise_conv2d",
                  "linear", "vq_search", "pooling", "elementwise", "softmax", "reshape", "state", "fft", "filterbank",
                  "generic")

#: Most paths a trace may declare (frames store their path as an 8-bit code).
MAX_PATHS = 127
#: The metadata keys of each format version (an unknown one, 'decisons', is a typo that would be dropped).
META_KEYS = {1: ("format", "version", "frame_rate", "sample_rate", "hop", "threshold", "dense_path", "source",
                 "paths", "stages"),
             2: ("format", "version", "frame_rate", "sample_rate", "hop", "dense_path", "decisions", "fallback_path",
                 "source", "paths", "stages")}
#: The keys of an op (in trace metadata, and the columns of an op table).
OP_KEYS = ("name", "kind", "macs", "weight_bytes", "act_in_bytes", "act_out_bytes", "dtype")
#: Per-frame columns of a path's error (``err_<path>``), which :meth:`Trace.routed_error` averages.
ERROR_PREFIX = "err_"

#: Bytes per element of the dtypes a trace may declare.
DTYPE_BYTES = {"int8": 1, "uint8": 1, "bool": 1, "int16": 2, "float16": 2, "bfloat16": 2, "int32": 4, "float32": 4,
               "int64": 8, "float64": 8}


@dataclass(frozen=True)
class Op:
    """One operation of a stage, costed per frame.

    ``macs`` counts multiply-accumulates per frame (for ``elementwise`` ops: element operations).
    Byte counts are per frame too.
    """

    name: str
    kind: str
    macs: float
    weight_bytes: float = 0.0
    act_in_bytes: float = 0.0
    act_out_bytes: float = 0.0
    dtype: str = "int8"

    @property
    def bytes_moved(self) -> float:
        """Bytes read and written per frame: weights, inputs and outputs."""
        return self.weight_bytes + self.act_in_bytes + self.act_out_bytes


@dataclass(frozen=True)
class Stage:
    """A named group of ops that runs on one core (``encoder``, ``rvq``, ``full_decoder``, …)."""

    name: str
    ops: tuple[Op, ...]

    @property
    def macs(self) -> float:
        """MACs per frame of the whole stage."""
        return float(sum(op.macs for op in self.ops))

    @property
    def weight_bytes(self) -> float:
        """Weight bytes of the stage (its share of model size)."""
        return float(sum(op.weight_bytes for op in self.ops))

    @property
    def input_bytes(self) -> float:
        """Bytes the stage reads per frame from the stage before it: its first op's input."""
        return self.ops[0].act_in_bytes if self.ops else 0.0

    @property
    def output_bytes(self) -> float:
        """Bytes handed to the next stage per frame: the last op's output."""
        return self.ops[-1].act_out_bytes if self.ops else 0.0


@dataclass(frozen=True)
class Decision:
    """One decision point of a dynamic network: it sends a frame down ``path`` when the frame's ``score`` column
    passes ``threshold`` — at or above it (``when="above"``: a confidence, a switch score) or below it
    (``when="below"``: a residual, an uncertainty). With ``threshold_column`` each frame is compared with its own
    threshold, read from that column (an online budget controller's); ``threshold`` is then its initial one."""

    name: str
    score: str
    threshold: float
    path: str
    when: str = "above"
    threshold_column: str | None = None

    def fires(self, scores: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
        """Per frame, whether this decision takes it (a missing score, NaN, never fires). ``thresholds``: the
        per-frame thresholds of a decision with a ``threshold_column`` (default: the fixed ``threshold``)."""
        scores = np.asarray(scores)
        if thresholds is None and scores.dtype == np.float32:
            # Float32 scores against the smallest float32 at or above the threshold: for every float32 score the
            # answer of the float64 comparison (score >= t iff score >= that float32, and so for <), without a
            # float64 copy of the scores (a sweep re-routes a day of them per point).
            cut = np.float32(self.threshold)
            if float(cut) < self.threshold:
                cut = np.nextafter(cut, np.float32(np.inf))
        else:
            scores = scores.astype(np.float64, copy=False)
            cut = self.threshold if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return scores >= cut if self.when == "above" else scores < cut

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``threshold_column`` only when set, so fixed-threshold traces read as before)."""
        out = asdict(self)
        if out["threshold_column"] is None:
            del out["threshold_column"]
        return out


def switch_decision(threshold: float, dense_path: str, score: str = "score") -> tuple[Decision, ...]:
    """The one decision of a two-path switch (DSL, Gated Compression): score >= threshold takes the dense path."""
    return (Decision(name="switch", score=score, threshold=float(threshold), path=dense_path),)


@dataclass(frozen=True)
class TraceMeta:
    """File-level metadata of a trace (format ``dslsim.trace``, version 2; version 1 is read too).

    ``decisions`` route a frame in order, the first that fires winning; ``fallback_path`` takes the frames none
    fires for (required with decisions). A trace without decisions routes by its ``path`` column alone (a
    static model, or a policy whose choice is not a threshold on a score).
    """

    frame_rate: float
    sample_rate: float
    hop: int
    paths: dict[str, list[str]]
    stages: dict[str, Stage]
    dense_path: str
    decisions: tuple[Decision, ...] = ()
    fallback_path: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    @property
    def threshold(self) -> float | None:
        """The threshold of a trace with exactly one decision (a switch), else None."""
        return self.decisions[0].threshold if len(self.decisions) == 1 else None

    @property
    def thresholds(self) -> dict[str, float]:
        """Each decision's threshold, by decision name, in cascade order."""
        return {d.name: d.threshold for d in self.decisions}

    def route(self, frames: pd.DataFrame) -> np.ndarray:
        """Per-frame path codes (indices into ``paths``) that the decisions give from the stored scores."""
        names = list(self.paths)
        codes = np.full(len(frames), names.index(self.fallback_path), dtype=np.int8)
        for decision in reversed(self.decisions):          # earlier decisions win: apply them last
            column = decision.threshold_column
            cut = None if column is None else frames[column].to_numpy(dtype=np.float64, na_value=np.nan)
            codes = np.where(decision.fires(_floats(frames[decision.score]), cut),
                             np.int8(names.index(decision.path)), codes)
        return codes.astype(np.int8)

    def with_thresholds(self, thresholds: dict[str, float]) -> "TraceMeta":
        """A copy with some decisions' thresholds replaced (by decision name); a replaced decision that followed a
        per-frame threshold column (a budget controller) now uses the fixed threshold given."""
        unknown = sorted(set(thresholds) - {d.name for d in self.decisions})
        if unknown:
            raise DslsimError(f"no decision named {unknown[0]!r}; this trace's decisions are "
                              f"{[d.name for d in self.decisions] or 'none'}.")
        for name, value in thresholds.items():
            if not _is_number(value) or not 0 <= value <= 1:
                raise DslsimError(f"threshold of decision {name!r}: {value!r}; expected a number in [0, 1].")
        decisions = tuple(Decision(**{**d.__dict__, "threshold": float(thresholds[d.name]), "threshold_column": None})
                          if d.name in thresholds else d for d in self.decisions)
        return TraceMeta(**{**self.__dict__, "decisions": decisions})

    @property
    def frame_duration(self) -> float:
        """Seconds of audio per frame (1 / frame rate)."""
        return 1.0 / self.frame_rate

    def path_macs(self, path: str) -> float:
        """MACs per frame of a path (sum over its stages)."""
        return float(sum(self.stages[s].macs for s in self.paths[path]))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict; the inverse of :meth:`from_json`."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "frame_rate": self.frame_rate,
            "sample_rate": self.sample_rate,
            "hop": self.hop,
            "dense_path": self.dense_path,
            "decisions": [d.to_json() for d in self.decisions],
            "fallback_path": self.fallback_path,
            "source": self.source,
            "paths": {name: list(stages) for name, stages in self.paths.items()},
            "stages": {name: {"ops": [asdict(op) for op in st.ops]} for name, st in self.stages.items()},
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "<trace>") -> "TraceMeta":
        """Validate and build metadata from its JSON form; errors name the key path."""
        if not isinstance(data, dict):
            raise InputError(source, "metadata", describe(data), "a JSON object")
        if data.get("format") != FORMAT:
            raise InputError(source, "metadata.format", describe(data.get("format")), f"'{FORMAT}'")
        version = data.get("version")
        if version not in READS or isinstance(version, bool):
            raise InputError(source, "metadata.version", describe(version),
                             f"one of {list(READS)} (the trace format versions this dslsim reads)")
        unknown = [k for k in data if k not in META_KEYS[version]]
        if unknown:
            raise InputError(source, f"metadata.{unknown[0]}", "an unknown key",
                             f"one of {list(META_KEYS[version])}, the keys of trace format v{version} (a typo?)")
        frame_rate = _positive(data, "frame_rate", source)
        sample_rate = _positive(data, "sample_rate", source)
        hop = data.get("hop")
        if not isinstance(hop, int) or isinstance(hop, bool) or hop <= 0:
            raise InputError(source, "metadata.hop", describe(hop), "a positive whole number of samples")
        src = data.get("source", {})
        if not isinstance(src, dict):
            raise InputError(source, "metadata.source", describe(src), "a JSON object")
        stages = _stages(data.get("stages"), source)
        paths = _paths(data.get("paths"), stages, source)
        if len(paths) > MAX_PATHS:
            raise InputError(source, "metadata.paths", f"{len(paths)} paths", f"at most {MAX_PATHS}")
        dense = data.get("dense_path")
        if not isinstance(dense, str) or dense not in paths:
            raise InputError(source, "metadata.dense_path", describe(dense), f"one of the paths {list(paths)}")
        if version == 1:
            decisions, fallback = _v1_decisions(data, paths, dense, source)
        else:
            decisions = _decisions(data.get("decisions", []), paths, source)
            fallback = data.get("fallback_path")
            if decisions and (not isinstance(fallback, str) or fallback not in paths):
                raise InputError(source, "metadata.fallback_path", describe(fallback),
                                 f"the path of frames no decision takes, one of {list(paths)}")
            if not decisions and fallback is not None and (not isinstance(fallback, str) or fallback not in paths):
                raise InputError(source, "metadata.fallback_path", describe(fallback), f"null or one of {list(paths)}")
        return cls(frame_rate=float(frame_rate), sample_rate=float(sample_rate), hop=hop, paths=paths,
                   stages=stages, dense_path=dense, decisions=decisions, fallback_path=fallback, source=src,
                   version=version)


@dataclass
class Trace:
    """A trace in memory: :class:`TraceMeta` plus one row per frame in ``frames``.

    ``frames`` has columns ``frame`` (int64), ``t_arrival`` (float64, seconds), ``path`` (categorical over
    ``meta.paths`` in declared order), optionally ``score`` (float, switch score in [0, 1]) and any extra
    per-frame columns (``label``, ``err_light``, ``err_full``, …).
    """

    meta: TraceMeta
    frames: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def duration(self) -> float:
        """Seconds covered: from 0 to the end of the last frame."""
        if len(self.frames) == 0:
            return 0.0
        return float(self.frames["t_arrival"].iloc[-1]) + self.meta.frame_duration

    def path_codes(self) -> np.ndarray:
        """Per-frame path as small integers indexing ``list(meta.paths)``."""
        return self.frames["path"].cat.codes.to_numpy()

    def with_paths(self, path: str | np.ndarray) -> "Trace":
        """A copy whose frames all take ``path`` (a name) or the given per-frame path names."""
        frames = self.frames.copy()
        values = np.full(len(frames), path, dtype=object) if isinstance(path, str) else path
        frames["path"] = pd.Categorical(values, categories=list(self.meta.paths))
        return Trace(self.meta, frames)

    def rethreshold(self, thresholds: float | dict[str, float]) -> "Trace":
        """A copy routed again from the stored scores with new thresholds: a number for a trace with one
        decision (a switch), or ``{decision name: threshold}`` for any of a cascade's decisions.

        >>> from dslsim.trace.synth import synth_trace
        >>> t = synth_trace(duration=2.0, light_share=0.8, seed=1)
        >>> everything_full = t.rethreshold(0.0)
        >>> bool((everything_full.frames["path"] == "full").all()), everything_full.meta.threshold
        (True, 0.0)
        """
        if not self.meta.decisions:
            raise DslsimError("this trace stores no decisions (no scores and thresholds), so it cannot be "
                              "re-routed; its paths come from its 'path' column alone.")
        if not isinstance(thresholds, dict):
            if len(self.meta.decisions) != 1:
                raise DslsimError(f"this trace has {len(self.meta.decisions)} decisions "
                                  f"({', '.join(self.meta.thresholds)}); give a threshold for each by name.")
            thresholds = {self.meta.decisions[0].name: thresholds}
        meta = self.meta.with_thresholds(thresholds)
        # Only the path changes: the other columns are shared, not copied (a day is 200 MB of them; a sweep
        # re-routes it once per point). Assigning a column to the shallow copy leaves the original as it was.
        frames = self.frames.copy(deep=False)
        frames["path"] = pd.Categorical.from_codes(meta.route(frames), categories=list(meta.paths))
        return Trace(meta, frames)

    def routed_error(self) -> dict[str, float]:
        """Mean per-frame distortion of the path each frame took, when the trace stores ``err_<path>`` columns.

        Returns ``{}`` without them; with a boolean ``label`` column (True = signal, e.g. speech) the mean over
        labelled frames is given too, as ``error_on_label``.
        """
        cols = [f"err_{p}" for p in self.meta.paths]
        if not all(c in self.frames.columns for c in cols):
            return {}
        table = self.frames[cols].to_numpy(dtype=np.float64)
        chosen = table[np.arange(len(table)), self.path_codes().astype(np.int64)]
        out = {"error": float(chosen.mean())}
        if "label" in self.frames.columns:
            labelled = self.frames["label"].to_numpy(dtype=bool)
            if labelled.any():
                out["error_on_label"] = float(chosen[labelled].mean())
        return out

    def validate(self, source: str = "<trace>") -> "Trace":
        """Check the per-frame table against the metadata; returns self, raises :class:`InputError`."""
        frames = self.frames
        for col in ("frame", "t_arrival", "path"):
            if col not in frames.columns:
                raise InputError(source, f"column '{col}'", "no such column",
                                 "the columns frame, t_arrival and path (trace format v2)")
        if len(frames) == 0:
            raise InputError(source, "frames", "an empty table", "at least one frame")
        idx = frames["frame"].to_numpy()
        if not np.issubdtype(idx.dtype, np.integer):
            raise InputError(source, "column 'frame'", f"dtype {idx.dtype}", "whole numbers")
        if len(idx) > 1 and np.any(np.diff(idx) <= 0):
            bad = int(np.argmax(np.diff(idx) <= 0)) + 1
            raise InputError(source, f"column 'frame' row {bad}", f"{idx[bad]} after {idx[bad - 1]}",
                             "strictly increasing frame indices")
        t = frames["t_arrival"].to_numpy()
        if not np.issubdtype(t.dtype, np.floating) and not np.issubdtype(t.dtype, np.integer):
            raise InputError(source, "column 't_arrival'", f"dtype {t.dtype}", "seconds as numbers")
        t = t.astype(np.float64, copy=False)
        if not np.all(np.isfinite(t)):
            bad = int(np.argmax(~np.isfinite(t)))
            raise InputError(source, f"column 't_arrival' row {bad}", repr(t[bad]), "a finite time in seconds")
        if t[0] < 0:
            raise InputError(source, "column 't_arrival' row 0", repr(t[0]), "a time >= 0 s")
        if len(t) > 1 and np.any(np.diff(t) < 0):
            bad = int(np.argmax(np.diff(t) < 0)) + 1
            raise InputError(source, f"column 't_arrival' row {bad}", f"{t[bad]!r} after {t[bad - 1]!r}",
                             "monotonic (non-decreasing) arrival times")
        path = frames["path"]
        names = list(self.meta.paths)
        if not isinstance(path.dtype, pd.CategoricalDtype) or list(path.cat.categories) != names:
            values = path.astype(object)
            unknown = ~values.isin(names)
            if unknown.any():
                bad = int(np.argmax(unknown.to_numpy()))
                raise InputError(source, f"column 'path' row {bad}", describe(values.iloc[bad]),
                                 f"one of the declared paths {names}")
            frames["path"] = pd.Categorical(values, categories=names)
        elif (path.cat.codes < 0).any():
            bad = int(np.argmax((path.cat.codes < 0).to_numpy()))
            raise InputError(source, f"column 'path' row {bad}", "a missing value", f"one of {names}")
        if self.meta.version == 1 and self.meta.decisions and "score" not in frames.columns:
            # A v1 file could name a threshold without storing scores: nothing to route from.
            self.meta = TraceMeta(**{**self.meta.__dict__, "decisions": (), "fallback_path": None})
        scored = {d.score for d in self.meta.decisions} | ({"score"} if "score" in frames.columns else set())
        scored |= {d.threshold_column for d in self.meta.decisions if d.threshold_column is not None}
        for column in sorted(scored):
            if column not in frames.columns:
                user = next(d for d in self.meta.decisions if column in (d.score, d.threshold_column))
                what = "scores" if user.score == column else "thresholds"
                raise InputError(source, f"column '{column}'", "no such column",
                                 f"the per-frame {what} decision '{user.name}' reads")
            try:
                s = frames[column].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise InputError(source, f"column '{column}'", f"dtype {frames[column].dtype}",
                                 "scores as numbers in [0, 1]") from None
            outside = ~np.isnan(s) & ((s < 0) | (s > 1))
            if outside.any():
                bad = int(np.argmax(outside))
                raise InputError(source, f"column '{column}' row {bad}", repr(s[bad]), "a score in [0, 1]")
        for name in names:
            column = f"{ERROR_PREFIX}{name}"
            if column not in frames.columns:
                continue
            try:
                err = frames[column].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise InputError(source, f"column '{column}'", f"dtype {frames[column].dtype}",
                                 f"the per-frame error of path '{name}' as numbers") from None
            if not np.isfinite(err).all():
                bad = int(np.argmax(~np.isfinite(err)))
                raise InputError(source, f"column '{column}' row {bad}", repr(err[bad]),
                                 f"the per-frame error of path '{name}' as a finite number")
        if self.meta.decisions:
            routed = self.meta.route(frames)
            stored = frames["path"].cat.codes.to_numpy()
            wrong = routed != stored
            if wrong.any():
                bad = int(np.argmax(wrong))
                raise InputError(source, f"column 'path' row {bad}", repr(names[stored[bad]]),
                                 f"{names[routed[bad]]!r}, where the decisions route it from the stored scores "
                                 f"(thresholds {self.meta.thresholds}{_row_thresholds(self.meta, frames, bad)}); "
                                 f"a trace's paths and scores must agree")
        return self


def _floats(column: pd.Series) -> np.ndarray:
    """A column as a float array, missing values NaN: a float column as it is stored (float32 scores stay float32,
    no copy), anything else as float64."""
    if column.dtype in (np.float32, np.float64):
        return column.to_numpy()
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _row_thresholds(meta: TraceMeta, frames: pd.DataFrame, row: int) -> str:
    """The per-frame thresholds a row was routed by (decisions with a threshold column), for an error message."""
    per_frame = {d.name: float(frames[d.threshold_column].iloc[row]) for d in meta.decisions
                 if d.threshold_column is not None}
    return f", at this row {per_frame} from the threshold columns" if per_frame else ""


def _v1_decisions(data: dict, paths: dict, dense: str, source: str) -> tuple[tuple[Decision, ...], str | None]:
    """A v1 file's scalar threshold as the one decision it meant: score >= threshold takes the dense path of a
    two-path trace."""
    threshold = data.get("threshold")
    if threshold is None:
        return (), None
    if not _is_number(threshold) or not 0 <= threshold <= 1:
        raise InputError(source, "metadata.threshold", describe(threshold), "null or a number in [0, 1]")
    if len(paths) != 2:
        return (), None          # v1 had no routing rule for more paths: the threshold was only a label
    return switch_decision(threshold, dense), next(p for p in paths if p != dense)


def _decisions(raw: Any, paths: dict, source: str) -> tuple[Decision, ...]:
    if not isinstance(raw, list):
        raise InputError(source, "metadata.decisions", describe(raw), "a list of decisions (may be empty)")
    out, names = [], set()
    for i, item in enumerate(raw):
        at = f"metadata.decisions[{i}]"
        if not isinstance(item, dict):
            raise InputError(source, at, describe(item), "an object with name, score, threshold, path and when")
        keys = ("name", "score", "threshold", "path", "when", "threshold_column")
        unknown = sorted(set(item) - set(keys))
        if unknown:
            raise InputError(source, f"{at}.{unknown[0]}", "an unknown key", ", ".join(keys))
        name, score, path = item.get("name"), item.get("score"), item.get("path")
        if not isinstance(name, str) or not name or name in names:
            raise InputError(source, f"{at}.name", describe(name), "a name no other decision has")
        if not isinstance(score, str) or not score or score in RESERVED_COLUMNS:
            raise InputError(source, f"{at}.score", describe(score),
                             f"the name of the per-frame score column it reads (not {list(RESERVED_COLUMNS)})")
        threshold = item.get("threshold")
        if not _is_number(threshold) or not 0 <= threshold <= 1:
            raise InputError(source, f"{at}.threshold", describe(threshold), "a number in [0, 1]")
        if not isinstance(path, str) or path not in paths:
            raise InputError(source, f"{at}.path", describe(path), f"the path it takes, one of {list(paths)}")
        when = item.get("when", "above")
        if when not in ("above", "below"):
            raise InputError(source, f"{at}.when", describe(when),
                             "'above' (fires at score >= threshold) or 'below' (score < threshold)")
        column = item.get("threshold_column")
        if column is not None and (not isinstance(column, str) or not column or column in RESERVED_COLUMNS
                                   or column == score):
            raise InputError(source, f"{at}.threshold_column", describe(column),
                             f"null, or the name of a per-frame threshold column (not its score column "
                             f"'{score}', nor {list(RESERVED_COLUMNS)})")
        names.add(name)
        out.append(Decision(name=name, score=score, threshold=float(threshold), path=path, when=when,
                            threshold_column=column))
    return tuple(out)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _positive(data: dict, key: str, source: str) -> float:
    """A rate in Hz: positive, and between 1e-6 Hz (a frame every 11.6 days) and 1e9 Hz."""
    value = data.get(key)
    if not _is_number(value) or not 1e-6 <= value <= 1e9:
        raise InputError(source, f"metadata.{key}", describe(value), "a rate between 1e-6 and 1e9 Hz")
    return float(value)


def _stages(raw: Any, source: str) -> dict[str, Stage]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(source, "metadata.stages", describe(raw), "an object of stages, each with an op list")
    stages = {}
    for name, body in raw.items():
        where = f"metadata.stages.{name}"
        ops_raw = body.get("ops") if isinstance(body, dict) else None
        if isinstance(body, dict) and set(body) - {"ops"}:
            raise InputError(source, f"{where}.{sorted(map(str, set(body) - {'ops'}))[0]}", "an unknown key",
                             "only 'ops', the stage's op list")
        if not isinstance(ops_raw, list) or not ops_raw:
            raise InputError(source, f"{where}.ops", describe(ops_raw), "a non-empty list of ops (the op graph)")
        ops = [op_from_dict(op, source, f"{where}.ops[{i}]", f"op{i}") for i, op in enumerate(ops_raw)]
        stages[name] = Stage(name=name, ops=tuple(ops))
    return stages


def op_from_dict(op: Any, source: str, at: str, default_name: str) -> Op:
    """Validate one op given as a mapping (name, kind, macs, weight/activation bytes, dtype)."""
    if not isinstance(op, dict):
        raise InputError(source, at, describe(op), "an object with name, kind, macs, bytes and dtype")
    unknown = [k for k in op if k not in OP_KEYS]
    if unknown:
        raise InputError(source, f"{at}.{unknown[0]}", "an unknown key", f"one of {list(OP_KEYS)} (a typo?)")
    kind = op.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError(source, f"{at}.kind", describe(kind), f"an op kind such as {KNOWN_OP_KINDS}")
    dtype = op.get("dtype", "int8")
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise InputError(source, f"{at}.dtype", describe(dtype), f"one of {list(DTYPE_BYTES)}")
    numbers = {}
    for key in ("macs", "weight_bytes", "act_in_bytes", "act_out_bytes"):
        value = op.get(key, 0 if key != "macs" else None)
        if not _is_number(value) or value < 0:
            raise InputError(source, f"{at}.{key}", describe(value), "a number >= 0 (per frame)")
        numbers[key] = float(value)
    name = op.get("name", default_name)
    if name is not None and (isinstance(name, bool) or not isinstance(name, (str, int, float))):
        raise InputError(source, f"{at}.name", describe(name), "a name (text)")
    return Op(name=str(default_name if name is None else name), kind=kind, dtype=dtype, **numbers)


def _paths(raw: Any, stages: dict[str, Stage], source: str) -> dict[str, list[str]]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(source, "metadata.paths", describe(raw),
                         "an object mapping each path name to its ordered list of stages")
    paths = {}
    for name, seq in raw.items():
        if not isinstance(seq, list) or not seq:
            raise InputError(source, f"metadata.paths.{name}", describe(seq), "a non-empty list of stage names")
        for i, stage in enumerate(seq):
            if not isinstance(stage, str) or stage not in stages:
                raise InputError(source, f"metadata.paths.{name}[{i}]", describe(stage),
                                 f"a stage with an op list, one of {list(stages)}")
        paths[str(name)] = [str(s) for s in seq]
    return paths
