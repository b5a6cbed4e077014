"""Damaged model files, made by changing one field of a real model where it sits (a flatbuffer field of a TFLite
model, a protobuf field of an ONNX model) or by cutting or flipping bytes: each reads cleanly with sensible counts
or is refused with an InputError naming the file, the key path, what was found and what was expected, and
``dslsim trace from-model`` exits 2 with one paragraph for it. The fields are found with the ``tflite`` package's
generated accessors and the ``onnx`` protobuf classes, independently of the readers under test."""

from __future__ import annotations

import importlib.util
import math
import random
import struct
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import InputError
from dslsim.shipped import MODELS
from dslsim.trace.io import read_trace

#: The mutation must be refused (any key path).
ERROR = "<refused>"
#: Largest count a reader may return.
LIMIT = 2**63


def check_graph(graph) -> None:
    """What a clean read must give: counts that are finite, non-negative integers below 2**63."""
    assert graph.ops
    for op in graph.ops:
        for value in (op.macs, op.weight_bytes, op.act_in_bytes, op.act_out_bytes):
            assert math.isfinite(value) and 0 <= value < LIMIT and value == int(value), op
    assert 0 <= graph.macs < LIMIT


def check_case(path: Path, read, expect: str | None, tmp_path: Path) -> None:
    """``read(path)`` is clean or refused as ``expect`` says, and the CLI agrees (exit 0 and a readable trace, or
    exit 2 and one paragraph naming the file, with nothing written)."""
    try:
        graph = read(path)
    except InputError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "found" in message and "expected" in message, message
        assert "\n" not in message
        if expect not in (None, ERROR):
            assert expect in message, message
        refused = True
    else:
        assert expect in (None,), f"read cleanly; expected it refused ({expect})"
        check_graph(graph)
        refused = False
    out = tmp_path / "out.parquet"
    r = CliRunner().invoke(cli, ["trace", "from-model", str(path), str(out), "--rate", "2 Hz", "--duration", "2 s"])
    if refused:
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.output
        assert not out.exists()
    else:
        assert r.exit_code == 0, r.output
        assert all(op.macs >= 0 for stage in read_trace(out).meta.stages.values() for op in stage.ops)


# --- TFLite -----------------------------------------------------------------------------------------------------


def tflite_base(name: str) -> Path:
    if name == "kws":
        return MODELS / "kws_ref_model.tflite"
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pymicro-wakeword is not installed (pip install 'dslsim[stacks]' or the test extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "alexa.tflite"
    if not path.is_file():
        pytest.skip(f"no {path}")
    return path


class Fb:
    """Byte positions of a TFLite model's fields, found through the tflite package's accessors."""

    def __init__(self, data: bytearray):
        import tflite

        self.tflite = tflite
        self.data = data
        self.model = tflite.Model.GetRootAsModel(bytes(data), 0)
        self.main = self.model.Subgraphs(0)
        names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.ops = {}
        for i in range(self.main.OperatorsLength()):
            op = self.main.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            self.ops.setdefault(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())], (i, op))

    @staticmethod
    def field(obj, vt: int) -> int:
        off = obj._tab.Offset(vt)
        if not off:
            pytest.skip("the field holds its default value and is not stored")
        return obj._tab.Pos + off

    @staticmethod
    def element(obj, vt: int, j: int, size: int = 4) -> int:
        off = obj._tab.Offset(vt)
        assert off
        return obj._tab.Vector(off) + size * j

    def vector_length(self, obj, vt: int) -> int:
        return self.element(obj, vt, 0) - 4

    def op(self, name: str):
        if name not in self.ops:
            pytest.skip(f"the model has no {name}")
        return self.ops[name][1]

    def tensor(self, op, which: str, j: int):
        index = op.Inputs(j) if which == "in" else op.Outputs(j)
        return self.main.Tensors(index)

    def put(self, fmt: str, pos: int, value: int) -> None:
        struct.pack_into(fmt, self.data, pos, value)

    def conv_options(self):
        op = self.op("CONV_2D")
        table = op.BuiltinOptions()
        opts = self.tflite.Conv2DOptions()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def pool_options(self):
        op = self.op("AVERAGE_POOL_2D")
        table = op.BuiltinOptions()
        opts = self.tflite.Pool2DOptions()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def call_once_options(self):
        table = self.op("CALL_ONCE").BuiltinOptions()
        opts = self.tflite.CallOnceOptions()
        opts.Init(table.Bytes, table.Pos)
        return opts


