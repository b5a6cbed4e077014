"""Op graphs from TensorFlow Lite flatbuffers, streaming (stateful) models included: every operator of the main
subgraph becomes one :class:`Op`.

The flatbuffer is walked by a reader that checks every offset, vtable and vector against the file before it reads
(Python's flatbuffers accessors check nothing), so a truncated or damaged model is refused with the key path that
led to the damage (``subgraphs[0].operators[12].opcode_index``), what was found and what was expected, and the
work done stays in proportion to the file's size. Shapes are checked too: a dimension below 1, a constant whose
data does not fill its shape, or an operator whose tensors disagree (a filter's input channels against its
input's, an output's size against what the operator makes of its inputs) is refused, so no count is negative,
and every count is an exact integer checked to fit in 64 bits.

Counting rules (per call of the main subgraph; the batch dimension is counted too):

* ``conv2d`` / ``pointwise_conv2d`` (a 1x1 CONV_2D): MACs = out_h * out_w * C_out * k_h * k_w * C_in / groups;
* ``depthwise_conv2d``: MACs = out_h * out_w * C_out * k_h * k_w;
* ``conv_transpose2d`` (TRANSPOSE_CONV): MACs = in_h * in_w * C_in * k_h * k_w * C_out;
* ``linear`` (FULLY_CONNECTED, BATCH_MATMUL): MACs = rows * in_features * out_features;
* ``pooling`` (AVERAGE/MAX/L2_POOL_2D): element operations = output elements * window area;
* ``elementwise`` (ADD, MUL, activations, QUANTIZE, ...) and ``softmax``: element operations = output elements;
  reductions (MEAN, SUM, ...): input elements;
* ``reshape``: shape and data-movement operators (RESHAPE, CONCATENATION, STRIDED_SLICE, SPLIT, PAD, TRANSPOSE,
  GATHER, ...): no arithmetic, only bytes;
* ``state``: the streaming state of a stateful model, no MACs. READ_VARIABLE copies a variable out (its bytes read
  and written), ASSIGN_VARIABLE copies a value in (likewise); VAR_HANDLE (a handle lookup) and CALL_ONCE (a flag
  test after the first call) move nothing. The subgraph CALL_ONCE runs (the variables' initial values) runs once,
  before the first call, and is not counted per call: :attr:`ModelGraph.notes` names it;
* anything else: ``generic``, with its bytes and no MACs, and listed in :attr:`ModelGraph.unknown` (control flow
  such as WHILE and IF among them: their subgraphs are not expanded).

Weight bytes are the constant tensors an op reads (filters, biases, slice bounds); activation bytes the other
inputs and the outputs. ``nonzero_macs`` also counts, for conv and dense layers, only output channels whose weights
are not all zero (a runtime that drops dead channels does that much work; the MLPerf Tiny VWW model has many).

**Call rate.** A microWakeWord model (the ``pymicro-wakeword`` package ships four) has a JSON manifest beside it
(``alexa.json`` for ``alexa.tflite``) whose ``micro.feature_step_size`` is the feature step in milliseconds; each
call takes ``input.shape[1]`` feature frames (the stride the runtime reads from the same place), so the model is
called every step * stride ms. That rate is :attr:`ModelGraph.call_rate_hz`.

>>> from dslsim.shipped import MODELS
>>> g = read_tflite(MODELS / "kws_ref_model.tflite")           # MLPerf Tiny keyword spotting (DS-CNN)
>>> int(sum(op.macs for op in g.ops if op.kind.endswith(("conv2d", "linear"))))
2656768
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from dslsim.errors import DslsimError, InputError, describe, first_line
from dslsim.fileio import read_input_bytes
from dslsim.trace.graph import MAX_COUNT, ModelGraph
from dslsim.trace.schema import Op

#: Largest .tflite file read (always-on models are kB to a few MB; a 2 GB flatbuffer is the format's own limit).
MAX_MODEL_BYTES = 512 * 2**20
#: Largest JSON manifest read beside a model (they are a few hundred bytes).
MAX_MANIFEST_BYTES = 2**20

#: TFLite tensor type codes -> (TFLite name, dtype written in the trace, bytes per element). The trace's dtype has
#: the element's size (a uint32 is written 'int32'); 0 bytes: no fixed-size data (strings, resource handles).
_TYPES = {0: ("FLOAT32", "float32", 4), 1: ("FLOAT16", "float16", 2), 2: ("INT32", "int32", 4),
          3: ("UINT8", "uint8", 1), 4: ("INT64", "int64", 8), 5: ("STRING", "int8", 0), 6: ("BOOL", "bool", 1),
          7: ("INT16", "int16", 2), 8: ("COMPLEX64", "float64", 8), 9: ("INT8", "int8", 1),
          10: ("FLOAT64", "float64", 8), 11: ("COMPLEX128", "float64", 16), 12: ("UINT64", "int64", 8),
          13: ("RESOURCE", "int8", 0), 14: ("VARIANT", "int8", 0), 15: ("UINT32", "int32", 4),
          16: ("UINT16", "int16", 2), 17: ("INT4", "int8", 1), 18: ("BFLOAT16", "bfloat16", 2)}
#: Types whose constant data may be packed below one byte per element (INT4: two per byte).
_PACKED = {17}
#: numpy dtypes of the weight types whose dead channels are looked for.
_NUMPY = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 7: np.int16, 9: np.int8}

#: TFLite builtin operators by kind; the rest are 'generic'.
_ELEMENTWISE = {"ADD", "SUB", "MUL", "DIV", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH",
                "HARD_SWISH", "LEAKY_RELU", "PRELU", "QUANTIZE", "DEQUANTIZE", "MAXIMUM", "MINIMUM", "ABS", "SQUARE",
                "SQRT", "RSQRT", "EXP", "LOG", "SQUARED_DIFFERENCE", "ELU", "GELU", "NEG", "POW", "CAST", "FLOOR",
                "CEIL", "ROUND", "SIGN", "SIN", "COS", "FLOOR_DIV", "FLOOR_MOD", "GREATER", "GREATER_EQUAL", "LESS",
                "LESS_EQUAL", "EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "SELECT",
                "SELECT_V2", "ADD_N"}
_REDUCE = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL", "ARG_MAX",
           "ARG_MIN"}
_RESIZE = {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"}
_RESHAPE = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "FLATTEN"}
_MOVE = {"CONCATENATION", "STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "PAD", "PADV2", "MIRROR_PAD", "TRANSPOSE",
         "GATHER", "GATHER_ND", "PACK", "UNPACK", "TILE", "BROADCAST_TO", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
         "SHAPE", "REVERSE_V2", "ZEROS_LIKE", "FILL"}
_POOL = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}
_STATE = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}
#: BuiltinOptions union type codes of the option tables read here.
_OPTIONS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 2, "POOL": 5, "BATCH_MATMUL": 101, "CALL_ONCE": 103, "VAR_HANDLE": 111}
#: Padding codes of the conv and pool options.
_SAME, _VALID = 0, 1


def read_tflite(path: str | Path) -> ModelGraph:
    """Parse ``path`` (a .tflite flatbuffer) into per-call op costs and, for a model with a microWakeWord manifest
    beside it, its call rate; errors name the file, the key path, what was found and what was expected."""
    try:
        import tflite  # noqa: F401 (the operator names)
    except ImportError:
        raise DslsimError("reading .tflite models needs the 'tflite' package: pip install tflite") from None
    path = Path(path)
    data = read_input_bytes(path, MAX_MODEL_BYTES, "a TensorFlow Lite model (.tflite)")
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InputError(path, "file identifier", f"{describe(bytes(data[4:8]))}, not a TensorFlow Lite flatbuffer",
                         "'TFL3' at bytes 4-7")
    model = _Model(_Flat(data, str(path)))
    graph = _cost(model)
    rate, basis = _manifest_rate(path, model)
    return ModelGraph(ops=graph[0], unknown=graph[1], source=str(path), nonzero_macs=graph[2], call_rate_hz=rate,
                      rate_basis=basis, notes=graph[3])


# --- a bounds-checked flatbuffer walker ------------------------------------------------------------------------


class _Flat:
    """The bytes of a flatbuffer and the checks every read goes through."""

    def __init__(self, data: bytes, source: str):
        self.data = data
        self.n = len(data)
        self.source = source
        # Flatbuffers may share one vector between tables; a damaged file could make every table point at one
        # huge vector. Elements read in all are capped in proportion to the file so the work stays bounded.
        self.budget = 16 * self.n + 1_000_000

    def fail(self, where: str, found: str, expected: str) -> NoReturn:
        """Refuse the file at key path ``where``."""
        raise InputError(self.source, where, found, expected)

    def read(self, fmt: str, pos: int, where: str) -> int:
        """The little-endian scalar ``fmt`` at byte ``pos``, refused when it lies outside the file."""
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > self.n:
            self.fail(where, f"an offset to byte {pos:,} of a {self.n:,}-byte file",
                      "offsets inside the file (a truncated or damaged model?)")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def charge(self, elements: int, where: str) -> None:
        """Count ``elements`` read against the budget."""
        self.budget -= elements
        if self.budget < 0:
            self.fail(where, "vectors that point back at each other many times over",
                      f"a model whose tables read about as much as its {self.n:,} bytes hold")

    def table(self, pos: int, where: str) -> "_Table":
        """The table at byte ``pos`` with its vtable checked."""
        label = where or "root table"
        vtable = pos - self.read("<i", pos, label)
        vt_len = self.read("<H", vtable, f"{label} (vtable)")
        tbl_len = self.read("<H", vtable + 2, f"{label} (vtable)")
        if vt_len < 4 or vt_len % 2 or vtable + vt_len > self.n or tbl_len < 4 or pos + tbl_len > self.n:
            self.fail(label, f"a vtable of {vt_len} bytes for a table of {tbl_len} bytes at byte {pos:,}",
                      f"a table and its vtable inside the {self.n:,}-byte file")
        return _Table(self, pos, vtable, vt_len, tbl_len, where)


class _Table:
    """One flatbuffer table; fields are read by their index in the schema."""

    def __init__(self, flat: _Flat, pos: int, vtable: int, vt_len: int, tbl_len: int, where: str):
        self.flat, self.pos, self.vtable, self.vt_len, self.tbl_len, self.where = (flat, pos, vtable, vt_len,
                                                                                  tbl_len, where)

    def at(self, name: str) -> str:
        """The key path of field ``name``."""
        return f"{self.where}.{name}" if self.where else name

    def _field(self, index: int, size: int, name: str) -> int | None:
        slot = 4 + 2 * index
        if slot + 2 > self.vt_len:
            return None
        off = self.flat.read("<H", self.vtable + slot, self.at(name))
        if off == 0:
            return None
        if off + size > self.tbl_len:
            self.flat.fail(self.at(name), f"a field at byte {off} of a {self.tbl_len}-byte table",
                           "fields inside their table")
        return self.pos + off

    def scalar(self, index: int, fmt: str, name: str, default: int = 0) -> int:
        """A scalar field (``fmt``: '<i', '<I', '<b', '<B', '<Q', ...), or ``default`` when absent."""
        pos = self._field(index, struct.calcsize(fmt), name)
        return default if pos is None else self.flat.read(fmt, pos, self.at(name))

    def _target(self, index: int, name: str) -> int | None:
        pos = self._field(index, 4, name)
        if pos is None:
            return None
        target = pos + self.flat.read("<I", pos, self.at(name))
        if target >= self.flat.n:
            self.flat.fail(self.at(name), f"an offset to byte {target:,} of a {self.flat.n:,}-byte file",
                           "offsets inside the file (a truncated or damaged model?)")
        return target

    def table(self, index: int, name: str) -> "_Table | None":
        """A sub-table field, or None when absent."""
        target = self._target(index, name)
        return None if target is None else self.flat.table(target, self.at(name))

    def vector(self, index: int, name: str, elem_size: int) -> tuple[int, int]:
        """``(first element's byte, length)`` of a vector field (length 0 when absent), refused if it runs past
        the end of the file."""
        target = self._target(index, name)
        if target is None:
            return 0, 0
        length = self.flat.read("<I", target, self.at(name))
        if target + 4 + length * elem_size > self.flat.n:
            self.flat.fail(self.at(name), f"a vector of {length:,} elements at byte {target:,}",
                           f"a vector that ends inside the {self.flat.n:,}-byte file (a truncated or damaged model?)")
        self.flat.charge(length, self.at(name))
        return target + 4, length

    def ints(self, index: int, name: str, fmt: str = "i") -> list[int]:
        """An integer vector field (``fmt``: 'i' int32, 'b' int8, ...)."""
        start, length = self.vector(index, name, struct.calcsize(fmt))
        return list(struct.unpack_from(f"<{length}{fmt}", self.flat.data, start)) if length else []

    def raw(self, index: int, name: str) -> memoryview:
        """A byte vector field, without a copy."""
        start, length = self.vector(index, name, 1)
        return memoryview(self.flat.data)[start:start + length]

    def string(self, index: int, name: str) -> str:
        """A string field ('' when absent), undecodable bytes replaced."""
        return bytes(self.raw(index, name)).decode("utf-8", "replace")

    def tables(self, index: int, name: str) -> list["_Table"]:
        """A vector of tables."""
        start, length = self.vector(index, name, 4)
        out = []
        for j in range(length):
            pos = start + 4 * j
            out.append(self.flat.table(pos + self.flat.read("<I", pos, f"{self.at(name)}[{j}]"),
                                       f"{self.at(name)}[{j}]"))
        return out


# --- the model -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tensor:
    """A tensor of a subgraph: shape (every dimension >= 1), type code, buffer index, name, key path."""

    shape: tuple[int, ...]
    type: int
    buffer: int
    name: str
    sparse: bool
    where: str

    @property
    def elems(self) -> int:
        """Elements (1 for a scalar)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of its data (0 for strings and resource handles)."""
        return self.elems * _TYPES[self.type][2]


@dataclass(frozen=True)
class _Operator:
    """An operator: its name (``CONV_2D``, ``CUSTOM:x``), tensor indices, options table and key path."""

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: _Table | None
    options_type: int
    where: str


@dataclass(frozen=True)
class _Subgraph:
    """A subgraph: name, tensors, input tensor indices, operators in execution order."""

    name: str
    tensors: tuple[_Tensor, ...]
    inputs: tuple[int, ...]
    operators: tuple[_Operator, ...]


class _Model:
    """The parts of a TFLite model the costing reads (schema.fbs field numbers in the comments), all checked."""

    def __init__(self, flat: _Flat):
        self.flat = flat
        root = flat.table(flat.read("<I", 0, "root offset"), "")
        self.opcodes = tuple(self._opcode(t) for t in root.tables(1, "operator_codes"))          # Model.1
        self.buffers = tuple(self._buffer(t) for t in root.tables(4, "buffers"))                # Model.4
        subgraphs = root.tables(2, "subgraphs")                                                  # Model.2
        if not subgraphs:
            flat.fail("subgraphs", "none", "at least the main subgraph")
        self.subgraphs = tuple(self._subgraph(t, s) for s, t in enumerate(subgraphs))

    def _opcode(self, t: _Table) -> str:
        import tflite

        names = _opcode_names()
        code = max(t.scalar(0, "<b", "deprecated_builtin_code"), t.scalar(3, "<i", "builtin_code"))
        if code == tflite.BuiltinOperator.CUSTOM:
            return f"CUSTOM:{t.string(1, 'custom_code')[:60]}"
        return names.get(code, f"BUILTIN_{code}")

    def _buffer(self, t: _Table) -> memoryview:
        data = t.raw(0, "data")                                                                  # Buffer.0
        offset, size = t.scalar(1, "<Q", "offset"), t.scalar(2, "<Q", "size")                    # Buffer.1, .2
        if offset > 1:  # data kept after the flatbuffer (models over 2 GB): it must still be in this file
            if offset + size > self.flat.n:
                self.flat.fail(t.at("offset"), f"{size:,} bytes at byte {offset:,} of a {self.flat.n:,}-byte file",
                               "buffer data inside the file (a truncated or damaged model?)")
            return memoryview(self.flat.data)[offset:offset + size]
        return data

    def _subgraph(self, t: _Table, s: int) -> _Subgraph:
        tensors = tuple(self._tensor(x, f"subgraphs[{s}].tensors[{i}]")
                        for i, x in enumerate(t.tables(0, "tensors")))                           # SubGraph.0
        n = len(tensors)
        inputs = tuple(t.ints(1, "inputs"))                                                      # SubGraph.1
        for j, i in enumerate(inputs):
            if not 0 <= i < n:
                self.flat.fail(t.at(f"inputs[{j}]"), str(i), f"a tensor index (0..{n - 1})")
        operators = []
        for i, op in enumerate(t.tables(3, "operators")):                                        # SubGraph.3
            where = f"subgraphs[{s}].operators[{i}]"
            code = op.scalar(0, "<I", "opcode_index")                                            # Operator.0
            if code >= len(self.opcodes):
                self.flat.fail(op.at("opcode_index"), str(code),
                               f"an index into operator_codes (0..{len(self.opcodes) - 1})" if self.opcodes
                               else "an index into operator_codes (the model has none)")
            ins, outs = op.ints(1, "inputs"), op.ints(2, "outputs")                              # Operator.1, .2
            for kind, idx, lowest in (("inputs", ins, -1), ("outputs", outs, 0)):
                for j, v in enumerate(idx):
                    if not lowest <= v < n:
                        self.flat.fail(op.at(f"{kind}[{j}]"), str(v), f"a tensor index (0..{n - 1})"
                                       + (" or -1 for an absent optional input" if lowest < 0 else ""))
            operators.append(_Operator(self.opcodes[code], tuple(ins), tuple(outs), op.table(4, "builtin_options"),
                                       op.scalar(3, "<B", "builtin_options_type"), where))
        return _Subgraph(t.string(4, "name")[:60], tensors, inputs, tuple(operators))

    def _tensor(self, t: _Table, where: str) -> _Tensor:
        shape = tuple(t.ints(0, "shape"))                                                        # Tensor.0
        for k, d in enumerate(shape):
            if d < 1:
                self.flat.fail(f"{where}.shape[{k}]", str(d), "a dimension >= 1")
        kind = t.scalar(1, "<b", "type")                                                         # Tensor.1
        if kind not in _TYPES:
            self.flat.fail(f"{where}.type", str(kind), f"a TFLite tensor type code (0..{max(_TYPES)})")
        buffer = t.scalar(2, "<I", "buffer")                                                     # Tensor.2
        if buffer >= max(len(self.buffers), 1):
            self.flat.fail(f"{where}.buffer", str(buffer), f"an index into buffers (0..{len(self.buffers) - 1})")
        sparse = t._field(6, 4, "sparsity") is not None                                          # Tensor.6
        tensor = _Tensor(shape, kind, buffer, t.string(3, "name")[:60], sparse, where)           # Tensor.3
        if tensor.elems > MAX_COUNT:
            self.flat.fail(f"{where}.shape", describe(list(shape)), "a tensor whose size fits in 64 bits")
        data = self.buffers[buffer] if self.buffers else b""
        size = _TYPES[kind][2]
        if len(data) and size and not sparse:
            need = tensor.elems * size
            ok = len(data) in (need, (tensor.elems + 1) // 2) if kind in _PACKED else len(data) == need
            if not ok:
                self.flat.fail(where, f"{len(data):,} bytes of data in buffers[{buffer}]",
                               f"{need:,} bytes: shape {list(shape)} of {_TYPES[kind][0]}")
        return tensor

    def constant(self, t: _Tensor) -> bool:
        """Whether ``t`` holds data in the file (a weight), not an activation computed per call."""
        return bool(self.buffers) and len(self.buffers[t.buffer]) > 0


def _opcode_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


# --- costs ---------------------------------------------------------------------------------------------------


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The numpy broadcast of ``shapes``, or None when they do not broadcast."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = {s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0} - {1}
        if len(dims) > 1:
            return None
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def _conv_out(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """Output length of a conv or pool along one axis, as TFLite computes it."""
    if padding == _SAME:
        return -(-size // stride)
    return -(-(size - (kernel - 1) * dilation) // stride)


class _Costing:
    """Costs the operators of the main subgraph; each check names the operator and the tensor."""

    def __init__(self, model: _Model):
        self.model = model
        self.flat = model.flat
        self.g = model.subgraphs[0]
        self.dead_cache: dict[int, int] = {}

    def tensor(self, i: int) -> _Tensor:
        return self.g.tensors[i]

    def need(self, ok: bool, where: str, found: str, expected: str) -> None:
        if not ok:
            self.flat.fail(where, found, expected)

    def rank(self, t: _Tensor, rank: int, at: str, what: str) -> tuple[int, ...]:
        self.need(len(t.shape) == rank, at, f"shape {list(t.shape)}", f"a {rank}-D {what}")
        return t.shape

    def options(self, op: _Operator, key: str) -> _Table | None:
        return op.options if op.options is not None and op.options_type == _OPTIONS[key] else None

    def window(self, op: _Operator, key: str, x: tuple[int, ...], k: tuple[int, int], y: tuple[int, ...]) -> None:
        """Checks a conv's or pool's output height and width against its input, window, strides and padding."""
        opts = self.options(op, key)
        if opts is None:
            return
        if key == "POOL":
            padding, sw, sh, dw, dh = (opts.scalar(0, "<b", "padding"), opts.scalar(1, "<i", "stride_w"),
                                       opts.scalar(2, "<i", "stride_h"), 1, 1)
        else:  # Conv2DOptions: 4, 5 dilations; DepthwiseConv2DOptions: 5, 6
            d0 = 4 if key == "CONV_2D" else 5
            padding, sw, sh = opts.scalar(0, "<b", "padding"), opts.scalar(1, "<i", "stride_w"), \
                opts.scalar(2, "<i", "stride_h")
            dw, dh = opts.scalar(d0, "<i", "dilation_w_factor", 1), opts.scalar(d0 + 1, "<i", "dilation_h_factor", 1)
        at = f"{op.where}.builtin_options"
        self.need(padding in (_SAME, _VALID), f"{at}.padding", str(padding), "0 (SAME) or 1 (VALID)")
        for name, v in (("stride_w", sw), ("stride_h", sh), ("dilation_w_factor", dw), ("dilation_h_factor", dh)):
            self.need(v >= 1, f"{at}.{name}", str(v), "an integer >= 1")
        want = (_conv_out(x[1], k[0], sh, dh, padding), _conv_out(x[2], k[1], sw, dw, padding))
        self.need(want == tuple(y[1:3]), f"{op.where}.outputs[0]", f"height x width {y[1]} x {y[2]}",
                  f"{want[0]} x {want[1]}: input {x[1]} x {x[2]}, window {k[0]} x {k[1]}, strides {sh} x {sw}, "
                  f"dilations {dh} x {dw}, {'SAME' if padding == _SAME else 'VALID'} padding")

    def live(self, w: _Tensor, axis: int, macs: int, c_out: int) -> int:
        """MACs of output channels (along ``axis`` of the weights) whose weights are not all zero."""
        if not self.model.constant(w) or w.sparse or w.type not in _NUMPY or c_out <= 0:
            return macs
        key = id(w)
        if key not in self.dead_cache:
            self.flat.charge(w.elems, w.where)
            arr = np.frombuffer(self.model.buffers[w.buffer], dtype=_NUMPY[w.type]).reshape(w.shape)
            self.dead_cache[key] = int((np.moveaxis(arr, axis, 0).reshape(arr.shape[axis], -1) == 0).all(axis=1).sum())
        return macs * (c_out - self.dead_cache[key]) // c_out

    def cost(self, op: _Operator, variables: dict[int, str], assigned: dict[str, int]) -> tuple[str, int, int]:
        """``(kind, MACs, live MACs)`` of one operator, after checking its tensors agree."""
        name, where = op.name, op.where
        ins = [self.tensor(j) for j in op.inputs if j >= 0]
        outs = [self.tensor(j) for j in op.outputs]
        out_elems = outs[0].elems if outs else 0
        in_elems = ins[0].elems if ins else 0
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"):
            self.need(len(ins) >= 2 and len(outs) >= 1, where, f"{len(ins)} input(s), {len(outs)} output(s)",
                      "an input, a weight tensor and an output")
        if name == "CONV_2D":
            x = self.rank(ins[0], 4, f"{where}.inputs[0]", "input [batch, height, width, channels]")
            c_out, kh, kw, c_in_g = self.rank(ins[1], 4, f"{where}.inputs[1]", "filter [out, kh, kw, in]")
            y = self.rank(outs[0], 4, f"{where}.outputs[0]", "output [batch, height, width, channels]")
            groups = x[3] // c_in_g
            self.need(x[3] % c_in_g == 0 and c_out % groups == 0, f"{where}.inputs[1]",
                      f"{c_in_g} input channels per group, {c_out} output channels",
                      f"a divisor of the input's {x[3]} channels, and output channels a multiple of the groups")
            self.need(y[3] == c_out and y[0] == x[0], f"{where}.outputs[0]", f"shape {list(y)}",
                      f"batch {x[0]} and the filter's {c_out} output channels")
            self.window(op, "CONV_2D", x, (kh, kw), y)
            macs = out_elems * kh * kw * c_in_g
            return ("pointwise_conv2d" if kh == kw == 1 else "conv2d"), macs, self.live(ins[1], 0, macs, c_out)
        if name == "DEPTHWISE_CONV_2D":
            x = self.rank(ins[0], 4, f"{where}.inputs[0]", "input [batch, height, width, channels]")
            _, kh, kw, c_out = self.rank(ins[1], 4, f"{where}.inputs[1]", "filter [1, kh, kw, out]")
            y = self.rank(outs[0], 4, f"{where}.outputs[0]", "output [batch, height, width, channels]")
            self.need(c_out % x[3] == 0 and y[3] == c_out and y[0] == x[0], f"{where}.outputs[0]",
                      f"shape {list(y)}", f"batch {x[0]} and the filter's {c_out} channels, a multiple of the "
                      f"input's {x[3]}")
            self.window(op, "DEPTHWISE_CONV_2D", x, (kh, kw), y)
            macs = out_elems * kh * kw
            return "depthwise_conv2d", macs, self.live(ins[1], 3, macs, c_out)
        if name == "TRANSPOSE_CONV":  # inputs: output shape, filter [out, kh, kw, in], input
            self.need(len(ins) >= 3, where, f"{len(ins)} inputs", "output shape, filter and input")
            c_out, kh, kw, c_in = self.rank(ins[1], 4, f"{where}.inputs[1]", "filter [out, kh, kw, in]")
            x = self.rank(ins[2], 4, f"{where}.inputs[2]", "input [batch, height, width, channels]")
            self.need(x[3] == c_in and outs[0].shape[-1:] == (c_out,), f"{where}.outputs[0]",
                      f"input {list(x)}, output {list(outs[0].shape)}", f"{c_in} input and {c_out} output channels")
            macs = ins[2].elems * kh * kw * c_out
            return "conv_transpose2d", macs, macs
        if name == "FULLY_CONNECTED":
            w = ins[1].shape
            self.need(len(w) == 2, f"{where}.inputs[1]", f"shape {list(w)}", "a 2-D weight [out, in]")
            c_out, c_in = w
            self.need(in_elems % c_in == 0, f"{where}.inputs[0]", f"{in_elems:,} elements",
                      f"a multiple of the weight's {c_in} input features")
            rows = in_elems // c_in
            self.need(out_elems == rows * c_out, f"{where}.outputs[0]", f"{out_elems:,} elements",
                      f"{rows} row(s) x {c_out} output features")
            macs = rows * c_in * c_out
            return "linear", macs, self.live(ins[1], 0, macs, c_out)
        if name == "BATCH_MATMUL":
            a, b = ins[0].shape, ins[1].shape
            self.need(len(a) >= 2 and len(b) >= 2, where, f"shapes {list(a)} and {list(b)}", "operands of rank >= 2")
            opts = self.options(op, "BATCH_MATMUL")
            adj_x = bool(opts.scalar(0, "<B", "adj_x")) if opts is not None else False
            k = a[-2] if adj_x else a[-1]
            macs = out_elems * k
            return "linear", macs, macs
        if name in _POOL:
            x = self.rank(ins[0], 4, f"{where}.inputs[0]", "input [batch, height, width, channels]") if ins else ()
            y = self.rank(outs[0], 4, f"{where}.outputs[0]", "output [batch, height, width, channels]") if outs else ()
            opts = self.options(op, "POOL")
            self.need(opts is not None and bool(x) and bool(y), where, "no Pool2DOptions",
                      "an input, an output and the pool's window")
            fw, fh = opts.scalar(3, "<i", "filter_width"), opts.scalar(4, "<i", "filter_height")
            self.need(fw >= 1 and fh >= 1, f"{where}.builtin_options", f"a {fh} x {fw} window",
                      "a window of at least 1 x 1")
            self.need(y[3] == x[3] and y[0] == x[0], f"{where}.outputs[0]", f"shape {list(y)}",
                      f"the input's batch {x[0]} and {x[3]} channels")
            self.window(op, "POOL", x, (fh, fw), y)
            macs = out_elems * fh * fw
            return "pooling", macs, macs
        if name in ("SOFTMAX", "LOG_SOFTMAX"):
            self.need(out_elems == in_elems, f"{where}.outputs[0]", f"{out_elems:,} elements",
                      f"the input's {in_elems:,}")
            return "softmax", out_elems, out_elems
        if name in _ELEMENTWISE:
            shape = _broadcast([t.shape for t in ins])
            self.need(shape is not None, where, f"input shapes {[list(t.shape) for t in ins]}",
                      "shapes that broadcast")
            self.need(not outs or out_elems == math.prod(shape), f"{where}.outputs[0]", f"{out_elems:,} elements",
                      f"{math.prod(shape):,}, the broadcast of its inputs {list(shape)}")
            return "elementwise", out_elems, out_elems
        if name in _REDUCE:
            self.need(out_elems <= in_elems, f"{where}.outputs[0]", f"{out_elems:,} elements",
                      f"at most the input's {in_elems:,}")
            return "elementwise", in_elems, in_elems
        if name in _RESIZE:
            return "elementwise", out_elems, out_elems
        if name in _RESHAPE:
            self.need(out_elems == in_elems, f"{where}.outputs[0]", f"{out_elems:,} elements",
                      f"the input's {in_elems:,}")
            return "reshape", 0, 0
        if name in _MOVE:
            data = [t for t in ins if not self.model.constant(t)] or ins
            if name in ("CONCATENATION", "PACK"):
                self.need(out_elems == sum(t.elems for t in ins), f"{where}.outputs[0]", f"{out_elems:,} elements",
                          f"{sum(t.elems for t in ins):,}, the sum of its inputs")
            if name in ("SPLIT", "SPLIT_V", "UNPACK") and data:
                source = ins[1] if name == "SPLIT" and len(ins) > 1 else ins[0]
                total = sum(t.elems for t in outs)
                self.need(total == source.elems, where, f"outputs of {total:,} elements in all",
                          f"the {source.elems:,} of the input split")
            return "reshape", 0, 0
        if name in _STATE:
            if name == "CALL_ONCE":
                opts = self.options(op, "CALL_ONCE")
                init = opts.scalar(0, "<i", "init_subgraph_index") if opts is not None else -1
                n = len(self.model.subgraphs)
                self.need(0 < init < n, f"{where}.builtin_options.init_subgraph_index", str(init),
                          f"the index of another subgraph (1..{n - 1})" if n > 1 else
                          "the index of another subgraph (the model has only the main one)")
            if name == "READ_VARIABLE" and op.inputs and op.inputs[0] in variables and outs:
                size = assigned.get(variables[op.inputs[0]])
                self.need(size is None or size == outs[0].elems, f"{where}.outputs[0]", f"{outs[0].elems:,} elements",
                          f"the {size} the variable '{variables[op.inputs[0]]}' is assigned")
            return "state", 0, 0
        return "generic", 0, 0


def _variable_names(model: _Model, g: _Subgraph) -> dict[int, str]:
    """The resource tensors of subgraph ``g`` that VAR_HANDLE fills, mapped to the variable's shared name."""
    names = {}
    for op in g.operators:
        if op.name == "VAR_HANDLE" and op.outputs:
            opts = op.options if op.options_type == _OPTIONS["VAR_HANDLE"] else None
            name = (opts.string(0, "container") + "/" + opts.string(1, "shared_name")) if opts else ""
            names[op.outputs[0]] = name or f"tensor {op.outputs[0]}"
    return names


def _assigned(model: _Model) -> dict[str, _Tensor]:
    """The value ASSIGN_VARIABLE first gives each named variable, in any subgraph (its size is the variable's)."""
    values: dict[str, _Tensor] = {}
    for g in model.subgraphs:
        names = _variable_names(model, g)
        for op in g.operators:
            if op.name == "ASSIGN_VARIABLE" and len(op.inputs) >= 2 and op.inputs[0] in names and op.inputs[1] >= 0:
                values.setdefault(names[op.inputs[0]], g.tensors[op.inputs[1]])
    return values


def _cost(model: _Model) -> tuple[tuple[Op, ...], tuple[str, ...], tuple[float, ...], tuple[str, ...]]:
    """Ops, unknown operators, live MACs and notes of the main subgraph."""
    costing = _Costing(model)
    g = model.subgraphs[0]
    variables = _variable_names(model, g)
    values = _assigned(model)
    assigned = {name: t.elems for name, t in values.items()}
    ops, live_macs, unknown, notes = [], [], [], []
    total = 0
    for i, op in enumerate(g.operators):
        kind, macs, live = costing.cost(op, variables, assigned)
        ins = [g.tensors[j] for j in op.inputs if j >= 0]
        outs = [g.tensors[j] for j in op.outputs]
        const = [t for t in ins if model.constant(t)]
        acts = [t for t in ins if not model.constant(t)]
        act_in, act_out = sum(t.nbytes for t in acts), sum(t.nbytes for t in outs)
        if op.name == "READ_VARIABLE":       # the variable's contents are read (the handle itself is no data)
            act_in = act_out
        elif op.name == "ASSIGN_VARIABLE":   # the value is written into the variable
            act_out = act_in
        weight = sum(t.nbytes for t in const)
        total += macs
        for what, value in (("MACs", macs), ("activation bytes", act_in + act_out), ("weight bytes", weight),
                            ("MACs of the call", total)):
            if value > MAX_COUNT:
                model.flat.fail(op.where, f"{value:,} {what}", "a count that fits in 64 bits (a damaged shape?)")
        if kind == "generic":
            unknown.append(f"{i}:{op.name}")
        typed = acts or ins or outs
        dtype = _TYPES[typed[0].type][1] if typed else "int8"
        short = op.name.split(":")[0].lower()
        ops.append(Op(name=f"{i:03d}_{short}", kind=kind, macs=float(macs), weight_bytes=float(weight),
                      act_in_bytes=float(act_in), act_out_bytes=float(act_out), dtype=dtype))
        live_macs.append(float(live))
    if not ops:
        model.flat.fail("subgraphs[0].operators", "none", "the operators of the main subgraph")
    for op in g.operators:
        if op.name == "CALL_ONCE":
            init = op.options.scalar(0, "<i", "init_subgraph_index")
            sub = model.subgraphs[init]
            notes.append(f"subgraph {init} '{sub.name}' ({len(sub.operators)} ops) runs once, before the first call "
                         f"(CALL_ONCE): not counted per call")
    if variables:
        names = set(variables.values())
        state = sum(values[v].nbytes for v in names if v in values)
        notes.append(f"{len(names)} state variables ({state:,} bytes) carried from call to call")
    return tuple(ops), tuple(unknown), tuple(live_macs), tuple(notes)


# --- the call rate of a streaming model --------------------------------------------------------------------------


def _manifest_rate(path: Path, model: _Model) -> tuple[float | None, str]:
    """Calls per second from a microWakeWord manifest beside ``path`` (``<stem>.json``), and where it comes from;
    ``(None, '')`` when there is no such manifest."""
    manifest = path.with_suffix(".json")
    if not manifest.is_file():
        return None, ""
    data = read_input_bytes(manifest, MAX_MANIFEST_BYTES, "a model manifest (JSON)")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(manifest, "", f"text JSON cannot parse ({first_line(exc)})",
                         f"the JSON manifest of {path.name}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("micro"), dict):
        return None, ""  # a JSON file of another kind: it says nothing about the rate
    named = raw.get("model")
    if isinstance(named, str) and Path(named).name != path.name:
        return None, ""  # a manifest of another model
    step = raw["micro"].get("feature_step_size")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or not 0 < step <= 1e4:
        raise InputError(manifest, "micro.feature_step_size", describe(step),
                         "the feature step in milliseconds, a number > 0")
    g = model.subgraphs[0]
    if not g.inputs:
        model.flat.fail("subgraphs[0].inputs", "none", "the model's input tensor")
    shape = g.tensors[g.inputs[0]].shape
    if len(shape) < 2:
        model.flat.fail("subgraphs[0].inputs[0]", f"shape {list(shape)}",
                        "a streaming input [1, feature frames per call, features]")
    stride = shape[1]
    rate = 1000.0 / (float(step) * stride)
    basis = (f"{manifest.name}: micro.feature_step_size {step:g} ms x {stride} feature frames per call (input "
             f"shape {list(shape)}), one call every {step * stride:g} ms")
    return rate, basis
