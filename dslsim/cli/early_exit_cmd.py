"""``dslsim model early-exit``: the worked early-exit example (train, its exit table, a trace from it)."""

from __future__ import annotations

import click

from dslsim.cli.model_cmd import need_torch
from dslsim.cli.trace_cmd import comma_numbers
from dslsim.errors import DslsimError
from dslsim.shipped import EARLY_EXIT_CHECKPOINT


def _thresholds(text: str) -> list[float]:
    values = comma_numbers(text, "--thresholds")
    if not all(0 <= v <= 1 for v in values):
        raise DslsimError(f"thresholds {text!r}: expected numbers in [0, 1].")
    return values


@click.group("early-exit")
def early_exit():
    """A three-exit speech detector on the generated always-on scenes: how to bring a dynamic network of your
    own (docs/dynamic-networks.md).

    \b
    Examples:
      dslsim model early-exit table
      dslsim model early-exit export ee.parquet --thresholds 0.8,0.8
      dslsim model early-exit train --out ee.pt --steps 1500
    """


@early_exit.command("train")
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="Checkpoint to write.")
@click.option("--steps", type=click.IntRange(min=1), default=1500, show_default=True, help="Training steps.")
@click.option("--width", type=click.IntRange(min=1), default=32, show_default=True, help="Channels.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch threads (default: up to 4).")
def train_cmd(out, steps, width, seed, threads):
    """Train all exits together on random crops of 384 generated scenes (about a minute and a half on one core).

    \b
    Example:
      dslsim model early-exit train --out ee.pt --steps 1500 --threads 1
    """
    need_torch()
    from tqdm import tqdm

    from dslsim.model.early_exit import DetectorConfig, save, timed_train
    from dslsim.model.train import set_threads

    set_threads(threads)
    with tqdm(total=steps, desc="early-exit train", unit="step", dynamic_ncols=True, disable=None) as bar:
        def tick(step: int, loss: float) -> None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")
        model, record = timed_train(steps, DetectorConfig(width=width), seed, progress=tick)
    save(model, out, record)
    click.echo(f"wrote {out}: {record['steps']} steps in {record['wall_s']:.0f} s, mean loss of the last 50 "
               f"{record['final_loss_mean_last_50']:.4f}")


@early_exit.command("table")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None, help="Default: the shipped one.")
@click.option("--seconds", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Length of each held-out scene.")
@click.option("--clips", type=click.IntRange(min=1), default=5, show_default=True, help="Held-out scenes.")
@click.option("--thresholds", "threshold_sets", multiple=True, metavar="T1,T2",
              help="One threshold per exit but the last; repeat for a curve (default: 0.95,0.95 to 0.5,0.5).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
def table_cmd(checkpoint, seconds, clips, threshold_sets, csv_out):
    """Exit shares vs quality on held-out scenes: each exit alone, then the cascade at each threshold set
    (share of frames per exit, error rate overall and on speech frames, mean exit).

    \b
    Examples:
      dslsim model early-exit table
      dslsim model early-exit table --thresholds 0.9,0.9 --thresholds 0.7,0.6 --csv exits.csv
    """
    need_torch()
    from dslsim.model.early_exit import evaluate, exit_table, load

    model = load(checkpoint or EARLY_EXIT_CHECKPOINT)
    k = model.config.exits
    sets = [_thresholds(t) for t in threshold_sets] or [[t] * (k - 1) for t in (0.95, 0.9, 0.8, 0.7, 0.5)]
    for ts in sets:
        if len(ts) != k - 1:
            raise DslsimError(f"--thresholds {','.join(map(str, ts))}: expected {k - 1} numbers (exits 1 to {k - 1}).")
    df = exit_table(evaluate(model, seconds=seconds, clips=clips), sets)
    click.echo(f"{k}-exit detector (C={model.config.width}) on {clips} held-out scenes of {seconds:g} s")
    click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if csv_out:
        from dslsim.fileio import write_atomic

        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))
        click.echo(f"wrote {csv_out}")


@early_exit.command("export")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None, help="Default: the shipped one.")
@click.option("--thresholds", default="0.8,0.8", show_default=True, metavar="T1,T2",
              help="One threshold per exit but the last (the decisions stored in the trace; sweeps can move them).")
@click.option("--duration", default="10 min", show_default=True, help="Length of the held-out scene.")
@click.option("--seed", type=int, default=20_000, show_default=True, help="Seed of the scene.")
@click.option("--features", type=click.Choice(["none", "logmel"]), default="logmel", show_default=True,
              help="Prepend the audio front end that computes the detector's log-mel input.")
def export_cmd(out, checkpoint, thresholds, duration, seed, features):
    """Write a K-path trace from the detector: measured ops per block and head, each exit's confidence and
    error per frame, speech labels, routed by the thresholds; with the log-mel front end as a stage.

    \b
    Examples:
      dslsim model early-exit export ee.parquet
      dslsim simulate -p earbud -t ee.parquet
    """
    need_torch()
    from dslsim.model.early_exit import HOP, N_MELS, SAMPLE_RATE, WINDOW, export, load
    from dslsim.shipped import checkpoint_source
    from dslsim.trace.frontend import frontend_stage, with_frontend
    from dslsim.trace.io import write_trace
    from dslsim.units import parse_quantity

    path = checkpoint or EARLY_EXIT_CHECKPOINT
    model = load(path)
    seconds = parse_quantity(duration, "s", "--duration", "", strictly_positive=True)
    t = export(model, _thresholds(thresholds), seconds=seconds, seed=seed, source=checkpoint_source(path))
    if features == "logmel":
        t = with_frontend(t, frontend_stage(SAMPLE_RATE, HOP, features="logmel", n_fft=WINDOW, n_mels=N_MELS,
                                            feature_hop=HOP))
    write_trace(t, out)
    shares = t.frames["path"].value_counts(normalize=True, sort=False)
    click.echo(f"wrote {out}: {len(t):,} frames, " + ", ".join(f"{p} {v:.3f}" for p, v in shares.items())
               + f"; routed error rate {t.routed_error()['error']:.4f}")
