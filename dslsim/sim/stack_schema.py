"""What a stack file may hold, declared once (:mod:`dslsim.yamlschema`): :mod:`dslsim.sim.stack` checks keys and reads
units from these declarations, and ``dslsim profiles schema --kind stack`` writes them as the JSON Schema editors use
(``docs/schemas/stack.schema.json``). Names (models, cores, stages, score columns) are checked by the loader."""

from __future__ import annotations

from dslsim.yamlschema import AnyOf, Integer, Map, Obj, Quantity, Ref, Text

__all__ = ["STACK", "MODEL", "GATE", "MODEL_NAME", "GATE_WHEN", "MODEL_SUFFIXES", "MAX_PRIORITY"]

#: A model's name: it prefixes its paths and stages in results ('ww:inference'), so no ':' or spaces.
MODEL_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,39}$"
#: When a gating score opens the gate: at or above the threshold, or below it.
GATE_WHEN = ("above", "below")
#: Model files the stack reads with ``dslsim trace from-model``'s reader (:func:`dslsim.trace.model_ops.read_model`).
MODEL_SUFFIXES = (".tflite", ".onnx", ".csv", ".yaml", ".yml")
#: Priorities run from -MAX_PRIORITY to MAX_PRIORITY.
MAX_PRIORITY = 1000

GATE = Obj({
    "model": Text(doc="the model of this stack whose per-call score opens the gate", required=True),
    "threshold": Quantity("", doc="the score that fires the gate, from 0 to 1", required=True, maximum=1.0),
    "hold": Quantity("s", doc="how long the gate stays open after a call that fired (each firing restarts it)",
                     required=True, positive=True),
    "score": Text(doc="the gating model's per-call score column (default: the score its trace's one decision "
                      "reads, else the column 'score')"),
    "when": Text(doc="a call fires at or above the threshold ('above', a detector's probability) or below it",
                 choices=GATE_WHEN, default=GATE_WHEN[0]),
}, doc="run this model only while another model's score has passed a threshold within the hold time")

MODEL = Obj({
    "description": Text(doc="what the model is", min_length=0),
    "trace": Text(doc="a trace of the model run always-on (a file relative to this stack, or a shipped trace "
                      "name): its calls, their paths and scores, and its op graph"),
    "model": Text(doc="a model file (relative to this stack): .tflite, .onnx or an op table (.csv, .yaml), read as "
                      "'dslsim trace from-model' reads it; one call per period, no scores"),
    "rate": Quantity("Hz", doc="calls per second, when not the trace's (its calls replayed at this rate) or the "
                               "model's own", positive=True),
    "gate": GATE,
    "priority": Integer(doc="where it waits for a core shared with other models: the highest priority runs first "
                            "when the core frees (non-preemptive)", minimum=-MAX_PRIORITY, maximum=MAX_PRIORITY,
                        default=0),
    "placement": Map(Text(doc="a core of the profile"),
                     doc="stage -> core for this model's stages ('default' covers the rest); default: the "
                         "scenario's placement"),
    "deadline": Quantity("s", doc="latency past which a call misses (default: one call period)", positive=True),
}, doc="one model of the stack", exactly_one=("trace", "model"))

STACK = Obj({
    "name": Text(doc="the stack's name in results (default: the file name)"),
    "description": Text(doc="what the stack is", min_length=0),
    "duration": Quantity("s", doc="simulated time; each model's trace loops to fill it (default: the longest "
                                  "model trace)", positive=True),
    "scenario": AnyOf((Text(doc="a scenario file, relative to this stack"), Ref("scenario")),
                      doc="the device's operating points, sleep policy and busy policy (and a placement the models "
                          "fall back to); default: the profile's default_scenario"),
    "models": Map(MODEL, required=True, min_entries=1, key_pattern=MODEL_NAME,
                  doc="model name -> the model: its trace or model file, rate, gate, priority and placement"),
}, doc="A dslsim stack: several models on one device, gated by each other's scores, sharing its cores by "
       "priority.")
