"""Exporting a K-path trace from a PyTorch dynamic network: stage ops measured by hooks and the FLOP counter,
routing from the decisions, and the worked early-exit detector end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dslsim.errors import DslsimError
from dslsim.model.dynamic import DynamicNetwork, dynamic_trace, measure_stages
from dslsim.trace.schema import Decision


class Functional(nn.Module):
    """A stage whose matmul no layer hook sees: x (1, T, 6) @ W (6, 5)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(6, 5))

    def forward(self, x):
        return x @ self.w


def two_exit_net():
    conv, head, extra = nn.Conv1d(4, 6, 3), nn.Linear(6, 2), Functional()
    net = DynamicNetwork(stages={"block": conv, "exit1": head, "more": extra},
                         paths={"exit1": ["block", "exit1"], "exit2": ["block", "exit1", "more"]},
                         decisions=(Decision("exit1", "conf", 0.5, "exit1"),), fallback_path="exit2")

    def dense(frames: int):
        x = conv(torch.zeros(1, 4, frames + 2)).transpose(1, 2)      # (1, frames, 6)
        head(x)
        extra(x)
    return net, dense


def test_stage_ops_by_hand():
    net, dense = two_exit_net()
    stages = measure_stages(net, lambda: dense(10), frames=10)
    # conv: 6 * 4 * 3 MACs per output step; head: 6 * 2 per frame; the functional matmul 6 * 5 per frame, seen
    # only by the counter and kept as one 'linear' op.
    assert stages["block"].macs == pytest.approx(72.0)
    assert stages["exit1"].macs == pytest.approx(12.0)
    assert [(op.kind, op.macs) for op in stages["more"].ops] == [("linear", pytest.approx(30.0))]
    assert stages["block"].ops[0].weight_bytes == 6 * 4 * 3 + 6                  # int8: one byte per parameter


def test_stage_never_called_is_named():
    net, _ = two_exit_net()
    with pytest.raises(DslsimError, match=r"never called stage\(s\) \['block', 'exit1', 'more'\]"):
        measure_stages(net, lambda: None, frames=1)


def test_dynamic_trace_routes_by_the_decisions():
    net, dense = two_exit_net()
    stages = measure_stages(net, lambda: dense(4), frames=4)
    t = dynamic_trace(net, stages, scores={"conf": np.array([0.9, 0.1, 0.5, 0.49])}, frame_rate=50.0,
                      errors={"exit1": np.array([1, 1, 0, 0]), "exit2": np.zeros(4)})
    assert t.frames["path"].tolist() == ["exit1", "exit2", "exit1", "exit2"]
    assert t.routed_error()["error"] == pytest.approx(0.25)      # only frame 0 exits early and wrong
    with pytest.raises(DslsimError, match="different lengths"):
        dynamic_trace(net, stages, scores={"conf": np.zeros(3)}, frame_rate=50.0, errors={"exit1": np.zeros(4)})


def test_early_exit_detector_end_to_end(tmp_path):
    """Tiny training, then: stage MACs by the formulas, the trace's exit shares equal the exit table's for the
    same scene and thresholds (two routings written separately), and the trace simulates."""
    from dslsim.hw.load import load_profile
    from dslsim.model.early_exit import DetectorConfig, evaluate, exit_table, export, load, save, train
    from dslsim.sim.run import simulate
    from dslsim.trace.io import read_trace, write_trace

    torch.set_num_threads(1)
    model = train(steps=20, config=DetectorConfig(width=8), pool=8, clip_seconds=4.0, crop_frames=100,
                  batch_size=4)
    save(model, tmp_path / "ee.pt", {"steps": 20})
    model = load(tmp_path / "ee.pt")
    t = export(model, [0.6, 0.6], seconds=20.0, seed=77)
    w = 8
    # block1: 1x1 stem (40 -> 8) + causal k3 conv (8 -> 8) per frame + ReLU and skip add; exit: 8 -> 1 + 3 ops.
    assert t.meta.stages["block1"].macs == pytest.approx(40 * w + w * w * 3 + 2 * w)
    assert t.meta.stages["block2"].macs == pytest.approx(w * w * 3 + 2 * w)
    assert t.meta.stages["exit1"].macs == pytest.approx(w + 3)
    table = exit_table(evaluate(model, seconds=20.0, clips=1, seed=77), [[0.6, 0.6]])
    row = table.iloc[-1]
    shares = t.frames["path"].value_counts(normalize=True, sort=False)
    assert [row[f"share_exit{i}"] for i in (1, 2, 3)] == pytest.approx(shares.to_list(), abs=1e-12)
    assert t.routed_error()["error"] == pytest.approx(row["error_rate"], abs=1e-6)
    write_trace(t, tmp_path / "ee.parquet")
    back = read_trace(tmp_path / "ee.parquet")
    result = simulate(load_profile("earbud"), back)
    assert set(result.summary.shares) == {"exit1", "exit2", "exit3"}
    with pytest.raises(DslsimError, match="not an early-exit detector checkpoint"):
        torch.save({"format": "other"}, tmp_path / "x.pt")
        load(tmp_path / "x.pt")


def test_shipped_early_exit_trace_is_what_the_shipped_checkpoint_exports(tmp_path):
    """The shipped K-path trace is reproducible: re-exporting it gives the same routing and scores, and the
    detector's deeper exits are more accurate on held-out scenes."""
    from click.testing import CliRunner

    from dslsim.cli.main import cli
    from dslsim.model.early_exit import evaluate, exit_table, load
    from dslsim.shipped import EARLY_EXIT_CHECKPOINT
    from dslsim.trace.io import read_trace

    torch.set_num_threads(1)
    out = tmp_path / "ee.parquet"
    r = CliRunner().invoke(cli, ["model", "early-exit", "export", str(out), "--thresholds", "0.9,0.9"])
    assert r.exit_code == 0, r.output
    fresh, shipped = read_trace(out), read_trace("early-exit-vad-50hz-10min")
    assert fresh.frames["path"].equals(shipped.frames["path"])
    for column in ("err_exit1", "err_exit3", "label"):
        assert np.array_equal(fresh.frames[column].to_numpy(), shipped.frames[column].to_numpy()), column
    # Float32 sums in another thread count or on another CPU's vector units differ in the last bits (measured: up
    # to 1e-4 in a confidence on a machine other than the one that exported the shipped trace).
    for column in ("conf_exit1", "conf_exit2"):
        assert np.allclose(fresh.frames[column], shipped.frames[column], atol=3e-4), column
    assert fresh.meta.stages == shipped.meta.stages
    table = exit_table(evaluate(load(EARLY_EXIT_CHECKPOINT), seconds=60.0, clips=2), [])
    assert table["error_rate"].iloc[2] < table["error_rate"].iloc[0]
