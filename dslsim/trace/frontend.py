"""The audio front end as a stage: microphone capture and decimation, and feature extraction (log-mel, MFCC).

An always-on audio pipeline spends compute before the network ever runs: the PDM microphone's 1-bit stream is
filtered down to PCM, then (for models that take features) framed, windowed, transformed and compressed. On an
MCU this is a large share of always-on energy, so it is a stage of its own, placed on a core like any other
(stage name ``frontend``), and prepended to every path of a trace by :func:`with_frontend`.

Per frame of ``hop`` output samples at ``sample_rate`` (counts are per frame; op kinds in brackets):

* ``capture``: with ``decimation='software'``, a 4th-order CIC on the PDM bits (2 additions per order per bit,
  at ``oversampling`` x the output rate) [elementwise] and a ``fir_taps``-tap compensation FIR at the output rate
  [conv1d]; with ``'hardware'`` (a PDM-to-PCM block such as STM32's MDF/DFSDM or nRF's PDM) only the copy of each
  PCM sample from the DMA buffer [elementwise].
* ``features='logmel'`` or ``'mfcc'``, for each analysis window that starts in the frame (``feature_hop``):
  window [elementwise, n_fft], real FFT [fft, 2 n_fft log2 n_fft: the real multiply-adds of a radix-2 split-radix
  transform of n_fft real points, rounded up], power spectrum [elementwise, 2 (n_fft/2 + 1)], triangular mel
  filterbank [filterbank, 2 (n_fft/2 + 1): each bin feeds at most two overlapping filters], log [elementwise,
  n_mels], and for MFCC a DCT [linear, n_mels x n_mfcc].

The operation counts are the textbook ones for these algorithms (exact for the CIC, FIR, window, power, filterbank
and DCT; the FFT figure is the usual 2 N log2 N real-operation estimate); what a core pays per operation is its
profile's business (``fft``, ``filterbank`` entries, or ``default``).

``arithmetic='float32'`` is the pipeline an MCU runs with CMSIS-DSP (``arm_rfft_fast_f32`` and friends), each
step an op kind of its own so that a profile can cost it from published cycle counts rather than at its neural
network's rates: int16 to float [vector, n_fft], window [vector, n_fft], real FFT [fft], magnitude [magnitude,
n_fft/2: ``arm_cmplx_mag_f32``], mel filterbank [filterbank], log [log, n_mels], quantisation of the features to
int8 [vector, n_mels], and a fixed cost per analysis window [overhead, one per window: the DMA interrupt, the
window shift and the bookkeeping around the calls].

>>> st = frontend_stage(16000, 320, features="mfcc", feature_hop=320, n_fft=512, n_mels=40, n_mfcc=10)
>>> [op.kind for op in st.ops]
['elementwise', 'elementwise', 'fft', 'elementwise', 'filterbank', 'elementwise', 'linear']
"""

from __future__ import annotations

import math
from dataclasses import replace

from dslsim.errors import DslsimError
from dslsim.trace.schema import DTYPE_BYTES, Op, Stage, Trace

#: The stage name the front end gets (place it with ``placement: {frontend: dsp}``).
STAGE = "frontend"
FEATURES = ("none", "logmel", "mfcc")
DECIMATION = ("hardware", "software")
#: How the features are computed: fixed point in the stage's dtype (a DSP), or float32 as an MCU runs CMSIS-DSP.
ARITHMETIC = ("fixed", "float32")
#: Op kinds only the float32 pipeline uses (a profile costs each; a missing one falls back to ``default``).
FLOAT_KINDS = ("vector", "magnitude", "log", "overhead")


