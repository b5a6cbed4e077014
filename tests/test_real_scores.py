"""Scores of the packaged VAD and wake-word models on audio, and the traces of their calls (dslsim trace score)."""

from __future__ import annotations

import importlib.util
import json
import wave

import numpy as np
import pytest

from dslsim.model import scores as sc

HAS_VAD = importlib.util.find_spec("pymicro_vad") is not None
HAS_WW = importlib.util.find_spec("pymicro_wakeword") is not None
needs_vad = pytest.mark.skipif(not HAS_VAD, reason="pymicro-vad is not installed")
needs_ww = pytest.mark.skipif(not HAS_WW, reason="pymicro-wakeword is not installed")
SR = 16_000


def _cli(*args):
    from click.testing import CliRunner

    from dslsim.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def _wav(path, samples, rate=SR, channels=1):
    data = np.asarray(samples, dtype=np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return path


def _pink(n, seed):
    from dslsim.model.data import _colored_noise

    return _colored_noise(n, np.random.default_rng(seed), 1.0)


def _speech_between_silences(seed=3):
    """3 s of near-silence, 4 s of generated speech at -20 dBFS, 3 s of near-silence, and per-10 ms labels from the
    clean speech's own energy (independent of any model): speech where a chunk has > 1 % of the mean active
    chunk energy."""
    from dslsim.model.data import speech_track

    rng = np.random.default_rng(seed)
    speech = speech_track(4 * SR, SR, rng, occupancy=0.9)
    speech *= 10 ** (-20 / 20) / np.sqrt(np.mean(speech ** 2))
    clean = np.concatenate([np.zeros(3 * SR), speech, np.zeros(3 * SR)])
    audio = clean + 10 ** (-70 / 20) * rng.standard_normal(len(clean))
    energy = (clean.reshape(-1, 160) ** 2).mean(axis=1)
    labels = energy > 0.01 * energy[energy > 0].mean()
    return audio, labels


# --- the op graphs and call rates ----------------------------------------------------------------------------------


def test_vad_op_table_against_a_count_by_hand_from_the_source_shapes():
    # micro_vad.h: buffer 74 x 40 features; conv 32 filters 5 wide stride 3 -> 24 x 32; depthwise 5 -> 20 x 32;
    # pointwise -> 20 x 48; depthwise 8 -> 13 x 48; pointwise -> 13 x 48; depthwise 13 -> 1 x 48; pointwise -> 48;
    # dense 48 -> 1.
    by_hand = {"conv_2d_1": 24 * 32 * 5 * 40, "dconv_2d_2": 20 * 32 * 5, "conv_2d_3": 20 * 48 * 32,
               "dconv_2d_4": 13 * 48 * 8, "conv_2d_5": 13 * 48 * 48, "dconv_2d_6": 1 * 48 * 13,
               "conv_2d_7": 48 * 48, "fc_8": 48}
    ops = {op.name: op for op in sc.vad_ops()}
    assert {name: ops[name].macs for name in by_hand} == by_hand
    weights = (6400 + 32) + (5 * 32 + 32) + (32 * 48 + 48) + (8 * 48 + 48) + (48 * 48 + 48) + (13 * 48 + 48) \
        + (48 * 48 + 48) + (48 + 1)
    assert sum(op.weight_bytes for op in ops.values()) == 4 * weights        # float32, 56,260 bytes
    assert ops["conv_2d_1"].act_in_bytes == 74 * 40 * 4 and ops["fc_8"].act_out_bytes == 4
    assert all(op.dtype == "float32" for op in ops.values())


def test_names_restated_for_the_cli_agree_with_the_packages():
    from dslsim.cli import score_cmd
    from dslsim.model.data import BACKGROUNDS

    assert score_cmd.MODEL_NAMES == sc.MODELS and score_cmd.BACKGROUND_NAMES == BACKGROUNDS
    if HAS_WW:
        from pymicro_wakeword import Model

        assert set(sc.WAKE_WORDS) == {m.value for m in Model}


@needs_ww
def test_wake_word_rate_and_threshold_come_from_the_manifest_and_the_importer():
    import pymicro_wakeword
    from pathlib import Path

    from dslsim.trace.model_ops import read_model

    models = Path(pymicro_wakeword.__file__).parent / "models"
    for name in sc.WAKE_WORDS:
        spec = sc.model_spec(name)
        manifest = json.loads((models / f"{name}.json").read_text())
        assert spec.threshold == manifest["micro"]["probability_cutoff"]
        assert spec.sliding_window == manifest["micro"]["sliding_window_size"]
        graph = read_model(models / f"{name}.tflite")
        assert spec.call_rate_hz == graph.call_rate_hz and spec.ops == graph.ops
        assert spec.samples_per_call == 480                 # 10 ms feature step x 3 frames per call


# --- the models on audio ---------------------------------------------------------------------------------------------


@needs_vad
def test_vad_fires_on_speech_and_not_on_silence():
    audio, labels = _speech_between_silences()
    result = sc.score_audio(audio.astype(np.float32), "vad")
    per_call = sc.call_labels(result, labels)
    assert np.array_equal(per_call, labels[:len(result)])          # 10 ms calls, 10 ms labels
    scored = ~np.isnan(result.score)
    fires = result.score >= sc.VAD_THRESHOLD
    t = result.t_arrival
    silence = scored & (t > 1.0) & (t < 2.9) | scored & (t > 8.2)  # away from the speech (the VAD hears 0.74 s back)
    speech = scored & per_call
    assert speech.sum() > 200 and silence.sum() > 150
    assert fires[speech].mean() > 0.6
    assert fires[silence].mean() < 0.05
    assert fires[speech].mean() > fires[silence].mean() + 0.5


@needs_ww
@pytest.mark.parametrize("name", sc.WAKE_WORDS)
def test_wake_word_stays_below_its_threshold_on_silence_and_noise(name):
    silence = np.zeros(4 * SR, np.float32)
    noise = (0.1 * _pink(4 * SR, 7)).astype(np.float32)
    for audio in (silence, noise):
        result = sc.score_audio(audio, name)
        scored = result.score[~np.isnan(result.score)]
        assert len(scored) > 100
        assert scored.max() < result.spec.threshold
        assert ((scored >= 0) & (scored <= 1)).all()


@needs_ww
def test_wake_word_score_is_the_mean_of_the_last_five_outputs_and_calls_step_at_30_ms():
    from pymicro_wakeword import MicroWakeWordFeatures

    audio = (0.05 * _pink(3 * SR, 1)).astype(np.float32)
    result = sc.score_audio(audio, "okay_nabu")
    raw = result.raw
    window = result.spec.sliding_window
    assert np.isnan(result.score[:window - 1]).all()
    means = np.convolve(raw, np.ones(window) / window, mode="valid")
    assert np.allclose(result.score[window - 1:], means, rtol=0, atol=1e-9)
    period = 1.0 / result.spec.call_rate_hz
    assert np.allclose(np.diff(result.t_arrival), period, rtol=0, atol=1e-12)
    # The first call is ready when the package has its first 'stride' feature frames: 50 ms of audio, not 40 ms.
    stride = result.spec.samples_per_call // sc.CHUNK_SAMPLES
    first_ready = result.t_arrival[0] + period
    frames = lambda n: len(list(MicroWakeWordFeatures().process_streaming(np.zeros(n, np.int16).tobytes())))
    assert frames(round(first_ready * SR)) == stride and frames(round(first_ready * SR) - 160) == stride - 1


@needs_vad
def test_vad_calls_step_at_10_ms_and_score_once_the_detector_has_heard_enough():
    from pymicro_vad import MicroVad

    audio = (0.05 * _pink(2 * SR, 2)).astype(np.float32)
    result = sc.score_audio(audio, "vad")
    assert np.allclose(np.diff(result.t_arrival), 0.01, rtol=0, atol=1e-12) and result.t_arrival[0] == 0
    vad = MicroVad()                                          # the package's own "not yet" answers (-1)
    pcm = sc.pcm16(audio).tobytes()
    direct = np.array([vad.process_10ms(pcm[i:i + 320]) for i in range(0, len(pcm) - 319, 320)])
    assert np.array_equal(np.isnan(result.score), direct < 0)
    # its first score comes with the 77th call: 3 chunks for the first 30 ms window, then a 74-frame buffer (the
    # buffer the op table's first conv reads)
    assert np.argmax(direct >= 0) == 2 + sc.VAD_WINDOW == 76 and sc.vad_ops()[2].act_in_bytes == 4 * 74 * 40
    assert np.array_equal(result.score[direct >= 0], direct[direct >= 0])
    scored = result.score[~np.isnan(result.score)]
    assert ((scored >= 0) & (scored <= 1)).all()


def test_call_labels_need_half_the_call():
    spec = sc.ModelSpec("x", (), call_rate_hz=SR / 480, rate_basis="", threshold=0.5, threshold_basis="")
    result = sc.Scores(spec, np.array([0.0, 0.03, 0.06]), np.zeros(3), None, np.zeros(3), np.zeros(3))
    labels = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1], dtype=bool)         # per 10 ms
    assert sc.call_labels(result, labels).tolist() == [True, False, False]


