"""Resumable sweep results: one small JSON file per finished point, written atomically, plus a manifest.

Layout of a store folder::

    manifest.json          spec name, source, base digest, axes and the points
    points/<id>.json       one row per finished point (present = done; never half-written)
    results.parquet/.csv   all rows, consolidated when the sweep ends

A row is a flat mapping of numbers and strings, so JSON holds it exactly (floats round-trip) and a point costs the
main process tens of microseconds to store, not the milliseconds of a one-row Parquet file. Stores written by
earlier versions (``points/<id>.parquet``) are still read.

An interrupted sweep (Ctrl-C, kill, lost worker) resumes by running only the points without a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from dslsim.errors import DslsimError, InputError, describe, first_line
from dslsim.fileio import check_input_file, read_input_bytes, write_atomic, write_text_atomic
from dslsim.sweep.spec import SweepSpec, point_id


#: Largest manifest read (a 100,000-point sweep's is a few tens of MB).
MAX_MANIFEST_BYTES = 512 * 2**20
#: Largest point file read (one row: a few kB).
MAX_POINT_BYTES = 16 * 2**20
#: The keys :meth:`SweepStore.open` writes into a manifest.
MANIFEST_KEYS = ("name", "source", "digest", "profile", "scenario", "trace", "baseline", "axes", "points")


class SweepStore:
    """The folder that holds one sweep's results."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.points_dir = self.root / "points"

    def open(self, spec: SweepSpec, fresh: bool = False) -> None:
        """Create the store, or check that an existing one belongs to the same base and axes."""
        manifest = self.root / "manifest.json"
        digest = spec.digest()
        if manifest.exists() and not fresh:
            try:
                old = self.manifest()
            except DslsimError as exc:
                # Its points may still be good; only the user can say whether to discard them.
                raise DslsimError(f"{exc} Its results cannot be matched to this sweep: use another --out folder, "
                                  f"or --fresh to discard them.") from None
            if old.get("digest") != digest:
                raise DslsimError(
                    f"{self.root}: holds results of another sweep base (profile, scenario, trace or axes changed); "
                    f"use another --out folder, or --fresh to discard them.")
        if fresh and self.points_dir.exists():
            for f in self._files():
                f.unlink()
        self.points_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.points_dir.glob(".*.tmp"):  # left by a process killed mid-write (SIGKILL, power loss)
            stale.unlink(missing_ok=True)
        write_text_atomic(manifest, json.dumps({
            "name": spec.name, "source": spec.source, "digest": digest, "profile": spec.profile_file,
            "scenario": spec.scenario_source, "trace": spec.trace_file, "stack": spec.stack_source or None,
            "baseline": spec.baseline, "axes": spec.axes, "points": [{"id": point_id(p), **p} for p in spec.points]}, indent=1, default=str))

    def _files(self) -> list[Path]:
        return [*self.points_dir.glob("*.json"), *self.points_dir.glob("*.parquet")]

    def _read(self, path: Path) -> dict[str, Any] | None:
        """A point file's row, or None if it is not one (a damaged or foreign file)."""
        try:
            if path.suffix == ".json":
                row = json.loads(read_input_bytes(path, MAX_POINT_BYTES, "a sweep point (JSON)"))
            else:
                check_input_file(path, MAX_POINT_BYTES, "a sweep point (Parquet)")
                rows = pd.read_parquet(path).to_dict("records")
                row = rows[0] if len(rows) == 1 else None
        except Exception:  # json, pyarrow and the bounded reader raise several types for a damaged file
            return None
        return row if isinstance(row, dict) and row.get("point_id") == path.stem else None

    def done(self) -> set[str]:
        """Ids of the points that have a readable result file; an unreadable one (a disk fault, a foreign file)
        is removed so that its point runs again instead of blocking the sweep."""
        ids = set()
        for p in self._files():
            if self._read(p) is not None:
                ids.add(p.stem)
            else:
                p.unlink(missing_ok=True)
        return ids

    def save(self, row: dict[str, Any]) -> None:
        """Write one point's row atomically."""
        write_text_atomic(self.points_dir / f"{row['point_id']}.json", json.dumps(row, default=_plain))

    def manifest(self, require: tuple[str, ...] = ("points",)) -> dict[str, Any]:
        """The manifest written by :meth:`open`, read through the bounded reader and checked: a JSON object with
        the keys ``require`` (a report needs more of :data:`MANIFEST_KEYS` than resuming does; stores of earlier
        versions lack some), ``points`` a list of objects with a text ``id``, ``axes`` (if there) an object. A
        damaged one is an error naming the file and the key, never an internal error."""
        path = self.root / "manifest.json"
        if not path.exists():
            raise DslsimError(f"{self.root}: not a sweep folder (no manifest.json); run 'dslsim sweep' first.")
        try:
            data = json.loads(read_input_bytes(path, MAX_MANIFEST_BYTES, "a sweep manifest (JSON)"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DslsimError(f"{path}: not JSON ({first_line(exc)}); a sweep writes it whole, so it was damaged "
                              f"after.") from None
        if not isinstance(data, dict):
            raise InputError(path, "", describe(data), "a JSON object, as 'dslsim sweep' writes it")
        for key in ("points", *require):
            if key not in data:
                raise InputError(path, key, "nothing", "this key, as 'dslsim sweep' writes it")
        if "axes" in data and not isinstance(data["axes"], dict):
            raise InputError(path, "axes", describe(data["axes"]), "an object of the swept keys")
        points = data["points"]
        if not isinstance(points, list):
            raise InputError(path, "points", describe(points), "a list of the sweep's points")
        for i, point in enumerate(points):
            if not isinstance(point, dict) or not isinstance(point.get("id"), str):
                raise InputError(path, f"points[{i}]", describe(point), "an object with a text 'id'")
        return data

    def table(self) -> pd.DataFrame:
        """All finished rows, in the manifest's point order."""
        order = {p["id"]: i for i, p in enumerate(self.manifest()["points"])}
        files = sorted(self._files(), key=lambda p: (order.get(p.stem, len(order)), p.suffix))
        rows, seen = [], set()
        for f in files:
            row = self._read(f)
            if row is not None and row["point_id"] not in seen:
                seen.add(row["point_id"])
                rows.append(row)
        return pd.DataFrame(rows)

    def consolidate(self) -> pd.DataFrame:
        """Write results.parquet and results.csv from the point files; return the table."""
        df = self.table()
        write_atomic(self.root / "results.parquet", lambda p: df.to_parquet(p, index=False))
        write_atomic(self.root / "results.csv", lambda p: df.to_csv(p, index=False))
        return df


def _plain(value: Any) -> Any:
    """numpy scalars in a row as Python numbers (JSON's own types)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"a sweep row holds {type(value).__name__}, not a number or string")
