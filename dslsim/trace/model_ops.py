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

from dataclasses import dataclass, replace
from pathlib import Path

from dslsim.trace.schema import Op

#: Largest count (MACs, bytes) an importer accepts for one op or one call: what a signed 64-bit integer holds.
MAX_COUNT = 2**63 - 1


@dataclass(frozen=True)
class ModelGraph:
    """The ops of one call of a model, in execution order, with what the reader could not or did not count."""

    ops: tuple[Op, ...]
    """One op per operator run on every call (a recurrent cell gives two: its matrix products and its gates)."""
    unknown: tuple[str, ...]
    """``index:OPERATOR`` of every operator kept as 'generic' (bytes, no MACs)."""
    source: str
    """The file read."""
    nonzero_macs: tuple[float, ...] | None = None
    """Per op, the MACs of output channels whose weights are not all zero (what a pruning runtime computes);
    None when the reader cannot tell (then every channel counts)."""
    call_rate_hz: float | None = None
    """Calls per second the model's own metadata implies (a streaming model's feature step times the feature
    frames it takes per call); None when the model does not say."""
    rate_basis: str = ""
    """Where :attr:`call_rate_hz` comes from, in words (file, keys and arithmetic)."""
    notes: tuple[str, ...] = ()
    """What the reader left out of the per-call count, or assumed, in one sentence each."""

    @property
    def macs(self) -> float:
        """MACs (and element operations) of one call."""
        return float(sum(op.macs for op in self.ops))

    def ops_for(self, dead_channels: str = "keep") -> tuple[Op, ...]:
        """The ops, with ``dead_channels='skip'`` counting no MACs for output channels whose weights are all zero."""
        if dead_channels == "skip" and self.nonzero_macs is not None:
            return tuple(replace(op, macs=live) for op, live in zip(self.ops, self.nonzero_macs))
        return self.ops


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