# --- the command ---------------------------------------------------------------------------------------------------


@needs_ww
@needs_vad
def test_trace_score_writes_a_gateable_trace_that_simulates_and_is_deterministic(tmp_path):
    from dslsim.trace.io import read_trace

    paths = {}
    for name in ("vad", "okay_nabu"):
        for copy in ("a", "b"):
            out = tmp_path / f"{name}-{copy}.parquet"
            r = _cli("trace", "score", "--scene-seconds", 6, "--seed", 4, "--model", name, out, "--no-progress")
            assert r.exit_code == 0, r.output
            paths[name, copy] = out
        a, b = read_trace(paths[name, "a"]), read_trace(paths[name, "b"])
        assert a.frames.equals(b.frames) and a.meta == b.meta
        assert paths[name, "a"].read_bytes() == paths[name, "b"].read_bytes()
        d, = a.meta.decisions
        assert (d.score, d.path, a.meta.fallback_path) == ("score", "fire", "quiet")
        assert a.meta.paths["fire"] == a.meta.paths["quiet"] == [name]
        assert a.frames["label"].dtype == bool and "calls of" in r.output and "per call" in r.output
        s = a.frames["score"].to_numpy(np.float64)
        assert ((s[~np.isnan(s)] >= 0) & (s[~np.isnan(s)] <= 1)).all()
        assert np.allclose(np.diff(a.frames["t_arrival"]), 1 / a.meta.frame_rate, rtol=0, atol=1e-9)
    nabu = read_trace(paths["okay_nabu", "a"])
    assert nabu.meta.threshold == 0.85 and nabu.meta.hop == 480 and "prob" in nabu.frames
    assert nabu.meta.source["model_file"] == "pymicro_wakeword/models/okay_nabu.tflite"
    sim = _cli("simulate", "-p", "earbud", "-t", paths["vad", "a"])
    assert sim.exit_code == 0, sim.output
    assert "battery life" in sim.output


