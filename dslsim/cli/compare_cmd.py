"""``dslsim compare``: two runs, or two scenarios of one profile and trace, side by side."""

from __future__ import annotations

import click

from dslsim.cli.feasibility import feasibility_options, finish
from dslsim.errors import DslsimError


@click.command()
@click.argument("runs", nargs=-1, type=click.Path(file_okay=False, exists=True))
@click.option("--profile", "-p", metavar="NAME|FILE", help="With --trace and two --scenario: simulate both.")
@click.option("--trace", "-t", "trace_path", metavar="NAME|FILE", help="Trace for the two scenarios.")
@click.option("--scenario", "-s", "scenarios", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="A scenario file; give two (or one, against the profile's default).")
@click.option("--csv", "csv_prefix", metavar="PREFIX", help="Also write PREFIX-headline.csv and PREFIX-states.csv.")
@click.option("--uncertainty", "draws", type=click.IntRange(min=2, max=100_000), default=None, metavar="N",
              help="With --profile: draw N profiles, price both scenarios with each, and say which differences lie "
                   "within the model's uncertainty (the 5-95 % band of the paired difference contains 0).")
@feasibility_options
def compare(runs, profile, trace_path, scenarios, csv_prefix, draws, max_misses, anyway):
    """Compare two runs: headline figures and every core's and link's power by state, with deltas and ratios
    (second against first). The first row says whether each keeps up; saved runs keep the verdict (and the
    --max-misses allowance) they were simulated with.

    \b
    Examples:
      dslsim simulate -p phone -t dsl-75hz-10min --out runs/a
      dslsim simulate -p phone -t dsl-75hz-10min -s hub.yaml --out runs/b
      dslsim compare runs/a runs/b
      dslsim compare -p phone -t dsl-75hz-10min -s hub.yaml            # default scenario vs hub.yaml
    """
    import pandas as pd

    from dslsim.fileio import write_atomic
    from dslsim.report.compare import Run, compare as compare_runs

    if runs and (profile or trace_path or scenarios):
        raise DslsimError("give two run folders, or --profile, --trace and --scenario; not both.")
    if runs and draws:
        raise DslsimError("--uncertainty needs --profile, --trace and --scenario (saved runs keep no profile to draw).")
    if runs:
        if len(runs) != 2:
            raise DslsimError(f"give two run folders to compare; got {len(runs)}.")
        a, b = Run.read(runs[0]), Run.read(runs[1])
        if a.name == b.name:
            a, b = Run(f"{a.name}-1", a.summary, a.resources), Run(f"{b.name}-2", b.summary, b.resources)
    else:
        if not (profile and trace_path and 1 <= len(scenarios) <= 2):
            raise DslsimError("give two run folders, or --profile, --trace and one or two --scenario files.")
        from pathlib import Path

        from dslsim.hw.load import load_profile
        from dslsim.sim.run import simulate
        from dslsim.trace.io import read_trace

        p, t = load_profile(profile), read_trace(trace_path)
        files = [None, *scenarios] if len(scenarios) == 1 else list(scenarios)
        names = ["default" if f is None else Path(f).stem for f in files]
        if names[0] == names[1]:
            names = [f"{names[0]}-1", f"{names[1]}-2"]
        from dslsim.sim.scenario import load_scenario

        scenarios_ = [load_scenario(f, p) for f in files]
        results = [simulate(p, t, sc, baseline=False, max_miss_rate=max_misses / 100.0) for sc in scenarios_]
        a, b = (Run.of(r, n) for r, n in zip(results, names))
    head, states = compare_runs(a, b)
    if draws and not runs:
        from dslsim.report.compare import mark_within
        from dslsim.sim.uncertainty import samples
        from dslsim.yamldoc import load_yaml

        doc = load_yaml(p.source_file)   # one seed for both: the same profile draws, paired
        draws_a, draws_b = (samples(r, doc, p, t, sc, n=draws, seed=0) for r, sc in zip(results, scenarios_))
        head = mark_within(head, draws_a, draws_b)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.4g}".format):
        click.echo(head.to_string(index=False))
        click.echo("")
        click.echo(states.to_string(index=False))
    if csv_prefix:
        for name, df in (("headline", head), ("states", states)):
            write_atomic(f"{csv_prefix}-{name}.csv", lambda path, df=df: df.to_csv(path, index=False))
        click.echo(f"\nwrote {csv_prefix}-headline.csv and {csv_prefix}-states.csv", err=True)
    # A saved run keeps its summary, not its warnings: say why one does not keep up from the summary itself.
    warnings = {a.name: results[0].warnings, b.name: results[1].warnings} if not runs else \
        {run.name: [f"does not keep up: {run.summary.shortfall}"] if run.summary.keeps_up is False else []
         for run in (a, b)}
    finish([(run.name, warnings[run.name], run.summary.keeps_up is not False) for run in (a, b)], anyway)
