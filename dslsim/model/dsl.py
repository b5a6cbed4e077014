"""DSL-SoundStream: encoder -> RVQ -> Dynamic Switch Layer -> light decoder or full decoder, per latent frame.

The switch scores each quantized latent frame (with a few frames of causal context) p_t in [0, 1]: how likely
the frame is among those the full decoder helps most. It is trained without labels on a stop-gradient target
from the model's own outputs (see :mod:`dslsim.model.train`); inference thresholds p_t at the calibrated
:attr:`DSLCodec.threshold`, and the decoders are trained on the per-frame mix that this hard gate routes.

**Residual full path** (``CodecConfig.residual_full``, the default for new models): the full path is the light
decoder's output plus a correction from the full decoder, whose output layer starts at zero. At initialisation
the two paths are identical, so the full path can only learn to help; the light decoder then runs on every frame
(its history never goes stale) and the full path costs light + full decoder, as its trace stages say.

**Level normalisation** (``CodecConfig.agc_seconds``, 0.5 s for new models): the codec divides its input by a
causal running level (an AGC's) and multiplies its output back, so a quiet scene reaches the network at the level
of a loud one. Without it, a refinement that starts at zero could only add noise to quiet scenes at first, and
the full path trailed the light one in every trial (docs/model.md).

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

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dslsim.model.codec import CodecConfig, decoder, encoder
from dslsim.model.layers import CausalConv1d, StreamState
from dslsim.trace.architecture import dsl_paths
from dslsim.trace.budget import BudgetController
from dslsim.model.rvq import ResidualVQ


class Switch(nn.Module):
    """Per-frame gate on the quantized latents (B, D, T): a causal conv over the last ``context`` frames (D ->
    hidden), ELU, a 1x1 conv (hidden -> 1), sigmoid. Returns scores (B, T) in [0, 1]; :meth:`logits` before the
    sigmoid. With ``context`` = 1 it is a two-layer MLP on each frame."""

    def __init__(self, dim: int, hidden: int, context: int = 1):
        super().__init__()
        self.fc1 = CausalConv1d(dim, hidden, context)
        self.fc2 = nn.Conv1d(hidden, 1, 1)

    def logits(self, q: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores (B, T)."""
        return self.fc2(F.elu(self.fc1(q))).squeeze(1)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(q))


