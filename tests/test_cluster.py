"""Sweeps on a real Dask cluster: a scheduler and workers started as separate processes, each worker in its own
empty working folder, run a sweep whose trace exists only on the client; the trace is shipped to the workers once,
under its content hash. A worker killed mid-sweep, or the client killed or interrupted mid-sweep, loses no point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dslsim.fileio import file_sha256
from dslsim.sweep import run as sweep_run
from dslsim.sweep.run import run_sweep
from dslsim.sweep.shipping import local_copy
from dslsim.sweep.spec import load_spec
from dslsim.sweep.store import SweepStore
from dslsim.trace.io import write_trace
from dslsim.trace.synth import synth_trace

from test_sweep import _rows, write_spec

pytest.importorskip("distributed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers on loopback, each worker in an empty folder of its own."""
    dask = Path(sys.executable).with_name("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0", "--no-show"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    folders = []
    for i in range(2):
        folder = tmp_path / f"worker{i}"
        folder.mkdir()
        folders.append(folder)
        procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--no-nanny", "--name", f"w{i}", "--local-directory", str(folder),
                                       "--no-dashboard"], cwd=folder, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="2s") as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except (OSError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("the local Dask cluster did not start within 60 s")
            time.sleep(0.5)
        yield address, folders, procs[1:]
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_sweep_runs_on_workers_that_cannot_see_the_trace(tmp_path, cluster, monkeypatch):
    address, folders, _ = cluster
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    trace = client_dir / "trace.parquet"
    write_trace(synth_trace(duration=30.0, frame_rate=50.0, light_share=0.8, mean_burst=0.5, seed=4), trace)
    digest = file_sha256(trace)
    spec = load_spec(write_spec(client_dir, trace, {"scenario.opp.big": ["low", "mid", "high"],
                                                     "trace.threshold": [0.3, 0.5]}))
    serial = run_sweep(spec, tmp_path / "serial", jobs=1)

    # Once shipped, the client's file goes away: the workers can only run from their own copies.
    ship = sweep_run.ship_inputs
    hidden = client_dir / "elsewhere.parquet"

    def ship_then_hide(client, tasks):
        shipped = ship(client, tasks)
        trace.rename(hidden)
        return shipped

    monkeypatch.setattr(sweep_run, "ship_inputs", ship_then_hide)
    remote = run_sweep(spec, tmp_path / "remote", scheduler=address)
    pd.testing.assert_frame_equal(_rows(serial), _rows(remote))
    # Each worker got the trace once, in its own local directory, and nothing half-written is left.
    for folder in folders:
        copies = list(folder.rglob("dslsim-inputs/*"))
        assert [c.name for c in copies] == [f"{digest}.parquet"] and file_sha256(copies[0]) == digest


def test_a_damaged_shipment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="damaged"):
        local_copy("0" * 64, ".parquet", b"not the file", tmp_path)
    assert not (tmp_path / "dslsim-inputs" / ("0" * 64 + ".parquet")).exists()


def test_a_worker_that_dies_mid_sweep_loses_no_point(tmp_path, cluster):
    """The first finished point kills a worker (SIGKILL: no goodbye); its points are redone on the other."""
    address, _, workers = cluster
    trace = tmp_path / "trace.parquet"
    write_trace(synth_trace(duration=30.0, frame_rate=50.0, light_share=0.8, mean_burst=0.5, seed=5), trace)
    spec = load_spec(write_spec(tmp_path, trace, {"scenario.opp.big": ["low", "mid", "high"],
                                                   "trace.threshold": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}))
    serial = run_sweep(spec, tmp_path / "serial", jobs=1)
    killed = []

    def kill_one(row):
        if not killed:
            workers[0].kill()
            killed.append(row["point_id"])

    remote = run_sweep(spec, tmp_path / "remote", scheduler=address, on_row=kill_one)
    assert killed and workers[0].wait(timeout=10) != 0
    pd.testing.assert_frame_equal(_rows(serial), _rows(remote))


