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
import sys
from array import array
from dataclasses import dataclass
from typing import Callable

import numpy as np
import simpy

from dslsim.sim.plan import Plan

ACTIVE, IDLE, WAKE, SLEEP0 = 0, 1, 2, 3  # residency buckets; sleep state k is SLEEP0 + k
_CHUNK = 1 << 16
_INF = math.inf
#: How far (simulated seconds) a resource that receives no hand-overs may run ahead of the clock.
RUN_AHEAD = 0.5


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
    unattributed_energy: list[float]
    t_end: float
    timeline: list[list[tuple[int, float, float, float]]] | None = None
    window: tuple[float, float] | None = None


class Account:
    """One resource's lazy power-state machine and its accumulators (shared by both engines).

    Idle gaps are accounted by the deepest sleep state they reach: ``reach[k]`` counts gaps that reached
    state k and ``tail[k]`` sums the time spent in it; time in the shallower states of such a gap is fixed
    by the timeouts, so residencies follow from counts at the end, exactly, with no per-gap lists.
    """

    def __init__(self, resource, bit: int, window: tuple[float, float] | None = None):
        self.bit = bit
        self.drop = resource.drop_when_busy
        self.active_power = resource.active_power
        self.timeouts = [p.timeout for p in resource.sleep]
        self.first_timeout = self.timeouts[0] if resource.sleep else _INF
        states = [p.state for p in resource.sleep]
        self.entry_energy = [s.entry_energy for s in states]
        # Wake-up from state k: entry into every state down to k, then exit from k.
        self.cycle_energy = [sum(self.entry_energy[: k + 1]) + s.exit_energy for k, s in enumerate(states)]
        self.entry_end = [p.timeout + p.state.entry_latency for p in resource.sleep]
        self.exit_latency = [s.exit_latency for s in states]
        self.reach = [0] * len(states)
        self.tail = [0.0] * len(states)
        self.active_time = self.idle_time = self.wake_time = 0.0
        self.dynamic = self.transitions = self.unattributed = 0.0
        self.wakes = 0
        self.free_at = 0.0
        self.window = window
        self.timeline: list[tuple[int, float, float, float]] = []

    def deepest(self, g: float) -> int:
        """Index of the deepest sleep state an idle gap of ``g`` seconds reaches (-1: stays idle)."""
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
            rows.append((IDLE, t, t + g, 0.0))
        elif k >= 0:
            bounds = [t] + [t + timeout for timeout in self.timeouts[: k + 1]] + [t + g]
            rows.append((IDLE, bounds[0], bounds[1], 0.0))
            rows.extend((SLEEP0 + j, bounds[j + 1], bounds[j + 2], 0.0) for j in range(k + 1))
            # The wake-up's lumped energy (entries down to state k, exit from it) spread over its interval, so a
            # power trace shows the wake-up as what it costs rather than a drop to 0 W.
            rows.append((WAKE, t + g, start, self.cycle_energy[k] / (start - t - g) if start > t + g else 0.0))
        if end is not None:
            rows.append((ACTIVE, start, end, dynamic_power))

    def close(self, t_end: float) -> None:
        """Account the final idle stretch up to ``t_end`` (no wake-up: nothing arrives)."""
        g = t_end - self.free_at
        if g <= 0:
            return
        k = self.deepest(g)
        if self.window is not None and self.free_at <= self.window[1]:
            self._record(g, k, t_end, None, 0.0)
            if k >= 0:
                self.timeline.pop()  # no wake-up follows the last gap
        if k < 0:
            self.idle_time += g
            return
        self.reach[k] += 1
        self.tail[k] += g - self.timeouts[k]
        entries = sum(self.entry_energy[: k + 1])
        self.transitions += entries
        self.unattributed += entries  # no frame follows to be charged for it

    @property
    def residency(self) -> list[float]:
        """Seconds in active, idle, wake and each sleep state (call after :meth:`close`)."""
        n = len(self.reach)
        t = self.timeouts
        sleeping = sum(self.reach)
        states = [self.active_time, self.idle_time + (t[0] * sleeping if n else 0.0), self.wake_time]
        for j in range(n):
            deeper = sum(self.reach[j + 1:])
            states.append(self.tail[j] + (deeper * (t[j + 1] - t[j]) if j + 1 < n else 0.0))
        return states


