"""DSL-SoundStream: encoder -> RVQ -> Dynamic Switch Layer -> light decoder or full decoder, per latent frame.

The switch is a two-layer MLP on each quantized latent frame giving a score p_t in [0, 1] (the chance that the
frame needs the full decoder). Training mixes the decoders' outputs per frame block with a gate g_t (soft, or
hard with a straight-through gradient); inference thresholds p_t.

**Causal history across switches (decided here, tested in tests/test_model.py).** At inference each decoder is
a stream that advances only on the frames routed to it: a skipped decoder's state is frozen, not advanced, so
when it resumes it continues from its own last frame as if the skipped frames had not existed. The invariant is
exact and cheap (a skipped decoder costs nothing): the light decoder's outputs on its frames equal the light
decoder run over the subsequence of latents routed to it. The alternatives cost compute the trace does not
show: re-running a decoder over the skipped frames' latents (its full price on every frame), or a zero reset
(frozen state is closer to the truth: the previous burst of the same kind). Training sees full histories, so
the evaluation runs the frozen-state inference, which is what the quality numbers describe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dslsim.model.codec import CodecConfig, decoder, encoder
from dslsim.model.layers import StreamState
from dslsim.model.rvq import ResidualVQ


class Switch(nn.Module):
    """Per-frame gate: D -> hidden -> 1, sigmoid. Returns scores (B, T) in [0, 1]."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc2(F.elu(self.fc1(q.transpose(1, 2))))).squeeze(-1)


class DSLCodec(nn.Module):
    """The whole model; ``switch`` is the DSL gate and ``gc_switch`` the supervised Gated Compression baseline."""

    def __init__(self, config: CodecConfig):
        super().__init__()
        self.config = config
        self.encoder = encoder(config.width, config.embed_dim)
        self.rvq = ResidualVQ(config.embed_dim, config.n_q, config.codebook_size)
        self.switch = Switch(config.embed_dim, config.switch_hidden)
        self.gc_switch = Switch(config.embed_dim, config.switch_hidden)
        self.light_decoder = decoder(config.light, config.embed_dim, config.light_units, config.light_input_kernel)
        self.full_decoder = decoder(config.width, config.embed_dim)

    def encode(self, audio: torch.Tensor):
        """Audio (B, 1, N) -> quantized latents (B, D, T), codes, commitment loss."""
        return self.rvq(self.encoder(audio))

    def forward(self, audio: torch.Tensor, hard: bool = False, gc: bool = False):
        """Training pass: both decoders on every frame, mixed per frame block by the gate.

        Returns dict with 'mix', 'light', 'full' (B, 1, N), 'score' and 'gate' (B, T) and 'commit'.
        """
        q, _, commit = self.encode(audio)
        score = (self.gc_switch if gc else self.switch)(q)
        gate = score
        if hard:
            gate = (score >= 0.5).to(score.dtype) + score - score.detach()
        light, full = self.light_decoder(q), self.full_decoder(q)
        g = gate.repeat_interleave(self.config.hop, dim=1)[:, None, :]
        return {"mix": g * full + (1 - g) * light, "light": light, "full": full, "score": score, "gate": gate,
                "commit": commit}

    @torch.no_grad()
    def infer(self, audio: torch.Tensor, threshold: float = 0.5, route: str = "dsl") -> dict:
        """Streaming inference with hard routing and frozen decoder states (one clip, batch of 1).

        ``route``: 'dsl' or 'gc' (threshold the switch), 'light' or 'full' (always one path).
        Returns 'audio' (1, 1, N), 'full_mask' (T,) bool, 'score' (T,), and each path's own output for every
        frame ('light', 'full'; computed with whole-sequence history, for per-path error columns).
        """
        q, _, _ = self.encode(audio)
        score = (self.gc_switch if route == "gc" else self.switch)(q)[0]
        if route in ("light", "full"):
            mask = torch.full_like(score, route == "full", dtype=torch.bool)
        else:
            mask = score >= threshold
        states: dict[str, StreamState] = {"light": {}, "full": {}}
        blocks = []
        for t in range(q.shape[-1]):
            name = "full" if mask[t] else "light"
            dec = self.full_decoder if mask[t] else self.light_decoder
            blocks.append(dec.stream(q[..., t:t + 1], states[name]))
        out = torch.cat(blocks, dim=-1) if blocks else audio[..., :0]
        return {"audio": out, "full_mask": mask, "score": score,
                "light": self.light_decoder(q), "full": self.full_decoder(q)}
