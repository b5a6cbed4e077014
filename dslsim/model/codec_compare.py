"""The codec under the switch against classical speech codecs, side by side on the same clean clips.

Each row is one coder: the model's full path and light path (always-full / always-light routing) and the
classical codecs installed on the machine — Codec2 at 3,200 and 1,200 bit/s (Debian's ``codec2``: ``c2enc`` /
``c2dec``, which run at 8 kHz, so their input is decimated and their output interpolated back to 16 kHz) and
Opus at 6 kbit/s (``opus-tools``: ``opusenc`` / ``opusdec`` at 16 kHz). Every decoded clip is aligned to its
input by the lag of the largest cross-correlation (within ±:data:`MAX_LAG_S`), then scored with wideband PESQ
(ITU-T P.862.2, the ``pesq`` package), STOI (``pystoi``) and SI-SDR. Figures are means over clips with a 95 %
Student-t interval.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError
from dslsim.model.data import read_wav

SAMPLE_RATE = 16_000
#: Largest delay searched when aligning a decoded clip to its input (Codec2 and Opus delay by a few ms).
MAX_LAG_S = 0.05
#: Speech level every clip is normalised to before coding (ITU-T P.56-style active level is not needed here:
#: the prompts are clean and trimmed, so RMS level is close to active level).
LEVEL_DBFS = -26.0


@dataclass(frozen=True)
class Coder:
    """One external codec: its name, bitrate (bit/s) and the tools it needs on PATH."""

    name: str
    bitrate: int
    tools: tuple[str, ...]


CLASSICAL = (Coder("Codec2 3200", 3200, ("c2enc", "c2dec")), Coder("Codec2 1200", 1200, ("c2enc", "c2dec")),
             Coder("Opus 6 kbit/s", 6000, ("opusenc", "opusdec")))


def clean_clips(folder: str | Path, n_clips: int, seconds: float, seed: int = 0) -> list[np.ndarray]:
    """``n_clips`` clips of about ``seconds`` each, made of whole prompts from ``folder`` (every ``*.wav``,
    at 16 kHz), drawn without replacement in a seeded order and joined with 0.2 s of silence, each normalised to
    :data:`LEVEL_DBFS`."""
    files = sorted(Path(folder).rglob("*.wav"))
    if not files:
        raise DslsimError(f"{folder}: no .wav files found.")
    order = np.random.default_rng(seed).permutation(len(files))
    gap = np.zeros(int(0.2 * SAMPLE_RATE), dtype=np.float32)
    clips, parts, length, i = [], [], 0, 0
    while len(clips) < n_clips:
        if i >= len(order):
            raise DslsimError(f"{folder}: {len(files)} prompts give fewer than {n_clips} clips of {seconds:g} s.")
        x = read_wav(files[order[i]], SAMPLE_RATE, allow_empty=True)
        i += 1
        if len(x) < SAMPLE_RATE // 4:
            continue
        parts += [x, gap]
        length += len(x) + len(gap)
        if length >= seconds * SAMPLE_RATE:
            clip = np.concatenate(parts).astype(np.float64)
            rms = np.sqrt(np.mean(clip ** 2))
            clips.append((clip * 10 ** (LEVEL_DBFS / 20) / max(rms, 1e-9)).astype(np.float32))
            parts, length = [], 0
    return clips


def _pcm16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 32767 / 32768) * 32768).astype("<i2")


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise DslsimError(f"'{' '.join(cmd)}' failed (exit {done.returncode}): {done.stderr.strip()[:300]}")


def code_classical(coder: Coder, x: np.ndarray) -> np.ndarray:
    """``x`` (16 kHz float) through ``coder``'s encoder and decoder, back at 16 kHz."""
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as tmp:
        raw_in, bits, raw_out = (str(Path(tmp) / n) for n in ("in.raw", "coded", "out.raw"))
        if coder.name.startswith("Codec2"):
            _pcm16(resample_poly(x, 1, 2)).tofile(raw_in)
            _run(["c2enc", str(coder.bitrate), raw_in, bits])
            _run(["c2dec", str(coder.bitrate), bits, raw_out])
            y = resample_poly(np.fromfile(raw_out, "<i2").astype(np.float64) / 32768, 2, 1)
        else:
            _pcm16(x).tofile(raw_in)
            _run(["opusenc", "--quiet", "--raw", "--raw-rate", str(SAMPLE_RATE), "--raw-chan", "1",
                  "--bitrate", f"{coder.bitrate / 1000:g}", "--hard-cbr", raw_in, bits])
            _run(["opusdec", "--quiet", "--rate", str(SAMPLE_RATE), bits, raw_out])
            y = np.fromfile(raw_out, "<i2").astype(np.float64) / 32768
    return y.astype(np.float32)


