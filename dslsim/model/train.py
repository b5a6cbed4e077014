"""Training: the DSL codec without labels, and the supervised Gated Compression switch beside it.

Reconstruction loss (:func:`dslsim.model.losses.level_invariant_loss`): multi-scale log-mel L1 plus the per-frame
waveform error relative to each frame's energy, so quiet speech counts as much as loud noise. Schedule
(fractions of the budget):

1. warm-up (``warmup``): encoder, RVQ and both decoders learn to reconstruct on their own;
2. from the first step, the DSL switch learns to rank frames by how much the full path helps. Its target is a stop-gradient
   self-label: frame t is "full" when its full-path advantage (:func:`~dslsim.model.losses.full_path_advantage`,
   the light decoder's relative error over the full one's, in dB) is in the batch's top ``target_full_share``
   (the compute budget, set as a quantile so that scores spread rather than settle on one value); binary
   cross-entropy on the switch's logits over the detached latents (``switch_context`` frames of context).
   After the warm-up the decoders train on the per-frame mix routed by the hard gate (score >= the calibrated
   threshold), plus ``aux_weight`` of each decoder's own reconstruction: the full decoder specialises on the
   frames it gets, the light one on the rest;
3. throughout, :attr:`DSLCodec.threshold` tracks (exponential average) the batch quantile of scores that sends
   ``target_full_share`` of frames full: the default threshold at inference.

No speech label enters the DSL; the GC head alone is trained on them (binary cross-entropy on the same detached
latents). Checkpoints hold only tensors and plain data (loaded with ``weights_only=True``), are written
atomically, and carry the optimizer and RNG state so that an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from dslsim.errors import DslsimError, describe, first_line
from dslsim.fileio import write_atomic
from dslsim.model.adversarial import MultiScaleSTFTDiscriminator, discriminator_loss, generator_losses, level
from dslsim.model.codec import CodecConfig
from dslsim.model.data import SpeechCorpus, load_wav_dir, scene
from dslsim.model.dsl import DSLCodec
from dslsim.model.losses import full_path_advantage, level_invariant_loss, multiresolution_stft_loss


@dataclass
class TrainConfig:
    """How to train. ``steps`` and ``time_budget_s``: whichever ends first (None = no limit).

    ``speech_dirs``: folders of clean recorded speech mixed into generated always-on scenes (otherwise the
    speech is generated); ``wav_dir``: train on these recordings as they are (no labels, so no GC head).
    ``quantizer_dropout`` trains one model for several bitrates (SoundStream's recipe); it is off by default
    because dslsim deploys one bitrate and, on a CPU budget, dropout costs quality at the full bitrate.
    ``init_from``: a checkpoint whose weights start a new run wherever their names and shapes match (a
    fine-tune; the optimizer starts afresh). ``switch_target``: 'top' (frames in the batch's top
    ``target_full_share`` of full-path advantage are 1, the rest 0) or 'rank' (each frame's advantage rank, 0..1).
    ``clean_share``: that fraction of each batch is clean speech (no background; the codec is judged on clean
    speech, and noisy scenes alone spend its capacity on noise). ``stft_weight``: weight of the multi-resolution
    STFT loss (:func:`~dslsim.model.losses.multiresolution_stft_loss`) added to the reconstruction loss.
    ``adv_weight`` > 0: a multi-scale STFT discriminator (:mod:`dslsim.model.adversarial`, ``disc_channels`` wide,
    Adam at ``disc_lr``) judges both paths' outputs from step ``adv_start`` on; the codec adds ``adv_weight`` x its
    hinge loss and ``fm_weight`` x feature matching. A run without it can be resumed with it (the discriminator
    then starts fresh).
    """

    steps: int | None = None
    time_budget_s: float | None = 720.0
    batch: int = 8
    seconds: float = 0.64
    lr: float = 1e-3
    seed: int = 0
    target_full_share: float = 0.2
    switch_weight: float = 0.1
    threshold_decay: float = 0.99
    aux_weight: float = 0.5
    commit_weight: float = 0.25
    waveform_weight: float = 20.0
    frame_floor: float = 1.0
    quantizer_dropout: bool = False
    warmup: float = 0.2
    checkpoint_every: int = 50
    threads: int | None = None
    wav_dir: str | None = None
    speech_dirs: tuple = ()
    init_from: str | None = None
    switch_target: str = "top"
    clean_share: float = 0.0
    stft_weight: float = 0.0
    adv_weight: float = 0.0
    fm_weight: float = 2.0
    adv_start: int = 0
    disc_lr: float = 1e-4
    disc_channels: int = 8


@dataclass
class TrainState:
    """Progress carried across resumes."""

    step: int = 0
    elapsed_s: float = 0.0
    history: list = field(default_factory=list)


def _batch(cfg: TrainConfig, codec: CodecConfig, step: int, wavs: list[np.ndarray] | None,
           corpus: SpeechCorpus | None):
    """A deterministic batch for ``step``: audio (B, 1, N) and frame labels (B, T) (None for WAV data)."""
    n = int(round(cfg.seconds * codec.sample_rate / codec.hop)) * codec.hop
    if wavs is None:
        n_clean = int(round(cfg.clean_share * cfg.batch))  # the first items of every batch are clean speech
        clips = [scene(cfg.seconds, codec.sample_rate, (cfg.seed, step, i), codec.hop, corpus=corpus)
                 if i >= n_clean else _clean_scene(cfg, codec, corpus, (cfg.seed, step, i))
                 for i in range(cfg.batch)]
        audio = torch.from_numpy(np.stack([c.audio[:n] for c in clips]))[:, None]
        labels = torch.from_numpy(np.stack([c.labels[: n // codec.hop] for c in clips]).astype(np.float32))
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


def _clean_scene(cfg: TrainConfig, codec: CodecConfig, corpus: SpeechCorpus | None, seed: tuple):
    """A clean-speech training clip, mostly speech (occupancy 0.9): the first of up to ten seeded draws in which
    at least a quarter of the frames carry speech (a clip of pure digital silence would make every relative
    error infinite)."""
    for attempt in range(10):
        clip = scene(cfg.seconds, codec.sample_rate, (*seed, attempt), codec.hop, occupancy=0.9, corpus=corpus,
                     clean=True)
        if clip.labels.mean() >= 0.25:
            break
    return clip


def self_labels(advantage: torch.Tensor, share: float) -> torch.Tensor:
    """1.0 for the frames whose full-path advantage is in the top ``share`` of the batch, else 0.0."""
    cut = torch.quantile(advantage.flatten(), 1.0 - share)
    return (advantage >= cut).to(advantage.dtype)


def rank_labels(advantage: torch.Tensor) -> torch.Tensor:
    """Each frame's full-path advantage as its rank in the batch, scaled to [0, 1] (soft targets: the switch
    learns the whole ordering, not only which frames are past the budget's cut)."""
    flat = advantage.flatten()
    ranks = torch.empty_like(flat)
    ranks[flat.argsort()] = torch.arange(len(flat), dtype=flat.dtype)
    return (ranks / max(1, len(flat) - 1)).reshape(advantage.shape)


def save_checkpoint(path: str | Path, model: DSLCodec, cfg: TrainConfig, state: TrainState,
                    optimizer: torch.optim.Optimizer | None, disc: torch.nn.Module | None = None,
                    disc_optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write a checkpoint atomically (tensors and plain data only); with adversarial training, the discriminator
    and its optimizer too (inference does not need them; ``dslsim model pack`` drops them)."""
    payload = {"format": "dslsim.checkpoint", "version": 1, "codec": model.config.to_dict(), "train": asdict(cfg),
               "state": asdict(state), "model": model.state_dict(),
               "optimizer": optimizer.state_dict() if optimizer is not None else None,
               "torch_rng": torch.get_rng_state()}
    if disc is not None:
        payload["disc"] = disc.state_dict()
        payload["disc_optimizer"] = disc_optimizer.state_dict() if disc_optimizer is not None else None
    return write_atomic(path, lambda p: torch.save(payload, p))


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely (``weights_only=True``); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DslsimError(f"{path}: no such checkpoint file.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise DslsimError(f"{path}: not a loadable dslsim checkpoint ({type(exc).__name__}: {first_line(exc)}).") \
            from None
    if not isinstance(payload, dict) or payload.get("format") != "dslsim.checkpoint":
        raise DslsimError(f"{path}: not a dslsim checkpoint (no 'format: dslsim.checkpoint').")
    codec, model = payload.get("codec"), payload.get("model")
    if not isinstance(codec, dict) or not isinstance(model, dict) or not isinstance(payload.get("state"), dict):
        raise DslsimError(f"{path}: a dslsim checkpoint without its 'codec', 'model' or 'state' entries.")
    sizes = ("sample_rate", "width", "embed_dim", "n_q", "codebook_size", "light_units", "light_input_kernel",
             "switch_hidden", "switch_context")
    for key in sizes:
        value = codec.get(key, 1)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
            raise DslsimError(f"{path}: codec.{key} is {describe(value)}; expected a whole number from 1 up.")
    light_codebooks = codec.get("light_codebooks", 0)
    if not isinstance(light_codebooks, int) or not 0 <= light_codebooks <= codec.get("n_q", 1):
        raise DslsimError(f"{path}: codec.light_codebooks is {describe(light_codebooks)}; expected a whole number "
                          f"from 0 to n_q ({codec.get('n_q')}).")
    bad = [k for k, v in model.items() if not isinstance(v, torch.Tensor) or
           (v.is_floating_point() and not bool(torch.isfinite(v).all()))]
    if bad:
        raise DslsimError(f"{path}: weights that are not finite numbers in {bad[:5]}{' …' if len(bad) > 5 else ''}; "
                          f"the checkpoint is damaged (or a training run diverged).")
    return payload


def _float_weights(payload: dict) -> dict:
    """The checkpoint's state dict with float tensors as float32 (a packed checkpoint stores float16)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()}


def _widen(module: torch.nn.Module | None, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor | None:
    """``old`` embedded in ``new`` (a wider layer's initial weights) so that the wider network computes exactly
    what the narrower one did (Net2Net-style, Chen et al., arXiv:1511.05641): the old block is copied, the
    weights from new input channels into old output channels are zeroed, and the new output channels keep their
    random initial weights (so they learn; their outgoing weights start at zero). None when ``old`` does not fit.
    """
    if old.dim() != new.dim() or any(o > n for o, n in zip(old.shape, new.shape)):
        return None
    if old.dim() == 3 and old.shape[2] != new.shape[2]:
        return None  # another kernel: not the same layer
    out = new.clone()
    if old.dim() == 3:
        # Conv1d weights are (out, in, k); ConvTranspose1d weights are (in, out, k).
        o_ax, i_ax = (1, 0) if isinstance(module, torch.nn.ConvTranspose1d) else (0, 1)
        index = [slice(None)] * 3
        index[o_ax], index[i_ax] = slice(0, old.shape[o_ax]), slice(old.shape[i_ax], None)
        out[tuple(index)] = 0.0
    out[tuple(slice(0, s) for s in old.shape)] = old
    return out


def warm_start(model: DSLCodec, path: str | Path) -> list[str]:
    """Copy into ``model`` the weights of checkpoint ``path`` whose names match: same shapes as they are, a
    narrower layer embedded so that the wider model starts computing exactly what the narrower one did (a wider
    codec grown from a trained narrow one, :func:`_widen`). Returns the names of the model's tensors that kept
    their initial values."""
    source = _float_weights(load_checkpoint(path))
    own = model.state_dict()
    modules = dict(model.named_modules())
    taken = {}
    for k, v in source.items():
        if k not in own:
            continue
        if own[k].shape == v.shape:
            taken[k] = v
        elif v.is_floating_point():
            grown = _widen(modules.get(k.rpartition(".")[0]), v, own[k])
            if grown is not None:
                taken[k] = grown
    if not taken:
        raise DslsimError(f"{path}: no weight in it fits this model; nothing to start from.")
    model.load_state_dict(taken, strict=False)
    return sorted(set(own) - set(taken))


def load_model(path: str | Path) -> tuple[DSLCodec, dict]:
    """The model of a checkpoint, in eval mode, and the checkpoint payload."""
    payload = load_checkpoint(path)
    try:
        model = DSLCodec(CodecConfig(**payload["codec"]))
        model.load_state_dict(_float_weights(payload))
    except (TypeError, RuntimeError, ValueError, KeyError) as exc:
        raise DslsimError(f"{path}: its weights do not fit this version of dslsim's model ({first_line(exc)}).") \
            from None
    return model.eval(), payload


def train(codec: CodecConfig, cfg: TrainConfig, out: str | Path, resume: bool = True,
          progress: Callable[[TrainState, dict], None] | None = None) -> Path:
    """Train (or resume) and write the checkpoint to ``out``; returns its path."""
    set_threads(cfg.threads)
    out = Path(out)
    torch.manual_seed(cfg.seed)
    model = DSLCodec(codec)
    model.rvq.dropout = cfg.quantizer_dropout
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    disc = disc_optimizer = None
    if cfg.adv_weight > 0:  # built only when used, so a run without it draws the same random numbers as before
        disc = MultiScaleSTFTDiscriminator(cfg.disc_channels)
        disc_optimizer = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.9))
    state = TrainState()
    if resume and out.exists():
        payload = load_checkpoint(out)
        if {**CodecConfig().to_dict(), **payload["codec"]} != codec.to_dict():  # keys added later: defaults
            raise DslsimError(f"{out}: holds a model of another shape {payload['codec']}; use another --out "
                              f"or --fresh.")
        try:
            model.load_state_dict(_float_weights(payload))
            if payload.get("optimizer") is not None:
                optimizer.load_state_dict(payload["optimizer"])
            state = TrainState(**payload["state"])
            torch.set_rng_state(payload["torch_rng"])
            if disc is not None and isinstance(payload.get("disc"), dict):  # else: a discriminator starts now
                disc.load_state_dict(payload["disc"])
                if payload.get("disc_optimizer") is not None:
                    disc_optimizer.load_state_dict(payload["disc_optimizer"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise DslsimError(f"{out}: cannot resume from it ({first_line(exc)}); use another --out or --fresh.") \
                from None
        for group in optimizer.param_groups:  # the learning rate asked for now, not the one saved
            group["lr"] = cfg.lr
    elif cfg.init_from:
        warm_start(model, cfg.init_from)
    wavs = corpus = None
    if cfg.wav_dir:
        wavs = load_wav_dir(cfg.wav_dir, codec.sample_rate)
    elif cfg.speech_dirs:
        corpus = SpeechCorpus.from_dirs(list(cfg.speech_dirs), codec.sample_rate)
    model.train()
    sr, hop = codec.sample_rate, codec.hop

    def rec(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        loss = level_invariant_loss(y, x, sr, hop, cfg.waveform_weight, cfg.frame_floor)
        return loss + cfg.stft_weight * multiresolution_stft_loss(y, x) if cfg.stft_weight else loss

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
            audio, labels = _batch(cfg, codec, state.step, wavs, corpus)
            out_ = model(audio)
            light, full = out_["light"], out_["full"]
            rec_light, rec_full = rec(light, audio), rec(full, audio)
            loss = rec_light + rec_full + cfg.commit_weight * out_["commit"]
            logs = {"light": rec_light.item(), "full": rec_full.item()}
            with torch.no_grad():
                advantage = full_path_advantage(light, full, audio, hop)
                scores = torch.sigmoid(out_["logits"])
                cut = torch.quantile(scores.flatten(), 1.0 - cfg.target_full_share)
                decay = cfg.threshold_decay if state.step else 0.0  # the first batch sets it
                model.threshold.mul_(decay).add_((1 - decay) * cut)
            # The switch sees detached latents, so it learns its ranking from the start without shaping the codec.
            target = (rank_labels(advantage) if cfg.switch_target == "rank"
                      else self_labels(advantage, cfg.target_full_share))
            switch_loss = F.binary_cross_entropy_with_logits(out_["logits"], target)
            loss = loss + cfg.switch_weight * switch_loss
            logs.update(switch_bce=switch_loss.item(), adv_dB=advantage.mean().item())
            if fraction() >= cfg.warmup:
                gate = (scores >= model.threshold).to(audio.dtype)
                rec_mix = rec(model.mix(light, full, gate), audio)
                loss = loss + rec_mix - (1 - cfg.aux_weight) * (rec_light + rec_full)
                logs.update(mix=rec_mix.item(), full_share=gate.mean().item())
            adversarial = disc is not None and state.step >= cfg.adv_start
            if adversarial:
                # Both paths' outputs against the input, each item at the input's unit RMS (level-free judging).
                scale = level(audio).repeat(2, 1, 1)
                real, fake = audio.repeat(2, 1, 1) / scale, torch.cat([light, full]) / scale
                adv, fm = generator_losses(disc, real, fake)
                loss = loss + cfg.adv_weight * adv + cfg.fm_weight * fm
                logs.update(adv=adv.item(), fm=fm.item())
            if labels is not None:  # Gated Compression: supervised switch on detached latents
                gc = F.binary_cross_entropy_with_logits(model.gc_switch.logits(out_["switch_in"]), labels)
                loss = loss + cfg.switch_weight * gc
                logs["gc_bce"] = gc.item()
            if not torch.isfinite(loss):
                raise DslsimError(f"the training loss is not a finite number at step {state.step + 1} (non-finite "
                                  f"audio, or a diverging run); {out} keeps the last finite weights.")
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if adversarial:
                d_loss = discriminator_loss(disc, real, fake.detach())
                disc_optimizer.zero_grad()  # also clears what the codec's backward left in the discriminator
                d_loss.backward()
                disc_optimizer.step()
                logs["disc"] = d_loss.item()
            state.step += 1
            state.elapsed_s = time.perf_counter() - started
            if state.step % 10 == 0:
                state.history.append({"step": state.step, "elapsed_s": round(state.elapsed_s, 1),
                                      **{k: round(v, 5) for k, v in logs.items()}})
            if progress:
                progress(state, logs)
            if state.step % cfg.checkpoint_every == 0:
                save_checkpoint(out, model, cfg, state, optimizer, disc, disc_optimizer)
    finally:
        state.elapsed_s = time.perf_counter() - started
        if all(bool(torch.isfinite(p).all()) for p in model.parameters()):  # never overwrite good weights with NaN
            save_checkpoint(out, model, cfg, state, optimizer, disc, disc_optimizer)
    return out


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, else ``DSLSIM_THREADS``, else the usable cores up to 4.

    Torch's own default (every core) oversubscribes small machines that are doing anything else.
    """
    if threads is None:
        env = os.environ.get("DSLSIM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else min(4, len(os.sched_getaffinity(0))
                                                                        if hasattr(os, "sched_getaffinity")
                                                                        else (os.cpu_count() or 1))
    torch.set_num_threads(threads)
    return threads
