"""Two runs side by side: headline figures and every core's and link's power by state, with deltas and ratios.

A run is what :func:`dslsim.report.export.write_result` wrote (``simulate --out DIR``) or a
:class:`~dslsim.sim.results.SimResult` in memory; both give a summary and a resources table.

>>> from dslsim.sim.run import simulate
>>> a = simulate("phone", "dsl-75hz-10min", baseline=False)
>>> b = simulate("phone", "dsl-75hz-10min", {"placement": {"default": "dsp", "full_decoder": "little"}},
...              baseline=False)
>>> head, states = compare(Run.of(a, "big"), Run.of(b, "little"))
>>> head.set_index("figure").loc["always-on power", "unit"]
'mW'
>>> sorted(states["resource"].unique())[:2]
['big', 'dsp']
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError, InputError, describe, first_line
from dslsim.fileio import check_input_file, read_input_bytes
from dslsim.sim.figures import FIGURES, HEADLINE
from dslsim.sim.results import SimResult
from dslsim.sim.summary import Summary

@dataclass(frozen=True)
class Run:
    """What a comparison needs of a run: a name, its summary and its resources table."""

    name: str
    """What the run is called in the tables' column names."""
    summary: Summary
    """Its headline figures."""
    resources: pd.DataFrame
    """One row per core or link and component, as :class:`~dslsim.sim.results.SimResult` has it."""

    @classmethod
    def of(cls, result: SimResult, name: str) -> "Run":
        """A run from a result in memory."""
        return cls(name, result.summary, result.resources)

    @classmethod
    def read(cls, folder: str | Path, name: str | None = None) -> "Run":
        """A run that ``simulate --out`` wrote; refuses a folder whose files come from two different runs, and
        names the file and what is wrong with it when one is not what ``simulate`` writes."""
        folder = Path(folder)
        docs = {}
        for file in ("run.json", "summary.json"):
            path = folder / file
            if not path.exists():
                raise DslsimError(f"{folder}: not a saved run (no {file}); write one with "
                                  f"'dslsim simulate ... --out {folder}'.")
            try:
                docs[file] = json.loads(read_input_bytes(path, MAX_RUN_JSON_BYTES, f"a run's {file}"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise DslsimError(f"{path}: not JSON ({exc}).") from None
            if not isinstance(docs[file], dict):
                raise DslsimError(f"{path}: found {type(docs[file]).__name__}, expected a JSON object as "
                                  f"'dslsim simulate --out' writes it.")
        stamp, summary = docs["run.json"], docs["summary.json"]
        if stamp.get("run_id") != summary.get("run_id") or stamp.get("complete") is not True:
            raise DslsimError(f"{folder}: its files come from different or unfinished runs; simulate again.")
        flat = summary.get("summary")
        if not isinstance(flat, dict) or not flat:
            raise DslsimError(f"{folder / 'summary.json'}: summary: found {type(flat).__name__}, expected the run's "
                              f"figures as an object.")
        _check_figures(flat, folder / "summary.json")
        table = next((folder / f"resources.{ext}" for ext in ("parquet", "csv") if (folder / f"resources.{ext}")
                      .is_file()), None)
        if table is None:
            raise DslsimError(f"{folder}: no resources table (write the run with --format csv or parquet).")
        check_input_file(table, MAX_RUN_TABLE_BYTES, "a run's resources table")
        try:
            resources = pd.read_parquet(table) if table.suffix == ".parquet" else pd.read_csv(table)
        except Exception as exc:  # pyarrow's and pandas' many errors for a corrupt or empty file
            raise DslsimError(f"{table}: not a readable table ({first_line(exc)}).") from None
        missing = [c for c in ("resource", "component", "time_s") if c not in resources.columns]
        if missing or not ("power_W" in resources.columns or "power_mW" in resources.columns):
            raise DslsimError(f"{table}: columns {list(resources.columns)}; expected resource, component, time_s "
                              f"and power_W as 'dslsim simulate --out' writes them.")
        for column in ("time_s", "power_W", "power_mW"):
            if column in resources.columns:
                numbers = pd.to_numeric(resources[column], errors="coerce")
                bad = numbers.isna() & resources[column].notna()
                if bad.any():
                    row = int(np.argmax(bad.to_numpy()))
                    raise InputError(table, f"column '{column}' row {row}", describe(resources[column].iloc[row]),
                                     "a number, as 'dslsim simulate --out' writes it")
                resources[column] = numbers
        try:
            return cls(name or folder.name, Summary.from_dict(flat), resources)
        except (TypeError, ValueError) as exc:
            raise DslsimError(f"{folder / 'summary.json'}: summary: not the figures a run has ({exc}).") from None


def _check_figures(flat: dict, path: Path) -> None:
    """The figures a comparison reads from a saved summary are numbers (or null, read as NaN), and 'keeps_up' a
    true or false when present: a text figure ended in an internal error where it was converted."""
    for key, value in flat.items():
        numeric = key in HEADLINE or key.startswith(("share_", "energy_per_frame_"))
        if numeric and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputError(path, f"summary.{key}", describe(value), "a number or null, as 'dslsim simulate --out' "
                             "writes it")
        if key == "keeps_up" and value is not None and not isinstance(value, bool):
            raise InputError(path, "summary.keeps_up", describe(value), "true or false")


#: Largest run.json / summary.json read (a run's are a few kB).
MAX_RUN_JSON_BYTES = 16 * 2**20
#: Largest resources table read (one row per resource and state: kB).
MAX_RUN_TABLE_BYTES = 256 * 2**20


def _ratio(a: float, b: float) -> float:
    return b / a if a not in (0, None) and math.isfinite(a) and math.isfinite(b) else float("nan")


def _keeps_up(summary: Summary) -> str:
    """'yes', or 'no: <why>' (a saved run from before feasibility was recorded: 'unknown')."""
    keeps_up = summary.keeps_up
    if not isinstance(keeps_up, (bool, np.bool_)):
        return "unknown"
    return "yes" if keeps_up else f"no: {summary.shortfall}"


def mark_within(head: pd.DataFrame, draws_a: pd.DataFrame, draws_b: pd.DataFrame) -> pd.DataFrame:
    """``head`` with a column saying, per figure drawn, whether the second run differs from the first by more than
    the model's uncertainty. The draws are paired (the same profile draw priced on both runs, as
    :func:`dslsim.sim.uncertainty.samples` gives them for one seed), so what both runs share (the same device's
    numbers) cancels: a difference is 'within the model's uncertainty' when the 5-95 % band of the per-draw
    difference contains zero."""
    labels = {FIGURES[k].label: k for k in draws_a.columns if k in draws_b.columns}
    verdicts = []
    for label in head["figure"]:
        key = labels.get(label)
        diff = (draws_b[key] - draws_a[key]).to_numpy(dtype=float) if key else np.array([])
        if key is None or not np.isfinite(diff).any():
            verdicts.append("")
            continue
        lo, hi = np.nanpercentile(diff, [5.0, 95.0])
        verdicts.append("within the model's uncertainty" if lo <= 0.0 <= hi else "beyond the model's uncertainty")
    return head.assign(difference=verdicts)


#: The headline table's own columns (:func:`compare`, :func:`mark_within`): a run's column may not take their names.
HEADLINE_COLUMNS = ("figure", "unit", "delta", "ratio", "difference")


def column_names(a: str, b: str) -> tuple[str, str]:
    """The columns two runs get in the comparison tables: their names, except that a name the tables use for
    their own columns gets ' (run)' (a run folder called 'delta' overwrote the deltas) and two equal names get
    '-1' and '-2'.

    >>> column_names("delta", "figure"), column_names("a", "a")
    (('delta (run)', 'figure (run)'), ('a-1', 'a-2'))
    """
    names = [f"{n} (run)" if n in HEADLINE_COLUMNS else n for n in (a, b)]
    if names[0] == names[1]:
        names = [f"{names[0]}-1", f"{names[1]}-2"]
    return names[0], names[1]


def compare(a: Run, b: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(headline table, per-state table) of ``b`` against ``a``: delta = b - a, ratio = b / a. The headline
    rows are :data:`~dslsim.sim.figures.HEADLINE`, in the units reports show them in.

    Per state, each resource's rows (power states, 'dynamic', 'transitions') are matched by resource and
    component; a row one run lacks (a core only one of them uses, another sleep state) counts as zero there. The
    runs' columns are named by :func:`column_names`.
    """
    name_a, name_b = column_names(a.name, b.name)
    rows = []
    for figure in (FIGURES[key] for key in HEADLINE):
        va, vb = figure.shown(getattr(a.summary, figure.key)), figure.shown(getattr(b.summary, figure.key))
        rows.append({"figure": figure.label, "unit": figure.unit, name_a: va, name_b: vb, "delta": vb - va,
                     "ratio": _ratio(va, vb)})
    # Whether each run keeps up leads the table: a run that does not has no battery figures to compare.
    verdict = {"figure": "keeps up", "unit": "", name_a: _keeps_up(a.summary), name_b: _keeps_up(b.summary),
               "delta": float("nan"), "ratio": float("nan")}
    head = pd.DataFrame([verdict] + rows)
    a, b = Run(name_a, a.summary, a.resources), Run(name_b, b.summary, b.resources)
    keys = ["resource", "component"]
    def shown(resources: pd.DataFrame) -> pd.DataFrame:  # mW, as the text report prints; older runs have it
        if "power_mW" not in resources.columns:
            resources = resources.assign(power_mW=1e3 * resources["power_W"])
        return resources[keys + ["time_s", "power_mW"]]

    ra, rb = shown(a.resources), shown(b.resources)
    states = ra.merge(rb, on=keys, how="outer", suffixes=(f"_{a.name}", f"_{b.name}"), sort=False)
    pa, pb = f"power_mW_{a.name}", f"power_mW_{b.name}"
    states[[pa, pb]] = states[[pa, pb]].fillna(0.0)
    states["delta_power_mW"] = states[pb] - states[pa]
    with np.errstate(divide="ignore", invalid="ignore"):
        states["ratio_power"] = np.where(states[pa] > 0, states[pb] / states[pa], np.nan)
    return head, states.reset_index(drop=True)