@needs_ww
def test_trace_score_on_a_wav_file_with_a_threshold(tmp_path):
    from dslsim.trace.io import read_trace

    audio = _wav(tmp_path / "room.wav", 3000 * _pink(2 * SR, 5))
    out = tmp_path / "j.parquet"
    r = _cli("trace", "score", audio, "--model", "hey_jarvis", out, "--threshold", "0.0")
    assert r.exit_code == 0, r.output
    t = read_trace(out)
    assert t.meta.threshold == 0.0 and "label" not in t.frames
    scored = ~t.frames["score"].isna()
    assert (t.frames["path"][scored] == "fire").all() and (t.frames["path"][~scored] == "quiet").all()
    assert t.meta.source["audio"] == str(audio) and len(t.meta.source["audio_sha256"]) == 64


def test_score_help_has_an_example():
    r = _cli("trace", "score", "--help")
    assert r.exit_code == 0 and "Examples:" in r.output and "dslsim trace score" in r.output


@pytest.mark.parametrize("case", ["missing", "rate", "stereo", "empty", "short", "short-scene", "model", "out", "both",
                                  "none", "seed-with-file", "not-wav"])
def test_bad_input_is_refused_naming_the_file_or_option(tmp_path, case):
    out = tmp_path / "o.parquet"
    tone = (3000 * np.sin(np.arange(SR) / 7)).astype(np.int16)
    args, expect = {
        "missing": ([tmp_path / "nope.wav", out, "--model", "vad"], ["nope.wav", "no such audio file"]),
        "rate": ([_wav(tmp_path / "8k.wav", tone[:8000], rate=8000), out, "--model", "vad"],
                 ["8k.wav", "8000 Hz", "16000 Hz"]),
        "stereo": ([_wav(tmp_path / "st.wav", np.repeat(tone, 2), channels=2), out, "--model", "vad"],
                   ["st.wav", "channels", "mono"]),
        "empty": ([_wav(tmp_path / "empty.wav", []), out, "--model", "vad"], ["empty.wav", "no audio samples"]),
        "short": ([_wav(tmp_path / "short.wav", tone[:4000]), out, "--model", "vad"],
                  ["short.wav", "0.250 s", "first score"]),
        "short-scene": ([out, "--model", "vad", "--scene-seconds", "0.001"], ["--scene-seconds 0.001", "0.77 s"]),
        "model": ([_wav(tmp_path / "ok.wav", tone), out, "--model", "hey_siri"], ["--model", "hey_siri"]),
        "out": ([_wav(tmp_path / "ok.wav", tone), tmp_path / "o.csv", "--model", "vad"], ["o.csv", ".parquet"]),
        "both": ([_wav(tmp_path / "ok.wav", tone), out, "--model", "vad", "--scene-seconds", "5"],
                 ["--scene-seconds", "ok.wav"]),
        "none": ([out, "--model", "vad"], ["--scene-seconds", "AUDIO"]),
        "seed-with-file": ([_wav(tmp_path / "ok.wav", tone), out, "--model", "vad", "--seed", "3"],
                           ["--seed", "ok.wav"]),
        "not-wav": ([tmp_path / "x.wav", out, "--model", "vad"], ["x.wav", "not a readable WAV"]),
    }[case]
    if case == "not-wav":
        (tmp_path / "x.wav").write_text("hello")
    if case in ("short", "short-scene") and not HAS_VAD:
        pytest.skip("pymicro-vad is not installed")
    r = _cli("trace", "score", *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for word in expect:
        assert word in r.output, (word, r.output)
    assert not out.exists()


def test_a_missing_package_is_named(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pymicro_vad", None)
    with pytest.raises(Exception, match="pip install pymicro-vad"):
        sc.model_spec("vad")


def test_shipped_score_traces_share_one_scene_and_simulate():
    from dslsim.shipped import shipped_traces
    from dslsim.trace.io import read_trace

    vad, nabu = read_trace("vad-fr-50s"), read_trace("okay-nabu-fr-50s")
    assert {"vad-fr-50s", "okay-nabu-fr-50s"} <= set(shipped_traces())
    for t, rate, name in ((vad, 100.0, "vad"), (nabu, 100.0 / 3, "okay_nabu")):
        assert t.meta.frame_rate == pytest.approx(rate, rel=1e-12) and t.meta.paths["fire"] == [name]
        assert np.allclose(np.diff(t.frames["t_arrival"]), 1 / rate, rtol=0, atol=1e-9)
        assert t.meta.source["speech_dirs"] == ["data/speech/wb/fr_CA_f_June"]
    keys = ("scene_seconds", "scene_seed", "speech_dirs", "background")
    assert {k: vad.meta.source[k] for k in keys} == {k: nabu.meta.source[k] for k in keys}
    # the same audio: the 30 ms calls' labels are the 10 ms labels of the VAD's calls, two of three at least
    v = vad.frames["label"].to_numpy()
    start = np.round(nabu.frames["t_arrival"].to_numpy() * 100).astype(int)
    assert np.array_equal(nabu.frames["label"].to_numpy(), v[start] * 1 + v[start + 1] + v[start + 2] >= 2)
    for name in ("vad-fr-50s", "okay-nabu-fr-50s"):
        r = _cli("simulate", "-p", "earbud", "-t", name)
        assert r.exit_code == 0, r.output
