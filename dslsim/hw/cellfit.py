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
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dslsim import plausible
from dslsim.errors import DslsimError, InputError, describe
from dslsim.hw.battery import KiBaM
from dslsim.shipped import shipped_cells
from dslsim.yamldoc import Node, load_yaml


@dataclass(frozen=True)
class Discharge:
    """One measured constant-current discharge from full to the cut-off."""

    current_a: float
    time_s: float
    where: str = field(default="", compare=False)
    """Its key path in the cell file (``discharges.items[2]``), for messages; empty when made in code."""

    @property
    def charge_ah(self) -> float:
        """The charge it delivered (Ah)."""
        return self.current_a * self.time_s / 3600.0


@dataclass(frozen=True)
class CellData:
    """A cell's measured discharges and where they come from."""

    name: str
    description: str
    source_file: str
    nominal_capacity_ah: float | None
    cutoff_v: float | None
    discharges: tuple[Discharge, ...]


#: How much more charge a discharge at a higher current may deliver than one at a lower current before it is
#: flagged: a cell delivers less at higher current (the rate-capacity effect the kinetic model describes), and a
#: few per cent is within what repeated measurements of one cell scatter.
CHARGE_RISE_TOLERANCE = 0.05


def load_cell(name_or_path: str | Path) -> CellData:
    """A cell file (YAML) by path, or a shipped one by name (``enertech-ai2020``).

    Refused, naming the file and key path: a C-rate that is not a finite positive number or is beyond what any
    cell delivers (:data:`dslsim.plausible.RANGES` ``c_rate``), fewer than three discharges, two at one current,
    and a discharge that lasts as long as or longer than one at a lower current (it would have delivered more
    charge in proportion to its current: impossible). Warned: C-rates and a capacity outside their plausible
    ranges, and a discharge that delivers more charge than one at a lower current.
    """
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
    if nominal is not None:
        plausible.check("cell_capacity", nominal, str(path), "nominal_capacity")
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
            if nominal is not None:
                plausible.check("c_rate", current / nominal, str(path), item.at("current"),
                                f"{current:g} A from the nominal {nominal * 1e3:g} mAh")
        else:
            if nominal is None:
                raise InputError(str(path), item.at("c_rate"), "a C-rate", "'nominal_capacity' at the top level "
                                 "to turn it into a current (or give 'current')")
            rate = item.data["c_rate"]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not math.isfinite(rate) or rate <= 0:
                raise InputError(str(path), item.at("c_rate"), describe(rate), "a finite positive number (0.5 = a "
                                 "current of half the nominal capacity per hour)")
            plausible.check("c_rate", float(rate), str(path), item.at("c_rate"))
            current = rate * nominal
        discharges.append(Discharge(current, item.quantity("time", "s", strictly_positive=True), item.path))
    if len(discharges) < 3:
        raise InputError(str(path), "discharges.items", f"{len(discharges)} discharge(s)",
                         "at least 3 (the fit has 3 parameters: capacity, c and k)")
    if len({d.current_a for d in discharges}) != len(discharges):
        raise InputError(str(path), "discharges.items", "two discharges at the same current", "distinct currents")
    ordered = tuple(sorted(discharges, key=lambda d: d.current_a))
    _check_physics(ordered, str(path))
    return CellData(root.text("name"), root.data.get("description", "") or "", str(path), nominal, cutoff, ordered)


def _check_physics(ordered: tuple[Discharge, ...], source: str) -> None:
    """Discharges sorted by current: each lasts less than the one before it (refused otherwise); each delivers
    no more than :data:`CHARGE_RISE_TOLERANCE` above the charge of the one before it (warned otherwise)."""
    for slow, fast in zip(ordered, ordered[1:]):
        if fast.time_s >= slow.time_s:
            raise InputError(source, f"{fast.where}.time", f"{fast.time_s:g} s at {fast.current_a * 1e3:.4g} mA, "
                             f"no shorter than {slow.time_s:g} s at {slow.current_a * 1e3:.4g} mA ({slow.where})",
                             f"a shorter time at a higher current: at {fast.current_a / slow.current_a:.3g} times the "
                             f"current it would have delivered {fast.charge_ah / slow.charge_ah:.3g} times the charge, "
                             f"and a cell delivers less at a higher current (swapped times, or a current in the wrong "
                             f"unit?)")
        if fast.charge_ah > slow.charge_ah * (1 + CHARGE_RISE_TOLERANCE):
            plausible.warn(f"{source}: {fast.where}: {fast.charge_ah * 1e3:.4g} mAh delivered at "
                           f"{fast.current_a * 1e3:.4g} mA, {100 * (fast.charge_ah / slow.charge_ah - 1):.0f} % more "
                           f"than the {slow.charge_ah * 1e3:.4g} mAh at {slow.current_a * 1e3:.4g} mA ({slow.where}); "
                           f"a cell delivers less charge at a higher current, and the kinetic model cannot follow "
                           f"this; check the times.")


def check_fit(cell: CellData, fitted: KiBaM) -> KiBaM:
    """``fitted`` once its numbers are plausible for ``cell``: the capacity and rate constant within their ranges
    (:mod:`dslsim.plausible`, warned), each discharge's C-rate of the fitted capacity when the file gives no
    nominal one (refused beyond what any cell delivers), and the fit off the edges of its search (warned)."""
    where = f"{Path(cell.source_file).name} (fitted)"
    plausible.check("cell_capacity", fitted.capacity_ah, cell.source_file, "fitted capacity")
    plausible.check("kinetic_k", fitted.k, cell.source_file, "fitted k")
    if cell.nominal_capacity_ah is None:
        for d in cell.discharges:
            plausible.check("c_rate", d.current_a / fitted.capacity_ah, cell.source_file, f"{d.where}.current",
                            f"{d.current_a:g} A from the fitted {fitted.capacity_ah * 1e3:.4g} mAh")
    if not C_BOUNDS[0] * 1.001 < fitted.c < C_BOUNDS[1] * 0.999 or not LOG10_K_BOUNDS[0] + 0.01 < math.log10(
            fitted.k) < LOG10_K_BOUNDS[1] - 0.01:
        plausible.warn(f"{where}: c {fitted.c:.4g}, k {fitted.k:.4g} /s is at the edge of the fit's search (c "
                       f"{C_BOUNDS[0]:g} to {C_BOUNDS[1]:g}, k 1e{LOG10_K_BOUNDS[0]:g} to 1e{LOG10_K_BOUNDS[1]:g} /s): "
                       f"the discharges do not pin the model down; check them before using the fit.")
    return fitted


def fit_cell(cell: CellData) -> KiBaM:
    """The kinetic model fitted to ``cell``'s discharges (:func:`fit_kibam`), checked by :func:`check_fit`."""
    return check_fit(cell, fit_kibam(cell.discharges))


#: The fit's search box for c and log10 k (:func:`fit_kibam`).
C_BOUNDS = (0.01, 0.999)
LOG10_K_BOUNDS = (-9.0, 1.0)


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
                                     bounds=([0.5 * charge, C_BOUNDS[0], LOG10_K_BOUNDS[0]],
                                             [4.0 * charge, C_BOUNDS[1], LOG10_K_BOUNDS[1]]))
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
