"""``dslsim calibrate`` and ``dslsim validate``: fit cores to bench measurements and check the fit out of sample."""

from __future__ import annotations

from pathlib import Path

import click


def _measurements_arg(path: str | None) -> Path:
    from dslsim.calibration.validate import SHIPPED_MEASUREMENTS

    return Path(path) if path else SHIPPED_MEASUREMENTS


@click.command()
@click.argument("measurements", type=click.Path(dir_okay=False), required=False)
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="Write each calibrated profile here (same file name); without it, only print the fit.")
def calibrate(measurements, out_dir):
    """Fit cycles per MAC, per output element and per op, and each core's run current, to measured
    (latency, energy) pairs of several models at known clocks; where a system names its datasheet's current
    tables, fit Run and Sleep per voltage range (a floor each, the part per MHz by core voltage) and scale the Run
    part per MHz by what the measured network draws over the datasheet's code. Prints every residual.

    MEASUREMENTS is a YAML file of models and systems (default: the shipped MLPerf Tiny results,
    dslsim/data/validation/mlperf-tiny.yaml). Every fitted number is written with 'source: calibrated from <file>'.

    \b
    Examples:
      dslsim calibrate                                   # fit the shipped measurements, print residuals
      dslsim calibrate dslsim/data/validation/mlperf-tiny.yaml --out-dir hw_profiles
      dslsim calibrate my-bench.yaml --out-dir my-profiles/
    """
    import yaml

    from dslsim.fileio import write_text_atomic
    from dslsim.calibration.fit import calibrated_profile_data, fit, load_measurements
    from dslsim.hw.load import parse_profile

    data = load_measurements(_measurements_arg(measurements))
    cal = fit(data)
    click.echo(f"{data.path}: {len(data.measurements)} measurements on {len(data.systems)} systems")
    click.echo(f"  shared shape: {cal.cycles_per_mac:.4g} cycles/MAC, {cal.cycles_per_output:.4g} cycles/output, "
               f"{cal.cycles_per_op:.4g} cycles/op")
    for name in data.systems:
        click.echo(f"  {name:<12} speed factor {cal.speed[name]:.4f}, run power {1e3 * cal.power[name]:.4g} mW")
    click.echo(f"  {'system':<12} {'model':<6} {'latency':>10} {'fit':>10} {'err':>7} {'energy':>11} {'fit':>11} {'err':>7}")
    for r in cal.residuals:
        click.echo(f"  {r['system']:<12} {r['model']:<6} {1e3 * r['latency_s']:8.4g} ms {1e3 * r['fit_latency_s']:7.4g} ms "
                   f"{r['latency_err_pct']:+6.1f}% {1e6 * r['energy_J']:8.5g} uJ {1e6 * r['fit_energy_J']:8.5g} uJ "
                   f"{r['energy_err_pct']:+6.1f}%")
    for name, sysm in data.systems.items():
        if sysm.datasheet is None:
            click.echo(f"  {name:<12} no current-vs-clock table: its run current is one all-in figure per MHz "
                       f"(assumed at other clocks)")
            continue
        _echo_current_fit(name, sysm, data.profile(name).cores[sysm.core], cal.power[name])
    if out_dir is None:
        return
    for name, sysm in data.systems.items():
        doc = calibrated_profile_data(data, cal, name)
        target = Path(out_dir) / sysm.profile_path.name
        text = (f"# Written by `dslsim calibrate {data.path.name}` from {sysm.profile_path.name}: the op costs and run\n"
                f"# currents are fitted (see docs/validation.md); every other number keeps its source.\n"
                + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True))
        parse_profile(yaml.safe_load(text), str(target))  # never write a profile that does not load
        write_text_atomic(target, text)
        click.echo(f"wrote {target}")