def _shape(fb: Fb, op_name: str, which: str, j: int, k: int, value) -> None:
    t = fb.tensor(fb.op(op_name), which, j)
    dims = t.ShapeAsNumpy().tolist()
    fb.put("<i", fb.element(t, 4, k), value(dims[k]) if callable(value) else value)


def _truncate(keep: float | int):
    """Keep ``keep`` bytes (an int > 0), all but ``-keep`` (an int < 0), or that share of the file (a float)."""
    def cut(data: bytearray) -> bytearray:
        n = keep if isinstance(keep, int) and keep > 0 else len(data) + keep if isinstance(keep, int) else \
            int(len(data) * keep)
        return data[:n]
    return cut


def _flips(seed: int):
    def flip(data: bytearray) -> bytearray:
        rng = random.Random(seed)
        for _ in range(4):
            data[rng.randrange(8, len(data))] = rng.randrange(256)
        return data
    return flip


#: (id, mutation of the Fb or of the bytes, what is expected). Every case applies to both base models unless it
#: needs an operator only one has (then it is skipped for the other).
TFLITE_CASES = [
    ("conv-input-dim-negative", lambda f: _shape(f, "CONV_2D", "in", 0, 1, -1), "shape[1]"),
    ("conv-input-dim-zero", lambda f: _shape(f, "CONV_2D", "in", 0, 1, 0), "shape[1]"),
    ("conv-input-dim-huge", lambda f: _shape(f, "CONV_2D", "in", 0, 1, 2**31 - 1), None),
    ("conv-input-channels", lambda f: _shape(f, "CONV_2D", "in", 0, 3, lambda d: d + 1), None),
    ("filter-dim-zero", lambda f: _shape(f, "CONV_2D", "in", 1, 0, 0), "shape[0]"),
    ("filter-dim-negative", lambda f: _shape(f, "CONV_2D", "in", 1, 3, -7), "shape[3]"),
    ("filter-dim-grown", lambda f: _shape(f, "CONV_2D", "in", 1, 0, lambda d: d + 1), "bytes of data"),
    ("conv-output-dim-min", lambda f: _shape(f, "CONV_2D", "out", 0, 3, -2**31), "shape[3]"),
    ("conv-output-dim-grown", lambda f: _shape(f, "CONV_2D", "out", 0, 2, lambda d: d + 5), "outputs[0]"),
    ("depthwise-filter-dim", lambda f: _shape(f, "DEPTHWISE_CONV_2D", "in", 1, 3, lambda d: 2 * d), ERROR),
    ("fc-weight-dim", lambda f: _shape(f, "FULLY_CONNECTED", "in", 1, 1, 3), ERROR),
    ("opcode-index-past-table", lambda f: f.put("<I", f.field(f.op("CONV_2D"), 4),
                                                f.model.OperatorCodesLength()), "opcode_index"),
    ("opcode-index-max", lambda f: f.put("<I", f.field(f.op("CONV_2D"), 4), 0xFFFFFFFF), "opcode_index"),
    ("opcode-index-other-op", lambda f: f.put("<I", f.field(f.op("CONV_2D"), 4),
                                              f.op("RESHAPE").OpcodeIndex()), None),
    ("input-index-past-tensors", lambda f: f.put("<i", f.element(f.op("CONV_2D"), 6, 0),
                                                 f.main.TensorsLength()), "inputs[0]"),
    ("input-index-negative", lambda f: f.put("<i", f.element(f.op("CONV_2D"), 6, 0), -5), "inputs[0]"),
    ("output-index-negative", lambda f: f.put("<i", f.element(f.op("CONV_2D"), 8, 0), -1), "outputs[0]"),
    ("tensor-buffer-past-table", lambda f: f.put("<I", f.field(f.tensor(f.op("CONV_2D"), "in", 1), 8),
                                                 f.model.BuffersLength()), ".buffer"),
    ("tensor-buffer-max", lambda f: f.put("<I", f.field(f.tensor(f.op("CONV_2D"), "in", 1), 8), 0xFFFFFFFF),
     ".buffer"),
    ("tensor-type-unknown", lambda f: f.put("<b", f.field(f.tensor(f.op("CONV_2D"), "in", 1), 6), 99), ".type"),
    ("tensor-type-float32", lambda f: f.put("<b", f.field(f.tensor(f.op("CONV_2D"), "in", 1), 6), 0),
     "bytes of data"),
    ("buffer-length-huge", lambda f: f.put("<I", f.vector_length(
        f.model.Buffers(f.tensor(f.op("CONV_2D"), "in", 1).Buffer()), 4), 0x7FFFFFFF), ".data"),
    ("buffer-length-short", lambda f: f.put("<I", f.vector_length(
        f.model.Buffers(f.tensor(f.op("CONV_2D"), "in", 1).Buffer()), 4),
        f.model.Buffers(f.tensor(f.op("CONV_2D"), "in", 1).Buffer()).DataLength() - 1), "bytes of data"),
    ("root-offset-outside", lambda f: f.put("<I", 0, len(f.data) + 100), "root"),
    ("subgraphs-none", lambda f: f.put("<I", f.vector_length(f.model, 8), 0), "subgraphs"),
    ("subgraphs-length-huge", lambda f: f.put("<I", f.vector_length(f.model, 8), 0x7FFFFFFF), "subgraphs"),
    ("operators-length-huge", lambda f: f.put("<I", f.vector_length(f.main, 10), 0x3FFFFFFF), "operators"),
    ("opcodes-none", lambda f: f.put("<I", f.vector_length(f.model, 6), 0), "opcode_index"),
    ("tensor-vtable-outside", lambda f: f.put("<i", f.tensor(f.op("CONV_2D"), "in", 1)._tab.Pos, -0x7FFFFFF0),
     "tensors["),
    ("conv-stride-zero", lambda f: f.put("<i", f.field(f.conv_options(), 6), 0), "stride_w"),
    ("conv-stride-large", lambda f: f.put("<i", f.field(f.conv_options(), 8), 1000), None),
    ("conv-dilation-negative", lambda f: f.put("<i", f.field(f.conv_options(), 14), -3), ERROR),
    ("pool-window-zero", lambda f: f.put("<i", f.field(f.pool_options(), 10), 0), "builtin_options"),
    ("call-once-init-missing", lambda f: f.put("<i", f.field(f.call_once_options(), 4), 7),
     "init_subgraph_index"),
    ("read-variable-size", lambda f: _shape(f, "READ_VARIABLE", "out", 0, 1, lambda d: d + 1), ERROR),
    ("fc-output-dim", lambda f: _shape(f, "FULLY_CONNECTED", "out", 0, 1, lambda d: d + 1), "outputs[0]"),
    ("reshape-output-dim", lambda f: _shape(f, "RESHAPE", "out", 0, 1, lambda d: d + 1), "outputs[0]"),
    ("softmax-output-dim", lambda f: _shape(f, "SOFTMAX", "out", 0, 1, lambda d: d + 1), "outputs[0]"),
    ("concat-output-dim", lambda f: _shape(f, "CONCATENATION", "out", 0, 1, lambda d: d + 1), "outputs[0]"),
    ("builtin-code-unknown", lambda f: f.put("<i", f.field(f.model.OperatorCodes(
        f.op("RESHAPE").OpcodeIndex()), 10), 9999), None),
    ("shape-vector-huge", lambda f: f.put("<I", f.vector_length(f.tensor(f.op("CONV_2D"), "in", 1), 4),
                                          0x7FFFFFFF), "shape"),
    ("truncated-8", _truncate(8), ERROR),
    ("truncated-100", _truncate(100), ERROR),
    ("truncated-quarter", _truncate(0.25), ERROR),
    ("truncated-half", _truncate(0.5), ERROR),
    ("truncated-last-byte", _truncate(-1), None),
] + [(f"flipped-bytes-{seed}", _flips(seed), None) for seed in range(10)]