def test_a_stack_sweep_ships_the_stacks_model_files(tmp_path, cluster, monkeypatch):
    """A stack names its models' traces relative to itself: they travel too, and the workers run from copies."""
    import yaml

    address, folders, _ = cluster
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    for name, seed in (("detector", 6), ("worker", 7)):
        write_trace(synth_trace(duration=20.0, frame_rate=50.0, light_share=0.7, mean_burst=0.4, seed=seed),
                    client_dir / f"{name}.parquet")
    (client_dir / "stack.yaml").write_text(yaml.safe_dump({
        "name": "pair", "duration": "20 s",
        "models": {"det": {"trace": "detector.parquet", "priority": 1},
                   "work": {"trace": "worker.parquet", "gate": {"model": "det", "threshold": 0.5, "hold": "1 s"}}}}))
    (client_dir / "spec.yaml").write_text(yaml.safe_dump({
        "name": "pair-gates", "base": {"profile": "watch", "stack": "stack.yaml"}, "baseline": True,
        "axes": {"stack.models.work.gate.threshold": [0.3, 0.6, 0.9]}}))
    spec = load_spec(client_dir / "spec.yaml")
    serial = run_sweep(spec, tmp_path / "serial", jobs=1)
    ship = sweep_run.ship_inputs

    def ship_then_hide(client, tasks):
        shipped = ship(client, tasks)
        for name in ("detector", "worker"):
            (client_dir / f"{name}.parquet").rename(client_dir / f"{name}.gone")
        return shipped

    monkeypatch.setattr(sweep_run, "ship_inputs", ship_then_hide)
    remote = run_sweep(spec, tmp_path / "remote", scheduler=address)
    pd.testing.assert_frame_equal(_rows(serial), _rows(remote))
    # A worker writes its copies when it runs a point: each that ran one has both traces, under their hashes.
    digests = {file_sha256(client_dir / f"{name}.gone") for name in ("detector", "worker")}
    copies = [{c.name.split(".")[0] for c in folder.rglob("dslsim-inputs/*")} for folder in folders]
    assert digests in copies and all(c in (set(), digests) for c in copies)


#: How the console script starts (pyproject: dslsim = "dslsim.cli.entry:main").
ENTRY = "import sys; sys.argv[0] = 'dslsim'; from dslsim.cli.entry import main; main()"


def _point_files(out: Path) -> dict[str, int]:
    """The store's point files, by name, with their modification times."""
    folder = out / "points"
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")} if folder.is_dir() else {}


def _stop_client_mid_sweep(cmd: list[str], out: Path, after: int, sig: int) -> tuple[int, str]:
    """Run the sweep command as its own process group; once the store holds more than ``after`` points (and not
    all), send ``sig`` to the group. Returns (status, stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and len(_point_files(out)) <= after:
            assert time.monotonic() < deadline, "the sweep wrote no point"
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it was stopped"
        os.killpg(proc.pid, sig)
        return proc.wait(timeout=60), proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _assert_cluster_healthy(address: str, workers: list[subprocess.Popen]) -> None:
    """Both workers alive and registered, and the scheduler forgets the lost client's tasks."""
    from distributed import Client

    assert all(w.poll() is None for w in workers)
    with Client(address, timeout="5s") as client:
        assert len(client.scheduler_info()["workers"]) == 2
        assert sorted(client.run(os.getpid).values()) == sorted(w.pid for w in workers)
        deadline = time.monotonic() + 20
        while (left := client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))) > 0:
            assert time.monotonic() < deadline, f"the scheduler still holds {left} tasks of a client that is gone"
            time.sleep(0.2)


def test_a_client_killed_or_interrupted_mid_sweep_loses_nothing(tmp_path, cluster):
    """The sweep's client dies mid-sweep, first by SIGKILL (no goodbye), then, on the re-run, by Ctrl-C as a terminal
    sends it: the points it stored stay whole, the scheduler and workers carry on, and a third run of the same
    command finishes with the table of a clean run."""
    address, _, workers = cluster
    trace = tmp_path / "trace.parquet"
    write_trace(synth_trace(duration=60.0, frame_rate=50.0, light_share=0.8, mean_burst=0.5, seed=8), trace)
    spec = write_spec(tmp_path, trace, {"scenario.opp.big": ["low", "mid", "high"],
                                        "scenario.sleep.big.core_off": [f"{i} ms" for i in range(1, 17)]})
    clean = run_sweep(load_spec(spec), tmp_path / "clean", jobs=1, progress=False)
    assert len(clean) == 48
    out = tmp_path / "remote"
    cmd = [sys.executable, "-c", ENTRY, "sweep", str(spec), "--out", str(out), "--scheduler", address]

    status, _ = _stop_client_mid_sweep(cmd, out, 0, signal.SIGKILL)
    assert status == -signal.SIGKILL
    killed = _point_files(out)
    assert 0 < len(killed) < 48
    # Whole points only: every file is one row of a point of the sweep (a write cut short is a temporary file,
    # which the next run removes).
    kept = SweepStore(out).table()
    assert len(kept) == len(killed)
    pd.testing.assert_frame_equal(_rows(kept), _rows(clean[clean["point_id"].isin(kept["point_id"])]))
    _assert_cluster_healthy(address, workers)

    status, err = _stop_client_mid_sweep(cmd, out, len(killed), signal.SIGINT)
    assert status == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[1:] == ["interrupted; nothing half-written was left on disk."], err
    assert "Traceback" not in err
    interrupted = _point_files(out)
    assert len(killed) < len(interrupted) < 48
    assert all(interrupted[name] == mtime for name, mtime in killed.items())
    assert not [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    _assert_cluster_healthy(address, workers)

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    final = _point_files(out)
    assert len(final) == 48 and all(final[name] == mtime for name, mtime in interrupted.items())
    assert not [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    pd.testing.assert_frame_equal(_rows(pd.read_parquet(out / "results.parquet")), _rows(clean))
    _assert_cluster_healthy(address, workers)
