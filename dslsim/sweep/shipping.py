"""Inputs that travel with a sweep to Dask workers that share no filesystem with the client.

The client reads each input file once, hashes it, and scatters its bytes to every worker under a key made of that
hash (so a worker receives each input once, however many points use it, and two sweeps of the same file share
it). On a worker the bytes are written once to ``dslsim-inputs/<sha256><suffix>`` in the worker's own local
directory (Dask's scratch space for that worker; a temporary name, then a rename: two tasks on one worker never see
half a file) and the points read that copy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dslsim.fileio import file_sha256, read_input_bytes
from dslsim.sweep.point import run_points

#: The largest input file a sweep ships (a month of 75 Hz frames is about 0.7 GB).
MAX_SHIPPED_BYTES = 4 << 30

#: Keys of a stack's model that name a file.
STACK_FILE_KEYS = ("trace", "model")


def input_files(task: dict[str, Any]) -> dict[str, str]:
    """The files a task reads, as the task names them -> their path on the client: its trace, and a stack's model
    traces and files and its scenario file (relative to the stack; a shipped name is no file and is not shipped:
    the worker's dslsim has it)."""
    files: dict[str, str] = {}
    if task.get("trace"):
        files[task["trace"]] = task["trace"]
    stack = task.get("stack")
    if isinstance(stack, dict):
        folder = Path(task.get("stack_dir") or ".")
        named = [m.get(k) for m in (stack.get("models") or {}).values() if isinstance(m, dict)
                 for k in STACK_FILE_KEYS]
        named.append(stack.get("scenario"))
        for name in named:
            if isinstance(name, str) and (folder / name).is_file():
                files[name] = str(folder / name)
    return files


def ship_inputs(client, tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Scatter every input file the tasks name (:func:`input_files`) to all workers of ``client``; returns, by
    the name as the tasks give it, ``{"sha256", "suffix", "data"}`` with ``data`` the scattered future."""
    shipped: dict[str, dict[str, Any]] = {}
    for task in tasks:
        for name, path in input_files(task).items():
            if name in shipped:
                continue
            digest = file_sha256(path)
            data = read_input_bytes(path, MAX_SHIPPED_BYTES, "sweep input")
            future = client.scatter({f"dslsim-input-{digest}": data}, broadcast=True, hash=False)
            shipped[name] = {"sha256": digest, "suffix": Path(path).suffix, "data": future[f"dslsim-input-{digest}"]}
            del data
    return shipped


def local_copy(sha256: str, suffix: str, data: bytes, folder: str | Path | None = None) -> Path:
    """The worker's copy of a shipped input, written on first use in ``folder`` (by default the Dask worker's
    local directory, else the system's temporary folder)."""
    import hashlib

    target = Path(folder or _worker_directory()) / "dslsim-inputs" / f"{sha256}{suffix}"
    if target.is_file():
        return target
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"a shipped input arrived damaged (expected sha256 {sha256})")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def _worker_directory() -> str:
    """The running Dask worker's local directory (its own scratch space), or the temporary folder outside one."""
    try:
        from distributed import get_worker

        return get_worker().local_directory
    except (ImportError, ValueError):
        import tempfile

        return tempfile.gettempdir()


def run_shipped_points(tasks: list[dict[str, Any]], shipped: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """On a worker: point each task at the local copies of its shipped inputs, then run the points. (Dask has
    already replaced each scattered future by its bytes.)"""
    import warnings

    from dslsim.plausible import PlausibilityWarning

    local = {name: str(local_copy(item["sha256"], item["suffix"], item["data"])) for name, item in shipped.items()}
    with warnings.catch_warnings():  # the client printed them once when it loaded the spec
        warnings.simplefilter("ignore", PlausibilityWarning)
        return run_points([with_local_files(task, local) for task in tasks])


def with_local_files(task: dict[str, Any], local: dict[str, str]) -> dict[str, Any]:
    """``task`` with every file it names (:func:`input_files`) replaced by its local copy (an absolute path)."""
    task = dict(task)
    if task.get("trace") in local:
        task["trace"] = local[task["trace"]]
    stack = task.get("stack")
    if isinstance(stack, dict):
        stack = dict(stack)
        stack["models"] = {name: {k: local.get(v, v) if k in STACK_FILE_KEYS and isinstance(v, str) else v
                                  for k, v in model.items()} if isinstance(model, dict) else model
                           for name, model in (stack.get("models") or {}).items()}
        if isinstance(stack.get("scenario"), str):
            stack["scenario"] = local.get(stack["scenario"], stack["scenario"])
        task["stack"] = stack
    return task
