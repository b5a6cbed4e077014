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

A group with a resource that serves paths of different priorities (:attr:`dslsim.sim.plan.Plan.priorities`) is
served by :func:`dslsim.sim.engine.kernel.serve_group_priority` instead: a resource decides which waiting job runs
when it frees, so a window commits only the decisions made before its end, and the jobs still waiting are carried to
the group's next window.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from dslsim.sim.engine.account import Account, EngineOutput
from dslsim.sim.engine.blocks import Chunk, FrameBlock, FrameSink
from dslsim.errors import DslsimError
from dslsim.sim.engine.job import FREE_AT, N_TOTALS
from dslsim.sim.engine.kernel import serve_group, serve_group_priority

if TYPE_CHECKING:  # the engine reads a plan; it never builds one
    from dslsim.sim.plan import Plan

#: Frame arrivals per window: bounds the arrays alive at once (a few MB) while keeping calls few.
WINDOW_FRAMES = 1 << 16

#: Serve every group by the priority rule, even one whose jobs all have the same priority (where it gives the
#: first-come-first-served order of :func:`serve_group`): a cross-check the tests run.
PRIORITY_EVERYWHERE = False

#: Most frames a replay holds in flight (arrived, not finished; about 100 bytes each). Only a queue that grows
#: without bound gets there (a run that keeps up has a few windows in flight at most): the run stops with the reason.
MAX_IN_FLIGHT = 1 << 23


class _Jobs:
    """Jobs waiting at a group of resources: parallel arrays of ready time, frame, hop and path code."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, t: np.ndarray, f: np.ndarray, h: np.ndarray, code: np.ndarray) -> None:
        """Queue jobs (an empty set is ignored)."""
        if len(t):
            self.parts.append((t, f, h, code))

    def lowest_frame(self) -> int:
        """The smallest run position among the waiting jobs (there is at least one)."""
        return min(int(part[1].min()) for part in self.parts)

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


class _Frames:
    """The frames in flight: per-frame inputs and results for run positions ``base`` onwards, grown on demand and
    compacted as frames finish, so memory follows the frames in flight, not the run's length."""

    INPUTS = (("index", np.int64), ("ready", np.float64), ("codes", np.int64))
    RESULTS = (("start", np.float64), ("end", np.float64), ("energy", np.float64), ("wakeups", np.int16),
               ("used", np.int64), ("dropped", np.bool_))

    def __init__(self, capacity: int):
        self.base = 0      # run position of row 0
        self.done = 0      # run positions below this were handed to the sink
        self.arrays = {name: np.zeros(capacity, dtype) for name, dtype in self.INPUTS + self.RESULTS}

    def load(self, lo: int, index: np.ndarray, ready: np.ndarray, codes: np.ndarray) -> None:
        """Make room for positions ``lo`` .. ``lo + len(ready)`` and store their inputs, results zeroed."""
        hi = lo + len(ready)
        cap = len(self.arrays["ready"])
        if hi - self.base > cap and self.done > self.base:      # compact: drop the rows already handed on
            keep = lo - self.done
            for a in self.arrays.values():
                a[:keep] = a[self.done - self.base:lo - self.base]
            self.base = self.done
        if hi - self.base > cap:                                  # still too small: frames in flight pile up
            size = max(2 * cap, hi - self.base)
            for name, a in self.arrays.items():
                grown = np.zeros(size, a.dtype)
                grown[:lo - self.base] = a[:lo - self.base]
                self.arrays[name] = grown
        rows = slice(lo - self.base, hi - self.base)
        self.arrays["index"][rows], self.arrays["ready"][rows], self.arrays["codes"][rows] = index, ready, codes
        for name, _ in self.RESULTS:
            self.arrays[name][rows] = 0

    def emit(self, upto: int, sink: FrameSink | None) -> None:
        """Hand positions ``done`` .. ``upto - 1`` (all finished) to ``sink``."""
        if upto <= self.done:
            return
        rows = slice(self.done - self.base, upto - self.base)
        a = {name: arr[rows] for name, arr in self.arrays.items()}
        dropped = a["dropped"]
        if dropped.any():
            a["start"][dropped & (a["used"] == 0)] = np.nan
            a["end"][dropped] = np.nan
        if sink is not None:
            sink(FrameBlock(first=self.done, **a))
        self.done = upto


