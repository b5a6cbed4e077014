"""Read a bench current trace: a CSV of time and current (and optionally voltage) as the common bench tools export
it, with units taken from the headers.

Accepted headers (docs/measured.md lists them with where each is confirmed):

* Nordic Power Profiler Kit II (nRF Connect Power Profiler): ``Timestamp(ms),Current(uA)`` and optional digital
  channels ``D0-D7`` (one string) or ``D0,...,D7`` (ignored);
* Joulescope: ``#time (s),current (A),voltage (V)`` from a sample export, ``#time,current,voltage,power,charge,
  energy`` from a statistics recording (bare names are SI);
* Qoitech Otii and others: any header ``NAME (UNIT)`` or ``NAME [UNIT]`` whose name contains ``time`` or
  ``timestamp``, ``current`` and optionally ``voltage``, e.g. ``Timestamp (s),Main current (A),Main voltage (V)``.

Every problem is a :class:`~dslsim.errors.DslsimError` naming the file, the column and (for a value) the line.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "ppk.csv"
>>> _ = path.write_text("Timestamp(ms),Current(uA),D0-D7\\n" + "".join(
...     f"{0.01 * i:.2f},{100 + i},00000000\\n" for i in range(20)))
>>> m = read_measurement(path)
>>> m.tool, m.columns["current"], round(m.sample_period_s * 1e6, 3), float(m.current_A[3])
('PPK2', 'Current(uA)', 10.0, 0.000103)
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError

#: Largest CSV read (bytes): a 1 GiB PPK2 export is ~40 M samples, 7 minutes at 100 kHz; past that, export a
#: window or a lower rate from the tool, or raise the limit (``--max-mb``).
MAX_BYTES = 1 << 30
#: Fewest samples a comparison needs.
MIN_SAMPLES = 10
#: A step between samples this many times the median sampling period is reported as a gap (the current across it
#: is taken as the sample before it, which the tool did not measure).
GAP_FACTOR = 10.0

#: Units each column may carry, to SI.
TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ns": 1e-9}
CURRENT_UNITS = {"A": 1.0, "mA": 1e-3, "uA": 1e-6, "\u00b5A": 1e-6, "\u03bcA": 1e-6, "nA": 1e-9}
VOLTAGE_UNITS = {"V": 1.0, "mV": 1e-3}
UNITS = {"time": TIME_UNITS, "current": CURRENT_UNITS, "voltage": VOLTAGE_UNITS}
#: The units as error messages list them (the alternative spellings of micro and seconds left out).
UNIT_LIST = {"time": "s, ms, us, ns", "current": "A, mA, uA, nA", "voltage": "V, mV"}
#: Bare column names read as SI (Joulescope's statistics CSV writes ``#time,current,voltage,...``).
SI_NAMES = {"time": "s", "current": "A", "voltage": "V"}
#: What a column's name must contain to be read as each quantity.
ROLE_PATTERNS = {"time": re.compile(r"\b(time|timestamp)\b"), "current": re.compile(r"\bcurrent\b"),
                 "voltage": re.compile(r"\bvoltage\b")}
ROLES = ("time", "current", "voltage")

_HEADER = re.compile(r"^(?P<name>.*?)\s*(?:[(\[]\s*(?P<unit>[^()\[\]]*?)\s*[)\]])?$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CELL = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[A-Za-z\u00b5\u03bc]+)?\s*$")


@dataclass(frozen=True)
class Column:
    """One column of the file's header line, as read."""

    header: str
    """The header text as in the file (without a leading '#')."""
    index: int
    """Its position (0-based)."""
    name: str
    """The header without its unit, e.g. 'Main current'."""
    unit: str | None
    """The unit in parentheses or brackets, e.g. 'uA', or None."""
    role: str | None
    """'time', 'current', 'voltage', or None for a column that is read past (digital channels, power, ...)."""


