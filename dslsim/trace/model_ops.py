"""The ops of a model file, whatever its kind: a TFLite flatbuffer, an ONNX model or an op table (CSV or YAML).

Every reader returns a :class:`ModelGraph`: the ops of one call of the model, the operators it could not classify,
what it deliberately left out of the per-call count (an initialisation subgraph run once, constants folded before
the first call) and, when the model says so itself, how often it is called.

>>> from dslsim.shipped import MODELS
>>> g = read_model(MODELS / "kws_ref_model.tflite")
>>> len(g.ops), g.unknown, g.call_rate_hz
(13, (), None)
"""

from __future__ import annotations

from pathlib import Path

from dslsim.trace.graph import MAX_COUNT, ModelGraph  # noqa: F401 (the readers' common result, re-exported)
from dslsim.trace.schema import Op


def read_model(path: str | Path) -> ModelGraph:
    """The graph of a model file: ``.tflite`` (TensorFlow Lite), ``.onnx`` (ONNX, needs the ``onnx`` extra) or an
    op table (``.csv``, ``.yaml``); errors name the file, the key path, what was found and what was expected."""
    from dslsim.trace.optable import read_op_table

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        from dslsim.trace.tflite import read_tflite

        return read_tflite(path)
    if suffix == ".onnx":
        from dslsim.trace.onnx_model import read_onnx

        return read_onnx(path)
    return ModelGraph(ops=read_op_table(path), unknown=(), source=str(path))


def read_model_ops(path: Path, dead_channels: str = "keep") -> tuple[Op, ...]:
    """The ops of a model file (.tflite, .onnx, or an op table .csv/.yaml); ``dead_channels='skip'`` counts the MACs
    of output channels whose weights are all zero as not done (runtimes that prune them)."""
    return read_model(path).ops_for(dead_channels)
