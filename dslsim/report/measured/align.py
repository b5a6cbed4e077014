"""Power as a step function of time, its averages on a grid, and the time offset between a measurement and a
simulation found by cross-correlation.

Both signals are kept as piecewise-constant power with its running energy, so any bin average is exact (the
energy between the bin's edges over its width): resampling neither loses nor invents energy, and a measurement
sampled at 100 kHz and a simulation cut at its own state changes meet on one grid.

>>> import numpy as np
>>> steps = PowerSteps(np.array([0.0, 1.0, 3.0]), np.array([2.0, 5.0]))
>>> steps.grid(0.5, 1.0, 2).tolist()            # [0.5, 1.5): 1 J + 2.5 J; [1.5, 2.5): 5 J
[3.5, 5.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dslsim.errors import DslsimError

#: Points on the coarse grid of the offset search (its FFT is about twice this long).
COARSE_POINTS = 1 << 21
#: Points of the measurement used at full resolution when refining the offset (its middle part, if longer: 21 s at
#: 100 kHz settle a fraction of a sample as well as the whole recording would).
FINE_POINTS = 1 << 21
#: Share of the shorter signal that must overlap the other for an offset to be considered.
MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class PowerSteps:
    """Power constant between consecutive edges: ``power[i]`` watts from ``edges[i]`` to ``edges[i + 1]`` seconds."""

    edges: np.ndarray
    """Increasing times (s), one more than ``power``."""
    power: np.ndarray
    """Power on each step (W)."""
    energy: np.ndarray = field(init=False, repr=False)
    """Energy drawn from the first edge up to each edge (J)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy", np.r_[0.0, np.cumsum(self.power * np.diff(self.edges))])

    @property
    def start(self) -> float:
        """The first edge (s)."""
        return float(self.edges[0])

    @property
    def end(self) -> float:
        """The last edge (s)."""
        return float(self.edges[-1])

    def energy_at(self, t: np.ndarray | float) -> np.ndarray:
        """Energy from the start up to ``t`` (J); held constant outside the steps (callers stay inside)."""
        return np.interp(t, self.edges, self.energy)

    def mean(self, starts: np.ndarray, widths: np.ndarray | float) -> np.ndarray:
        """Mean power over ``[starts, starts + widths)`` (W)."""
        return (self.energy_at(starts + widths) - self.energy_at(starts)) / widths

    def grid(self, t0: float, step: float, n: int) -> np.ndarray:
        """Mean power over the ``n`` bins ``[t0 + k step, t0 + (k + 1) step)`` (W)."""
        return np.diff(self.energy_at(t0 + step * np.arange(n + 1))) / step


@dataclass(frozen=True)
class Alignment:
    """How the measurement's clock relates to the simulation's: measured time = simulated time + ``offset_s``."""

    offset_s: float
    """The offset (s)."""
    found: bool
    """True when estimated by cross-correlation, False when given."""
    correlation: float | None = None
    """Pearson correlation of measured and simulated power at the offset, on the search's finest grid."""
    step_s: float | None = None
    """The finest grid step of the search (s): the offset is resolved to about a tenth of it."""
    runner_up_s: float | None = None
    """The best offset outside the peak around ``offset_s`` (s), to judge how clear the choice was."""
    runner_up_correlation: float | None = None
    """Its correlation, frame by frame (energy over a sliding frame period)."""
    frame_correlation: float | None = None
    """The correlation at ``offset_s`` frame by frame, the runner-up's measure."""

    @property
    def ambiguous(self) -> bool:
        """Whether another offset, a frame period or more away, fits nearly as well frame by frame: its unexplained
        variance (1 - r^2) within 25 % of the best's. (A workload whose frames all cost the same looks alike at
        every whole number of periods.)"""
        if not (self.found and self.runner_up_correlation is not None and self.frame_correlation is not None):
            return False
        best, other = 1.0 - self.frame_correlation ** 2, 1.0 - self.runner_up_correlation ** 2
        return other < 1.25 * best


def _prefix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, np.cumsum(values)], np.r_[0.0, np.cumsum(values * values)]


def _pearson(sxy, sx, sy, sxx, syy, n) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        var = (sxx - sx * sx / n) * (syy - sy * sy / n)
        return np.where(var > 0, cov / np.sqrt(np.maximum(var, 1e-300)), np.nan)