@dataclass(frozen=True)
class Measurement:
    """A measured current trace: sample times (s, strictly increasing), current (A) and, when the file has it,
    voltage (V) per sample. Sample ``i`` is taken as the current from ``time_s[i]`` to the next sample (the last
    one for one median sampling period)."""

    source: str
    """The file it was read from."""
    time_s: np.ndarray
    """Sample times in seconds, as the tool's clock counts them."""
    current_A: np.ndarray
    """Current in amperes."""
    voltage_V: np.ndarray | None
    """Voltage in volts per sample, or None when the file has no voltage column."""
    columns: dict[str, str]
    """The header read for each quantity ('time', 'current', 'voltage')."""
    units: dict[str, str]
    """The unit each was read in (as the header gives it; 'SI' for a bare Joulescope name)."""
    tool: str
    """The bench tool the headers look like: 'PPK2', 'Joulescope', 'Otii' or 'generic' (informative only)."""
    ignored: tuple[str, ...] = ()
    """Headers of the columns read past."""
    warnings: list[str] = field(default_factory=list)
    """Things about the recording to know before trusting a comparison (gaps), one sentence each."""

    @property
    def samples(self) -> int:
        """Number of samples."""
        return len(self.time_s)

    @property
    def sample_period_s(self) -> float:
        """The median step between samples (s)."""
        return float(np.median(np.diff(self.time_s)))

    @property
    def start_s(self) -> float:
        """When the first sample starts (s, the tool's clock)."""
        return float(self.time_s[0])

    @property
    def end_s(self) -> float:
        """When the last sample ends: its time plus one median sampling period (s)."""
        return float(self.time_s[-1]) + self.sample_period_s

    @property
    def duration_s(self) -> float:
        """Seconds the samples cover."""
        return self.end_s - self.start_s

    def edges(self) -> np.ndarray:
        """Sample boundaries (s): each sample's time, then the end of the last one (``samples + 1`` values)."""
        return np.r_[self.time_s, self.end_s]

    def power_W(self, voltage: float | None = None) -> np.ndarray:
        """Power per sample (W): current times ``voltage`` when given, else times the file's voltage column."""
        if voltage is not None:
            return self.current_A * float(voltage)
        if self.voltage_V is None:
            raise DslsimError(f"{self.source}: no voltage column; give the rail voltage (--voltage).")
        return self.current_A * self.voltage_V


def _fail(path: str | Path, what: str) -> DslsimError:
    return DslsimError(f"{path}: {what}")


def check_file(path: str | Path, max_bytes: int = MAX_BYTES) -> int:
    """The size of ``path`` in bytes, after checking it is a regular file no larger than ``max_bytes``."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _fail(path, "no such file.") from None
    except OSError as exc:
        raise _fail(path, f"cannot read it: {exc.strerror}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "is a folder; expected a CSV file exported by the bench tool.")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(path, "is not a regular file (a pipe or a device); save the export to a file first.")
    if info.st_size > max_bytes:
        raise _fail(path, f"{info.st_size / 2**20:,.0f} MiB; at most {max_bytes / 2**20:,.0f} MiB is read (export a "
                          f"shorter window or a lower sampling rate from the tool, or raise --max-mb).")
    if info.st_size == 0:
        raise _fail(path, "is empty; expected a header line and samples.")
    return info.st_size


def _decode_head(path: str | Path) -> tuple[list[str], str]:
    """The first lines of the file (from its first 64 KiB) and the text encoding to read it with."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if b"\x00" in head:
        raise _fail(path, "holds binary data, not CSV text (a .ppk2, .otii or .jls recording? export it as CSV "
                          "from the tool).")
    # cp1252: a Windows tool writing 'µA' as byte 0xB5; latin-1 decodes anything, the parser then judges it.
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            if encoding == "utf-8-sig" and exc.start >= len(head) - 3:  # a character cut by the 64 KiB read
                text = head[:exc.start].decode(encoding)
                break
    return text.splitlines(), encoding


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) else ","


def _is_data(fields: list[str]) -> bool:
    """Whether a line's fields are all bare numbers (a sample, not a header)."""
    cells = [_CELL.match(f) for f in fields if f.strip()]
    return bool(cells) and all(c is not None and not c.group("unit") for c in cells)


def parse_header(text: str, index: int) -> Column:
    """One header field: its name, unit and role ('Timestamp(ms)' -> name 'Timestamp', unit 'ms', role 'time')."""
    header = text.strip().strip('"').strip()
    match = _HEADER.match(header)
    name, unit = (match.group("name").strip(), match.group("unit")) if match else (header, None)
    key = " ".join(name.lower().split())
    roles = [role for role in ROLES if ROLE_PATTERNS[role].search(key)]
    return Column(header=header, index=index, name=name, unit=unit or None, role=roles[0] if len(roles) == 1 else None)


