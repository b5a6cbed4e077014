"""Always-on audio scenes with exact per-frame speech labels, seeded, and no download at run time.

The speech in a scene is either generated (syllables: voiced segments with a pitch contour, vibrato, declination
and three formants, and unvoiced fricatives) or real recorded prompts from a :class:`SpeechCorpus` (for example
Debian's ``asterisk-core-sounds-*-wav`` packages; see docs/model.md). Backgrounds are pink or brown noise, mains
hum with harmonics, babble (far-off generated voices, or overlapping prompts from the corpus) and sparse
transients (clicks and knocks). Speech is mixed at 0, 5, 10 or 20 dB SNR over its active samples, then the whole
scene is set to a random level (-26 dBFS RMS +- 20 dB) so that loudness alone is no cue. Labels (50 Hz at 16 kHz)
come from the clean speech stem, which is returned too, for evaluation against clean speech.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dslsim.errors import DslsimError

SNRS_DB = (0.0, 5.0, 10.0, 20.0)
#: Nominal scene level (RMS, dBFS) and the half-width of the uniform random level around it (dB).
LEVEL_DBFS = -26.0
LEVEL_SPREAD_DB = 20.0


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


@dataclass(frozen=True)
class SpeechCorpus:
    """Clean recorded utterances (mono float32 at ``sample_rate``), e.g. one per prompt file.

    Example::

        corpus = SpeechCorpus.from_dirs(["/usr/share/asterisk/sounds/es_MX_f_Allison"], 16000)
        audio, labels, speech = scene(10.0, 16000, seed=1, corpus=corpus)
    """

    clips: tuple
    sample_rate: int
    sources: tuple = ()

    @classmethod
    def from_dirs(cls, dirs: list[str | Path], sample_rate: int) -> "SpeechCorpus":
        """Every ``*.wav`` under each folder (sorted, so the corpus is the same on every machine)."""
        clips, sources = [], []
        for d in dirs:
            for clip in load_wav_dir(d, sample_rate, allow_empty=True):  # prompt packages hold empty files
                clip = _trim_silence(clip)
                if len(clip) >= sample_rate // 10:
                    clips.append(clip)
            sources.append(str(d))
        if not clips:
            raise DslsimError(f"{', '.join(map(str, dirs))}: no usable speech (every file shorter than 0.1 s).")
        return cls(tuple(clips), sample_rate, tuple(sources))

    @property
    def seconds(self) -> float:
        """Total length of the corpus."""
        return sum(len(c) for c in self.clips) / self.sample_rate


def _trim_silence(x: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``floor_db`` below the clip's peak (prompt files carry
    silence, which would otherwise be labelled speech by position though it is not)."""
    peak = np.abs(x).max() if len(x) else 0.0
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (floor_db / 20)) if peak > 0 else np.array([], int)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x[:0]


def corpus_track(n: int, rng: np.random.Generator, corpus: SpeechCorpus, occupancy: float,
                 gain_spread_db: float = 6.0) -> np.ndarray:
    """Utterances from ``corpus`` at random times, each at a random gain (+-``gain_spread_db``), separated by
    pauses; about ``occupancy`` of the samples carry speech."""
    out = np.zeros(n)
    sr = corpus.sample_rate
    clip = corpus.clips[rng.integers(len(corpus.clips))]
    # Start at a random phase of an utterance-and-pause cycle, so a short clip is speech with the chance
    # ``occupancy`` wherever it starts (it may open mid-utterance).
    pos = int(rng.uniform(0.0, len(clip) / max(occupancy, 1e-3))) - len(clip)
    while pos < n:
        gain = 10 ** (rng.uniform(-gain_spread_db, gain_spread_db) / 20) / (np.sqrt(np.mean(clip ** 2)) + 1e-9)
        piece = clip[max(0, -pos): max(0, n - pos)]
        start = max(0, pos)
        out[start:start + len(piece)] += gain * piece
        gap = rng.exponential(len(clip) / sr * (1.0 / max(occupancy, 1e-3) - 1.0))
        pos += len(clip) + int(max(0.15, gap) * sr)
        clip = corpus.clips[rng.integers(len(corpus.clips))]
    return out


