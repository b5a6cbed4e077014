"""A causal SoundStream-style encoder and decoder (Zeghidour et al., arXiv:2107.03312), at any channel width.

Encoder: stem k7 (1 -> C); for strides 2, 4, 5, 8: three residual units (dilations 1, 3, 9) then a strided conv
k = 2S doubling the channels; head k3 (16C -> D). Decoder: the mirror image. One latent frame per
prod(strides) = 320 samples: 50 Hz at 16 kHz, 75 Hz at 24 kHz. The op graph matches
:mod:`dslsim.trace.graph`, which the tests check layer by layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from dslsim.model.layers import CausalConv1d, CausalConvTranspose1d, ResidualUnit, Stack, StreamState, unit_gain_init

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

    def to_dict(self) -> dict:
        """Plain dict (for checkpoints and trace metadata)."""
        return asdict(self)


def encoder(width: int, embed_dim: int) -> Stack:
    """The causal encoder at channel width ``width``."""
    layers: list = [CausalConv1d(1, width, 7)]
    n = width
    for s in STRIDES:
        layers += [ResidualUnit(n, d) for d in DILATIONS]
        layers += ["elu", CausalConv1d(n, 2 * n, 2 * s, stride=s)]
        n *= 2
    layers += ["elu", CausalConv1d(n, embed_dim, 3)]
    return Stack(*layers)


def decoder(width: int, embed_dim: int, units: int = len(DILATIONS), input_kernel: int = 7) -> Stack:
    """The causal decoder at channel width ``width`` (mirror of the encoder), with ``units`` residual units per
    up-sampling block and an input conv of kernel ``input_kernel``."""
    n = width * 2 ** len(STRIDES)
    layers: list = [CausalConv1d(embed_dim, n, input_kernel)]
    for s in reversed(STRIDES):
        layers += ["elu", CausalConvTranspose1d(n, n // 2, s)]
        n //= 2
        layers += [ResidualUnit(n, d) for d in DILATIONS[:units]]
    out = CausalConv1d(n, 1, 7)
    unit_gain_init(out, n * 7, scale=0.1)  # start near silence rather than loud noise
    layers += ["elu", out]
    return Stack(*layers)


def stream_in_chunks(module: Stack, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """Run ``module`` over ``x`` (B, C, T) in chunks of ``chunk`` steps with carried state."""
    state: StreamState = {}
    return torch.cat([module.stream(x[..., i:i + chunk], state) for i in range(0, x.shape[-1], chunk)], dim=-1)


def count_params(module: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())
