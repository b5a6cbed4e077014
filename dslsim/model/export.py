"""Export a trace from a trained model and audio: per-frame path, switch score, both paths' distortion."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch

from dslsim.model.dsl import DSLCodec
from dslsim.model.graph import measure_stages
from dslsim.model.losses import per_frame_mel_distance
from dslsim.errors import DslsimError
from dslsim.trace.budget import BudgetController
from dslsim.trace.schema import Decision, Trace, TraceMeta, switch_decision


def export_trace(model: DSLCodec, audio: np.ndarray, threshold: float | None = None, labels: np.ndarray | None = None,
                 source: dict | None = None, route: str = "dsl", dtype: str = "int8",
                 progress: Callable[[int], None] | None = None, budget: BudgetController | None = None) -> Trace:
    """Run streaming inference on ``audio`` (mono float at the model's rate) and build a trace.

    Columns: frame, t_arrival, path, score, err_light and err_full (per-frame log-mel L1 distance of each path's
    output to the input, so thresholds can be studied without the model), and label when given.

    ``budget``: route by an online budget controller (:class:`~dslsim.trace.budget.BudgetController`) instead of a
    fixed threshold; the trace then stores each frame's threshold in a ``threshold`` column, its decision reads it
    (``threshold_column``), so the simulator replays exactly this routing, and ``source.budget`` records the
    controller (light share, time constant, initial threshold, warm-up).
    """
    cfg = model.config
    n = (len(audio) // cfg.hop) * cfg.hop
    x = torch.from_numpy(np.ascontiguousarray(audio[:n], dtype=np.float32))[None, None]
    if threshold is None:
        threshold = float(model.threshold) if route == "dsl" else 0.5
    # The model compares float32 scores with a float32 threshold: store that one, so the trace's routing agrees.
    threshold = float(np.float32(threshold))
    if budget is not None and route not in ("dsl", "gc"):
        raise DslsimError(f"a light budget routes by the switch; route {route!r} forces one path (use 'dsl' or 'gc').")
    out = model.infer(x, threshold=threshold, route=route, progress=progress, budget=budget)
    err_light = per_frame_mel_distance(out["light"], x, cfg.sample_rate, cfg.hop)[0].numpy()
    err_full = per_frame_mel_distance(out["full"], x, cfg.sample_rate, cfg.hop)[0].numpy()
    frames_n = n // cfg.hop
    full = out["full_mask"].numpy()
    frames = pd.DataFrame({
        "frame": np.arange(frames_n, dtype=np.int64),
        "t_arrival": np.arange(frames_n, dtype=np.float64) * cfg.hop / cfg.sample_rate,
        "path": pd.Categorical.from_codes(full.astype(np.int8), categories=list(model.paths)),
        "score": out["score"].numpy().astype(np.float32),
        "err_light": err_light.astype(np.float32),
        "err_full": err_full.astype(np.float32),
    })
    if labels is not None:
        frames["label"] = np.asarray(labels[:frames_n], dtype=bool)
    decisions = switch_decision(threshold, "full") if route in ("dsl", "gc") else ()
    if budget is not None:
        frames["threshold"] = out["threshold"].numpy().astype(np.float32)
        threshold = float(np.float32(budget.initial_threshold))
        decisions = (Decision(name="switch", score="score", threshold=threshold, path="full",
                              threshold_column="threshold"),)
        source = {**(source or {}), "budget": {"light_share": budget.light_share,
                                               "time_constant_s": budget.time_constant_s,
                                               "initial_threshold": budget.initial_threshold,
                                               "warmup_frames": budget.warmup_frames, "bins": budget.bins}}
    stages, _ = measure_stages(model, dtype=dtype)
    meta = TraceMeta(frame_rate=cfg.frame_rate, sample_rate=float(cfg.sample_rate), hop=cfg.hop, paths=model.paths,
                     stages=stages, dense_path="full",
                     # Forced routes ('light', 'full') ignore the switch: no decision to re-run.
                     decisions=decisions,
                     fallback_path="light" if route in ("dsl", "gc") else None,
                     source={"model": f"DSL-SoundStream (C={cfg.width}, D={cfg.embed_dim}, light C={cfg.light})",
                             "config": cfg.to_dict(), "route": route, "bytes_assume": dtype, **(source or {})})
    return Trace(meta, frames).validate()
