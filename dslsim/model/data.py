"""Audio with no download: seeded always-on scenes of speech-like bursts over varied backgrounds, with exact
per-frame labels; or the user's own WAV files (any rate, resampled).

Speech-like bursts are syllables: voiced segments (a pitch contour with vibrato and declination, harmonics shaped
by three formants and a spectral tilt) and unvoiced fricatives (high-passed noise). Backgrounds are pink or
brown noise, mains hum with harmonics, a babble-like mixture of far-off voiced streams, and sparse transients
(clicks and knocks). Speech is mixed at 0, 5, 10 or 20 dB SNR over its active samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dslsim.errors import DslsimError

SNRS_DB = (0.0, 5.0, 10.0, 20.0)


def _colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with power spectrum ~ 1/f^exponent (1 = pink, 2 = brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


def _voiced(n: int, sr: int, rng: np.random.Generator, f0: float | None = None, formants=None) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = f0 or rng.uniform(90, 260)
    contour = f0 * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)) * (1 - 0.15 * t / max(t[-1], 1e-3))
    phase = 2 * np.pi * np.cumsum(contour) / sr
    formants = formants or [(rng.uniform(300, 850), 90), (rng.uniform(900, 2300), 120), (rng.uniform(2400, 3300), 180)]
    out = np.zeros(n)
    for h in range(1, int(0.45 * sr / f0)):
        fh = h * f0
        amp = sum(np.exp(-0.5 * ((fh - fc) / bw) ** 2) for fc, bw in formants) + 0.02
        out += amp / h ** 0.7 * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    return out


def _fricative(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(n + 2)
    return (x[2:] - x[:-2]) * 0.5  # crude high-pass: energy above ~2 kHz


def _envelope(n: int, sr: int) -> np.ndarray:
    ramp = min(n // 2, int(0.02 * sr))
    env = np.ones(n)
    if ramp > 0:
        env[:ramp] = np.linspace(0, 1, ramp)
        env[-ramp:] = np.linspace(1, 0, ramp)
    return env


def speech_track(n: int, sr: int, rng: np.random.Generator, occupancy: float) -> np.ndarray:
    """Bursts of syllables separated by pauses; about ``occupancy`` of the samples carry speech."""
    out = np.zeros(n)
    pos = int(rng.uniform(0, 0.5) * sr)
    while pos < n:
        burst_end = min(n, pos + int(rng.uniform(0.4, 2.0) * sr))
        voice_f0 = rng.uniform(90, 260)
        while pos < burst_end:
            dur = int(rng.uniform(0.08, 0.3) * sr)
            seg = min(dur, n - pos)
            if seg <= 8:
                break
            syl = _fricative(seg, rng) * 0.4 if rng.random() < 0.25 else _voiced(seg, sr, rng, voice_f0)
            out[pos:pos + seg] += syl * _envelope(seg, sr)
            pos += seg + int(rng.uniform(0.0, 0.06) * sr)
        gap = rng.exponential(1.0 / max(occupancy, 1e-3) - 1.0) * 1.0
        pos = burst_end + int(max(0.2, gap) * sr)
    return out


def background(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One of: pink, brown, hum, babble-like, or a mixture; plus sparse transients. Unit RMS."""
    kind = rng.integers(0, 5)
    t = np.arange(n) / sr
    if kind == 0:
        x = _colored_noise(n, rng, 1.0)
    elif kind == 1:
        x = _colored_noise(n, rng, 2.0)
    elif kind == 2:
        mains = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        x = x + 0.3 * _colored_noise(n, rng, 1.0)
    elif kind == 3:
        x = sum(speech_track(n, sr, rng, 0.8) for _ in range(4))
        x = np.convolve(x, np.ones(8) / 8, mode="same")  # far-off: duller
    else:
        x = _colored_noise(n, rng, 1.0) + 0.5 * _colored_noise(n, rng, 2.0)
    for _ in range(rng.poisson(n / sr * 0.5)):  # clicks and knocks
        at, length = rng.integers(0, n), int(rng.uniform(0.002, 0.03) * sr)
        seg = min(length, n - at)
        x[at:at + seg] += rng.uniform(2, 6) * np.exp(-np.arange(seg) / (0.2 * length + 1)) * rng.standard_normal(seg)
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


def scene(seconds: float, sr: int, seed: int | tuple, hop: int = 320, occupancy: float | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """One always-on clip: (audio float32 peak-normalised to 0.9, per-frame speech labels bool).

    A frame (``hop`` samples) is labelled speech when the speech track's energy in it exceeds 1 % of the
    track's mean active-sample energy. Same seed, same clip.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr / hop)) * hop
    speech = speech_track(n, sr, rng, occupancy if occupancy is not None else rng.uniform(0.1, 0.4))
    noise = background(n, sr, rng)
    active = np.abs(speech) > 1e-6
    if active.any():
        p_speech = np.mean(speech[active] ** 2)
        snr = 10 ** (rng.choice(SNRS_DB) / 10)
        noise = noise * np.sqrt(p_speech / snr)
    mix = speech + noise * rng.uniform(0.3, 1.0)
    mix = 0.9 * mix / (np.abs(mix).max() + 1e-9)
    frame_energy = (speech.reshape(-1, hop) ** 2).mean(1)
    ref = frame_energy[frame_energy > 0].mean() if (frame_energy > 0).any() else 1.0
    return mix.astype(np.float32), frame_energy > 0.01 * ref


def read_wav(path: str | Path, sr: int) -> np.ndarray:
    """A WAV file as mono float32 at ``sr`` (resampled with a polyphase filter); errors name the file."""
    from math import gcd

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError) as exc:
        raise DslsimError(f"{path}: not a readable WAV file ({exc}).") from None
    x = data.astype(np.float32)
    if data.dtype.kind == "i":
        x /= np.iinfo(data.dtype).max
    elif data.dtype.kind == "u":
        x = (x - 128.0) / 128.0
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != sr:
        g = gcd(rate, sr)
        x = resample_poly(x, sr // g, rate // g).astype(np.float32)
    return x


def load_wav_dir(folder: str | Path, sr: int) -> list[np.ndarray]:
    """Every ``*.wav`` under ``folder``, each as by :func:`read_wav`."""
    files = sorted(Path(folder).rglob("*.wav"))
    if not files:
        raise DslsimError(f"{folder}: no .wav files found.")
    return [read_wav(f, sr) for f in files]
