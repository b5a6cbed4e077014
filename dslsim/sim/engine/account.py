"""What both engines produce: a resource's power-state account and the raw engine output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dslsim.sim.engine.job import (ACTIVE_TIME, DYNAMIC_J, FREE_AT, IDLE_TIME, N_TOTALS, TRANSITION_J, WAKE_TIME,
                                   plan_job)
from dslsim.sim.engine.states import State

if TYPE_CHECKING:  # the engine reads a plan's records; it never builds one
    from dslsim.sim.plan import Resource

#: One state interval of a timeline: (:class:`State` index, start s, end s, dynamic power W while active).
Interval = tuple[int, float, float, float]


@dataclass
class EngineOutput:
    """Raw engine results: per-frame arrays (indexed by frame) and per-resource totals (indexed by resource), SI."""

    start: np.ndarray
    """When each frame's first hop started (s); NaN for a frame dropped before it ran anywhere."""
    end: np.ndarray
    """When each frame's last hop ended (s); NaN for a dropped frame."""
    energy: np.ndarray
    """Each frame's energy (J): active power while it ran, dynamic energy, the wake-ups and transfers it caused."""
    wakeups: np.ndarray
    """Wake-ups each frame caused (int16)."""
    used: np.ndarray
    """Resources each frame ran on, as a bit mask (bit r: resource r; int64)."""
    dropped: np.ndarray
    """Whether each frame was dropped at a busy resource (bool)."""
    residency: list[list[float]]
    """Per resource, seconds in each power state, indexed by :class:`State` (sleep state k at ``SLEEP0 + k``)."""
    dynamic_energy: list[float]
    """Per resource, the ops' dynamic energy (J)."""
    transition_energy: list[float]
    """Per resource, sleep entry and exit energy (J), including entries after the last frame."""
    wake_count: list[int]
    """Per resource, how many wake-ups it made."""
    unattributed_energy: list[float]
    """Per resource, the sleep entry energy of the gap that ends the run (J): no frame follows to pay it."""
    t_end: float
    """End of the simulated window (s): the later of the horizon asked for and the last completion."""
    timeline: list[list[Interval]] | None = None
    """Per resource, when a window was asked for, every state interval overlapping it (:data:`Interval`)."""
    window: tuple[float, float] | None = None
    """The (start, end) window the timeline covers (s), if one was asked for."""


