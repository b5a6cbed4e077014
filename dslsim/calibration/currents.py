"""Supply current versus clock, per voltage range, in Run and in Sleep: the power model engineers use for MCUs.

An MCU datasheet tabulates the supply current (typ, 25 °C) at several clocks in each voltage range, for Run (code
executing) and Sleep (clock-gated WFI). Within a range the current is a straight line in the clock,
``I(f) = base + per_hz * f``: a clock-independent floor (regulator quiescent current, flash, SRAM, oscillators,
the PLL where the range uses one) and a part that follows the clock, the switching of the core domain. The floor
and the slope of Sleep are not Run's.

The fit (:func:`fit_table`) gives each range its own floor and all ranges one switched capacitance: the part per
Hz is ``c * V**e`` at the range's core voltage V (e = 2 through an SMPS, whose output power is what the core
switches; e = 1 through an LDO, which passes the core's current). Least squares on relative error, so a 0.2 mA
point weighs as much as a 20 mA one, with no floor below zero (a range tabulated only far from 0 Hz would
otherwise extrapolate to a negative intercept). A range's floor needs its own clocks only to be tested: two points of a
range fix its floor against the shared slope, and :func:`leave_one_clock_out` predicts each point from all the
others (its range's remaining clocks and every other range), the check of what users change (the clock). Each
fitted floor and part per MHz is checked against its physical range (:func:`check_lines`, :mod:`dslsim.plausible`)
when a measurement file is read: a Run table whose current does not grow with the clock is refused, a table in A
where the datasheet says mA is warned.

The tables are transcribed as the datasheet prints them (``dslsim/data/validation/datasheets/``: every table
of a state, each with its ``source`` and its rows); a measurement file picks the ones that match the board::

    systems:
      stm32u575:
        datasheet:
          file: datasheets/stm32u575.yaml
          run: Table 38                  # the Run table for this board's regulator and supply (by its source)
          sleep: Table 45
          column: typ                    # the rows' column of typical currents (typ, typ_smps, ...)
          where: {peripherals: disabled} # only rows with these values (optional)
          supply: {voltage: 1.8 V, regulator: smps}   # what the chosen tables were measured at
          ranges: {"1": range1, "2": range2}          # the tables' range labels -> the profile's points

>>> pts = [CurrentPoint("1", f, i, "") for f, i in ((16e6, 1.0e-3), (32e6, 1.6e-3), (64e6, 2.8e-3))]
>>> line = fit_ranges(pts, {"1": 1.0}, 2)["1"]
>>> round(line.base * 1e6, 6), round(line.per_hz * 1e12, 6)          # 400 uA + 37.5 uA/MHz
(400.0, 37.5)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from dslsim.errors import InputError, describe
from dslsim.yamldoc import Node, load_yaml

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
    path: str = ""
    """Key path of the table in its file (``tables.run[1]``)."""

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
    voltages: dict[str, float] = field(default_factory=dict)
    """Table range label -> the core voltage of its operating point (V), from the profile."""


@dataclass(frozen=True)
class LineFit:
    """A current that is a straight line in the clock: ``base + per_hz * f``."""

    base: float
    """Clock-independent current (A)."""
    per_hz: float
    """Current per Hz of clock (A/Hz)."""
    clocks: int
    """Clocks of the range the line's floor rests on (a line of one range alone needs two)."""

    def current(self, clock: float) -> float:
        """The current at ``clock`` (A)."""
        return self.base + self.per_hz * clock


def fit_line(points: list[tuple[float, float]]) -> LineFit:
    """Least-squares line through (clock, current) points of one range (two or more distinct clocks)."""
    f = np.array([p[0] for p in points])
    i = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(f, i, 1)
    return LineFit(float(intercept), float(slope), len({p[0] for p in points}))


def voltage_exponent(regulator: str) -> int:
    """How the part per Hz at the supply pins follows the core voltage: V^2 through an SMPS (power passes), V
    through an LDO (current passes)."""
    return 1 if regulator == "ldo" else 2