class DSLCodec(nn.Module):
    """The whole model; ``switch`` is the DSL gate and ``gc_switch`` the supervised Gated Compression baseline."""

    def __init__(self, config: CodecConfig):
        super().__init__()
        self.config = config
        self.encoder = encoder(config.width, config.embed_dim)
        self.rvq = ResidualVQ(config.embed_dim, config.n_q, config.codebook_size)
        self.switch = Switch(config.switch_inputs, config.switch_hidden, config.switch_context)
        self.gc_switch = Switch(config.switch_inputs, config.switch_hidden, config.switch_context)
        # The DSL threshold that sends the training budget's share of frames full (a running quantile of the
        # switch scores, kept with the weights): the default at inference.
        self.register_buffer("threshold", torch.tensor(0.5))
        self.light_decoder = decoder(config.light, config.embed_dim, config.light_units, config.light_input_kernel)
        self.full_decoder = decoder(config.width, config.embed_dim)
        if config.residual_full:
            # The full path refines the light one: it starts exactly equal to it and can only learn to help.
            last = self.full_decoder.layers[-1]
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)

    def gain(self, audio: torch.Tensor) -> torch.Tensor:
        """Per-frame level (B, T): the square root of a causal running mean of frame energies (time constant
        ``CodecConfig.agc_seconds``), as an always-on pipeline's AGC would track it; 1 when the codec does not
        normalise. The codec sees ``audio / gain`` and its output is scaled back, so a quiet scene reaches the
        network at the level of a loud one."""
        hop = self.config.hop
        frames = audio.shape[-1] // hop
        if not self.config.agc_seconds:
            return audio.new_ones(audio.shape[0], frames)
        energy = (audio[..., : frames * hop] ** 2).reshape(audio.shape[0], frames, hop).mean(-1)
        a = math.exp(-1.0 / (self.config.frame_rate * self.config.agc_seconds))
        level, out = energy[:, 0], []
        for t in range(frames):
            level = a * level + (1 - a) * energy[:, t]
            out.append(level)
        return torch.sqrt(torch.stack(out, dim=1) + 1e-10)

    def _scale(self, x: torch.Tensor, gain: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        g = gain.repeat_interleave(self.config.hop, dim=1)[:, None, :]
        return x * g if inverse else x / g

    def encode(self, audio: torch.Tensor):
        """Audio (B, 1, N) -> quantized latents (B, D, T), the light decoder's input (B, D, T), commitment loss
        (of the level-normalised audio). The light decoder's input is the quantized latents themselves, or with
        ``CodecConfig.light_codebooks`` the coarse latents of the first quantizers."""
        q, _, commit, coarse = self.rvq(self.encoder(self._scale(audio, self.gain(audio))),
                                        prefix=self.config.light_codebooks)
        return q, coarse, commit

    def switch_input(self, q: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """What the switches read: the quantized latents, and with ``CodecConfig.switch_detail`` also the detail
        the light decoder does not get (``q - coarse``), stacked on the channel axis."""
        return torch.cat([q, q - coarse], dim=1) if self.config.switch_detail else q

    def forward(self, audio: torch.Tensor) -> dict:
        """Training pass: both decoders on every frame.

        Returns dict with 'light', 'full' (B, 1, N), the switches' detached input 'switch_in' (B, D or 2D, T),
        the DSL switch's 'logits' (B, T) on it (the switch is trained on its own targets and does not shape the
        codec), and the RVQ's 'commit' loss.
        """
        q, coarse, commit = self.encode(audio)
        light, full = self.decode_paths(q, self.gain(audio), coarse)
        switch_in = self.switch_input(q, coarse).detach()
        return {"light": light, "full": full, "switch_in": switch_in, "logits": self.switch.logits(switch_in),
                "commit": commit}

    def decode_paths(self, q: torch.Tensor, gain: torch.Tensor, coarse: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both paths' output for every frame (whole-sequence history), at the input's level: (light, full).
        ``coarse``: the light decoder's input, if not ``q`` (see :meth:`encode`)."""
        light = self.light_decoder(q if coarse is None else coarse)
        full = light + self.full_decoder(q) if self.config.residual_full else self.full_decoder(q)
        return self._scale(light, gain, True), self._scale(full, gain, True)

    def mix(self, light: torch.Tensor, full: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        """Per frame block: ``gate`` (B, T) of the full decoder's output, the rest from the light one."""
        g = gate.repeat_interleave(self.config.hop, dim=1)[:, None, :]
        return g * full + (1 - g) * light

    @torch.no_grad()
    def infer(self, audio: torch.Tensor, threshold: float | None = None, route: str = "dsl",
              progress: Callable[[int], None] | None = None, mask: torch.Tensor | None = None,
              budget: BudgetController | None = None) -> dict:
        """Streaming inference with hard routing and frozen decoder states (one clip, batch of 1).

        ``route``: 'dsl' or 'gc' (threshold the switch), 'light' or 'full' (always one path). ``threshold``
        defaults to the calibrated one (:attr:`threshold`) for 'dsl' and 0.5 for 'gc'. ``progress(n)`` is called
        with the number of frames streamed since its last call. ``mask`` (T,) bool: route by it instead (True =
        full), for routers that are not the model's own (an oracle, a random one). ``budget``: route 'dsl' or
        'gc' by an online budget controller's per-frame threshold instead of a fixed one (its initial threshold
        is its own; ``threshold`` is then unused).
        Returns 'audio' (1, 1, N), 'full_mask' (T,) bool, 'score' (T,), 'threshold' (T,) float32 (the threshold
        each frame was routed by; NaN for forced or mask routes), and each path's own output for every frame
        ('light', 'full'; computed with whole-sequence history, for per-path error columns).
        """
        q, coarse, _ = self.encode(audio)
        score = (self.gc_switch if route == "gc" else self.switch)(self.switch_input(q, coarse))[0]
        if mask is not None:
            mask = mask.to(torch.bool)
            if mask.shape != score.shape:
                raise ValueError(f"mask has shape {tuple(mask.shape)}; expected one flag per frame {tuple(score.shape)}")
        cut = torch.full_like(score, float("nan"))
        if mask is not None:
            pass
        elif route in ("light", "full"):
            mask = torch.full_like(score, route == "full", dtype=torch.bool)
        elif budget is not None:
            if not math.isclose(budget.frame_rate, self.config.frame_rate):
                raise ValueError(f"budget controller at {budget.frame_rate} frames/s; this model streams "
                                 f"{self.config.frame_rate} frames/s")
            # The switch reads latents that do not depend on the routing, so the causal controller run over the
            # whole score sequence gives exactly what it would frame by frame. Float32 thresholds: what a trace
            # stores and a device compares with.
            cut = torch.from_numpy(budget.thresholds(score.numpy()).astype(np.float32))
            mask = score >= cut
        else:
            if threshold is None:
                threshold = float(self.threshold) if route == "dsl" else 0.5
            cut = torch.full_like(score, threshold)
            mask = score >= threshold
        residual = self.config.residual_full
        states: dict[str, StreamState] = {"light": {}, "full": {}}
        blocks = []
        for t in range(q.shape[-1]):
            frame, light_in = q[..., t:t + 1], coarse[..., t:t + 1]
            if residual:  # the light decoder runs on every frame; full frames add the refinement
                block = self.light_decoder.stream(light_in, states["light"])
                if mask[t]:
                    block = block + self.full_decoder.stream(frame, states["full"])
            elif mask[t]:
                block = self.full_decoder.stream(frame, states["full"])
            else:
                block = self.light_decoder.stream(light_in, states["light"])
            blocks.append(block)
            if progress and (t + 1) % 50 == 0:
                progress(50)
        out = torch.cat(blocks, dim=-1) if blocks else audio[..., :0]
        g = self.gain(audio)
        light, full = self.decode_paths(q, g, coarse)
        return {"audio": self._scale(out, g, True), "full_mask": mask, "score": score, "threshold": cut,
                "light": light, "full": full}

    def budget_controller(self, light_share: float, time_constant_s: float = 10.0) -> BudgetController:
        """An online light-budget controller for this model's frame rate, starting from its calibrated threshold
        (:attr:`threshold`) until it has seen enough frames of the audio it runs on."""
        return BudgetController(light_share=light_share, time_constant_s=time_constant_s,
                                frame_rate=self.config.frame_rate, initial_threshold=float(self.threshold))

    @property
    def paths(self) -> dict[str, list[str]]:
        """The stages each path runs (a residual full path runs the light decoder too)."""
        return dsl_paths(self.config.residual_full)
