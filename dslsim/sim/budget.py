"""An always-on budget in % of the battery per day, as phone teams mean it: the feature's own drain.

Android's guidance for an always-on feature, and what Battery Historian attributes, is the drain the feature
adds: the run less the same device doing nothing (its platform floor and its cores settled). A budget can also be
checked against the device's total drain (``of='total'``), which includes the floor the feature does not cause.
"""

from __future__ import annotations

import math
from typing import Any

from dslsim.sim.summary import Summary

#: What a budget may be checked against: the feature's own drain (the default) or the device's total.
BUDGET_OF = ("feature", "total")


def check_budget(summary: Summary, pct_per_day: float, of: str = "feature") -> dict[str, Any]:
    """The verdict of ``summary`` against a budget of ``pct_per_day`` % of the battery per day.

    Returns ``of``, the budget, the drain it was checked against (% per day; NaN when the run does not keep up),
    and ``within``: True, False, or None when there is no drain to check (a run that does not keep up).
    """
    if of not in BUDGET_OF:
        raise ValueError(f"budget of {of!r}: one of {BUDGET_OF}")
    drain = summary.feature_pct_per_day if of == "feature" else summary.battery_pct_per_day
    within = None if not math.isfinite(drain) else bool(drain <= pct_per_day)
    return {"of": of, "budget_pct_per_day": pct_per_day, "drain_pct_per_day": drain, "within": within}
