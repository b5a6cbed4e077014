"""The kinetic battery model (KiBaM; Manwell & McGowan, Solar Energy 1993), exact for piecewise-constant current.

The charge sits in two wells: an *available* one (a fraction ``c`` of the capacity) that the load draws from, and a
*bound* one that refills it through a valve with rate constant ``k`` (1/s). The cell is empty when the available
well is, which comes sooner at high current (rate-capacity effect) and later after rest (recovery). With
k' = k / (c (1 - c)) and y0 = y1 + y2 at the start of a step, a constant current I for t seconds gives

    y1(t) = y1 e^(-k't) + (y0 k' c - I)(1 - e^(-k't)) / k' - I c (k't - 1 + e^(-k't)) / k'
    y2(t) = y2 e^(-k't) + y0 (1 - c)(1 - e^(-k't)) - I (1 - c)(k't - 1 + e^(-k't)) / k'

(charges in ampere-seconds), the solution of dy1/dt = -I + k (h2 - h1), dy2/dt = -k (h2 - h1) with h1 = y1 / c,
h2 = y2 / (1 - c). The tests check it against a numerical integration of those equations.

>>> cell = KiBaM(capacity_ah=1.0, c=0.6, k=1e-4)
>>> round(cell.lifetime_constant(0.1) / 3600, 2)            # 100 mA from a 1 Ah cell: an ideal one lasts 10 h
9.56
>>> round(cell.lifetime_constant(1.0) / 3600, 2)             # 1 C: the bound well cannot keep up
0.71
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _phi(x: float) -> float:
    """(e^-x - 1 + x) / x^2 for x >= 0, accurate to a few ulp: a Taylor series below 1e-2 (terms to x^5, the next
    below 1e-15 of the sum), the closed form with expm1 above."""
    if x < 1e-2:
        return 0.5 - x / 6.0 + x * x / 24.0 - x ** 3 / 120.0 + x ** 4 / 720.0 - x ** 5 / 5040.0
    return (math.expm1(-x) + x) / (x * x)


@dataclass(frozen=True)
class KiBaM:
    """A cell of ``capacity_ah`` with available fraction ``c`` (0 < c < 1) and valve rate ``k`` (1/s)."""

    capacity_ah: float
    c: float
    k: float

    @property
    def k_prime(self) -> float:
        """k / (c (1 - c)): the rate at which the two wells' heights equalise."""
        return self.k / (self.c * (1.0 - self.c))

    def full(self) -> tuple[float, float]:
        """(available, bound) charge of a full cell, in ampere-seconds, both wells at the same height."""
        q = self.capacity_ah * 3600.0
        return self.c * q, (1.0 - self.c) * q

    def step(self, y1: float, y2: float, current: float, t: float) -> tuple[float, float]:
        """The wells after ``t`` seconds at a constant ``current`` (A), from (``y1``, ``y2``) A·s.

        Written with x = k't so that no term cancels: (1 - e^-x) / k' = t (1 - e^-x) / x and the ramp
        (k't - 1 + e^-x) / k' = t x phi(x), phi(x) = (e^-x - 1 + x) / x^2 (a series for small x). The textbook form
        loses every digit once k't is below ~1e-16 (a rate constant of 1e-20 /s left the available well full for
        ever, an infinite battery life); this one tends to the right limit, y1 - I t, as k goes to 0.
        """
        kp, c = self.k_prime, self.c
        y0 = y1 + y2
        x = kp * t
        e = math.exp(-x)
        one_minus_e = -math.expm1(-x)
        drain = t * one_minus_e / x if x > 0 else t          # (1 - e^-x) / k'
        ramp = t * x * _phi(x)                               # (k't - 1 + e^-x) / k'
        return (y1 * e + y0 * c * one_minus_e - current * drain - current * c * ramp,
                y2 * e + y0 * (1.0 - c) * one_minus_e - current * (1.0 - c) * ramp)

    def time_to_empty(self, y1: float, y2: float, current: float, t_max: float) -> float | None:
        """When the available well first reaches zero within ``t_max`` seconds at ``current``, or None.

        Under a constant current I > 0 the available well is a + b t + g e^(-k't) with b = -I c < 0: falling
        throughout when g >= 0, rising then falling when g < 0 (concave). Either way, from a positive start it
        crosses zero at most once, so it is empty within ``t_max`` exactly when it is at ``t_max``, and the
        crossing is found by bisection on the closed form (to 1e-12 of the span).
        """
        if y1 <= 0.0:
            return 0.0
        if current <= 0.0 or self.step(y1, y2, current, t_max)[0] > 0.0:
            return None
        lo, hi = 0.0, t_max
        while hi - lo > 1e-12 * t_max:
            mid = 0.5 * (lo + hi)
            if self.step(y1, y2, current, mid)[0] <= 0.0:
                hi = mid
            else:
                lo = mid
        return hi

    def lifetime(self, segments: list[tuple[float, float]], max_periods: int = 10_000_000) -> float:
        """Seconds until empty under ``segments`` ((duration s, current A), ...) repeated from a full cell;
        ``inf`` if the cell outlives ``max_periods`` repetitions (a load that draws nothing, say)."""
        if not segments or all(i <= 0 for _, i in segments):
            return math.inf
        y1, y2 = self.full()
        elapsed = 0.0
        for _ in range(max_periods):
            for duration, current in segments:
                hit = self.time_to_empty(y1, y2, current, duration)
                if hit is not None:
                    return elapsed + hit
                y1, y2 = self.step(y1, y2, current, duration)
                elapsed += duration
        return math.inf

    def lifetime_constant(self, current: float) -> float:
        """Seconds until empty at a constant ``current`` (A) from a full cell."""
        if current <= 0:
            return math.inf
        bound = 2.0 * self.capacity_ah * 3600.0 / current   # an ideal cell would be empty at half this
        hit = self.time_to_empty(*self.full(), current, bound)
        return math.inf if hit is None else hit
