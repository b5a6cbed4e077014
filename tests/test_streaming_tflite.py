"""Streaming TFLite models: the four microWakeWord models of the pymicro-wakeword package (stateful ops, an init
subgraph run once, the call rate from their JSON manifests). The models are found in the installed package, never
copied into the repository."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import InputError
from dslsim.trace.io import read_trace
from dslsim.trace.tflite import read_tflite

NAMES = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")
MAC_KINDS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d", "linear")


def wakeword_models() -> Path:
    """The models folder of the installed pymicro-wakeword package (found without importing it: importing loads
    its native TFLite runtime, which costing does not need)."""
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pymicro-wakeword is not installed (pip install 'dslsim[stacks]' or the test extra)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / "alexa.tflite").is_file():
        pytest.skip(f"pymicro-wakeword has no models folder at {folder}")
    return folder


def test_alexa_macs_equal_a_count_by_hand_from_its_shapes():
    graph = read_tflite(wakeword_models() / "alexa.tflite")
    # The shapes of alexa.tflite's main subgraph (NHWC; filters [out, kh, kw, in], depthwise [1, kh, kw, out]), as
    # the tflite package prints them. Every conv sees a window exactly as long as its input, so each output is 1x1.
    by_hand = (
        32 * 5 * 40      # op 14 CONV_2D: input [1, 5, 1, 40], filter [32, 5, 1, 40] -> [1, 1, 1, 32]:  6,400
        + 32 * 5         # op 19 DEPTHWISE_CONV_2D: [1, 5, 1, 32], filter [1, 5, 1, 32]:                  160
        + 64 * 32        # op 20 CONV_2D 1x1: filter [64, 1, 1, 32]:                                   2,048
        + 64 * 9         # op 25 DEPTHWISE_CONV_2D: [1, 9, 1, 64], filter [1, 9, 1, 64]:                  576
        + 64 * 64        # op 26 CONV_2D 1x1: filter [64, 1, 1, 64]:                                   4,096
        + 64 * 13        # op 31 DEPTHWISE_CONV_2D: [1, 13, 1, 64], filter [1, 13, 1, 64]:                832
        + 64 * 64        # op 32 CONV_2D 1x1:                                                          4,096
        + 64 * 21        # op 36 DEPTHWISE_CONV_2D: [1, 21, 1, 64], filter [1, 21, 1, 64]:              1,344
        + 64 * 64        # op 37 CONV_2D 1x1:                                                          4,096
        + 320 * 1        # op 42 FULLY_CONNECTED: input [1, 320] (5 x 64 flattened), weights [1, 320]:    320
    )                    # = 23,968
    assert by_hand == 23_968
    assert sum(op.macs for op in graph.ops if op.kind in MAC_KINDS) == by_hand
    # LOGISTIC and QUANTIZE of the one output score: one element operation each.
    assert graph.macs == by_hand + 2
    # The streaming state: READ_VARIABLE of stream_10 (op 8) copies its [1, 20, 1, 64] int8 state out, and
    # ASSIGN_VARIABLE (op 35) copies the new one in: 1,280 bytes each way, no MACs.
    read, assign = graph.ops[8], graph.ops[35]
    assert (read.name, read.kind, read.macs, read.act_in_bytes, read.act_out_bytes) == \
        ("008_read_variable", "state", 0.0, 1280.0, 1280.0)
    assert (assign.name, assign.kind, assign.macs, assign.act_in_bytes, assign.act_out_bytes) == \
        ("035_assign_variable", "state", 0.0, 1280.0, 1280.0)


@pytest.mark.parametrize("name", NAMES)
def test_every_op_of_the_main_subgraph_is_counted_and_the_init_subgraph_is_not(name):
    import tflite

    path = wakeword_models() / f"{name}.tflite"
    graph = read_tflite(path)
    # An independent view of the same file through the tflite package's generated accessors.
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    main, init = model.Subgraphs(0), model.Subgraphs(1)
    assert len(graph.ops) == main.OperatorsLength() and not graph.unknown
    opnames = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def opname(op):
        code = model.OperatorCodes(op.OpcodeIndex())
        return opnames[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]

    kinds = {}
    expected_macs = 0
    for i in range(main.OperatorsLength()):
        op = main.Operators(i)
        n = opname(op)
        kinds[n] = graph.ops[i].kind
        if n in ("CONV_2D", "DEPTHWISE_CONV_2D"):      # output elements x window (x input channels for CONV_2D)
            w = main.Tensors(op.Inputs(1)).ShapeAsNumpy().tolist()
            out = main.Tensors(op.Outputs(0)).ShapeAsNumpy().tolist()
            elems = out[0] * out[1] * out[2] * out[3]
            expected_macs += elems * w[1] * w[2] * (w[3] if n == "CONV_2D" else 1)
        elif n == "FULLY_CONNECTED":
            w = main.Tensors(op.Inputs(1)).ShapeAsNumpy().tolist()
            expected_macs += w[0] * w[1]
    assert sum(op.macs for op in graph.ops if op.kind in MAC_KINDS) == expected_macs
    assert {kinds[n] for n in ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE")} == {"state"}
    assert {kinds[n] for n in ("CONCATENATION", "STRIDED_SLICE", "RESHAPE")} == {"reshape"}
    # The init subgraph (the variables' initial values) is named in the notes, not counted.
    assert any(f"({init.OperatorsLength()} ops) runs once" in note for note in graph.notes)
    # State ops carry bytes, never MACs; every count is a non-negative integer.
    assert all(op.macs == 0 for op in graph.ops if op.kind == "state")
    assert all(op.macs >= 0 and op.macs == int(op.macs) for op in graph.ops)


@pytest.mark.parametrize("name", NAMES)
def test_call_rate_comes_from_the_manifest(name):
    folder = wakeword_models()
    manifest = json.loads((folder / f"{name}.json").read_text())
    graph = read_tflite(folder / f"{name}.tflite")
    stride = 3                                   # the input is [1, 3, 40]: three 10 ms feature frames per call
    assert graph.call_rate_hz == pytest.approx(1000.0 / (manifest["micro"]["feature_step_size"] * stride))
    assert graph.call_rate_hz == pytest.approx(100 / 3)
    assert f"{name}.json" in graph.rate_basis and "30 ms" in graph.rate_basis


def test_from_model_uses_the_models_own_rate_and_notes_a_different_one(tmp_path):
    model = wakeword_models() / "okay_nabu.tflite"
    runner = CliRunner()
    out = tmp_path / "nabu.parquet"
    r = runner.invoke(cli, ["trace", "from-model", str(model), str(out), "--duration", "3 s"])
    assert r.exit_code == 0, r.output
    assert "33.33 Hz (the model's own rate: okay_nabu.json" in r.output and "runs once" in r.output
    trace = read_trace(out)
    assert len(trace) == 100 and trace.meta.frame_rate == pytest.approx(100 / 3)
    assert trace.meta.source["call_rate_from"] == "model"
    assert trace.meta.path_macs("inference") == read_tflite(model).macs
    # An explicit rate that disagrees wins, with a note; one that agrees gets none.
    r = runner.invoke(cli, ["trace", "from-model", str(model), str(tmp_path / "b.parquet"), "--rate", "50 Hz",
                            "--duration", "2 s"])
    assert r.exit_code == 0 and "differs from the model's own 33.33 Hz" in r.output
    assert read_trace(tmp_path / "b.parquet").meta.frame_rate == 50.0
    r = runner.invoke(cli, ["trace", "from-model", str(model), str(tmp_path / "c.parquet"), "--rate",
                            repr(100 / 3), "--duration", "2 s"])
    assert r.exit_code == 0 and "differs" not in r.output


def test_the_trace_replays_on_a_board_profile(tmp_path):
    from dslsim import simulate

    out = tmp_path / "alexa.parquet"
    r = CliRunner().invoke(cli, ["trace", "from-model", str(wakeword_models() / "alexa.tflite"), str(out),
                                 "--duration", "3 s"])
    assert r.exit_code == 0, r.output
    summary = simulate("stm32u575", read_trace(out)).summary
    assert summary["frames"] == 100 and summary["latency_p50_s"] > 0


def test_without_its_manifest_a_model_needs_a_rate(tmp_path):
    model = tmp_path / "alexa.tflite"
    shutil.copyfile(wakeword_models() / "alexa.tflite", model)
    assert read_tflite(model).call_rate_hz is None
    r = CliRunner().invoke(cli, ["trace", "from-model", str(model), str(tmp_path / "o.parquet")])
    assert r.exit_code == 2 and "give --rate" in r.stderr
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("manifest, key", [
    ('{"micro": {"feature_step_size": "ten"}}', "micro.feature_step_size"),
    ('{"micro": {"feature_step_size": -10}}', "micro.feature_step_size"),
    ('{"micro": {"feature_step_size": 10', "found text JSON cannot parse"),
])
def test_a_bad_manifest_is_refused_by_name(tmp_path, manifest, key):
    model = tmp_path / "alexa.tflite"
    shutil.copyfile(wakeword_models() / "alexa.tflite", model)
    (tmp_path / "alexa.json").write_text(manifest)
    with pytest.raises(InputError) as err:
        read_tflite(model)
    assert "alexa.json" in str(err.value) and key in str(err.value)
    r = CliRunner().invoke(cli, ["trace", "from-model", str(model), str(tmp_path / "o.parquet")])
    assert r.exit_code == 2 and "alexa.json" in r.stderr


def test_a_manifest_of_another_model_or_kind_says_nothing(tmp_path):
    model = tmp_path / "alexa.tflite"
    shutil.copyfile(wakeword_models() / "alexa.tflite", model)
    (tmp_path / "alexa.json").write_text('{"model": "other.tflite", "micro": {"feature_step_size": 10}}')
    assert read_tflite(model).call_rate_hz is None
    (tmp_path / "alexa.json").write_text('{"labels": ["yes", "no"]}')
    assert read_tflite(model).call_rate_hz is None
