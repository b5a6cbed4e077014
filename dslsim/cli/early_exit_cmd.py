"""``dslsim model early-exit``: the worked early-exit example (train, its exit table, a trace from it)."""

from __future__ import annotations

import click

from dslsim.cli.model_cmd import need_torch
from dslsim.cli.params import Number, NumberList, Quantity, Seed, Threshold, option
from dslsim.errors import DslsimError
from dslsim.shipped import EARLY_EXIT_CHECKPOINT


#: One threshold per exit but the last, in [0, 1].
THRESHOLDS = NumberList(Threshold(), example="0.8,0.8")


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
@option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="Checkpoint to write.")
@option("--steps", type=click.IntRange(min=1), default=1500, show_default=True, help="Training steps.")
@option("--width", type=click.IntRange(min=1), default=32, show_default=True, help="Channels.")
@option("--seed", type=Seed(), default=0, show_default=True)
@option("--threads", type=click.IntRange(min=1), default=None, help="Torch threads (default: up to 4).")
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
@option("--checkpoint", type=click.Path(dir_okay=False), default=None, help="Default: the shipped one.")
@option("--seconds", type=Number(1), default=120.0, show_default=True,
              help="Length of each held-out scene.")
@option("--clips", type=click.IntRange(min=1), default=5, show_default=True, help="Held-out scenes.")
@option("--thresholds", "threshold_sets", multiple=True, metavar="T1,T2", type=THRESHOLDS,
              help="One threshold per exit but the last; repeat for a curve (default: 0.95,0.95 to 0.5,0.5).")
@option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
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
    sets = [list(t) for t in threshold_sets] or [[t] * (k - 1) for t in (0.95, 0.9, 0.8, 0.7, 0.5)]
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
@option("--checkpoint", type=click.Path(dir_okay=False), default=None, help="Default: the shipped one.")
@option("--thresholds", default="0.8,0.8", show_default=True, metavar="T1,T2", type=THRESHOLDS,
              help="One threshold per exit but the last (the decisions stored in the trace; sweeps can move them).")
@option("--duration", default="10 min", show_default=True, type=Quantity("s", 0, min_open=True),
              help="Length of the held-out scene.")
@option("--seed", type=Seed(), default=20_000, show_default=True, help="Seed of the scene.")
@option("--features", type=click.Choice(["none", "logmel"]), default="logmel", show_default=True,
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

    path = checkpoint or EARLY_EXIT_CHECKPOINT
    model = load(path)
    if len(thresholds) != model.config.exits - 1:
        raise DslsimError(f"--thresholds {','.join(f'{t:g}' for t in thresholds)}: expected {model.config.exits - 1} "
                          f"numbers (exits 1 to {model.config.exits - 1}).")
    t = export(model, list(thresholds), seconds=duration, seed=seed, source=checkpoint_source(path))
    if features == "logmel":
        t = with_frontend(t, frontend_stage(SAMPLE_RATE, HOP, features="logmel", n_fft=WINDOW, n_mels=N_MELS,
                                            feature_hop=HOP))
    write_trace(t, out)
    shares = t.frames["path"].value_counts(normalize=True, sort=False)
    click.echo(f"wrote {out}: {len(t):,} frames, " + ", ".join(f"{p} {v:.3f}" for p, v in shares.items())
               + f"; routed error rate {t.routed_error()['error']:.4f}")
