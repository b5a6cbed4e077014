"""Sweeps on a real Dask cluster: a scheduler and workers started as separate processes, each worker in its own
empty working folder, run a sweep whose trace exists only on the client; the trace is shipped to the workers once,
under its content hash."""

from __future__ import annotations

import os
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
