"""Synthetic traces of dynamic networks with K paths: early exits and layer selection.

**Early exit** (RBQE-style enhancement, multi-exit classifiers): the network is a chain of blocks, each followed by
an exit head; a frame leaves at exit i when that exit's confidence passes its threshold. Paths ``exit1`` … ``exitK``
run blocks 1..i and head i. **Iterated block** (DynaLay-style fixed-point layers, adaptive computation time): a
block runs 1..N times, halting when a convergence score passes its threshold; paths ``iter1`` … ``iterN``.

Per frame, a hidden difficulty level d in 1..K follows a Markov chain: with probability ``1 / mean_burst_frames``
per frame a new level is drawn from ``shares`` (so the chain's stationary distribution is exactly ``shares``, and
hard stretches come in bursts). The frame leaves at exit d: each exit i < d gets a confidence below its
threshold, exit d (and those after it) one at or above, so re-applying the thresholds gives the paths back, and a
sweep that lowers a threshold moves frames to earlier exits as a real confidence would. A per-exit error
(``err_exit<i>``) falls with depth and is larger for frames harder than the exit, for quality-vs-battery fronts.

>>> t = early_exit_trace(duration=3600.0, frame_rate=50.0, shares=[0.6, 0.3, 0.1], seed=0)
>>> list(t.meta.paths), [d.name for d in t.meta.decisions], t.meta.fallback_path
(['exit1', 'exit2', 'exit3'], ['exit1', 'exit2'], 'exit3')
>>> [round(float(x), 1) for x in t.frames["path"].value_counts(normalize=True, sort=False)]
[0.6, 0.3, 0.1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError
from dslsim.trace.frames import frame_count, frame_table
from dslsim.trace.graph import _Builder
from dslsim.trace.schema import DTYPE_BYTES, MAX_PATHS, Decision, Stage, Trace, TraceMeta
from dslsim.trace.synth import check_seed, float32_on_side


def difficulty_levels(n_frames: int, shares: Sequence[float], mean_burst_frames: float, seed: int) -> np.ndarray:
    """Per-frame difficulty level (0-based) from a Markov chain whose stationary distribution is ``shares``.

    Each frame keeps the previous level, except that with probability 1 / ``mean_burst_frames`` a fresh level is
    drawn from ``shares`` (possibly the same one). The first level is drawn from ``shares``.
    """
    if len(shares) > MAX_PATHS:
        # Frames store their path as an 8-bit code: a 128th level would wrap around to a negative one.
        raise DslsimError(f"{len(shares)} shares: a trace holds at most {MAX_PATHS} paths (one share each).")
    check_seed(seed)
    p = np.asarray(shares, dtype=np.float64)
    if p.ndim != 1 or len(p) < 2 or np.any(~np.isfinite(p)) or np.any(p < 0) or not math.isclose(p.sum(), 1.0,
                                                                                                    abs_tol=1e-6):
        raise DslsimError(f"shares {list(shares)}: expected two or more non-negative numbers that sum to 1.")
    if not (math.isfinite(mean_burst_frames) and mean_burst_frames >= 1.0):
        raise DslsimError(f"a mean run of {mean_burst_frames:g} frames: expected at least one frame.")
    p = p / p.sum()
    rng = np.random.default_rng(seed)
    levels = np.empty(n_frames, dtype=np.int8)
    pos = 0
    level = int(rng.choice(len(p), p=p))
    while pos < n_frames:
        run = int(rng.geometric(1.0 / mean_burst_frames))    # frames until the next redraw
        levels[pos:pos + run] = level
        pos += run
        level = int(rng.choice(len(p), p=p))
    return levels


def chain_graph(k: int, width: int = 64, steps: int = 16, kernel: int = 3, head_dim: int = 40,
                dtype: str = "int8", prefix: str = "block", head: str = "exit") -> dict[str, Stage]:
    """Stages of a k-block conv1d chain with a head after every block: ``block1`` … ``blockK`` (each a
    ``width``-channel conv of ``kernel`` taps over ``steps`` time steps per frame, plus its skip addition) and
    ``exit1`` … ``exitK`` (global average pooling and a linear head to ``head_dim`` outputs).

    >>> stages = chain_graph(3, width=64, steps=16, kernel=3)
    >>> stages["block1"].macs                       # 64 * 64 * 3 * 16 MACs + 64 * 16 additions
    197632.0
    """
    b_bytes = DTYPE_BYTES[dtype]
    stages = {}
    for i in range(1, k + 1):
        block = _Builder(b_bytes, dtype)
        block.conv("conv", width, width, kernel, steps, steps)
        block.elementwise("skip_add", width * steps)
        stages[f"{prefix}{i}"] = block.stage(f"{prefix}{i}")
        exit_head = _Builder(b_bytes, dtype)
        exit_head.elementwise("avg_pool", width * steps)
        exit_head.linear("fc", width, head_dim)
        stages[f"{head}{i}"] = exit_head.stage(f"{head}{i}")
    return stages


def _rates(frame_rate: float, sample_rate: float | None) -> tuple[float, int]:
    """(sample rate, hop): audio at ``sample_rate`` (16 kHz by default) when a frame is a whole number of its
    samples, else one 'sample' per frame (a non-audio sensor)."""
    rate = float(sample_rate or 16_000.0)
    hop = rate / frame_rate
    if hop >= 1 and abs(hop - round(hop)) < 1e-9:
        return rate, int(round(hop))
    return float(frame_rate), 1


def _thresholds(thresholds: float | Sequence[float], count: int) -> list[float]:
    values = [float(thresholds)] * count if isinstance(thresholds, (int, float)) else [float(t) for t in thresholds]
    if len(values) != count or not all(0.0 < t < 1.0 for t in values):
        raise DslsimError(f"thresholds {thresholds!r}: expected {count} number(s) strictly between 0 and 1, one per "
                          f"decision.")
    return values


def _confidences(rng: np.random.Generator, levels: np.ndarray, thresholds: list[float]) -> dict[int, np.ndarray]:
    """Per decision i (0-based), float32 scores: below its threshold for frames harder than exit i, at or above
    it otherwise; easier frames are more confident (their scores sit further above the threshold)."""
    out = {}
    for i, threshold in enumerate(thresholds):
        leaves = levels <= i
        margin = rng.beta(4, 2, len(levels))                     # where in the passing (or failing) range
        above = threshold + (1 - threshold) * margin
        below = threshold * (1 - margin) * np.clip(1 - 0.15 * (levels - i - 1), 0.2, 1)
        out[i] = float32_on_side(np.where(leaves, above, below), leaves, threshold)
    return out


def _errors(rng: np.random.Generator, levels: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """Per path i (0-based), a per-frame error: a base error shrinking with depth (over 1 + i / 4), tripled and
    more for frames harder than the path (a normalised distortion: lower is better)."""
    base = 0.05 + 0.02 * rng.standard_normal(len(levels)).clip(-2, 2)
    return {i: (base * (1 + 2.0 * np.maximum(levels - i, 0)) / (1 + 0.25 * i)).astype(np.float32)
            for i in range(k)}


@dataclass(frozen=True)
class _Draw:
    """What every K-path kind draws first: the frames' difficulty levels, with the arguments that set them."""

    frame_rate: float
    sample_rate: float | None
    seed: int
    shares: tuple[float, ...]
    mean_burst: float
    levels: np.ndarray
    """Per frame, the 0-based difficulty level: the path the frame takes."""

    @classmethod
    def of(cls, duration: float, frame_rate: float, shares: Sequence[float], mean_burst: float, seed: int,
           sample_rate: float | None) -> "_Draw":
        """The levels of ``duration`` seconds of frames, each path i taking ``shares[i]`` in bursts."""
        n = frame_count(duration, frame_rate)
        levels = difficulty_levels(n, shares, mean_burst * frame_rate, seed)
        return cls(frame_rate, sample_rate, seed, tuple(map(float, shares)), mean_burst, levels)

    def trace(self, kind: str, model: str, paths: dict[str, list[str]], stages: dict[str, Stage],
              dense_path: str, scores: dict[str, np.ndarray], rng: np.random.Generator,
              decisions: tuple[Decision, ...] = ()) -> Trace:
        """The trace every K-path kind ends with: frames routed by the levels (path i for level i), the
        decisions' ``scores`` columns, a per-path error ``err_<path>`` drawn from ``rng`` after the scores, and
        the difficulty (1-based); with decisions, the dense path is the fallback."""
        rate, hop = _rates(self.frame_rate, self.sample_rate)
        source = {"generator": f"dslsim trace synth --kind {kind}", "seed": self.seed,
                  "shares_target": list(self.shares), "mean_burst_s": self.mean_burst, "model": model}
        meta = TraceMeta(frame_rate=float(self.frame_rate), sample_rate=rate, hop=hop, paths=paths, stages=stages,
                         dense_path=dense_path, decisions=decisions,
                         fallback_path=dense_path if decisions else None, source=source)
        levels, names = self.levels, list(paths)
        frames = frame_table(len(levels), self.frame_rate)
        frames["path"] = pd.Categorical.from_codes(levels, categories=names)
        for column, values in scores.items():
            frames[column] = values
        for i, err in _errors(rng, levels, len(names)).items():
            frames[f"err_{names[i]}"] = err
        frames["difficulty"] = levels + 1
        return Trace(meta, frames).validate()


