"""Causal convolutions that run on a whole signal or chunk by chunk with carried state, giving the same output.

Streaming state lives in a plain dict keyed by module (:class:`StreamState`), so composite modules need no
bookkeeping of their own: every layer takes what it left there last time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

StreamState = dict


def unit_gain_init(conv: nn.Conv1d | nn.ConvTranspose1d, taps: int, scale: float = 1.0) -> None:
    """Normal weights with variance ``scale**2 / taps`` (``taps``: input terms summed per output) and zero bias.

    PyTorch's default (uniform, variance 1/(3 fan_in)) shrinks the signal about threefold per layer; through the
    codec's dozen non-residual layers the output then barely depends on the input at the start (the Jacobian is
    about 1e-6) and a CPU-sized training budget ends before the network recovers. Unit gain keeps it near 1.
    """
    nn.init.normal_(conv.weight, 0.0, scale / taps ** 0.5)
    nn.init.zeros_(conv.bias)


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the past only: ``(k-1)*d + 1 - stride`` zeros on the left.

    For a strided down-sampling conv with k = 2S this is S samples, so output step t summarises input block t
    (and the block before it). Streaming keeps exactly those samples of history.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__(c_in, c_out, kernel, stride=stride, dilation=dilation)
        self.history = (kernel - 1) * dilation + 1 - stride
        unit_gain_init(self, c_in * kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.history, 0)))

    def stream(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        """One chunk (a multiple of the stride long), continuing from ``state``."""
        past = state.get(self)
        if past is None:
            past = x.new_zeros(x.shape[0], x.shape[1], self.history)
        joined = torch.cat([past, x], dim=-1)
        state[self] = joined[..., joined.shape[-1] - self.history:]
        return super().forward(joined)


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Transposed conv with kernel 2S and stride S that keeps the first T*S outputs (trims the future side).

    Streaming carries the last S outputs of each chunk (without bias) and adds them to the next chunk.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__(c_in, c_out, 2 * stride, stride=stride)
        self.s = stride
        unit_gain_init(self, 2 * c_in)  # each output sums kernel / stride = 2 taps of every input channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[..., : x.shape[-1] * self.s]

    def stream(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        """One chunk of latent steps, continuing the overlap-add from ``state``."""
        full = F.conv_transpose1d(x, self.weight, None, stride=self.s)
        carry = state.get(self)
        if carry is not None:
            full[..., : self.s] += carry
        n = x.shape[-1] * self.s
        state[self] = full[..., n:]
        return full[..., :n] + self.bias[:, None]


class ResidualUnit(nn.Module):
    """x + conv1x1(ELU(dilated causal conv k7(ELU(x))))."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = CausalConv1d(channels, channels, 7, dilation=dilation)
        self.proj = nn.Conv1d(channels, channels, 1)
        unit_gain_init(self.proj, channels, scale=0.1)  # each unit starts close to the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(F.elu(self.conv(F.elu(x))))

    def stream(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        return x + self.proj(F.elu(self.conv.stream(F.elu(x), state)))


class Stack(nn.Module):
    """Modules in order; ``'elu'`` entries are activations. Streams each streamable module."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList([l for l in layers if l != "elu"])
        self.plan = []  # (apply ELU first, module index)
        k = 0
        pending = False
        for l in layers:
            if l == "elu":
                pending = True
            else:
                self.plan.append((pending, k))
                pending = False
                k += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for elu, i in self.plan:
            x = self.layers[i](F.elu(x) if elu else x)
        return x

    def stream(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        for elu, i in self.plan:
            layer = self.layers[i]
            x = F.elu(x) if elu else x
            x = layer.stream(x, state) if hasattr(layer, "stream") else layer(x)
        return x