def _choose(path, columns: list[Column], wanted: Mapping[str, str]) -> dict[str, Column]:
    """The column for each quantity: the one the user named, else the only one whose name fits."""
    chosen: dict[str, Column] = {}
    headers = ", ".join(repr(c.header) for c in columns)
    for role, header in wanted.items():
        if role not in ROLES:
            raise DslsimError(f"--column {role}=...: expected one of {', '.join(ROLES)}.")
        hits = [c for c in columns if c.header.lower() == header.strip().lower()]
        if not hits:
            raise _fail(path, f"no column {header!r} (for {role}); the columns are {headers}.")
        chosen[role] = Column(hits[0].header, hits[0].index, hits[0].name, hits[0].unit, role)
    taken = {c.index for c in chosen.values()}
    for role in ROLES:
        if role in chosen:
            continue
        hits = [c for c in columns if c.role == role and c.index not in taken]
        if len(hits) > 1:
            raise _fail(path, f"{len(hits)} {role} columns ({', '.join(repr(c.header) for c in hits)}); name the "
                              f"one to use with --column {role}='{hits[0].header}'.")
        if hits:
            chosen[role] = hits[0]
    for role in ("time", "current"):
        if role not in chosen:
            example = {"time": "'Timestamp(ms)', 'Time (s)' or 'time'",
                       "current": "'Current(uA)', 'Main current (A)' or 'current'"}[role]
            raise _fail(path, f"no {role} column: the columns are {headers}; expected a header such as {example} "
                              f"(or give the column names with --header, or pick one with --column {role}=NAME).")
    for role, column in chosen.items():
        units = UNITS[role]
        if column.unit is None:
            if " ".join(column.name.lower().split()) not in SI_NAMES:
                raise _fail(path, f"column {column.header!r}: no unit in the header; expected e.g. "
                                  f"'{column.name} ({next(iter(units))})' (units: {UNIT_LIST[role]}), or rename "
                                  f"the columns with --header.")
        elif column.unit not in units:
            raise _fail(path, f"column {column.header!r}: unit {column.unit!r} is not one of {UNIT_LIST[role]}.")
    return chosen


def _guess_tool(chosen: dict[str, Column]) -> str:
    time, current = chosen["time"], chosen["current"]
    if time.header.replace(" ", "") == "Timestamp(ms)" and current.header.replace(" ", "") == "Current(uA)":
        return "PPK2"
    if time.name.lower() == "time" and current.name.lower() == "current":
        return "Joulescope"
    if "main" in current.name.lower():
        return "Otii"
    return "generic"


def _numbers(path, column: Column, values: pd.Series, first_line: int) -> tuple[np.ndarray, str]:
    """A column's values as floats in its unit, and that unit; cells carrying their own unit ('3.2 mA') are accepted
    only when every cell and the header agree."""
    unit = column.unit
    line = lambda i: first_line + int(i)  # noqa: E731 - the file line of row i
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        array = values.to_numpy(dtype=np.float64)
    else:
        text = values.astype("string")
        parts = text.str.extract(_CELL)
        bad = parts["number"].isna() & text.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            found = str(text.iloc[i])
            hint = " (a decimal comma? export with a decimal point)" if re.fullmatch(r"\s*-?\d+,\d+\s*", found) else ""
            raise _fail(path, f"column {column.header!r}, line {line(i)}: {found[:40]!r} is not a number{hint}.")
        cell_unit = parts["unit"]
        found_units = list(dict.fromkeys(cell_unit.dropna()))
        if found_units:
            def where(u: str) -> int:
                return line(np.flatnonzero((cell_unit == u).to_numpy())[0])
            odd = [u for u in found_units if u != (unit or found_units[0])]
            if odd:
                said = f"the header says {unit!r}" if unit else f"line {where(found_units[0])} says {found_units[0]!r}"
                raise _fail(path, f"column {column.header!r}: mixed units: {said}, line {where(odd[0])} says "
                                  f"{odd[0]!r}; expected every value in one unit.")
            if found_units[0] not in UNITS[column.role]:
                raise _fail(path, f"column {column.header!r}, line {where(found_units[0])}: unit {found_units[0]!r} "
                                  f"is not one of {UNIT_LIST[column.role]}.")
            unit = found_units[0]
        array = pd.to_numeric(parts["number"]).to_numpy(dtype=np.float64)
    missing = ~np.isfinite(array)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        what = "is empty" if np.isnan(array[i]) else f"is {float(array[i])}"
        raise _fail(path, f"column {column.header!r}, line {line(i)}: the value {what}; expected a finite number.")
    return array, unit if unit is not None else SI_NAMES[" ".join(column.name.lower().split())]


