"""An online light-share budget: a switch threshold set on the deployment audio itself, without labels.

A threshold calibrated once holds its light share only on audio like the calibration set; when the background
changes (babble instead of a quiet room), the share of frames whose score passes it changes too. The controller
here tracks a *streaming quantile* of the switch score instead: it keeps an exponentially decayed histogram of
the scores seen so far (time constant ``time_constant_s``) and, before each frame, sets the threshold where the
decayed mass below it is the light budget. Frame t is routed by the threshold computed from frames before t
(causal), so a device can run the same arithmetic: ``bins`` additions and one decay per frame.

The time constant is that of the estimator's memory, exactly: a score seen ``time_constant_s`` ago weighs 1/e of
a fresh one, whatever the score distribution. Until the decayed mass reaches ``warmup_frames`` the controller
uses ``initial_threshold`` (the model's calibrated one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Histogram resolution of the score in [0, 1]; the threshold is interpolated inside a bin.
BINS = 256


@dataclass(frozen=True)
class BudgetController:
    """Holds the running share of light frames at ``light_share`` by tracking the score's streaming quantile."""

    light_share: float
    """Target share of frames on the light path, in (0, 1)."""
    time_constant_s: float
    """Memory of the score histogram: a score this old weighs 1/e of a new one (seconds)."""
    frame_rate: float
    """Frames per second of the stream (sets the per-frame decay)."""
    initial_threshold: float = 0.5
    """Threshold used until the histogram holds ``warmup_frames`` of decayed mass."""
    warmup_frames: float = 25.0
    """Decayed mass (in frames) the histogram needs before its quantile is trusted."""
    bins: int = BINS
    """Histogram bins over [0, 1]."""

    def __post_init__(self) -> None:
        checks = ((0 < self.light_share < 1, "light_share", "in (0, 1)"),
                  (self.time_constant_s > 0 and math.isfinite(self.time_constant_s), "time_constant_s", "> 0"),
                  (self.frame_rate > 0 and math.isfinite(self.frame_rate), "frame_rate", "> 0"),
                  (0 <= self.initial_threshold <= 1, "initial_threshold", "in [0, 1]"),
                  (self.warmup_frames >= 0, "warmup_frames", ">= 0"), (self.bins >= 2, "bins", ">= 2"))
        for ok, name, expected in checks:
            if not ok:
                raise ValueError(f"budget controller: {name} is {getattr(self, name)!r}; expected {expected}")

    @property
    def decay(self) -> float:
        """Per-frame weight of the past: exp(-1 / (time constant in frames))."""
        return math.exp(-1.0 / (self.time_constant_s * self.frame_rate))

    def thresholds(self, scores: np.ndarray) -> np.ndarray:
        """The threshold each frame is routed by (frame t is full when ``scores[t] >= thresholds[t]``)."""
        s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
        out = np.empty(len(s), dtype=np.float64)
        hist = np.zeros(self.bins, dtype=np.float64)
        idx = np.minimum((s * self.bins).astype(np.int64), self.bins - 1)
        decay, target = self.decay, self.light_share
        theta = self.initial_threshold
        for t in range(len(s)):
            mass = hist.sum()
            if mass >= self.warmup_frames:
                cum = np.cumsum(hist) / mass
                k = int(np.searchsorted(cum, target))  # first bin whose cumulative share reaches the target
                below = cum[k - 1] if k > 0 else 0.0
                inside = (target - below) / max(cum[k] - below, 1e-300)
                theta = (k + inside) / self.bins
            out[t] = theta
            hist *= decay
            hist[idx[t]] += 1.0
        return out

    def route(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(full mask, thresholds) for a stream of scores."""
        thr = self.thresholds(scores)
        return np.asarray(scores) >= thr, thr