def align(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Both signals trimmed to their overlap after shifting ``decoded`` by the lag (0..``max_lag`` samples of
    delay, or as much advance) that maximises their cross-correlation; returns (reference, decoded, lag)."""
    from scipy.signal import correlate

    n = min(len(reference), len(decoded))
    c = correlate(decoded[:n].astype(np.float64), reference[:n].astype(np.float64), mode="full", method="fft")
    lags = np.arange(-n + 1, n)
    window = np.abs(lags) <= max_lag
    lag = int(lags[window][np.argmax(c[window])])
    if lag >= 0:
        ref, dec = reference[: len(decoded) - lag], decoded[lag:]
    else:
        ref, dec = reference[-lag:], decoded[: len(reference) + lag]
    m = min(len(ref), len(dec))
    return ref[:m], dec[:m], lag


def scores(reference: np.ndarray, decoded: np.ndarray) -> dict:
    """PESQ-WB, STOI and SI-SDR (dB) of ``decoded`` against ``reference`` (16 kHz, aligned)."""
    from pesq import pesq
    from pystoi import stoi

    r, d = reference.astype(np.float64), decoded.astype(np.float64)
    alpha = np.dot(d, r) / max(np.dot(r, r), 1e-12)
    noise = d - alpha * r
    sdr = 10 * np.log10(max(np.dot(alpha * r, alpha * r), 1e-20) / max(np.dot(noise, noise), 1e-20))
    return {"pesq_wb": float(pesq(SAMPLE_RATE, r, d, "wb")), "stoi": float(stoi(r, d, SAMPLE_RATE)),
            "si_sdr_dB": float(sdr)}


def interval95(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % Student-t interval (0 for a single value)."""
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()), 0.0
    return float(v.mean()), float(t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def compare(clips: list[np.ndarray], model_coders: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]],
            progress: Callable[[], None] | None = None, per_clip: list[dict] | None = None
            ) -> tuple[pd.DataFrame, list[str]]:
    """One row per coder: bitrate, PESQ-WB, STOI and SI-SDR (mean and 95 % half-width over ``clips``) and the
    median alignment lag. ``model_coders`` maps a name to (bitrate, a function from 16 kHz audio to decoded 16 kHz
    audio). Classical coders whose tools are missing are left out; the returned notes say so. ``per_clip``: a list
    that receives one row per coder and clip (coder, clip index, scores, lag), for paired comparisons."""
    coders: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = dict(model_coders)
    notes = []
    for c in CLASSICAL:
        missing = [t for t in c.tools if shutil.which(t) is None]
        if missing:
            notes.append(f"{c.name} left out: {', '.join(missing)} not found on PATH.")
            continue
        coders[c.name] = (c.bitrate, lambda x, c=c: code_classical(c, x))
    rows = []
    max_lag = int(MAX_LAG_S * SAMPLE_RATE)
    for name, (bitrate, code) in coders.items():
        per = {"pesq_wb": [], "stoi": [], "si_sdr_dB": []}
        lags = []
        for i, x in enumerate(clips):
            ref, dec, lag = align(x, code(x), max_lag)
            clip_scores = scores(ref, dec)
            for k, v in clip_scores.items():
                per[k].append(v)
            lags.append(lag)
            if per_clip is not None:
                per_clip.append({"coder": name, "clip": i, **clip_scores, "lag_ms": 1000 * lag / SAMPLE_RATE})
            if progress:
                progress()
        row = {"coder": name, "bitrate_bps": bitrate, "clips": len(clips)}
        for k, v in per.items():
            row[k], row[f"{k}_ci95"] = interval95(v)
        row["lag_ms"] = 1000 * float(np.median(lags)) / SAMPLE_RATE
        rows.append(row)
    return pd.DataFrame(rows), notes