def speech_track(n: int, sr: int, rng: np.random.Generator, occupancy: float) -> np.ndarray:
    """Bursts of generated syllables separated by pauses; about ``occupancy`` of the samples carry speech."""
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


#: Background kinds of :func:`background`, by index.
BACKGROUNDS = ("pink", "brown", "hum", "babble", "pink+brown")


def background(n: int, sr: int, rng: np.random.Generator, corpus: SpeechCorpus | None = None,
               kind: int | None = None) -> np.ndarray:
    """One of :data:`BACKGROUNDS`: pink, brown, hum, babble (four far-off voices: generated, or prompts from
    ``corpus``), or a mixture; plus sparse transients. Unit RMS. ``kind``: that one instead of a random draw
    (the draw is still made, so the rest of the scene is the same)."""
    drawn = rng.integers(0, 5)
    kind = drawn if kind is None else kind
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
        voices = [corpus_track(n, rng, corpus, 0.8) if corpus is not None else speech_track(n, sr, rng, 0.8)
                  for _ in range(4)]
        x = sum(voices)
        x = np.convolve(x, np.ones(8) / 8, mode="same")  # far-off: duller
    else:
        x = _colored_noise(n, rng, 1.0) + 0.5 * _colored_noise(n, rng, 2.0)
    for _ in range(rng.poisson(n / sr * 0.5)):  # clicks and knocks
        at, length = rng.integers(0, n), int(rng.uniform(0.002, 0.03) * sr)
        seg = min(length, n - at)
        x[at:at + seg] += rng.uniform(2, 6) * np.exp(-np.arange(seg) / (0.2 * length + 1)) * rng.standard_normal(seg)
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


class Scene(NamedTuple):
    """One always-on clip: the mix, per-frame speech labels and the clean speech stem as mixed in."""

    audio: np.ndarray
    """The mix, float32, at a random level (see :data:`LEVEL_DBFS`), never above 0.99 in magnitude."""
    labels: np.ndarray
    """Per frame (``hop`` samples): True where the speech stem is active."""
    speech: np.ndarray
    """The clean speech stem, float32, scaled exactly as it is inside ``audio``."""


