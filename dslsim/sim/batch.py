"""The batch engine: the reference engine's schedule, computed a resource and a stretch of time at a time.

Every resource is a FIFO server that takes its jobs in (ready time, frame) order, so once all jobs ready before
some time ``W`` are known, its schedule up to them is fixed. Resources are visited upstream first, in windows
of simulated time of about :data:`WINDOW_FRAMES` arrivals: in a window a resource serves every job ready
before the window's end with one call of the compiled loop (:func:`dslsim.sim.kernel.serve_batch`), and hands
the frames on as arrays to the next resource of their path. Jobs ready later wait for the next window. The
arithmetic is the reference engine's (:mod:`dslsim.sim.engine`), so the results are the same bit for bit, which
the tests check on random scenarios.

Plans with a hand-over cycle (a frame returning to a resource it left) go round the cycle: the resources on
it are served together, repeatedly, until their schedules stop changing (see :func:`_serve_cycle`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dslsim.sim.engine import Account, EngineOutput
from dslsim.sim.kernel import DYNAMIC, FREE_AT, IDLE, N_FLOAT_STATE, TRANSITIONS, WAKE, pass_on, serve_batch
from dslsim.sim.kernel import ACTIVE as ACTIVE_TIME
from dslsim.sim.plan import Plan

#: Frame arrivals per window: bounds the arrays alive at once (a few MB) while keeping calls few.
WINDOW_FRAMES = 1 << 16


class _Jobs:
    """Jobs waiting at one resource: parallel arrays of ready time, frame, hop and path code."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, t: np.ndarray, f: np.ndarray, h: np.ndarray, code: np.ndarray) -> None:
        if len(t):
            self.parts.append((t, f, h, code))

    def take_before(self, limit: float) -> tuple[np.ndarray, ...] | None:
        """Remove and return the jobs ready before ``limit``, sorted by (ready time, frame)."""
        if not self.parts:
            return None
        t, f, h, code = (np.concatenate(c) for c in zip(*self.parts)) if len(self.parts) > 1 else self.parts[0]
        now = t < limit
        if now.all():
            self.parts = []
        else:
            later = ~now
            self.parts = [(t[later], f[later], h[later], code[later])]
            if not now.any():
                return None
            t, f, h, code = t[now], f[now], h[now], code[now]
        order = np.lexsort((f, t))
        return t[order], f[order], h[order], code[order]


class _Resource(Account):
    """A resource of the batch engine: the shared accounting plus the kernel's state vectors."""

    def __init__(self, plan: Plan, r: int):
        super().__init__(plan.resources[r], 1 << r)
        self.state = np.zeros(N_FLOAT_STATE)
        self.reach_arr = np.zeros(len(self.timeouts), np.int64)
        self.tail_arr = np.zeros(len(self.timeouts))
        self.params = (bool(self.drop), float(self.active_power), np.array(self.timeouts, np.float64),
                       np.array(self.entry_end, np.float64), np.array(self.exit_latency, np.float64),
                       np.array(self.cycle_energy, np.float64))
        self.jobs = _Jobs()
        self.downstream: set[int] = set()

    def serve(self, t: np.ndarray, service: np.ndarray, op_energy: np.ndarray):
        """Serve a sorted batch; returns (start, end, energy charged, woke, dropped) per job."""
        n = len(t)
        start, end, energy = np.empty(n), np.empty(n), np.empty(n)
        woke, dropped = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
        self.wakes += serve_batch(t, service, op_energy, *self.params, self.state, self.reach_arr, self.tail_arr,
                                  start, end, energy, woke, dropped)
        return start, end, energy, woke, dropped

    def sync(self) -> None:
        """Copy the kernel's state into the shared accumulators (before :meth:`close`)."""
        s = self.state
        self.free_at = float(s[FREE_AT])
        self.idle_time, self.wake_time, self.active_time = float(s[IDLE]), float(s[WAKE]), float(s[ACTIVE_TIME])
        self.dynamic, self.transitions = float(s[DYNAMIC]), float(s[TRANSITIONS])
        self.reach = [int(v) for v in self.reach_arr]
        self.tail = [float(v) for v in self.tail_arr]


