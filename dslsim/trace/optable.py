"""Traces of static models: an op table (CSV or YAML) or a TFLite model, run at a fixed rate, one stage per op.

An op table has one row per op with the columns (or keys) ``name, kind, macs, weight_bytes, act_in_bytes,
act_out_bytes, dtype``; ``macs`` is required, bytes default to 0 and dtype to int8. For example (CSV)::

    name,kind,macs,weight_bytes,act_in_bytes,act_out_bytes,dtype
    conv1,conv2d,320000,2624,490,8000,int8
    fc,linear,768,780,64,12,int8

>>> import tempfile
>>> from pathlib import Path
>>> table = Path(tempfile.mkdtemp()) / "kws.csv"
>>> _ = table.write_text("name,kind,macs,weight_bytes,act_in_bytes,act_out_bytes,dtype\\n"
...                      "conv1,conv2d,320000,2624,490,8000,int8\\nfc,linear,768,780,64,12,int8\\n")
>>> trace = model_trace(read_op_table(table), rate=2.0, duration=60.0)
>>> len(trace), trace.meta.stages["conv1"].macs
(120, 320000.0)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError, InputError, describe, first_line
from dslsim.fileio import read_input_bytes
from dslsim.trace.frames import frame_count, frame_table
from dslsim.trace.schema import OP_KEYS, Op, Stage, Trace, TraceMeta, op_from_dict

#: Largest op table read (a model's table is one row per op: kB).
MAX_TABLE_BYTES = 16 * 2**20
#: The columns of an op table that hold numbers.
NUMERIC_COLUMNS = ("macs", "weight_bytes", "act_in_bytes", "act_out_bytes")
#: The one path of a static model's trace.
PATH = "inference"


def read_op_table(path: str | Path) -> tuple[Op, ...]:
    """Ops from a CSV or YAML op table; errors name the file, the row and the column. A column or key dslsim does not
    know (``weight_byte``) is refused, not dropped."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        from dslsim.yamldoc import load_yaml

        raw = load_yaml(path)
        if isinstance(raw, dict) and "ops" in raw:
            raw = raw["ops"]
        if not isinstance(raw, list) or not raw:
            raise InputError(path, "ops", describe(raw), "a non-empty list of ops (name, kind, macs, bytes, dtype)")
        return tuple(op_from_dict(op, str(path), f"ops[{i}]", f"op{i}") for i, op in enumerate(raw))
    if path.suffix.lower() != ".csv":
        raise DslsimError(f"{path}: an op table is a .csv or .yaml file (or give a .tflite model).")
    data = read_input_bytes(path, MAX_TABLE_BYTES, "an op table (CSV)")
    try:
        # Only an empty cell is missing (a byte count then defaults to 0); 'nan' or 'inf' written out is a value,
        # and is refused as one below.
        table = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DslsimError(f"{path}: not a readable CSV table ({first_line(exc)}).") from None
    # A spreadsheet's trailing comma adds an empty 'Unnamed: N' column: harmless. Any other column dslsim does not
    # know is a typo ('weight_byte') whose values would be dropped without a word.
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed:") and table[c].isna().all()])
    unknown = [c for c in table.columns if c not in OP_KEYS]
    if unknown:
        raise InputError(path, f"column {unknown[0]!r}", "an unknown column", f"one of {list(OP_KEYS)} (a typo?)")
    missing = {"kind", "macs"} - set(table.columns)
    if missing:
        raise InputError(path, "columns", describe(list(table.columns)), f"the columns kind and macs (missing "
                         f"{sorted(missing)})")
    if table.empty:
        raise InputError(path, "rows", "no rows", "one row per op")
    for column in NUMERIC_COLUMNS:
        if column in table.columns:
            # One text cell makes pandas read the whole column as text: find that cell, rather than refusing the
            # first row's number written as text.
            numbers = pd.to_numeric(table[column], errors="coerce")
            bad = numbers.isna() & table[column].notna()
            if bad.any():
                row = int(np.argmax(bad.to_numpy()))
                raise InputError(path, f"row {row + 2}.{column}", describe(table[column].iloc[row]),
                                 "a number >= 0 (per frame)")
            table[column] = numbers
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return tuple(op_from_dict({k: v for k, v in row.items() if v is not None or k == "name"}, str(path),
                              f"row {i + 2}", f"op{i}") for i, row in enumerate(rows))


def model_trace(ops: tuple[Op, ...], rate: float, duration: float, source: dict | None = None) -> Trace:
    """A one-path trace: ``rate`` inferences per second for ``duration`` seconds, each running every op in order,
    one stage per op (named by its position and op name, so each can be placed on a core)."""
    n = frame_count(duration, rate)
    if not ops:
        raise DslsimError("the model has no ops.")
    stages: dict[str, Stage] = {}
    for i, op in enumerate(ops):
        name = op.name if op.name not in stages else f"{i:03d}_{op.name}"
        stages[name] = Stage(name, (op,))
    meta = TraceMeta(frame_rate=float(rate), sample_rate=float(rate), hop=1, paths={PATH: list(stages)},
                     stages=stages, dense_path=PATH, source=dict(source or {}))
    frames = frame_table(n, rate)
    frames["path"] = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[PATH])
    return Trace(meta, frames).validate()
