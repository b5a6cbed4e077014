"""Seeded synthetic traces: two-state Markov routing over the op graph of a SoundStream-sized DSL model.

The hidden state is "background" (light path) or "speech burst" (full path). A burst lasts on average
``mean_burst`` seconds; the chance to start one is set so that the stationary light share equals
``light_share``. Switch scores are drawn on the right side of the threshold so that re-applying the
threshold reproduces the path exactly.

>>> trace = synth_trace(duration=10.0, frame_rate=75.0, light_share=0.8, mean_burst=0.5, seed=0)
>>> len(trace), trace.meta.dense_path
(750, 'full')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError
from dslsim.trace.frames import frame_count, frame_table
from dslsim.trace.graph import dsl_soundstream_graph
from dslsim.trace.schema import Trace, TraceMeta, switch_decision


def check_seed(seed: object) -> int:
    """``seed`` once it is a whole number >= 0 (numpy's generators refuse negative seeds with a bare ValueError)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DslsimError(f"seed {seed!r}: expected a whole number >= 0.")
    return int(seed)


def markov_routing(n_frames: int, light_share: float, mean_burst_frames: float, seed: int) -> np.ndarray:
    """Boolean array, True where a frame is in a burst (full path), from a two-state Markov chain.

    P(burst -> background) = 1 / mean_burst_frames; P(background -> burst) = a, chosen so that the
    stationary burst share a / (a + 1/B) equals 1 - light_share. The first state is drawn from the
    stationary distribution, so the expected share holds from frame 0.
    """
    if not 0.0 < light_share < 1.0:
        raise DslsimError(f"light share {light_share!r}: expected a number strictly between 0 and 1.")
    check_seed(seed)
    if not mean_burst_frames >= 1.0:         # also refuses nan
        raise DslsimError(f"mean burst of {mean_burst_frames:g} frames: expected at least one frame per burst.")
    q = 1.0 - light_share
    leave = 1.0 / mean_burst_frames
    enter = q * leave / (1.0 - q)
    if enter > 1.0:
        raise DslsimError(
            f"a light share of {light_share:g} with bursts of {mean_burst_frames:g} frames needs bursts to start "
            f"more often than every frame; use longer bursts or a larger light share.")
    rng = np.random.default_rng(seed)
    # Run-length generation: draw alternating geometric run lengths instead of stepping frame by frame.
    state = np.empty(n_frames, dtype=bool)
    burst = bool(rng.random() < q)
    pos = 0
    while pos < n_frames:
        p_leave = leave if burst else enter
        run = int(rng.geometric(p_leave))
        state[pos:pos + run] = burst
        pos += run
        burst = not burst
    return state


def float32_on_side(scores: np.ndarray, above: np.ndarray, threshold: float) -> np.ndarray:
    """``scores`` as float32, moved just enough that they are >= ``threshold`` where ``above`` and < it
    elsewhere, so that re-applying the threshold to the stored (float32) scores gives ``above`` back exactly."""
    below = np.nextafter(np.float32(threshold), np.float32(0))
    while below >= threshold:                    # the float32 next to the threshold may round onto it
        below = np.nextafter(below, np.float32(0))
    high = np.float32(threshold)
    while high < threshold:
        high = np.nextafter(high, np.float32(1))
    scores = np.asarray(scores).astype(np.float32)
    return np.where(above, np.maximum(scores, high), np.minimum(scores, below)).astype(np.float32)


def _scores_on_their_side(rng: np.random.Generator, fires: np.ndarray, threshold: float) -> np.ndarray:
    """float32 scores in [threshold, 1] where ``fires``, in [0, threshold) elsewhere."""
    n = len(fires)
    score = np.where(fires, threshold + (1 - threshold) * rng.beta(5, 2, n), threshold * rng.beta(2, 5, n))
    return float32_on_side(score, fires, threshold)


def synth_trace(duration: float, frame_rate: float = 75.0, light_share: float = 0.8, mean_burst: float = 0.5,
                seed: int = 0, width: int = 32, embed_dim: int = 128, threshold: float = 0.5,
                sample_rate: float | None = None) -> Trace:
    """A synthetic two-path trace of ``duration`` seconds at ``frame_rate`` frames per second.

    ``mean_burst`` is the mean length of a full-path burst in seconds. The op graph is the analytic
    DSL-SoundStream at channel width ``width`` (see :mod:`dslsim.trace.graph`).
    """
    n = frame_count(duration, frame_rate)
    hop = 320
    sample_rate = sample_rate or frame_rate * hop
    full = markov_routing(n, light_share, mean_burst * frame_rate, seed)
    rng = np.random.default_rng([seed, 1])
    score = _scores_on_their_side(rng, full, threshold)
    stages, paths = dsl_soundstream_graph(width=width, embed_dim=embed_dim, hop=hop)
    meta = TraceMeta(
        frame_rate=float(frame_rate), sample_rate=float(sample_rate), hop=hop, paths=paths, stages=stages,
        dense_path="full", decisions=switch_decision(threshold, "full"), fallback_path="light",
        source={"generator": "dslsim trace synth", "model": f"DSL-SoundStream (analytic graph, C={width}, "
                f"D={embed_dim})", "seed": seed, "light_share_target": light_share, "mean_burst_s": mean_burst},
    )
    frames = frame_table(n, frame_rate)
    frames["path"] = pd.Categorical.from_codes(full.astype(np.int8), categories=list(paths))
    frames["score"] = score
    frames["label"] = full
    return Trace(meta, frames)