class Account:
    """One resource's lazy power-state machine and its accumulators (shared by both engines).

    Idle gaps are accounted by the deepest sleep state they reach: ``reach[k]`` counts gaps that reached
    state k and ``tail[k]`` sums the time spent in it; time in the shallower states of such a gap is fixed
    by the timeouts, so residencies follow from counts at the end, exactly, with no per-gap lists.
    """

    def __init__(self, resource: Resource, bit: int, window: tuple[float, float] | None = None):
        states = [p.state for p in resource.sleep]
        self.bit: int = bit
        """This resource's bit in a frame's ``used`` mask."""
        self.drop: bool = resource.drop_when_busy
        """Whether a job that finds the resource busy is dropped (else it queues)."""
        self.active_power: float = resource.active_power
        """Power drawn while a job runs (W); the frame is charged for it."""
        self.n_states: int = len(states)
        """How many sleep states the scenario lets the resource enter."""
        self.timeouts: list[float] = [p.timeout for p in resource.sleep]
        """Idle time after which each sleep state is entered (s), shallowest first."""
        self.first_timeout: float = self.timeouts[0] if states else math.inf
        """The shallowest state's timeout (s); infinite when the resource never sleeps."""
        self.entry_energy: list[float] = [s.entry_energy for s in states]
        """Energy of entering each sleep state (J)."""
        # Wake-up from state k: entry into every state down to k, then exit from k.
        self.cycle_energy: list[float] = [sum(self.entry_energy[: k + 1]) + s.exit_energy for k, s in enumerate(states)]
        """Energy of a gap that reaches state k and wakes from it (J): the entries down to k, then the exit."""
        self.entry_end: list[float] = [p.timeout + p.state.entry_latency for p in resource.sleep]
        """When, from a gap's start, the entry into each state is complete (s)."""
        self.exit_latency: list[float] = [s.exit_latency for s in states]
        """Time to leave each sleep state (s)."""
        self.reach: list[int] = [0] * len(states)
        """Per sleep state, how many idle gaps reached it as their deepest state."""
        self.tail: list[float] = [0.0] * len(states)
        """Per sleep state, seconds spent in it by the gaps that reached it as their deepest state."""
        self.totals: list[float] = [0.0] * N_TOTALS
        """Running totals, columns as :data:`dslsim.sim.engine.job.FREE_AT` ... (the batch kernel's row layout)."""
        self.wakes: int = 0
        """Wake-ups made."""
        self.unattributed: float = 0.0
        """Entry energy of the sleep states entered after the last job (J)."""
        self.window: tuple[float, float] | None = window
        """The (start, end) window whose state intervals are recorded, if any."""
        self.timeline: list[Interval] = []
        """The recorded state intervals (:data:`Interval`), in time order."""

    @property
    def free_at(self) -> float:
        """When the resource is next free (s)."""
        return self.totals[FREE_AT]

    @property
    def dynamic(self) -> float:
        """Dynamic energy of the jobs served (J)."""
        return self.totals[DYNAMIC_J]

    @property
    def transitions(self) -> float:
        """Sleep entry and exit energy (J)."""
        return self.totals[TRANSITION_J]

    def deepest(self, g: float) -> int:
        """The deepest sleep state a gap of ``g`` seconds reaches: the last whose timeout it exceeds (-1: none)."""
        k = -1
        for timeout in self.timeouts:
            if g <= timeout:
                break
            k += 1
        return k

    def _record(self, g: float, k: int, start: float, end: float | None, dynamic_power: float) -> None:
        """Append the state intervals of one idle gap (if any), its wake-up and a job to the timeline."""
        rows, t = self.timeline, self.free_at
        if k == -1:
            rows.append((State.IDLE, t, t + g, 0.0))
        elif k >= 0:
            bounds = [t] + [t + timeout for timeout in self.timeouts[: k + 1]] + [t + g]
            rows.append((State.IDLE, bounds[0], bounds[1], 0.0))
            rows.extend((State.SLEEP0 + j, bounds[j + 1], bounds[j + 2], 0.0) for j in range(k + 1))
            # The wake-up's lumped energy (entries down to state k, exit from it) spread over its interval, so a
            # power trace shows the wake-up as what it costs rather than a drop to 0 W.
            rows.append((State.WAKE, t + g, start, self.cycle_energy[k] / (start - t - g) if start > t + g else 0.0))
        if end is not None:
            rows.append((State.ACTIVE, start, end, dynamic_power))

    def close(self, t_end: float) -> None:
        """Account the final idle stretch up to ``t_end`` (no wake-up: nothing arrives)."""
        _, g, k = plan_job(t_end, self.free_at, self.first_timeout)
        if g <= 0:
            return
        if k == 0:
            k = self.deepest(g)
        if self.window is not None and self.free_at <= self.window[1]:
            self._record(g, k, t_end, None, 0.0)
            if k >= 0:
                self.timeline.pop()  # no wake-up follows the last gap
        if k < 0:
            self.totals[IDLE_TIME] += g
            return
        self.reach[k] += 1
        self.tail[k] += g - self.timeouts[k]
        entries = sum(self.entry_energy[: k + 1])
        self.totals[TRANSITION_J] += entries
        self.unattributed += entries  # no frame follows to be charged for it

    @property
    def residency(self) -> list[float]:
        """Seconds in each power state, indexed by :class:`State` (call after :meth:`close`)."""
        n = len(self.reach)
        t = self.timeouts
        sleeping = sum(self.reach)
        states = [0.0] * (State.SLEEP0 + n)
        states[State.ACTIVE] = self.totals[ACTIVE_TIME]
        states[State.IDLE] = self.totals[IDLE_TIME] + (t[0] * sleeping if n else 0.0)
        states[State.WAKE] = self.totals[WAKE_TIME]
        for j in range(n):
            deeper = sum(self.reach[j + 1:])
            states[State.SLEEP0 + j] = self.tail[j] + (deeper * (t[j + 1] - t[j]) if j + 1 < n else 0.0)
        return states


__all__ = ["Account", "EngineOutput", "Interval"]
