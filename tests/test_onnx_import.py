"""ONNX import: models exported from PyTorch here (MACs checked against torch's FlopCounterMode, recurrent cells
against their closed form), a public model shipped inside the onnx package (checked by hand), op kinds, notes and
unknown operators, and the CLI."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import DslsimError
from dslsim.trace.io import read_trace

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'dslsim[onnx]')")

from dslsim.trace.onnx_model import read_onnx  # noqa: E402

MAC_KINDS = ("conv1d", "conv2d", "depthwise_conv2d", "pointwise_conv2d", "conv_transpose1d", "conv_transpose2d",
             "linear")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="exporting test models needs torch (the model extra)")


def export(torch, module, x, path: Path, **kwargs) -> Path:
    """``module`` exported by torch's TorchScript-based exporter (``dynamo=False``: the dynamo exporter needs
    onnxscript, which the test extra does not install)."""
    module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, **kwargs)
    return path


def flop_counter_macs(torch, module, x) -> int:
    """MACs of one forward pass as torch counts them: FLOPs / 2."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def mac_sum(graph) -> float:
    return sum(op.macs for op in graph.ops if op.kind in MAC_KINDS)


def _nets(torch):
    nn = torch.nn
    torch.manual_seed(0)
    conv1d = nn.Sequential(nn.Conv1d(8, 16, 5, stride=2, padding=2), nn.ReLU(),
                           nn.Conv1d(16, 16, 3, groups=4, dilation=2), nn.Tanh(), nn.Conv1d(16, 16, 3, groups=16))
    linear = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(-1))
    conv2d = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                           nn.Conv2d(8, 8, 3, groups=8, stride=2), nn.Conv2d(8, 16, 1),
                           nn.ConvTranspose2d(16, 4, 4, stride=2), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
    return {"conv1d": (conv1d, torch.randn(1, 8, 50)), "linear": (linear, torch.randn(3, 40)),
            "conv2d": (conv2d, torch.randn(1, 3, 20, 20))}


@pytest.mark.parametrize("name", ["conv1d", "linear", "conv2d"])
def test_exported_nets_count_what_flop_counter_counts(torch, tmp_path, name):
    module, x = _nets(torch)[name]
    graph = read_onnx(export(torch, module, x, tmp_path / f"{name}.onnx"))
    assert mac_sum(graph) == flop_counter_macs(torch, module, x)
    assert not graph.unknown
    if name == "conv2d":
        # BatchNorm is folded into the first conv by the exporter (eval mode).
        assert [op.kind for op in graph.ops] == ["conv2d", "elementwise", "depthwise_conv2d", "pointwise_conv2d",
                                                 "conv_transpose2d", "pooling", "pooling"]
    if name == "linear":
        assert [op.kind for op in graph.ops] == ["linear", "elementwise", "linear", "softmax"]
        # Weights are float32 parameters: (40 x 64 + 64) + (64 x 10 + 10).
        assert sum(op.weight_bytes for op in graph.ops) == 4 * (40 * 64 + 64 + 64 * 10 + 10)


class _Recurrent:
    """A recurrent layer returning its output sequence (what the exporter sees)."""

    def __init__(self, torch, cls, inputs, hidden, **kw):
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = cls(inputs, hidden, batch_first=True, **kw)

            def forward(self, x):
                return self.rnn(x)[0]

        self.net = Net()


@pytest.mark.parametrize("cell, gates, bidirectional", [("LSTM", 4, False), ("LSTM", 4, True), ("GRU", 3, False),
                                                        ("RNN", 1, False)])
def test_recurrent_cells_count_their_closed_form(torch, tmp_path, cell, gates, bidirectional):
    steps, inputs, hidden = 7, 12, 20
    net = _Recurrent(torch, getattr(torch.nn, cell), inputs, hidden, bidirectional=bidirectional).net
    x = torch.randn(1, steps, inputs)
    graph = read_onnx(export(torch, net, x, tmp_path / "rnn.onnx"))
    dirs = 2 if bidirectional else 1
    # Per step and direction, each gate is a matrix-vector product of the input (I) and of the hidden state (H)
    # with H rows: gates * H * (I + H) MACs.
    closed_form = steps * dirs * gates * hidden * (inputs + hidden)
    assert mac_sum(graph) == closed_form
    if cell != "LSTM":  # FlopCounterMode sees GRU and RNN as matrix products; the fused LSTM kernel it misses
        assert flop_counter_macs(torch, net, x) == closed_form
    gate_ops = [op for op in graph.ops if op.name.endswith("_gates")]
    per_unit = {"LSTM": 21, "GRU": 17, "RNN": 4}[cell]
    assert len(gate_ops) == 1 and gate_ops[0].kind == "elementwise"
    assert gate_ops[0].macs == steps * dirs * hidden * per_unit


