"""The engine: replays frames on a :class:`~dslsim.sim.plan.Plan` and returns the raw per-frame and per-resource
figures (:class:`EngineOutput`).

Two engines compute the same numbers bit for bit, from one job arithmetic (:mod:`.job`) and one account
(:mod:`.account`) in one state order (:mod:`.states`): the SimPy reference (:mod:`.reference`; short runs,
timelines) and the compiled batch engine (:mod:`.batch` over :mod:`.kernel`; long runs). :func:`run_engine`
chooses between them by the run's size, unless told which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from dslsim.sim.engine.account import Account, EngineOutput
from dslsim.sim.engine.reference import run_reference
from dslsim.sim.engine.states import State

if TYPE_CHECKING:  # the engine reads a plan; it never builds one
    from dslsim.sim.plan import Plan

#: The engines :func:`run_engine` offers: 'auto' picks the compiled batch engine for runs of at least
#: :data:`BATCH_MIN_JOBS` jobs (frames times the hops of their paths) and the SimPy replay ('reference') for
#: shorter ones, where loading the compiled code (about half a second, about 3 us per job in the reference)
#: would cost more than it saves.
ENGINES = ("auto", "batch", "reference")
BATCH_MIN_JOBS = 150_000


def path_counts(codes: np.ndarray, paths: int) -> np.ndarray:
    """How many frames take each of ``paths`` paths (``codes``: path codes 0 .. paths - 1). Small codes are
    counted path by path, a pass over the bytes each, where ``np.bincount`` would first copy them to int64 (for a
    day of 75 Hz frames, 52 MB and most of the time)."""
    codes = np.asarray(codes)
    if codes.dtype.itemsize == 1 and paths <= 16:
        return np.array([np.count_nonzero(codes == k) for k in range(paths)], dtype=np.int64)
    return np.bincount(codes.astype(np.int64, copy=False), minlength=paths)


def jobs_in(plan: Plan, codes: np.ndarray) -> int:
    """How many jobs a run makes: each frame times the hops of its path."""
    if not len(codes):
        return 0
    counts = path_counts(codes, len(plan.hops))
    return int(counts @ np.array([len(h) for h in plan.hops]))


def run_engine(plan: Plan, ready: np.ndarray, codes: np.ndarray,
               progress: Callable[[float], None] | None = None, horizon: float | None = None,
               lookahead: bool = True, window: tuple[float, float] | None = None,
               engine: str = "auto") -> EngineOutput:
    """Replay frames (ready times in seconds, path codes into ``plan.hops``) and return raw results.

    ``horizon`` is the end of the simulated window (at least the last completion); ``progress`` is called
    with the simulated time as it advances. ``engine='batch'`` (:mod:`dslsim.sim.engine.batch`) computes the same
    numbers as the SimPy ``'reference'`` engine, bit for bit, much faster once compiled; ``'auto'`` picks by
    the run's size (:data:`ENGINES`) and nothing else; the reference runs whenever a ``window`` is asked for.
    ``lookahead=False`` makes every resource of the reference purely event-driven (slower; the same numbers,
    which the tests check). With ``window=(t0, t1)`` every state interval that
    overlaps the window is recorded per resource as (state, start, end, dynamic power).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}; expected one of {ENGINES}")
    if engine == "auto":
        engine = "batch" if jobs_in(plan, codes) >= BATCH_MIN_JOBS else "reference"
    if engine == "batch" and window is None and lookahead:  # only the reference records timelines
        from dslsim.sim.engine import batch  # numba loads only when the batch engine runs

        return batch.run_batch(plan, ready, codes, progress, horizon)
    return run_reference(plan, ready, codes, progress, horizon, lookahead, window)


__all__ = ["Account", "BATCH_MIN_JOBS", "ENGINES", "EngineOutput", "State", "run_engine"]
