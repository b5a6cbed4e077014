"""Finished frames as the engines hand them on, block by block, to whatever reduces, keeps or writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class FrameBlock:
    """Finished frames of a run, in arrival order: positions ``first`` .. ``first + len(ready) - 1`` of the run.

    The arrays are views into the engine's buffers, valid while the sink runs: a sink reduces or copies them.
    """

    first: int
    """Position of the block's first frame in the run (0 for the run's first frame)."""
    index: np.ndarray
    """The trace's frame index of each frame (int64)."""
    ready: np.ndarray
    """When each frame was ready (its audio complete), s."""
    codes: np.ndarray
    """Each frame's path code (index into the plan's paths)."""
    start: np.ndarray
    """When each frame's first job started, s (NaN for a frame dropped before it started)."""
    end: np.ndarray
    """When each frame's last job ended, s (NaN for a dropped frame)."""
    energy: np.ndarray
    """Energy charged to each frame, J."""
    wakeups: np.ndarray
    """Wake-ups each frame caused."""
    used: np.ndarray
    """Bit mask of the resources each frame used."""
    dropped: np.ndarray
    """Whether each frame was dropped (a resource with the drop policy was busy)."""

    def __len__(self) -> int:
        return len(self.ready)


#: Where finished frames go, block by block (a reducer, a collector, a Parquet writer).
FrameSink = Callable[[FrameBlock], None]

#: A piece of the run's input: the trace's frame indices, ready times (s) and path codes of consecutive frames.
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray]
