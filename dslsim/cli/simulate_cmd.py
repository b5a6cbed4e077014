"""``dslsim simulate``: replay a trace (or a stack of models) on a profile and print latency, power and battery
life."""

from __future__ import annotations

import json

import click

from dslsim.cli.feasibility import feasibility_options, finish
from dslsim.cli.params import Number, Seed, option
from dslsim.cli.progress import SimProgress, progress_option
from dslsim.sim.budget import BUDGET_OF


@click.command()
@click.option("--profile", "-p", required=True, metavar="NAME|FILE",
              help="A shipped profile (earbud, watch, phone, stm32u575, ...: see `dslsim profiles list`) or a profile YAML file.")
@click.option("--trace", "-t", "trace_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="A trace (Parquet), or the name of a shipped one (dslsim trace list), e.g. dsl-75hz-10min.")
@click.option("--stack", "stack_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Instead of --trace: a stack file (YAML) of several models gated by each other's scores, sharing "
                   "the device's cores by priority; the report attributes the battery draw to each model "
                   "(docs/stacks.md).")
@click.option("--scenario", "-s", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Scenario YAML (placement, operating points, sleep policy, deadline). "
                   "Default: the stack's own, else the profile's default_scenario.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also simulate every frame on the dense path (a stack: every model at its full rate, no gates), "
                   "for the battery gain.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write summary.json and the frames / resources / per_core tables here (a stack: and the "
                   "per-model 'models' table).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["csv", "parquet", "json"]),
              help="Table format(s) for --out (repeatable; default: csv and parquet).")
@click.option("--no-frames", is_flag=True, help="With --out, skip the per-frame table (large for long traces).")
@click.option("--frames-out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Stream the per-frame table to this Parquet file as the run goes (memory stays bounded, "
                   "however long the trace).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of the text report.")
@feasibility_options
@click.option("--engine", type=click.Choice(["auto", "batch", "reference"]), default="auto", show_default=True,
              help="Simulation engine: the compiled batch engine, the SimPy reference (same numbers, bit for bit), "
                   "or by run size.")
@option("--budget", "budget_pct", type=Number(0, min_open=True, what="a percentage per day"), default=None,
        metavar="PCT",
        help="Always-on budget in % of the battery per day (Android's guidance: 1), checked against the "
             "feature's own drain (the run less the device doing nothing).")
@click.option("--budget-of", type=click.Choice(BUDGET_OF), default="feature", show_default=True,
              help="Check the budget against the feature's own drain or the device's total.")
@click.option("--fail-over-budget", is_flag=True, help="Exit 5 when the run is over the budget.")
@click.option("--uncertainty", "draws", type=click.IntRange(min=2, max=100_000), default=None, metavar="N",
              help="Also draw N profiles within the numbers' stated ranges (tolerance, min/max) or the defaults "
                   "below, and give 5-95 % bands on power, battery life and the feature's share (seeded).")
@option("--seed", type=Seed(), default=0, show_default=True, help="Seed of the --uncertainty draws.")
@option("--assumed-tolerance", type=Number(0, 100, max_open=True, what="a percentage"), default=30.0,
        show_default=True, metavar="PCT", help="Range (+-%) of a number marked assumed that states none of its own.")
@option("--sourced-tolerance", type=Number(0, 100, max_open=True, what="a percentage"), default=0.0,
        show_default=True, metavar="PCT", help="Range (+-%) of a sourced number that states none of its own.")
@click.option("--explain", is_flag=True,
              help="Also list the largest contributors to the battery draw, with the profile numbers behind each "
                   "and their sources.")
@progress_option
def simulate(profile, trace_path, stack_path, scenario, baseline, out_dir, formats, no_frames, frames_out, as_json,
             anyway, max_misses, engine, budget_pct, budget_of, fail_over_budget, draws, seed, assumed_tolerance,
             sourced_tolerance, explain, progress):
    """Simulate a trace (or a stack of models) on a device profile; print latency, always-on power and battery
    life.

    A run keeps up when no queue grows without bound and at most --max-misses of its frames miss their deadline;
    one that does not has no battery figures and exits 4 (unless --anyway).

    \b
    Examples:
      dslsim simulate --profile watch --trace dsl-75hz-10min
      dslsim simulate -p phone -t dsl-75hz-10min -s my-scenario.yaml --out out/phone
      dslsim simulate -p phone -t dsl-75hz-10min --budget 1 --fail-over-budget   # Android's 1 % a day
      dslsim simulate -p watch -t dsl-75hz-10min --explain      # what the battery draw is made of, with sources
      dslsim simulate -p earbud -t day.parquet --engine reference      # cross-check on the SimPy engine
      dslsim simulate -p phone -t month.parquet --frames-out month-frames.parquet   # bounded memory
      dslsim simulate -p earbud --stack examples/stacks/vad-ww-codec.yaml    # VAD -> wake word -> codec, per model
    """
    from dslsim.report.explain import contributors, explain_text
    from dslsim.report.export import json_safe, write_result
    from dslsim.report.text import render_stack, render_summary, uncertainty_text
    from dslsim.sim.budget import check_budget
    from dslsim.sim.run import simulate as run

    from dslsim.hw.load import load_profile
    from dslsim.sim.scenario import load_scenario
    from dslsim.trace.io import read_trace

    if (trace_path is None) == (stack_path is None):
        raise click.UsageError("give --trace or --stack (one of them): a trace replays one model, a stack several."
                               if trace_path is None else "--trace and --stack exclude each other: a stack names "
                               "its models' traces itself.")
    if stack_path is not None and draws:
        raise click.UsageError("--uncertainty draws a profile's numbers for one trace; it does not take --stack.")
    p = load_profile(profile)
    if stack_path is not None:
        from dslsim.sim.stack import load_stack

        stack = load_stack(stack_path)
        scn = load_scenario(scenario, p) if scenario is not None else None
    else:
        scn = load_scenario(scenario, p)
    # The per-frame table is kept only to be written; otherwise the trace is read block by block and the run's
    # memory does not grow with its length.
    keep_frames = bool(out_dir) and not no_frames
    bars = SimProgress(progress)
    try:
        if stack_path is not None:
            from dslsim.sim.stack_run import simulate_stack

            result = simulate_stack(p, stack, scn, baseline=baseline, progress=bars, engine=engine,
                                    max_miss_rate=max_misses / 100.0, frames=keep_frames, frames_out=frames_out)
        else:
            result = run(p, trace_path, scn, baseline=baseline, progress=bars, engine=engine,
                         max_miss_rate=max_misses / 100.0, frames=keep_frames, frames_out=frames_out)
    finally:
        bars.close()
    budget = check_budget(result.summary, budget_pct, budget_of) if budget_pct is not None else None
    spread = None
    if draws:
        from dslsim.sim.uncertainty import Tolerances, bands, samples
        from dslsim.yamldoc import load_yaml

        spread = bands(samples(result, load_yaml(p.source_file), p, read_trace(trace_path), scn, n=draws, seed=seed,
                               tolerances=Tolerances(assumed_tolerance / 100.0, sourced_tolerance / 100.0)))
    if as_json:
        doc = {"summary": result.summary, "meta": result.meta, "warnings": result.warnings}
        if budget is not None:
            doc["budget"] = budget
        if explain:
            doc["contributors"] = contributors(result).to_dict(orient="records")
        if result.models is not None:
            doc["models"] = result.models.to_dict(orient="records")
        if spread is not None:
            doc["uncertainty"] = {"draws": draws, "seed": seed, "band_percentiles": [5, 95],
                                  **{k: {"low": lo, "median": mid, "high": hi} for k, (lo, mid, hi) in spread.items()}}
        click.echo(json.dumps(json_safe(doc), indent=1))
    else:
        click.echo(render_stack(result, budget) if result.models is not None else render_summary(result, budget))
        if spread is not None:
            click.echo("\n" + uncertainty_text(spread, draws, seed))
        if explain:
            click.echo("\n" + explain_text(result))
    if out_dir:
        written = write_result(result, out_dir, tuple(formats) or ("csv", "parquet"), frames=not no_frames)
        if result.models is not None:
            written += _write_models(result, out_dir, tuple(formats) or ("csv", "parquet"))
        click.echo(f"\nwrote {len(written)} files to {out_dir}", err=True)
    finish([("run", result.warnings, result.summary.keeps_up)], anyway)
    if fail_over_budget and budget is not None and budget["within"] is False:
        click.echo(f"error: over the always-on budget: {budget['drain_pct_per_day']:.3g} %/day "
                   f"({budget['of']}) against {budget_pct:g} %/day.", err=True)
        raise SystemExit(5)


def _write_models(result, out_dir, formats: tuple[str, ...]) -> list:
    """Write a stack's attribution table as ``models.<format>`` beside the other tables and list them in the run's
    ``run.json`` (each file written atomically; run.json last, as :func:`dslsim.report.export.write_result` does)."""
    from pathlib import Path

    from dslsim.fileio import write_text_atomic
    from dslsim.report.export import write_table

    out = Path(out_dir)
    written = [write_table(result.models, out / f"models.{fmt}", fmt) for fmt in formats]
    manifest = out / "run.json"
    record = json.loads(manifest.read_text(encoding="utf-8"))
    record["files"] = [name for name in record["files"] if name != "run.json"] + [p.name for p in written] + \
        ["run.json"]
    write_text_atomic(manifest, json.dumps(record, indent=1))
    return written