def scene(seconds: float, sr: int, seed: int | tuple, hop: int = 320, occupancy: float | None = None,
          corpus: SpeechCorpus | None = None, clean: bool = False, background_kind: int | None = None) -> Scene:
    """One seeded always-on clip (same seed, same clip) with generated speech, or prompts from ``corpus``.

    A frame is labelled speech when the speech stem's energy in it exceeds 1 % of the stem's mean energy over
    its active frames. ``clean``: speech alone, no background (still at a random level), the material a codec
    is judged on; the speech track is the one the same seed would mix into a noisy scene. ``background_kind``:
    an index into :data:`BACKGROUNDS` instead of a random one.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr / hop)) * hop
    occupancy = occupancy if occupancy is not None else rng.uniform(0.1, 0.4)
    if corpus is not None:
        speech = corpus_track(n, rng, corpus, occupancy)
    else:
        speech = speech_track(n, sr, rng, occupancy)
    noise = np.zeros(n) if clean else background(n, sr, rng, corpus, background_kind)
    active = np.abs(speech) > 1e-6
    if active.any():
        p_speech = np.mean(speech[active] ** 2)
        snr = 10 ** (rng.choice(SNRS_DB) / 10)
        noise = noise * np.sqrt(p_speech / snr)
    noise = noise * rng.uniform(0.3, 1.0)
    mix = speech + noise
    rms = np.sqrt(np.mean(mix ** 2)) + 1e-12
    gain = 10 ** ((LEVEL_DBFS + rng.uniform(-LEVEL_SPREAD_DB, LEVEL_SPREAD_DB)) / 20) / rms
    gain = min(gain, 0.99 / (np.abs(mix).max() + 1e-12))  # loud scenes are turned down, never clipped
    frame_energy = (speech.reshape(-1, hop) ** 2).mean(1)
    ref = frame_energy[frame_energy > 0].mean() if (frame_energy > 0).any() else 1.0
    return Scene((gain * mix).astype(np.float32), frame_energy > 0.01 * ref, (gain * speech).astype(np.float32))


def read_wav(path: str | Path, sr: int, allow_empty: bool = False) -> np.ndarray:
    """A WAV file as mono float32 at ``sr`` (resampled with a polyphase filter); errors name the file.
    ``allow_empty``: a file with no samples gives an empty array instead of an error (a corpus skips it)."""
    from math import gcd

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    import warnings

    _check_pcm_width(path)
    try:
        with warnings.catch_warnings():  # odd chunks are skipped; what matters is checked below
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(path)
    except Exception as exc:  # scipy raises many types (even UnboundLocalError) for a damaged header
        raise DslsimError(f"{path}: not a readable WAV file ({str(exc).strip()[:200] or type(exc).__name__}).") from None
    if not 1000 <= rate <= 768_000:
        raise DslsimError(f"{path}: a sample rate of {rate} Hz; expected 1 kHz to 768 kHz.")
    if allow_empty and data.size == 0 and data.ndim in (1, 2):
        return np.zeros(0, np.float32)
    if data.ndim not in (1, 2) or data.size == 0 or (data.ndim == 2 and data.shape[1] == 0):
        raise DslsimError(f"{path}: no audio samples (shape {data.shape}).")
    if data.dtype.kind not in "iuf":
        raise DslsimError(f"{path}: samples of type {data.dtype}; expected PCM integers or floats.")
    x = data.astype(np.float32)
    if data.dtype.kind == "i":
        x /= np.iinfo(data.dtype).max
    elif data.dtype.kind == "u":
        x = (x - 128.0) / 128.0
    if x.ndim == 2:
        x = x.mean(axis=1)
    if not np.isfinite(x).all():
        raise DslsimError(f"{path}: {int((~np.isfinite(x)).sum()):,} samples are not finite numbers (NaN or inf).")
    if rate != sr:
        g = gcd(rate, sr)
        x = resample_poly(x, sr // g, rate // g).astype(np.float32)
    return x


def _check_pcm_width(path: str | Path) -> None:
    """Refuse integer PCM of a width other than 8, 16, 24 or 32 bits (12-bit files are misread as others), and a
    data chunk that claims more bytes than the file holds (a cut file, which would be read short without a word)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise DslsimError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    pos = 12
    while head[:4] == b"RIFF" and pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if chunk == b"data":
            # 0 and 0xFFFFFFFF mean "unknown" in WAVs written while recording; any other length must fit the file.
            if length not in (0, 0xFFFFFFFF) and pos + 8 + length > size:
                raise DslsimError(f"{path}: its data chunk claims {length:,} bytes but the file holds "
                                  f"{max(size - pos - 8, 0):,} after it (a cut file?).")
            break
        pos += 8 + length + (length & 1)
    at = head.find(b"fmt ")
    if head[:4] == b"RIFF" and at >= 0 and len(head) >= at + 24:
        fmt = int.from_bytes(head[at + 8:at + 10], "little")
        bits = int.from_bytes(head[at + 22:at + 24], "little")
        if fmt == 1 and bits not in (8, 16, 24, 32):
            raise DslsimError(f"{path}: {bits}-bit PCM; expected 8, 16, 24 or 32 bits per sample.")


def load_wav_dir(folder: str | Path, sr: int, allow_empty: bool = False) -> list[np.ndarray]:
    """Every ``*.wav`` under ``folder``, each as by :func:`read_wav`."""
    files = sorted(Path(folder).rglob("*.wav"))
    if not files:
        raise DslsimError(f"{folder}: no .wav files found.")
    return [read_wav(f, sr, allow_empty) for f in files]
