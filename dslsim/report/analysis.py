"""Analysis of results tables: Pareto fronts."""

from __future__ import annotations

import numpy as np
import pandas as pd



def pareto_front(df: pd.DataFrame, minimize: list[str] = (), maximize: list[str] = (), rtol: float = 1e-9
                 ) -> pd.Series:
    """Boolean mask of the rows no other row beats on every objective (and clearly on one).

    Values within ``rtol`` of each other count as equal, so a point that differs from a better one only by
    rounding noise in one objective does not reach the front on it.

    >>> df = pd.DataFrame({"power": [1, 2, 3, 1.5], "latency": [3, 2, 1, 3]})
    >>> pareto_front(df, minimize=["power", "latency"]).tolist()
    [True, True, True, False]
    >>> noise = pd.DataFrame({"power": [1.0, 1.0 - 1e-15], "latency": [2.0, 3.0]})
    >>> pareto_front(noise, minimize=["power", "latency"]).tolist()
    [True, False]
    """
    cols = list(minimize) + list(maximize)
    values = df[cols].to_numpy(dtype=float) * np.array([1.0] * len(minimize) + [-1.0] * len(maximize))
    tol = rtol * np.nanmax(np.abs(values), axis=0, initial=0.0) if len(values) else 0.0
    keep = np.ones(len(df), dtype=bool)
    for i in range(len(df)):
        others = np.delete(values, i, axis=0)
        dominated = np.all(others <= values[i] + tol, axis=1) & np.any(others < values[i] - tol, axis=1)
        keep[i] = not dominated.any() and np.all(np.isfinite(values[i]))
    return pd.Series(keep, index=df.index)