@pytest.mark.parametrize("base", ["kws", "alexa"])
@pytest.mark.parametrize("case, mutate, expect", TFLITE_CASES, ids=[c[0] for c in TFLITE_CASES])
def test_damaged_tflite_models_read_cleanly_or_are_refused(tmp_path, base, case, mutate, expect):
    from dslsim.trace.tflite import read_tflite

    data = bytearray(tflite_base(base).read_bytes())
    if case.startswith(("truncated", "flipped")):
        data = mutate(data)
    else:
        mutate(Fb(data))
    path = tmp_path / f"{base}-{case}.tflite"
    path.write_bytes(bytes(data))
    check_case(path, read_tflite, expect, tmp_path)


def test_the_tflite_cases_are_real_changes():
    """Each structural case changes the model (a mutation that wrote nothing would test nothing)."""
    original = tflite_base("kws").read_bytes()
    changed = 0
    for case, mutate, _ in TFLITE_CASES:
        if case.startswith(("truncated", "flipped")):
            continue
        data = bytearray(original)
        try:
            mutate(Fb(data))
        except pytest.skip.Exception:
            continue
        assert bytes(data) != original, case
        changed += 1
    assert changed >= 30


# --- ONNX -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_bases(tmp_path_factory):
    """Serialized base models: a conv1d + GRU + dense net exported from PyTorch, and SqueezeNet as the onnx
    package ships it."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    bases = {}
    squeeze = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_squeezenet.onnx"
    if squeeze.is_file():
        bases["squeezenet"] = squeeze.read_bytes()
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv1d(4, 8, 3, padding=1)
                self.gru = torch.nn.GRU(8, 16, batch_first=True)
                self.fc = torch.nn.Linear(16, 5)

            def forward(self, x):
                return self.fc(self.gru(torch.relu(self.conv(x)).transpose(1, 2))[0])

        path = tmp_path_factory.mktemp("onnx") / "net.onnx"
        torch.manual_seed(0)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Net().eval(), (torch.randn(1, 4, 6),), str(path), dynamo=False)
        bases["exported"] = path.read_bytes()
    return bases


def _node(m, op_type: str):
    for node in m.graph.node:
        if node.op_type == op_type:
            return node
    pytest.skip(f"the model has no {op_type} node")


def _init(m, name: str):
    return next(t for t in m.graph.initializer if t.name == name)


def _attr(node, name: str, **value):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            node.attribute.remove(a)
            break
    node.attribute.append(helper.make_attribute(name, *value.values()))


def _conv_weight(m):
    """The initializer behind the first conv's weights: the weights themselves, or the shape a ConstantOfShape
    makes them from (the onnx package's light models)."""
    name = _node(m, "Conv").input[1]
    stored = {t.name for t in m.graph.initializer}
    if name not in stored:
        maker = next(n for n in m.graph.node if name in n.output)
        name = maker.input[0]
    return _init(m, name)


def _spatial(m) -> int:
    """Spatial rank of the first conv (1 for conv1d, 2 for conv2d)."""
    conv = _node(m, "Conv")
    kernel = [a for a in conv.attribute if a.name == "kernel_shape"]
    return len(kernel[0].ints) if kernel else len(_conv_weight(m).dims) - 2


def _real_input(m):
    inits = {t.name for t in m.graph.initializer}
    return next(v for v in m.graph.input if v.name not in inits)


def _set_input_dim(m, k: int, value) -> None:
    dim = _real_input(m).type.tensor_type.shape.dim[k]
    dim.Clear()
    if isinstance(value, str):
        dim.dim_param = value
    else:
        dim.dim_value = value


def _matmul_rows(m) -> None:
    import numpy as np
    from onnx import numpy_helper

    t = _init(m, _node(m, "MatMul").input[1])
    t.CopyFrom(numpy_helper.from_array(np.zeros((17, t.dims[1]), np.float32), t.name))


def _value_info(m, dims) -> None:
    from onnx import TensorProto, helper

    name = _node(m, "Conv").output[0]
    m.graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))


