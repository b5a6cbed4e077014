"""What a simulation replays: a trace in memory, or a trace file read block by block (memory bounded by a block,
whatever the trace's length). Both give the engine the same chunks of frames.
"""

from __future__ import annotations

import copy
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from dslsim.trace.io import TraceFile
from dslsim.trace.schema import Trace, TraceMeta

if TYPE_CHECKING:  # the compiled engine loads only when it runs
    from dslsim.sim.engine.blocks import Chunk


class TraceInput(ABC):
    """Frames to replay. ``meta``: the trace's metadata; ``frames``: how many; ``span``: the last frame's ready
    time (s), which is the trace's end; :meth:`chunks` the frames (as routed, or all on one path)."""

    meta: TraceMeta
    frames: int
    span: float

    @abstractmethod
    def chunks(self, path_code: int | None = None, check: Callable[[np.ndarray, float], None] | None = None
               ) -> Iterator[Chunk]:
        """The frames in order, in chunks; with ``path_code`` every frame on that path. ``check(codes, span)``
        sees the first chunk before the engine does (to refuse an absurd run early)."""

    @abstractmethod
    def key(self) -> tuple:
        """What identifies the frames' arrival times, for a cache of runs that depend on nothing else."""


class InMemory(TraceInput):
    """A trace already in memory: one chunk."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.meta = trace.meta
        self.frames = len(trace)
        self.ready = trace.frames["t_arrival"].to_numpy(dtype=np.float64) + trace.meta.frame_duration
        self.codes = trace.path_codes()
        self.index = trace.frames["frame"].to_numpy()
        self.span = float(self.ready[-1]) if self.frames else 0.0
        self._key: tuple | None = None

    def rerouted(self, trace: Trace) -> InMemory:
        """This input routed as ``trace``, a re-routed copy of this input's trace (the same frames and arrival
        times; :meth:`Trace.rethreshold`): the ready times and their hash are shared, not recomputed, which a
        sweep that re-routes one day-long trace per point would otherwise redo a thousand times."""
        if len(trace) != self.frames:
            raise ValueError(f"a re-routed copy has the same frames; got {len(trace)} for {self.frames}")
        self.key()
        out = copy.copy(self)
        out.trace, out.meta, out.codes = trace, trace.meta, trace.path_codes()
        return out

    def chunks(self, path_code=None, check=None):
        codes = self.codes if path_code is None else np.full_like(self.codes, path_code)
        if check is not None:
            check(codes, self.span)
        yield self.index, self.ready, codes

    def key(self):
        if self._key is None:
            self._key = ("arrivals", hashlib.sha1(memoryview(np.ascontiguousarray(self.ready))).hexdigest())
        return self._key


class FromFile(TraceInput):
    """A trace file read in validated blocks (:class:`dslsim.trace.io.TraceFile`); nothing of it is kept."""

    def __init__(self, source: TraceFile):
        self.source = source
        self.meta = source.meta
        self.frames = source.frames
        self.span = source.last_arrival() + source.meta.frame_duration

    def chunks(self, path_code=None, check=None):
        duration = self.meta.frame_duration
        first = True
        for block in self.source.blocks():
            codes = block.path_codes()
            if path_code is not None:
                codes = np.full_like(codes, path_code)
            ready = block.frames["t_arrival"].to_numpy(dtype=np.float64) + duration
            if first and check is not None:
                check(codes, float(ready[-1]))
            first = False
            yield block.frames["frame"].to_numpy(), ready, codes

    def key(self):
        return self.source.identity()