class _Tables:
    """The plan's hops as arrays indexed [path code, hop]."""

    def __init__(self, plan: Plan):
        width = max(len(h) for h in plan.hops)
        shape = (len(plan.hops), width + 1)
        self.resource = np.full(shape, -1, np.int64)
        self.service, self.delay, self.energy = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.length = np.array([len(h) for h in plan.hops], np.int64)
        for c, hops in enumerate(plan.hops):
            for i, hop in enumerate(hops):
                self.resource[c, i] = hop.resource
                self.service[c, i], self.delay[c, i], self.energy[c, i] = hop.service, hop.delay, hop.energy


def _order(plan: Plan) -> list[list[int]]:
    """Resources grouped upstream first: each group is one resource, or every resource of a hand-over cycle."""
    n = len(plan.resources)
    edges = {r: set() for r in range(n)}
    for hops in plan.hops:
        for a, b in zip(hops, hops[1:]):
            edges[a.resource].add(b.resource)
    # Strongly connected components (Tarjan), which come out downstream first.
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on: set[int] = set()
    groups: list[list[int]] = []

    def visit(v: int) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            groups.append(sorted(group))

    for v in range(n):
        if v not in index:
            visit(v)
    return groups[::-1]


def has_cycle(plan: Plan) -> bool:
    """Whether some frame can return to a resource it left (or use one twice in a row)."""
    loops = any(a.resource == b.resource for hops in plan.hops for a, b in zip(hops, hops[1:]))
    return loops or any(len(g) > 1 for g in _order(plan))


def run_batch(plan: Plan, ready: np.ndarray, codes: np.ndarray, progress: Callable[[float], None] | None = None,
              horizon: float | None = None) -> EngineOutput:
    """Replay frames like :func:`dslsim.sim.engine.run_engine` (same arguments, same results bit for bit)."""
    ready = np.ascontiguousarray(ready, dtype=np.float64)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    n = len(ready)
    tables = _Tables(plan)
    resources = [_Resource(plan, r) for r in range(len(plan.resources))]
    groups = _order(plan)
    for hops in plan.hops:
        for a, b in zip(hops, hops[1:]):
            resources[a.resource].downstream.add(b.resource)
    start, end, energy = np.zeros(n), np.zeros(n), np.zeros(n)
    wakeups, used, dropped = np.zeros(n, np.int16), np.zeros(n, np.int64), np.zeros(n, np.bool_)
    first = tables.resource[codes, 0]
    starts = sorted({hops[0].resource for hops in plan.hops})

    def serve(res: _Resource, batch: tuple[np.ndarray, ...]) -> None:
        t, f, h, code = batch
        s, e, en, woke, drop = res.serve(t, tables.service[code, h], tables.energy[code, h])
        next_t, next_r = np.empty(len(t)), np.empty(len(t), np.int64)
        pass_on(f, h, code, s, e, en, woke, drop, res.bit, tables.length, tables.delay, tables.resource,
                start, end, energy, wakeups, used, dropped, next_t, next_r)
        for r2 in res.downstream:
            sel = next_r == r2
            resources[r2].jobs.add(next_t[sel], f[sel], h[sel] + 1, code[sel])

    for lo in range(0, max(n, 1), WINDOW_FRAMES):
        hi = min(lo + WINDOW_FRAMES, n)
        limit = float(ready[hi]) if hi < n else np.inf
        frames = np.arange(lo, hi, dtype=np.int64)
        for r2 in starts:
            sel = frames[first[lo:hi] == r2] if len(starts) > 1 else frames
            resources[r2].jobs.add(ready[sel], sel, np.zeros(len(sel), np.int64), codes[sel])
        for group in groups:
            if len(group) > 1:
                raise NotImplementedError("hand-over cycles")
            res = resources[group[0]]
            batch = res.jobs.take_before(limit)
            if batch is not None:
                serve(res, batch)
        if progress is not None and n:
            progress(float(ready[hi - 1]))
    if dropped.any():
        start[dropped & (used == 0)] = np.nan
        end[dropped] = np.nan
    for res in resources:
        res.sync()
    t_end = max(horizon or 0.0, max(r.free_at for r in resources))
    for res in resources:
        res.close(t_end)
    return EngineOutput(
        start=start, end=end, energy=energy, wakeups=wakeups, used=used, dropped=dropped,
        residency=[r.residency for r in resources], dynamic_energy=[r.dynamic for r in resources],
        transition_energy=[r.transitions for r in resources], wake_count=[r.wakes for r in resources],
        unattributed_energy=[r.unattributed for r in resources], t_end=t_end, timeline=None, window=None)
