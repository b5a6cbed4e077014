"""A cost that adds: seconds, dynamic joules, MACs and bytes, and the profile key paths of the numbers behind them.

>>> a = Cost(seconds=1e-3, joules=2e-6, macs=100.0, sources=("cores.dsp.ops.conv1d",))
>>> b = Cost(seconds=2e-3, bytes=64.0, sources=("cores.dsp.ops.default", "cores.dsp.ops.conv1d"))
>>> total = a + b
>>> round(total.seconds * 1e3, 6), total.macs, total.bytes, total.sources
(3.0, 100.0, 64.0, ('cores.dsp.ops.conv1d', 'cores.dsp.ops.default'))
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    """What some work costs on one core at one clock; costs of consecutive work add."""

    seconds: float = 0.0
    """Time the work keeps the core running."""
    joules: float = 0.0
    """Dynamic energy at the rail, on top of the core's running power for :attr:`seconds`."""
    macs: float = 0.0
    """Multiply-accumulates done."""
    bytes: float = 0.0
    """Bytes moved to and from memory."""
    sources: tuple[str, ...] = ()
    """Profile key paths of the numbers used (``cores.dsp.ops.conv1d``), each once, in first-use order."""

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, self.joules + other.joules, self.macs + other.macs,
                    self.bytes + other.bytes, tuple(dict.fromkeys(self.sources + other.sources)))
