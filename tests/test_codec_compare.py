"""The codec comparison's own arithmetic: alignment, SI-SDR, intervals, and the classical coders' plumbing."""

import shutil

import numpy as np
import pytest

from dslsim.model.codec_compare import CLASSICAL, align, code_classical, interval95, scores


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Band-limited noise under a syllable-rate envelope (enough structure for PESQ and STOI)."""
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(seed)
    b, a = butter(4, [200 / 8000, 3400 / 8000], btype="band")
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * np.arange(n) / 16000)) ** 2
    return (0.1 * lfilter(b, a, rng.standard_normal(n)) * env).astype(np.float32)


@pytest.mark.parametrize("lag", [0, 37, -12, 400])
def test_align_recovers_a_known_delay(lag):
    x = _speechlike(16000)
    y = np.roll(x, lag) if lag >= 0 else np.concatenate([x[-lag:], np.zeros(-lag, np.float32)])
    ref, dec, found = align(x, y, max_lag=800)
    assert found == lag
    assert len(ref) == len(dec)
    # After alignment the overlap is sample for sample the same signal.
    np.testing.assert_array_equal(ref[1000:2000], dec[1000:2000])


def test_si_sdr_matches_the_closed_form():
    pytest.importorskip("pesq")
    x = _speechlike(32000).astype(np.float64)
    noise = np.random.default_rng(1).standard_normal(len(x))
    noise -= np.dot(noise, x) / np.dot(x, x) * x  # orthogonal to x, so SI-SDR = 10 log10(|2x|^2 / |n|^2)
    noise *= np.linalg.norm(x) / np.linalg.norm(noise) / 10  # 20 dB below x, 26.02 dB below 2x
    got = scores(x, 2 * x + noise)["si_sdr_dB"]
    assert got == pytest.approx(20 * np.log10(20), abs=1e-6)


def test_interval_is_the_student_t_half_width():
    v = [1.0, 2.0, 3.0, 4.0]
    mean, half = interval95(v)
    assert mean == 2.5
    # t(0.975, 3) = 3.182446; sample std = 1.290994; / sqrt(4)
    assert half == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-5)
    assert interval95([5.0]) == (5.0, 0.0)


def test_identity_scores_at_the_top_of_each_scale():
    pytest.importorskip("pesq")
    x = _speechlike(48000)
    s = scores(x, x)
    assert s["pesq_wb"] > 4.5 and s["stoi"] > 0.999


@pytest.mark.skipif(shutil.which("c2enc") is None or shutil.which("opusenc") is None,
                    reason="Debian's codec2 and opus-tools are not installed")
@pytest.mark.parametrize("coder", CLASSICAL, ids=lambda c: c.name)
def test_classical_coders_round_trip_at_16_khz(coder):
    x = _speechlike(32000)
    y = code_classical(coder, x)
    assert abs(len(y) - len(x)) < 1000
    rms = np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2))
    assert 0.3 < rms < 3  # a coding of this signal, not silence or clipping
    if coder.name.startswith("Opus"):  # a waveform coder: aligned, the output follows the input
        ref, dec, lag = align(x, y, 800)
        assert np.corrcoef(ref, dec)[0, 1] > 0.2 and abs(lag) < 160  # opusdec removes its pre-skip
