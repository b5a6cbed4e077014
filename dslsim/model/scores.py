"""Scores of packaged always-on models on audio: the voice-activity detector of ``pymicro-vad`` and the four
streaming wake-word models of ``pymicro-wakeword``, each run at its own call rate over 16 kHz mono audio, and the
trace of their calls (so a cascade's routing comes from real models, not from a synthetic chain).

**The VAD** (``pymicro_vad.MicroVad.process_10ms``) takes 10 ms of 16-bit PCM per call and returns the probability
of speech, or -1 while it has not yet heard enough. It is a compiled C++ library with its weights inside
(``micro_vad_cpp.abi3.so``, no model file to import): on every call it computes one 40-channel feature frame (the
TensorFlow Lite Micro front end: 30 ms window, 10 ms step) into a buffer of the last 74 frames, then runs its whole
network over that buffer — conv 5x40 stride 3 (32 filters), three depthwise-separable blocks (depthwise 5, 8, 13;
pointwise to 48), dense 48 -> 1, logistic — in float32. Its first score comes with the 77th call (two calls fill
the first 30 ms window, 74 fill the buffer); earlier calls score NaN here. :func:`vad_ops` is the op table of that
network written from the package's source (github.com/rhasspy/pymicro-vad at commit f21f4ff, "Move to stable ABI":
``micro_vad/micro_vad.h`` for the shapes, ``micro_array.hpp`` for the loops); the installed 2.1.0 library holds
the same weight arrays byte for byte and gives its first score with the 77th call, as that source does, and the
TFLite export of the same network in the package's repository (``model/vad.tflite``) reads as the same MACs with
dslsim's TFLite reader (docs/real-scores.md).

**A wake-word model** (``pymicro_wakeword.MicroWakeWord``): ``MicroWakeWordFeatures`` turns each 10 ms of audio
into one 40-channel feature frame (the same front end; the first after 30 ms), and the model is invoked once per
``stride`` feature frames (its input tensor's second dimension: 3), so once per 30 ms. The probability it exposes
per call is the mean of its last ``sliding_window_size`` (5) outputs — what the package compares with the
manifest's ``probability_cutoff`` — and 0.0 until five outputs exist; here those first four calls score NaN, and
the raw per-call output is kept as ``prob``. The call rate is the one ``dslsim trace from-model`` reads from the
model's manifest (:attr:`dslsim.trace.model_ops.ModelGraph.call_rate_hz`), and the run checks the package calls
the model at exactly that rate.

**Call times.** A call's ``t_arrival`` is the time its last needed sample arrives (known from the 10 ms chunk at
which the package produced the call) minus one call period, so the call is ready at ``t_arrival`` + period, as
dslsim's traces define it: VAD call j at j x 10 ms, wake-word call k at 20 ms + k x 30 ms.

>>> ops = vad_ops()
>>> sum(op.macs for op in ops if op.kind != "elementwise"), len(ops)
(225440.0, 11)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dslsim.errors import DslsimError, InputError
from dslsim.trace.schema import Decision, Op, Stage, Trace, TraceMeta

#: Sample rate both packages take (16-bit mono PCM).
SAMPLE_RATE = 16_000
#: Samples per chunk both packages read (10 ms).
CHUNK_SAMPLES = 160
#: Model name of the voice-activity detector.
VAD = "vad"
#: The wake-word models pymicro-wakeword ships (its ``Model`` enum; tests check the two agree).
WAKE_WORDS = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")
#: Every model name :func:`score_audio` takes.
MODELS = (VAD, *WAKE_WORDS)
#: The VAD's threshold in the package's own usage example (README: ``threshold = 0.5``).
VAD_THRESHOLD = 0.5
#: The two outcomes of a call, as trace paths: the score passed the threshold, or not. Both run the whole model
#: (every call costs the same); a downstream model is gated on ``fire``.
FIRE, QUIET = "fire", "quiet"
#: Per-call columns of a score trace besides the reserved ones.
SCORE, RAW, LABEL = "score", "prob", "label"

#: Index of the 10 ms chunk with which the front end gives its first feature frame (a 30 ms window, 10 ms step).
FIRST_FEATURE_CHUNK = 2
#: Feature frames the VAD's network reads per call (``INPUT_FEATURES`` in micro_vad.h) and channels per frame.
VAD_WINDOW = 74
VAD_FEATURES = 40


@dataclass(frozen=True)
class _Layer:
    """One layer of the VAD network as micro_vad.h declares it: input width (feature frames) and channels,
    filters, kernel width and stride along time (heights are 1)."""

    name: str
    kind: str
    width: int
    channels: int
    filters: int
    kernel: int
    stride: int = 1

    @property
    def out_width(self) -> int:
        """Output positions (valid padding, as ``conv_2d`` and ``depthwise_conv_2d_s1`` loop)."""
        return (self.width - self.kernel) // self.stride + 1

    def op(self) -> Op:
        """The layer's op per call, float32 (weights and bias; ReLU and bias add are inside the loop)."""
        depthwise = self.kind == "depthwise_conv2d"
        per_output = self.kernel * (1 if depthwise else self.channels)
        macs = self.out_width * self.filters * per_output
        weights = (self.kernel * self.channels * (1 if depthwise else self.filters)) + self.filters
        return Op(name=self.name, kind=self.kind, macs=float(macs), weight_bytes=4.0 * weights,
                  act_in_bytes=4.0 * self.width * self.channels, act_out_bytes=4.0 * self.out_width * self.filters,
                  dtype="float32")