def correlation_by_lag(x: np.ndarray, y: np.ndarray, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of ``x[k]`` with ``y[k + lag]`` over their overlap, for every lag whose overlap has at
    least ``min_count`` points: (lags, r). The products come from one FFT; the means and spreads of each overlap
    from running sums, so a lag with a short overlap is judged on its own points, not on zero padding."""
    from scipy import fft

    m, s = len(x), len(y)
    size = fft.next_fast_len(m + s - 1, real=True)
    products = fft.irfft(fft.rfft(y, size) * np.conj(fft.rfft(x, size)), size)
    lags = np.arange(-(m - 1), s)
    k0 = np.maximum(0, -lags)
    k1 = np.minimum(m, s - lags)
    count = k1 - k0
    keep = count >= max(min_count, 2)
    lags, k0, k1, count = lags[keep], k0[keep], k1[keep], count[keep]
    cx, cxx = _prefix(x)
    cy, cyy = _prefix(y)
    sxy = products[lags % size]
    r = _pearson(sxy, cx[k1] - cx[k0], cy[k1 + lags] - cy[k0 + lags], cxx[k1] - cxx[k0],
                 cyy[k1 + lags] - cyy[k0 + lags], count)
    return lags, r


def estimate_offset(measured: PowerSteps, simulated: PowerSteps, resolution: float, period: float, *,
                    points: int = COARSE_POINTS) -> Alignment:
    """The offset (measured time = simulated time + offset) at which measured and simulated power correlate best.

    First frame by frame: both signals as their energy over a sliding frame period (``period``), on a grid of an
    eighth of it, correlated at every offset at which at least half of the shorter overlaps the other (one FFT).
    Averaged over a period, every frame's burst of work is gone and what is left is which frames cost more: the
    per-frame variation of a dynamic network (its paths), which tells one frame from the next and survives the
    clocks slipping by a fraction of a frame. Then within half a period of that, at a 50th of a period and at
    ``resolution`` (the measurement's sampling period), on the power itself, with a parabola through the peak.
    Correlation is insensitive to a gain or a constant difference between the two, which is what the comparison
    measures afterwards. The runner-up is the best offset a frame period or more away. ``points``: the most points
    of the frame-level grid (it is coarsened for very long signals).
    """
    span_m, span_s = measured.end - measured.start, simulated.end - simulated.start
    coarse = max(resolution, period / 8, (span_m + span_s) / points)
    m, s = int(span_m / coarse), int(span_s / coarse)
    width = max(1, int(round(period / coarse)))
    if min(m, s) < 4 * width:
        raise DslsimError(f"the measurement ({span_m:.3g} s) or the simulation ({span_s:.3g} s) is too short to "
                          f"align (a few frame periods of {1e3 * period:.3g} ms at least); give the offset (--offset).")
    kernel = np.ones(width)
    # x[k] and y[k] are the energies of the period starting at the grid's k-th point: the pairing of indices is
    # that of the unsmoothed grids.
    x = np.convolve(measured.grid(measured.start, coarse, m), kernel, "valid")
    y = np.convolve(simulated.grid(simulated.start, coarse, s), kernel, "valid")
    lags, r = correlation_by_lag(x, y, int(MIN_OVERLAP * min(len(x), len(y))))
    if not np.isfinite(r).any():
        raise DslsimError("cannot align the measurement to the simulation: one of them does not vary from frame to "
                          "frame; give the offset (--offset).")
    r = np.where(np.isfinite(r), r, -np.inf)
    best = int(np.argmax(r))

    def offset_of(lag: int) -> float:
        # x[k] (measured time start + k coarse) pairs y[k + lag] (simulated time start + (k + lag) coarse).
        return float(measured.start - simulated.start - lag * coarse)

    far = np.abs(lags - lags[best]) * coarse >= period - coarse / 2
    runner = int(np.argmax(np.where(far, r, -np.inf))) if far.any() else None
    runner_up = (offset_of(lags[runner]), float(r[runner])) if runner is not None and np.isfinite(r[runner]) \
        else (None, None)
    offset, step = offset_of(lags[best]), coarse
    middle = max(resolution, period / 50)
    offset, correlation, step = _refine(measured, simulated, offset, period / 2, middle)
    if resolution < middle:
        offset, correlation, step = _refine(measured, simulated, offset, 2 * middle, resolution)
    return Alignment(offset_s=offset, found=True, correlation=correlation, step_s=step,
                     runner_up_s=runner_up[0], runner_up_correlation=runner_up[1],
                     frame_correlation=float(r[best]))


def _refine(measured: PowerSteps, simulated: PowerSteps, offset: float, reach_s: float, step: float,
            bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """The offset within ``reach_s`` of ``offset`` at which the correlation on a grid of ``step`` peaks, with a
    parabola through the peak, over the measured span ``bounds`` (default: all of the overlap); (offset,
    correlation, step)."""
    reach = int(math.ceil(reach_s / step)) + 1
    margin = (reach + 1) * step
    lo, hi = bounds if bounds is not None else (measured.start, measured.end)
    t0 = max(lo, measured.start, simulated.start + offset + margin)
    t1 = min(hi, measured.end, simulated.end + offset - margin)
    n = int((t1 - t0) / step)
    if n < 8:
        return offset, float("nan"), step
    if n > FINE_POINTS:  # the middle of a very long recording settles a fraction of a sample just as well
        t0 += (n - FINE_POINTS) // 2 * step
        n = FINE_POINTS
    x = measured.grid(t0, step, n)
    # y[j] starts at simulated time t0 - offset - reach step + j step; lag l pairs x[k] with y[k + l], that is
    # offset + (reach - l) step.
    y = simulated.grid(t0 - offset - reach * step, step, n + 2 * reach)
    sx, sxx = x.sum(), (x * x).sum()
    cy, cyy = _prefix(y)
    lags = np.arange(2 * reach + 1)
    sxy = np.array([np.dot(x, y[lag:lag + n]) for lag in lags])
    r = _pearson(sxy, sx, cy[lags + n] - cy[lags], sxx, cyy[lags + n] - cyy[lags], n)
    r = np.where(np.isfinite(r), r, -np.inf)
    best = int(np.argmax(r))
    frac = 0.0
    if 0 < best < len(r) - 1 and np.isfinite(r[best - 1]) and np.isfinite(r[best + 1]):
        curve = r[best - 1] - 2 * r[best] + r[best + 1]
        frac = float(np.clip(0.5 * (r[best - 1] - r[best + 1]) / curve, -0.5, 0.5)) if curve < 0 else 0.0
    return float(offset + (reach - best - frac) * step), float(r[best]), step


def part(steps: PowerSteps, t0: float, t1: float) -> PowerSteps:
    """The steps that start inside ``[t0, t1)``."""
    i0, i1 = np.searchsorted(steps.edges[:-1], [t0, t1])
    return PowerSteps(steps.edges[i0:i1 + 1], steps.power[i0:i1])


#: Parts of the measurement whose offsets, found apart, give the clock rate difference; each must hold this many
#: frame periods for its offset to be told from one a period away.
DRIFT_PARTS = 3
DRIFT_MIN_FRAMES = 100


def estimate_clock_ppm(measured: PowerSteps, simulated: PowerSteps, period: float) -> float | None:
    """How much faster the measurement's clock runs than the device's (ppm), from the offsets found apart (coarse
    searches over every offset) on :data:`DRIFT_PARTS` equal parts of the recording and a line through them. None
    when the recording is too short for parts of :data:`DRIFT_MIN_FRAMES` frame periods, or when the parts' offsets
    do not lie on a line (one of them matched the wrong frame): a constant offset is then the best there is.

    Clock drift slips the two signals apart along the recording; past the width of a burst of work it washes out
    the correlation of the whole, so it is taken out before the offset is searched for.
    """
    length = measured.end - measured.start
    size = length / DRIFT_PARTS
    if size < DRIFT_MIN_FRAMES * period:
        return None
    centres, offsets, steps = [], [], []
    for k in range(DRIFT_PARTS):
        t0 = measured.start + k * size
        piece = part(measured, t0, t0 + size)
        if len(piece.power) < 16:
            return None
        found = estimate_offset(piece, simulated, float(np.median(np.diff(piece.edges))), period,
                                points=COARSE_POINTS // 2)
        centres.append(t0 + size / 2)
        offsets.append(found.offset_s)
        steps.append(found.step_s or 0.0)
    slope, intercept = np.polyfit(centres, offsets, 1)
    residual = np.abs(np.asarray(offsets) - (slope * np.asarray(centres) + intercept))
    if residual.max() > max(3 * max(steps), period / 10):
        return None
    return float(1e6 * slope)


@dataclass(frozen=True)
class Drift:
    """How the offset changes across a recording: the two clocks (the bench tool's, the device's) run at slightly
    different rates, so a constant offset lines up the middle and lets the ends slip."""

    start_offset_s: float
    """The offset that fits the first third of the compared span best (s)."""
    end_offset_s: float
    """The offset that fits the last third best (s)."""
    ppm: float
    """The change of offset per second of recording, in parts per million: the measured clock runs this much
    faster than the device's (negative: slower)."""

    @property
    def slip_s(self) -> float:
        """How far the offset moves between the two thirds' centres (s)."""
        return self.end_offset_s - self.start_offset_s


def local_offset(measured: PowerSteps, simulated: PowerSteps, offset: float, bounds: tuple[float, float],
                 reach_s: float, resolution: float) -> float:
    """The offset that fits the measured span ``bounds`` best, searched within ``reach_s`` of ``offset``: first on
    a grid of a 25th of the reach, then at ``resolution`` around that."""
    middle = max(resolution, reach_s / 25)
    found, _, _ = _refine(measured, simulated, offset, reach_s, middle, bounds)
    if middle > resolution:
        found, _, _ = _refine(measured, simulated, found, 2 * middle, resolution, bounds)
    return found


def clock_drift(measured: PowerSteps, simulated: PowerSteps, offset: float, span: tuple[float, float],
                period: float, resolution: float) -> Drift | None:
    """The offset fitted to the first and to the last third of ``span`` separately (each within half a frame
    period of ``offset``) and the clock rate difference that makes them differ; None for a span shorter than 30
    frame periods."""
    length = span[1] - span[0]
    if length < 30 * period:
        return None
    third = length / 3
    start = local_offset(measured, simulated, offset, (span[0], span[0] + third), period / 2, resolution)
    end = local_offset(measured, simulated, offset, (span[1] - third, span[1]), period / 2, resolution)
    return Drift(start_offset_s=start, end_offset_s=end, ppm=1e6 * (end - start) / (length - third))
