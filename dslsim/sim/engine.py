"""SimPy discrete-event replay of a trace on a :class:`~dslsim.sim.plan.Plan`.

Each core and each link is a FIFO server (one SimPy process). A frame is ready at its arrival time plus one
frame duration, then walks its path's hops in order; a hop that finds its resource busy waits (or is dropped
under the ``drop`` policy). Energy is never sampled: a core's timeline is cut into intervals of constant power
(active, idle, sleep states, wake-up) and each interval's length is added to its state's residency; dynamic
op energy and lumped transition energy are added per hop.

Speed comes from three choices that keep the event count near one per frame and hop:

* idle-to-sleep transitions are not events: when the next job arrives, the idle gap since the last job is
  split over idle and sleep states in closed form from the timeouts;
* a server commits to its next job with one timeout that covers wake-up and service; a job handed over by
  another resource that should go first (earlier arrival) interrupts that commitment, and the server plans
  again, so FIFO order is exact;
* per-frame results go straight into preallocated arrays; no per-frame object outlives its frame.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import simpy

from dslsim.sim.plan import Plan

ACTIVE, IDLE, WAKE = 0, 1, 2
_CHUNK = 1 << 16
_INF = math.inf


@dataclass
class EngineOutput:
    """Raw engine results: per-frame arrays and per-resource accumulators (SI units)."""

    start: np.ndarray
    end: np.ndarray
    energy: np.ndarray
    wakeups: np.ndarray
    used: np.ndarray
    dropped: np.ndarray
    residency: list[list[float]]
    dynamic_energy: list[float]
    transition_energy: list[float]
    wake_count: list[int]
    sleep_entries: list[list[int]]
    unattributed_energy: list[float]
    t_end: float


class _Server:
    """One FIFO resource (core or link) with its lazy power-state machine."""

    def __init__(self, sim: "_Simulation", r: int, ext_frames: np.ndarray, ext_ready: np.ndarray,
                 ext_codes: np.ndarray):
        resource = sim.plan.resources[r]
        self.sim = sim
        self.r = r
        self.bit = 1 << r
        self.drop = resource.drop_when_busy
        self.timeouts = [s.timeout for s in resource.sleep]
        self.entry_energy = [s.entry_energy for s in resource.sleep]
        self.exit_energy = [s.exit_energy for s in resource.sleep]
        self.entry_latency = [s.entry_latency for s in resource.sleep]
        self.exit_latency = [s.exit_latency for s in resource.sleep]
        self.residency = [0.0] * (3 + len(resource.sleep))
        self.entries = [0] * len(resource.sleep)
        self.dynamic = 0.0
        self.transitions = 0.0
        self.unattributed = 0.0
        self.wakes = 0
        self.heap: list[tuple[float, int, int, int]] = []
        self.free_at = 0.0
        self.commit_key: tuple[float, int] | None = None
        self.signal: simpy.Event | None = None
        self.proc: simpy.Process | None = None
        # External arrivals (frames whose first hop is here), read in chunks to keep memory bounded.
        self._ext_frames = ext_frames
        self._ext_ready = ext_ready
        self._ext_codes = ext_codes
        self._ext_pos = 0
        self._chunk_f: list[int] = []
        self._chunk_t: list[float] = []
        self._chunk_c: list[int] = []
        self._chunk_i = 0
        self.ext_t = _INF
        self.ext_f = -1
        self.ext_c = 0
        self._advance_ext()

    def _advance_ext(self) -> None:
        if self._chunk_i >= len(self._chunk_t):
            lo = self._ext_pos
            if lo >= len(self._ext_ready):
                self.ext_t, self.ext_f = _INF, -1
                return
            hi = min(lo + _CHUNK, len(self._ext_ready))
            self._chunk_t = self._ext_ready[lo:hi].tolist()
            self._chunk_f = self._ext_frames[lo:hi].tolist()
            self._chunk_c = self._ext_codes[lo:hi].tolist()
            self._chunk_i = 0
            self._ext_pos = hi
        self.ext_t = self._chunk_t[self._chunk_i]
        self.ext_f = self._chunk_f[self._chunk_i]
        self.ext_c = self._chunk_c[self._chunk_i]
        self._chunk_i += 1

    def push(self, t: float, f: int, h: int, code: int) -> None:
        """Hand a job over from another resource; it is ready at ``t`` (>= now)."""
        heapq.heappush(self.heap, (t, f, h, code))
        if self.signal is not None:
            if not self.signal.triggered:
                self.signal.succeed()
        elif self.commit_key is not None and (t, f) < self.commit_key:
            self.commit_key = None
            self.proc.interrupt()

    def gap(self, g: float) -> tuple[float, float, int, list[tuple[int, float]]]:
        """Split an idle gap of ``g`` seconds: (wake delay, transition energy, deepest state, residencies)."""
        timeouts = self.timeouts
        reached = -1
        for k, timeout in enumerate(timeouts):
            if g > timeout:
                reached = k
            else:
                break
        if reached < 0:
            return 0.0, 0.0, -1, [(IDLE, g)]
        parts = [(IDLE, timeouts[0])]
        for k in range(reached):
            parts.append((3 + k, timeouts[k + 1] - timeouts[k]))
        parts.append((3 + reached, g - timeouts[reached]))
        energy = sum(self.entry_energy[: reached + 1]) + self.exit_energy[reached]
        unfinished_entry = max(0.0, timeouts[reached] + self.entry_latency[reached] - g)
        return self.exit_latency[reached] + unfinished_entry, energy, reached, parts

    def close(self, t_end: float) -> None:
        """Account the final idle stretch up to ``t_end`` (no wake-up: nothing arrives)."""
        g = t_end - self.free_at
        if g <= 0:
            return
        _, _, reached, parts = self.gap(g)
        for state, dt in parts:
            self.residency[state] += dt
        for k in range(reached + 1):
            self.entries[k] += 1
            self.transitions += self.entry_energy[k]
            self.unattributed += self.entry_energy[k]  # no frame follows to be charged for it

    def run(self):
        """The server's SimPy process."""
        sim = self.sim
        env = sim.env
        heap = self.heap
        hops = sim.hops
        out_start, out_end, out_energy = sim.start, sim.end, sim.energy
        while True:
            from_heap = bool(heap) and (heap[0][0], heap[0][1]) < (self.ext_t, self.ext_f)
            if from_heap:
                t, f, h, code = heap[0]
            elif self.ext_t < _INF:
                t, f, h, code = self.ext_t, self.ext_f, 0, self.ext_c
            else:
                self.signal = env.event()
                yield self.signal
                self.signal = None
                continue
            if t < self.free_at and self.drop:
                self._consume(from_heap)
                sim.dropped[f] = True
                continue
            wake = trans = 0.0
            reached, parts = -1, ()
            if t > self.free_at:
                wake, trans, reached, parts = self.gap(t - self.free_at)
                start = t + wake
            else:
                start = self.free_at
            resource, service, delay, energy = hops[code][h]
            end = start + service
            if end > env.now:
                self.commit_key = (t, f)
                try:
                    yield env.timeout(end - env.now)
                except simpy.Interrupt:
                    continue
                self.commit_key = None
            self._consume(from_heap)
            # The job is done: account the gap before it, its wake-up and its service.
            res = self.residency
            for state, dt in parts:
                res[state] += dt
            if reached >= 0:
                res[WAKE] += wake
                self.wakes += 1
                self.transitions += trans
                for k in range(reached + 1):
                    self.entries[k] += 1
                sim.wakeups[f] += 1
            res[ACTIVE] += service
            self.dynamic += energy
            out_energy[f] += energy + trans
            sim.used[f] |= self.bit
            if h == 0:
                out_start[f] = start
            self.free_at = end
            if h + 1 < len(hops[code]):
                sim.servers[hops[code][h + 1][0]].push(end + delay, f, h + 1, code)
            else:
                out_end[f] = end

    def _consume(self, from_heap: bool) -> None:
        if from_heap:
            heapq.heappop(self.heap)
        else:
            self._advance_ext()


