"""The batch engine: the reference engine's schedule, computed a group of resources and a stretch of time at
a time.

Every resource is a FIFO server that takes its jobs in (ready time, frame, hop) order, so once every job ready
before some time ``W`` is known, its schedule up to them is fixed. Resources are grouped: a resource on its own,
or all the resources of a hand-over cycle (a frame returning to a resource it left) together. Groups are visited
upstream first, in windows of simulated time of about :data:`WINDOW_FRAMES` arrivals: in a window a group serves
every job ready before the window's end with one call of the compiled loop
(:func:`dslsim.sim.engine.kernel.serve_group`, which also follows the hand-overs inside the group) and hands the
frames on as arrays to the groups downstream. Jobs ready later wait for the next window. The arithmetic is the
one of :mod:`dslsim.sim.engine.job`, as in the reference engine, so the results are the same bit for bit, which
the tests check on random scenarios.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from dslsim.sim.engine.account import Account, EngineOutput
from dslsim.sim.engine.job import N_TOTALS
from dslsim.sim.engine.kernel import serve_group

if TYPE_CHECKING:  # the engine reads a plan; it never builds one
    from dslsim.sim.plan import Plan

#: Frame arrivals per window: bounds the arrays alive at once (a few MB) while keeping calls few.
WINDOW_FRAMES = 1 << 16


class _Jobs:
    """Jobs waiting at a group of resources: parallel arrays of ready time, frame, hop and path code."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, t: np.ndarray, f: np.ndarray, h: np.ndarray, code: np.ndarray) -> None:
        """Queue jobs (an empty set is ignored)."""
        if len(t):
            self.parts.append((t, f, h, code))

    def take_before(self, limit: float) -> tuple[np.ndarray, ...] | None:
        """Remove and return the jobs ready before ``limit``, sorted by (ready time, frame, hop)."""
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
        if _in_order(t, f, h):  # the common case: one upstream resource, whose completions come in order
            return t, f, h, code
        order = np.lexsort((h, f, t))
        return t[order], f[order], h[order], code[order]


def _in_order(t: np.ndarray, f: np.ndarray, h: np.ndarray) -> bool:
    """Whether the jobs are already sorted by (t, f, h)."""
    dt = t[1:] - t[:-1]
    if (dt > 0).all():
        return True
    if (dt < 0).any():
        return False
    tie = dt == 0
    df = f[1:][tie] - f[:-1][tie]
    return bool((df > 0).all() or ((df >= 0).all() and (h[1:][tie][df == 0] > h[:-1][tie][df == 0]).all()))


class _State:
    """Every resource's parameters and carried state as arrays indexed by resource (sleep rows padded)."""

    def __init__(self, plan: Plan):
        self.accounts = [Account(res, 1 << r) for r, res in enumerate(plan.resources)]
        n = len(self.accounts)
        width = max([len(a.timeouts) for a in self.accounts] + [1])
        self.bits = np.array([a.bit for a in self.accounts], np.int64)
        self.drop = np.array([bool(a.drop) for a in self.accounts], np.bool_)
        self.active_power = np.array([a.active_power for a in self.accounts], np.float64)
        self.n_states = np.array([len(a.timeouts) for a in self.accounts], np.int64)
        self.first_timeout = np.array([a.first_timeout for a in self.accounts], np.float64)
        self.timeouts, self.entry_end = np.zeros((n, width)), np.zeros((n, width))
        self.exit_latency, self.cycle_energy = np.zeros((n, width)), np.zeros((n, width))
        for r, a in enumerate(self.accounts):
            k = len(a.timeouts)
            self.timeouts[r, :k], self.entry_end[r, :k] = a.timeouts, a.entry_end
            self.exit_latency[r, :k], self.cycle_energy[r, :k] = a.exit_latency, a.cycle_energy
        self.state = np.zeros((n, N_TOTALS))  # a row per resource: Account.totals
        self.reach = np.zeros((n, width), np.int64)
        self.tail = np.zeros((n, width))
        self.wakes = np.zeros(n, np.int64)

    def accounts_synced(self) -> list[Account]:
        """The accounts with the kernel's totals copied in (ready for :meth:`Account.close`)."""
        for r, a in enumerate(self.accounts):
            k = len(a.timeouts)
            # In place: the account's one-row tables share these lists.
            a.totals[:] = [float(v) for v in self.state[r]]
            a.reach[:] = [int(v) for v in self.reach[r, :k]]
            a.tail[:] = [float(v) for v in self.tail[r, :k]]
            a.wakes = int(self.wakes[r])
        return self.accounts


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


