"""What dslsim ships inside the package: device profiles, example traces, the MLPerf Tiny measurements and models.

Found as package resources, so they are there in a wheel install as in a source checkout; a name (``watch``,
``dsl-fr-50hz-10min``) finds a shipped file, anything else is taken as a path.

>>> sorted(shipped_profiles())[:3]
['earbud', 'phone', 'stm32h7a3']
>>> trace_path("dsl-fr-50hz-10min").name
'dsl-fr-50hz-10min.parquet'
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from dslsim.errors import DslsimError

DATA = Path(str(files("dslsim") / "data"))
PROFILES = DATA / "profiles"
TRACES = DATA / "traces"
MEASUREMENTS = DATA / "validation" / "mlperf-tiny.yaml"
#: Measured discharges of battery cells (what the kinetic battery model is fitted to and validated against).
CELLS = DATA / "validation" / "cells"
MODELS = DATA / "models" / "mlperf-tiny"
#: The small trained DSL checkpoint (C=8, 16 kHz) that model commands use by default.
CHECKPOINT = Path(str(files("dslsim") / "model" / "assets" / "dsl-c8-16k.pt"))
#: The worked early-exit example: a three-exit speech detector (``dslsim model early-exit``).
EARLY_EXIT_CHECKPOINT = Path(str(files("dslsim") / "model" / "assets" / "early-exit-vad.pt"))


def shipped_profiles() -> dict[str, Path]:
    """Names and files of the shipped device profiles."""
    return {p.stem: p for p in sorted(PROFILES.glob("*.yaml"))}


def shipped_traces() -> dict[str, Path]:
    """Names and files of the shipped example traces."""
    return {p.stem: p for p in sorted(TRACES.glob("*.parquet"))}


def shipped_cells() -> dict[str, Path]:
    """Names and files of the shipped cell discharge measurements."""
    return {p.stem: p for p in sorted(CELLS.glob("*.yaml"))}


def trace_path(name_or_path: str | Path) -> Path:
    """A shipped trace by name (with or without '.parquet'), else the path as given.

    An existing file wins over a shipped name, so a user's ``watch.parquet`` in the working folder is theirs.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_traces()
    name = path.name[: -len(".parquet")] if path.name.endswith(".parquet") else path.name
    if path.parent == Path(".") and name in shipped:
        return shipped[name]
    raise DslsimError(f"{name_or_path}: no such trace file, and not a shipped trace ({', '.join(shipped)}); "
                      f"'dslsim trace list' lists them.")
