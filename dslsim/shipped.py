"""What dslsim ships: device profiles, example traces, the MLPerf Tiny measurements and models.

The profiles and traces live at the top of the repository (``hw_profiles/``, ``traces/``), where a user finds and
edits them; a wheel carries them as package data (``dslsim/data/profiles``, ``dslsim/data/traces``, mapped by
``setup.py`` at build time). In a source checkout (an editable install) the top-level folders are read, else the
installed copy, so a name (``watch``, ``dsl-fr-50hz-10min``) finds a shipped file from any folder.

One rule resolves a name for profiles and traces alike: an existing file as given wins (a user's
``watch.yaml`` in the working folder is theirs when named ``watch.yaml``); otherwise a bare name, with or without
the file suffix, is a shipped one; anything else is an error naming it.

>>> sorted(shipped_profiles())[:3]
['earbud', 'phone', 'stm32h7a3']
>>> trace_path("dsl-fr-50hz-10min").name
'dsl-fr-50hz-10min.parquet'
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from dslsim.errors import DslsimError
from dslsim.fileio import file_sha256

DATA = Path(str(files("dslsim") / "data"))
#: The repository root when dslsim runs from a source checkout (there is a pyproject.toml beside the package).
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _shipped_dir(top_level: str, installed: str) -> Path:
    """The top-level folder in a source checkout, else the copy a wheel installed inside the package."""
    source = SOURCE_ROOT / top_level
    if source.is_dir() and (SOURCE_ROOT / "pyproject.toml").is_file():
        return source
    return DATA / installed


#: The shipped device profiles (``hw_profiles/`` in a checkout, ``dslsim/data/profiles`` in a wheel).
PROFILES = _shipped_dir("hw_profiles", "profiles")
#: The shipped traces and their README (``traces/`` in a checkout, ``dslsim/data/traces`` in a wheel).
TRACES = _shipped_dir("traces", "traces")
MEASUREMENTS = DATA / "validation" / "mlperf-tiny.yaml"
#: Measured discharges of battery cells (what the kinetic battery model is fitted to and validated against).
CELLS = DATA / "validation" / "cells"
MODELS = DATA / "models" / "mlperf-tiny"
#: The small trained DSL checkpoint (C=8, 16 kHz) that model commands use by default.
CHECKPOINT = Path(str(files("dslsim") / "model" / "assets" / "dsl-c8-16k.pt"))
#: The worked early-exit example: a three-exit speech detector (``dslsim model early-exit``).
EARLY_EXIT_CHECKPOINT = Path(str(files("dslsim") / "model" / "assets" / "early-exit-vad.pt"))

#: Where the shipped checkpoints live inside the package, as provenance names them.
CHECKPOINT_DIR = "dslsim/model/assets"


def checkpoint_source(path: str | Path) -> dict[str, str]:
    """How an exported trace records the checkpoint it came from: ``checkpoint`` (a shipped one by its place in
    the package, ``shipped: dslsim/model/assets/<file>``, not this machine's path to it; any other as given) and
    ``checkpoint_sha256``.

    >>> checkpoint_source(EARLY_EXIT_CHECKPOINT)["checkpoint"]
    'shipped: dslsim/model/assets/early-exit-vad.pt'
    """
    resolved = Path(path).resolve()
    shipped = any(resolved == c.resolve() for c in (CHECKPOINT, EARLY_EXIT_CHECKPOINT))
    return {"checkpoint": f"shipped: {CHECKPOINT_DIR}/{resolved.name}" if shipped else str(path),
            "checkpoint_sha256": file_sha256(path)}


#: File suffixes of each kind of shipped file (the first is what shipped files carry).
SUFFIXES = {"profile": (".yaml", ".yml"), "trace": (".parquet",)}


def origin(path: Path) -> str:
    """Where a shipped file comes from, as listings say it: the source checkout's top-level folder
    (``hw_profiles/watch.yaml``) or the package data a wheel installed (``package data:
    dslsim/data/profiles/watch.yaml``).

    >>> origin(PROFILES / "watch.yaml")
    'hw_profiles/watch.yaml'
    """
    path = Path(path)
    for root in (SOURCE_ROOT, DATA.parent.parent):
        if path.is_relative_to(root):
            where = path.relative_to(root).as_posix()
            return f"package data: {where}" if path.is_relative_to(DATA) else where
    return str(path)


def shipped_profiles() -> dict[str, Path]:
    """Names and files of the shipped device profiles."""
    return {p.stem: p for p in sorted(PROFILES.glob("*.yaml"))}


def shipped_traces() -> dict[str, Path]:
    """Names and files of the shipped example traces."""
    return {p.stem: p for p in sorted(TRACES.glob("*.parquet"))}


def shipped_cells() -> dict[str, Path]:
    """Names and files of the shipped cell discharge measurements."""
    return {p.stem: p for p in sorted(CELLS.glob("*.yaml"))}


def _shipped(kind: str) -> dict[str, Path]:
    if kind not in SUFFIXES:
        raise ValueError(f"unknown kind of shipped file {kind!r}; one of {', '.join(SUFFIXES)}")
    return shipped_profiles() if kind == "profile" else shipped_traces()


def shipped_name(name_or_path: str | Path, kind: str) -> str | None:
    """The shipped name a bare argument spells (``watch`` or ``watch.yaml``), or None.

    >>> shipped_name("watch.yaml", "profile"), shipped_name("hw/watch.yaml", "profile"), shipped_name("x", "trace")
    ('watch', None, None)
    """
    path = Path(name_or_path)
    if path.parent != Path("."):
        return None
    name = path.name
    for suffix in SUFFIXES[kind]:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name if name in _shipped(kind) else None


def resolve_shipped(name_or_path: str | Path, kind: str) -> Path:
    """A profile or trace file: an existing file as given, else a shipped name; an error naming the argument.

    ``kind`` is ``"profile"`` or ``"trace"``.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.is_dir():
        raise DslsimError(f"{name_or_path}: a folder, not a {kind} file.")
    if path.exists():   # a pipe or a device: never read (it may not end)
        raise DslsimError(f"{name_or_path}: not a regular file (a pipe or a device); expected a {kind} file.")
    name = shipped_name(path, kind)
    if name is not None:
        return _shipped(kind)[name]
    shipped = _shipped(kind)
    listing = "dslsim profiles list" if kind == "profile" else "dslsim trace list"
    raise DslsimError(f"{name_or_path}: no such {kind} file, and not a shipped {kind}; shipped {kind}s: "
                      f"{', '.join(shipped) or 'none found'} ('{listing}' says where each comes from).")


def trace_path(name_or_path: str | Path) -> Path:
    """A shipped trace by name (with or without '.parquet'), else the path as given.

    An existing file wins over a shipped name, so a user's ``watch.parquet`` in the working folder is theirs.
    """
    return resolve_shipped(name_or_path, "trace")


@dataclass(frozen=True)
class Shadow:
    """A local file that takes a shipped name's place for one spelling of it."""

    local: Path
    name: str
    spelling: str

    def sentence(self, flag: str) -> str:
        """What the user should know, e.g. ``./watch.yaml shadows the shipped 'watch' for -p watch.yaml ...``."""
        if self.spelling == self.name:
            return (f"{self.local} shadows the shipped '{self.name}': {flag} {self.name} reads this file, "
                    f"not the shipped one.")
        return (f"{self.local} shadows the shipped '{self.name}' for {flag} {self.spelling} (this file is read); "
                f"{flag} {self.name} still reads the shipped one.")


def shadows(kind: str, folder: str | Path = ".") -> list[Shadow]:
    """Files in ``folder`` (the working folder by default) that a shipped name's spellings would read instead.

    A name is looked up as given first, so ``./watch`` shadows ``-p watch`` and ``./watch.yaml`` shadows
    ``-p watch.yaml``.
    """
    folder = Path(folder)
    found = []
    for name in _shipped(kind):
        for spelling in (name, *(name + s for s in SUFFIXES[kind])):
            local = folder / spelling
            if local.is_file():
                found.append(Shadow(local if folder != Path(".") else Path(".") / spelling, name, spelling))
    return found
