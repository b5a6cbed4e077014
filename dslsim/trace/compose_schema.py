"""What a usage schedule may hold, declared once (:mod:`dslsim.yamlschema`): :mod:`dslsim.trace.compose` checks
keys against these declarations, and :func:`dslsim.yamlschema.json_schema` turns them into a JSON Schema for
editors. The rules that span keys (a day tiles 24 h; a slot names a defined scene; every scene shares the
reference's op graph) are the loader's alone.

>>> sorted(SCHEDULE.required_keys), SLOT.required_keys
(['days', 'scenes'], ('scene',))
"""

from __future__ import annotations

from dslsim.yamlschema import AnyOf, Integer, List, Map, Obj, Quantity, Text

__all__ = ["SCHEDULE", "REFERENCE_SYNTH", "SCENE", "SYNTH", "SLOT", "DAY", "MAX_DAYS", "MAX_SCENES",
           "SCENE_NAME_PATTERN", "TIME_OF_DAY_PATTERN", "REPEAT_PATTERN", "FRONTENDS", "DECIMATIONS"]

#: Most days one composition may span (a year): far beyond any usage profile, but a typo in a repeat count or
#: ``--days`` would otherwise write billions of frames.
MAX_DAYS = 366
#: Most scenes a schedule may define (frames store their scene as an 8-bit code).
MAX_SCENES = 127
#: A scene's name becomes a category of the ``scene`` column: a plain name.
SCENE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
#: A time of day, written in quotes (YAML reads an unquoted 07:00 as the base-60 number 420).
TIME_OF_DAY_PATTERN = r"^\s*\d{1,2}:\d{2}(?::\d{2})?\s*$"
#: A repeat count written with its unit: '5 days', '1 day'.
REPEAT_PATTERN = r"^\s*\d+\s*days?\s*$"
#: The audio front ends and PDM decimations ``dslsim trace synth`` prepends (``--frontend``, ``--decimation``).
FRONTENDS = ("none", "pcm", "logmel", "mfcc")
DECIMATIONS = ("hardware", "software")

#: The default synth graph's settings: what ``dslsim trace synth`` writes when given no graph options.
REFERENCE_SYNTH = Obj({
    "frame_rate": Quantity("Hz", doc="frames per second", default="75 Hz", positive=True),
    "width": Integer(doc="channel width C of the SoundStream-shaped graph", minimum=1, default=16),
    "embed_dim": Integer(doc="embedding dimension D (default 4C)", minimum=1),
    "threshold": Quantity("", doc="the switch threshold (score >= threshold takes the full path)", default=0.5,
                          maximum=1.0),
    "frontend": Text(doc="the audio front end stage before every path", choices=FRONTENDS, default="pcm"),
    "decimation": Text(doc="PDM-to-PCM in a hardware block, or a CIC + FIR on the core", choices=DECIMATIONS,
                       default="hardware"),
}, doc="the op graph of 'dslsim trace synth' (kind dsl) with these options")

#: Routing statistics of a synthetic scene, as ``dslsim trace synth`` takes them.
SYNTH = Obj({
    "light_share": Quantity("", doc="share of frames on the light path, 0 to 1 ('80 %' or 0.8); a two-path "
                                    "switch graph only", maximum=1.0),
    "shares": List(Quantity("", doc="a path's share of frames", maximum=1.0), min_items=2,
                   doc="each path's share of frames, in the graph's path order, summing to 1 (any graph)"),
    "mean_burst": Quantity("s", doc="mean run: of a full-path burst (light_share), or between redraws of the "
                                    "path (shares)", default="0.5 s", positive=True),
}, exactly_one=("light_share", "shares"), doc="seeded synthetic routing on the reference's op graph")

SCENE = Obj({
    "description": Text(doc="what the scene is", min_length=0),
    "trace": Text(doc="a trace file (relative to the schedule) or a shipped trace, looped or cut to each slot"),
    "offset": Quantity("s", doc="where in the trace each slot starts playing it (default 0 s)", default="0 s"),
    "synth": SYNTH,
}, exactly_one=("trace", "synth"), doc="a scene: a recorded trace, or synthetic routing")

SLOT = Obj({
    "scene": Text(doc="the name of a scene defined under 'scenes'", required=True, pattern=SCENE_NAME_PATTERN),
    "at": Text(doc="time of day the slot starts, in quotes: 'HH:MM' or 'HH:MM:SS' (default: where the slot before "
                   "ends)", pattern=TIME_OF_DAY_PATTERN),
    "duration": Quantity("s", doc="how long the slot lasts (default: until the next slot's 'at', or 24:00)",
                         positive=True),
}, doc="one scene over part of a day")

DAY = Obj({
    "name": Text(doc="the day plan's name (weekday, weekend)"),
    "repeat": AnyOf((Integer(minimum=1, maximum=MAX_DAYS), Text(pattern=REPEAT_PATTERN)), default=1,
                    doc="how many consecutive days follow this plan: 5 or '5 days'"),
    "scenes": List(SLOT, required=True, doc="the day's slots in order, tiling 00:00 to 24:00 exactly: no gaps, "
                                            "no overlaps"),
}, doc="a day plan")

SCHEDULE = Obj({
    "name": Text(doc="the schedule's name (default: the file name)"),
    "description": Text(doc="what the schedule is", min_length=0),
    "reference": AnyOf((Text(doc="a trace file (relative to the schedule) or a shipped trace"),
                        Obj({"synth": REFERENCE_SYNTH}, doc="the default synth graph with these options")),
                       doc="the op graph, frame rate and decisions every scene shares; synth scenes take it "
                           "(default: the default synth graph, 75 Hz, C=16, PCM capture)"),
    "seed": Integer(doc="seed of every synthetic scene (each day and slot draws its own stream)", minimum=0,
                    default=0),
    "scenes": Map(SCENE, required=True, min_entries=1, key_pattern=SCENE_NAME_PATTERN,
                  doc="scene name -> a trace or synth settings"),
    "days": List(DAY, required=True, doc="day plans, in order; the schedule spans the sum of their repeats and "
                                         "starts again from the first plan when more days are composed"),
}, doc="A dslsim usage schedule: scenes over the times of day, day plans repeated, composed into one long trace.")
