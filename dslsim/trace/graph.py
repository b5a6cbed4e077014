"""Op graphs: the analytic one of a SoundStream-sized codec with a Dynamic Switch Layer, and :class:`ModelGraph`,
what every model importer returns (:mod:`dslsim.trace.model_ops`).

Used by ``dslsim trace synth`` until a trained model supplies a measured graph. The per-layer formulas
are the standard ones (per frame of ``hop`` samples, streaming with cached causal history):

* Conv1d: MACs = C_out * (C_in / groups) * k * L_out
* ConvTranspose1d: MACs = C_in * (C_out / groups) * k * L_in  (input length, before the causal trim)
* Linear: in_features * out_features * rows

Architecture (Zeghidour et al., SoundStream, arXiv:2107.03312): encoder stem k7 (1 -> C); four blocks of three
residual units (dilated k7 conv N -> N, ELU, 1x1 conv N -> N, skip) and a strided conv k = 2S (N -> 2N) for
strides 2, 4, 5, 8; head k3 (16C -> D); RVQ; mirrored decoder. For C = 32, D = 128 the convolutions give
60.8 + 61.1 = 121.9 MMAC per frame, the figure measured with FlopCounterMode in the project's reference notes;
the residual units' skip additions add 0.25 M elementwise ops to each half.

>>> stages, paths = dsl_soundstream_graph(width=32, embed_dim=128)
>>> def conv_mmac(stage):
...     return round(sum(op.macs for op in stage.ops if op.kind.startswith("conv")) / 1e6, 1)
>>> conv_mmac(stages["encoder"]), conv_mmac(stages["full_decoder"])
(60.8, 61.1)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dslsim.trace.architecture import DILATIONS, CodecConfig, Layer, decoder_layers, dsl_paths, encoder_layers
from dslsim.trace.schema import DTYPE_BYTES, Op, Stage

#: Largest count (MACs, bytes) an importer accepts for one op or one call: what a signed 64-bit integer holds.
MAX_COUNT = 2**63 - 1


class _Builder:
    """Collects ops of one stage; lengths are samples (or latent steps) per frame."""

    def __init__(self, bytes_per_elem: int, dtype: str):
        self.ops: list[Op] = []
        self.b = bytes_per_elem
        self.dtype = dtype

    def conv(self, name: str, c_in: int, c_out: int, k: int, l_in: int, l_out: int) -> None:
        params = c_out * c_in * k + c_out
        self._add(name, "conv1d", c_out * c_in * k * l_out, params, c_in * l_in, c_out * l_out)

    def conv_t(self, name: str, c_in: int, c_out: int, k: int, l_in: int, l_out: int) -> None:
        params = c_in * c_out * k + c_out
        self._add(name, "conv_transpose1d", c_in * c_out * k * l_in, params, c_in * l_in, c_out * l_out)

    def linear(self, name: str, f_in: int, f_out: int, rows: int = 1) -> None:
        self._add(name, "linear", f_in * f_out * rows, f_in * f_out + f_out, f_in * rows, f_out * rows)

    def elementwise(self, name: str, elems: int, params: int = 0) -> None:
        self._add(name, "elementwise", elems, params, elems, elems)

    def _add(self, name, kind, macs, params, elems_in, elems_out) -> None:
        self.ops.append(Op(name=name, kind=kind, macs=float(macs), weight_bytes=float(params * self.b),
                           act_in_bytes=float(elems_in * self.b), act_out_bytes=float(elems_out * self.b),
                           dtype=self.dtype))

    def stage(self, name: str) -> Stage:
        return Stage(name=name, ops=tuple(self.ops))


def _stage(name: str, layers: list[Layer], hop: int, dtype: str) -> Stage:
    """Cost a layer list (from :mod:`dslsim.trace.architecture`) per frame of ``hop`` samples. The first layer
    reads ``hop`` samples (an encoder) or one latent step (a decoder); standalone ELUs are folded into the
    convolutions' output handling (no op of their own), as the measured graph counts them."""
    b = _Builder(DTYPE_BYTES[dtype], dtype)
    length = hop if layers[0].c_in == 1 else 1
    for layer in layers:
        if layer.kind == "conv":
            out = length // layer.stride
            b.conv(layer.name, layer.c_in, layer.c_out, layer.kernel, length, out)
            length = out
        elif layer.kind == "conv_t":
            b.conv_t(layer.name, layer.c_in, layer.c_out, layer.kernel, length, length * layer.stride)
            length *= layer.stride
        elif layer.kind == "residual":
            n = layer.c_in
            b.conv(f"{layer.name}.conv_d{layer.dilation}", n, n, layer.kernel, length, length)
            b.conv(f"{layer.name}.conv1x1", n, n, 1, length, length)
            b.elementwise(f"{layer.name}.elu_add", 3 * n * length)
    return b.stage(name)


