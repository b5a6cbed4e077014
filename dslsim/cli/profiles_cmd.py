"""``dslsim profiles``: list, show, copy (``init``) and validate hardware profiles; write the JSON Schemas of
profiles, scenarios and sweep specs (``schema``); import and fit their parts."""

from __future__ import annotations

import click

from dslsim.cli.params import PolicySpeeds, Quantity, option
from dslsim.cli.schemas import KINDS as SCHEMA_KINDS
from dslsim.errors import DslsimError


@click.group()
def profiles() -> None:
    """List, show, copy and validate hardware profiles (YAML with units and sources); write their JSON Schema.

    \b
    Examples:
      dslsim profiles list
      dslsim profiles show watch
      dslsim profiles init watch --out my-watch.yaml
      dslsim profiles validate my-watch.yaml
      dslsim profiles schema --out profile.schema.json
    """


@profiles.command("list")
def list_() -> None:
    """List the shipped profiles with their battery, cores and the file each comes from (the checkout's
    hw_profiles/ folder, or the package data of an installed wheel); say which files in the working folder
    take a shipped name's place.

    A name works wherever a profile file does (-p NAME); an existing file you name is always read instead.

    \b
    Example:
      dslsim profiles list
      dslsim profiles init watch --out my-watch.yaml
    """
    from dslsim.cli.listing import echo_rows, echo_shadows
    from dslsim.hw.load import load_profile
    from dslsim.shipped import origin, shipped_profiles

    rows = []
    for name, path in shipped_profiles().items():
        p = load_profile(path)
        cores = ", ".join(f"{c} ({core.kind})" for c, core in p.cores.items())
        rows.append((name, f"{p.battery.capacity_ah * 1e3:7.1f} mAh", cores, origin(path)))
    echo_rows(rows)
    echo_shadows("profile", "-p")


@profiles.command("init")
@click.argument("name", metavar="NAME")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The profile YAML to write; an existing file is left alone unless --force.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def init(name, out, force) -> None:
    """Start a profile of your own from a shipped one: write a copy of it, every number's source and every
    comment included, to a new file ready to edit (shipped names: dslsim profiles list).

    \b
    Examples:
      dslsim profiles init watch --out my-watch.yaml
      dslsim profiles validate my-watch.yaml
      dslsim simulate -p my-watch.yaml -t dsl-fr-50hz-10min
    """
    from pathlib import Path

    from dslsim.fileio import write_atomic
    from dslsim.shipped import origin, shipped_name, shipped_profiles

    shipped = shipped_profiles()
    found = shipped_name(name, "profile")
    if found is None:
        raise DslsimError(f"{name!r} is not a shipped profile; shipped profiles: {', '.join(shipped)} "
                          f"(to start from a file of your own, copy it).")
    target = Path(out)
    if target.is_dir():
        raise DslsimError(f"--out {out}: a folder; give the file to write, e.g. --out {target / (found + '.yaml')}.")
    if target.exists() and not force:
        raise DslsimError(f"--out {out}: the file exists and was left as it is; pass --force to overwrite it, or "
                          f"choose another file.")
    source = shipped[found]
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise DslsimError(f"{source}: cannot be read ({exc.strerror}).") from None
    write_atomic(target, lambda tmp: tmp.write_bytes(data))
    click.echo(f"wrote {out}: the shipped '{found}' ({origin(source)}), its sources and comments included; edit "
               f"it, then 'dslsim profiles validate {out}' and 'dslsim simulate -p {out} -t TRACE'.")


@profiles.command()
@click.option("--kind", type=click.Choice(list(SCHEMA_KINDS)), default="profile", show_default=True,
              help="Which document the schema describes: a hardware profile, a scenario, a sweep spec, a usage "
                   "schedule (trace compose) or a stack.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the schema to FILE (atomically) instead of printing it.")
