"""The PyTorch codec, built from the torch-free description in :mod:`dslsim.trace.architecture` (the same one
the analytic op graph uses, so the two cannot drift; the tests compare them layer by layer).
"""

from __future__ import annotations

import torch
from torch import nn

from dslsim.model.layers import CausalConv1d, CausalConvTranspose1d, ResidualUnit, Stack, StreamState, unit_gain_init
from dslsim.trace.architecture import (DILATIONS, CodecConfig, Layer, decoder_layers,  # noqa: F401 (re-exported)
                                       encoder_layers)


def _module(layer: Layer):
    """The torch module (or the string 'elu') for one layer of the description."""
    if layer.kind == "conv":
        return CausalConv1d(layer.c_in, layer.c_out, layer.kernel, stride=layer.stride, dilation=layer.dilation)
    if layer.kind == "conv_t":
        return CausalConvTranspose1d(layer.c_in, layer.c_out, layer.stride)
    if layer.kind == "residual":
        return ResidualUnit(layer.c_in, layer.dilation)
    if layer.kind == "elu":
        return "elu"
    raise ValueError(f"unknown layer kind {layer.kind!r}")


def encoder(width: int, embed_dim: int) -> Stack:
    """The causal encoder at channel width ``width``."""
    return Stack(*map(_module, encoder_layers(CodecConfig(width=width, embed_dim=embed_dim))))


def decoder(width: int, embed_dim: int, units: int = len(DILATIONS), input_kernel: int = 7) -> Stack:
    """The causal decoder at channel width ``width`` (mirror of the encoder), with ``units`` residual units per
    up-sampling block and an input conv of kernel ``input_kernel``."""
    layers = [_module(layer) for layer in decoder_layers(width, embed_dim, units, input_kernel)]
    out = layers[-1]
    unit_gain_init(out, out.in_channels * 7, scale=0.1)  # start near silence rather than loud noise
    return Stack(*layers)


def stream_in_chunks(module: Stack, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """Run ``module`` over ``x`` (B, C, T) in chunks of ``chunk`` steps with carried state."""
    state: StreamState = {}
    return torch.cat([module.stream(x[..., i:i + chunk], state) for i in range(0, x.shape[-1], chunk)], dim=-1)


def count_params(module: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())
