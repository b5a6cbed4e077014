"""``dslsim report``: a self-contained HTML report for one simulation, one stack of models or one sweep."""

from __future__ import annotations

import click

from dslsim.cli.feasibility import feasibility_options, finish
from dslsim.cli.params import Number, TimeWindow, option, refuse_inapplicable
from dslsim.errors import DslsimError


@click.command()
@click.option("--profile", "-p", metavar="NAME|FILE", help="Profile to simulate (with --trace or --stack).")
@click.option("--trace", "-t", "trace_path", type=click.Path(dir_okay=False), help="Trace to simulate.")
@click.option("--stack", "stack_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Instead of --trace: a stack file (YAML) of several models gated by each other's scores; the "
                   "report attributes the battery draw to each model (docs/stacks.md).")
@click.option("--scenario", "-s", type=click.Path(dir_okay=False),
              help="Scenario (default: the stack's own, else the profile's).")
@option("--window", metavar="START:END", type=TimeWindow(), help="Timeline window, e.g. '10 s:13 s' (default: 1 s from 0.2 s "
              "before the first frame on the dense path).")
@click.option("--sweep", "sweep_dir", type=click.Path(file_okay=False), help="A sweep store folder instead.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Also write each figure as PNG and each figure's and table's data as CSV.")
@click.option("--uncertainty", "draws", type=click.IntRange(min=2, max=100_000), default=None, metavar="N",
              help="Draw N profiles within their numbers' ranges and show 5-95 % bands on the headline figures.")
@option("--resolution", type=Number(0, 100, min_open=True, what="a percentage"), default=None, metavar="PCT",
              help="With --sweep: battery-life differences below this (%) are called within the model's "
                   "uncertainty (default: the validated median error on energy per inference, 3 %).")
@feasibility_options
@click.pass_context
def report(ctx, profile, trace_path, stack_path, scenario, window, sweep_dir, out, data_dir, draws, resolution,
           max_misses, anyway):
    """Write a self-contained HTML report (figures embedded) for one simulation, one stack of models or one sweep.

    The report leads with the verdict and the headline figures; a stack's then gives each model's share of the
    battery draw. A run that does not keep up is reported as such (no battery figures) and the command exits 4
    after writing it, unless --anyway. An option that does not apply to what is reported is refused.

    \b
    Examples:
      dslsim report -p watch -t dsl-75hz-10min --out watch.html
      dslsim report -p earbud --stack examples/stacks/vad-ww-codec.yaml --out stack.html --data-dir stack-data
      dslsim report --sweep sweeps/heavy-path --out heavy-path.html --data-dir heavy-path-data
    """
    from dslsim.report.build import check_window, simulation_report, stack_report, sweep_report

    if trace_path is not None and stack_path is not None:
        raise click.UsageError("--trace and --stack exclude each other: a stack names its models' traces itself.")
    # The timeline window and the uncertainty draws are a single trace's; --resolution compares a sweep's points;
    # a sweep's points were judged against the allowed misses when it ran (its spec's max_miss_rate).
    refuse_inapplicable(ctx, "--sweep", "given" if sweep_dir else "not given",
                        {"resolution": ("given",), "window": ("not given",), "draws": ("not given",),
                         "max_misses": ("not given",)})
    refuse_inapplicable(ctx, "--stack", "given" if stack_path else "not given",
                        {"window": ("not given",), "draws": ("not given",)})
    if sweep_dir:
        if profile or trace_path or stack_path or scenario:
            raise DslsimError("give either --sweep, or --profile with --trace or --stack, not both.")
        from dslsim.sweep.store import SweepStore

        store = SweepStore(sweep_dir)
        table = store.table()
        manifest = store.manifest(require=("name", "axes", "profile", "scenario", "trace"))
        rep = sweep_report(manifest, table, **({"resolution_pct": resolution} if resolution else {}))
        failed = int((~table["keeps_up"].astype(bool)).sum()) if "keeps_up" in table else 0
        runs = [("sweep", [f"{failed} of {len(table)} points do not keep up: they have no battery life and are on "
                           f"no Pareto front"] if failed else [], True)]
    elif stack_path:
        if not profile:
            raise DslsimError("give --profile with --stack: the device the stack runs on.")
        from dslsim.hw.load import load_profile
        from dslsim.sim.run import simulate
        from dslsim.sim.scenario import load_scenario

        p = load_profile(profile)
        scn = load_scenario(scenario, p) if scenario is not None else None     # None: the stack's own
        result = simulate(p, stack=stack_path, scenario=scn, max_miss_rate=max_misses / 100.0, frames=False)
        rep = stack_report(result, p)
        runs = [("run", result.warnings, result.summary.keeps_up)]
    else:
        if not (profile and trace_path):
            raise DslsimError("give --profile and --trace (one simulation), --profile and --stack (a stack of "
                              "models), or --sweep DIR.")
        from dslsim.hw.load import load_profile
        from dslsim.sim.baselines import named_baselines
        from dslsim.sim.run import simulate
        from dslsim.sim.scenario import load_scenario
        from dslsim.trace.io import read_trace

        p, t = load_profile(profile), read_trace(trace_path)
        scn = load_scenario(scenario, p)
        result = simulate(p, t, scn, window=check_window(window, t), max_miss_rate=max_misses / 100.0)
        spread = None
        if draws:
            from dslsim.sim.uncertainty import bands, samples
            from dslsim.yamldoc import load_yaml

            spread = bands(samples(result, load_yaml(p.source_file), p, t, scn, n=draws))
        rep = simulation_report(result, named_baselines(result, p, t, scn), p, t, spread)
        runs = [("run", result.warnings, result.summary.keeps_up)]
    written = rep.write(out, data_dir)
    click.echo(f"wrote {out}" + (f" and {len(written) - 1} figure and data files in {data_dir}" if data_dir else ""))
    finish(runs, anyway)
