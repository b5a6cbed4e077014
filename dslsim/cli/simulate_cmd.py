"""``dslsim simulate``: replay a trace on a profile and print latency, power and battery life."""

from __future__ import annotations

import json

import click

from dslsim.cli.progress import SimProgress, progress_option


@click.command()
@click.option("--profile", "-p", required=True, metavar="NAME|FILE",
              help="A shipped profile (earbud, watch, phone, stm32u575, ...: see `dslsim profiles list`) or a profile YAML file.")
@click.option("--trace", "-t", "trace_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="A trace (Parquet), or the name of a shipped one (dslsim trace list), e.g. dsl-75hz-10min.")
@click.option("--scenario", "-s", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Scenario YAML (placement, operating points, sleep policy, deadline). "
                   "Default: the profile's default_scenario.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also simulate every frame on the dense path, for the battery gain.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write summary.json and the frames / resources / per_core tables here.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["csv", "parquet", "json"]),
              help="Table format(s) for --out (repeatable; default: csv and parquet).")
@click.option("--no-frames", is_flag=True, help="With --out, skip the per-frame table (large for long traces).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of the text report.")
@click.option("--allow-backlog", is_flag=True,
              help="Exit 0 even when the scenario cannot keep up with the frames (exit 4 otherwise).")
@click.option("--engine", type=click.Choice(["auto", "batch", "reference"]), default="auto", show_default=True,
              help="Simulation engine: the compiled batch engine, the SimPy reference (same numbers, bit for bit), "
                   "or by run size.")
@click.option("--budget", "budget_pct_per_day", type=click.FloatRange(0, min_open=True), default=None,
              metavar="PCT", help="Always-on budget in %% of the battery per day to check against (e.g. 1).")
@progress_option
def simulate(profile, trace_path, scenario, baseline, out_dir, formats, no_frames, as_json, allow_backlog, engine,
             budget_pct_per_day, progress):
    """Simulate a trace on a device profile; print latency, always-on power and battery life.

    \b
    Examples:
      dslsim simulate --profile watch --trace dsl-75hz-10min
      dslsim simulate -p phone -t dsl-75hz-10min -s my-scenario.yaml --out out/phone
      dslsim simulate -p earbud -t day.parquet --engine reference      # cross-check on the SimPy engine
    """
    from dslsim.report.export import json_safe, write_result
    from dslsim.report.text import render_summary
    from dslsim.sim.run import simulate as run

    bars = SimProgress(progress)
    try:
        result = run(profile, trace_path, scenario, baseline=baseline, progress=bars, engine=engine)
    finally:
        bars.close()
    if as_json:
        click.echo(json.dumps(json_safe({"summary": result.summary, "meta": result.meta}), indent=1))
    else:
        click.echo(render_summary(result, budget_pct_per_day))
    if out_dir:
        written = write_result(result, out_dir, tuple(formats) or ("csv", "parquet"), frames=not no_frames)
        click.echo(f"\nwrote {len(written)} files to {out_dir}", err=True)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not result.summary.keeps_up and not allow_backlog:
        click.echo("error: the scenario cannot keep up (see the warning above); place stages on faster cores, raise "
                   "the clock, use 'when_busy: drop', or pass --allow-backlog to accept it.", err=True)
        raise SystemExit(4)
