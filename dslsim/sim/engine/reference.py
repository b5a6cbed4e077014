"""The reference engine: SimPy discrete-event replay of a trace on a :class:`~dslsim.sim.plan.Plan`.

Each core and each link is a FIFO server (one SimPy process); one that serves paths of different priorities
(:attr:`~dslsim.sim.plan.Plan.priorities`) takes the waiting job of the highest priority whenever it frees. A frame
is ready at its arrival time plus one frame duration, then walks its path's hops in order; a hop that finds its
resource busy waits (or is dropped under the ``drop`` policy). Energy is never sampled: a core's timeline is cut
into intervals of constant power (active, idle, sleep states, wake-up) and each interval's length is added to its
state's residency; dynamic op energy and lumped transition energy are added per hop, by
:mod:`dslsim.sim.engine.job`.

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
from array import array
from typing import TYPE_CHECKING, Callable

import numpy as np
import simpy

from dslsim.sim.engine.account import Account, EngineOutput
from dslsim.sim.engine.job import (ACTIVE_TIME, DYNAMIC_J, FREE_AT, IDLE_TIME, TRANSITION_J, WAKE_TIME,
                                   job_energy, plan_job, wake_split, wake_start)

if TYPE_CHECKING:  # the engine reads a plan; it never builds one
    from dslsim.sim.plan import Plan

_CHUNK = 1 << 16
_INF = math.inf
#: How far (simulated seconds) a resource that receives no hand-overs may run ahead of the clock.
RUN_AHEAD = 0.5


class _Server(Account):
    """One FIFO resource (core or link) of the reference engine: a SimPy process."""

    def __init__(self, sim: "_Simulation", r: int, ext_frames: np.ndarray | None):
        super().__init__(sim.plan.resources[r], 1 << r, sim.window)
        self.sim: _Simulation = sim
        """The run this server belongs to."""
        self.heap: list[tuple[float, int, int, int]] = []
        """Jobs handed over by other resources, as (ready time, frame, hop, path code), a min-heap."""
        self.commit_key: tuple[float, int] | None = None
        """(ready time, frame) of the job the server has committed to with a timeout, if any."""
        self.signal: simpy.Event | None = None
        """The event the server waits on when it has nothing to do; a hand-over triggers it."""
        self.proc: simpy.Process | None = None
        """The server's SimPy process."""
        self.feeders: list[_Server] = []
        """The servers that hand jobs over to this one."""
        self.finished: bool = False
        """Whether a run-ahead server has served every job it will ever get."""
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
        """Move to the next external arrival (``ext_t`` is infinite when there are none left)."""
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
        free_at = self.totals[FREE_AT]
        start, g, k = plan_job(t, free_at, self.first_timeout)
        if k == 0:
            k = self.deepest(g)
            start = wake_start(t, free_at, self.entry_end[k], self.exit_latency[k])
        return start, start + self.sim.hops[code][h][1], g, k

    def _serve(self, f: int, h: int, code: int, plan: tuple[float, float, float, int]) -> None:
        """Account a finished job (its idle gap, wake-up, service) and pass the frame on."""
        sim = self.sim
        totals = self.totals
        start, end, g, k = plan
        hops = sim.hops[code]
        _, service, delay, op_energy = hops[h]
        totals[DYNAMIC_J] += op_energy
        energy = job_energy(op_energy, self.active_power, service)
        if k == -1:
            totals[IDLE_TIME] += g
        elif k >= 0:
            waking, in_state = wake_split(start, totals[FREE_AT], g, self.timeouts[k])
            self.reach[k] += 1
            self.tail[k] += in_state
            totals[WAKE_TIME] += waking
            self.wakes += 1
            totals[TRANSITION_J] += self.cycle_energy[k]
            energy += self.cycle_energy[k]
            sim.wakeups[f] += 1
        totals[ACTIVE_TIME] += service
        if self.window is not None and end >= self.window[0] and totals[FREE_AT] <= self.window[1]:
            self._record(g, k, start, end, op_energy / service if service > 0 else 0.0)
        totals[FREE_AT] = end
        if h == 0:
            sim.start[f] = start
            sim.energy[f] = energy
            sim.used[f] = self.bit
        else:
            sim.energy[f] += energy
            sim.used[f] |= self.bit
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
            if t < self.totals[FREE_AT] and self.drop:
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
        return max(self.totals[FREE_AT], pending)

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
                if t < self.totals[FREE_AT] and self.drop:
                    dropped[f] = True
                    continue
                self._serve(f, h, code, self._plan(t, h, code))
            if self.ext_t == _INF and not heap and all(f.finished for f in self.feeders):
                self.finished = True
                return
            yield env.timeout(horizon)

    def _consume(self, from_heap: bool) -> None:
        """Drop the job just taken: from the hand-over heap or the external arrivals."""
        if from_heap:
            heapq.heappop(self.heap)
        else:
            self._advance_ext()


