"""Execute a sweep: serially, on a local process pool (default, all cores) or on a Dask cluster.

Each finished point is written to the store at once, so an interrupted sweep loses at most the points that were
running; the next run skips every point that has a file.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


from dslsim.errors import DslsimError
from dslsim.sweep.point import run_point
from dslsim.sweep.shipping import run_shipped_points, ship_inputs
from dslsim.sweep.spec import SweepSpec, point_id
from dslsim.sweep.store import SweepStore
from dslsim.sweep.table import SweepTable


#: Most sweep points in one Dask task (a chunk's rows reach the store when it finishes).
MAX_CHUNK = 25


def run_sweep(spec: SweepSpec, out: str | Path, *, jobs: int | None = None, scheduler: str | None = None,
              fresh: bool = False, progress: bool | None = None,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> SweepTable:
    """Run every point of ``spec`` not yet in the store at ``out`` and return the consolidated table (a
    :class:`~dslsim.sweep.table.SweepTable`: a DataFrame that a notebook shows concisely).

    ``jobs`` worker processes (default: all cores; 1 runs in this process). ``scheduler`` runs on Dask instead:
    a scheduler address (``tcp://host:8786``) or ``local`` for a local cluster on loopback.
    """
    from tqdm import tqdm

    store = SweepStore(out)
    store.open(spec, fresh=fresh)
    done = store.done()
    todo = [spec.task(p) for p in spec.points if point_id(p) not in done]
    bar = tqdm(total=len(spec.points), initial=len(spec.points) - len(todo), desc=f"sweep {spec.name}",
               unit="point", disable=None if progress is None else not progress, dynamic_ncols=True)
    rows: Iterator[dict[str, Any]] = iter(())
    try:
        if scheduler:
            rows = _dask(todo, scheduler, jobs)
        elif (jobs or os.cpu_count() or 1) == 1 or len(todo) <= 1:
            rows = (run_point(task) for task in todo)
        else:
            rows = _processes(todo, jobs or os.cpu_count() or 1)
        for row in rows:
            store.save(row)
            bar.update()
            if on_row:
                on_row(row)
    finally:
        bar.close()
        # The backend stops now (its pool or cluster shut down), not whenever the interrupted generator is
        # collected: after the interrupt's message, or at exit, when Dask can no longer close a cluster.
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return SweepTable.of(store.consolidate(), spec.axes)


def _processes(tasks: list[dict], jobs: int) -> Iterator[dict[str, Any]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_die_with_parent)
    try:
        futures = [pool.submit(run_point, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _die_with_parent() -> None:
    """In a worker: ask Linux to send SIGTERM when the parent dies (even by SIGKILL), so no worker is orphaned
    blocking on its pipes. Elsewhere nothing happens (the pool's own shutdown still applies). Ctrl-C is the
    parent's to handle: a worker ignores it (it would print its own traceback), and the parent stops the pool."""
    import ctypes
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _quiet_plausibility()

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _quiet_plausibility() -> None:
    """In a worker: the parent printed the profile's plausibility warnings once when it loaded the spec; a worker
    loading the same numbers for every point would repeat them."""
    import warnings

    from dslsim.plausible import PlausibilityWarning

    warnings.filterwarnings("ignore", category=PlausibilityWarning)


def _dask(tasks: list[dict], scheduler: str, jobs: int | None) -> Iterator[dict[str, Any]]:
    cluster = client = None
    try:
        # Ctrl-C while Dask is imported and the cluster starts is held until it is up, then raised here, inside
        # the try: a cluster interrupted half-started cannot be closed (distributed fails on it at exit, with its
        # own traceback), and a KeyboardInterrupt raised inside an import can be lost (in a compiled module's
        # initialisation) or become an error of importlib's (in its module-lock callback).
        with _interrupt_held(starts_processes=scheduler == "local"):
            try:
                from distributed import as_completed
            except ImportError:
                raise DslsimError("the Dask backend needs dask.distributed: pip install 'dslsim[dask]'.") from None
            cluster, client = _connect(scheduler, jobs)
        # Points go in chunks of neighbours (which share baselines): a Dask task costs the scheduler milliseconds,
        # a point tens of them. About four chunks per worker thread still balance the load.
        threads = max(1, sum(client.nthreads().values()))
        size = max(1, min(MAX_CHUNK, len(tasks) // (4 * threads)))
        chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
        # The workers may share no filesystem with this client: the trace travels with the tasks, sent once to
        # each worker and kept there under its content hash.
        shipped = ship_inputs(client, tasks)
        futures = [client.submit(run_shipped_points, chunk, shipped, key=f"dslsim-points-{chunk[0]['id']}-{len(chunk)}",
                                 pure=False)
                   for chunk in chunks]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        # Closing is not interrupted either (a second Ctrl-C would leave the workers running); an interrupt is
        # raised once the cluster is down.
        with _interrupt_held():
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()


def _connect(scheduler: str, jobs: int | None) -> tuple[Any, Any]:
    """The local cluster (or None) and a client of it or of the scheduler at ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler != "local":
        try:
            return None, Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise DslsimError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}.") from None
    import dask

    # Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which turns off glibc's adaptive mmap threshold:
    # every large array is then fresh pages from the kernel, and a sweep point ran 1.8x slower than in a
    # plain process. Local workers start without it.
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    # The cluster is this run's own: what goes wrong in it reaches this client as a task's error or a lost worker.
    # Its log lines would only repeat that, or tell of its shutdown after a Ctrl-C (cancelled tasks, a worker whose
    # scheduler went first, with tracebacks), so its scheduler, nannies and workers log nothing below CRITICAL
    # (DSLSIM_DEBUG=1 keeps Dask's default, warnings and up).
    quiet = logging.WARNING if os.environ.get("DSLSIM_DEBUG") else logging.CRITICAL
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None, processes=True, silence_logs=quiet)
    try:
        return cluster, Client(cluster)
    except BaseException:
        cluster.close()
        raise


@contextmanager
def _interrupt_held(starts_processes: bool = False) -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) while the block runs and raise it as KeyboardInterrupt when the block ends, so a Dask
    cluster is never left half-started or half-closed.

    It is the rule of the process pool (Ctrl-C is the parent's to handle; a worker would print its own traceback)
    for processes this code does not start itself: Dask's nanny spawns each worker from a thread of its own, and a
    spawned worker imports for a second or more before any code of ours could ignore the signal. So SIGINT is
    blocked in this thread for the block: the threads Dask starts in it (its event loop, each worker's watcher)
    inherit the block, and so do the workers they spawn (a signal mask survives fork and exec), which never see
    the terminal's Ctrl-C sent to the whole process group. They stop when the cluster closes. With
    ``starts_processes``, multiprocessing's resource tracker is started first: starting it unblocks SIGINT in the
    starting thread. Outside the main thread (where Python handles signals) nothing is held."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    if starts_processes:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a held SIGINT is delivered now, to the handler above
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt
