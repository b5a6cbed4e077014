"""The DSL-SoundStream architecture as plain data (no torch): one description that both the analytic op graph
(:mod:`dslsim.trace.graph`, for synthetic traces) and the PyTorch model (:mod:`dslsim.model.codec`) are built from.

A causal SoundStream-style codec (Zeghidour et al., arXiv:2107.03312). Encoder: stem k7 (1 -> C); for strides 2, 4,
5, 8: three residual units (dilations 1, 3, 9) then a strided conv k = 2S doubling the channels; head k3 (16C -> D).
Decoder: the mirror image, at its own width, with a chosen number of residual units per block. One latent frame
per prod(strides) = 320 samples: 50 Hz at 16 kHz, 75 Hz at 24 kHz.

>>> cfg = CodecConfig(width=8, embed_dim=32)
>>> cfg.hop, cfg.frame_rate, cfg.light
(320, 50.0, 2)
>>> [layer.name for layer in encoder_layers(cfg)][:4]
['stem', 'block0.res0', 'block0.res1', 'block0.res2']
>>> dsl_paths(residual_full=True)["full"]
['encoder', 'rvq', 'switch', 'light_decoder', 'full_decoder']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

STRIDES = (2, 4, 5, 8)
DILATIONS = (1, 3, 9)


@dataclass(frozen=True)
class CodecConfig:
    """Shape of the codec.

    The light decoder has the full decoder's strides at channel width ``light_width`` (default C // 4), with
    ``light_units`` residual units per up-sampling block (dilations 1, 3, 9 taken in order) instead of three, and
    an input conv of kernel ``light_input_kernel`` instead of 7: at C = 8 it is about 23x smaller in parameters
    and 35x cheaper in MACs than the full decoder. ``light_codebooks`` > 0: the light decoder reads only the sum
    of the first that many quantizers (the coarse latents of a lower bitrate), the full path all ``n_q``;
    ``switch_detail``: the switches then also see the detail the light path lacks (latents minus coarse latents).
    ``residual_full``: the full path is the light decoder's output plus the full decoder's (a refinement).
    """

    sample_rate: int = 16000
    width: int = 8
    embed_dim: int = 32
    n_q: int = 4
    codebook_size: int = 256
    light_width: int = 0
    light_units: int = 1
    light_input_kernel: int = 1
    switch_hidden: int = 32
    switch_context: int = 1
    residual_full: bool = False
    agc_seconds: float = 0.0
    light_codebooks: int = 0
    switch_detail: bool = False

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        n = 1
        for s in STRIDES:
            n *= s
        return n

    @property
    def frame_rate(self) -> float:
        """Latent frames per second."""
        return self.sample_rate / self.hop

    @property
    def light(self) -> int:
        """Channel width of the light decoder."""
        return self.light_width or max(1, self.width // 4)

    @property
    def switch_inputs(self) -> int:
        """Channels the switches read per latent frame."""
        return self.embed_dim * (2 if self.switch_detail else 1)

    def to_dict(self) -> dict:
        """Plain dict (for checkpoints and trace metadata)."""
        return asdict(self)


#: Layer kinds: a causal conv, a causal transposed conv (kernel 2 x stride), a residual unit (dilated k7 conv,
#: ELU, 1x1 conv, skip add) and a standalone ELU.
KINDS = ("conv", "conv_t", "residual", "elu")


@dataclass(frozen=True)
class Layer:
    """One layer of the codec: ``kind`` (see :data:`KINDS`), a name unique in its stage, channels, kernel, stride
    and dilation."""

    kind: str
    name: str
    c_in: int = 0
    c_out: int = 0
    kernel: int = 1
    stride: int = 1
    dilation: int = 1


def _residual_units(prefix: str, n: int, units: int) -> list[Layer]:
    return [Layer("residual", f"{prefix}.res{j}", n, n, 7, dilation=d) for j, d in enumerate(DILATIONS[:units])]


def encoder_layers(cfg: CodecConfig) -> list[Layer]:
    """The encoder, input to output."""
    layers = [Layer("conv", "stem", 1, cfg.width, 7)]
    n = cfg.width
    for i, s in enumerate(STRIDES):
        layers += _residual_units(f"block{i}", n, len(DILATIONS))
        layers += [Layer("elu", f"block{i}.elu"), Layer("conv", f"block{i}.down", n, 2 * n, 2 * s, stride=s)]
        n *= 2
    return layers + [Layer("elu", "head.elu"), Layer("conv", "head", n, cfg.embed_dim, 3)]


def decoder_layers(width: int, embed_dim: int, units: int = len(DILATIONS), input_kernel: int = 7) -> list[Layer]:
    """A decoder at channel width ``width`` (mirror of the encoder) with ``units`` residual units per up-sampling
    block and an input conv of kernel ``input_kernel``, input to output."""
    n = width * 2 ** len(STRIDES)
    layers = [Layer("conv", "input", embed_dim, n, input_kernel)]
    for i, s in enumerate(reversed(STRIDES)):
        layers += [Layer("elu", f"block{i}.elu"), Layer("conv_t", f"block{i}.up", n, n // 2, 2 * s, stride=s)]
        n //= 2
        layers += _residual_units(f"block{i}", n, units)
    return layers + [Layer("elu", "output.elu"), Layer("conv", "output", n, 1, 7)]


#: Stages every path runs before the switch decides.
SHARED_STAGES = ["encoder", "rvq", "switch"]


def dsl_paths(residual_full: bool) -> dict[str, list[str]]:
    """The DSL's two paths, by stage: a residual full path runs the light decoder too (its output plus the full
    decoder's refinement)."""
    full = ["light_decoder", "full_decoder"] if residual_full else ["full_decoder"]
    return {"light": SHARED_STAGES + ["light_decoder"], "full": SHARED_STAGES + full}