class _PriorityServer(_Server):
    """A resource whose jobs come from paths of different priorities (:attr:`Plan.priorities`).

    Whenever it is free and has work, at the decision time D = max(free at, earliest ready job), it serves the job
    of the highest priority among those ready by D (non-preemptive: a job that becomes ready later waits for the one
    running, or waking the resource, to end); ties by ready time, then frame, then hop. With one priority this is
    first come, first served, the :class:`_Server` order. External arrivals ready by D join the hand-over heap, which
    holds every job known and not served, in (ready time, frame, hop) order.
    """

    def __init__(self, sim: "_Simulation", r: int, ext_frames: np.ndarray | None):
        super().__init__(sim, r, ext_frames)
        levels = sim.plan.priorities or (0,) * len(sim.plan.hops)
        self.rank: list[int] = [-p for p in levels]
        """Per path code, the sort key of its priority (lower first)."""
        self.commit_at: float = _INF
        """The decision time of the job the server has committed to (s)."""
        self.commit_rank: tuple[int, float, int, int] | None = None
        """(rank, ready time, frame, hop) of the committed job, if any."""

    def _pick(self) -> tuple[float, tuple[float, int, int, int], tuple[int, float, int, int]] | None:
        """(decision time, the job it serves (ready time, frame, hop, path code), that job's sort key), or None
        when no job is known. Nothing is consumed, so a later, earlier-ready hand-over can still change the pick."""
        heap = self.heap
        t_min = min(heap[0][0] if heap else _INF, self.ext_t)
        if t_min == _INF:
            return None
        d = max(self.totals[FREE_AT], t_min)
        while self.ext_t <= d:
            heapq.heappush(heap, (self.ext_t, self.ext_f, 0, self.ext_c))
            self._advance_ext()
        rank = self.rank
        best, best_key = None, None
        for job in heap:
            if job[0] <= d:
                key = (rank[job[3]], job[0], job[1], job[2])
                if best_key is None or key < best_key:
                    best, best_key = job, key
        return d, best, best_key

    def _take(self, job: tuple[float, int, int, int]) -> None:
        """Remove ``job`` from the heap."""
        heap = self.heap
        i = heap.index(job)
        last = heap.pop()
        if i < len(heap):
            heap[i] = last
            heapq.heapify(heap)

    def push(self, t: float, f: int, h: int, code: int) -> None:
        """Hand a job over; interrupt a commitment that this job would change (it is ready by the decision time and
        ranks first, or it moves the decision time earlier)."""
        heapq.heappush(self.heap, (t, f, h, code))
        if self.signal is not None:
            if not self.signal.triggered:
                self.signal.succeed()
        elif self.commit_rank is not None and t <= self.commit_at and (
                (self.rank[code], t, f, h) < self.commit_rank
                or (t < self.commit_at and self.commit_at > self.totals[FREE_AT])):
            self.commit_rank = None
            self.proc.interrupt()

    def run(self):
        """The server's SimPy process: event-driven, committing to its pick until the job ends."""
        env = self.sim.env
        while True:
            pick = self._pick()
            if pick is None:
                self.signal = env.event()
                yield self.signal
                self.signal = None
                continue
            d, job, key = pick
            t, f, h, code = job
            if t < self.totals[FREE_AT] and self.drop:  # it can only find the resource busy, whatever comes
                self._take(job)
                self.sim.dropped[f] = True
                continue
            plan = self._plan(t, h, code)
            if plan[1] > env.now:
                self.commit_at, self.commit_rank = d, key
                try:
                    yield env.timeout(plan[1] - env.now)
                except simpy.Interrupt:
                    continue  # a hand-over changes the pick: plan again
                self.commit_rank = None
            self._take(job)
            self._serve(f, h, code, plan)

    def run_ahead(self, horizon: float):
        """The run-ahead process (see :meth:`_Server.run_ahead`): a decision is made only when every job ready by
        its decision time is known (before the feeders' frontier) and within ``horizon`` of the clock."""
        env = self.sim.env
        dropped = self.sim.dropped
        while True:
            limit = env.now + horizon
            safe = self.feeders_frontier()
            while True:
                pick = self._pick()
                if pick is None:
                    break
                d, job, _ = pick
                if d > limit or d >= safe:
                    break
                t, f, h, code = job
                self._take(job)
                if t < self.totals[FREE_AT] and self.drop:
                    dropped[f] = True
                    continue
                self._serve(f, h, code, self._plan(t, h, code))
            if self.ext_t == _INF and not self.heap and all(f.finished for f in self.feeders):
                self.finished = True
                return
            yield env.timeout(horizon)


#: Serve every resource by the priority rule, even one whose jobs all have the same priority (where it gives the
#: first-come-first-served order): a cross-check the tests run.
PRIORITY_EVERYWHERE = False


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
    """One reference run: the SimPy environment, a server per resource and the per-frame result arrays."""

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
        by_priority = plan.priority_resources()
        self.servers: list[_Server] = []
        for r in range(len(plan.resources)):
            starts_here = [c for c, first in enumerate(first_of_path) if first == r]
            if len(starts_here) == len(first_of_path):
                ext = None  # every frame starts here: no index array needed
            else:
                ext = np.flatnonzero(np.isin(codes, starts_here)) if starts_here else np.empty(0, np.int64)
            server = _PriorityServer if PRIORITY_EVERYWHERE or r in by_priority else _Server
            self.servers.append(server(self, r, ext))
        for hops in plan.hops:
            for a, b in zip(hops, hops[1:]):
                if self.servers[a.resource] not in self.servers[b.resource].feeders:
                    self.servers[b.resource].feeders.append(self.servers[a.resource])
        ahead = run_ahead_set(plan) if lookahead else set()
        for r, server in enumerate(self.servers):
            server.proc = self.env.process(server.run_ahead(horizon) if r in ahead else server.run())




def run_reference(plan: Plan, ready: np.ndarray, codes: np.ndarray, progress: Callable[[float], None] | None = None,
                  horizon: float | None = None, lookahead: bool = True,
                  window: tuple[float, float] | None = None) -> EngineOutput:
    """Replay frames on SimPy (arguments as :func:`dslsim.sim.engine.run_engine`)."""
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