class BatchReplay:
    """The batch engine as a stream: :meth:`feed` it consecutive chunks of frames (any sizes: a whole trace, or
    a file's blocks), then :meth:`finish`. Finished frames go to ``sink`` block by block; memory follows the
    frames in flight, not the run's length. The compiled loop releases the GIL, so two replays fed from one
    reader can run in two threads.
    """

    def __init__(self, plan: Plan, sink: FrameSink | None = None, progress: Callable[[float], None] | None = None,
                 horizon: float | None = None):
        self.plan, self.sink, self.progress, self.horizon = plan, sink, progress, horizon
        self.tables = _Tables(plan)
        self.st = _State(plan)
        groups = self.groups = _order(plan)
        group_of = self.group_of = np.empty(len(plan.resources), np.int64)
        for g, members in enumerate(groups):
            group_of[members] = g
        self.in_group = [np.isin(np.arange(len(plan.resources)), members) for members in groups]
        self.pending = [_Jobs() for _ in groups]
        # The groups each group hands frames to (itself included, for jobs it carries to the next window).
        self.next_groups: list[list[int]] = [[] for _ in groups]
        for hops in plan.hops:
            for a, b in zip(hops, hops[1:]):
                ga, gb = int(group_of[a.resource]), int(group_of[b.resource])
                if gb not in self.next_groups[ga]:
                    self.next_groups[ga].append(gb)
        # Groups with a resource that serves paths of different priorities decide by priority, and only before a
        # window's end (a later decision may depend on jobs not known yet): they carry jobs to their next window.
        by_priority = plan.priority_resources()
        self.priority_groups = {g for g, members in enumerate(groups)
                                if PRIORITY_EVERYWHERE or any(r in by_priority for r in members)}
        self.slot_of: dict[int, np.ndarray] = {}
        for g in self.priority_groups:
            slots = np.full(len(plan.resources), -1, np.int64)
            slots[groups[g]] = np.arange(len(groups[g]))
            self.slot_of[g] = slots
            if g not in self.next_groups[g]:
                self.next_groups[g].append(g)
        levels = plan.priorities or (0,) * len(plan.hops)
        self.rank = -np.asarray(levels, np.int64)      # by path code: lower is served first
        self.first_group = group_of[self.tables.resource[:, 0]]     # by path code
        self.entry_groups = sorted({int(group_of[hops[0].resource]) for hops in plan.hops})
        self.frames = _Frames(4 * WINDOW_FRAMES)
        self.loaded = 0           # run positions handed to a window so far
        self.carry: Chunk | None = None
        self.last_ready = 0.0

    def feed(self, index: np.ndarray, ready: np.ndarray, codes: np.ndarray) -> None:
        """Take the next frames (trace frame indices, ready times in s, path codes) and serve every window of
        :data:`WINDOW_FRAMES` arrivals whose successor's first ready time is known."""
        pos = 0
        if self.carry is not None and len(self.carry[1]):
            # Windows may have any size (the schedule does not depend on where they are cut): the carried frames
            # and the head of this chunk make one window, so the chunk itself is never copied whole.
            take = WINDOW_FRAMES - len(self.carry[1])
            if len(ready) <= take:
                self.carry = tuple(np.concatenate(pair) for pair in zip(self.carry, (index, ready, codes)))
                return
            self._window(*(np.concatenate((c, x[:take])) for c, x in zip(self.carry, (index, ready, codes))),
                         float(ready[take]))
            pos = take
        while len(ready) - pos > WINDOW_FRAMES:
            hi = pos + WINDOW_FRAMES
            self._window(index[pos:hi], ready[pos:hi], codes[pos:hi], float(ready[hi]))
            pos = hi
        self.carry = (index[pos:], ready[pos:], codes[pos:])

    def finish(self) -> EngineOutput:
        """Serve what is left and close the accounts; the per-resource figures (the per-frame arrays are empty:
        the frames went to the sink)."""
        if self.carry is not None and len(self.carry[1]):
            self._window(*self.carry, np.inf)
        self.carry = None
        accounts = self.st.accounts_synced()
        t_end = max(self.horizon if self.horizon is not None else self.last_ready,
                    max(a.free_at for a in accounts))
        for a in accounts:
            a.close(t_end)
        empty = np.zeros(0)
        return EngineOutput(
            start=empty, end=empty, energy=empty, wakeups=np.zeros(0, np.int16), used=np.zeros(0, np.int64),
            dropped=np.zeros(0, np.bool_),
            residency=[a.residency for a in accounts], dynamic_energy=[a.dynamic for a in accounts],
            transition_energy=[a.transitions for a in accounts], wake_count=[a.wakes for a in accounts],
            unattributed_energy=[a.unattributed for a in accounts], t_end=t_end, timeline=None, window=None)

    def _window(self, index: np.ndarray, ready: np.ndarray, codes: np.ndarray, limit: float) -> None:
        """Serve every job ready before ``limit``, these frames' first jobs included."""
        frames, tables, st, pending = self.frames, self.tables, self.st, self.pending
        lo = self.loaded
        hi = lo + len(ready)
        self.loaded = hi
        frames.load(lo, index, ready, codes)
        positions = np.arange(lo, hi, dtype=np.int64)
        window_codes = frames.arrays["codes"][lo - frames.base:hi - frames.base]
        window_ready = frames.arrays["ready"][lo - frames.base:hi - frames.base]
        for g in self.entry_groups:
            sel = (self.first_group[window_codes] == g) if len(self.entry_groups) > 1 else slice(None)
            pending[g].add(window_ready[sel].copy(), positions[sel], np.zeros(len(positions[sel]), np.int64),
                           window_codes[sel].copy())
        a = frames.arrays
        for g in range(len(self.groups)):
            batch = pending[g].take_before(limit)
            if batch is None:
                continue
            jt, jf, jh, jc = batch
            cap = int((tables.length[jc] - jh).sum())
            out_t, out_r = np.empty(cap), np.empty(cap, np.int64)
            out_f, out_h, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
            if g in self.priority_groups:
                m = serve_group_priority(
                    jt, jf, jh, jc, limit, self.slot_of[g], np.asarray(self.groups[g], np.int64), self.rank,
                    st.bits, st.drop, st.active_power, st.first_timeout, st.timeouts, st.n_states, st.entry_end,
                    st.exit_latency, st.cycle_energy, st.state, st.reach, st.tail, st.wakes, tables.length,
                    tables.delay, tables.resource, tables.service, tables.energy, a["start"], a["end"], a["energy"],
                    a["wakeups"], a["used"], a["dropped"], frames.base, out_t, out_f, out_h, out_c, out_r)
            else:
                m = serve_group(jt, jf, jh, jc, limit, self.in_group[g], st.bits, st.drop, st.active_power,
                                st.first_timeout, st.timeouts,
                                st.n_states, st.entry_end, st.exit_latency, st.cycle_energy, st.state, st.reach,
                                st.tail, st.wakes, tables.length, tables.delay, tables.resource, tables.service,
                                tables.energy, a["start"], a["end"], a["energy"], a["wakeups"], a["used"],
                                a["dropped"], frames.base, out_t, out_f, out_h, out_c, out_r)
            if m:
                out = out_t[:m], out_f[:m], out_h[:m], out_c[:m]
                nexts = self.next_groups[g]
                if len(nexts) == 1:
                    pending[nexts[0]].add(*out)
                else:
                    to = self.group_of[out_r[:m]]
                    for g2 in nexts:
                        sel = to == g2
                        pending[g2].add(*(x[sel] for x in out))
        # Every frame before the earliest one still waiting somewhere is finished.
        waiting = [p.lowest_frame() for p in pending if p.parts]
        frames.emit(min(waiting + [hi]), self.sink)
        if hi - frames.done > MAX_IN_FLIGHT:
            busiest = int(np.argmax(st.state[:, FREE_AT]))
            raise DslsimError(
                f"the scenario cannot keep up: {hi - frames.done:,} frames that arrived by {float(ready[-1]):,.0f} s "
                f"are still waiting, '{self.plan.resources[busiest].name}' is busy until "
                f"{float(st.state[busiest, FREE_AT]):,.0f} s; its queue grows without bound, so a long run would only "
                f"fill memory. Simulate a shorter stretch to see how far behind it falls, or change the scenario.")
        self.last_ready = float(ready[-1])
        if self.progress is not None:
            self.progress(self.last_ready)