class _Server(Account):
    """One FIFO resource (core or link) of the reference engine: a SimPy process."""

    def __init__(self, sim: "_Simulation", r: int, ext_frames: np.ndarray | None):
        super().__init__(sim.plan.resources[r], 1 << r, sim.window)
        self.sim = sim
        self.heap: list[tuple[float, int, int, int]] = []
        self.commit_key: tuple[float, int] | None = None
        self.signal: simpy.Event | None = None
        self.proc: simpy.Process | None = None
        self.feeders: list[_Server] = []
        self.finished = False
        # External arrivals (frames whose first hop is here; None = every frame), read in chunks of plain
        # Python values so the hot loop never touches numpy scalars and memory stays bounded.
        self._ext_frames = ext_frames
        self._ext_count = len(sim.ready) if ext_frames is None else len(ext_frames)
        self._ext_pos = 0
        self._chunk: tuple[list, list, list] = ([], [], [])
        self._chunk_i = 0
        self.ext_t, self.ext_f, self.ext_c = _INF, -1, 0
        self._advance_ext()

    def _advance_ext(self) -> None:
        if self._chunk_i >= len(self._chunk[0]):
            lo = self._ext_pos
            if lo >= self._ext_count:
                self.ext_t, self.ext_f = _INF, -1
                return
            hi = min(lo + _CHUNK, self._ext_count)
            if self._ext_frames is None:
                idx = slice(lo, hi)
                frames = list(range(lo, hi))
            else:
                idx = self._ext_frames[lo:hi]
                frames = idx.tolist()
            self._chunk = (self.sim.ready[idx].tolist(), frames, self.sim.codes[idx].tolist())
            self._chunk_i = 0
            self._ext_pos = hi
        i = self._chunk_i
        self.ext_t, self.ext_f, self.ext_c = self._chunk[0][i], self._chunk[1][i], self._chunk[2][i]
        self._chunk_i = i + 1

    def push(self, t: float, f: int, h: int, code: int) -> None:
        """Hand a job over from another resource; it is ready at ``t`` (>= now)."""
        heapq.heappush(self.heap, (t, f, h, code))
        if self.signal is not None:
            if not self.signal.triggered:
                self.signal.succeed()
        elif self.commit_key is not None and (t, f) < self.commit_key:
            self.commit_key = None
            self.proc.interrupt()

    def _plan(self, t: float, h: int, code: int) -> tuple[float, float, float, int]:
        """(start, end, idle gap, deepest state) of a job arriving at ``t``; nothing is accounted yet."""
        g = t - self.free_at
        if g <= 0:
            start, k = self.free_at, -2
        elif g <= self.first_timeout:
            start, k = t, -1
        else:
            k = self.deepest(g)
            # Waking waits for an unfinished entry, then takes the state's exit latency.
            start = max(t, self.free_at + self.entry_end[k]) + self.exit_latency[k]
        return start, start + self.sim.hops[code][h][1], g, k

    def _serve(self, f: int, h: int, code: int, plan: tuple[float, float, float, int]) -> None:
        """Account a finished job (its idle gap, wake-up, service) and pass the frame on."""
        sim = self.sim
        start, end, g, k = plan
        hops = sim.hops[code]
        _, service, delay, energy = hops[h]
        self.dynamic += energy
        energy += self.active_power * service  # the frame pays for the static power of the time it ran
        if k == -1:
            self.idle_time += g
        elif k >= 0:
            self.reach[k] += 1
            self.tail[k] += g - self.timeouts[k]
            self.wake_time += start - self.free_at - g
            self.wakes += 1
            self.transitions += self.cycle_energy[k]
            energy += self.cycle_energy[k]
            sim.wakeups[f] += 1
        self.active_time += service
        if self.window is not None and end >= self.window[0] and self.free_at <= self.window[1]:
            self._record(g, k, start, end, hops[h][3] / service if service > 0 else 0.0)
        if h == 0:
            sim.start[f] = start
            sim.energy[f] = energy
            sim.used[f] = self.bit
        else:
            sim.energy[f] += energy
            sim.used[f] |= self.bit
        self.free_at = end
        if h + 1 < len(hops):
            sim.servers[hops[h + 1][0]].push(end + delay, f, h + 1, code)
        else:
            sim.end[f] = end

    def run(self):
        """The server's SimPy process: event-driven, for resources that receive hand-overs."""
        env = self.sim.env
        heap = self.heap
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
                self.sim.dropped[f] = True
                continue
            plan = self._plan(t, h, code)
            if plan[1] > env.now:
                self.commit_key = (t, f)
                try:
                    yield env.timeout(plan[1] - env.now)
                except simpy.Interrupt:
                    continue  # an earlier job was handed over: plan again
                self.commit_key = None
            self._consume(from_heap)
            self._serve(f, h, code, plan)

    def frontier(self) -> float:
        """A lower bound on the ready time of every hand-over this server will still make.

        Any future job starts no earlier than now-free and no earlier than its own arrival, which is at
        least the next known arrival or the earliest hand-over the feeders can still make.
        """
        if self.finished:
            return _INF
        pending = min(self.ext_t, self.heap[0][0] if self.heap else _INF, self.feeders_frontier())
        return max(self.free_at, pending)

    def feeders_frontier(self) -> float:
        """The earliest ready time any feeder may still hand over to this server."""
        return min((f.frontier() for f in self.feeders), default=_INF)

    def run_ahead(self, horizon: float):
        """The SimPy process of a resource whose inputs are all known ahead (conservative lookahead).

        A resource with no feeders knows every arrival in advance; one whose feeders all run ahead knows
        every hand-over earlier than their frontier. It serves those jobs in a tight loop, up to ``horizon``
        seconds ahead of the clock, with one event per batch; hand-overs it makes are future-dated, which
        receiving servers handle like any other.
        """
        env = self.sim.env
        heap = self.heap
        dropped = self.sim.dropped
        while True:
            limit = env.now + horizon
            safe = self.feeders_frontier()
            while True:
                from_heap = bool(heap) and (heap[0][0], heap[0][1]) < (self.ext_t, self.ext_f)
                if from_heap:
                    t, f, h, code = heap[0]
                else:
                    t, f, h, code = self.ext_t, self.ext_f, 0, self.ext_c
                if t > limit or t >= safe:  # beyond the batch, or a feeder may still hand over earlier
                    break
                self._consume(from_heap)
                if t < self.free_at and self.drop:
                    dropped[f] = True
                    continue
                self._serve(f, h, code, self._plan(t, h, code))
            if self.ext_t == _INF and not heap and all(f.finished for f in self.feeders):
                self.finished = True
                return
            yield env.timeout(horizon)

    def _consume(self, from_heap: bool) -> None:
        if from_heap:
            heapq.heappop(self.heap)
        else:
            self._advance_ext()