def _duplicate_output(m) -> None:
    nodes = [n for n in m.graph.node if n.op_type != "Constant"]
    nodes[1].output[0] = nodes[0].output[0]


def _constant_of_shape_huge(m) -> None:
    import numpy as np
    from onnx import numpy_helper

    node = _node(m, "ConstantOfShape")
    t = _init(m, node.input[0])
    t.CopyFrom(numpy_helper.from_array(np.full(t.dims, 2**40, np.int64), t.name))


#: (id, mutation of the ModelProto (or of the bytes), expected). Cases needing a node a base lacks skip there.
ONNX_CASES = [
    ("init-dim-negative", lambda m: _conv_weight(m).dims.__setitem__(0, -3), "dims[0]"),
    ("init-dim-zero", lambda m: _conv_weight(m).dims.__setitem__(len(_conv_weight(m).dims) - 1, 0), "raw_data"),
    ("init-dim-huge", lambda m: _conv_weight(m).dims.__setitem__(0, 2**40), ERROR),
    ("init-raw-data-cut", lambda m: setattr(_conv_weight(m), "raw_data", _conv_weight(m).raw_data[:-4]),
     "raw_data"),
    ("init-type-unknown", lambda m: setattr(_conv_weight(m), "data_type", 999), "data_type"),
    ("init-type-double", lambda m: setattr(_conv_weight(m), "data_type", 11), ERROR),
    ("input-dim-negative", lambda m: _set_input_dim(m, 2, -1), "shape[2]"),
    ("input-dim-zero", lambda m: _set_input_dim(m, 2, 0), "shape[2]"),
    ("input-dim-open", lambda m: _set_input_dim(m, 0, "batch"), None),
    ("input-dim-huge", lambda m: _set_input_dim(m, 2, 2**31), None),
    ("input-channels-wrong", lambda m: _set_input_dim(m, 1, 5), ERROR),
    ("output-dim-negative", lambda m: m.graph.output[0].type.tensor_type.shape.dim[1].__setattr__(
        "dim_value", -4), "shape[1]"),
    ("value-info-negative", lambda m: _value_info(m, [1, -1, 6]), "shape[1]"),
    ("value-info-disagrees", lambda m: _value_info(m, [1, 99, 6]), ERROR),
    ("conv-strides-zero", lambda m: _attr(_node(m, "Conv"), "strides", v=[0] * _spatial(m)), ERROR),
    ("conv-dilations-zero", lambda m: _attr(_node(m, "Conv"), "dilations", v=[0] * _spatial(m)), ERROR),
    ("conv-pads-negative", lambda m: _attr(_node(m, "Conv"), "pads", v=[-2] * 2 * _spatial(m)), ERROR),
    ("conv-group-zero", lambda m: _attr(_node(m, "Conv"), "group", v=0), ERROR),
    ("conv-group-three", lambda m: _attr(_node(m, "Conv"), "group", v=3), ERROR),
    ("conv-kernel-shape", lambda m: _attr(_node(m, "Conv"), "kernel_shape", v=[99] * _spatial(m)), ERROR),
    ("op-type-unknown", lambda m: setattr(_node(m, "Relu"), "op_type", "Relu2"), None),
    ("op-domain-other", lambda m: setattr(_node(m, "Relu"), "domain", "com.example"), None),
    ("node-input-dangling", lambda m: _node(m, "Conv").input.__setitem__(0, "nowhere"), "input[0]"),
    ("node-output-duplicate", _duplicate_output, "output[0]"),
    ("gru-hidden-size", lambda m: _attr(_node(m, "GRU"), "hidden_size", v=7), ERROR),
    ("gru-direction", lambda m: _attr(_node(m, "GRU"), "direction", v="sideways"), ERROR),
    ("matmul-rows", _matmul_rows, ERROR),
    ("constant-of-shape-huge", _constant_of_shape_huge, None),
    ("opset-zero", lambda m: setattr(m.opset_import[0], "version", 0), "opset_import"),
    ("opset-future", lambda m: setattr(m.opset_import[0], "version", 999), "opset_import"),
    ("ir-version-zero", lambda m: setattr(m, "ir_version", 0), "ir_version"),
    ("ir-version-future", lambda m: setattr(m, "ir_version", 999), "ir_version"),
    ("no-nodes", lambda m: m.graph.ClearField("node"), "graph.node"),
    ("truncated-10", _truncate(10), ERROR),
    ("truncated-third", _truncate(1 / 3), ERROR),
    ("truncated-half", _truncate(0.5), ERROR),
    ("truncated-last-3", _truncate(-3), None),
] + [(f"flipped-bytes-{seed}", _flips(seed), None) for seed in range(8)]


@pytest.mark.parametrize("base", ["exported", "squeezenet"])
@pytest.mark.parametrize("case, mutate, expect", ONNX_CASES, ids=[c[0] for c in ONNX_CASES])
def test_damaged_onnx_models_read_cleanly_or_are_refused(onnx_bases, tmp_path, base, case, mutate, expect):
    import onnx

    from dslsim.trace.onnx_model import read_onnx

    if base not in onnx_bases:
        pytest.skip(f"no {base} model (torch or the onnx test data missing)")
    data = bytearray(onnx_bases[base])
    if case.startswith(("truncated", "flipped")):
        data = mutate(data)
    else:
        m = onnx.ModelProto()
        m.ParseFromString(bytes(data))
        mutate(m)
        data = m.SerializeToString()
        assert data != onnx_bases[base], case
    path = tmp_path / f"{base}-{case}.onnx"
    path.write_bytes(bytes(data))
    check_case(path, read_onnx, expect, tmp_path)
