"""``dslsim trace compose``: a long trace from a schedule of scenes over the times of day (a usage profile)."""

from __future__ import annotations

from pathlib import Path

import click

from dslsim.cli.progress import progress_option
from dslsim.errors import DslsimError
from dslsim.trace.compose_schema import MAX_DAYS


@click.command("compose")
@click.argument("schedule", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=None, metavar="N",
              help="Compose N days: the schedule's day plans in order, from the first again after its last "
                   "(default: the days the schedule spans, the sum of its repeats).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the synthetic scenes (default: the schedule's 'seed'); same seed, same file.")
@progress_option
def compose(schedule, out, days, seed, progress):
    """Compose a long trace from a schedule of scenes: each slot of a day plays a trace (looped or cut to the
    slot, from an optional offset) or seeded synthetic routing, on one op graph (the schedule's reference). A
    day's slots tile 00:00 to 24:00 exactly: no gaps, no overlaps. The trace is written row group by row group
    (bounded memory, whatever the days) with a per-frame 'scene' column; docs/usage-profiles.md has the format.

    \b
    Examples:
      dslsim trace compose examples/usage/week-of-a-wearable.yaml week.parquet
      dslsim trace compose examples/usage/week-of-a-wearable.yaml day.parquet --days 1
      dslsim trace compose examples/usage/week-of-a-wearable.yaml month.parquet --days 30 --seed 2
      dslsim simulate -p watch -t day.parquet

    \b
    A schedule:
      reference: dsl-75hz-10min          # the op graph every scene shares
      seed: 1
      scenes:
        night:   {synth: {light_share: 0.98, mean_burst: "0.3 s"}}
        home:    {trace: dsl-75hz-10min, offset: "2 min"}
      days:
        - name: weekday
          repeat: 5 days
          scenes:
            - {scene: night, at: "00:00"}
            - {scene: home, at: "07:00"}
            - {scene: night, at: "23:00"}
    """
    from tqdm import tqdm

    from dslsim.trace.compose import compose as run, load_schedule

    if Path(out).resolve() == Path(schedule).resolve():
        raise DslsimError(f"{out}: the output would replace the schedule itself; name another file.")
    plan = load_schedule(schedule)
    total = plan.frames(days or plan.span_days)
    disable = None if progress is None else not progress
    with tqdm(total=total, desc="compose", unit="frame", unit_scale=True, dynamic_ncols=True, leave=False,
              disable=disable) as bar:
        def advance(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        result = run(plan, out, days=days, seed=seed, progress=advance)
    scenes = ", ".join(f"{name} {100 * n / result.frames:.1f} %" for name, n in result.scene_frames.items())
    paths = ", ".join(f"{name} {100 * n / result.frames:.1f} %" for name, n in result.path_frames.items())
    click.echo(f"wrote {out}: {result.frames:,} frames, {result.days} day{'s' if result.days > 1 else ''} at "
               f"{result.frame_rate:g} frames/s (seed {result.seed}, {result.row_groups} row groups)")
    click.echo(f"  scenes  {scenes}")
    click.echo(f"  paths   {paths}")
    if result.dropped:
        click.echo(f"  left out the columns {'; '.join(result.dropped)}")
