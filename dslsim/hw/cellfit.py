"""Fit a kinetic battery model to a cell's measured constant-current discharges, and check the fit out of sample.

A cell file lists how long the cell ran, from full to its cut-off voltage, at several constant currents (given as
currents or as C-rates of a nominal capacity). The fit finds the capacity, ``c`` and ``k`` of the
:class:`~dslsim.hw.battery.KiBaM` whose constant-current lifetimes match those times best in relative terms; the
cut-off is inside the fitted capacity, since every measured time ends at it. Leaving each discharge out in turn
and predicting it from the others is the validation: the ideal reservoir (one capacity, no rate effect) is fitted
and scored the same way beside it.

>>> cell = load_cell("enertech-ai2020")
>>> fit = fit_kibam(cell.discharges)
>>> round(fit.capacity_ah, 2), round(fit.c, 2)
(2.34, 0.89)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dslsim.errors import DslsimError, InputError
from dslsim.hw.battery import KiBaM
from dslsim.shipped import shipped_cells
from dslsim.yamldoc import Node, load_yaml


@dataclass(frozen=True)
class Discharge:
    """One measured constant-current discharge from full to the cut-off."""

    current_a: float
    time_s: float


@dataclass(frozen=True)
class CellData:
    """A cell's measured discharges and where they come from."""

    name: str
    description: str
    source_file: str
    nominal_capacity_ah: float | None
    cutoff_v: float | None
    discharges: tuple[Discharge, ...]


def load_cell(name_or_path: str | Path) -> CellData:
    """A cell file (YAML) by path, or a shipped one by name (``enertech-ai2020``)."""
    path = Path(name_or_path)
    if not path.is_file():
        shipped = shipped_cells()
        if str(name_or_path) not in shipped:
            raise DslsimError(f"{name_or_path}: no such cell file, and not a shipped cell ({', '.join(shipped)}).")
        path = shipped[str(name_or_path)]
    root = Node(load_yaml(path), str(path))
    root.check_keys({"name", "description", "nominal_capacity", "cutoff", "discharges"},
                    required=("name", "discharges"))
    nominal = root.quantity("nominal_capacity", "A*h", strictly_positive=True) \
        if root.has("nominal_capacity") else None
    cutoff = root.quantity("cutoff", "V", strictly_positive=True) if root.has("cutoff") else None
    block = root.child("discharges")
    block.check_keys({"items"}, required=("items",))
    discharges = []
    for item in block.items_of("items"):
        item.check_keys({"current", "c_rate", "time"}, required=("time",))
        if item.has("current") == item.has("c_rate"):
            raise InputError(str(path), item.path, "both or neither of 'current' and 'c_rate'", "exactly one")
        if item.has("current"):
            current = item.quantity("current", "A", strictly_positive=True)
        else:
            if nominal is None:
                raise InputError(str(path), item.at("c_rate"), "a C-rate", "'nominal_capacity' at the top level "
                                 "to turn it into a current (or give 'current')")
            rate = item.data["c_rate"]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
                raise InputError(str(path), item.at("c_rate"), repr(rate), "a positive number")
            current = rate * nominal
        discharges.append(Discharge(current, item.quantity("time", "s", strictly_positive=True)))
    if len(discharges) < 3:
        raise InputError(str(path), "discharges.items", f"{len(discharges)} discharge(s)",
                         "at least 3 (the fit has 3 parameters: capacity, c and k)")
    if len({d.current_a for d in discharges}) != len(discharges):
        raise InputError(str(path), "discharges.items", "two discharges at the same current", "distinct currents")
    return CellData(root.text("name"), root.data.get("description", "") or "", str(path), nominal, cutoff,
                    tuple(sorted(discharges, key=lambda d: d.current_a)))


def _kibam(params) -> KiBaM:
    capacity_ah, c, log10_k = params
    return KiBaM(capacity_ah=float(capacity_ah), c=float(c), k=10.0 ** float(log10_k))


def fit_kibam(discharges: tuple[Discharge, ...] | list[Discharge]) -> KiBaM:
    """The KiBaM (capacity, c, k) whose constant-current lifetimes best match ``discharges`` (least squares on
    log time ratios, started from a grid of c and k so a local minimum is not taken for the fit)."""
    from scipy.optimize import least_squares

    if len(discharges) < 3:
        raise DslsimError(f"fitting a kinetic battery model needs at least 3 discharges; got {len(discharges)}.")

    def residuals(params):
        cell = _kibam(params)
        return [math.log(cell.lifetime_constant(d.current_a) / d.time_s) for d in discharges]

    charge = max(d.current_a * d.time_s for d in discharges) / 3600.0
    best = None
    for c0 in (0.3, 0.6, 0.9):
        for log_k0 in (-6.0, -4.5, -3.0):
            # An available well at least as large as the fastest discharge's charge keeps lifetimes finite.
            solution = least_squares(residuals, [1.05 * charge, c0, log_k0], x_scale=[charge, 0.1, 1.0],
                                     bounds=([0.5 * charge, 0.01, -9.0], [4.0 * charge, 0.999, 1.0]))
            if best is None or solution.cost < best.cost:
                best = solution
    return _kibam(best.x)


def ideal_capacity_ah(discharges: tuple[Discharge, ...] | list[Discharge]) -> float:
    """The one capacity (Ah) that best matches ``discharges`` with no rate effect: the geometric mean of I·t,
    which minimises the same log-ratio error as :func:`fit_kibam`."""
    return math.exp(sum(math.log(d.current_a * d.time_s) for d in discharges) / len(discharges)) / 3600.0


def validation_table(cell: CellData, everything: KiBaM | None = None) -> pd.DataFrame:
    """Per discharge: the measured time, the KiBaM and ideal fits to all discharges, and (with 4 or more) each
    model's prediction of it when it is left out of the fit; errors in % of the measured time. ``everything``:
    the KiBaM already fitted to all discharges, if the caller has it."""
    everything = everything or fit_kibam(cell.discharges)
    ideal = ideal_capacity_ah(cell.discharges)
    rows = []
    for i, d in enumerate(cell.discharges):
        row = {"current_A": d.current_a,
               "c_rate": d.current_a / cell.nominal_capacity_ah if cell.nominal_capacity_ah else math.nan,
               "measured_s": d.time_s,
               "kibam_s": everything.lifetime_constant(d.current_a),
               "ideal_s": ideal * 3600.0 / d.current_a}
        if len(cell.discharges) >= 4:
            others = [o for j, o in enumerate(cell.discharges) if j != i]
            row["kibam_held_out_s"] = fit_kibam(others).lifetime_constant(d.current_a)
            row["ideal_held_out_s"] = ideal_capacity_ah(others) * 3600.0 / d.current_a
        rows.append(row)
    df = pd.DataFrame(rows)
    for column in [c for c in df.columns if c.endswith("_s") and c != "measured_s"]:
        df[column.replace("_s", "_err_pct")] = 100.0 * (df[column] / df["measured_s"] - 1.0)
    return df
