"""What a sweep spec may hold, declared once (:mod:`dslsim.yamlschema`): :mod:`dslsim.sweep.spec` checks keys from
these declarations, and ``dslsim profiles schema --kind sweep`` writes them as JSON Schema."""

from __future__ import annotations

from dslsim.yamlschema import AnyOf, Anything, Flag, Integer, List, Map, Obj, Quantity, Text

__all__ = ["SPEC", "BASE", "RANGE", "SAMPLE", "ROOTS", "SCALES", "MAX_POINTS", "MAX_STEPS", "NAME_PATTERN",
           "AXIS_PATTERN"]

#: What an axis may vary: the profile, the scenario, the trace's thresholds, or a stack's fields.
ROOTS = ("profile", "scenario", "trace", "stack")
#: How a range's values are spaced.
SCALES = ("linear", "log")
#: Most points a sweep may run, and most values one range axis may expand to.
MAX_POINTS = 100_000
MAX_STEPS = 10_000
#: A sweep's name becomes a folder under the output root: one plain path component (never '..').
NAME_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
#: An axis: a dotted path under profile., scenario. or stack., or trace.threshold (a switch's) or
#: trace.threshold.<decision>.
AXIS_PATTERN = r"^(?:profile|scenario|stack)\.|^trace\.threshold(?:\.[^.]*)?$"

BASE = Obj({
    "profile": Text(doc="a shipped profile name or a profile file (relative to this spec)", required=True),
    "trace": Text(doc="a trace file (relative to this spec) or a shipped trace"),
    "stack": Text(doc="instead of a trace: a stack file (relative to this spec) of several models gated by each "
                      "other's scores; axes stack.<field> vary it"),
    "scenario": Text(doc="a scenario file (relative to this spec); null or absent: the stack's own scenario, else "
                         "the profile's default_scenario", nullable=True),
}, doc="the documents every point starts from", required=True, exactly_one=("trace", "stack"))

RANGE = Obj({
    "range": List(Anything(doc="a quantity such as '1 ms', or a number"), doc="[start, stop], in the same unit",
                  required=True, min_items=2, max_items=2),
    "steps": Integer(doc="how many values, ends included", required=True, minimum=1, maximum=MAX_STEPS),
    "scale": Text(doc="spacing of the values", choices=SCALES, default=SCALES[0]),
}, doc="values spread over a range")

SAMPLE = Obj({
    "mode": Text(doc="every point of the grid, or a seeded random sample of it", choices=("grid", "random"),
                 default="grid"),
    "n": Integer(doc="the number of random points", minimum=1, maximum=MAX_POINTS),
    "seed": Integer(doc="the random sample's seed", minimum=0, default=0),
}, doc="which points of the grid run")

SPEC = Obj({
    "name": Text(doc="the sweep's name: its folder under the output root (letters, digits, '.', '_', '-'; "
                     "default: the file name)", pattern=NAME_PATTERN),
    "description": Text(doc="what the sweep asks", min_length=0),
    "base": BASE,
    "baseline": Flag(doc="also run every point with all frames on the dense path (battery gain vs. it)",
                     default=True),
    "max_misses": Quantity("", default=0.01, maximum=1.0,
                           doc="share of frames that may miss their deadline (dropped ones included) in a point that "
                               "keeps up: '5 %' or 0.05 (default 1 %)"),
    "axes": Map(AnyOf((List(Anything(doc="a value the path takes")), RANGE)), required=True, min_entries=1,
                key_pattern=AXIS_PATTERN,
                doc="dotted path (profile.<field>, scenario.<field>, trace.threshold[.<decision>], or with a stack "
                    "stack.<field> such as stack.models.ww.gate.threshold) -> its values: a list, or "
                    "{range: [a, b], steps: n}"),
    "sample": SAMPLE,
}, doc="A dslsim sweep spec: a base (profile, scenario, trace or stack), axes over dotted paths, grid or seeded "
       "random points.")
