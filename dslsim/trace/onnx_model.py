"""Op graphs from ONNX models: every node run per call becomes one :class:`Op` (a recurrent cell two).

The file is read through the bounded reader, parsed as an ONNX ``ModelProto`` and checked before anything else sees
it (opset, initializer sizes against their shapes, each node's inputs defined before it, no dimension below 0 and
no graph input dimension below 1); shapes are then inferred with ``onnx.shape_inference`` in strict mode and every
operator's tensors are checked against each other (a filter's input channels against its input's, the output
against what the operator makes of its inputs), so damage or disagreement is refused with the node that shows it,
and counts are exact integers checked to fit in 64 bits. A graph input dimension given by name (``batch``) is taken
as 1 and said so in :attr:`ModelGraph.notes`.

Counting rules (per call; N is the batch, k the kernel, the output's spatial size is ``out``):

* ``Conv`` (1-D: ``conv1d``; 2-D: ``conv2d``, ``depthwise_conv2d`` when each group is one input channel,
  ``pointwise_conv2d`` for a 1x1 kernel without groups): MACs = N * C_out * prod(out) * C_in / groups * prod(k);
  strides, dilations, pads and ``auto_pad`` give the output size, which must match the inferred one;
* ``ConvTranspose`` (``conv_transpose1d``, ``conv_transpose2d``): MACs = N * C_in * C_out / groups * prod(k) *
  prod(input spatial size);
* ``Gemm``, ``MatMul`` (``linear``): MACs = rows * K * N, with MatMul's batch dimensions broadcast;
* ``LSTM``, ``GRU``, ``RNN``: a ``linear`` op of MACs = steps * N * directions * gates * H * (I + H) (gates: 4, 3,
  1; I inputs, H hidden units), and an ``elementwise`` op ``<name>_gates`` of steps * N * directions * H * (21, 17,
  4) element operations: per unit and step, three additions per gate (the input part, the recurrent part, two
  biases) and its activation, then the state update (LSTM: f*c + i*g, tanh(c), o*tanh(c): 5; GRU: r * (R h),
  (1 - z) * n + z * h: 5); an LSTM's peepholes add 3;
* pooling (``pooling``): output elements * window; global pooling: input elements;
* ``BatchNormalization`` (``elementwise``): 2 per element (scale, shift); Layer/Instance/Group normalisation: 5
  (mean, variance, normalise, scale, shift); LRN: size + 2;
* element-wise arithmetic, activations, comparisons, Cast, (De)QuantizeLinear (``elementwise``): output elements;
  reductions: input elements; ``Softmax``, ``LogSoftmax`` (``softmax``): output elements;
* shape and data-movement ops (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Gather,
  Pad, Expand, Tile, Identity, Dropout, nearest Resize, ...): ``reshape``, bytes only;
* nodes whose inputs are all constants (``Constant``, ``ConstantOfShape`` of a constant shape, ``Shape`` of a
  tensor of static shape, and what follows from them): folded before the first call, as runtimes do, and not
  counted; their outputs count as weights where a per-call node reads them;
* anything else (other domains, control flow such as ``If`` and ``Loop``, whose subgraphs are not expanded):
  ``generic``, bytes only, listed in :attr:`ModelGraph.unknown`.

QLinearConv, ConvInteger, MatMulInteger and QLinearMatMul are counted as the Conv or MatMul they quantize.
``nonzero_macs`` counts, for Conv, Gemm and MatMul with weights in the file, only output channels whose weights
are not all zero.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from dslsim.errors import DslsimError, InputError, describe, first_line
from dslsim.fileio import read_input_bytes
from dslsim.trace.graph import MAX_COUNT, ModelGraph
from dslsim.trace.schema import Op

#: Largest .onnx file read (protobuf's own limit is 2 GB; always-on models are kB to a few MB).
MAX_MODEL_BYTES = 512 * 2**20

#: ONNX TensorProto data types -> (name, dtype written in the trace, bytes per element). The trace's dtype has the
#: element's size; 0 bytes: no fixed size (strings); sub-byte types are counted at one byte per element.
_DTYPES = {1: ("FLOAT", "float32", 4), 2: ("UINT8", "uint8", 1), 3: ("INT8", "int8", 1), 4: ("UINT16", "int16", 2),
           5: ("INT16", "int16", 2), 6: ("INT32", "int32", 4), 7: ("INT64", "int64", 8), 8: ("STRING", "int8", 0),
           9: ("BOOL", "bool", 1), 10: ("FLOAT16", "float16", 2), 11: ("DOUBLE", "float64", 8),
           12: ("UINT32", "int32", 4), 13: ("UINT64", "int64", 8), 14: ("COMPLEX64", "float64", 8),
           15: ("COMPLEX128", "float64", 16), 16: ("BFLOAT16", "bfloat16", 2), 17: ("FLOAT8E4M3FN", "int8", 1),
           18: ("FLOAT8E4M3FNUZ", "int8", 1), 19: ("FLOAT8E5M2", "int8", 1), 20: ("FLOAT8E5M2FNUZ", "int8", 1),
           21: ("UINT4", "int8", 1), 22: ("INT4", "int8", 1), 23: ("FLOAT4E2M1", "int8", 1),
           24: ("FLOAT8E8M0", "int8", 1), 25: ("UINT2", "int8", 1), 26: ("INT2", "int8", 1),
           27: ("FLOAT6E2M3", "int8", 1), 28: ("FLOAT6E3M2", "int8", 1)}
#: Types packed below one byte per element in raw data: elements per byte.
_PACKED = {21: 2, 22: 2, 23: 2, 25: 4, 26: 4}

_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu",
                "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign", "Mish", "Swish",
                "ThresholdedRelu", "Clip", "Exp", "Log", "Sqrt", "Reciprocal", "Abs", "Neg", "Sign", "Floor",
                "Ceil", "Round", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
                "Acosh", "Atanh", "Max", "Min", "Sum", "Mean", "Equal", "Less", "LessOrEqual", "Greater",
                "GreaterOrEqual", "Not", "And", "Or", "Xor", "Where", "BitShift", "BitwiseAnd", "BitwiseOr",
                "BitwiseXor", "BitwiseNot", "IsNaN", "IsInf", "Cast", "CastLike", "QuantizeLinear",
                "DequantizeLinear", "DynamicQuantizeLinear", "Shrink"}
_REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin"}
_NORM = {"LayerNormalization": 5, "InstanceNormalization": 5, "GroupNormalization": 5,
         "MeanVarianceNormalization": 5, "BatchNormalization": 2}
_SOFTMAX = {"Softmax", "LogSoftmax", "Hardmax"}
_MOVE = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather",
         "GatherElements", "GatherND", "ScatterND", "ScatterElements", "Pad", "Expand", "Tile", "Identity",
         "Dropout", "Shape", "Size", "DepthToSpace", "SpaceToDepth", "ReverseSequence", "Compress", "OneHot",
         "Trilu", "ConstantOfShape", "Range", "EyeLike", "NonZero", "Upsample", "Resize", "CenterCropPad"}
_POOL = {"MaxPool", "AveragePool", "LpPool"}
_GLOBAL_POOL = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}
_RECURRENT = {"LSTM": (4, 21), "GRU": (3, 17), "RNN": (1, 4)}
#: Operators whose output changes from call to call even with constant inputs: never folded.
_RANDOM = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
#: Nodes computing constants that are evaluated (when small) so that shapes depending on them can be inferred.
_FOLDABLE = {"Constant", "ConstantOfShape", "Identity", "Cast", "Shape", "Size", "Gather", "Unsqueeze", "Squeeze",
             "Concat", "Reshape", "Slice", "Transpose", "Add", "Sub", "Mul", "Div", "Neg", "Equal", "Where", "Not",
             "Abs", "Floor", "Ceil", "Min", "Max", "Expand", "Range", "Flatten"}
#: Of those, the ones whose output is never larger than their inputs together.
_NOT_GROWING = {"Identity", "Cast", "Unsqueeze", "Squeeze", "Concat", "Reshape", "Slice", "Transpose", "Neg", "Not",
                "Abs", "Floor", "Ceil", "Flatten", "Shape", "Size"}
#: Largest constant evaluated while folding (elements).
_FOLD_LIMIT = 4096
#: Most rounds of folding and shape inference (each makes the shapes of one more link of a chain known).
_FOLD_PASSES = 64
#: Quantized forms -> (the op they count as, index of the data input, index of the weight input).
_QUANTIZED = {"QLinearConv": ("Conv", 0, 3), "ConvInteger": ("Conv", 0, 1), "MatMulInteger": ("MatMul", 0, 1),
              "QLinearMatMul": ("MatMul", 0, 3)}

_Shape = tuple  # of int, or None for a dimension the model leaves open


def read_onnx(path: str | Path) -> ModelGraph:
    """Parse ``path`` (an .onnx model) into per-call op costs; errors name the file, the key path (the node), what
    was found and what was expected. Needs the ``onnx`` package (``pip install 'dslsim[onnx]'``)."""
    try:
        import onnx
        import onnx.helper  # noqa: F401 (used through the module)
        import onnx.shape_inference  # noqa: F401
    except ImportError:
        raise DslsimError("reading .onnx models needs the 'onnx' package: pip install 'dslsim[onnx]'") from None
    path = Path(path)
    data = read_input_bytes(path, MAX_MODEL_BYTES, "an ONNX model (.onnx)")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # a damaged protobuf fails inside the C parser in several ways
        raise InputError(path, "", f"bytes that do not parse as an ONNX protobuf ({first_line(exc)})",
                         "an ONNX model (ModelProto); a truncated or damaged file?") from None
    return _Reader(onnx, model, str(path)).graph()


def _count(value: int | None) -> str:
    return "an unknown number of" if value is None else f"{value:,}"


def _fmt(shape: _Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class _Reader:
    """One model being read: its tensors' shapes and types, which are constants, and the checks."""

    def __init__(self, onnx: Any, model: Any, source: str):
        self.onnx = onnx
        self.model = model
        self.source = source
        self.notes: list[str] = []
        self.shapes: dict[str, _Shape] = {}
        self.types: dict[str, int] = {}
        self.constants: set[str] = set()
        self.initializers: dict[str, Any] = {}
        self.unknown_bytes = 0

    def fail(self, where: str, found: str, expected: str) -> NoReturn:
        raise InputError(self.source, where, found, expected)

    def need(self, ok: bool, where: str, found: str, expected: str) -> None:
        if not ok:
            self.fail(where, found, expected)

    # --- structure, before the C++ shape inference sees the model ---

    def check_text(self) -> None:
        """Names must be text: protobuf hands over a name that is not UTF-8 as bytes, which nothing else expects."""
        m, g = self.model, self.model.graph

        def text(value: Any, where: str) -> None:
            self.need(isinstance(value, str), where, f"{describe(value)}, not UTF-8 text", "a UTF-8 name")

        for i, o in enumerate(m.opset_import):
            text(o.domain, f"opset_import[{i}].domain")
        for kind, values in (("initializer", g.initializer), ("input", g.input), ("output", g.output),
                             ("value_info", g.value_info)):
            for i, v in enumerate(values):
                text(v.name, f"graph.{kind}[{i}].name")
        for i, node in enumerate(g.node):
            for field in ("op_type", "name", "domain"):
                text(getattr(node, field), f"graph.node[{i}].{field}")
            for field in ("input", "output"):
                for j, name in enumerate(getattr(node, field)):
                    text(name, f"graph.node[{i}].{field}[{j}]")
            for j, a in enumerate(node.attribute):
                text(a.name, f"graph.node[{i}].attribute[{j}].name")

    def check_structure(self) -> None:
        m, onnx = self.model, self.onnx
        self.check_text()
        self.need(0 < m.ir_version <= onnx.IR_VERSION, "ir_version", str(m.ir_version),
                  f"an ONNX IR version from 1 to {onnx.IR_VERSION} (the installed onnx reads up to that)")
        default = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
        top = onnx.defs.onnx_opset_version()
        self.need(len(default) == 1 and 1 <= default[0] <= top, "opset_import",
                  describe(default[0] if default else None),
                  f"one default-domain opset version from 1 to {top}")
        g = m.graph
        self.need(m.HasField("graph") and len(g.node) > 0, "graph.node", "no nodes", "the model's operators")
        for i, t in enumerate(g.initializer):
            self.initializer(t, f"graph.initializer[{i}] '{t.name[:60]}'")
        for i, v in enumerate(g.input):
            if v.name not in self.initializers:
                self.graph_input(v, f"graph.input[{i}] '{v.name[:60]}'")
        for kind, values in (("output", g.output), ("value_info", g.value_info)):
            for i, v in enumerate(values):
                self.declared_shape(v, f"graph.{kind}[{i}] '{v.name[:60]}'")
        known = {t.name for t in g.initializer} | {v.name for v in g.input}
        for i, node in enumerate(g.node):
            where = self.where(i, node)
            self.need(bool(node.op_type), f"{where}.op_type", "an empty name", "an operator name")
            for j, name in enumerate(node.input):
                self.need(not name or name in known, f"{where}.input[{j}]", f"'{name[:60]}'",
                          "the name of a graph input, an initializer or an earlier node's output")
            for j, name in enumerate(node.output):
                self.need(not name or name not in known, f"{where}.output[{j}]", f"'{name[:60]}' a second time",
                          "a name no other tensor has")
                known.add(name)

    def initializer(self, t: Any, where: str) -> None:
        self.need(t.data_type in _DTYPES, f"{where}.data_type", str(t.data_type), "an ONNX tensor data type code")
        for k, d in enumerate(t.dims):
            self.need(d >= 0, f"{where}.dims[{k}]", str(d), "a dimension >= 0")
        n = math.prod(t.dims)
        self.need(n <= MAX_COUNT, f"{where}.dims", describe(list(t.dims)), "a tensor whose size fits in 64 bits")
        name, _, size = _DTYPES[t.data_type]
        external = t.data_location == self.onnx.TensorProto.EXTERNAL
        if t.HasField("raw_data") and not external:
            need = -(-n // _PACKED[t.data_type]) if t.data_type in _PACKED else n * size
            self.need(size == 0 or len(t.raw_data) == need, where, f"{len(t.raw_data):,} bytes of raw_data",
                      f"{need:,}: shape {list(t.dims)} of {name}")
        elif not external:
            have = (len(t.float_data) + len(t.int32_data) + len(t.string_data) + len(t.int64_data)
                    + len(t.double_data) + len(t.uint64_data))
            per = 2 if t.data_type in (14, 15) else 1
            packed = -(-n // _PACKED[t.data_type]) if t.data_type in _PACKED else None
            self.need(have in (n * per, packed), where, f"{have:,} stored values",
                      f"{n * per:,}: shape {list(t.dims)} of {name}")
        if external:
            self.notes.append(f"initializer '{t.name[:60]}' is stored outside the file: its bytes are counted from "
                              "its shape")
        self.initializers[t.name] = t
        self.constants.add(t.name)

    def graph_input(self, v: Any, where: str) -> None:
        tt = v.type.tensor_type
        self.need(v.type.HasField("tensor_type"), f"{where}.type", "not a tensor", "a tensor input")
        for k, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                self.need(d.dim_value >= 1, f"{where}.shape[{k}]", str(d.dim_value), "a dimension >= 1")
            else:  # open (named) dimension: fixed at 1 so shapes can be inferred
                label = f"'{d.dim_param[:30]}'" if d.dim_param else "unnamed"
                d.Clear()
                d.dim_value = 1
                self.notes.append(f"input '{v.name[:60]}' dimension {k} ({label}) is open: taken as 1")

    def declared_shape(self, v: Any, where: str) -> None:
        for k, d in enumerate(v.type.tensor_type.shape.dim):
            if d.HasField("dim_value"):
                self.need(d.dim_value >= 0, f"{where}.shape[{k}]", str(d.dim_value), "a dimension >= 0")

    # --- shapes ---

    def infer(self, model: Any) -> Any:
        si = self.onnx.shape_inference
        try:
            # data_prop stays off: on a damaged model it can allocate without bound (std::bad_alloc after GBs);
            # the constants it would propagate are evaluated by fold_small_constants instead.
            return si.infer_shapes(model, check_type=True, strict_mode=True, data_prop=False)
        except Exception as exc:  # InferenceError, or the checker's errors on malformed attributes
            text = first_line(exc, 400)
            node = text.split("node name:", 1)[1].split(")", 1)[0].strip() if "node name:" in text else ""
            at = f"graph.node '{node}'" if node else "graph"
            self.fail(at, f"shapes or types that do not agree ({text})",
                      "a model whose shapes can be inferred from node to node")

    def fold_small_constants(self) -> None:
        """Evaluates, with onnx's reference implementation, the nodes that compute small constants (the pads, target
        shapes and indices an exporter builds from constants and static shapes), puts their values in a copy of the
        model as initializers and infers shapes again, until no new constant appears: shapes that depended on them
        become known. Nothing larger than :data:`_FOLD_LIMIT` elements is made, so a damaged shape cannot make this
        allocate much."""
        from onnx import numpy_helper

        values: dict[str, np.ndarray] = {}
        for name, t in self.initializers.items():
            if math.prod(t.dims) <= _FOLD_LIMIT and t.data_location != self.onnx.TensorProto.EXTERNAL:
                try:
                    values[name] = numpy_helper.to_array(t)
                except Exception:  # a tensor numpy cannot hold: not folded
                    pass
        made: dict[str, np.ndarray] = {}
        done: set[int] = set()
        nodes = self.model.graph.node
        outputs = [n for node in nodes for n in node.output if n]
        skeleton = None
        for _ in range(_FOLD_PASSES):
            if all(self.shapes.get(n) is not None and None not in self.shapes[n] for n in outputs):
                return
            before = len(made)
            if not self.fold_pass(values, made, done):
                return
            skeleton = skeleton or self.skeleton()
            del skeleton.graph.node[:]
            skeleton.graph.node.extend(n for i, n in enumerate(nodes) if i not in done)
            skeleton.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in list(made.items())[before:])
            self.record_shapes(self.infer(skeleton))

    def skeleton(self) -> Any:
        """The model for re-inferring shapes: the same graph, with initializers too large to fold turned into typed
        graph inputs (shape inference needs their shapes, not their data, so a large model is not copied)."""
        m, onnx = self.model, self.onnx
        out = onnx.ModelProto()
        out.ir_version = m.ir_version
        out.opset_import.extend(m.opset_import)
        g = out.graph
        g.name = m.graph.name
        g.output.extend(m.graph.output)
        g.value_info.extend(m.graph.value_info)
        declared = {v.name for v in m.graph.input}
        g.input.extend(m.graph.input)
        for t in m.graph.initializer:
            if math.prod(t.dims) <= _FOLD_LIMIT and t.data_location != onnx.TensorProto.EXTERNAL:
                g.initializer.append(t)
            elif t.name not in declared:
                g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        return out

    def fold_pass(self, values: dict[str, np.ndarray], made: dict[str, np.ndarray], done: set[int]) -> bool:
        """Evaluates every small constant node not yet evaluated whose inputs are now known; whether any was."""
        from onnx.reference import ReferenceEvaluator

        opsets = {o.domain or "": o.version for o in self.model.opset_import}
        new = False
        for i, node in enumerate(self.model.graph.node):
            ins = [n for n in node.input if n]
            if i in done or node.op_type not in _FOLDABLE or node.domain not in ("", "ai.onnx"):
                continue
            if node.op_type in ("Shape", "Size"):  # of a tensor whose shape is known: its data is not needed
                dims = self.shapes.get(ins[0]) if ins else None
                if dims is None or None in dims:
                    continue
                if node.op_type == "Size":
                    arrays = [np.array(math.prod(dims), dtype=np.int64)]
                else:
                    where = self.where(i, node)
                    lo, hi = self.attr(node, where, "start", "i", 0), self.attr(node, where, "end", "i", len(dims))
                    arrays = [np.array(dims[lo:hi], dtype=np.int64)]
            else:
                if not all(n in values for n in ins) or not self.small_output(node, ins, values):
                    continue
                try:
                    out = ReferenceEvaluator(node, opsets=opsets).run(None, {n: values[n] for n in ins})
                except Exception:  # not evaluable here: its shapes stay as inferred
                    continue
                arrays = [np.asarray(v) for v in out]
                if any(a.size > _FOLD_LIMIT or a.dtype == object for a in arrays):
                    continue
            for k, v in zip(node.output, arrays):
                if k:
                    values[k] = made[k] = v
            done.add(i)
            new = True
        return new

    def small_output(self, node: Any, ins: list[str], values: dict[str, np.ndarray]) -> bool:
        """Whether evaluating ``node`` makes at most :data:`_FOLD_LIMIT` elements, known before it runs."""
        if node.op_type in _NOT_GROWING:
            return True
        if node.op_type == "ConstantOfShape" and ins:
            dims = values[ins[0]].reshape(-1)
            return dims.size <= 16 and bool((dims >= 0).all()) and math.prod(int(d) for d in dims) <= _FOLD_LIMIT
        if node.op_type == "Constant":  # a dense value in the file (a sparse one could expand to anything)
            value = [a for a in node.attribute if a.name == "value" and a.type == 4]
            return bool(value) and math.prod(value[0].t.dims) <= _FOLD_LIMIT
        out = self.shapes.get(node.output[0]) if node.output else None
        return out is not None and None not in out and math.prod(out) <= _FOLD_LIMIT

    def record_shapes(self, inferred: Any) -> None:
        g = inferred.graph
        for name, t in self.initializers.items():
            self.shapes[name] = tuple(t.dims)
            self.types[name] = t.data_type
        for kind, values in (("input", g.input), ("value_info", g.value_info), ("output", g.output)):
            for v in values:
                if v.name in self.initializers or not v.type.HasField("tensor_type"):
                    continue
                tt = v.type.tensor_type
                dims = []
                for k, d in enumerate(tt.shape.dim):
                    if d.HasField("dim_value"):
                        self.need(d.dim_value >= 0, f"graph.{kind} '{v.name[:60]}'.shape[{k}]", str(d.dim_value),
                                  "a dimension >= 0")
                        dims.append(d.dim_value)
                    else:
                        dims.append(None)
                if tt.HasField("shape"):
                    self.shapes[v.name] = tuple(dims)
                if tt.elem_type:
                    self.types[v.name] = tt.elem_type

    def shape(self, name: str, where: str, what: str) -> tuple[int, ...]:
        """The static shape of tensor ``name``, refused when open (a MAC count needs it)."""
        shape = self.shapes.get(name)
        self.need(shape is not None and None not in shape, where,
                  f"{what} '{name[:60]}' of shape {_fmt(shape) if shape is not None else 'unknown'}",
                  "a static shape (export the model with fixed input sizes)")
        return shape

    def nbytes(self, name: str) -> int:
        shape = self.shapes.get(name)
        if shape is None or None in shape:
            self.unknown_bytes += 1
            return 0
        return math.prod(shape) * _DTYPES.get(self.types.get(name, 1), ("", "", 1))[2]

    def elems(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None or None in shape else math.prod(shape)

    # --- attributes ---

    def attr(self, node: Any, where: str, name: str, kind: str, default: Any) -> Any:
        """Attribute ``name`` of ``node`` ('i' int, 'ints', 's' string, 'f' float), or ``default``."""
        for a in node.attribute:
            if a.name == name:
                code = {"i": 2, "ints": 7, "s": 3, "f": 1}[kind]
                self.need(a.type == code, f"{where}.attribute '{name}'", f"type {a.type}",
                          {"i": "an integer", "ints": "a list of integers", "s": "a string", "f": "a float"}[kind])
                if kind == "ints":
                    return tuple(a.ints)
                return a.s.decode("utf-8", "replace") if kind == "s" else (a.i if kind == "i" else a.f)
        return default

    @staticmethod
    def where(i: int, node: Any) -> str:
        return f"graph.node[{i}] ({node.op_type} '{node.name[:60]}')" if node.name else \
            f"graph.node[{i}] ({node.op_type})"

    # --- the graph ---

    def graph(self) -> ModelGraph:
        self.check_structure()
        self.record_shapes(self.infer(self.model))
        self.fold_small_constants()
        nodes = self.model.graph.node
        # An output nothing reads (Dropout's mask, an LSTM's last cell state) is not made by a runtime: no bytes.
        used = {n for node in nodes for n in node.input} | {v.name for v in self.model.graph.output}
        ops, live, unknown = [], [], []
        folded: dict[str, int] = {}
        total = 0
        for i, node in enumerate(nodes):
            where = self.where(i, node)
            ins = [n for n in node.input if n]
            outs = [n for n in node.output if n and n in used]
            if self.foldable(node, ins):
                folded[node.op_type] = folded.get(node.op_type, 0) + 1
                self.constants.update(outs)
                continue
            for kind, macs, nonzero, suffix, act in self.cost(node, where, ins, outs):
                const = [n for n in ins if n in self.constants] if not suffix else []
                acts = [n for n in ins if n not in self.constants]
                if act is None:
                    act = (sum(self.nbytes(n) for n in acts), sum(self.nbytes(n) for n in outs))
                weight = sum(self.nbytes(n) for n in const)
                total += macs
                for what, value in (("MACs", macs), ("bytes", weight + act[0] + act[1]),
                                    ("MACs of the call", total)):
                    self.need(value <= MAX_COUNT, where, f"{value:,} {what}",
                              "a count that fits in 64 bits (a damaged shape?)")
                if kind == "generic":
                    domain = node.domain if node.domain not in ("", "ai.onnx") else ""
                    unknown.append(f"{i}:{domain + '.' if domain else ''}{node.op_type}")
                typed = [self.types[n] for n in acts + outs if n in self.types]
                dtype = _DTYPES[typed[0]][1] if typed and typed[0] in _DTYPES else "float32"
                ops.append(Op(name=f"{i:03d}_{node.op_type.lower()}{suffix}", kind=kind, macs=float(macs),
                              weight_bytes=float(weight), act_in_bytes=float(act[0]), act_out_bytes=float(act[1]),
                              dtype=dtype))
                live.append(float(nonzero))
        self.need(bool(ops), "graph.node", "only nodes that compute constants", "at least one node run per call")
        if folded:
            listed = ", ".join(f"{n} {k}" for k, n in sorted(folded.items()))
            self.notes.append(f"{sum(folded.values())} nodes computing constants ({listed}) folded before the first "
                              "call: not counted per call")
        if self.unknown_bytes:
            self.notes.append(f"{self.unknown_bytes} tensor(s) of unknown shape counted as 0 bytes")
        return ModelGraph(ops=tuple(ops), unknown=tuple(unknown), source=self.source, nonzero_macs=tuple(live),
                          notes=tuple(dict.fromkeys(self.notes)))

    def foldable(self, node: Any, ins: list[str]) -> bool:
        """Whether ``node`` computes a constant a runtime folds before the first call."""
        if node.op_type in _RANDOM or node.domain not in ("", "ai.onnx"):
            return False
        if node.op_type == "Constant":
            return True
        if node.op_type in ("Shape", "Size") and ins and ins[0] in self.shapes and None not in self.shapes[ins[0]]:
            return True
        return bool(ins) and all(n in self.constants for n in ins)

    # --- costs ---

    def cost(self, node: Any, where: str, ins: list[str], outs: list[str]) -> list[tuple]:
        """``[(kind, MACs, live MACs, name suffix, (act in, act out) bytes or None)]`` of one node."""
        op = node.op_type if node.domain in ("", "ai.onnx") else ""
        if op in _QUANTIZED:
            base, x, w = _QUANTIZED[op]
            self.need(len(node.input) > w and bool(node.input[w]), where, f"{len(node.input)} inputs",
                      f"the data input and the weights at input {w}")
            args = [node.input[x], node.input[w]]
            op = base
        else:
            args = list(node.input)
        if op in ("Conv", "ConvTranspose"):
            self.need(len(args) >= 2 and bool(outs), where, f"{len(args)} inputs", "an input and weights")
            kind, macs, live = (self.conv if op == "Conv" else self.conv_transpose)(node, where, args[0], args[1],
                                                                                    outs[0])
            return [(kind, macs, live, "", None)]
        if op == "Gemm":
            return [("linear", *self.gemm(node, where, args, outs), "", None)]
        if op == "MatMul":
            self.need(len(args) >= 2 and bool(outs), where, f"{len(args)} inputs", "two operands")
            return [("linear", *self.matmul(where, args[0], args[1], outs[0]), "", None)]
        if op in _RECURRENT:
            return self.recurrent(node, where, op, ins, outs)
        out = self.elems(outs[0]) if outs else None
        first = self.elems(ins[0]) if ins else None
        if op in _POOL:
            x = self.shape(ins[0], f"{where}.input[0]", "input") if ins else ()
            y = self.shape(outs[0], f"{where}.output[0]", "output") if outs else ()
            k = self.attr(node, where, "kernel_shape", "ints", ())
            self.need(len(x) >= 3 and len(y) == len(x) and len(k) == len(x) - 2 and all(v >= 1 for v in k), where,
                      f"input {_fmt(x)}, output {_fmt(y)}, kernel_shape {list(k)}",
                      "an input [N, C, ...], an output of the same rank and channels, a window of positive sizes")
            self.need(y[:2] == x[:2], f"{where}.output[0]", f"shape {_fmt(y)}", f"batch and channels of {_fmt(x)}")
            macs = math.prod(y) * math.prod(k)
            return [("pooling", macs, macs, "", None)]
        if op in _GLOBAL_POOL:
            macs = first or 0
            return [("pooling", macs, macs, "", None)]
        if op in _NORM or op == "LRN":
            per = _NORM.get(op) or self.attr(node, where, "size", "i", 1) + 2
            self.need(per >= 1, f"{where}.attribute 'size'", str(per - 2), "a size >= 1")
            macs = per * (out or 0)
            return [("elementwise", macs, macs, "", None)]
        if op in _ELEMENTWISE:
            self.broadcast_check(where, ins, outs)
            return [("elementwise", out or 0, out or 0, "", None)]
        if op in _REDUCE:
            self.need(out is None or first is None or out <= first, f"{where}.output[0]", f"{_count(out)} elements",
                      f"at most the input's {_count(first)}")
            return [("elementwise", first or 0, first or 0, "", None)]
        if op in _SOFTMAX:
            self.need(out is None or first is None or out == first, f"{where}.output[0]", f"{_count(out)} elements",
                      f"the input's {_count(first)}")
            return [("softmax", out or 0, out or 0, "", None)]
        if op in _MOVE:
            if op in ("Resize", "Upsample") and self.attr(node, where, "mode", "s", "nearest") != "nearest":
                return [("elementwise", out or 0, out or 0, "", None)]
            if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Dropout") and ins:
                self.need(out is None or first is None or out == first, f"{where}.output[0]", f"{_count(out)} elements",
                          f"the input's {_count(first)}")
            if op == "Concat":
                parts = [self.elems(n) for n in ins]
                if out is not None and None not in parts:
                    self.need(out == sum(parts), f"{where}.output[0]", f"{_count(out)} elements",
                              f"{sum(parts):,}, the sum of its inputs")
            return [("reshape", 0, 0, "", None)]
        return [("generic", 0, 0, "", None)]

    def broadcast_check(self, where: str, ins: list[str], outs: list[str]) -> None:
        shapes = [self.shapes.get(n) for n in ins]
        if not outs or any(s is None or None in s for s in shapes) or self.elems(outs[0]) is None:
            return
        rank = max((len(s) for s in shapes), default=0)
        dims = []
        for k in range(rank):
            values = {s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0} - {1}
            self.need(len(values) <= 1, where, f"input shapes {[list(s) for s in shapes]}", "shapes that broadcast")
            dims.append(values.pop() if values else 1)
        self.need(self.elems(outs[0]) == math.prod(dims), f"{where}.output[0]", f"{self.elems(outs[0]):,} elements",
                  f"{math.prod(dims):,}, the broadcast of its inputs {dims}")

    def spatial_out(self, node: Any, where: str, x: tuple[int, ...], k: tuple[int, ...]) -> tuple[int, ...]:
        """Output spatial size of a Conv from its input, kernel, strides, dilations and padding."""
        r = len(k)
        strides = self.attr(node, where, "strides", "ints", (1,) * r)
        dilations = self.attr(node, where, "dilations", "ints", (1,) * r)
        pads = self.attr(node, where, "pads", "ints", (0,) * 2 * r)
        auto = self.attr(node, where, "auto_pad", "s", "NOTSET")
        for name, values, n, low in (("strides", strides, r, 1), ("dilations", dilations, r, 1),
                                     ("pads", pads, 2 * r, 0)):
            self.need(len(values) == n and all(v >= low for v in values), f"{where}.attribute '{name}'",
                      describe(list(values)), f"{n} integers >= {low}")
        self.need(auto in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"), f"{where}.attribute 'auto_pad'",
                  describe(auto), "NOTSET, VALID, SAME_UPPER or SAME_LOWER")
        out = []
        for a in range(r):
            span = (k[a] - 1) * dilations[a] + 1
            if auto.startswith("SAME"):
                size = -(-x[a] // strides[a])
            elif auto == "VALID":
                size = (x[a] - span) // strides[a] + 1
            else:
                size = (x[a] + pads[a] + pads[a + r] - span) // strides[a] + 1
            self.need(size >= 1, where, f"an output size of {size} along axis {a + 2}",
                      f"a window ({span} wide) that fits the padded input ({x[a]})")
            out.append(size)
        return tuple(out)

    def conv(self, node: Any, where: str, xn: str, wn: str, yn: str) -> tuple[str, int, int]:
        x = self.shape(xn, f"{where}.input[0]", "input")
        w = self.shape(wn, f"{where}.input[1]", "weights")
        self.need(len(x) >= 3 and len(w) == len(x), where, f"input {_fmt(x)} and weights {_fmt(w)}",
                  "an input [N, C, ...] and weights [C_out, C_in / groups, k...] of the same rank")
        group = self.attr(node, where, "group", "i", 1)
        n, c = x[:2]
        m, cg, k = w[0], w[1], w[2:]
        self.need(group >= 1 and m % group == 0 and c == cg * group, f"{where}.input[1]",
                  f"weights {_fmt(w)} in {group} group(s)",
                  f"{c} input channels = {cg} per group x groups, and output channels a multiple of the groups")
        kernel = self.attr(node, where, "kernel_shape", "ints", k)
        self.need(tuple(kernel) == tuple(k), f"{where}.attribute 'kernel_shape'", describe(list(kernel)),
                  f"the weights' kernel {list(k)}")
        out = self.spatial_out(node, where, x[2:], k)
        y = self.shapes.get(yn)
        if y is not None and None not in y:
            self.need(tuple(y) == (n, m) + out, f"{where}.output[0]", f"shape {_fmt(y)}",
                      f"{[n, m, *out]} from the input, weights, strides, dilations and pads")
        macs = n * m * math.prod(out) * cg * math.prod(k)
        if len(k) == 1:
            kind = "conv1d"
        elif len(k) == 2:
            kind = ("depthwise_conv2d" if group == c and cg == 1 and group > 1 else
                    "pointwise_conv2d" if k == (1, 1) and group == 1 else "conv2d")
        else:
            return "generic", 0, 0
        return kind, macs, self.live(wn, 0, macs, m)

    def conv_transpose(self, node: Any, where: str, xn: str, wn: str, yn: str) -> tuple[str, int, int]:
        x = self.shape(xn, f"{where}.input[0]", "input")
        w = self.shape(wn, f"{where}.input[1]", "weights")
        self.need(len(x) >= 3 and len(w) == len(x), where, f"input {_fmt(x)} and weights {_fmt(w)}",
                  "an input [N, C, ...] and weights [C_in, C_out / groups, k...] of the same rank")
        group = self.attr(node, where, "group", "i", 1)
        self.need(group >= 1 and w[0] == x[1] and x[1] % group == 0, f"{where}.input[1]",
                  f"weights {_fmt(w)} in {group} group(s)", f"the input's {x[1]} channels first, divisible by groups")
        y = self.shapes.get(yn)
        if y is not None and None not in y:
            self.need(len(y) == len(x) and y[:2] == (x[0], w[1] * group), f"{where}.output[0]", f"shape {_fmt(y)}",
                      f"batch {x[0]} and {w[1] * group} channels")
        macs = x[0] * x[1] * w[1] * math.prod(w[2:]) * math.prod(x[2:])
        kind = {1: "conv_transpose1d", 2: "conv_transpose2d"}.get(len(w) - 2)
        return (kind, macs, macs) if kind else ("generic", 0, 0)

    def gemm(self, node: Any, where: str, args: list[str], outs: list[str]) -> tuple[int, int]:
        self.need(len(args) >= 2 and bool(outs), where, f"{len(args)} inputs", "operands A and B")
        a = self.shape(args[0], f"{where}.input[0]", "A")
        b = self.shape(args[1], f"{where}.input[1]", "B")
        self.need(len(a) == 2 and len(b) == 2, where, f"A {_fmt(a)}, B {_fmt(b)}", "2-D operands")
        ta, tb = self.attr(node, where, "transA", "i", 0), self.attr(node, where, "transB", "i", 0)
        m, k = (a[1], a[0]) if ta else a
        k2, n = (b[1], b[0]) if tb else b
        self.need(k == k2, f"{where}.input[1]", f"B {_fmt(b)}{' (transposed)' if tb else ''}",
                  f"{k} rows to match A {_fmt(a)}{' (transposed)' if ta else ''}")
        macs = m * k * n
        return macs, self.live(args[1], 0 if tb else 1, macs, n)

    def matmul(self, where: str, an: str, bn: str, yn: str) -> tuple[int, int]:
        a = self.shape(an, f"{where}.input[0]", "A")
        b = self.shape(bn, f"{where}.input[1]", "B")
        self.need(len(a) >= 1 and len(b) >= 1, where, f"A {_fmt(a)}, B {_fmt(b)}", "operands of rank >= 1")
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        self.need(a2[-1] == b2[-2], f"{where}.input[1]", f"B {_fmt(b)}", f"{a2[-1]} rows to match A {_fmt(a)}")
        batch = []
        sa, sb = a2[:-2], b2[:-2]
        rank = max(len(sa), len(sb))
        for i in range(rank):
            da = sa[i - rank + len(sa)] if i - rank + len(sa) >= 0 else 1
            db = sb[i - rank + len(sb)] if i - rank + len(sb) >= 0 else 1
            self.need(da == db or 1 in (da, db), where, f"A {_fmt(a)}, B {_fmt(b)}", "batch dimensions that broadcast")
            batch.append(max(da, db))
        m, k, n = a2[-2], a2[-1], b2[-1]
        macs = math.prod(batch) * m * k * n
        return macs, (self.live(bn, len(b) - 1, macs, n) if len(b) == 2 else macs)

    def recurrent(self, node: Any, where: str, op: str, ins: list[str], outs: list[str]) -> list[tuple]:
        gates, per_unit = _RECURRENT[op]
        args = list(node.input)
        self.need(len(args) >= 3 and all(args[:3]), where, f"{len(args)} inputs", "X, W and R")
        x = self.shape(args[0], f"{where}.input[0]", "X")
        w = self.shape(args[1], f"{where}.input[1]", "W")
        r = self.shape(args[2], f"{where}.input[2]", "R")
        self.need(len(x) == 3 and len(w) == 3 and len(r) == 3, where, f"X {_fmt(x)}, W {_fmt(w)}, R {_fmt(r)}",
                  "3-D X, W and R")
        layout = self.attr(node, where, "layout", "i", 0)
        direction = self.attr(node, where, "direction", "s", "forward")
        self.need(direction in ("forward", "reverse", "bidirectional"), f"{where}.attribute 'direction'",
                  describe(direction), "forward, reverse or bidirectional")
        dirs = 2 if direction == "bidirectional" else 1
        steps, batch, i = (x[1], x[0], x[2]) if layout else (x[0], x[1], x[2])
        h = self.attr(node, where, "hidden_size", "i", r[2])
        self.need(w == (dirs, gates * h, i) and r == (dirs, gates * h, h), f"{where}.input[1]",
                  f"W {_fmt(w)}, R {_fmt(r)}", f"W [{dirs}, {gates} x {h}, {i}] and R [{dirs}, {gates} x {h}, {h}] "
                  f"for {i} inputs, {h} hidden units, {direction}")
        macs = steps * batch * dirs * gates * h * (i + h)
        peephole = op == "LSTM" and len(args) > 7 and bool(args[7])
        elementwise = steps * batch * dirs * h * (per_unit + (3 if peephole else 0))
        size = _DTYPES.get(self.types.get(args[0], 1), ("", "", 4))[2]
        state = steps * batch * dirs * h * size
        return [("linear", macs, macs, "", None), ("elementwise", elementwise, elementwise, "_gates", (state, state))]

    def live(self, name: str, axis: int, macs: int, c_out: int) -> int:
        """MACs of output channels (along ``axis`` of the weights) whose weights are not all zero."""
        t = self.initializers.get(name)
        if t is None or c_out <= 0 or t.data_location == self.onnx.TensorProto.EXTERNAL or t.data_type not in (
                1, 10, 11, 16):
            return macs
        from onnx import numpy_helper

        arr = numpy_helper.to_array(t)
        if arr.ndim <= axis or arr.shape[axis] != c_out:
            return macs
        dead = int((np.moveaxis(arr, axis, 0).reshape(c_out, -1) == 0).all(axis=1).sum())
        return macs * (c_out - dead) // c_out
