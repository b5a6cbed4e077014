"""``dslsim train`` and ``dslsim model``: train the DSL codec and print the paper-style table (needs torch)."""

from __future__ import annotations

from pathlib import Path

import click

from dslsim.errors import DslsimError

#: The small trained checkpoint shipped with dslsim (C=8, 16 kHz).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[1] / "model" / "assets" / "dsl-c8-16k.pt"


def need_torch():
    """Import torch or explain how to get it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise DslsimError("this command needs PyTorch: pip install -e '.[model]' (torch==2.13.0, CPU build).") from None


def _seconds(text: str, what: str) -> float:
    from dslsim.units import parse_quantity

    return parse_quantity(text, "s", what, "", strictly_positive=True)


@click.command()
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="checkpoints/dsl.pt", show_default=True,
              help="Checkpoint to write; if it exists, training resumes from it.")
@click.option("--time-budget", default="12 min", show_default=True, help="Stop after this long ('none' for no limit).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Stop after this many steps.")
@click.option("--width", type=click.IntRange(min=1), default=16, show_default=True, help="Channel width C.")
@click.option("--embed-dim", type=click.IntRange(min=1), default=None, help="Embedding dimension D (default 4C).")
@click.option("--n-q", type=click.IntRange(min=1), default=6, show_default=True, help="Quantizers.")
@click.option("--codebook-size", type=click.IntRange(min=2), default=1024, show_default=True,
              help="Codes per quantizer (6 x 1024 codes at 50 frames/s = 3 kbit/s).")
@click.option("--switch-context", type=click.IntRange(min=1), default=3, show_default=True,
              help="Latent frames the switch sees (the current one and the ones before it).")
@click.option("--sample-rate", type=click.Choice(["16000", "24000"]), default="16000", show_default=True,
              help="16 kHz (50 frames/s) or 24 kHz (75 frames/s).")
@click.option("--target-full-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True, help="Compute budget: the share of frames on the full path.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--seconds", "clip_seconds", type=float, default=0.64, show_default=True, help="Clip length per item.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-3, show_default=True,
              help="Adam learning rate (a resumed run takes this one, not the saved one).")
@click.option("--speech-dir", "speech_dirs", type=click.Path(file_okay=False, exists=True), multiple=True,
              help="Clean recorded speech (*.wav, any rate) to mix into the generated scenes; repeatable.")
@click.option("--wav-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Train on your WAV files as they are (any rate; resampled) instead of scenes.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch threads (default: $DSLSIM_THREADS, else the cores up to 4).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fresh", is_flag=True, help="Start over even if --out exists.")
def train(out, time_budget, steps, width, embed_dim, n_q, codebook_size, switch_context, sample_rate,
          target_full_share, batch, clip_seconds, lr, speech_dirs, wav_dir, threads, seed, fresh):
    """Train DSL-SoundStream without labels (and the supervised GC switch), with checkpoints and resume.

    \b
    Examples:
      dslsim train --out checkpoints/dsl.pt                 # 12 min, generated speech
      dslsim train --out checkpoints/dsl.pt --steps 200 --width 8 --n-q 4 --codebook-size 256
      dslsim train --out runs/dsl.pt --steps 30000 --time-budget none --threads 1 \\
          --speech-dir /usr/share/asterisk/sounds/es_MX_f_Allison   # real speech (docs/model.md)
      dslsim train --out my.pt --wav-dir recordings/ --time-budget "30 min"
    """
    need_torch()
    from tqdm import tqdm

    from dslsim.model.codec import CodecConfig
    from dslsim.model.train import TrainConfig, train as run

    budget = None if time_budget.strip().lower() == "none" else _seconds(time_budget, "--time-budget")
    if budget is None and steps is None:
        raise DslsimError("give --steps or a --time-budget; training needs an end.")
    codec = CodecConfig(sample_rate=int(sample_rate), width=width, embed_dim=embed_dim or 4 * width, n_q=n_q,
                        codebook_size=codebook_size, switch_context=switch_context)
    cfg = TrainConfig(steps=steps, time_budget_s=budget, batch=batch, seconds=clip_seconds, seed=seed, lr=lr,
                      target_full_share=target_full_share, wav_dir=wav_dir, speech_dirs=tuple(speech_dirs),
                      threads=threads)
    total = steps or int(budget)
    bars = []

    def tick(state, logs):
        done = state.step if steps else min(int(state.elapsed_s), total)
        if not bars:  # made at the first step, so a resumed run starts at its checkpoint without a bogus rate
            bars.append(tqdm(total=total, initial=done, unit="step" if steps else "s", desc="train",
                             dynamic_ncols=True))
        bars[0].update(done - bars[0].n)
        bars[0].set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)

    if fresh and Path(out).exists():
        Path(out).unlink()
    try:
        path = run(codec, cfg, out, resume=True, progress=tick)
    finally:
        for bar in bars:
            bar.close()
    click.echo(f"wrote {path}")


@click.group()
def model():
    """Inspect a trained model: the paper-style table.

    \b
    Example:
      dslsim model table
    """


@model.command()
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint (default: the shipped one).")
@click.option("--clips", type=click.IntRange(min=1), default=8, show_default=True, help="Held-out scenes.")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Length of each scene.")
@click.option("--threshold", "thresholds", type=click.FloatRange(0, 1), multiple=True,
              help="Switch threshold(s); repeat for a trade-off curve (default 0.5).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
def table(checkpoint, clips, seconds, thresholds, csv_out):
    """Always-full vs always-light vs DSL vs GC: light share, MACs, mel distance and SI-SDR (overall, speech).

    \b
    Example:
      dslsim model table --clips 8 --seconds 10
      dslsim model table --threshold 0.2 --threshold 0.5 --threshold 0.8
    """
    need_torch()
    from dslsim.model.evaluate import evaluation_set, paper_table
    from dslsim.model.train import load_model

    m, payload = load_model(checkpoint or SHIPPED_CHECKPOINT)
    cfg = m.config
    df, ratios = paper_table(m, evaluation_set(clips, seconds, cfg.sample_rate, cfg.hop), list(thresholds) or [0.5])
    click.echo(f"model C={cfg.width} D={cfg.embed_dim} light C={cfg.light}, {payload['state']['step']} training steps; "
               f"{clips} held-out scenes of {seconds:g} s")
    click.echo(f"light decoder: {ratios['decoder_mac_ratio']:.1f}x fewer MACs, {ratios['decoder_param_ratio']:.1f}x "
               f"fewer parameters than the full decoder; dense {ratios['dense_MMAC_per_frame']:.3f} MMAC/frame")
    click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if csv_out:
        from dslsim.fileio import write_atomic

        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))


@model.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
def pack(checkpoint, out):
    """Copy a checkpoint without its optimizer state (about a third of the size), e.g. to ship it.

    \b
    Example:
      dslsim model pack checkpoints/dsl.pt dslsim/model/assets/dsl-c8-16k.pt
    """
    need_torch()
    import torch

    from dslsim.fileio import write_atomic
    from dslsim.model.train import load_checkpoint

    payload = load_checkpoint(checkpoint)
    payload["optimizer"] = None
    write_atomic(out, lambda p: torch.save(payload, p))
    click.echo(f"wrote {out}")
