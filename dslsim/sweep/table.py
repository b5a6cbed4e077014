"""A sweep's results table: a plain DataFrame to compute with that a notebook shows concisely.

>>> import pandas as pd
>>> t = SweepTable.of(pd.DataFrame({"point_id": ["a"], "scenario.opp.big": ["low"], "always_on_power_W": [0.0123],
...                                 "battery_life_h": [41.0], "sim_wall_s": [0.2]}), ["scenario.opp.big"])
>>> t.shown().columns.tolist()
['scenario.opp.big', 'always-on power (mW)', 'battery life (h)']
>>> type(t[["battery_life_h"]]).__name__                      # anything derived from it is a plain DataFrame
'DataFrame'
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dslsim.sim.figures import FIGURES, HEADLINE, html_table

#: Rows a notebook shows before it says how many more there are.
SHOWN_ROWS = 20


class SweepTable(pd.DataFrame):
    """One row per sweep point: the axis values (and their SI numbers), the headline figures, the routed error
    when the trace has per-path error columns. Everything a DataFrame does, it does; a notebook shows the axes and
    the headline figures (:data:`~dslsim.sim.figures.HEADLINE`, the battery gain, the error) in the units reports
    use, and says how many columns and rows it leaves out."""

    _metadata = ["sweep_axes"]

    sweep_axes: list[str]
    """The sweep's axes (column names), in the spec's order."""

    @property
    def _constructor(self):
        # A selection or computation on the table is an ordinary DataFrame: only the sweep's own table has axes.
        return pd.DataFrame

    @classmethod
    def of(cls, df: pd.DataFrame, axes: Iterable[str]) -> "SweepTable":
        """``df`` (a sweep store's rows) as a sweep table over ``axes``."""
        table = cls(df)
        table.sweep_axes = list(axes)
        return table

    def shown(self) -> pd.DataFrame:
        """The axes and the headline figures present, each figure in its shown unit (column 'label (unit)')."""
        keys = [k for k in (*HEADLINE, "battery_gain_pct") if k in self.columns]
        out = pd.DataFrame({a: self[a] for a in self.sweep_axes if a in self.columns})
        for key in keys:
            figure = FIGURES[key]
            unit = f" ({figure.unit})" if figure.digits is not None else ""
            out[f"{figure.label}{unit}"] = [figure.shown(v) for v in self[key]]
        if "error" in self.columns:
            out["error"] = self["error"].to_numpy()
        return out

    def _repr_html_(self) -> str:
        """A notebook's view: :meth:`shown` for the first :data:`SHOWN_ROWS` points, and what it leaves out."""
        shown = self.shown()
        body = shown.head(SHOWN_ROWS).to_html(index=False, float_format="{:,.4g}".format, na_rep="n/a")
        more = len(self) - min(len(self), SHOWN_ROWS)
        note = (f"{len(self)} points{f' ({more} not shown)' if more else ''}; "
                f"{len(self.columns) - len(shown.columns)} more columns (SI units): .columns")
        return body + html_table([], note)
