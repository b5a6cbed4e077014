"""Measure the per-frame op graph of each stage: per-layer ops from forward hooks (analytic formulas on the
shapes that actually ran), totals from ``torch.utils.flop_counter.FlopCounterMode``; the two must agree.

Formulas (per call; divided by the number of frames for per-frame figures):

* Conv1d: MACs = C_out * (C_in / groups) * k * L_out
* ConvTranspose1d: MACs = C_in * (C_out / groups) * k * L_in (input length, before the causal trim)
* Linear: in_features * out_features * rows
* residual unit: 3 * N * L element operations (two ELUs and the skip add), as 'elementwise'
* RVQ: the nearest-code search is a matmul, n_q * K * D MACs per frame ('vq_search'), measured by the counter
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dslsim.model.dsl import DSLCodec
from dslsim.model.layers import ResidualUnit
from dslsim.trace.architecture import SHARED_STAGES
from dslsim.trace.schema import DTYPE_BYTES, Op, Stage


def _hooked_ops(module: nn.Module, run: Callable[[], object], frames: int, bpe: int, dtype: str
                ) -> tuple[list[Op], float]:
    """(per-frame ops from hooks, measured MACs per frame) for one call of ``run``."""
    ops: list[Op] = []
    names = {m: n for n, m in module.named_modules()}

    def hook(mod, inputs, output):
        x = inputs[0]
        if isinstance(mod, nn.ConvTranspose1d):
            macs = mod.in_channels * (mod.out_channels // mod.groups) * mod.kernel_size[0] * x.shape[-1] * x.shape[0]
            kind = "conv_transpose1d"
        elif isinstance(mod, nn.Conv1d):
            macs = mod.out_channels * (mod.in_channels // mod.groups) * mod.kernel_size[0] * output.shape[-1] \
                * output.shape[0]
            kind = "conv1d"
        elif isinstance(mod, nn.Linear):
            macs = mod.in_features * mod.out_features * (x.numel() // x.shape[-1])
            kind = "linear"
        elif isinstance(mod, ResidualUnit):
            n = output.numel()
            ops.append(Op(name=f"{names[mod]}.elu_add", kind="elementwise", macs=3 * n / frames,
                          act_in_bytes=n * bpe / frames, act_out_bytes=n * bpe / frames, dtype=dtype))
            return
        else:
            return
        params = sum(p.numel() for p in mod.parameters(recurse=False))
        ops.append(Op(name=names[mod] or mod.__class__.__name__, kind=kind, macs=macs / frames,
                      weight_bytes=float(params * bpe), act_in_bytes=x.numel() * bpe / frames,
                      act_out_bytes=output.numel() * bpe / frames, dtype=dtype))

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear, ResidualUnit))]
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return ops, counter.get_total_flops() / 2 / frames


def measure_stages(model: DSLCodec, frames: int = 16, dtype: str = "int8") -> tuple[dict[str, Stage], dict]:
    """Op lists of encoder, rvq, switch, light_decoder and full_decoder, per frame, plus the measured totals.

    Byte counts assume the model is deployed in ``dtype`` (weights and activations).
    """
    model = model.eval()
    cfg = model.config
    bpe = DTYPE_BYTES[dtype]
    audio = torch.zeros(1, 1, frames * cfg.hop)
    with torch.no_grad():
        z = model.encoder(audio)
        q, _, _, coarse = model.rvq(z, prefix=cfg.light_codebooks)
    stages: dict[str, Stage] = {}
    measured: dict[str, float] = {}
    for name, module, run in (
        ("encoder", model.encoder, lambda: model.encoder(audio)),
        ("switch", model.switch, lambda: model.switch(model.switch_input(q, coarse))),
        ("light_decoder", model.light_decoder, lambda: model.light_decoder(coarse)),
        ("full_decoder", model.full_decoder, lambda: model.full_decoder(q)),
    ):
        ops, measured[name] = _hooked_ops(module, run, frames, bpe, dtype)
        stages[name] = Stage(name, tuple(ops))
    _, measured["rvq"] = _hooked_ops(model.rvq, lambda: model.rvq(z), frames, bpe, dtype)
    n_q, k, d = cfg.n_q, cfg.codebook_size, cfg.embed_dim
    stages["rvq"] = Stage("rvq", (
        Op(name="search", kind="vq_search", macs=measured["rvq"], weight_bytes=float(n_q * k * d * bpe),
           act_in_bytes=float(d * bpe), act_out_bytes=float(n_q * 2), dtype=dtype),
        Op(name="residual_update", kind="elementwise", macs=float(2 * n_q * d), act_in_bytes=float(d * bpe),
           act_out_bytes=float(d * bpe), dtype=dtype)))
    if cfg.agc_seconds:  # the level normalisation is functional, so hooks do not see it: count it here
        hop = cfg.hop
        agc_in = Op(name="agc.normalise", kind="elementwise", macs=float(2 * hop + 3),
                    act_in_bytes=float(hop * bpe), act_out_bytes=float(hop * bpe), dtype=dtype)
        stages["encoder"] = Stage("encoder", (agc_in,) + stages["encoder"].ops)
        for name in ("light_decoder", "full_decoder"):
            agc_out = Op(name="agc.rescale", kind="elementwise", macs=float(hop), act_in_bytes=float(hop * bpe),
                         act_out_bytes=float(hop * bpe), dtype=dtype)
            stages[name] = Stage(name, stages[name].ops + (agc_out,))
    order = SHARED_STAGES + ["light_decoder", "full_decoder"]
    return {n: stages[n] for n in order}, measured
