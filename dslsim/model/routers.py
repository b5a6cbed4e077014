"""How good is the switch as a router? The DSL against an oracle and a random router at the same light share.

At each light share, three routers send the same number of frames to the full path:

* **DSL**: the frames with the highest switch scores (the threshold is the score quantile over the evaluation
  set, so the share is exact, not the calibrated threshold's);
* **oracle**: the frames with the largest full-path advantage (:func:`~dslsim.model.losses.full_path_advantage`,
  measured on the clip itself — what no causal switch can know);
* **random**: a seeded uniform draw of frames.

Quality is the SI-SDR against the input on speech frames (all frames when a clip has no labels), each clip
decoded by the model's streaming inference with that routing. ``recovered`` is the fraction of the oracle's gain
over random that the switch achieves: (DSL − random) / (oracle − random).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch

from dslsim.model.dsl import DSLCodec
from dslsim.model.evaluate import Clip, per_frame_scores, speech_frames
from dslsim.model.losses import si_sdr

ROUTERS = ("dsl", "oracle", "random")


def _per_frame(model: DSLCodec, clips: list[Clip]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each clip's switch scores and full-path advantage, one value per frame."""
    per = [per_frame_scores(model, clip) for clip in clips]
    return [p[0] for p in per], [p[2] for p in per]


def _top_frames(values: list[np.ndarray], n_full: int) -> list[np.ndarray]:
    """Masks that send the ``n_full`` frames with the largest values (over all clips; ties by position) full."""
    flat = np.concatenate(values)
    chosen = np.zeros(len(flat), dtype=bool)
    chosen[np.argsort(-flat, kind="stable")[:n_full]] = True
    return np.split(chosen, np.cumsum([len(v) for v in values])[:-1])


def _quality(model: DSLCodec, clip: Clip, mask: np.ndarray) -> float:
    """SI-SDR (dB) against the input of the clip decoded with ``mask`` routing, on its speech frames."""
    x = torch.from_numpy(np.ascontiguousarray(clip.audio))[None, None]
    with torch.no_grad():
        y = model.infer(x, mask=torch.from_numpy(mask))["audio"]
    hop = model.config.hop
    if clip.labels is not None and clip.labels[: len(mask)].any():
        lab = clip.labels[: len(mask)]
        y, x = speech_frames(y, lab, hop), speech_frames(x, lab, hop)
    return float(si_sdr(y, x))


def router_curve(model: DSLCodec, clips: list[Clip], light_shares: list[float], seed: int = 0,
                 progress: Callable[[], None] | None = None) -> pd.DataFrame:
    """One row per light share: the mean speech SI-SDR of always-full, always-light and each router, the DSL's
    threshold at that share, and the fraction of the oracle's gain over random that the DSL recovers."""
    scores, advantage = _per_frame(model, clips)
    n = sum(len(s) for s in scores)
    rng = np.random.default_rng(seed)
    reference = {}
    for name, full in (("always_full", True), ("always_light", False)):
        reference[name] = np.mean([_quality(model, c, np.full(len(s), full)) for c, s in zip(clips, scores)])
    rows = []
    for share in light_shares:
        n_full = int(round((1 - share) * n))
        masks = {"dsl": _top_frames(scores, n_full), "oracle": _top_frames(advantage, n_full),
                 "random": _top_frames([rng.random(len(s)) for s in scores], n_full)}
        row = {"light_share": share, "dsl_threshold": float(np.sort(np.concatenate(scores))[::-1][n_full - 1])
               if n_full else float("nan"), **{f"{k}_si_sdr_speech_dB": v for k, v in reference.items()}}
        for router, per_clip in masks.items():
            row[f"{router}_si_sdr_speech_dB"] = float(np.mean([_quality(model, c, m) for c, m in zip(clips, per_clip)]))
            if progress:
                progress()
        gain = row["oracle_si_sdr_speech_dB"] - row["random_si_sdr_speech_dB"]
        row["recovered"] = (row["dsl_si_sdr_speech_dB"] - row["random_si_sdr_speech_dB"]) / gain if gain > 0 \
            else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
