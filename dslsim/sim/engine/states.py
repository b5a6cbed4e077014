"""The one order of a resource's power states: how residencies, timeline rows and state names are indexed."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """Index of a power state in a resource's residencies and timeline rows; sleep state k is ``SLEEP0 + k``."""

    ACTIVE = 0
    """Running a job (a hop): the operating point's active power, plus each op's dynamic energy."""
    IDLE = 1
    """Clock-gated, waiting for work (a link's only other state)."""
    WAKE = 2
    """Leaving a sleep state (draws 0 W; the sleep cycle's energy is lumped into its transitions)."""
    SLEEP0 = 3
    """The shallowest sleep state the scenario uses; deeper ones follow in depth order."""


#: Names of the states before the sleep states, in :class:`State` order (sleep states go by their own names).
AWAKE_STATE_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in State if s < State.SLEEP0)