def replay_batch(plan: Plan, chunks: Iterable[Chunk], sink: FrameSink | None = None,
                 progress: Callable[[float], None] | None = None, horizon: float | None = None) -> EngineOutput:
    """Replay a run given as consecutive chunks of frames with :class:`BatchReplay`; returns the per-resource
    figures (the frames went to ``sink``). ``horizon``: the end of the simulated window (default: the last frame's
    ready time, which is the trace's end)."""
    replay = BatchReplay(plan, sink, progress, horizon)
    for chunk in chunks:
        replay.feed(*chunk)
    return replay.finish()


def run_batch(plan: Plan, ready: np.ndarray, codes: np.ndarray, progress: Callable[[float], None] | None = None,
              horizon: float | None = None) -> EngineOutput:
    """Replay frames like :func:`dslsim.sim.engine.run_engine` (same arguments, same results bit for bit): the
    streaming replay (:func:`replay_batch`) over one chunk, its frames collected into whole-run arrays."""
    ready = np.ascontiguousarray(ready, dtype=np.float64)
    n = len(ready)
    full = {"start": np.zeros(n), "end": np.zeros(n), "energy": np.zeros(n), "wakeups": np.zeros(n, np.int16),
            "used": np.zeros(n, np.int64), "dropped": np.zeros(n, np.bool_)}

    def collect(block: FrameBlock) -> None:
        rows = slice(block.first, block.first + len(block))
        for name, array in full.items():
            array[rows] = getattr(block, name)

    out = replay_batch(plan, [(np.arange(n, dtype=np.int64), ready, np.asarray(codes))], collect, progress, horizon)
    return replace(out, **full)
