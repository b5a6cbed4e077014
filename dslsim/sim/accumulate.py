"""Per-frame figures reduced as a run goes: counts, sums and latency percentiles, so a summary never needs the
run's per-frame arrays and memory does not grow with simulated time.

Everything here is exact (counts, maxima, sums) except the latency percentiles of long runs: up to
:data:`EXACT_LATENCIES` frames every latency is kept and the percentiles are numpy's (linear interpolation);
past that they come from a fixed-resolution histogram whose bins are ``2**-HISTOGRAM_BITS`` of an octave wide,
so a percentile is within a relative ``2**-(HISTOGRAM_BITS + 1)`` (0.0031 %) of the exact one
(:data:`PERCENTILE_RELATIVE_ERROR`; the tests check the bound).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Frames whose latencies are kept as they are (8 bytes each, 16 MB); past this, a histogram (a few MB at most).
EXACT_LATENCIES = 1 << 21

#: Latencies binned together once the histogram has taken over (2 MB at most waiting).
BIN_BATCH = 1 << 18

#: Mantissa bits a histogram bin keeps: 2**14 bins per octave.
HISTOGRAM_BITS = 14

#: A histogram percentile's largest error relative to the exact percentile.
PERCENTILE_RELATIVE_ERROR = 2.0 ** -(HISTOGRAM_BITS + 1)

_SHIFT = 52 - HISTOGRAM_BITS


class LatencyQuantiles:
    """Percentiles of a stream of non-negative latencies (s): exact while short, a histogram once long."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[np.ndarray] | None = []       # None once the histogram took over
        self._zeros = 0                                 # latencies of exactly 0 s (no bin: log scale)
        self._low = 0                                   # key of self._counts[0]
        self._counts = np.zeros(0, np.int64)
        self._unbinned: list[np.ndarray] = []           # latencies waiting to be binned together
        self._unbinned_count = 0

    def add(self, latency: np.ndarray) -> None:
        """Take a block of latencies (not kept: copied or binned)."""
        if not len(latency):
            return
        self.count += len(latency)
        if self._kept is not None:
            self._kept.append(np.array(latency, dtype=np.float64))
            if self.count <= EXACT_LATENCIES:
                return
            latency = np.concatenate(self._kept)
            self._kept = None
        else:
            latency = np.array(latency, dtype=np.float64)
        # Binned a quarter of a million at a time: a block's bin counts span the whole range of latencies (tens of
        # thousands of bins), which costs as much as binning the block itself; counts do not depend on the grouping.
        self._unbinned.append(latency)
        self._unbinned_count += len(latency)
        if self._unbinned_count >= BIN_BATCH:
            self._flush()

    def _flush(self) -> None:
        """Bin the latencies waiting to be binned."""
        if self._unbinned:
            latency = np.concatenate(self._unbinned) if len(self._unbinned) > 1 else self._unbinned[0]
            self._unbinned, self._unbinned_count = [], 0
            self._bin(latency)

    def _bin(self, latency: np.ndarray) -> None:
        positive = latency > 0
        self._zeros += int(len(latency) - np.count_nonzero(positive))
        keys = np.asarray(latency[positive], dtype=np.float64).view(np.int64) >> _SHIFT
        if not len(keys):
            return
        lo, hi = int(keys.min()), int(keys.max())
        counts = np.bincount(keys - lo, minlength=hi - lo + 1)
        if not len(self._counts):
            self._low, self._counts = lo, counts.astype(np.int64)
            return
        new_low = min(lo, self._low)
        new_high = max(hi, self._low + len(self._counts) - 1)
        if new_low != self._low or new_high != self._low + len(self._counts) - 1:
            grown = np.zeros(new_high - new_low + 1, np.int64)
            grown[self._low - new_low:self._low - new_low + len(self._counts)] = self._counts
            self._low, self._counts = new_low, grown
        self._counts[lo - self._low:hi - self._low + 1] += counts

    @property
    def exact(self) -> bool:
        """Whether the percentiles are numpy's on every latency (no histogram)."""
        return self._kept is not None

    def count_above(self, limit: float) -> int | None:
        """How many latencies exceed ``limit`` (s), when every latency is kept; None once binned."""
        if self._kept is None:
            return None
        return int(sum(np.count_nonzero(part > limit) for part in self._kept))

    def percentiles(self, qs: Sequence[float]) -> list[float]:
        """The ``qs`` percentiles (0-100), with numpy's linear interpolation between order statistics; NaN when
        empty."""
        if self.count == 0:
            return [float("nan")] * len(qs)
        if self._kept is not None:
            values = np.concatenate(self._kept)
            return [float(v) for v in np.percentile(values, qs, overwrite_input=True)]
        self._flush()
        cumulative = np.cumsum(self._counts) + self._zeros
        out = []
        for q in qs:
            h = (self.count - 1) * q / 100.0
            i = int(np.floor(h))
            below, above = self._order_statistic(i, cumulative), self._order_statistic(min(i + 1, self.count - 1),
                                                                                        cumulative)
            out.append(below + (h - i) * (above - below))
        return out

    def _order_statistic(self, rank: int, cumulative: np.ndarray) -> float:
        """The ``rank``-th smallest latency (0-based), as the middle of its histogram bin."""
        if rank < self._zeros:
            return 0.0
        b = int(np.searchsorted(cumulative, rank, side="right"))
        key = self._low + b
        lo = float(np.int64(key << _SHIFT).view(np.float64))
        hi = float(np.int64((key + 1) << _SHIFT).view(np.float64))
        return 0.5 * (lo + hi)