class _Simulation:
    def __init__(self, plan: Plan, ready: np.ndarray, codes: np.ndarray):
        n = len(ready)
        self.plan = plan
        self.env = simpy.Environment()
        self.hops = [[(h.resource, h.service, h.delay, h.energy) for h in hops] for hops in plan.hops]
        self.start = np.full(n, np.nan)
        self.end = np.full(n, np.nan)
        self.energy = np.zeros(n)
        self.wakeups = np.zeros(n, dtype=np.int16)
        self.used = np.zeros(n, dtype=np.int64)
        self.dropped = np.zeros(n, dtype=bool)
        first = np.array([hops[0].resource for hops in plan.hops], dtype=np.int64)[codes]
        frames = np.arange(n, dtype=np.int64)
        self.servers = []
        for r in range(len(plan.resources)):
            mine = first == r
            self.servers.append(_Server(self, r, frames[mine], ready[mine], codes[mine]))
        for server in self.servers:
            server.proc = self.env.process(server.run())


def run_engine(plan: Plan, ready: np.ndarray, codes: np.ndarray,
               progress: Callable[[float], None] | None = None, horizon: float | None = None) -> EngineOutput:
    """Replay frames (ready times in seconds, path codes into ``plan.hops``) and return raw results.

    ``horizon`` is the end of the simulated window (at least the last completion); ``progress`` is called
    with the simulated time about 200 times over the run.
    """
    ready = np.ascontiguousarray(ready, dtype=np.float64)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    sim = _Simulation(plan, ready, codes)
    env = sim.env
    span = float(ready[-1]) if len(ready) else 0.0
    if progress is not None and span > 0:
        def ticker():
            step = span / 200.0
            while env.now < span:
                yield env.timeout(step)
                progress(env.now)
        env.process(ticker())
    env.run()
    last = float(np.nanmax(sim.end)) if np.isfinite(sim.end).any() else 0.0
    t_end = max(horizon or 0.0, last, max(s.free_at for s in sim.servers))
    for server in sim.servers:
        server.close(t_end)
    return EngineOutput(
        start=sim.start, end=sim.end, energy=sim.energy, wakeups=sim.wakeups, used=sim.used,
        dropped=sim.dropped, residency=[s.residency for s in sim.servers],
        dynamic_energy=[s.dynamic for s in sim.servers], transition_energy=[s.transitions for s in sim.servers],
        wake_count=[s.wakes for s in sim.servers], sleep_entries=[s.entries for s in sim.servers],
        unattributed_energy=[s.unattributed for s in sim.servers], t_end=t_end)