def schema(kind, out) -> None:
    """Print the JSON Schema (draft 2020-12) of profiles, scenarios or sweep specs, generated from the same
    declarations dslsim checks them against, so an editor completes keys, shows what each means and marks
    unknown keys, missing ones and malformed quantities as you type. Names (cores, operating points) and
    cross-key rules are still checked by 'dslsim profiles validate'.

    \b
    Examples:
      dslsim profiles schema --out profile.schema.json
      dslsim profiles schema --kind scenario --out scenario.schema.json
      dslsim profiles schema --kind sweep > sweep.schema.json
    then, as the first line of a profile (the path relative to it):
      # yaml-language-server: $schema=profile.schema.json
    """
    from dslsim.cli.schemas import schema_text
    from dslsim.fileio import write_text_atomic

    text = schema_text(kind)
    if out is None:
        click.echo(text, nl=False)
        return
    write_text_atomic(out, text)
    click.echo(f"wrote {out}: the JSON Schema of a dslsim {kind}; point your editor at it (docs/profiles.md).")


@profiles.command()
@click.argument("names", nargs=-1, metavar="[NAME|FILE]...")
@click.option("--markdown", type=click.Path(dir_okay=False), default=None, help="Write the tables to this file.")
def sources(names, markdown) -> None:
    """Print where every number of profiles comes from (key, value, source, assumed); default: all shipped.

    \b
    Examples:
      dslsim profiles sources watch
      dslsim profiles sources --markdown docs/profile-sources.md
    """
    from dslsim.yamldoc import load_yaml
    from dslsim.fileio import write_text_atomic
    from dslsim.hw.load import load_profile, profile_path, shipped_profiles
    from dslsim.hw.sources import provenance_markdown

    paths = {n: profile_path(n) for n in names} if names else dict(shipped_profiles())
    docs = {}
    for name, path in paths.items():
        load_profile(path)  # only valid profiles are documented
        docs[path.stem] = load_yaml(path)
    text = provenance_markdown(docs)
    if markdown:
        write_text_atomic(markdown, text)
        click.echo(f"wrote {markdown}")
    else:
        click.echo(text)


@profiles.command()
@click.argument("profile", metavar="NAME|FILE")
def show(profile) -> None:
    """Show a profile's values in SI-prefixed units.

    \b
    Example:
      dslsim profiles show earbud
    """
    from dslsim.hw.load import load_profile
    from dslsim.units import format_si as f

    p = load_profile(profile)
    b = p.battery
    click.echo(f"{p.name}: {p.description}\n  file {p.source_file}")
    click.echo(f"  battery  {b.capacity_ah * 1e3:g} mAh at {b.voltage:g} V, usable {b.usable_fraction:.0%}, "
               f"converter {b.converter_efficiency:.0%} -> {b.usable_energy / 3600:.3f} Wh usable")
    for name, watts in p.floor.items():
        click.echo(f"  floor    {name}: {f(watts, 'W')} (at the rail)")
    for name, watts in p.battery_floor.items():
        click.echo(f"  floor    {name}: {f(watts, 'W')} (at the battery)")
    from dslsim.cost import active_power, idle_power

    for name, c in p.cores.items():
        supply = "" if c.supply is None else (f", supply {c.supply.voltage:g} V through "
                                              f"{'an ' + c.supply.regulator.upper() if c.supply.regulator != 'none' else 'no regulator'}")
        click.echo(f"  core {name} ({c.kind}), energies per MAC at {c.ref_voltage:g} V{supply}")
        for o in c.opps:
            clock = c.clock(o.name)
            currents = (f"  run {o.run_current * 1e12:.4g} / idle {o.idle_current * 1e12:.4g} uA/MHz"
                        if o.run_current or o.idle_current else "")
            click.echo(f"    opp {o.name:<10} up to {f(o.freq, 'Hz'):>10} {o.voltage:5.2f} V  leakage "
                       f"{f(o.leakage, 'W')}{currents}  -> active {f(active_power(c, clock), 'W')}, idle "
                       f"{f(idle_power(c, clock), 'W')}")
        for kind, cost in c.op_costs.items():
            extra = ""
            if cost.cycles_per_output or cost.cycles_per_op:
                extra = f" + {cost.cycles_per_output:g}/output + {cost.cycles_per_op:g}/op"
            click.echo(f"    op  {kind:<18} {cost.cycles_per_mac:g} cycles/MAC{extra}  "
                       f"{f(cost.energy_per_mac, 'J')}/MAC")
        click.echo(f"    memory {f(c.mem_energy_per_byte, 'J')}/B, {c.mem_bytes_per_cycle:g} B/cycle; "
                   f"idle {f(c.idle_power, 'W')} above leakage")
        for s in c.sleep_states:
            click.echo(f"    sleep {s.name:<12} {f(s.power, 'W')}  in {f(s.entry_latency, 's')} / out "
                       f"{f(s.exit_latency, 's')}  {f(s.entry_energy, 'J')} + {f(s.exit_energy, 'J')}")
    for link in p.links:
        click.echo(f"  link {link.name}: {f(link.latency, 's')}, {f(link.bandwidth, 'B/s')}, "
                   f"{f(link.energy_per_byte, 'J')}/B")