def _vad_layers() -> tuple[_Layer, ...]:
    """The network of pymicro-vad (micro_vad.h: buffer 74 x 40; outputs 24x32, 20x32, 20x48, 13x48, 13x48,
    1x48, 1x48, 1), each layer's input the previous one's output."""
    spec = (("conv_2d_1", "conv2d", 32, 5, 3), ("dconv_2d_2", "depthwise_conv2d", 32, 5, 1),
            ("conv_2d_3", "pointwise_conv2d", 48, 1, 1), ("dconv_2d_4", "depthwise_conv2d", 48, 8, 1),
            ("conv_2d_5", "pointwise_conv2d", 48, 1, 1), ("dconv_2d_6", "depthwise_conv2d", 48, 13, 1),
            ("conv_2d_7", "pointwise_conv2d", 48, 1, 1))
    layers, width, channels = [], VAD_WINDOW, VAD_FEATURES
    for name, kind, filters, kernel, stride in spec:
        layer = _Layer(name, kind, width, channels, filters, kernel, stride)
        layers.append(layer)
        width, channels = layer.out_width, filters
    return tuple(layers)


def vad_ops() -> tuple[Op, ...]:
    """The ops of one call of pymicro-vad's detector (10 ms of audio), from its source (see the module docstring).

    In order: scaling the new feature frame into the buffer (40 multiplies), zeroing the layers' outputs (the
    library clears them before every run: bytes only), the seven conv layers over the 74-frame buffer, the dense
    layer and the logistic. The feature front end is not included (as for the wake-word models, whose TFLite
    graphs start at the features); ``dslsim trace add-frontend`` can add one.
    """
    layers = _vad_layers()
    outputs = sum(layer.out_width * layer.filters for layer in layers) + 1
    ops = [Op("scale_features", "elementwise", float(VAD_FEATURES), weight_bytes=0.0,
              act_in_bytes=2.0 * VAD_FEATURES, act_out_bytes=4.0 * VAD_FEATURES, dtype="float32"),
           Op("zero_outputs", "reshape", 0.0, act_out_bytes=4.0 * outputs, dtype="float32")]
    ops += [layer.op() for layer in layers]
    last = layers[-1].filters
    ops.append(Op("fc_8", "linear", float(last), weight_bytes=4.0 * (last + 1), act_in_bytes=4.0 * last,
                  act_out_bytes=4.0, dtype="float32"))
    ops.append(Op("logistic", "elementwise", 1.0, act_in_bytes=4.0, act_out_bytes=4.0, dtype="float32"))
    return tuple(ops)


