"""Training: unsupervised DSL (reconstruction + compute budget) and the supervised Gated Compression switch.

Schedule (fractions of the budget): a warm-up trains encoder, RVQ and both decoders on reconstruction only;
then the DSL switch joins: the loss is the reconstruction of the per-frame mix of both decoders, plus each
decoder's own reconstruction (so both paths stay usable), plus a budget term (mean gate - target)^2
that pulls the share of full-path frames toward the target (the expected share while the gate is soft, the real
one, with a straight-through gradient, once it is hard). The gate is soft (the score) until the
last quarter, then hard with a straight-through gradient, as at inference. The Gated Compression baseline is a
second switch head trained on the frame labels (binary cross-entropy) on the same, detached latents.

Checkpoints hold only tensors and plain data (loaded with ``weights_only=True``), are written atomically, and
carry the optimizer and RNG state so that an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from dslsim.errors import DslsimError
from dslsim.fileio import write_atomic
from dslsim.model.codec import CodecConfig
from dslsim.model.data import scene
from dslsim.model.dsl import DSLCodec
from dslsim.model.losses import reconstruction_loss


@dataclass
class TrainConfig:
    """How to train. ``steps`` and ``time_budget_s``: whichever ends first (None = no limit).

    ``quantizer_dropout`` trains one model for several bitrates (SoundStream's recipe); it is off by default
    because dslsim deploys one bitrate and, on a CPU budget, dropout costs quality at the full bitrate.
    """

    steps: int | None = None
    time_budget_s: float | None = 720.0
    batch: int = 8
    seconds: float = 0.64
    lr: float = 1e-3
    seed: int = 0
    target_full_share: float = 0.2
    budget_weight: float = 4.0
    aux_weight: float = 0.5
    commit_weight: float = 0.25
    linear_mel_weight: float = 0.1
    waveform_weight: float = 100.0
    quantizer_dropout: bool = False
    warmup: float = 0.4
    hard_from: float = 0.75
    checkpoint_every: int = 50
    threads: int = 2
    wav_dir: str | None = None


@dataclass
class TrainState:
    """Progress carried across resumes."""

    step: int = 0
    elapsed_s: float = 0.0
    history: list = field(default_factory=list)


def _batch(cfg: TrainConfig, codec: CodecConfig, step: int, wavs: list[np.ndarray] | None):
    """A deterministic batch for ``step``: audio (B, 1, N) and frame labels (B, T) (None for WAV data)."""
    n = int(round(cfg.seconds * codec.sample_rate / codec.hop)) * codec.hop
    if wavs is None:
        clips = [scene(cfg.seconds, codec.sample_rate, (cfg.seed, step, i), codec.hop) for i in range(cfg.batch)]
        audio = torch.from_numpy(np.stack([c[0][:n] for c in clips]))[:, None]
        labels = torch.from_numpy(np.stack([c[1][: n // codec.hop] for c in clips]).astype(np.float32))
        return audio, labels
    rng = np.random.default_rng((cfg.seed, step))
    out = []
    for _ in range(cfg.batch):
        clip = wavs[rng.integers(len(wavs))]
        start = rng.integers(0, max(1, len(clip) - n))
        seg = np.zeros(n, np.float32)
        piece = clip[start:start + n]
        seg[: len(piece)] = piece
        out.append(seg)
    return torch.from_numpy(np.stack(out))[:, None], None


def save_checkpoint(path: str | Path, model: DSLCodec, cfg: TrainConfig, state: TrainState,
                    optimizer: torch.optim.Optimizer | None) -> Path:
    """Write a checkpoint atomically (tensors and plain data only)."""
    payload = {"format": "dslsim.checkpoint", "version": 1, "codec": model.config.to_dict(), "train": asdict(cfg),
               "state": asdict(state), "model": model.state_dict(),
               "optimizer": optimizer.state_dict() if optimizer is not None else None,
               "torch_rng": torch.get_rng_state()}
    return write_atomic(path, lambda p: torch.save(payload, p))


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely (``weights_only=True``); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DslsimError(f"{path}: no such checkpoint file.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise DslsimError(f"{path}: not a loadable dslsim checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200]}).") from None
    if not isinstance(payload, dict) or payload.get("format") != "dslsim.checkpoint":
        raise DslsimError(f"{path}: not a dslsim checkpoint (no 'format: dslsim.checkpoint').")
    return payload


def load_model(path: str | Path) -> tuple[DSLCodec, dict]:
    """The model of a checkpoint, in eval mode, and the checkpoint payload."""
    payload = load_checkpoint(path)
    model = DSLCodec(CodecConfig(**payload["codec"]))
    model.load_state_dict(payload["model"])
    return model.eval(), payload


def train(codec: CodecConfig, cfg: TrainConfig, out: str | Path, resume: bool = True,
          progress: Callable[[TrainState, dict], None] | None = None) -> Path:
    """Train (or resume) and write the checkpoint to ``out``; returns its path."""
    torch.set_num_threads(cfg.threads)
    out = Path(out)
    torch.manual_seed(cfg.seed)
    model = DSLCodec(codec)
    model.rvq.dropout = cfg.quantizer_dropout
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state = TrainState()
    if resume and out.exists():
        payload = load_checkpoint(out)
        if payload["codec"] != codec.to_dict():
            raise DslsimError(f"{out}: holds a model of another shape {payload['codec']}; use another --out "
                              f"or --fresh.")
        model.load_state_dict(payload["model"])
        if payload["optimizer"] is not None:
            optimizer.load_state_dict(payload["optimizer"])
        state = TrainState(**payload["state"])
        torch.set_rng_state(payload["torch_rng"])
    wavs = None
    if cfg.wav_dir:
        from dslsim.model.data import load_wav_dir

        wavs = load_wav_dir(cfg.wav_dir, codec.sample_rate)
    model.train()
    sr = codec.sample_rate

    def rec(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(y, x, sr, cfg.linear_mel_weight, cfg.waveform_weight)

    started = time.perf_counter() - state.elapsed_s

    def fraction() -> float:
        parts = []
        if cfg.steps:
            parts.append(state.step / cfg.steps)
        if cfg.time_budget_s:
            parts.append((time.perf_counter() - started) / cfg.time_budget_s)
        return max(parts) if parts else 0.0

    try:
        while fraction() < 1.0:
            audio, labels = _batch(cfg, codec, state.step, wavs)
            phase = fraction()
            out_ = model(audio, hard=phase >= cfg.hard_from)
            rec_light, rec_full = rec(out_["light"], audio), rec(out_["full"], audio)
            loss = rec_light + rec_full + cfg.commit_weight * out_["commit"]
            logs = {"light": rec_light.item(), "full": rec_full.item()}
            if phase >= cfg.warmup:
                rec_mix = rec(out_["mix"], audio)
                share = out_["gate"].mean()  # once hard: the share that really goes full (straight-through)
                loss = rec_mix + cfg.aux_weight * (rec_light + rec_full) + cfg.commit_weight * out_["commit"] \
                    + cfg.budget_weight * (share - cfg.target_full_share) ** 2
                logs.update(mix=rec_mix.item(), full_share=share.item())
                if labels is not None:  # Gated Compression: supervised switch on detached latents
                    with torch.no_grad():
                        q, _, _ = model.encode(audio)
                    gc = F.binary_cross_entropy(model.gc_switch(q), labels)
                    loss = loss + gc
                    logs["gc_bce"] = gc.item()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            state.step += 1
            state.elapsed_s = time.perf_counter() - started
            if state.step % 10 == 0:
                state.history.append({"step": state.step, **{k: round(v, 5) for k, v in logs.items()}})
            if progress:
                progress(state, logs)
            if state.step % cfg.checkpoint_every == 0:
                save_checkpoint(out, model, cfg, state, optimizer)
    finally:
        state.elapsed_s = time.perf_counter() - started
        save_checkpoint(out, model, cfg, state, optimizer)
    return out