@profiles.command()
@click.argument("files", nargs=-1, required=True, metavar="NAME|FILE...")
@click.option("--allow-unsourced", is_flag=True, help="Accept numbers without a source or 'assumed' note.")
def validate(files, allow_unsourced) -> None:
    """Validate profiles: units, ranges, names, default scenario, and a source for every number.

    \b
    Example:
      dslsim profiles validate hw_profiles/*.yaml
    """
    from dslsim.hw.load import load_profile
    from dslsim.sim.scenario import load_scenario

    failed = 0
    for item in files:
        try:
            p = load_profile(item)
            if p.default_scenario:
                load_scenario(None, p)
            if p.unsourced and not allow_unsourced:
                raise DslsimError(f"{p.source_file}: {len(p.unsourced)} number(s) without a 'source' or "
                                  f"'assumed' note: {', '.join(p.unsourced[:8])}"
                                  f"{' ...' if len(p.unsourced) > 8 else ''}.")
            click.echo(f"ok  {p.source_file}")
        except DslsimError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
    if failed:
        raise click.exceptions.Exit(2)


def _policy_speeds(options: tuple[tuple[int, tuple[float, ...]], ...]) -> dict[int, list[float]]:
    """``--speeds 4=400000,2000000`` options (parsed by :class:`~dslsim.cli.params.PolicySpeeds`) as
    {policy: [kHz, ...]}; a policy given twice is refused."""
    speeds: dict[int, list[float]] = {}
    for number, khz in options:
        if number in speeds:
            raise DslsimError(f"--speeds gives policy {number} twice.")
        speeds[number] = list(khz)
    return speeds


@profiles.command("import-android")
@click.argument("xml", type=click.Path(dir_okay=False, exists=True), metavar="POWER_PROFILE.XML")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="The profile YAML to write.")
@click.option("--name", default=None, help="Profile name (default: the output file's name).")
@option("--voltage", default="3.85 V", show_default=True, type=Quantity("V", 0, 100, min_open=True),
        help="Battery nominal voltage (the XML gives currents only).")
@option("--speeds", "speeds", multiple=True, metavar="POLICY=KHZ,KHZ,...", type=PolicySpeeds(),
              help="Per-policy layout only: a scaling policy's frequencies in kHz, lowest first, one per step "
                   "(its scaling_available_frequencies); once per policy.")
