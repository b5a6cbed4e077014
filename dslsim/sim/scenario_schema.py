"""What a scenario may hold, declared once (:mod:`dslsim.yamlschema`): :mod:`dslsim.sim.scenario` checks keys and
reads units from these declarations, and ``dslsim profiles schema --kind scenario`` writes them as JSON Schema.
Names (cores, operating points, sleep states, peripherals) are the profile's, so only the loader checks them."""

from __future__ import annotations

from dslsim.yamlschema import AnyOf, List, Map, Obj, Quantity, Text

__all__ = ["SCENARIO", "BUSY_POLICIES", "IDLE_MODES", "FRAME", "DEADLINE", "TIMEOUT"]

#: What a busy core or link does with a new job: wait for it, or drop it.
BUSY_POLICIES = ("queue", "drop")
#: How a core waits between jobs: clock-gated (WFI, Sleep mode), or spinning at its run current.
IDLE_MODES = ("clock-gated", "busy-poll")
#: The deadline that is one frame's duration.
FRAME = "frame"

#: A per-frame deadline as a time.
DEADLINE = Quantity("s", doc="the per-frame deadline", positive=True)
#: Idle time before a core enters a sleep state.
TIMEOUT = Quantity("s", doc="idle time before entering the state (deeper states need longer)")

SCENARIO = Obj({
    "name": Text(doc="the scenario's name in results (default: the file name)"),
    "description": Text(doc="what the scenario is", min_length=0),
    "placement": Map(Text(doc="a core of the profile"), required=True,
                     doc="stage -> core; 'default' covers every stage not named"),
    "opp": Map(Text(doc="an operating point name of the core, or a clock such as '60 MHz' (the lowest point that "
                        "supports it)"),
               doc="core -> operating point or clock (default: the core's last operating point)"),
    "sleep": Map(Map(TIMEOUT, doc="sleep state -> idle time before entering it"),
                 doc="core -> its sleep policy; a core not named never sleeps"),
    "deadline": AnyOf((DEADLINE, Text(doc="one frame's duration", choices=(FRAME,))),
                      doc="per-frame deadline: a time, or 'frame' (one frame duration)", default=FRAME),
    "when_busy": AnyOf((Text(doc="for every core and link", choices=BUSY_POLICIES),
                        Map(Text(choices=BUSY_POLICIES), doc="'default', a core or a link -> its policy")),
                       doc="what a busy core or link does with a new job: queue it or drop it",
                       default=BUSY_POLICIES[0]),
    "idle": Map(Text(choices=IDLE_MODES), doc="core -> how it waits between jobs: clock-gated (WFI; the default) or "
                                              "busy-poll (spinning at its run current)"),
    "streaming": Map(AnyOf((List(Text(doc="a peripheral of the core"), min_items=0), Text(doc="a peripheral of the core"))),
                     doc="core -> the peripherals it keeps running (the audio input), from the profile's "
                         "cores.<core>.peripherals"),
}, doc="A dslsim scenario: where each stage runs, at which operating point, with which sleep policy and "
       "deadline.")