def encoder_stage(width: int, embed_dim: int, hop: int, dtype: str = "int8") -> Stage:
    """Causal SoundStream encoder, costed per frame of ``hop`` samples."""
    return _stage("encoder", encoder_layers(CodecConfig(width=width, embed_dim=embed_dim)), hop, dtype)


def decoder_stage(name: str, width: int, embed_dim: int, hop: int, dtype: str = "int8",
                  units: int = len(DILATIONS), input_kernel: int = 7) -> Stage:
    """Causal SoundStream decoder (mirror of the encoder) at channel width ``width``, with ``units`` residual
    units per up-sampling block and an input conv of kernel ``input_kernel``."""
    return _stage(name, decoder_layers(width, embed_dim, units, input_kernel), hop, dtype)


def rvq_stage(embed_dim: int, n_q: int, codebook: int, dtype: str = "int8") -> Stage:
    """Residual VQ: nearest-code search (as a matmul: n_q * K * D MACs) and residual updates."""
    b = _Builder(DTYPE_BYTES[dtype], dtype)
    bpe = DTYPE_BYTES[dtype]
    b.ops.append(Op(name="search", kind="vq_search", macs=float(n_q * codebook * embed_dim),
                    weight_bytes=float(n_q * codebook * embed_dim * bpe), act_in_bytes=float(embed_dim * bpe),
                    act_out_bytes=float(n_q * 2), dtype=dtype))
    b.elementwise("residual_update", 2 * n_q * embed_dim)
    return b.stage("rvq")


def switch_stage(embed_dim: int, hidden: int = 32, dtype: str = "int8") -> Stage:
    """The Dynamic Switch Layer's gate: a two-layer MLP on the quantized embedding, then a sigmoid."""
    b = _Builder(DTYPE_BYTES[dtype], dtype)
    b.linear("fc1", embed_dim, hidden)
    b.elementwise("elu", hidden)
    b.linear("fc2", hidden, 1)
    b.elementwise("sigmoid", 1)
    return b.stage("switch")


def dsl_soundstream_graph(width: int = 32, embed_dim: int = 128, light_width: int | None = None, n_q: int = 8,
                          codebook: int = 1024, hop: int = 320, dtype: str = "int8",
                          light_units: int = len(DILATIONS), light_input_kernel: int = 7
                          ) -> tuple[dict[str, Stage], dict[str, list[str]]]:
    """Stages and paths of a DSL-SoundStream: a shared encoder, RVQ and switch, then a light or full decoder.

    ``light_width`` defaults to ``width // 4``; with the default three residual units per block and an input
    kernel of 7 (the full decoder's shape at a quarter of the width), at C = 32 the light decoder is about 15x
    cheaper in MACs and 16x smaller than the full one. ``light_units`` and ``light_input_kernel`` describe a
    shallower light decoder, as :class:`dslsim.model.codec.CodecConfig` does.
    """
    light_width = light_width or max(1, width // 4)
    stages = {
        "encoder": encoder_stage(width, embed_dim, hop, dtype),
        "rvq": rvq_stage(embed_dim, n_q, codebook, dtype),
        "switch": switch_stage(embed_dim, dtype=dtype),
        "light_decoder": decoder_stage("light_decoder", light_width, embed_dim, hop, dtype, light_units,
                                       light_input_kernel),
        "full_decoder": decoder_stage("full_decoder", width, embed_dim, hop, dtype),
    }
    return stages, dsl_paths(residual_full=False)


@dataclass(frozen=True)
class ModelGraph:
    """The ops of one call of a model, in execution order, with what the reader could not or did not count."""

    ops: tuple[Op, ...]
    """One op per operator run on every call (a recurrent cell gives two: its matrix products and its gates)."""
    unknown: tuple[str, ...]
    """``index:OPERATOR`` of every operator kept as 'generic' (bytes, no MACs)."""
    source: str
    """The file read."""
    nonzero_macs: tuple[float, ...] | None = None
    """Per op, the MACs of output channels whose weights are not all zero (what a pruning runtime computes);
    None when the reader cannot tell (then every channel counts)."""
    call_rate_hz: float | None = None
    """Calls per second the model's own metadata implies (a streaming model's feature step times the feature
    frames it takes per call); None when the model does not say."""
    rate_basis: str = ""
    """Where :attr:`call_rate_hz` comes from, in words (file, keys and arithmetic)."""
    notes: tuple[str, ...] = ()
    """What the reader left out of the per-call count, or assumed, in one sentence each."""

    @property
    def macs(self) -> float:
        """MACs (and element operations) of one call."""
        return float(sum(op.macs for op in self.ops))

    def ops_for(self, dead_channels: str = "keep") -> tuple[Op, ...]:
        """The ops, with ``dead_channels='skip'`` counting no MACs for output channels whose weights are all zero."""
        if dead_channels == "skip" and self.nonzero_macs is not None:
            return tuple(replace(op, macs=live) for op, live in zip(self.ops, self.nonzero_macs))
        return self.ops
