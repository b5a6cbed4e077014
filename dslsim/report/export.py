"""Write a simulation result to disk: frames, resources, per-core table and summary, each written atomically."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import pandas as pd

from dslsim.errors import DslsimError
from dslsim.fileio import write_atomic, write_text_atomic
from dslsim.sim.results import SimResult

EXPORT_FORMATS = ("csv", "parquet", "json")


def json_safe(value):
    """``value`` with NaN/inf as None and numpy scalars as Python numbers, ready for ``json.dumps``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "to_dict"):  # a Summary: its flat form
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write one DataFrame as CSV, Parquet or JSON records."""
    if fmt == "csv":
        return write_atomic(path, lambda p: df.to_csv(p, index=False))
    if fmt == "parquet":
        return write_atomic(path, lambda p: df.to_parquet(p, index=False))
    if fmt == "json":
        return write_atomic(path, lambda p: df.to_json(p, orient="records", indent=1, double_precision=15))
    raise DslsimError(f"unknown table format {fmt!r}; expected one of {list(EXPORT_FORMATS)}.")


def write_result(result: SimResult, out_dir: str | Path, formats: tuple[str, ...] = ("csv", "json"),
                 frames: bool = True) -> list[Path]:
    """Write ``summary.json`` always, plus ``frames``, ``resources`` and ``per_core`` tables in each format."""
    out = Path(out_dir)
    # Every file of one run carries the same run id (in summary.json and in run.json, written last): a folder
    # whose files come from two runs (a re-run killed mid-write) shows it, and stale tables are removed first.
    run_id = uuid.uuid4().hex
    stale = [out / "run.json"] + [out / f"{n}.{f}" for n in ("frames", "resources", "per_core")
                                  for f in ("csv", "parquet", "json")]
    stale += list(out.glob(".*.tmp")) if out.is_dir() else []  # left by a run killed mid-write
    for path in stale:
        path.unlink(missing_ok=True)
    written = [write_text_atomic(out / "summary.json", json.dumps(
        json_safe({"run_id": run_id, "summary": result.summary, "baseline": result.baseline, "meta": result.meta}),
        indent=1))]
    tables = {"resources": result.resources, "per_core": result.per_core()}
    if frames:
        tables["frames"] = result.frames
    for fmt in formats:
        for name, df in tables.items():
            written.append(write_table(df, out / f"{name}.{fmt}", fmt))
    written.append(write_text_atomic(out / "run.json", json.dumps(
        {"run_id": run_id, "files": [p.name for p in written], "complete": True}, indent=1)))
    return written