def run_ahead_set(plan: Plan) -> set[int]:
    """Resources that can run ahead: not on a cycle of hand-overs, and fed only by resources that can."""
    feeders = {r: set() for r in range(len(plan.resources))}
    for hops in plan.hops:
        for a, b in zip(hops, hops[1:]):
            feeders[b.resource].add(a.resource)
    ahead: set[int] = set()
    grew = True
    while grew:
        grew = False
        for r, fed_by in feeders.items():
            if r not in ahead and fed_by <= ahead:
                ahead.add(r)
                grew = True
    return ahead


class _Simulation:
    def __init__(self, plan: Plan, ready: np.ndarray, codes: np.ndarray, horizon: float, lookahead: bool,
                 window: tuple[float, float] | None = None):
        n = len(ready)
        self.plan = plan
        self.window = window
        self.ready = ready
        self.codes = codes
        self.env = simpy.Environment()
        self.hops = [[(h.resource, h.service, h.delay, h.energy) for h in hops] for hops in plan.hops]
        # Per-frame results in compact typed arrays: item access is several times cheaper than numpy's.
        self.start = array("d", bytes(8 * n))
        self.end = array("d", bytes(8 * n))
        self.energy = array("d", bytes(8 * n))
        self.wakeups = array("h", bytes(2 * n))
        self.used = array("q", bytes(8 * n))
        self.dropped = array("b", bytes(n))
        first_of_path = [hops[0].resource for hops in plan.hops]
        self.servers = []
        for r in range(len(plan.resources)):
            starts_here = [c for c, first in enumerate(first_of_path) if first == r]
            if len(starts_here) == len(first_of_path):
                ext = None  # every frame starts here: no index array needed
            else:
                ext = np.flatnonzero(np.isin(codes, starts_here)) if starts_here else np.empty(0, np.int64)
            self.servers.append(_Server(self, r, ext))
        for hops in plan.hops:
            for a, b in zip(hops, hops[1:]):
                if self.servers[a.resource] not in self.servers[b.resource].feeders:
                    self.servers[b.resource].feeders.append(self.servers[a.resource])
        ahead = run_ahead_set(plan) if lookahead else set()
        for r, server in enumerate(self.servers):
            server.proc = self.env.process(server.run_ahead(horizon) if r in ahead else server.run())