def early_exit_trace(duration: float, frame_rate: float = 50.0, shares: Sequence[float] = (0.6, 0.25, 0.15),
                     mean_burst: float = 0.5, thresholds: float | Sequence[float] = 0.8, seed: int = 0,
                     width: int = 64, steps: int = 16, kernel: int = 3, dtype: str = "int8",
                     sample_rate: float | None = None) -> Trace:
    """An early-exit trace with K = len(``shares``) exits, exit i taking a share ``shares[i]`` of the frames
    (in expectation); hard frames come in runs of ``mean_burst`` seconds on average. Each exit but the last is a
    decision on its confidence column ``conf_exit<i>`` with its own threshold; ``err_exit<i>`` holds each exit's
    per-frame error. The op graph is :func:`chain_graph`; path ``exit<i>`` runs blocks 1..i and heads 1..i (a
    frame that reaches exit i computed every earlier exit's confidence on the way)."""
    draw = _Draw.of(duration, frame_rate, shares, mean_burst, seed, sample_rate)
    k, levels = len(shares), draw.levels
    thr = _thresholds(thresholds, k - 1)
    rng = np.random.default_rng([seed, 1])
    stages = chain_graph(k, width=width, steps=steps, kernel=kernel, dtype=dtype)
    # Reaching exit i means every earlier head ran too: its confidence is what let the frame go on.
    paths = {f"exit{i}": [stage for j in range(1, i + 1) for stage in (f"block{j}", f"exit{j}")]
             for i in range(1, k + 1)}
    decisions = tuple(Decision(name=f"exit{i + 1}", score=f"conf_exit{i + 1}", threshold=t, path=f"exit{i + 1}")
                      for i, t in enumerate(thr))
    scores = {f"conf_exit{i + 1}": score for i, score in _confidences(rng, levels, thr).items()}
    return draw.trace("early-exit", f"{k}-exit conv1d chain (C={width}, {steps} steps/frame, k={kernel})", paths,
                      stages, f"exit{k}", scores, rng, decisions)