def run_batch(plan: Plan, ready: np.ndarray, codes: np.ndarray, progress: Callable[[float], None] | None = None,
              horizon: float | None = None) -> EngineOutput:
    """Replay frames like :func:`dslsim.sim.engine.run_engine` (same arguments, same results bit for bit)."""
    ready = np.ascontiguousarray(ready, dtype=np.float64)
    n = len(ready)
    tables = _Tables(plan)
    st = _State(plan)
    groups = _order(plan)
    group_of = np.empty(len(plan.resources), np.int64)
    for g, members in enumerate(groups):
        group_of[members] = g
    in_group = [np.isin(np.arange(len(plan.resources)), members) for members in groups]
    pending = [_Jobs() for _ in groups]
    # The groups each group hands frames to (itself included, for jobs it carries to the next window).
    next_groups: list[list[int]] = [[] for _ in groups]
    for hops in plan.hops:
        for a, b in zip(hops, hops[1:]):
            ga, gb = int(group_of[a.resource]), int(group_of[b.resource])
            if gb not in next_groups[ga]:
                next_groups[ga].append(gb)
    start, end, energy = np.zeros(n), np.zeros(n), np.zeros(n)
    wakeups, used, dropped = np.zeros(n, np.int16), np.zeros(n, np.int64), np.zeros(n, np.bool_)
    first_group = group_of[tables.resource[:, 0]]     # by path code
    entry_groups = sorted({int(group_of[hops[0].resource]) for hops in plan.hops})

    for lo in range(0, max(n, 1), WINDOW_FRAMES):
        hi = min(lo + WINDOW_FRAMES, n)
        limit = float(ready[hi]) if hi < n else np.inf
        frames = np.arange(lo, hi, dtype=np.int64)
        window_codes = codes[lo:hi].astype(np.int64)  # per window: no full-length copy of the codes
        for g in entry_groups:
            sel = (first_group[window_codes] == g) if len(entry_groups) > 1 else slice(None)
            pending[g].add(ready[lo:hi][sel], frames[sel], np.zeros(len(frames[sel]), np.int64), window_codes[sel])
        for g in range(len(groups)):
            batch = pending[g].take_before(limit)
            if batch is None:
                continue
            jt, jf, jh, jc = batch
            cap = int((tables.length[jc] - jh).sum())
            out_t, out_r = np.empty(cap), np.empty(cap, np.int64)
            out_f, out_h, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
            m = serve_group(jt, jf, jh, jc, limit, in_group[g], st.bits, st.drop, st.active_power, st.first_timeout,
                            st.timeouts,
                            st.n_states, st.entry_end, st.exit_latency, st.cycle_energy, st.state, st.reach,
                            st.tail, st.wakes, tables.length, tables.delay, tables.resource, tables.service,
                            tables.energy, start, end, energy, wakeups, used, dropped,
                            out_t, out_f, out_h, out_c, out_r)
            if m:
                out = out_t[:m], out_f[:m], out_h[:m], out_c[:m]
                if len(next_groups[g]) == 1:
                    pending[next_groups[g][0]].add(*out)
                else:
                    to = group_of[out_r[:m]]
                    for g2 in next_groups[g]:
                        sel = to == g2
                        pending[g2].add(*(a[sel] for a in out))
        if progress is not None and n:
            progress(float(ready[hi - 1]))
    if dropped.any():
        start[dropped & (used == 0)] = np.nan
        end[dropped] = np.nan
    accounts = st.accounts_synced()
    t_end = max(horizon or 0.0, max(a.free_at for a in accounts))
    for a in accounts:
        a.close(t_end)
    return EngineOutput(
        start=start, end=end, energy=energy, wakeups=wakeups, used=used, dropped=dropped,
        residency=[a.residency for a in accounts], dynamic_energy=[a.dynamic for a in accounts],
        transition_energy=[a.transitions for a in accounts], wake_count=[a.wakes for a in accounts],
        unattributed_energy=[a.unattributed for a in accounts], t_end=t_end, timeline=None, window=None)
