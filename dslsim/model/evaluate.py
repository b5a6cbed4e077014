"""The paper-style table: always-full, always-light, DSL-switched and GC-switched on held-out audio.

Per routing: light share (overall and of speech frames), MACs per frame against the dense model, mel distance and
SI-SDR against the input (overall and on speech frames), SI-SDR against the clean speech stem when the clip has
one, and STOI on speech frames. Per switch: how well its score follows content without having seen a label:
Spearman rank correlation with the per-frame full-path advantage (:func:`~dslsim.model.losses.full_path_advantage`)
and the area under the ROC curve of score for speech vs the rest. With a light budget, a "DSL-budget" row routes
by the online controller (:class:`~dslsim.trace.budget.BudgetController`) instead of a fixed threshold, and
``light_share_min`` / ``light_share_max`` say how far single clips stray from the overall share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from dslsim.errors import DslsimError
from dslsim.model.codec import count_params
from dslsim.model.data import Scene, SpeechCorpus, read_wav, scene
from dslsim.model.dsl import DSLCodec
from dslsim.model.graph import measure_stages
from dslsim.model.losses import full_path_advantage, multiscale_mel_distance, si_sdr
from dslsim.trace.architecture import SHARED_STAGES
from dslsim.trace.budget import BudgetController

ROUTES = (("always-full", "full"), ("always-light", "light"), ("DSL-switched", "dsl"), ("GC-switched", "gc"))


@dataclass(frozen=True)
class Clip:
    """One evaluation clip: audio, per-frame labels (or None) and the clean speech stem (or None)."""

    audio: np.ndarray
    labels: np.ndarray | None
    speech: np.ndarray | None = None
    name: str = ""


def evaluation_set(n_clips: int, seconds: float, sr: int, hop: int, seed: int = 10_000,
                   corpus: SpeechCorpus | None = None) -> list[Clip]:
    """Held-out scenes (seeds disjoint from training's (seed, step, i) tuples), with generated speech or the
    prompts of ``corpus`` (keep it disjoint from the training speech)."""
    out = []
    for i in range(n_clips):
        s: Scene = scene(seconds, sr, (seed, i), hop, corpus=corpus)
        out.append(Clip(s.audio, s.labels, s.speech, f"scene {seed}/{i}"))
    return out


def wav_clips(folder: str | Path, sr: int, hop: int) -> list[Clip]:
    """The user's recordings: every ``*.wav`` under ``folder``, with per-frame labels from a CSV of the same name
    when there is one (one row per frame of ``hop`` samples; a column ``speech`` or ``label`` of 0/1)."""
    files = sorted(Path(folder).rglob("*.wav"))
    if not files:
        raise DslsimError(f"{folder}: no .wav files found.")
    clips = []
    for f in files:
        audio = read_wav(f, sr)
        n = len(audio) // hop
        if n < 1:
            raise DslsimError(f"{f}: shorter than one frame ({hop} samples at {sr} Hz).")
        labels = None
        table = f.with_suffix(".csv")
        if table.exists():
            try:
                df = pd.read_csv(table)
            except (OSError, ValueError) as exc:
                raise DslsimError(f"{table}: not a readable CSV ({str(exc).strip()[:200]}).") from None
            col = next((c for c in ("speech", "label") if c in df.columns), None)
            if col is None or len(df) < n or not df[col].isin([0, 1, True, False]).all():
                raise DslsimError(f"{table}: expected a 0/1 column 'speech' (or 'label') with at least {n} rows, "
                                  f"one per {hop}-sample frame; found columns {list(df.columns)} and {len(df)} rows.")
            labels = df[col].to_numpy()[:n].astype(bool)
        clips.append(Clip(audio[: n * hop], labels, None, f.name))
    return clips


def speech_frames(y: torch.Tensor, mask: np.ndarray, hop: int) -> torch.Tensor:
    """The samples of ``y`` in the frames (of ``hop`` samples) that ``mask`` marks."""
    keep = torch.from_numpy(np.repeat(mask, hop))
    return y[..., keep[: y.shape[-1]]]


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); NaN with one class only."""
    from scipy.stats import rankdata

    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (NaN when either side is constant)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def per_frame_scores(model: DSLCodec, clip: Clip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One value per frame of ``clip``: the DSL switch's score, the GC head's score and the full-path advantage
    (dB, whole-sequence decoding of both paths)."""
    x = torch.from_numpy(np.ascontiguousarray(clip.audio))[None, None]
    with torch.no_grad():
        q, coarse, _ = model.encode(x)
        switch_in = model.switch_input(q, coarse)
        light, full = model.decode_paths(q, model.gain(x), coarse)
        adv = full_path_advantage(light, full, x, model.config.hop)[0].numpy()
        return model.switch(switch_in)[0].numpy(), model.gc_switch(switch_in)[0].numpy(), adv


def switch_scores(model: DSLCodec, audio: np.ndarray) -> np.ndarray:
    """The DSL switch's score per frame of ``audio`` (encoder, RVQ and switch only: no decoding)."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None, None]
    with torch.no_grad():
        q, coarse, _ = model.encode(x)
        return model.switch(model.switch_input(q, coarse))[0].numpy()


def budget_shares(model: DSLCodec, clips: list[Clip], budget: BudgetController,
                  threshold: float | None = None) -> pd.DataFrame:
    """Per clip: the light share under the online ``budget`` controller and under a fixed threshold (default the
    model's calibrated one), and each one's distance from the budget in points (100 x share)."""
    fixed = float(np.float32(model.threshold if threshold is None else threshold))
    rows = []
    for clip in clips:
        scores = switch_scores(model, clip.audio)
        controlled = scores >= budget.thresholds(scores).astype(np.float32)
        rows.append({"clip": clip.name, "light_share_budget": 1 - controlled.mean(),
                     "light_share_fixed": 1 - (scores >= fixed).mean()})
    df = pd.DataFrame(rows)
    df["off_budget_points"] = 100 * (df["light_share_budget"] - budget.light_share)
    df["off_fixed_points"] = 100 * (df["light_share_fixed"] - budget.light_share)
    return df


def switch_quality(model: DSLCodec, clips: list[Clip], progress: Callable[[], None] | None = None) -> dict:
    """How the DSL and GC scores follow content: rank correlation with the full-path advantage, speech AUC."""
    scores = {"dsl": [], "gc": []}
    advantage, labels = [], []
    for clip in clips:
        dsl, gc, adv = per_frame_scores(model, clip)
        scores["dsl"].append(dsl)
        scores["gc"].append(gc)
        advantage.append(adv)
        labels.append(clip.labels if clip.labels is not None else np.full(len(adv), -1))
        if progress:
            progress()
    adv = np.concatenate(advantage)
    lab = np.concatenate(labels)
    known = lab >= 0
    out = {}
    for name, parts in scores.items():
        s = np.concatenate(parts)
        out[f"{name}_rank_corr_advantage"] = spearman(s, adv)
        out[f"{name}_speech_auc"] = auc(s[known], lab[known].astype(bool)) if known.any() else float("nan")
    out["advantage_speech_dB"] = float(adv[known & (lab == 1)].mean()) if (known & (lab == 1)).any() else float("nan")
    out["advantage_rest_dB"] = float(adv[known & (lab == 0)].mean()) if (known & (lab == 0)).any() else float("nan")
    return out


def compute_ratios(model: DSLCodec) -> dict:
    """Both compute readings: light vs full decoder, and the whole light pass vs the whole dense model."""
    stages, _ = measure_stages(model)
    macs = {k: v.macs for k, v in stages.items()}
    cfg = model.config
    params = {"encoder": count_params(model.encoder), "rvq": cfg.n_q * cfg.codebook_size * cfg.embed_dim,
              "switch": count_params(model.switch), "light_decoder": count_params(model.light_decoder),
              "full_decoder": count_params(model.full_decoder)}
    shared = sum(macs[s] for s in SHARED_STAGES)
    shared_p = sum(params[s] for s in SHARED_STAGES)
    # What each path decodes with (its stages after the shared ones: a residual full path runs both decoders).
    decoding = {path: [s for s in stages_ if s not in SHARED_STAGES] for path, stages_ in model.paths.items()}
    dec = {path: sum(macs[s] for s in names) for path, names in decoding.items()}
    dec_p = {path: sum(params[s] for s in names) for path, names in decoding.items()}
    macs = dict(macs, light_path_decoder=dec["light"], full_path_decoder=dec["full"])
    return {"decoder_mac_ratio": dec["full"] / dec["light"], "decoder_param_ratio": dec_p["full"] / dec_p["light"],
            "pass_mac_ratio": (shared + dec["full"]) / (shared + dec["light"]),
            "pass_param_ratio": (shared_p + dec_p["full"]) / (shared_p + dec_p["light"]),
            "dense_MMAC_per_frame": (shared + dec["full"]) / 1e6, "shared_MMAC_per_frame": shared / 1e6,
            "macs": macs}


def paper_table(model: DSLCodec, clips, threshold: float | list[float] | None = None,
                progress: Callable[[], None] | None = None, budget: BudgetController | None = None
                ) -> tuple[pd.DataFrame, dict]:
    """Rows per routing (see the module doc). ``threshold``: one or several (the trade-off curve); default the
    model's calibrated DSL threshold and 0.5 for GC. ``budget``: one more row, the DSL routed by this online
    controller. Returns the table and the compute ratios and switch quality.
    ``clips`` are :class:`Clip` or (audio, labels[, speech]) tuples.
    """
    clips = [c if isinstance(c, Clip) else Clip(*c) for c in clips]
    thresholds = threshold if isinstance(threshold, (list, tuple)) else [threshold]
    cfg = model.config
    ratios = compute_ratios(model)
    macs = ratios["macs"]
    shared = macs["encoder"] + macs["rvq"] + macs["switch"]
    dense = shared + macs["full_path_decoder"]
    rows = []
    runs = [(label, route, None) for label, route in ROUTES[:2]]
    runs += [(label, route, thr) for thr in thresholds for label, route in ROUTES[2:]]
    if budget is not None:
        runs.append(("DSL-budget", "dsl", budget))
    for label, route, thr in runs:
        controller = thr if isinstance(thr, BudgetController) else None
        thr = None if controller is not None else thr
        mel_all, sdr_all, mel_sp, sdr_sp, sdr_clean, stoi_sp, shares = [], [], [], [], [], [], []
        full_frames, frames, full_speech, speech = 0, 0, 0, 0
        used = None
        for clip in clips:
            x = torch.from_numpy(np.ascontiguousarray(clip.audio))[None, None]
            out = model.infer(x, threshold=thr, route=route, budget=controller)
            used = float(model.threshold) if (route == "dsl" and thr is None) else (0.5 if thr is None else thr)
            if controller is not None:
                used = float("nan")  # a threshold per frame
            y = out["audio"]
            mel_all.append(float(multiscale_mel_distance(y, x, cfg.sample_rate)))
            sdr_all.append(float(si_sdr(y, x)))
            mask = out["full_mask"].numpy()
            full_frames += int(mask.sum())
            frames += len(mask)
            shares.append(1 - mask.mean())
            if clip.labels is not None and clip.labels.any():
                lab = clip.labels[: len(mask)]
                ys, xs = speech_frames(y, lab, cfg.hop), speech_frames(x, lab, cfg.hop)
                mel_sp.append(float(multiscale_mel_distance(ys, xs, cfg.sample_rate)))
                sdr_sp.append(float(si_sdr(ys, xs)))
                if clip.speech is not None:
                    clean = torch.from_numpy(np.ascontiguousarray(clip.speech[: x.shape[-1]]))[None, None]
                    sdr_clean.append(float(si_sdr(ys, speech_frames(clean, lab, cfg.hop))))
                from pystoi import stoi

                if ys.shape[-1] >= int(0.4 * cfg.sample_rate):
                    stoi_sp.append(float(stoi(xs.flatten().numpy(), ys.flatten().numpy(), cfg.sample_rate)))
                full_speech += int(mask[lab].sum())
                speech += int(lab.sum())
            if progress:
                progress()
        share_full = full_frames / max(frames, 1)
        avg = shared + share_full * macs["full_path_decoder"] + (1 - share_full) * macs["light_path_decoder"]
        nan = float("nan")
        rows.append({"routing": label, "threshold": used if route in ("dsl", "gc") else nan,
                     "light_share": 1 - share_full,
                     "light_share_speech": 1 - full_speech / speech if speech else nan,
                     "light_share_min": min(shares), "light_share_max": max(shares),
                     "MMAC_per_frame": avg / 1e6, "vs_dense_pct": 100 * avg / dense,
                     "mel_distance": np.mean(mel_all), "si_sdr_dB": np.mean(sdr_all),
                     "mel_distance_speech": np.mean(mel_sp) if mel_sp else nan,
                     "si_sdr_speech_dB": np.mean(sdr_sp) if sdr_sp else nan,
                     "si_sdr_clean_speech_dB": np.mean(sdr_clean) if sdr_clean else nan,
                     "stoi_speech": np.mean(stoi_sp) if stoi_sp else nan})
    info = {k: v for k, v in ratios.items() if k != "macs"}
    info.update(switch_quality(model, clips))
    return pd.DataFrame(rows), info
