"""Reconstruction losses and quality metrics built on ``torch.stft`` (no torchaudio)."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

#: STFT windows of the multi-scale mel loss (samples; hop = window / 4).
SCALES = (128, 256, 512, 1024)


@lru_cache(maxsize=16)
def mel_filterbank(n_fft: int, n_mels: int, sr: int) -> torch.Tensor:
    """Triangular HTK-mel filters, (n_mels, n_fft // 2 + 1)."""
    def hz_to_mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)
    mels = torch.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = torch.linspace(0, sr / 2, n_fft // 2 + 1)
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (bins[None] - lo) / (mid - lo)
    down = (hi - bins[None]) / (hi - mid)
    return torch.clamp(torch.minimum(up, down), min=0.0)


def mel(x: torch.Tensor, window: int, sr: int, hop: int | None = None, n_mels: int = 40,
        center: bool = True) -> torch.Tensor:
    """Mel magnitude spectrogram of (B, 1, N) audio: (B, n_mels, frames)."""
    n_fft = max(512, window)
    spec = torch.stft(x.squeeze(1), n_fft=n_fft, hop_length=hop or window // 4, win_length=window,
                      window=torch.hann_window(window, device=x.device), center=center, return_complex=True).abs()
    return mel_filterbank(n_fft, n_mels, sr).to(x.device) @ spec


def multiscale_mel_distance(y: torch.Tensor, x: torch.Tensor, sr: int, linear_weight: float = 1.0) -> torch.Tensor:
    """Mean over scales of L1(log-mel) + ``linear_weight`` * L1(mel). At the default weight: the primary quality
    metric of the paper-style table."""
    total = y.new_zeros(())
    for w in SCALES:
        my, mx = mel(y, w, sr), mel(x, w, sr)
        total = total + F.l1_loss(torch.log(my + 1e-5), torch.log(mx + 1e-5)) + linear_weight * F.l1_loss(my, mx)
    return total / len(SCALES)


def frame_relative_error(y: torch.Tensor, x: torch.Tensor, hop: int, floor: float = 1e-2) -> torch.Tensor:
    """Per-frame waveform error relative to the frame's energy: (B, frames).

    ``||y_t - x_t||^2 / (||x_t||^2 + floor * mean_t ||x_t||^2)``. Scale-invariant, so a quiet speech frame weighs
    as much as a loud noise frame and a scene's level does not set its weight in the loss; the floor (a fraction
    of the clip's mean frame energy) keeps near-silent frames from dominating.
    """
    err = ((y - x) ** 2).reshape(y.shape[0], -1, hop).sum(-1)
    energy = (x ** 2).reshape(x.shape[0], -1, hop).sum(-1)
    return err / (energy + floor * energy.mean(1, keepdim=True) + 1e-10)


def level_invariant_loss(y: torch.Tensor, x: torch.Tensor, sr: int, hop: int, waveform_weight: float = 20.0,
                         frame_floor: float = 1.0) -> torch.Tensor:
    """Training loss on scenes at random levels: multi-scale log-mel L1 (no linear-mel term, whose scale follows
    loudness) + ``waveform_weight`` * the mean of :func:`frame_relative_error` with floor ``frame_floor``.

    The floor bounds how much a quiet frame can weigh (at most 1/floor times a frame at the clip's mean energy):
    with 0.01 the near-silent frames dominated and the full decoder learned to stay quiet rather than to
    reconstruct speech (docs/model.md)."""
    return multiscale_mel_distance(y, x, sr, linear_weight=0.0) \
        + waveform_weight * frame_relative_error(y, x, hop, frame_floor).mean()


#: (FFT size, hop) pairs of the multi-resolution STFT loss (Yamamoto et al., Parallel WaveGAN, arXiv:1910.11480),
#: from 8 ms to 128 ms at 16 kHz: the fine time resolution for onsets, the long windows for pitch harmonics.
STFT_RESOLUTIONS = ((128, 32), (256, 64), (512, 128), (1024, 256), (2048, 512))


def multiresolution_stft_loss(y: torch.Tensor, x: torch.Tensor, floor: float = 1e-3) -> torch.Tensor:
    """Mean over :data:`STFT_RESOLUTIONS` of spectral convergence (``||S_y - S_x||_F / ||S_x||_F`` per item) plus
    L1 of the log magnitudes, on (B, 1, N) audio.

    Both terms are level-invariant (the scenes come at random levels): the log floor is ``floor`` times the item's
    mean magnitude (-60 dB), so the exact silence between clean utterances does not ask for -140 dB output. On
    linear frequency bins they weigh the band above 4 kHz that a 40-band mel scale compresses into a few bands:
    what PESQ-WB and STOI hear, and what a per-frame waveform error rewards only through SI-SDR.
    """
    total = y.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        win = torch.hann_window(n_fft, device=y.device)
        sy = torch.stft(y.squeeze(1), n_fft, hop, window=win, return_complex=True).abs()
        sx = torch.stft(x.squeeze(1), n_fft, hop, window=win, return_complex=True).abs()
        eps = floor * sx.mean(dim=(1, 2), keepdim=True) + 1e-12
        sc = (sy - sx).flatten(1).norm(dim=1) / (sx.flatten(1).norm(dim=1) + 1e-12)
        total = total + sc.mean() + (torch.log(sy + eps) - torch.log(sx + eps)).abs().mean()
    return total / len(STFT_RESOLUTIONS)


def full_path_advantage(light: torch.Tensor, full: torch.Tensor, x: torch.Tensor, hop: int) -> torch.Tensor:
    """How much the full path helps each frame, in dB: 10 log10(light's relative error / full's): (B, frames).

    Positive where the full decoder reconstructs the frame better. This is the quantity the DSL switch is trained
    to rank by, and the one its rank correlation is reported against.
    """
    return 10 * torch.log10((frame_relative_error(light, x, hop) + 1e-6) / (frame_relative_error(full, x, hop) + 1e-6))


def per_frame_mel_distance(y: torch.Tensor, x: torch.Tensor, sr: int, hop: int) -> torch.Tensor:
    """L1 log-mel distance of each ``hop``-sample frame (one STFT window per frame, aligned): (B, frames)."""
    tail = max(512, hop) - hop  # the FFT is longer than a frame: pad so that there is one window per frame
    y, x = F.pad(y, (0, tail)), F.pad(x, (0, tail))
    my, mx = mel(y, hop, sr, hop=hop, center=False), mel(x, hop, sr, hop=hop, center=False)
    return (torch.log(my + 1e-5) - torch.log(mx + 1e-5)).abs().mean(1)


def si_sdr(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB of flattened signals (projection of y on x vs the rest)."""
    y, x = y.flatten().double(), x.flatten().double()
    scale = (y @ x) / (x @ x + 1e-12)
    target = scale * x
    noise = y - target
    return 10 * torch.log10((target @ target + 1e-12) / (noise @ noise + 1e-12))
