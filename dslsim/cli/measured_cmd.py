"""``dslsim compare-measured``: a bench current trace (PPK2, Otii, Joulescope CSV) beside the simulation of the same
trace on the same profile and scenario."""

from __future__ import annotations

import json

import click

from dslsim.cli.feasibility import feasibility_options, finish
from dslsim.cli.params import Number, Quantity, TimeWindow, option
from dslsim.errors import DslsimError
from dslsim.report.measured.compare import DEFAULT_TOLERANCE_PCT, SIDES


def _columns(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        role, sep, header = pair.partition("=")
        if not sep or not header.strip():
            raise DslsimError(f"--column {pair!r}: expected QUANTITY=HEADER, e.g. --column 'current=Main current (A)'.")
        out[role.strip().lower()] = header.strip()
    return out


@click.command("compare-measured")
@click.argument("csv_file", metavar="CSV", type=click.Path())
@click.option("--profile", "-p", required=True, metavar="NAME|FILE", help="The profile the device was simulated on.")
@click.option("--trace", "-t", "trace_path", required=True, metavar="NAME|FILE",
              help="The trace the device ran while it was measured (a file or a shipped name).")
@click.option("--scenario", "-s", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Scenario YAML (default: the profile's default_scenario).")
@option("--voltage", metavar="VOLTS", type=Quantity("V", 0, 1000, min_open=True, bare_unit="V"),
              help="The measured rail's voltage, e.g. '1.8 V': needed when the file has no voltage column (PPK2), "
                   "and replaces the column when it has one.")
@click.option("--at", "side", type=click.Choice(SIDES), default="rail", show_default=True,
              help="Where the measurement is taken: at the rails (cores, links and the rail-side floor, no "
                   "converter) or at the battery (through the converter, plus floor items measured there).")
@click.option("--include-floor/--no-include-floor", default=True, show_default=True,
              help="Include the profile's platform floor (microphone, PMIC, ...) as the summary does; leave it out "
                   "for a rail that feeds only the cores (profiles of bare MCU boards have none either way).")
@option("--offset", metavar="TIME", type=Quantity("s"),
              help="Measured time = simulated time + offset, e.g. '12.3 ms' or '-2 s'. Default: found by "
                   "cross-correlating measured and simulated power.")
@option("--clock-ppm", type=Number(-1e5, 1e5, what="parts per million"), default=None, metavar="PPM",
              help="How much faster the measuring tool's clock runs than the device's; the measurement's times are "
                   "divided by 1 + PPM/1e6. Default: found from the offsets of three parts of the recording when "
                   "the offset is searched for (0 with --offset).")
@option("--window", metavar="TIME", type=Quantity("s", 0, min_open=True), help="Energy window, e.g. '100 ms'. Default: the trace's frame period.")
@option("--zoom", metavar="START:END", type=TimeWindow(minimum=None),
              help="Span of the detailed overlay in the measurement's clock, e.g. '2 s:2.2 s'. Default: eight frame "
                   "periods around the first dense-path frame.")
@click.option("--header", metavar="NAMES",
              help="Column names to use, comma-separated, for a file without a header line or with names that "
                   "carry no units, e.g. 'time (s),current (A),voltage (V)'.")
@click.option("--column", "columns", multiple=True, metavar="QUANTITY=HEADER",
              help="Which column holds time, current or voltage when the names do not say or several fit, e.g. "
                   "--column 'current=Main current (A)' (repeatable).")
@option("--max-mb", type=Number(1.0), default=1024.0, show_default=True, metavar="MIB",
              help="Largest CSV to read (MiB); larger files are refused before reading.")
@option("--tolerance", type=Number(0.0), default=DEFAULT_TOLERANCE_PCT, show_default=True,
              metavar="PCT", help="Mean-power difference (%) within which the verdict calls the two in agreement.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), metavar="OUT",
              help="Also write a self-contained HTML report (verdict, overlay figures, tables).")
@click.option("--data-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="With --html: also write each figure as PNG and each figure's and table's data as CSV.")
@click.option("--csv", "csv_prefix", metavar="PREFIX",
              help="Also write PREFIX-summary.csv, PREFIX-windows.csv, PREFIX-overview.csv and PREFIX-detail.csv.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON instead of the text report.")
@feasibility_options
def compare_measured(csv_file, profile, trace_path, scenario, voltage, side, include_floor, offset, clock_ppm,
                     window, zoom,
                     header, columns, max_mb, tolerance, html_out, data_dir, csv_prefix, as_json, max_misses, anyway):
    """Compare a measured current trace with the simulation of the same trace: align them, then show mean current
    and power, energy per window and power over time, measured against simulated, with their differences.

    The CSV is read as the bench tools export it; units come from the headers. Accepted columns:

    \b
      time      'Timestamp(ms)' (Nordic PPK2), 'time (s)' / 'time' (Joulescope, SI),
                'Timestamp (s)' (Otii-style), or any name with 'time' and a unit: s, ms, us, ns
      current   'Current(uA)' (PPK2), 'current (A)' / 'current' (Joulescope),
                'Main current (A)' (Otii-style), or any name with 'current': A, mA, uA, nA
      voltage   optional: 'voltage (V)' (Joulescope), 'Main voltage (V)' (Otii-style), any
                name with 'voltage': V, mV; without one, give --voltage
      others    read past: PPK2 digital channels 'D0-D7' / 'D0'..'D7', power, charge, energy

    The offset between the two clocks is found by cross-correlating measured with simulated power (the
    per-frame variation of a dynamic network pins it down), or given with --offset. The simulated power is taken
    where the measurement is (--at, --include-floor). See docs/measured.md.

    \b
    Examples:
      dslsim compare-measured ppk.csv -p stm32u575 -t kws-mcu.parquet -s examples/stm32u575-sai-stream.yaml \\
          --voltage 1.8V --html measured.html
      dslsim compare-measured otii.csv -p watch -t dsl-fr-50hz-10min --at battery --csv out/watch
      dslsim compare-measured js.csv -p earbud -t TRACE --offset 12.3ms --window 100ms --json
    """
    from pathlib import Path

    from dslsim.hw.load import load_profile
    from dslsim.report.export import json_safe
    from dslsim.report.measured.compare import check_voltage, compare_measured as compare
    from dslsim.report.measured.reader import read_measurement
    from dslsim.report.measured.render import html_report, render_text, write_tables
    from dslsim.sim.run import simulate
    from dslsim.sim.scenario import load_scenario
    from dslsim.trace.io import read_trace

    if data_dir and not html_out:
        raise DslsimError("--data-dir goes with --html (the figures' data); for the tables alone use --csv PREFIX.")
    volts, shift, width, detail = voltage, offset, window, zoom     # parsed and range-checked by their types
    # The file first: a bad CSV is refused before any simulation runs.
    measurement = read_measurement(csv_file, header=header, columns=_columns(columns),
                                   max_bytes=int(max_mb * 2**20))
    p = load_profile(profile)
    if volts is None and measurement.voltage_V is None:  # before the simulation, with the profile's rails as a hint
        check_voltage(measurement, p, volts)
    t = read_trace(trace_path)
    scn = load_scenario(scenario, p)
    result = simulate(p, t, scn, baseline=False, window=(0.0, t.duration), max_miss_rate=max_misses / 100.0)
    cmp = compare(measurement, result, p, t, voltage=volts, side=side, include_floor=include_floor, offset=shift,
                  window=width, zoom=detail, tolerance_pct=tolerance, clock_ppm=clock_ppm,
                  trace_name=Path(str(trace_path)).name)
    if as_json:
        click.echo(json.dumps(json_safe(cmp.to_dict()), indent=1))
    else:
        click.echo(render_text(cmp))
    for warning in cmp.warnings:
        click.echo(f"warning: {warning}", err=True)
    if html_out:
        written = html_report(cmp).write(html_out, data_dir)
        click.echo(f"wrote {html_out}" + (f" and {len(written) - 1} figure and data files in {data_dir}"
                                          if data_dir else ""), err=True)
    if csv_prefix:
        written = write_tables(cmp, csv_prefix)
        click.echo(f"wrote {', '.join(str(w) for w in written)}", err=True)
    finish([("run", result.warnings, result.summary.keeps_up)], anyway)