#: The engines :func:`run_engine` offers: 'auto' picks the compiled batch engine for runs of at least
#: :data:`BATCH_MIN_JOBS` jobs (frames times the hops of their paths), or once it is loaded, and this module's
#: SimPy replay ('reference') for shorter ones, where loading the compiled code (about half a second, about
#: 3 us per job in the reference) would cost more than it saves.
ENGINES = ("auto", "batch", "reference")
BATCH_MIN_JOBS = 150_000


def run_engine(plan: Plan, ready: np.ndarray, codes: np.ndarray,
               progress: Callable[[float], None] | None = None, horizon: float | None = None,
               lookahead: bool = True, window: tuple[float, float] | None = None,
               engine: str = "auto") -> EngineOutput:
    """Replay frames (ready times in seconds, path codes into ``plan.hops``) and return raw results.

    ``horizon`` is the end of the simulated window (at least the last completion); ``progress`` is called
    with the simulated time as it advances. ``engine='batch'`` (:mod:`dslsim.sim.batch`) computes the same
    numbers as the SimPy ``'reference'`` engine, bit for bit, much faster once compiled; ``'auto'`` picks by
    the run's size (:data:`ENGINES`); the reference runs whenever a ``window`` is asked for.
    ``lookahead=False`` makes every resource of the reference purely event-driven (slower; the same numbers,
    which the tests check). With ``window=(t0, t1)`` every state interval that
    overlaps the window is recorded per resource as (state, start, end, dynamic power).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}; expected one of {ENGINES}")
    if engine == "auto":
        jobs = int(np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(plan.hops))
                   @ np.array([len(h) for h in plan.hops])) if len(codes) else 0
        engine = "batch" if jobs >= BATCH_MIN_JOBS or "dslsim.sim.kernel" in sys.modules else "reference"
    if engine == "batch" and window is None and lookahead:
        from dslsim.sim.batch import run_batch  # numba loads only when the batch engine runs

        return run_batch(plan, ready, codes, progress, horizon)
    ready = np.ascontiguousarray(ready, dtype=np.float64)
    codes = np.ascontiguousarray(codes, dtype=np.int16)
    sim = _Simulation(plan, ready, codes, RUN_AHEAD, lookahead, window)
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
    dropped = np.frombuffer(sim.dropped, dtype=np.int8).view(bool)
    start = np.frombuffer(sim.start, dtype=np.float64)   # views on the arrays: no copies
    end = np.frombuffer(sim.end, dtype=np.float64)
    if dropped.any():
        start[dropped & (np.frombuffer(sim.used, dtype=np.int64) == 0)] = np.nan
        end[dropped] = np.nan
    t_end = max(horizon or 0.0, max(s.free_at for s in sim.servers))
    for server in sim.servers:
        server.close(t_end)
    return EngineOutput(
        start=start, end=end, energy=np.frombuffer(sim.energy, dtype=np.float64),
        wakeups=np.frombuffer(sim.wakeups, dtype=np.int16), used=np.frombuffer(sim.used, dtype=np.int64),
        dropped=dropped, residency=[s.residency for s in sim.servers],
        dynamic_energy=[s.dynamic for s in sim.servers], transition_energy=[s.transitions for s in sim.servers],
        wake_count=[s.wakes for s in sim.servers],
        unattributed_energy=[s.unattributed for s in sim.servers], t_end=t_end,
        timeline=[s.timeline for s in sim.servers] if window is not None else None, window=window)