def fit_ranges(points: list[CurrentPoint], voltages: dict[str, float], exponent: int) -> dict[str, LineFit]:
    """Per range a floor, for all ranges one switched capacitance c (part per Hz = c V_r^exponent), by least squares
    on relative error with neither below zero."""
    labels = list(dict.fromkeys(p.range for p in points))
    rows = np.zeros((len(points), len(labels) + 1))
    for j, p in enumerate(points):
        rows[j, labels.index(p.range)] = 1.0
        rows[j, -1] = voltages[p.range] ** exponent * p.clock
    target = np.array([p.current for p in points])
    weight = 1.0 / target
    # Floors and capacitance are not negative: a range whose few clocks sit far from zero would otherwise get an
    # intercept below zero, which no board draws. Clocks in MHz keep the columns of one scale.
    rows[:, -1] /= 1e6
    solution, _ = nnls(rows * weight[:, None], target * weight)
    # What is below a billionth of the table's largest current at every tabulated clock is the solver's rounding
    # (a datasheet prints three digits), not a figure: it is zero, so a table whose current does not grow with the
    # clock gets no part per MHz at all (1e-27 A/Hz, a warning at most, then a network factor of 1e15), as by hand.
    negligible = 1e-9 * float(target.max())
    solution[:-1][solution[:-1] < negligible] = 0.0
    if solution[-1] * rows[:, -1].max() < negligible:
        solution[-1] = 0.0
    solution[-1] /= 1e6
    c = float(solution[-1])
    counts = {label: len({p.clock for p in points if p.range == label}) for label in labels}
    return {label: LineFit(float(solution[i]), c * voltages[label] ** exponent, counts[label])
            for i, label in enumerate(labels)}


def load_datasheet_currents(choice: Node, here: Path) -> DatasheetCurrents:
    """The tables a measurement file's ``datasheet:`` mapping (``choice``) picks from a transcribed datasheet;
    errors name the file and key path at fault.

    Refused: a table or column that is not there, a current or clock that is not positive, currents that fall as
    the clock rises within a range (a transcription slip), a range not mapped to an operating point, and a range
    with a single clock (no floor can be separated from the part per MHz).
    """
    choice.check_keys({"file", "run", "sleep", "column", "where", "supply", "ranges"},
                      required=("file", "run", "supply", "ranges"))
    path = here / choice.text("file")
    if not path.is_file():
        raise InputError(choice.source, choice.at("file"), repr(choice.data["file"]), f"a file (looked for {path})")
    root = Node(load_yaml(path), str(path), sourced=True)
    for key in ("board", "datasheet", "tables"):
        if not root.has(key):
            raise InputError(path, key, "nothing", "this key (a transcribed datasheet: board, datasheet, tables)")
    supply = choice.child("supply")
    ranges_node = choice.child("ranges")
    ranges = {str(label): ranges_node.text(label) for label in ranges_node.data}
    column = choice.text("column", default="typ")
    where = choice.child("where").data if choice.has("where") else {}
    tables = {}
    for state in STATES:
        if choice.has(state):
            tables[state] = _pick_table(root, state, choice, column, where, ranges)
    datasheet = root.child("datasheet")
    revision = datasheet.text("revision") if datasheet.has("revision") else ""
    return DatasheetCurrents(path, root.text("board"), f"{datasheet.text('id')} {revision}".strip(), supply.quantity("voltage", "V", strictly_positive=True),
                             supply.text("regulator", choices=("ldo", "smps")), ranges, tables)


def _pick_table(root: Node, state: str, choice: Node, column: str, where: dict, ranges: dict[str, str]) \
        -> CurrentTable:
    """The table of ``state`` whose source names ``choice[state]`` (``Table 38``), its rows filtered and read."""
    wanted = choice.text(state)
    found = root.data["tables"].get(state) if isinstance(root.data["tables"], dict) else None
    candidates = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
    pattern = re.compile(rf"\b{re.escape(wanted)}(?!\d)")          # 'Table 3' is not 'Table 38'
    matches = [i for i, t in enumerate(candidates) if isinstance(t, dict) and pattern.search(str(t.get("source", "")))]
    sources = [str(t.get("source", ""))[:60] for t in candidates if isinstance(t, dict)]
    if len(matches) != 1:
        raise InputError(choice.source, choice.at(state), repr(wanted),
                         f"the number of exactly one {state} table of {root.source} (its tables: {sources or 'none'})")
    index = matches[0]
    tpath = f"tables.{state}[{index}]" if isinstance(found, list) else f"tables.{state}"
    node = Node(candidates[index], root.source, tpath, True)
    points = []
    for item in node.items_of("points"):
        if any(str(item.data.get(k)) != str(v) for k, v in where.items()):
            continue
        if column not in item.data:
            raise InputError(root.source, item.at(column), "nothing", f"the column {column!r} named at "
                             f"{choice.source}: {choice.at('column')}")
        label = str(item.data.get("range"))
        if label not in ranges:
            raise InputError(root.source, item.at("range"), describe(item.data.get("range")),
                             f"a range mapped under {choice.at('ranges')} in {choice.source} {list(ranges)}")
        points.append(CurrentPoint(label, item.quantity("clock", "Hz", strictly_positive=True),
                                   item.quantity(column, "A", strictly_positive=True), item.path))
    if not points:
        raise InputError(root.source, f"{tpath}.points", "no row", f"rows matching {where} ({choice.source}: "
                         f"{choice.at('where')})")
    table = CurrentTable(state, node.text("source"), str(node.data.get("conditions", "")), tuple(points), tpath)
    for pts in table.by_range().values():
        _check_monotone(root.source, pts)
    if all(len({p.clock for p in pts}) < 2 for pts in table.by_range().values()):
        clocks = {label: sorted({p.clock / 1e6 for p in pts}) for label, pts in table.by_range().items()}
        raise InputError(root.source, f"{tpath}.points", f"one clock per range {clocks}",
                         f"at least 2 clocks in a range: one clock cannot separate "
                         f"a clock-independent floor from the current per MHz")
    return table