#: Frames per segment of the energy sums: each segment is summed alone, then segments in order, so the sums do
#: not depend on how the run's frames were cut into blocks (the two engines hand them on differently).
SUM_SEGMENT = 1 << 16


class FrameTotals:
    """What a summary needs from the per-frame results, reduced block by block (a frame sink's job).

    ``frames``, ``dropped``, ``late`` (finished after the deadline, dropped ones not included), the largest
    latency, per path the frame count and energy sum, and the latency percentiles (:class:`LatencyQuantiles`).
    Every figure is the same bit for bit however the frames arrive in blocks.
    """

    def __init__(self, n_paths: int, deadline: float):
        self.deadline = deadline
        self.frames = 0
        self.dropped = 0
        self.late = 0
        self.latency_max = float("nan")
        self.path_frames = np.zeros(n_paths, np.int64)
        self._energy = np.zeros(n_paths)
        self._carry: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0))
        self.latency = LatencyQuantiles()

    @property
    def path_energy(self) -> np.ndarray:
        """Energy of the frames on each path (J), summed segment by segment (:data:`SUM_SEGMENT`)."""
        codes, energy = self._carry
        return self._energy + np.bincount(codes, weights=energy, minlength=len(self._energy))

    def _sum_energy(self, codes: np.ndarray, energy: np.ndarray) -> None:
        if len(self._carry[0]):
            codes, energy = np.concatenate((self._carry[0], codes)), np.concatenate((self._carry[1], energy))
        whole = len(codes) - len(codes) % SUM_SEGMENT
        n_paths = len(self._energy)
        for lo in range(0, whole, SUM_SEGMENT):
            self._energy += np.bincount(codes[lo:lo + SUM_SEGMENT], weights=energy[lo:lo + SUM_SEGMENT],
                                        minlength=n_paths)
        self._carry = (codes[whole:].copy(), energy[whole:].copy())

    def add(self, ready: np.ndarray, codes: np.ndarray, end: np.ndarray, energy: np.ndarray,
            dropped: np.ndarray) -> None:
        """Take a block of finished frames: ready and end times (s), path codes, energy (J), dropped flags."""
        n = len(ready)
        if not n:
            return
        self.frames += n
        codes = np.asarray(codes, dtype=np.int64)
        n_paths = len(self.path_frames)
        self.path_frames += np.bincount(codes, minlength=n_paths)
        self._sum_energy(codes, np.asarray(energy, dtype=np.float64))
        n_dropped = int(np.count_nonzero(dropped))
        self.dropped += n_dropped
        latency = end - ready
        if n_dropped:
            latency = latency[~dropped]
        if len(latency):
            self.late += int(np.count_nonzero(latency > self.deadline))
            top = float(latency.max())
            self.latency_max = top if not self.latency_max >= top else self.latency_max
            self.latency.add(latency)

    def for_deadline(self, deadline: float) -> "FrameTotals | None":
        """These totals with the late frames counted against another deadline (a run cached for its schedule,
        which the deadline does not change); None when the latencies were binned and the count cannot be exact."""
        if deadline == self.deadline:
            return self
        late = self.latency.count_above(deadline)
        if late is None:
            return None
        copy = object.__new__(FrameTotals)
        copy.__dict__.update(self.__dict__, deadline=deadline, late=late)
        return copy

    def __call__(self, block) -> None:
        """As a frame sink (:class:`dslsim.sim.engine.batch.FrameBlock`)."""
        self.add(block.ready, block.codes, block.end, block.energy, block.dropped)
