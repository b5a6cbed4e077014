"""The ops of a model file, whatever its kind: a TFLite flatbuffer or an op table (CSV or YAML)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dslsim.trace.optable import read_op_table
from dslsim.trace.schema import Op
from dslsim.trace.tflite import read_tflite


def read_model_ops(path: Path, dead_channels: str = "keep") -> tuple[Op, ...]:
    """The ops of a model file (.tflite, or an op table .csv/.yaml); ``dead_channels='skip'`` counts the MACs of
    output channels whose weights are all zero as not done (runtimes that prune them)."""
    if path.suffix == ".tflite":
        graph = read_tflite(path)
        if dead_channels == "skip":
            return tuple(replace(op, macs=live) for op, live in zip(graph.ops, graph.nonzero_macs))
        return graph.ops
    return read_op_table(path)