def iterated_block_trace(duration: float, frame_rate: float = 50.0, shares: Sequence[float] = (0.5, 0.3, 0.15, 0.05),
                         mean_burst: float = 0.5, thresholds: float | Sequence[float] = 0.1, seed: int = 0,
                         width: int = 64, steps: int = 16, kernel: int = 3, dtype: str = "int8",
                         sample_rate: float | None = None) -> Trace:
    """A layer-selection trace: a shared block iterated 1..N = len(``shares``) times per frame (a fixed-point or
    weight-tied layer), then one head. The frame halts after iteration i when its residual ``resid_iter<i>`` falls
    below that iteration's threshold (decisions with ``when: below``); iteration i has share ``shares[i]``.

    Stages: ``stem`` (the block's input projection), ``iter1`` … ``iterN`` (the same block's cost, once per
    iteration, with its halting residual), ``head``; path ``iter<i>`` runs stem, iterations 1..i and the head.
    """
    draw = _Draw.of(duration, frame_rate, shares, mean_burst, seed, sample_rate)
    k, levels = len(shares), draw.levels
    thr = _thresholds(thresholds, k - 1)
    rng = np.random.default_rng([seed, 2])
    head = chain_graph(1, width=width, steps=steps, kernel=kernel, dtype=dtype)["exit1"]
    stem = _Builder(DTYPE_BYTES[dtype], dtype)
    stem.conv("proj", 1, width, kernel, steps, steps)
    block = _Builder(DTYPE_BYTES[dtype], dtype)
    block.conv("conv", width, width, kernel, steps, steps)
    block.elementwise("skip_add", width * steps)
    block.elementwise("halt_residual", 2 * width * steps)     # |z_i - z_(i-1)|: the halting score
    stages = {"stem": stem.stage("stem"),
              **{f"iter{i}": Stage(f"iter{i}", tuple(block.ops)) for i in range(1, k + 1)},
              "head": Stage("head", head.ops)}
    paths = {f"iter{i}": ["stem"] + [f"iter{j}" for j in range(1, i + 1)] + ["head"] for i in range(1, k + 1)}
    # A residual is small once converged: 1 - confidence, so "below the threshold" means "halt".
    confidence = _confidences(rng, levels, [1.0 - t for t in thr])
    decisions = tuple(Decision(name=f"halt{i + 1}", score=f"resid_iter{i + 1}", threshold=t, path=f"iter{i + 1}",
                               when="below") for i, t in enumerate(thr))
    # 1 - conf in float32 can land on the threshold: place it again so halting frames stay below it.
    scores = {f"resid_iter{i + 1}": float32_on_side((np.float32(1) - conf).astype(np.float32), levels > i, thr[i])
              for i, conf in confidence.items()}
    return draw.trace("iterated-block", f"weight-tied conv1d block iterated 1..{k} times (C={width})", paths,
                      stages, f"iter{k}", scores, rng, decisions)


