"""Residual vector quantizer with EMA codebooks, k-means initialisation, dead-code replacement scaled to the
batch and quantizer dropout. Distances are a matmul (``x @ codebook.T``), so MAC counters see them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Plain k-means on rows of ``x``; returns ``k`` centroids (rows sampled from ``x`` to start)."""
    idx = torch.randint(0, x.shape[0], (k,), generator=generator, device=x.device)
    centroids = x[idx].clone()
    for _ in range(iters):
        assign = distances(x, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def distances(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Squared distances ||x||^2 - 2 x.c + ||c||^2 between rows, as a matmul."""
    return (x * x).sum(1, keepdim=True) - 2 * x @ codebook.T + (codebook * codebook).sum(1)[None, :]


class VectorQuantizer(nn.Module):
    """One EMA codebook of ``size`` codes of dimension ``dim``."""

    def __init__(self, dim: int, size: int, decay: float = 0.95, dead_fraction: float = 0.1,
                 kmeans_iters: int = 10):
        super().__init__()
        self.size, self.decay, self.dead_fraction, self.kmeans_iters = size, decay, dead_fraction, kmeans_iters
        self.register_buffer("codebook", torch.randn(size, dim) * 0.1)
        self.register_buffer("cluster_size", torch.ones(size))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.tensor(False))

    def forward(self, x: torch.Tensor, update: torch.Tensor | None = None):
        """Quantize rows of ``x`` (N, D). ``update`` masks the rows allowed to move the codebook.

        Returns (quantized with straight-through gradient, code indices, commitment loss).
        """
        flat = x.detach()
        if self.training:
            rows = flat if update is None else flat[update]
            if rows.shape[0] > 0:
                self._learn(rows)
        idx = distances(flat, self.codebook).argmin(dim=1)
        q = F.embedding(idx, self.codebook)
        commit = F.mse_loss(x, q.detach())
        return x + (q - x).detach(), idx, commit

    @torch.no_grad()
    def _learn(self, rows: torch.Tensor) -> None:
        if not bool(self.initialised):
            centroids = kmeans(rows, self.size, self.kmeans_iters)
            self.codebook.copy_(centroids)
            self.embed_sum.copy_(centroids)
            self.cluster_size.fill_(1.0)
            self.initialised.fill_(True)
        idx = distances(rows, self.codebook).argmin(dim=1)
        onehot = F.one_hot(idx, self.size).to(rows.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.T @ rows, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + 1e-5) / (n + self.size * 1e-5) * n
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        # Dead codes: usage below a fraction of what a uniform share of this batch would give them.
        expected = rows.shape[0] / self.size
        dead = self.cluster_size < self.dead_fraction * expected
        if dead.any():
            pick = torch.randint(0, rows.shape[0], (int(dead.sum()),), device=rows.device)
            self.codebook[dead] = rows[pick]
            self.embed_sum[dead] = rows[pick]
            self.cluster_size[dead] = expected


class ResidualVQ(nn.Module):
    """``n_q`` quantizers applied to successive residuals. Quantizer dropout: while training, each batch item
    uses a random number of quantizers in [1, n_q] (one model, several bitrates).
    """

    def __init__(self, dim: int, n_q: int, size: int, dropout: bool = True):
        super().__init__()
        self.quantizers = nn.ModuleList([VectorQuantizer(dim, size) for _ in range(n_q)])
        self.dropout = dropout

    def forward(self, z: torch.Tensor, n_q: int | None = None, prefix: int = 0):
        """Quantize latents ``z`` (B, D, T).

        Returns (quantized (B, D, T), codes (B, n_q, T), commitment loss, the sum of the first ``prefix``
        quantizers' outputs (B, D, T): the coarse latents a lower bitrate would carry; ``prefix`` = 0 gives the
        quantized latents again).
        """
        b, d, t = z.shape
        x = z.transpose(1, 2).reshape(b * t, d)
        n = n_q or len(self.quantizers)
        if self.training and self.dropout:
            per_item = torch.randint(1, n + 1, (b,), device=z.device)
        else:
            per_item = torch.full((b,), n, device=z.device)
        active_rows = per_item.repeat_interleave(t)
        residual, out = x, torch.zeros_like(x)
        codes, loss, coarse = [], x.new_zeros(()), None
        for i, vq in enumerate(self.quantizers[:n]):
            if prefix and i == prefix:
                coarse = out
            use = active_rows > i
            q, idx, commit = vq(residual, update=use)
            q = q * use[:, None]
            out = out + q
            residual = residual - q.detach()
            codes.append(idx)
            loss = loss + commit
        coarse = out if coarse is None else coarse

        def shaped(v: torch.Tensor) -> torch.Tensor:
            return v.reshape(b, t, d).transpose(1, 2)

        return shaped(out), torch.stack(codes, 1).reshape(b, t, n).transpose(1, 2), loss, shaped(coarse)