def test_dslsim_dynamic_networks_export_and_count_as_flop_counter(torch, tmp_path):
    from dslsim.model.codec import decoder
    from dslsim.model.early_exit import DetectorConfig, EarlyExitDetector

    torch.manual_seed(1)
    detector, features = EarlyExitDetector(DetectorConfig()), torch.randn(1, 40, 25)
    graph = read_onnx(export(torch, detector, features, tmp_path / "early_exit.onnx"))
    assert mac_sum(graph) == flop_counter_macs(torch, detector, features)
    assert {op.kind for op in graph.ops if op.kind in MAC_KINDS} == {"conv1d", "linear"}
    # The causal padding's pads are built from constants; folded, not counted.
    assert any("folded before the first call" in note for note in graph.notes)
    dec, latent = decoder(4, 8), torch.randn(1, 8, 3)
    graph = read_onnx(export(torch, dec, latent, tmp_path / "decoder.onnx"))
    assert mac_sum(graph) == flop_counter_macs(torch, dec, latent)
    assert sum(op.kind == "conv_transpose1d" for op in graph.ops) == 4


def test_open_input_dimensions_are_taken_as_one_and_said(torch, tmp_path):
    module, x = _nets(torch)["conv1d"]
    path = export(torch, module, x, tmp_path / "dyn.onnx", input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    graph = read_onnx(path)
    assert mac_sum(graph) == flop_counter_macs(torch, module, x)
    assert any("'batch'" in note and "taken as 1" in note for note in graph.notes)


def test_dead_channels_are_skipped_on_request(torch, tmp_path):
    conv = torch.nn.Conv1d(4, 8, 3)
    with torch.no_grad():
        conv.weight[:3] = 0.0                     # three of eight output channels do nothing
    x = torch.randn(1, 4, 10)
    path = export(torch, conv, x, tmp_path / "dead.onnx")
    from dslsim.trace.model_ops import read_model_ops

    full = sum(op.macs for op in read_model_ops(path, "keep"))
    assert full == 8 * 4 * 3 * 8                  # C_out * C_in * k * L_out
    assert sum(op.macs for op in read_model_ops(path, "skip")) == full * 5 // 8


def vgg19_path() -> Path:
    path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_vgg19.onnx"
    if not path.is_file():
        pytest.skip(f"this onnx build ships no {path.name}")
    return path


def test_public_vgg19_from_the_onnx_package_counts_by_hand():
    """The ONNX model zoo's VGG-19 as the onnx package ships it (weights replaced by ConstantOfShape to keep it
    small; the graph and shapes are the model's)."""
    graph = read_onnx(vgg19_path())
    # VGG-19 on a 224 x 224 x 3 image: 3x3 convs, 'same' padding, a 2x2 max pool after each block.
    blocks = [(224, [(3, 64), (64, 64)]), (112, [(64, 128), (128, 128)]),
              (56, [(128, 256)] + [(256, 256)] * 3), (28, [(256, 512)] + [(512, 512)] * 3),
              (14, [(512, 512)] * 4)]
    conv = sum(side * side * c_out * c_in * 9 for side, layers in blocks for c_in, c_out in layers)
    dense = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert conv == 19_508_428_800 and dense == 123_633_664
    assert mac_sum(graph) == conv + dense          # 19.63 GMAC, the figure published for VGG-19
    params = (sum(c_out * c_in * 9 + c_out for _, layers in blocks for c_in, c_out in layers)
              + 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000)
    assert params == 143_667_240                   # VGG-19's published parameter count
    assert sum(op.weight_bytes for op in graph.ops if op.kind in MAC_KINDS) == 4 * params
    assert [op.kind for op in graph.ops].count("conv2d") == 16 and not graph.unknown
    # The 36 ConstantOfShape nodes that make the weights are folded, not counted per call.
    assert any(note.startswith("36 nodes computing constants") for note in graph.notes)


def test_unknown_operators_are_kept_with_their_bytes_and_listed(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Fancy", ["r"], ["y"], domain="com.example")]
    graph = helper.make_graph(nodes, "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    path.write_bytes(model.SerializeToString())
    g = read_onnx(path)
    assert g.unknown == ("1:com.example.Fancy",)
    fancy = g.ops[1]
    assert (fancy.kind, fancy.macs, fancy.act_in_bytes, fancy.act_out_bytes) == ("generic", 0.0, 64.0, 64.0)
    r = CliRunner().invoke(cli, ["trace", "from-model", str(path), str(tmp_path / "c.parquet"), "--rate", "10"])
    assert r.exit_code == 0 and "1 op(s) of unknown kind kept as 'generic' (bytes only): 1:com.example.Fancy" \
        in r.output


def test_from_model_writes_an_onnx_trace_and_needs_a_rate(torch, tmp_path):
    module, x = _nets(torch)["conv1d"]
    path = export(torch, module, x, tmp_path / "net.onnx")
    runner = CliRunner()
    r = runner.invoke(cli, ["trace", "from-model", str(path), str(tmp_path / "t.parquet")])
    assert r.exit_code == 2 and "give --rate" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(cli, ["trace", "from-model", str(path), str(tmp_path / "t.parquet"), "--rate", "50 Hz",
                            "--duration", "2 s"])
    assert r.exit_code == 0, r.output
    trace = read_trace(tmp_path / "t.parquet")
    assert len(trace) == 100 and trace.meta.path_macs("inference") == read_onnx(path).macs


def test_without_the_onnx_package_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07")
    monkeypatch.setitem(sys.modules, "onnx", None)   # 'import onnx' now raises ImportError
    with pytest.raises(DslsimError, match=r"pip install 'dslsim\[onnx\]'"):
        read_onnx(path)
