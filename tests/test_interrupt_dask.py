"""Ctrl-C during a sweep on a local Dask cluster (``dslsim sweep SPEC --scheduler local``), sent as a terminal sends
it: to the whole process group, so Dask's worker processes get it too. Whenever it comes -- while Dask is imported,
while the workers start, while points run, while the cluster closes -- the command ends with status 130 and its one
line (no traceback from distributed or its workers, no log line), leaves no process behind, and its store holds
only whole points, each equal to the same point of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dslsim.sweep.run import _interrupt_held, run_sweep
from dslsim.sweep.spec import load_spec
from dslsim.sweep.store import SweepStore
from dslsim.trace.io import write_trace
from dslsim.trace.synth import synth_trace

from test_sweep import _rows, write_spec

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")  # a dependency of distributed

#: How the console script starts (pyproject: dslsim = "dslsim.cli.entry:main").
ENTRY = "import sys; sys.argv[0] = 'dslsim'; from dslsim.cli.entry import main; main()"
POINTS = 24
INTERRUPTED = "interrupted; nothing half-written was left on disk."


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A 40-point spec over a short trace, and its table from an uninterrupted run in this process."""
    folder = tmp_path_factory.mktemp("dask-interrupt")
    trace = folder / "short.parquet"
    write_trace(synth_trace(20, seed=7, width=8, embed_dim=32), trace)
    axes = {"scenario.sleep.big.core_off": [f"{i} ms" for i in range(1, POINTS + 1)],
            "scenario.sleep.big.rail_off": ["1 s"]}
    spec = write_spec(folder, trace, axes)
    clean = run_sweep(load_spec(spec), folder / "clean", jobs=1, progress=False)
    assert len(clean) == POINTS
    return spec, _rows(clean)


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return found


def _workers(pid: int) -> list[psutil.Process]:
    """The worker processes Dask's nannies spawned under ``pid`` (not multiprocessing's resource tracker)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def _points(out: Path) -> int:
    return len(list((out / "points").glob("*.json"))) if (out / "points").is_dir() else 0


#: When the interrupt comes, as a condition on the running command (its pid, its store).
MOMENTS = {
    # The spec is loaded and the command goes on to import distributed and start the cluster.
    "importing": lambda pid, out: True,
    # A worker process exists: it is still importing (a second or more), the cluster is not up.
    "workers-starting": lambda pid, out: bool(_workers(pid)),
    # Points are being written, others are running on the workers.
    "running": lambda pid, out: 0 < _points(out) < POINTS,
    # Every point is written: the client and the cluster are closing (or the table is being written).
    "closing": lambda pid, out: _points(out) == POINTS,
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_on_a_local_dask_sweep_ends_cleanly(tmp_path, sweep, moment):
    spec, clean = sweep
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", ENTRY, "sweep", str(spec), "--out", str(out), "--scheduler", "local", "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen: set[int] = set()
    try:
        header = proc.stderr.readline()
        assert header.startswith("sweep 't'"), header
        deadline = time.monotonic() + 60
        while proc.poll() is None and not MOMENTS[moment](proc.pid, out):
            seen.update(w.pid for w in _workers(proc.pid))
            assert time.monotonic() < deadline, f"the sweep never reached '{moment}'"
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before the interrupt"
        seen.update(w.pid for w in _workers(proc.pid))
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = header + rest
    lines = [line for line in err.splitlines() if line.strip()]
    finished = proc.returncode == 0 and (out / "results.parquet").exists()
    if moment == "closing" and finished:
        # The interrupt came after the last step that could be interrupted: the sweep is complete.
        assert lines == [header.strip(), f"{POINTS} points in {out}/results.parquet and results.csv"], err
    else:
        assert proc.returncode == 130, err
        assert lines == [header.strip(), INTERRUPTED], err
    assert "Traceback" not in err and "AssertionError" not in err

    # No process of the command's group outlives it (the resource tracker ends when its parent has gone).
    deadline = time.monotonic() + 10
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group(proc.pid), f"processes left behind: {_group(proc.pid)}"
    assert not [pid for pid in seen if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    if moment in ("workers-starting", "running", "closing"):
        assert seen, "no worker process was seen: the moment was not the one meant"

    # Nothing half-written: no temporary file, and every point file is a whole row, equal to the clean run's.
    if out.exists():
        assert not [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
        store = SweepStore(out)
        ids = {p["id"] for p in store.manifest()["points"]}
        files = list(store.points_dir.glob("*.json"))
        for f in files:
            row = json.loads(f.read_text())
            assert row["point_id"] == f.stem and f.stem in ids
        kept = store.table()
        assert len(kept) == len(files)
        if len(kept):
            expected = clean[clean["point_id"].isin(kept["point_id"])].reset_index(drop=True)
            pd.testing.assert_frame_equal(_rows(kept), expected)
    if moment == "running":
        # Nothing lost: the same sweep resumes from the kept points and ends with the clean run's table.
        done = {p.name: p.stat().st_mtime_ns for p in store.points_dir.glob("*.json")}
        assert 0 < len(done) < POINTS
        again = run_sweep(load_spec(spec), out, jobs=1, progress=False)
        pd.testing.assert_frame_equal(_rows(again), clean)
        assert all(p.stat().st_mtime_ns == done[p.name] for p in store.points_dir.glob("*.json") if p.name in done)


def test_an_interrupt_inside_the_held_block_is_raised_when_it_ends():
    """The mechanism itself: Ctrl-C inside the block lets the block finish, then raises; SIGINT is blocked in the
    block (so threads and processes started there inherit the block) and unblocked again after it."""
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupt_held():
            assert signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set())
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            finished.append(True)
    assert finished == [True]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with _interrupt_held():  # without an interrupt, nothing is raised
        pass
