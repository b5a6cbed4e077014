"""One job's arithmetic on one resource, written once for both engines.

These are plain Python functions: the SimPy reference engine (:mod:`dslsim.sim.engine.reference`) calls them as
they are, and the batch kernel (:mod:`dslsim.sim.engine.kernel`) compiles the very same functions with numba.
Both evaluate the same IEEE double operations in the same order (no fast-math), so the two engines agree bit for
bit. Each engine adds the figures they return to its own accumulators (Python attributes and lists in the
reference, arrays indexed by resource in the kernel), in the same order.
"""

from __future__ import annotations

import math

#: Columns of a resource's running totals (an :class:`~dslsim.sim.engine.account.Account`'s ``totals`` list,
#: a row of the batch kernel's state array): when it is next free (s), seconds idle outside sleep gaps, seconds
#: waking, seconds active, dynamic energy (J), transition energy (J).
FREE_AT, IDLE_TIME, WAKE_TIME, ACTIVE_TIME, DYNAMIC_J, TRANSITION_J = range(6)
N_TOTALS = 6


def plan_job(t: float, free_at: float, first_timeout: float) -> tuple[float, float, int]:
    """When a job ready at ``t`` starts on a resource free at ``free_at``: (start, idle gap, k).

    k is -2 when the resource is still busy (no gap; start = ``free_at``), -1 when the gap stays idle (start =
    ``t``; a gap exactly as long as the first sleep timeout does not reach that state), and 0 when the gap reaches
    a sleep state: then start is unknown until the engine has found the deepest state k the gap reaches (the
    last whose timeout it exceeds) and :func:`wake_start` gives it. Nothing is accounted. (Scalars only here: the
    compiled kernel pays reference counting for every array passed, which doubled its time per job.)
    """
    g = t - free_at
    if g <= 0:
        return free_at, g, -2
    if g <= first_timeout:
        return t, g, -1
    return math.nan, g, 0


def wake_start(t: float, free_at: float, entry_end: float, exit_latency: float) -> float:
    """When a job ready at ``t`` starts if the gap since ``free_at`` reached a sleep state whose entry completes
    ``entry_end`` after the gap's start: waking waits for an unfinished entry, then takes ``exit_latency``."""
    return max(t, free_at + entry_end) + exit_latency


def job_energy(op_energy: float, active_power: float, service: float) -> float:
    """A frame's charge for one job, before any wake-up: the ops' energy and the static power of the time it ran."""
    return op_energy + active_power * service


def wake_split(start: float, free_at: float, g: float, timeout: float) -> tuple[float, float]:
    """For a gap ``g`` that reached a sleep state entered after ``timeout``: (time waking, time in that state)."""
    return start - free_at - g, g - timeout
