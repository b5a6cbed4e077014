"""Op graphs from TensorFlow Lite flatbuffers: every operator of the main subgraph becomes one :class:`Op`.

Counting rules (per inference; the batch dimension is counted too):

* ``conv2d`` / ``pointwise_conv2d`` (a 1x1 CONV_2D): MACs = out_h * out_w * C_out * k_h * k_w * C_in / groups;
* ``depthwise_conv2d``: MACs = out_h * out_w * C_out * k_h * k_w;
* ``linear`` (FULLY_CONNECTED): MACs = rows * in_features * out_features;
* ``pooling`` (AVERAGE/MAX_POOL_2D): element operations = output elements * window area;
* ``elementwise`` (ADD, MUL, activations, QUANTIZE, …) and ``softmax``: element operations = output elements;
* ``reshape`` (RESHAPE, SQUEEZE, …): no arithmetic, only bytes;
* anything else: ``generic``, with its bytes and no MACs, and listed in :attr:`TFLiteGraph.unknown`.

Weight bytes are the constant tensors an op reads (filters, biases); activation bytes the other inputs and the
outputs. ``nonzero_macs`` also counts, for conv and dense layers, only output channels whose weights are not
all zero (a runtime that drops dead channels does that much work; the MLPerf Tiny VWW model has many).

>>> from dslsim.shipped import MODELS
>>> g = read_tflite(MODELS / "kws_ref_model.tflite")           # MLPerf Tiny keyword spotting (DS-CNN)
>>> int(sum(op.macs for op in g.ops if op.kind.endswith(("conv2d", "linear"))))
2656768
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dslsim.errors import DslsimError
from dslsim.fileio import read_input_bytes

#: Largest .tflite file read (always-on models are kB to a few MB; a 2 GB flatbuffer is the format's own limit).
MAX_MODEL_BYTES = 512 * 2**20
from dslsim.trace.schema import Op

#: TFLite tensor type codes -> (dtype name, bytes per element).
_TYPES = {0: ("float32", 4), 1: ("float16", 2), 2: ("int32", 4), 3: ("uint8", 1), 4: ("int64", 8),
          6: ("bool", 1), 7: ("int16", 2), 9: ("int8", 1), 10: ("float64", 8)}

#: TFLite builtin operators by kind; the rest are 'generic'.
_ELEMENTWISE = {"ADD", "SUB", "MUL", "DIV", "RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "HARD_SWISH",
                "LEAKY_RELU", "PRELU", "QUANTIZE", "DEQUANTIZE", "MAXIMUM", "MINIMUM", "ABS", "SQUARE", "SQRT",
                "RSQRT", "EXP", "LOG", "SQUARED_DIFFERENCE", "ELU", "GELU", "NEG", "POW"}
_RESHAPE = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "FLATTEN"}
_POOL = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}


@dataclass(frozen=True)
class TFLiteGraph:
    """The ops of a model, in execution order, with what could not be classified."""

    ops: tuple[Op, ...]
    """One op per TFLite operator, with its nominal MACs."""
    nonzero_macs: tuple[float, ...]
    """Per op, the MACs of output channels whose weights are not all zero (what a pruning runtime computes)."""
    unknown: tuple[str, ...]
    """``index:OPERATOR`` of every operator kept as 'generic'."""
    source: str
    """The file read."""


def _opcode_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def read_tflite(path: str | Path) -> TFLiteGraph:
    """Parse ``path`` (a .tflite flatbuffer) into per-op costs; errors name the file."""
    try:
        import tflite
    except ImportError:
        raise DslsimError("reading .tflite models needs the 'tflite' package: pip install tflite") from None
    path = Path(path)
    buf = read_input_bytes(path, MAX_MODEL_BYTES, "a TensorFlow Lite model (.tflite)")
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise DslsimError(f"{path}: not a TensorFlow Lite flatbuffer (no 'TFL3' identifier).")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        return _graph(model, str(path))
    except DslsimError:
        raise
    except Exception as exc:  # a damaged flatbuffer fails in many ways inside the generated accessors
        raise DslsimError(f"{path}: a damaged TensorFlow Lite model ({type(exc).__name__}: {exc}).") from None


def _graph(model, source: str) -> TFLiteGraph:
    import tflite

    names = _opcode_names()
    if model.SubgraphsLength() < 1:
        raise DslsimError(f"{source}: the model has no subgraph.")
    g = model.Subgraphs(0)

    def tensor(i: int):
        return g.Tensors(i) if i >= 0 else None

    def shape(t) -> tuple[int, ...]:
        return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()

    def nbytes(t) -> int:
        dims = shape(t)
        return int(np.prod(dims, dtype=np.int64)) * _TYPES.get(t.Type(), ("?", 1))[1] if dims else 0

    def constant(t):
        buf = model.Buffers(t.Buffer())
        return buf is not None and buf.DataLength() > 0

    def weights(t) -> np.ndarray:
        dtype = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 9: np.int8, 7: np.int16}[t.Type()]
        return model.Buffers(t.Buffer()).DataAsNumpy().view(dtype).reshape(shape(t))

    ops, nonzero, unknown = [], [], []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        ins = [t for t in (tensor(op.Inputs(j)) for j in range(op.InputsLength())) if t is not None]
        outs = [tensor(op.Outputs(j)) for j in range(op.OutputsLength())]
        const = [t for t in ins if constant(t)]
        acts = [t for t in ins if not constant(t)]
        out_shape = shape(outs[0]) if outs else ()
        out_elems = float(np.prod(out_shape)) if out_shape else 0.0
        dtype = _TYPES.get((acts or ins or outs)[0].Type(), ("int8", 1))[0] if (acts or ins or outs) else "int8"
        macs = live = 0.0
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(ins) >= 2:
            w = ins[1]
            ws = shape(w)
            if name == "CONV_2D":
                c_out, kh, kw, c_in_g = ws
                macs = out_elems * kh * kw * c_in_g
                kind = "pointwise_conv2d" if kh == kw == 1 else "conv2d"
            elif name == "DEPTHWISE_CONV_2D":
                _, kh, kw, c_out = ws
                macs = out_elems * kh * kw
                kind = "depthwise_conv2d"
            else:
                c_out, c_in = ws[0], ws[-1]
                macs = out_elems * c_in
                kind = "linear"
            live = macs
            if constant(w):
                arr = weights(w)
                axis = 3 if name == "DEPTHWISE_CONV_2D" else 0
                dead = int((np.moveaxis(arr, axis, 0).reshape(arr.shape[axis], -1) == 0).all(axis=1).sum())
                live = macs * (c_out - dead) / c_out
        elif name in _POOL:
            kind = "pooling"
            opts = op.BuiltinOptions()
            area = 1
            if opts is not None:
                pool = tflite.Pool2DOptions()
                pool.Init(opts.Bytes, opts.Pos)
                area = pool.FilterHeight() * pool.FilterWidth()
            macs = live = out_elems * area
        elif name == "SOFTMAX":
            kind, macs = "softmax", out_elems
            live = macs
        elif name in _ELEMENTWISE:
            kind, macs = "elementwise", out_elems
            live = macs
        elif name in _RESHAPE:
            kind = "reshape"
        else:
            kind = "generic"
            unknown.append(f"{i}:{name}")
        ops.append(Op(name=f"{i:03d}_{name.lower()}", kind=kind, macs=float(macs),
                      weight_bytes=float(sum(nbytes(t) for t in const)),
                      act_in_bytes=float(sum(nbytes(t) for t in acts)),
                      act_out_bytes=float(sum(nbytes(t) for t in outs if t is not None)), dtype=dtype))
        nonzero.append(float(live))
    return TFLiteGraph(tuple(ops), tuple(nonzero), tuple(unknown), source)