def _echo_current_fit(name: str, sysm, core, watts: float) -> None:
    """The floor and part per MHz of each range and state, and every tabulated point's residual."""
    from dslsim.calibration.currents import fit_table, voltage_exponent
    from dslsim.calibration.fit import nn_factor

    ds = sysm.datasheet
    k = nn_factor(ds, core, sysm.clock, watts)
    click.echo(f"  {name:<12} {ds.document}, supply {ds.voltage:g} V {ds.regulator.upper()}; the network draws "
               f"{k:.3f} x the datasheet code's current per MHz")
    for state, table in ds.tables.items():
        lines = fit_table(table, ds.voltages, voltage_exponent(ds.regulator))
        click.echo(f"    {state}: {table.source.split('. ')[0]}")
        for label, line in lines.items():
            points = [p for p in table.points if p.range == label]
            residuals = ", ".join(f"{p.clock / 1e6:g} MHz {100 * (line.current(p.clock) / p.current - 1):+.1f}%"
                                  for p in sorted(points, key=lambda p: p.clock))
            click.echo(f"      {label:<6} ({ds.ranges[label]}): {line.base * 1e6:8.1f} uA + "
                       f"{line.per_hz * 1e12:6.2f} uA/MHz; residuals {residuals}")


@click.command()
@click.argument("measurements", type=click.Path(dir_okay=False), required=False)
@click.option("--markdown", type=click.Path(dir_okay=False), default=None,
              help="Write the validation page (docs/validation.md) here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the benchmark table as CSV (and the clock table beside it, NAME-clocks.csv).")
def validate(measurements, markdown, csv_out):
    """Leave one benchmark out: calibrate on the others, simulate it on every system, compare with the
    measurement; and leave one clock out of each system's datasheet current tables (Run and Sleep), predicting
    it from the other clocks. Prints both tables' errors (median, largest, share within 5 % and 10 %).

    \b
    Examples:
      dslsim validate                                    # the shipped MLPerf Tiny results
      dslsim validate --markdown docs/validation.md --csv validation.csv
    """
    from dslsim.fileio import write_atomic, write_text_atomic
    from dslsim.calibration.fit import fit, load_measurements
    from dslsim.report.validation import validation_markdown
    from dslsim.calibration.validate import clock_summary, clock_validation, error_summary, leave_one_out

    data = load_measurements(_measurements_arg(measurements))
    df = leave_one_out(data)
    summary = error_summary(df)
    clocks = clock_validation(data)
    by_clock = clock_summary(clocks)
    click.echo(f"{data.path}: leave-one-benchmark-out over {len(df)} measurements")
    click.echo(f"  {'system':<12} {'bench':<6} {'latency':>10} {'predicted':>10} {'err':>7} {'energy':>11} "
               f"{'predicted':>11} {'err':>7}")
    for r in df.itertuples(index=False):
        click.echo(f"  {r.system:<12} {r.benchmark:<6} {r.latency_ms:7.4g} ms {r.predicted_latency_ms:7.4g} ms "
                   f"{r.latency_err_pct:+6.1f}% {r.energy_uJ:8.5g} uJ {r.predicted_energy_uJ:8.5g} uJ "
                   f"{r.energy_err_pct:+6.1f}%")
    for what in ("latency", "energy"):
        click.echo(f"  {what} |error|: median {summary[f'{what}_median_abs_err_pct']:.1f} %, largest "
                   f"{summary[f'{what}_max_abs_err_pct']:.1f} %; within 5 % {100 * summary[f'{what}_within_5_pct']:.0f} "
                   f"%, within 10 % {100 * summary[f'{what}_within_10_pct']:.0f} %")
    click.echo(f"leave-one-clock-out on the datasheets' current tables ({len(clocks)} predictions):")
    for r in by_clock.itertuples(index=False):
        click.echo(f"  {r.board:<12} {r.state:<14} {r.predictions:3d}  |error| median {r.median_abs_err_pct:4.1f} %, "
                   f"largest {r.max_abs_err_pct:4.1f} %; within 5 % {100 * r.within_5_pct:3.0f} %, within 10 % "
                   f"{100 * r.within_10_pct:3.0f} %")
    if markdown:
        command = "dslsim validate --markdown docs/validation.md"
        write_text_atomic(markdown, validation_markdown(df, summary, fit(data), data, command, clocks, by_clock))
        click.echo(f"wrote {markdown}")
    if csv_out:
        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))
        clocks_csv = Path(csv_out).with_name(Path(csv_out).stem + "-clocks.csv")
        write_atomic(clocks_csv, lambda p: clocks.to_csv(p, index=False))
        click.echo(f"wrote {csv_out} and {clocks_csv}")