def import_android(xml, out, name, voltage, speeds) -> None:
    """Write a dslsim profile from an Android power_profile.xml: one core per CPU cluster (classic AOSP layout)
    or scaling policy (the newer per-policy layout, whose frequencies come from --speeds), one operating point
    per speed, the battery and the suspend floor, every number sourced to the XML as a battery-side current;
    lists what it could not map.

    \b
    Examples:
      dslsim profiles import-android power_profile.xml --out pixel.yaml --voltage "3.85 V"
      dslsim simulate -p pixel.yaml -t dsl-50hz-10min
      dslsim profiles import-android policy_profile.xml --out p.yaml \\
          --speeds 0=300000,1100000,1800000 --speeds 4=400000,2000000
    """
    from pathlib import Path

    import yaml

    from dslsim.fileio import read_input_bytes, write_text_atomic
    from dslsim.hw.android import MAX_BYTES, android_profile, parse_power_profile
    from dslsim.hw.load import parse_profile

    volts = voltage
    try:
        text = read_input_bytes(xml, MAX_BYTES, "an Android power_profile.xml").decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DslsimError(f"{xml}: cannot be read as text ({exc}).") from None
    doc, unmapped = android_profile(parse_power_profile(text, xml), Path(xml).name, name or Path(out).stem, volts,
                                    _policy_speeds(speeds), path=xml)
    # What is written must load; a failure here is the XML's (the output is not written yet), so it is named.
    parse_profile(doc, f"{xml} (as imported)")
    header = (f"# Imported by `dslsim profiles import-android` from {Path(xml).name}: Android power_profile.xml "
              f"currents are at the battery.\n# Compute rates (ops) are assumed; fit them with `dslsim calibrate`.\n")
    write_text_atomic(out, header + yaml.safe_dump(doc, sort_keys=False, width=120))
    click.echo(f"wrote {out}: {len(doc['cores'])} cores, "
               f"{sum(len(c['opps']) for c in doc['cores'].values())} operating points")
    if unmapped:
        click.echo(f"not mapped ({len(unmapped)}): {', '.join(unmapped)}", err=True)


@profiles.command("fit-battery")
@click.argument("cell", required=False, default="enertech-ai2020", metavar="[CELL]")
@click.option("--markdown", type=click.Path(dir_okay=False), default=None,
              help="Write the validation page (docs/battery.md) here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
def fit_battery(cell, markdown, csv_out) -> None:
    """Fit a kinetic battery model (capacity, c, k) to a cell's measured constant-current discharges, predict
    each discharge with it left out, and print the battery block to paste into a profile.

    CELL is a YAML file of discharges (full to cut-off: current or C-rate, and time) or a shipped cell's name
    (default: enertech-ai2020, a 2.28 Ah Li-ion pouch measured at 0.1C to 2C).

    \b
    Examples:
      dslsim profiles fit-battery
      dslsim profiles fit-battery my-cell.yaml --csv fit.csv
      dslsim profiles fit-battery --markdown docs/battery.md
    """
    from pathlib import Path

    from dslsim.fileio import write_atomic, write_text_atomic
    from dslsim.hw.cellfit import fit_cell, load_cell, validation_table
    from dslsim.report.validation import battery_markdown

    data = load_cell(cell)
    fitted = fit_cell(data)
    df = validation_table(data, fitted)
    click.echo(f"{data.source_file}: {len(df)} constant-current discharges of {data.name}")
    held_out = "kibam_held_out_err_pct" in df
    click.echo(f"  {'current':>10} {'measured':>10} {'KiBaM':>9} {'ideal':>9}"
               + (f" {'KiBaM left out':>15} {'ideal left out':>15}" if held_out else ""))
    for r in df.itertuples(index=False):
        line = (f"  {1e3 * r.current_A:7.4g} mA {r.measured_s:8.0f} s {r.kibam_err_pct:+8.2f}% "
                f"{r.ideal_err_pct:+8.2f}%")
        if held_out:
            line += f" {r.kibam_held_out_err_pct:+14.2f}% {r.ideal_held_out_err_pct:+14.2f}%"
        click.echo(line)
    click.echo(f"kinetic model: capacity {fitted.capacity_ah:.4g} Ah, c {fitted.c:.4g}, k {fitted.k:.4g} /s\n"
               f"for a profile:\n"
               f"  battery:\n"
               f"    capacity: {{value: {fitted.capacity_ah:.4g} Ah, source: \"fitted to {Path(data.source_file).name} "
               f"by dslsim profiles fit-battery\"}}\n"
               f"    kinetic: {{c: {fitted.c:.4g}, k: {fitted.k:.4g} Hz, source: \"fitted to "
               f"{Path(data.source_file).name} by dslsim profiles fit-battery\"}}")
    if markdown:
        write_text_atomic(markdown, battery_markdown(data, df, fitted, "dslsim profiles fit-battery --markdown "
                                                                        "docs/battery.md"))
        click.echo(f"wrote {markdown}")
    if csv_out:
        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))
        click.echo(f"wrote {csv_out}")
