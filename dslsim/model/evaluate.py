"""The paper-style table: always-full, always-light, DSL-switched and GC-switched on held-out scenes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pystoi import stoi

from dslsim.model.codec import count_params
from dslsim.model.data import scene
from dslsim.model.dsl import DSLCodec
from dslsim.model.graph import measure_stages
from dslsim.model.losses import multiscale_mel_distance, si_sdr

ROUTES = (("always-full", "full"), ("always-light", "light"), ("DSL-switched", "dsl"), ("GC-switched", "gc"))


def evaluation_set(n_clips: int, seconds: float, sr: int, hop: int, seed: int = 10_000):
    """Held-out scenes (seeds disjoint from training's (seed, step, i) tuples)."""
    return [scene(seconds, sr, (seed, i), hop) for i in range(n_clips)]


def _speech_only(y: torch.Tensor, mask: np.ndarray, hop: int) -> torch.Tensor:
    keep = torch.from_numpy(np.repeat(mask, hop))
    return y[..., keep[: y.shape[-1]]]


def paper_table(model: DSLCodec, clips, threshold: float | list[float] = 0.5) -> tuple[pd.DataFrame, dict]:
    """Rows per routing: light share (overall and of speech frames), MACs per frame vs dense, mel distance and
    SI-SDR overall and on speech frames, and STOI (Taal et al. 2011, via ``pystoi``) on the speech frames.

    With several thresholds, the switched rows repeat for each (the trade-off curve). Returns the table and the
    path ratios (light vs full decoder MACs and parameters).
    """
    thresholds = threshold if isinstance(threshold, (list, tuple)) else [threshold]
    cfg = model.config
    stages, _ = measure_stages(model)
    macs = {k: v.macs for k, v in stages.items()}
    shared = macs["encoder"] + macs["rvq"] + macs["switch"]
    dense = shared + macs["full_decoder"]
    rows = []
    runs = [(label, route, thresholds[0]) for label, route in ROUTES[:2]]
    runs += [(label, route, thr) for thr in thresholds for label, route in ROUTES[2:]]
    for label, route, threshold in runs:
        mel_all, sdr_all, mel_sp, sdr_sp, stoi_sp = [], [], [], [], []
        full_frames, frames, full_speech, speech = 0, 0, 0, 0
        for audio, labels, *_ in clips:
            x = torch.from_numpy(audio)[None, None]
            out = model.infer(x, threshold=threshold, route=route)
            y = out["audio"]
            mel_all.append(float(multiscale_mel_distance(y, x, cfg.sample_rate)))
            sdr_all.append(float(si_sdr(y, x)))
            if labels.any():
                ys, xs = _speech_only(y, labels, cfg.hop), _speech_only(x, labels, cfg.hop)
                mel_sp.append(float(multiscale_mel_distance(ys, xs, cfg.sample_rate)))
                sdr_sp.append(float(si_sdr(ys, xs)))
                stoi_sp.append(float(stoi(xs.flatten().numpy(), ys.flatten().numpy(), cfg.sample_rate)))
            full_frames += int(out["full_mask"].sum())
            frames += len(labels)
            full_speech += int(out["full_mask"][torch.from_numpy(labels)].sum())
            speech += int(labels.sum())
        share_full = full_frames / frames
        avg = shared + share_full * macs["full_decoder"] + (1 - share_full) * macs["light_decoder"]
        rows.append({"routing": label, "threshold": threshold if route in ("dsl", "gc") else float("nan"),
                     "light_share": 1 - share_full, "light_share_speech": 1 - full_speech / max(speech, 1),
                     "MMAC_per_frame": avg / 1e6,
                     "vs_dense_pct": 100 * avg / dense, "mel_distance": np.mean(mel_all), "si_sdr_dB": np.mean(sdr_all),
                     "mel_distance_speech": np.mean(mel_sp), "si_sdr_speech_dB": np.mean(sdr_sp),
                     "stoi_speech": np.mean(stoi_sp)})
    ratios = {"decoder_mac_ratio": macs["full_decoder"] / macs["light_decoder"],
              "decoder_param_ratio": count_params(model.full_decoder) / count_params(model.light_decoder),
              "dense_MMAC_per_frame": dense / 1e6, "shared_MMAC_per_frame": shared / 1e6}
    return pd.DataFrame(rows), ratios