@dataclass(frozen=True)
class ModelSpec:
    """What dslsim knows of a packaged model before running it: its ops per call, call rate and default
    threshold, each with where it comes from."""

    name: str
    """``vad`` or a wake-word model's name (``okay_nabu``, ...)."""
    ops: tuple[Op, ...]
    """The ops of one call (the op graph written into a trace)."""
    call_rate_hz: float
    """Calls per second: the VAD's 10 ms API, a wake-word model's manifest rate (as ``trace from-model`` reads it)."""
    rate_basis: str
    """Where :attr:`call_rate_hz` comes from, in words."""
    threshold: float
    """The default threshold: the VAD's README example, a wake-word manifest's ``probability_cutoff``."""
    threshold_basis: str
    """Where :attr:`threshold` comes from, in words."""
    source: dict = field(default_factory=dict)
    """Provenance for the trace's ``source``: package and version, model file and its sha256, op-graph origin."""
    notes: tuple[str, ...] = ()
    """What the op graph leaves out or assumes, one sentence each."""
    sliding_window: int = 1
    """Calls whose outputs the exposed score averages (a wake-word manifest's ``sliding_window_size``; 1: none)."""

    @property
    def samples_per_call(self) -> int:
        """Audio samples per call at 16 kHz (160 for the VAD, 480 for a wake-word model)."""
        return int(round(SAMPLE_RATE / self.call_rate_hz))


