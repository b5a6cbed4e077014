"""The frame table every generated trace starts from, and how many frames a trace may hold.

>>> frame_count(10.0, 75.0)
750
>>> frame_table(3, 50.0).to_dict("list")
{'frame': [0, 1, 2], 't_arrival': [0.0, 0.02, 0.04]}
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError

#: Most frames a trace may hold (about 15 days at 75 Hz); more is almost surely a typo in rate or duration.
MAX_FRAMES = 100_000_000


def frame_count(duration: float, frame_rate: float) -> int:
    """How many frames ``duration`` seconds make at ``frame_rate`` frames per second (rounded); an error naming
    the figures unless both are finite and positive (the rate 1e-6 to 1e6 frames/s) and the count is 1 to
    :data:`MAX_FRAMES`."""
    if not (math.isfinite(duration) and duration > 0 and math.isfinite(frame_rate) and 1e-6 <= frame_rate <= 1e6):
        raise DslsimError(f"duration {duration!r} s at {frame_rate!r} frames/s: a positive finite duration and a "
                          f"rate between 1e-6 and 1e6 frames/s.")
    n = int(round(duration * frame_rate))
    if n < 1:
        raise DslsimError(f"{duration:g} s at {frame_rate:g} frames/s is less than one frame.")
    if n > MAX_FRAMES:
        raise DslsimError(f"{duration:g} s at {frame_rate:g} frames/s is {n:,} frames; at most {MAX_FRAMES:,} "
                          f"(about 15 days at 75 Hz) per trace.")
    return n


def frame_table(n: int, frame_rate: float) -> pd.DataFrame:
    """The reserved columns of ``n`` evenly spaced frames: ``frame`` (0 to n - 1, int64) and ``t_arrival``
    (seconds, float64, frame / ``frame_rate``); a generator adds ``path`` and its score columns."""
    return pd.DataFrame({"frame": np.arange(n, dtype=np.int64),
                         "t_arrival": np.arange(n, dtype=np.float64) / frame_rate})
