"""The per-resource FIFO recurrence as a compiled loop: one call serves a batch of jobs in ready order.

The loop is :class:`~dslsim.sim.engine._Server`'s ``_plan`` and ``_serve`` arithmetic, operation for operation
and in the same order, so its results are bit-identical to the reference engine's (the tests compare them on
random scenarios). It is compiled with numba (no fast-math, so IEEE semantics are kept); the compiled code is
cached on disk after the first call.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Indices into the float state vector a resource carries from batch to batch.
FREE_AT, IDLE, WAKE, ACTIVE, DYNAMIC, TRANSITIONS = range(6)
N_FLOAT_STATE = 6


@njit(cache=True, nogil=True)
def serve_batch(t, service, op_energy, drop, active_power, timeouts, entry_end, exit_latency, cycle_energy,
                state, reach, tail, start, end, frame_energy, woke, dropped):  # pragma: no cover - compiled
    """Serve jobs ready at ``t`` (sorted by ready time, then frame) on one resource.

    ``state`` (float64[6]: free-at, idle, wake and active seconds, dynamic and transition joules), ``reach``
    (int64 per sleep state) and ``tail`` (float64 per sleep state) carry the resource across batches and are
    updated in place. Per job it writes ``start``, ``end``, the energy charged to the frame, whether it woke the
    resource and whether it was dropped (``drop``: jobs that find the resource busy are not served). Returns
    the number of wake-ups.
    """
    n_states = timeouts.shape[0]
    first_timeout = timeouts[0] if n_states else np.inf
    free_at = state[FREE_AT]
    idle_time, wake_time, active_time = state[IDLE], state[WAKE], state[ACTIVE]
    dynamic, transitions = state[DYNAMIC], state[TRANSITIONS]
    wakes = 0
    for i in range(t.shape[0]):
        ti = t[i]
        if ti < free_at and drop:
            dropped[i] = True
            continue
        g = ti - free_at
        if g <= 0:
            s, k = free_at, -2
        elif g <= first_timeout:
            s, k = ti, -1
        else:
            k = -1
            for j in range(n_states):
                if g <= timeouts[j]:
                    break
                k += 1
            s = max(ti, free_at + entry_end[k]) + exit_latency[k]
        svc = service[i]
        e = op_energy[i]
        dynamic += e
        e += active_power * svc
        if k == -1:
            idle_time += g
        elif k >= 0:
            reach[k] += 1
            tail[k] += g - timeouts[k]
            wake_time += s - free_at - g
            wakes += 1
            transitions += cycle_energy[k]
            e += cycle_energy[k]
            woke[i] = True
        active_time += svc
        start[i] = s
        end[i] = s + svc
        frame_energy[i] = e
        free_at = s + svc
    state[FREE_AT] = free_at
    state[IDLE], state[WAKE], state[ACTIVE] = idle_time, wake_time, active_time
    state[DYNAMIC], state[TRANSITIONS] = dynamic, transitions
    return wakes


@njit(cache=True, nogil=True)
def pass_on(f, h, code, start, end, energy, woke, dropped, bit, length, delay, resource,
            frame_start, frame_end, frame_energy, frame_wakeups, frame_used, frame_dropped,
            next_t, next_resource):  # pragma: no cover - compiled
    """Book a served batch into the per-frame arrays (in the reference engine's order of operations) and say
    where each job goes next: ``next_resource`` (-1: the frame is done or dropped) and its ready time there."""
    for i in range(f.shape[0]):
        fi, hi, c = f[i], h[i], code[i]
        next_resource[i] = -1
        if dropped[i]:
            frame_dropped[fi] = True
            continue
        if hi == 0:
            frame_start[fi] = start[i]
            frame_energy[fi] = energy[i]
            frame_used[fi] = bit
        else:
            frame_energy[fi] += energy[i]
            frame_used[fi] |= bit
        if woke[i]:
            frame_wakeups[fi] += 1
        if hi + 1 < length[c]:
            next_t[i] = end[i] + delay[c, hi]
            next_resource[i] = resource[c, hi + 1]
        else:
            frame_end[fi] = end[i]
