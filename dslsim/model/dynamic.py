"""Export a trace from your own PyTorch dynamic network: early exits, selectable or iterated layers, any cascade
of thresholded decisions.

You describe the network to dslsim in plain terms — which module is each stage, which stages each path runs,
and the decisions that route a frame (:class:`~dslsim.trace.schema.Decision`: a score column, a threshold, the
path it takes) — and give one forward pass that calls every stage (the dense path, as training does).
:func:`measure_stages` hooks each stage module, records what it was called with, then measures it alone: per-layer
ops from forward hooks (Conv1d, ConvTranspose1d, Linear: the analytic formulas on the shapes that ran) and the
total from ``torch.utils.flop_counter.FlopCounterMode``; MACs the hooks cannot see (a functional matmul) are kept
as one ``linear`` op so the stage's total is the counter's. :func:`dynamic_trace` then writes the per-frame scores,
per-path errors and the routing the decisions give into a trace any dslsim command reads.

>>> import torch
>>> from torch import nn
>>> blocks = nn.ModuleList([nn.Conv1d(8, 8, 3, padding=2) for _ in range(2)])
>>> heads = nn.ModuleList([nn.Linear(8, 1) for _ in range(2)])
>>> def dense(x):                                     # x: (1, 8, frames); every block and head runs
...     for block, head in zip(blocks, heads):
...         x = block(x)[..., :x.shape[-1]]
...         head(x.transpose(1, 2))
>>> net = DynamicNetwork(stages={"block1": blocks[0], "exit1": heads[0], "block2": blocks[1], "exit2": heads[1]},
...                      paths={"exit1": ["block1", "exit1"], "exit2": ["block1", "exit1", "block2", "exit2"]},
...                      decisions=(Decision("exit1", "conf_exit1", 0.9, "exit1"),), fallback_path="exit2")
>>> stages = measure_stages(net, lambda: dense(torch.zeros(1, 8, 10)), frames=10)
>>> stages["block1"].macs, stages["exit1"].macs          # 8 * 8 * 3 per output step (12 of them over 10 frames)
(230.4, 8.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from dslsim.errors import DslsimError
from dslsim.model.graph import _hooked_ops
from dslsim.trace.frames import frame_table
from dslsim.trace.schema import DTYPE_BYTES, Decision, Op, Stage, Trace, TraceMeta

__all__ = ["Decision", "DynamicNetwork", "measure_stages", "dynamic_trace"]


@dataclass
class DynamicNetwork:
    """A dynamic network as dslsim sees it: stage modules, the paths through them and the decisions.

    ``stages`` maps each stage name to the module that computes it (in execution order); ``paths`` each path to
    the stages it runs; ``decisions`` are tried in order and ``fallback_path`` takes the frames none fires for;
    ``dense_path`` (default: the fallback) is the battery-gain baseline.
    """

    stages: dict[str, nn.Module]
    paths: dict[str, list[str]]
    decisions: tuple[Decision, ...] = ()
    fallback_path: str | None = None
    dense_path: str | None = None
    extra_ops: dict[str, list[Op]] = field(default_factory=dict)
    """Per stage, ops its modules do not show hooks or the counter (a norm, a softmax): appended as given."""

    def __post_init__(self) -> None:
        for path, stages in self.paths.items():
            missing = [s for s in stages if s not in self.stages]
            if missing:
                raise DslsimError(f"path {path!r} runs stage(s) {missing} that are not in 'stages' "
                                  f"({list(self.stages)}).")
        for d in self.decisions:
            if d.path not in self.paths:
                raise DslsimError(f"decision {d.name!r} takes path {d.path!r}, which is not one of {list(self.paths)}.")
        if self.decisions and self.fallback_path not in self.paths:
            raise DslsimError(f"fallback_path {self.fallback_path!r}: expected one of {list(self.paths)} (the path "
                              f"of frames no decision takes).")
        self.dense_path = self.dense_path or self.fallback_path or list(self.paths)[-1]


def measure_stages(net: DynamicNetwork, run: Callable[[], Any], frames: int, dtype: str = "int8"
                   ) -> dict[str, Stage]:
    """Per-frame op lists of every stage: ``run()`` must call each stage module (a dense forward pass over
    ``frames`` frames); each stage is then re-run alone on the inputs it was given, under per-layer hooks and a
    FLOP counter. Byte counts assume the model is deployed in ``dtype``."""
    if dtype not in DTYPE_BYTES:
        raise DslsimError(f"dtype {dtype!r}: expected one of {list(DTYPE_BYTES)}.")
    calls: dict[str, tuple[tuple, dict]] = {}
    handles = []
    for name, module in net.stages.items():
        def remember(mod, args, kwargs, name=name):
            calls.setdefault(name, (args, kwargs))     # the first call: one frame batch's worth
        handles.append(module.register_forward_pre_hook(remember, with_kwargs=True))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    missing = [name for name in net.stages if name not in calls]
    if missing:
        raise DslsimError(f"the forward pass never called stage(s) {missing}; measure_stages needs one pass that "
                          f"runs every stage (the dense path).")
    bpe = DTYPE_BYTES[dtype]
    stages = {}
    for name, module in net.stages.items():
        args, kwargs = calls[name]
        ops, counted = _hooked_ops(module, lambda: module(*args, **kwargs), frames, bpe, dtype)
        hooked = sum(op.macs for op in ops if op.kind != "elementwise")
        if counted > hooked * (1 + 1e-6) + 1e-9:      # matmuls the layer hooks did not see
            ops.append(Op(name=f"{name}.unhooked_matmul", kind="linear", macs=counted - hooked, dtype=dtype))
        ops += list(net.extra_ops.get(name, []))
        if not ops:
            raise DslsimError(f"stage {name!r} shows no ops (no Conv1d, ConvTranspose1d or Linear layer, no matmul); "
                              f"describe its work with extra_ops.")
        stages[name] = Stage(name, tuple(ops))
    return stages


def dynamic_trace(net: DynamicNetwork, stages: Mapping[str, Stage], scores: Mapping[str, np.ndarray],
                  frame_rate: float, sample_rate: float | None = None, hop: int = 1,
                  errors: Mapping[str, np.ndarray] | None = None, extra: Mapping[str, np.ndarray] | None = None,
                  source: dict | None = None) -> Trace:
    """A trace of ``len(scores[...])`` frames: per-frame ``scores`` (one column per decision's score), the path
    the decisions give, ``err_<path>`` from ``errors`` (per path, lower is better) and any ``extra`` columns
    (``label``, say). With no decisions, pass the per-frame path names as ``extra={"path": ...}``."""
    lengths = {len(np.asarray(v)) for v in list(scores.values()) + list((errors or {}).values())
               + list((extra or {}).values())}
    if len(lengths) != 1:
        raise DslsimError(f"per-frame arrays of different lengths {sorted(lengths)}: expected one per frame each.")
    n = lengths.pop()
    needed = {d.score for d in net.decisions}
    if needed - set(scores):
        raise DslsimError(f"no scores for {sorted(needed - set(scores))}, which the decisions read.")
    meta = TraceMeta(frame_rate=float(frame_rate), sample_rate=float(sample_rate or frame_rate * hop), hop=hop,
                     paths={p: list(s) for p, s in net.paths.items()}, stages=dict(stages),
                     dense_path=net.dense_path, decisions=tuple(net.decisions), fallback_path=net.fallback_path,
                     source=dict(source or {}))
    frames = frame_table(n, frame_rate)
    for column, values in scores.items():
        frames[column] = np.asarray(values, dtype=np.float32)
    extra = dict(extra or {})
    given_paths = extra.pop("path", None)
    if net.decisions:
        frames["path"] = pd.Categorical.from_codes(meta.route(frames), categories=list(net.paths))
    elif given_paths is not None:
        frames["path"] = pd.Categorical(np.asarray(given_paths, dtype=object), categories=list(net.paths))
    else:
        raise DslsimError("a network without decisions needs its per-frame paths: extra={'path': [...]}.")
    for path, values in (errors or {}).items():
        if path not in net.paths:
            raise DslsimError(f"errors for {path!r}, which is not a path ({list(net.paths)}).")
        frames[f"err_{path}"] = np.asarray(values, dtype=np.float32)
    for column, values in extra.items():
        frames[column] = np.asarray(values)
    return Trace(meta, frames).validate()