def layer_subset_trace(duration: float, frame_rate: float = 50.0, blocks: int = 4,
                       subsets: Sequence[str] = ("1", "1+3", "1+2+3", "1+2+3+4"),
                       shares: Sequence[float] = (0.5, 0.25, 0.15, 0.1), mean_burst: float = 0.5, seed: int = 0,
                       width: int = 64, steps: int = 16, kernel: int = 3, dtype: str = "int8",
                       sample_rate: float | None = None) -> Trace:
    """A layer-selection trace in which a policy (an agent, a router) picks which of ``blocks`` blocks run for
    each frame: one path per subset (``"1+3"``: blocks 1 and 3, then the head), with ``shares`` of the frames, the
    harder frames taking the later subsets. The choice is not a threshold on a score, so the trace stores no
    decisions: the ``path`` column is the routing (sweeps vary the platform, not the policy). A small policy
    network (``policy``: a linear layer over the pooled stem output) runs on every frame."""
    if len(subsets) != len(shares):
        raise DslsimError(f"{len(subsets)} subsets and {len(shares)} shares: expected one share per subset.")
    if not isinstance(blocks, int) or isinstance(blocks, bool) or blocks < 1:
        raise DslsimError(f"{blocks!r} blocks: expected a positive whole number.")
    chosen = []
    for subset in subsets:
        parts = str(subset).split("+")
        if not all(b.strip().isdigit() for b in parts):
            raise DslsimError(f"subset {subset!r}: expected block numbers joined by '+', e.g. 1+3.")
        members = [int(b) for b in parts]
        if not members or any(not 1 <= b <= blocks for b in members) or len(set(members)) != len(members):
            raise DslsimError(f"subset {subset!r}: expected distinct block numbers from 1 to {blocks}.")
        chosen.append(sorted(members))
    draw = _Draw.of(duration, frame_rate, shares, mean_burst, seed, sample_rate)
    rng = np.random.default_rng([seed, 3])
    chain = chain_graph(blocks, width=width, steps=steps, kernel=kernel, dtype=dtype)
    b = DTYPE_BYTES[dtype]
    stem, policy = _Builder(b, dtype), _Builder(b, dtype)
    stem.conv("proj", 1, width, kernel, steps, steps)
    policy.elementwise("avg_pool", width * steps)
    policy.linear("fc", width, len(subsets))
    stages = {"stem": stem.stage("stem"), "policy": policy.stage("policy"),
              **{f"block{i}": chain[f"block{i}"] for i in range(1, blocks + 1)},
              "head": Stage("head", chain[f"exit{blocks}"].ops)}
    names = ["blocks" + "+".join(map(str, members)) for members in chosen]
    paths = {name: ["stem", "policy"] + [f"block{i}" for i in members] + ["head"]
             for name, members in zip(names, chosen)}
    if len(paths) != len(names):
        raise DslsimError(f"subsets {list(subsets)}: each must be different.")
    return draw.trace("layer-subset", f"{blocks}-block conv1d network, a per-frame block-subset policy (C={width})",
                      paths, stages, max(names, key=lambda p: len(paths[p])), {}, rng)