def _package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _need(module: str, dist: str, model: str):
    """Import ``module`` or say which package to install for ``model``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DslsimError(f"--model {model}: needs the '{dist}' package (pip install {dist}, or dslsim's 'stacks' "
                          f"extra: pip install 'dslsim[stacks]').") from None


def check_model(name: str) -> str:
    """``name`` if it is a model :func:`score_audio` runs, else an error naming the option and the choices."""
    if name not in MODELS:
        raise InputError("--model", "", repr(name), f"one of {', '.join(MODELS)}")
    return name


def model_spec(name: str) -> ModelSpec:
    """The op graph, call rate and default threshold of a packaged model (the package must be installed)."""
    check_model(name)
    if name == VAD:
        _need("pymicro_vad", "pymicro-vad", name)
        return ModelSpec(
            name=VAD, ops=vad_ops(), call_rate_hz=SAMPLE_RATE / CHUNK_SAMPLES,
            rate_basis="pymicro_vad MicroVad.process_10ms: one call per 10 ms of 16 kHz audio",
            threshold=VAD_THRESHOLD, threshold_basis="the package README's example threshold (0.5)",
            source={"package": f"pymicro-vad {_package_version('pymicro-vad')}",
                    "op_graph": "op table from the source (github.com/rhasspy/pymicro-vad f21f4ff, micro_vad.h)"},
            notes=("no model file ships in pymicro-vad: the op graph is written from its source; no front end",))
    import json

    from dslsim.fileio import file_sha256
    from dslsim.trace.model_ops import read_model

    package = _need("pymicro_wakeword", "pymicro-wakeword", name)
    models = Path(package.__file__).resolve().parent / "models"
    model_file, manifest = models / f"{name}.tflite", models / f"{name}.json"
    if not model_file.is_file() or not manifest.is_file():
        raise DslsimError(f"--model {name}: {model_file} or its manifest is missing from the installed "
                          f"pymicro-wakeword {_package_version('pymicro-wakeword')}.")
    graph = read_model(model_file)
    if graph.call_rate_hz is None:
        raise DslsimError(f"{manifest}: states no call rate (micro.feature_step_size) for {model_file.name}.")
    micro = json.loads(manifest.read_text(encoding="utf-8")).get("micro", {})
    cutoff, window = micro.get("probability_cutoff"), micro.get("sliding_window_size", 1)
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 <= cutoff <= 1:
        raise InputError(manifest, "micro.probability_cutoff", repr(cutoff), "the model's threshold in [0, 1]")
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 1000:
        raise InputError(manifest, "micro.sliding_window_size", repr(window), "a whole number of calls >= 1")
    rel = f"pymicro_wakeword/models/{model_file.name}"
    return ModelSpec(
        name=name, ops=graph.ops, call_rate_hz=graph.call_rate_hz, rate_basis=graph.rate_basis,
        threshold=float(cutoff), threshold_basis=f"{manifest.name}: micro.probability_cutoff {cutoff:g}",
        source={"package": f"pymicro-wakeword {_package_version('pymicro-wakeword')}", "model_file": rel,
                "model_sha256": file_sha256(model_file),
                "op_graph": "dslsim's TFLite reader (as trace from-model)"},
        notes=graph.notes, sliding_window=window)


# --- audio ---------------------------------------------------------------------------------------------------------


def pcm16(audio: np.ndarray) -> np.ndarray:
    """Audio as 16-bit PCM: int16 unchanged, floats in [-1, 1] scaled by 32767, rounded and clipped."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise DslsimError(f"audio of shape {audio.shape}; expected one channel (a 1-D array of samples).")
    if audio.dtype == np.int16:
        return audio
    x = np.asarray(audio, dtype=np.float64)
    if not np.isfinite(x).all():
        raise DslsimError(f"{int((~np.isfinite(x)).sum()):,} samples are not finite numbers (NaN or inf).")
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def read_audio(path: str | Path) -> np.ndarray:
    """A 16 kHz mono WAV file as float32 samples; anything else is refused naming the file, what was found and what
    was expected (no resampling: the models' scores are for 16 kHz audio, resample deliberately first)."""
    import warnings

    from scipy.io import wavfile

    from dslsim.model.data import read_wav

    path = Path(path)
    if not path.exists():
        raise DslsimError(f"{path}: no such audio file.")
    if not path.is_file():
        raise DslsimError(f"{path}: not a regular file; expected a 16 kHz mono WAV file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(path)
    except Exception as exc:  # scipy raises many types for a damaged header
        raise DslsimError(f"{path}: not a readable WAV file ({str(exc).strip()[:200] or type(exc).__name__}).") \
            from None
    if rate != SAMPLE_RATE:
        raise InputError(path, "sample rate", f"{rate} Hz",
                         f"{SAMPLE_RATE} Hz, the rate the models take (resample first, e.g. "
                         f"ffmpeg -i {path.name} -ar 16000 -ac 1 out.wav)")
    if data.ndim == 2 and data.shape[1] != 1:
        raise InputError(path, "channels", str(data.shape[1]),
                         "1 (mono; mix down first, e.g. ffmpeg -i IN.wav -ac 1 OUT.wav)")
    del data
    return read_wav(path, SAMPLE_RATE)


# --- running the models --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Per-call scores of one model over one stretch of audio."""

    spec: ModelSpec
    """The model run."""
    t_arrival: np.ndarray
    """Per call, seconds: when the call's last sample arrived, minus one call period."""
    score: np.ndarray
    """Per call, float64 in [0, 1]: the probability the package exposes; NaN before it gives one."""
    raw: np.ndarray | None
    """Per call, a wake-word network's own output before the sliding mean (None for the VAD)."""
    wall_s: np.ndarray
    """Per call, wall seconds of the package call that ran the model (the VAD: front end and network; a wake word:
    quantising, invoking the interpreter and averaging). Measured, so never written into a trace."""
    cpu_s: np.ndarray
    """Per call, CPU seconds of this thread in the same package call: unlike :attr:`wall_s`, not inflated when
    other processes take the core."""
    frontend_wall_s: float = 0.0
    """A wake-word model: wall seconds of the feature front end per 10 ms of audio (0 for the VAD, whose front end
    is inside its call)."""

    def __len__(self) -> int:
        return len(self.score)


Progress = Callable[[int], object]


def min_samples(spec: ModelSpec) -> int:
    """The fewest samples of audio after which the model has given a score."""
    return (_first_scored_chunk(spec) + 1) * CHUNK_SAMPLES


def _chunks(pcm: np.ndarray, spec: ModelSpec, source: str) -> int:
    """How many whole 10 ms chunks ``pcm`` holds; an error naming ``source`` when that is not enough for one scored
    call."""
    n = len(pcm) // CHUNK_SAMPLES
    need = min_samples(spec)
    if n * CHUNK_SAMPLES < need:
        raise DslsimError(f"{source}: {len(pcm):,} samples ({len(pcm) / SAMPLE_RATE:.3f} s) of audio; model "
                          f"{spec.name} gives its first score after {need:,} samples ({need / SAMPLE_RATE:g} s): give "
                          f"at least that much audio.")
    return n


def _first_scored_chunk(spec: ModelSpec) -> int:
    """Index of the 10 ms chunk with which the model gives its first score (the front end's first window takes 3
    chunks; then the VAD fills its 74-frame buffer, a wake-word model its stride and sliding window)."""
    if spec.name == VAD:
        return FIRST_FEATURE_CHUNK + VAD_WINDOW
    stride = spec.samples_per_call // CHUNK_SAMPLES
    return FIRST_FEATURE_CHUNK + stride * spec.sliding_window - 1


def vad_scores(audio: np.ndarray, progress: Progress | None = None, source: str = "the audio") -> Scores:
    """Run pymicro-vad's detector over 16 kHz mono ``audio`` (float in [-1, 1] or int16), one call per 10 ms;
    ``source`` names the audio in errors."""
    spec = model_spec(VAD)
    from pymicro_vad import MicroVad

    pcm = pcm16(audio)
    n = _chunks(pcm, spec, source)
    raw = pcm[: n * CHUNK_SAMPLES].astype("<i2").tobytes()
    step = 2 * CHUNK_SAMPLES
    vad = MicroVad()
    score = np.empty(n, np.float64)
    wall = np.empty(n, np.float64)
    cpu = np.empty(n, np.float64)
    clock, cpu_clock = time.perf_counter, time.thread_time
    for j in range(n):
        chunk = raw[j * step:(j + 1) * step]
        c0, t0 = cpu_clock(), clock()
        p = vad.process_10ms(chunk)
        wall[j], cpu[j] = clock() - t0, cpu_clock() - c0
        score[j] = p
        if progress is not None and j % 1000 == 999:
            progress(1000 * CHUNK_SAMPLES)
    score[score < 0] = np.nan           # -1: not enough audio heard yet
    t = np.arange(n, dtype=np.int64) * CHUNK_SAMPLES / SAMPLE_RATE
    return Scores(spec, t, score, None, wall, cpu)


def wake_word_scores(audio: np.ndarray, name: str, progress: Progress | None = None,
                     source: str = "the audio") -> Scores:
    """Run a pymicro-wakeword model over 16 kHz mono ``audio`` through the package's streaming API: features per
    10 ms, one model call per ``stride`` feature frames, the sliding mean as the score; ``source`` names the audio
    in errors."""
    if name == VAD:
        raise DslsimError("use vad_scores for the voice-activity detector.")
    spec = model_spec(name)
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    pcm = pcm16(audio)
    n = _chunks(pcm, spec, source)
    model = MicroWakeWord.from_builtin(Model(name))
    stride = int(model.stride)
    if stride * CHUNK_SAMPLES != spec.samples_per_call or model.sliding_window_size != spec.sliding_window:
        raise DslsimError(f"pymicro-wakeword calls {name} every {stride} feature frames of 10 ms and averages "
                          f"{model.sliding_window_size} outputs, but its manifest says every "
                          f"{spec.samples_per_call // CHUNK_SAMPLES} ({spec.rate_basis}) and {spec.sliding_window}.")
    features = MicroWakeWordFeatures()
    raw_bytes = pcm[: n * CHUNK_SAMPLES].astype("<i2").tobytes()
    step = 2 * CHUNK_SAMPLES
    ready, scores, raws, wall, cpu = [], [], [], [], []
    fed = 0
    frontend = 0.0
    clock, cpu_clock = time.perf_counter, time.thread_time
    window = getattr(model, "_probabilities", None)
    for j in range(n):
        t0 = clock()
        frames = list(features.process_streaming(raw_bytes[j * step:(j + 1) * step]))
        frontend += clock() - t0
        for frame in frames:
            fed += 1
            c0, t0 = cpu_clock(), clock()
            p = model.process_streaming_prob(frame)
            dt, dc = clock() - t0, cpu_clock() - c0
            if fed % stride:
                continue                 # the package buffers this frame; the model did not run
            ready.append((j + 1) * CHUNK_SAMPLES)
            wall.append(dt)
            cpu.append(dc)
            # the package returns 0.0 until its sliding window holds sliding_window_size outputs: no score yet
            scores.append(float(p) if len(ready) >= model.sliding_window_size else np.nan)
            raws.append(float(window[-1]) if window else np.nan)
        if progress is not None and j % 1000 == 999:
            progress(1000 * CHUNK_SAMPLES)
    model.close()
    t = (np.asarray(ready, dtype=np.int64) - spec.samples_per_call) / SAMPLE_RATE
    return Scores(spec, t, np.asarray(scores, np.float64), np.asarray(raws, np.float64), np.asarray(wall),
                  np.asarray(cpu), frontend_wall_s=frontend / n)


def score_audio(audio: np.ndarray, name: str, progress: Progress | None = None, source: str = "the audio") -> Scores:
    """Per-call scores of model ``name`` (``vad`` or a wake word, see :data:`MODELS`) over 16 kHz mono audio;
    ``source`` names the audio in errors (a file, an option)."""
    check_model(name)
    audio = np.asarray(audio)
    if audio.size == 0:
        raise DslsimError(f"{source}: no audio samples; expected 16 kHz mono audio.")
    if name == VAD:
        return vad_scores(audio, progress, source)
    return wake_word_scores(audio, name, progress, source)


# --- the trace of the calls ----------------------------------------------------------------------------------------


def call_labels(scores: Scores, labels: np.ndarray, label_hop: int = CHUNK_SAMPLES) -> np.ndarray:
    """Per call, whether speech is labelled in at least half of the audio the call newly heard (its own period
    before it is ready), from per-frame ``labels`` of ``label_hop`` samples (a scene's, True = speech)."""
    labels = np.asarray(labels, dtype=bool)
    per_call = scores.spec.samples_per_call
    if per_call % label_hop:
        raise DslsimError(f"labels every {label_hop} samples do not tile a call of {per_call} samples.")
    k = per_call // label_hop
    start = np.round(scores.t_arrival * SAMPLE_RATE).astype(np.int64) // label_hop
    idx = start[:, None] + np.arange(k)[None, :]
    inside = idx < len(labels)
    hits = np.where(inside, labels[np.minimum(idx, len(labels) - 1)], False)
    return hits.sum(axis=1) * 2 >= k


def scores_trace(scores: Scores, threshold: float | None = None, labels: np.ndarray | None = None,
                 source: dict | None = None) -> Trace:
    """The trace of a model's calls: one frame per call at ``t_arrival``, the score column ``score``, the decision
    ``fire`` (score >= threshold takes path ``fire``; the others, and NaN, take ``quiet``), both paths one stage
    named after the model holding its whole op graph (every call runs the model; a downstream model is gated on
    the path), the raw network output ``prob`` for a wake word, and ``label`` per call when ``labels`` (one per
    call) are given. ``threshold``: default the model's own (:attr:`ModelSpec.threshold`)."""
    spec = scores.spec
    cut = spec.threshold if threshold is None else float(threshold)
    if not 0.0 <= cut <= 1.0:
        raise DslsimError(f"threshold {cut!r}; expected a number in [0, 1].")
    stages = {spec.name: Stage(spec.name, spec.ops)}
    decision = Decision(name="fire", score=SCORE, threshold=cut, path=FIRE)
    src = {"importer": "dslsim trace score", "model": spec.name, **spec.source,
           "call_rate_hz": spec.call_rate_hz, "call_rate_basis": spec.rate_basis,
           "threshold_basis": spec.threshold_basis if threshold is None else "--threshold",
           "score": ("P(speech) per call" if spec.name == VAD else
                     f"mean of the last {spec.sliding_window} outputs ('prob'), as the package compares with its cutoff"),
           **(source or {})}
    if spec.notes:
        src["notes"] = list(spec.notes)
    meta = TraceMeta(frame_rate=float(spec.call_rate_hz), sample_rate=float(SAMPLE_RATE),
                     hop=spec.samples_per_call, paths={FIRE: list(stages), QUIET: list(stages)}, stages=stages,
                     dense_path=FIRE, decisions=(decision,), fallback_path=QUIET, source=src)
    n = len(scores)
    frames = pd.DataFrame({"frame": np.arange(n, dtype=np.int64), "t_arrival": scores.t_arrival.astype(np.float64)})
    # the VAD's scores are float32 (its C type) and stored so, exactly; the routing reads the stored column
    stored = scores.score.astype(np.float32) if spec.name == VAD else scores.score.astype(np.float64)
    fires = decision.fires(stored)
    frames["path"] = pd.Categorical.from_codes(np.where(fires, 0, 1).astype(np.int8), categories=[FIRE, QUIET])
    frames[SCORE] = stored
    if scores.raw is not None:
        frames[RAW] = scores.raw
    if labels is not None:
        labels = np.asarray(labels, dtype=bool)
        if len(labels) != n:
            raise DslsimError(f"{len(labels)} labels for {n} calls; expected one per call.")
        frames[LABEL] = labels
    return Trace(meta, frames).validate()


@dataclass(frozen=True)
class Summary:
    """What a score trace says about its model on its audio."""

    calls: int
    fire_share: float
    """Share of scored calls at or above the threshold."""
    fires_per_hour: float
    """Rising edges (a quiet call, then a firing one) per hour of audio: detections, as an application counts them."""
    fire_share_speech: float | None = None
    """With labels: share of scored calls labelled speech that fire."""
    fire_share_nonspeech: float | None = None
    """With labels: share of scored calls labelled non-speech that fire."""
    speech_share: float | None = None
    """With labels: share of scored calls labelled speech."""


def summarize(trace: Trace) -> Summary:
    """Fire shares and detections per hour of a score trace (NaN-scored calls are left out of the shares)."""
    frames = trace.frames
    score = frames[SCORE].to_numpy(dtype=np.float64)
    scored = ~np.isnan(score)
    fires = (frames["path"] == FIRE).to_numpy()
    edges = int(np.count_nonzero(fires[1:] & ~fires[:-1]) + (1 if len(fires) and fires[0] else 0))
    hours = trace.duration / 3600.0
    out = dict(calls=len(frames), fire_share=float(fires[scored].mean()) if scored.any() else float("nan"),
               fires_per_hour=edges / hours if hours > 0 else float("nan"))
    if LABEL in frames.columns:
        lab = frames[LABEL].to_numpy(dtype=bool)
        s, ns = scored & lab, scored & ~lab
        out.update(fire_share_speech=float(fires[s].mean()) if s.any() else float("nan"),
                   fire_share_nonspeech=float(fires[ns].mean()) if ns.any() else float("nan"),
                   speech_share=float(lab[scored].mean()) if scored.any() else float("nan"))
    return Summary(**out)