def _check_monotone(path: str, points: list[CurrentPoint]) -> None:
    """Within a range the current does not fall as the clock rises (a transcription slip if it does)."""
    ordered = sorted(points, key=lambda p: p.clock)
    for a, b in zip(ordered, ordered[1:]):
        if b.current < a.current:
            raise InputError(path, b.path, f"{b.current * 1e3:g} mA at {b.clock / 1e6:g} MHz, below the "
                             f"{a.current * 1e3:g} mA at {a.clock / 1e6:g} MHz ({a.path})",
                             "currents that do not fall as the clock rises within a range (a transcription slip?)")


def fit_table(table: CurrentTable, voltages: dict[str, float], exponent: int) -> dict[str, LineFit]:
    """The line of every range of ``table`` (:func:`fit_ranges`)."""
    return fit_ranges(list(table.points), voltages, exponent)


#: The physical range (:data:`dslsim.plausible.RANGES`) of each state's part per MHz.
SLOPE_RANGES = {"run": "run_current_per_mhz", "sleep": "idle_current_per_mhz"}


def table_name(table: CurrentTable) -> str:
    """The table as its file names it: key path and number (``tables.run[1] (Table 38)``)."""
    number = re.search(r"\bTable\s+\d+", table.source)
    return f"{table.path} ({number.group(0)})" if number else table.path


def check_lines(data: DatasheetCurrents) -> dict[str, dict[str, LineFit]]:
    """Every table's fitted lines (the voltages of ``data`` known), each range's floor and part per MHz checked
    against their physical ranges (:mod:`dslsim.plausible`): one below zero, or a Run current that does not grow
    with the clock, is refused naming the table file, the table and the range; one outside the plausible span is
    kept with a warning. Returns state -> range label -> line."""
    from dslsim import plausible

    exponent = voltage_exponent(data.regulator)
    lines = {}
    for state, table in data.tables.items():
        lines[state] = fit_table(table, data.voltages, exponent)
        for label, line in lines[state].items():
            rows = [p for p in table.points if p.range == label]
            clocks = ", ".join(f"{f / 1e6:g}" for f in sorted({p.clock for p in rows}))
            where = f"{table_name(table)}, range {label!r} ({data.ranges[label]})"
            how = (f"fitted on its rows at {clocks} MHz ({rows[0].path}, ...) with every range's floor and one part "
                   f"per MHz ~ Vcore^{exponent}")
            plausible.check("floor_current", line.base, data.path, f"{where}: the floor", how)
            plausible.check(SLOPE_RANGES[state], line.per_hz, data.path, f"{where}: the part per MHz", how)
    return lines


def leave_one_clock_out(data: DatasheetCurrents) -> list[dict]:
    """For every tabulated point whose range has another clock: the fit on all the other points, and its
    prediction there (a range tabulated at one clock has no floor left once its point is out, and the slope needs
    some range with two clocks among the rest)."""
    rows = []
    exponent = voltage_exponent(data.regulator)
    for state, table in data.tables.items():
        for left in table.points:
            rest = [p for p in table.points if p is not left]
            testable = any(p.range == left.range for p in rest) and any(
                len({p.clock for p in rest if p.range == label}) >= 2 for label in data.ranges)
            if not testable:  # its floor, or the slope, would rest on nothing once the point is out
                continue
            predicted = fit_ranges(rest, data.voltages, exponent)[left.range].current(left.clock)
            rows.append({"board": data.board, "state": state, "range": left.range, "opp": data.ranges[left.range],
                         "clock_MHz": left.clock / 1e6, "current_mA": left.current * 1e3,
                         "predicted_mA": predicted * 1e3, "err_pct": 100 * (predicted / left.current - 1),
                         "source": table.source})
    return rows


def share_within(errors: list[float], pct: float) -> float:
    """The share of ``errors`` (in %) whose magnitude is at most ``pct``."""
    return sum(1 for e in errors if abs(e) <= pct + 1e-9) / len(errors) if errors else math.nan
