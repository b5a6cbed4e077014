"""Supply current versus clock, per voltage range, in Run and in Sleep: the power model engineers use for MCUs.

An MCU datasheet tabulates the supply current (typ, 25 °C) at several clocks in each voltage range, for Run (code
executing) and Sleep (clock-gated WFI). Within a range the current is a straight line in the clock,
``I(f) = base + per_hz * f``: a clock-independent floor (regulator quiescent current, flash, SRAM, oscillators)
and a part that follows the clock (switching the core domain at that range's voltage). The floor and the slope
of Sleep are not Run's. One clock per range cannot separate them, so a fit needs at least
:data:`MIN_CLOCKS` clocks per range; :func:`leave_one_clock_out` predicts each tabulated point from the others of
its range, the check of what users change (the clock).

A table file (YAML)::

    board: stm32u575
    datasheet: {id: DS13737, revision: "Rev 10", title: "..."}
    supply: {voltage: 3.0 V, regulator: smps}        # how the table was measured
    ranges: {"1": range1, "2": range2}              # the table's range labels -> the profile's operating points
    tables:
      run:
        source: "DS13737 Rev 10, Table 47: ..."
        conditions: "..."
        points:
        - {range: "1", clock: 160 MHz, typ: 9.8 mA}

>>> fit = fit_line([(16e6, 1.0e-3), (32e6, 1.6e-3), (64e6, 2.8e-3)])
>>> round(fit.base * 1e6, 6), round(fit.per_hz * 1e12, 6)          # 400 uA + 37.5 uA/MHz
(400.0, 37.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dslsim.errors import InputError, describe
from dslsim.yamldoc import Node, load_yaml

#: Clocks per range that a floor-and-slope fit needs: two fix the line, the third tests it.
MIN_CLOCKS = 3
#: The states a table file may give.
STATES = ("run", "sleep")


@dataclass(frozen=True)
class CurrentPoint:
    """One tabulated current: a range, a clock, the typical current there, and where it is in the file."""

    range: str
    """The table's label of the voltage range (``"1"``, ``"VOS3"``)."""
    clock: float
    """HCLK (Hz)."""
    current: float
    """Typical supply current (A)."""
    path: str
    """Key path in the table file (for errors and residual tables)."""


@dataclass(frozen=True)
class CurrentTable:
    """One state's table (Run or Sleep) of one datasheet."""

    state: str
    """'run' or 'sleep'."""
    source: str
    """Document, revision and table number."""
    conditions: str
    """What the table was measured with (supply, regulator, code, clock source, peripherals)."""
    points: tuple[CurrentPoint, ...]
    """Every tabulated point, in file order."""

    def by_range(self) -> dict[str, list[CurrentPoint]]:
        """The points of each range, in file order of the ranges."""
        out: dict[str, list[CurrentPoint]] = {}
        for p in self.points:
            out.setdefault(p.range, []).append(p)
        return out


@dataclass(frozen=True)
class DatasheetCurrents:
    """A parsed table file: the board, its datasheet, the supply it was measured at and the Run/Sleep tables."""

    path: Path
    """The file read."""
    board: str
    """The board or part the file describes."""
    document: str
    """Datasheet id and revision (``DS13737 Rev 10``)."""
    voltage: float
    """Supply voltage the currents were measured at (V)."""
    regulator: str
    """The regulator the tables are for ('ldo' or 'smps')."""
    ranges: dict[str, str]
    """Table range label -> the profile's operating point name."""
    tables: dict[str, CurrentTable]
    """'run' and/or 'sleep' -> its table."""


@dataclass(frozen=True)
class LineFit:
    """A current that is a straight line in the clock: ``base + per_hz * f``."""

    base: float
    """Clock-independent current (A)."""
    per_hz: float
    """Current per Hz of clock (A/Hz)."""
    clocks: int
    """Clocks the line was fitted on."""

    def current(self, clock: float) -> float:
        """The current at ``clock`` (A)."""
        return self.base + self.per_hz * clock


def fit_line(points: list[tuple[float, float]]) -> LineFit:
    """Least-squares line through (clock, current) points (two or more distinct clocks)."""
    f = np.array([p[0] for p in points])
    i = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(f, i, 1)
    return LineFit(float(intercept), float(slope), len(points))


