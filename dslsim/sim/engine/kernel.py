"""The FIFO recurrence of a group of resources as one compiled loop (numba).

The loop serves jobs in (ready time, frame, hop) order across the group: every resource then takes its own jobs
in the order the reference engine (:mod:`dslsim.sim.engine.reference`) does, and a hand-over is never ready
before the job that makes it, so a job taken from the front of that order can never be overtaken by one not yet
made. Each job's arithmetic is :mod:`dslsim.sim.engine.job`, the functions the reference engine calls, compiled
here, so the results are bit-identical (the tests compare them on random scenarios). No fast-math: IEEE
semantics are kept. The compiled code is cached on disk after the first call.

The body that runs one job (its start after any wake-up, its accounting and its charge to the frame) is written out
in both loops, the FIFO one and the priority one, on purpose: moved into a shared inlined function taking the
arrays, a day with its baseline took 2.5-2.9 s instead of 1.0-1.2 s (measured), the cost of passing two dozen arrays
per job. The scalar arithmetic inside it is shared (:mod:`dslsim.sim.engine.job`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dslsim.sim.engine import job
from dslsim.sim.engine.job import ACTIVE_TIME, DYNAMIC_J, FREE_AT, IDLE_TIME, TRANSITION_J, WAKE_TIME

#: The functions of :mod:`dslsim.sim.engine.job`, compiled (scalars in, scalars out).
plan_job = njit(cache=True, nogil=True, inline="always")(job.plan_job)
wake_start = njit(cache=True, nogil=True, inline="always")(job.wake_start)
job_energy = njit(cache=True, nogil=True, inline="always")(job.job_energy)
wake_split = njit(cache=True, nogil=True, inline="always")(job.wake_split)


@njit(cache=True, nogil=True, inline="always")
def _before(t1, f1, h1, t2, f2, h2):  # pragma: no cover - compiled
    return t1 < t2 or (t1 == t2 and (f1 < f2 or (f1 == f2 and h1 < h2)))


@njit(cache=True, nogil=True)
def _push(ht, hf, hh, hc, n, t, f, h, c):  # pragma: no cover - compiled
    """Push onto a binary min-heap of (t, f, h) keys kept in four arrays; returns the new size."""
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if not _before(t, f, h, ht[p], hf[p], hh[p]):
            break
        ht[i], hf[i], hh[i], hc[i] = ht[p], hf[p], hh[p], hc[p]
        i = p
    ht[i], hf[i], hh[i], hc[i] = t, f, h, c
    return n + 1


@njit(cache=True, nogil=True)
def _pop(ht, hf, hh, hc, n):  # pragma: no cover - compiled
    """Remove the heap's smallest key (the caller has read it); returns the new size."""
    n -= 1
    t, f, h, c = ht[n], hf[n], hh[n], hc[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _before(ht[child + 1], hf[child + 1], hh[child + 1], ht[child], hf[child], hh[child]):
            child += 1
        if not _before(ht[child], hf[child], hh[child], t, f, h):
            break
        ht[i], hf[i], hh[i], hc[i] = ht[child], hf[child], hh[child], hc[child]
        i = child
    if n > 0:
        ht[i], hf[i], hh[i], hc[i] = t, f, h, c
    return n


@njit(cache=True, nogil=True)
def serve_group(jt, jf, jh, jc, limit, in_group, bits, drop, active_power, first_timeout, timeouts, n_states,
                entry_end,
                exit_latency, cycle_energy, state, reach, tail, wakes,
                length, delay, resource, service, op_energy,
                frame_start, frame_end, frame_energy, frame_wakeups, frame_used, frame_dropped, base,
                out_t, out_f, out_h, out_c, out_r):  # pragma: no cover - compiled
    """Serve a group's jobs ready before ``limit``.

    ``jt, jf, jh, jc``: the jobs known now (ready time, frame, hop, path code), sorted by (t, f, h). Jobs the
    group hands to itself join them while ready before ``limit``. Per resource r (arrays indexed by r):
    ``in_group``, ``bits`` (its bit in ``frame_used``), ``drop``, ``active_power``, ``first_timeout`` (inf without
    sleep states), sleep ``timeouts``, ``entry_end``, ``exit_latency``, ``cycle_energy`` (rows padded;
    ``n_states`` used), and the carried ``state`` (float, columns as :data:`dslsim.sim.engine.job.FREE_AT` ...),
    ``reach``, ``tail`` and ``wakes``, updated in place. Path tables are indexed [code, hop]. Frame results are
    written in place. Jobs for later (other groups, or this group at or
    after ``limit``) go to ``out_*`` (ready time, frame, hop, code, resource); returns how many. The frame arrays
    hold frames ``base`` onwards (frame ``f`` at ``f - base``), so a streaming run keeps only the frames in flight.
    """
    cap = out_t.shape[0]
    ht, hf, hh, hc = np.empty(cap), np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
    n_heap = 0
    n_out = 0
    i, n_ext = 0, jt.shape[0]
    while True:
        from_heap = n_heap > 0 and (i >= n_ext or _before(ht[0], hf[0], hh[0], jt[i], jf[i], jh[i]))
        if from_heap:
            t, f, h, c = ht[0], hf[0], hh[0], hc[0]
            n_heap = _pop(ht, hf, hh, hc, n_heap)
        elif i < n_ext:
            t, f, h, c = jt[i], jf[i], jh[i], jc[i]
            i += 1
        else:
            break
        r = resource[c, h]
        free_at = state[r, FREE_AT]
        if t < free_at and drop[r]:
            frame_dropped[f - base] = True
            continue
        s, g, k = plan_job(t, free_at, first_timeout[r])
        if k == 0:  # the gap reached a sleep state: the deepest one whose timeout it exceeds
            k = -1
            for j in range(n_states[r]):
                if g <= timeouts[r, j]:
                    break
                k += 1
            s = wake_start(t, free_at, entry_end[r, k], exit_latency[r, k])
        svc = service[c, h]
        e = op_energy[c, h]
        state[r, DYNAMIC_J] += e
        e = job_energy(e, active_power[r], svc)
        if k == -1:
            state[r, IDLE_TIME] += g
        elif k >= 0:
            waking, in_state = wake_split(s, free_at, g, timeouts[r, k])
            reach[r, k] += 1
            tail[r, k] += in_state
            state[r, WAKE_TIME] += waking
            wakes[r] += 1
            state[r, TRANSITION_J] += cycle_energy[r, k]
            e += cycle_energy[r, k]
            frame_wakeups[f - base] += 1
        state[r, ACTIVE_TIME] += svc
        end = s + svc
        state[r, FREE_AT] = end
        if h == 0:
            frame_start[f - base] = s
            frame_energy[f - base] = e
            frame_used[f - base] = bits[r]
        else:
            frame_energy[f - base] += e
            frame_used[f - base] |= bits[r]
        if h + 1 < length[c]:
            nt = end + delay[c, h]
            nr = resource[c, h + 1]
            if in_group[nr] and nt < limit:
                n_heap = _push(ht, hf, hh, hc, n_heap, nt, f, h + 1, c)
            else:
                out_t[n_out], out_f[n_out], out_h[n_out], out_c[n_out], out_r[n_out] = nt, f, h + 1, c, nr
                n_out += 1
        else:
            frame_end[f - base] = end
    return n_out


@njit(cache=True, nogil=True, inline="always")
def _ranked_before(k1, t1, f1, h1, k2, t2, f2, h2):  # pragma: no cover - compiled
    return k1 < k2 or (k1 == k2 and _before(t1, f1, h1, t2, f2, h2))


@njit(cache=True, nogil=True)
def _wpush(wk, wt, wf, wh, wc, s, n, k, t, f, h, c):  # pragma: no cover - compiled
    """Push onto slot ``s``'s min-heap of (rank, t, f, h) keys (rows of five 2-D arrays); returns the new size."""
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if not _ranked_before(k, t, f, h, wk[s, p], wt[s, p], wf[s, p], wh[s, p]):
            break
        wk[s, i], wt[s, i], wf[s, i], wh[s, i], wc[s, i] = wk[s, p], wt[s, p], wf[s, p], wh[s, p], wc[s, p]
        i = p
    wk[s, i], wt[s, i], wf[s, i], wh[s, i], wc[s, i] = k, t, f, h, c
    return n + 1


@njit(cache=True, nogil=True)
def _wpop(wk, wt, wf, wh, wc, s, n):  # pragma: no cover - compiled
    """Remove slot ``s``'s smallest key (the caller has read it); returns the new size."""
    n -= 1
    k, t, f, h, c = wk[s, n], wt[s, n], wf[s, n], wh[s, n], wc[s, n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _ranked_before(wk[s, child + 1], wt[s, child + 1], wf[s, child + 1], wh[s, child + 1],
                                            wk[s, child], wt[s, child], wf[s, child], wh[s, child]):
            child += 1
        if not _ranked_before(wk[s, child], wt[s, child], wf[s, child], wh[s, child], k, t, f, h):
            break
        wk[s, i], wt[s, i], wf[s, i], wh[s, i], wc[s, i] = (wk[s, child], wt[s, child], wf[s, child], wh[s, child],
                                                            wc[s, child])
        i = child
    if n > 0:
        wk[s, i], wt[s, i], wf[s, i], wh[s, i], wc[s, i] = k, t, f, h, c
    return n


@njit(cache=True, nogil=True)
def serve_group_priority(jt, jf, jh, jc, limit, slot_of, slot_resource, rank, bits, drop, active_power,
                         first_timeout, timeouts, n_states, entry_end, exit_latency, cycle_energy, state, reach, tail,
                         wakes, length, delay, resource, service, op_energy,
                         frame_start, frame_end, frame_energy, frame_wakeups, frame_used, frame_dropped, base,
                         out_t, out_f, out_h, out_c, out_r):  # pragma: no cover - compiled
    """Serve a group's decisions made before ``limit``, by priority (:attr:`dslsim.sim.plan.Plan.priorities`).

    Arguments as :func:`serve_group`, with the group's resources numbered as slots (``slot_of[r]``: resource r's
    slot, -1 outside the group; ``slot_resource[s]``: slot s's resource) and ``rank[c]`` the sort key of path code
    c's priority (lower first). Each slot keeps the jobs ready by now in a heap of (rank, t, f, h); its next decision
    is at D = max(free at, earliest ready waiting job), when it serves the head of that heap. Jobs are taken in
    ready-time order and join their slot before any decision at or after their ready time, and decisions are made in
    time order across the group, so every job ready by a decision is there when it is made (a hand-over is ready no
    earlier than the decision that makes it). A decision at or after ``limit`` may depend on jobs not known yet: the
    jobs still waiting go to ``out_*`` with the hand-overs for later, to be served in the next window. The arithmetic
    of a job is the FIFO loop's, operation for operation.
    """
    cap = out_t.shape[0]
    n_slots = slot_resource.shape[0]
    ht, hf, hh, hc = np.empty(cap), np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
    wk, wt = np.empty((n_slots, cap), np.int64), np.empty((n_slots, cap))
    wf, wh, wc = np.empty((n_slots, cap), np.int64), np.empty((n_slots, cap), np.int64), np.empty((n_slots, cap),
                                                                                                  np.int64)
    wn = np.zeros(n_slots, np.int64)
    decide = np.full(n_slots, np.inf)
    n_heap = 0
    n_out = 0
    i, n_ext = 0, jt.shape[0]
    while True:
        alone = False
        if n_slots == 1:
            # One resource: no hand-overs inside the group, so its jobs are the external ones, in ready-time order;
            # a decision at D takes in every job ready by D.
            r = slot_resource[0]
            s = 0
            if wn[0] == 0:
                if i >= n_ext:
                    break
                d = max(state[r, FREE_AT], jt[i])
                # The common case, one job ready by D and none waiting: it runs, no queue needed (each queue call
                # costs the reference counts of the arrays it is passed).
                alone = i + 1 >= n_ext or jt[i + 1] > d
            else:
                d = state[r, FREE_AT]   # every waiting job is ready by then
            if d >= limit:
                break
            if alone:
                t, f, h, c = jt[i], jf[i], jh[i], jc[i]
                i += 1
            else:
                while i < n_ext and jt[i] <= d:
                    wn[0] = _wpush(wk, wt, wf, wh, wc, 0, wn[0], rank[jc[i]], jt[i], jf[i], jh[i], jc[i])
                    i += 1
        else:
            from_heap = n_heap > 0 and (i >= n_ext or _before(ht[0], hf[0], hh[0], jt[i], jf[i], jh[i]))
            if from_heap:
                ta = ht[0]
            elif i < n_ext:
                ta = jt[i]
            else:
                ta = np.inf
            s = -1
            d = np.inf
            for k in range(n_slots):
                if decide[k] < d:
                    d, s = decide[k], k
            if ta <= d and ta < np.inf:  # a job ready by the next decision joins its slot first
                if from_heap:
                    t, f, h, c = ht[0], hf[0], hh[0], hc[0]
                    n_heap = _pop(ht, hf, hh, hc, n_heap)
                else:
                    t, f, h, c = jt[i], jf[i], jh[i], jc[i]
                    i += 1
                r = resource[c, h]
                k = slot_of[r]
                if wn[k] == 0:
                    decide[k] = max(state[r, FREE_AT], t)
                wn[k] = _wpush(wk, wt, wf, wh, wc, k, wn[k], rank[c], t, f, h, c)
                continue
            if s < 0 or d >= limit:
                break
            r = slot_resource[s]
        if not alone:
            t, f, h, c = wt[s, 0], wf[s, 0], wh[s, 0], wc[s, 0]
            wn[s] = _wpop(wk, wt, wf, wh, wc, s, wn[s])
        free_at = state[r, FREE_AT]
        if t < free_at and drop[r]:
            frame_dropped[f - base] = True
            decide[s] = free_at if wn[s] > 0 else np.inf   # every job still waiting is ready by then
            continue
        st, g, k = plan_job(t, free_at, first_timeout[r])
        if k == 0:
            k = -1
            for j in range(n_states[r]):
                if g <= timeouts[r, j]:
                    break
                k += 1
            st = wake_start(t, free_at, entry_end[r, k], exit_latency[r, k])
        svc = service[c, h]
        e = op_energy[c, h]
        state[r, DYNAMIC_J] += e
        e = job_energy(e, active_power[r], svc)
        if k == -1:
            state[r, IDLE_TIME] += g
        elif k >= 0:
            waking, in_state = wake_split(st, free_at, g, timeouts[r, k])
            reach[r, k] += 1
            tail[r, k] += in_state
            state[r, WAKE_TIME] += waking
            wakes[r] += 1
            state[r, TRANSITION_J] += cycle_energy[r, k]
            e += cycle_energy[r, k]
            frame_wakeups[f - base] += 1
        state[r, ACTIVE_TIME] += svc
        end = st + svc
        state[r, FREE_AT] = end
        decide[s] = end if wn[s] > 0 else np.inf
        if h == 0:
            frame_start[f - base] = st
            frame_energy[f - base] = e
            frame_used[f - base] = bits[r]
        else:
            frame_energy[f - base] += e
            frame_used[f - base] |= bits[r]
        if h + 1 < length[c]:
            nt = end + delay[c, h]
            nr = resource[c, h + 1]
            if slot_of[nr] >= 0 and nt < limit:
                n_heap = _push(ht, hf, hh, hc, n_heap, nt, f, h + 1, c)
            else:
                out_t[n_out], out_f[n_out], out_h[n_out], out_c[n_out], out_r[n_out] = nt, f, h + 1, c, nr
                n_out += 1
        else:
            frame_end[f - base] = end
    # Jobs not served before the limit wait for the next window: the slots' queues, and (one resource) the arrivals
    # not taken in yet. (With several resources every arrival ready before the limit has joined a queue, since no
    # decision before the limit was left.)
    for k in range(n_slots):
        r = slot_resource[k]
        for j in range(wn[k]):
            out_t[n_out], out_f[n_out], out_h[n_out], out_c[n_out], out_r[n_out] = wt[k, j], wf[k, j], wh[k, j], \
                wc[k, j], r
            n_out += 1
    while i < n_ext:
        out_t[n_out], out_f[n_out], out_h[n_out], out_c[n_out] = jt[i], jf[i], jh[i], jc[i]
        out_r[n_out] = resource[jc[i], jh[i]]
        n_out += 1
        i += 1
    return n_out