def frontend_stage(sample_rate: float, hop: int, features: str = "none", decimation: str = "hardware",
                   oversampling: int = 64, fir_taps: int = 32, feature_hop: int | None = None, n_fft: int = 512,
                   n_mels: int = 40, n_mfcc: int = 13, dtype: str = "int16", arithmetic: str = "fixed") -> Stage:
    """The front-end stage for frames of ``hop`` samples at ``sample_rate`` (see the module doc)."""
    if features not in FEATURES:
        raise DslsimError(f"front-end features {features!r}: expected one of {list(FEATURES)}.")
    if arithmetic not in ARITHMETIC:
        raise DslsimError(f"front-end arithmetic {arithmetic!r}: expected one of {list(ARITHMETIC)}.")
    if decimation not in DECIMATION:
        raise DslsimError(f"front-end decimation {decimation!r}: expected one of {list(DECIMATION)}.")
    if not (isinstance(sample_rate, (int, float)) and math.isfinite(sample_rate) and 0 < sample_rate <= 1e9):
        raise DslsimError(f"front-end sample rate {sample_rate!r}: expected a rate in Hz above 0 (at most 1e9, as "
                          f"traces allow).")
    for name, value in (("hop", hop), ("oversampling", oversampling), ("fir_taps", fir_taps), ("n_fft", n_fft),
                        ("n_mels", n_mels), ("n_mfcc", n_mfcc)):
        if not isinstance(value, int) or value < 1:
            raise DslsimError(f"front-end {name} {value!r}: expected a positive whole number.")
    b = DTYPE_BYTES[dtype]
    ops: list[Op] = []
    if decimation == "software":
        bits = hop * oversampling
        ops.append(Op("cic_decimator", "elementwise", macs=float(2 * 4 * bits), act_in_bytes=bits / 8,
                      act_out_bytes=float(hop * 4), dtype=dtype))
        ops.append(Op("compensation_fir", "conv1d", macs=float(hop * fir_taps), weight_bytes=float(fir_taps * b),
                      act_in_bytes=float(hop * 4), act_out_bytes=float(hop * b), dtype=dtype))
    else:
        ops.append(Op("pcm_copy", "elementwise", macs=float(hop), act_in_bytes=float(hop * b),
                      act_out_bytes=float(hop * b), dtype=dtype))
    if features != "none":
        windows = hop / (feature_hop or hop)          # analysis windows per frame (may be fractional)
        bins = n_fft // 2 + 1
        per_window = _float_window(n_fft, n_mels, b) if arithmetic == "float32" else [
            Op("window", "elementwise", macs=float(n_fft), weight_bytes=float(n_fft * b),
               act_in_bytes=float(n_fft * b), act_out_bytes=float(n_fft * b), dtype=dtype),
            Op("fft", "fft", macs=float(2 * n_fft * math.ceil(math.log2(n_fft))), act_in_bytes=float(n_fft * b),
               act_out_bytes=float(2 * bins * b), dtype=dtype),
            Op("power_spectrum", "elementwise", macs=float(2 * bins), act_in_bytes=float(2 * bins * b),
               act_out_bytes=float(bins * 4), dtype=dtype),
            Op("mel_filterbank", "filterbank", macs=float(2 * bins), weight_bytes=float(2 * bins * b),
               act_in_bytes=float(bins * 4), act_out_bytes=float(n_mels * 4), dtype=dtype),
            Op("log", "elementwise", macs=float(n_mels), act_in_bytes=float(n_mels * 4),
               act_out_bytes=float(n_mels * b), dtype=dtype),
        ]
        if features == "mfcc":
            # A float pipeline's DCT is a small float matrix-vector product, costed like the filterbank's
            # multiply-accumulates rather than at a neural-network runtime's dense-layer rate.
            kind = "filterbank" if arithmetic == "float32" else "linear"
            per_window.append(Op("dct", kind, macs=float(n_mels * n_mfcc), weight_bytes=float(n_mels * n_mfcc * b),
                                 act_in_bytes=float(n_mels * b), act_out_bytes=float(n_mfcc * b), dtype=dtype))
        ops += [replace(op, macs=op.macs * windows, act_in_bytes=op.act_in_bytes * windows,
                        act_out_bytes=op.act_out_bytes * windows) for op in per_window]
    return Stage(STAGE, tuple(ops))


def _float_window(n_fft: int, n_mels: int, in_bytes: int) -> list[Op]:
    """One analysis window of the float32 pipeline (module doc), from ``in_bytes``-byte PCM to int8 features."""
    f32, half = 4, n_fft // 2
    return [
        Op("to_float", "vector", macs=float(n_fft), act_in_bytes=float(n_fft * in_bytes),
           act_out_bytes=float(n_fft * f32), dtype="float32"),
        Op("window", "vector", macs=float(n_fft), weight_bytes=float(n_fft * f32), act_in_bytes=float(n_fft * f32),
           act_out_bytes=float(n_fft * f32), dtype="float32"),
        Op("fft", "fft", macs=float(2 * n_fft * math.ceil(math.log2(n_fft))), act_in_bytes=float(n_fft * f32),
           act_out_bytes=float(n_fft * f32), dtype="float32"),
        Op("magnitude", "magnitude", macs=float(half), act_in_bytes=float(n_fft * f32),
           act_out_bytes=float(half * f32), dtype="float32"),
        Op("mel_filterbank", "filterbank", macs=float(2 * half), weight_bytes=float(2 * half * f32),
           act_in_bytes=float(half * f32), act_out_bytes=float(n_mels * f32), dtype="float32"),
        Op("log", "log", macs=float(n_mels), act_in_bytes=float(n_mels * f32), act_out_bytes=float(n_mels * f32),
           dtype="float32"),
        Op("quantize", "vector", macs=float(n_mels), act_in_bytes=float(n_mels * f32), act_out_bytes=float(n_mels),
           dtype="int8"),
        Op("window_overhead", "overhead", macs=1.0, dtype="float32"),
    ]


def with_frontend(trace: Trace, stage: Stage) -> Trace:
    """``trace`` with ``stage`` prepended to every path (replacing a front end it already had)."""
    meta = trace.meta
    stages = {STAGE: stage, **{k: v for k, v in meta.stages.items() if k != STAGE}}
    paths = {name: [STAGE] + [s for s in seq if s != STAGE] for name, seq in meta.paths.items()}
    source = dict(meta.source, frontend=[op.name for op in stage.ops])
    return Trace(replace(meta, paths=paths, stages=stages, source=source), trace.frames).validate()