def load_datasheet_currents(path: str | Path) -> DatasheetCurrents:
    """Parse and check a table file; errors name the file and key path.

    Refused: a current or clock that is not positive, currents that fall as the clock rises within a range (a
    transcription slip), a range the file does not map to an operating point, and fewer than :data:`MIN_CLOCKS`
    clocks in a range (no floor can be fitted from them).
    """
    path = Path(path)
    root = Node(load_yaml(path), str(path), sourced=True)
    root.check_keys({"board", "datasheet", "supply", "ranges", "tables", "stop", "missing", "retrieved_from",
                     "headline", "notes"}, required=("board", "datasheet", "supply", "ranges", "tables"))
    datasheet = root.child("datasheet")
    document = f"{datasheet.text('id')} {datasheet.data.get('revision', '')}".strip()
    supply = root.child("supply")
    voltage = supply.quantity("voltage", "V", strictly_positive=True)
    regulator = supply.text("regulator", choices=("ldo", "smps"))
    ranges_node = root.child("ranges")
    ranges = {str(label): ranges_node.text(label) for label in ranges_node.data}
    tables = {}
    for state, node in root.children("tables"):
        if state not in STATES:
            raise InputError(path, node.path, repr(state), f"one of {list(STATES)}")
        node.check_keys({"source", "conditions", "points"}, required=("source", "points"))
        points = []
        for item in node.items_of("points"):
            item.check_keys({"range", "clock", "typ", "max"}, required=("range", "clock", "typ"))
            label = str(item.data["range"])
            if label not in ranges:
                raise InputError(path, item.at("range"), describe(item.data["range"]),
                                 f"a range listed under 'ranges' {list(ranges)}")
            points.append(CurrentPoint(label, item.quantity("clock", "Hz", strictly_positive=True),
                                       item.quantity("typ", "A", strictly_positive=True), item.path))
        table = CurrentTable(state, node.text("source"), str(node.data.get("conditions", "")), tuple(points))
        for label, pts in table.by_range().items():
            _check_range(path, state, label, pts)
        tables[state] = table
    if not tables:
        raise InputError(path, "tables", "no table", f"a Run and/or Sleep table ({list(STATES)})")
    return DatasheetCurrents(path, root.text("board"), document, voltage, regulator, ranges, tables)


def _check_range(path: Path, state: str, label: str, points: list[CurrentPoint]) -> None:
    clocks = sorted({p.clock for p in points})
    if len(clocks) < MIN_CLOCKS:
        raise InputError(path, f"tables.{state}.points", f"{len(clocks)} clock(s) in range {label!r} "
                         f"({', '.join(f'{c / 1e6:g} MHz' for c in clocks)})",
                         f"at least {MIN_CLOCKS} clocks per range: one clock cannot separate a clock-independent "
                         f"floor from the current per MHz, and a third tests the line")
    ordered = sorted(points, key=lambda p: p.clock)
    for a, b in zip(ordered, ordered[1:]):
        if b.current < a.current:
            raise InputError(path, b.path, f"{b.current * 1e3:g} mA at {b.clock / 1e6:g} MHz, below the "
                             f"{a.current * 1e3:g} mA at {a.clock / 1e6:g} MHz ({a.path})",
                             "currents that do not fall as the clock rises within a range (a transcription slip?)")


def fit_table(table: CurrentTable) -> dict[str, LineFit]:
    """The floor-and-slope line of every range of ``table``."""
    return {label: fit_line([(p.clock, p.current) for p in pts]) for label, pts in table.by_range().items()}


def leave_one_clock_out(data: DatasheetCurrents) -> list[dict]:
    """For every tabulated point: the line fitted on the other clocks of its range, and its prediction there."""
    rows = []
    for state, table in data.tables.items():
        for label, pts in table.by_range().items():
            for left in pts:
                rest = [(p.clock, p.current) for p in pts if p is not left]
                line = fit_line(rest)
                predicted = line.current(left.clock)
                rows.append({"board": data.board, "state": state, "range": label, "opp": data.ranges[label],
                             "clock_MHz": left.clock / 1e6, "current_mA": left.current * 1e3,
                             "predicted_mA": predicted * 1e3,
                             "err_pct": 100 * (predicted / left.current - 1), "source": table.source})
    return rows


def share_within(errors: list[float], pct: float) -> float:
    """The share of ``errors`` (in %) whose magnitude is at most ``pct``."""
    return sum(1 for e in errors if abs(e) <= pct + 1e-9) / len(errors) if errors else math.nan