def read_measurement(path: str | Path, *, header: str | None = None, columns: Mapping[str, str] | None = None,
                     max_bytes: int = MAX_BYTES) -> Measurement:
    """Read a bench tool's current CSV (see the module docstring for the headers accepted).

    ``header``: the column names to use, comma-separated, for a file whose first line is data (or to replace a
    header line that names no units). ``columns``: which header to read for a quantity when the name does not say
    or several would fit, e.g. ``{"current": "Main current (A)"}``. ``max_bytes``: files larger are refused before
    anything is read.
    """
    path = Path(path)
    check_file(path, max_bytes)
    lines, encoding = _decode_head(path)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise _fail(path, "has no header line and no samples (only blank lines).")
    top = lines[first].lstrip("\ufeff")
    delimiter = _delimiter(top)
    top_fields = top.split(delimiter)
    top_is_data = _is_data(top_fields)
    if header is not None:
        names = [h for h in (h.strip() for h in header.split(",")) if h]
        data_line = first if top_is_data else first + 1
    elif top_is_data:
        raise _fail(path, f"the first line ({top.strip()[:60]!r}) holds numbers, not column names; give the names "
                          f"with --header, e.g. --header 'time (s),current (A),voltage (V)' (a Joulescope sample "
                          f"export without its header line has these three).")
    else:
        names = [f.strip().lstrip("#").strip() for f in top_fields]
        data_line = first + 1
    parsed = [parse_header(name, i) for i, name in enumerate(names)]
    chosen = _choose(path, parsed, dict(columns or {}))
    roles = sorted(chosen, key=lambda r: chosen[r].index)
    try:
        frame = pd.read_csv(path, sep=delimiter, header=None, skiprows=data_line,
                            usecols=[chosen[r].index for r in roles], skip_blank_lines=False, encoding=encoding,
                            low_memory=False, engine="c")
    except pd.errors.EmptyDataError:
        raise _fail(path, "has a header line but no samples.") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if "Usecols do not match" in message or "out-of-bounds" in message:
            message = f"the samples have fewer fields than the header's {len(names)} columns"
        raise _fail(path, f"cannot read the samples as CSV: {message}.") from None
    frame.columns = roles
    # Blank lines at the end of the file are not samples; a blank line in the middle is reported below.
    filled = frame.notna().any(axis=1).to_numpy()
    last = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    frame = frame.iloc[:last]
    if len(frame) < MIN_SAMPLES:
        raise _fail(path, f"{len(frame)} sample{'s' if len(frame) != 1 else ''}; a comparison needs at least "
                          f"{MIN_SAMPLES}.")
    first_line = data_line + 1  # 1-based line of row 0
    values, units = {}, {}
    for role in roles:
        values[role], units[role] = _numbers(path, chosen[role], frame[role], first_line)
    scale = {role: UNITS[role].get(units[role], 1.0) for role in roles}
    time = values["time"] * scale["time"]
    step = np.diff(time)
    back = np.flatnonzero(step <= 0)
    if len(back):
        i = int(back[0]) + 1
        how = "repeats" if step[i - 1] == 0 else "goes backwards"
        raise _fail(path, f"column {chosen['time'].header!r}, line {first_line + i}: time {how} "
                          f"({values['time'][i]:.10g} after {values['time'][i - 1]:.10g} on the line before); "
                          f"expected strictly increasing times (one recording, not several joined).")
    voltage = values["voltage"] * scale["voltage"] if "voltage" in values else None
    if voltage is not None and (voltage <= 0).any():
        i = int(np.flatnonzero(voltage <= 0)[0])
        raise _fail(path, f"column {chosen['voltage'].header!r}, line {first_line + i}: voltage "
                          f"{values['voltage'][i]:.6g} {units['voltage']}; expected a positive supply voltage.")
    warnings = []
    period = float(np.median(step))
    gaps = np.flatnonzero(step > GAP_FACTOR * period)
    if len(gaps):
        worst = int(gaps[np.argmax(step[gaps])])
        warnings.append(f"{len(gaps):,} gap{'s' if len(gaps) > 1 else ''} in the recording longer than "
                        f"{GAP_FACTOR:g} sampling periods (the longest {1e3 * step[worst]:,.3f} ms after "
                        f"{time[worst]:.6g} s); the current across a gap is taken as the sample before it.")
    ignored = tuple(c.header for c in parsed if c.index not in {chosen[r].index for r in roles})
    return Measurement(source=str(path), time_s=time, current_A=values["current"] * scale["current"],
                       voltage_V=voltage, columns={r: chosen[r].header for r in roles}, units=units,
                       tool=_guess_tool(chosen), ignored=ignored, warnings=warnings)
