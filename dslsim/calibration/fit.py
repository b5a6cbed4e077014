"""Calibrate cores from bench measurements: cycle costs from latencies, run current from energies.

A measurement file (YAML) names the models, and for each system (a core of a profile, at a clock and a supply)
the measured latency and energy per inference of some of them::

    name: MLPerf Tiny, STMicroelectronics closed-division submissions
    models:
      kws: {file: models/kws_ref_model.tflite, dead_channels: skip}   # relative to this file
    systems:
      stm32u575:
        profile: stm32u575              # a shipped profile's name, or a .yaml file relative to this one
        core: mcu
        clock: 160 MHz
        source: "MLCommons tiny_results_v1.3, closed/STMicroelectronics, NUCLEO_U575ZI_Q"
        results:
          kws: {latency: 28.99 ms, energy: 664.4239 uJ, source: "…/kws/performance/results.txt …"}

**The model fitted.** Cycles of one inference on core k = s_k * (c_mac * MACs + c_out * outputs + c_op * ops),
over the model's ops (MACs of conv, depthwise, pointwise and dense layers; output elements and invocations of every
op). The shape (c_mac, c_out, c_op) is shared by all systems of the file and each core has its own speed factor
s_k (the first system's is 1): cores running the same runtime differ mostly in how many cycles a kernel loop
takes, not in which kernels are slow. Least squares on log(predicted / measured cycles), so each measurement
weighs the same whatever its size. With four benchmarks the data cannot separate the MAC kinds (the per-output
cost is what makes a depthwise MAC dearer than a pointwise one), so every MAC kind gets the same c_mac.

**Power.** Energy / latency of each measurement is the rail power while running; a core's run current is the
geometric mean of its measurements' power / (pin voltage * clock), written to the operating point that runs that
clock. Nothing else in the profile changes. With a datasheet's current tables each operating point gets their
floors and parts per MHz instead, the Run part times the network's factor over the datasheet code; what is written
is checked against the physical ranges of :mod:`dslsim.plausible` (refused if impossible, warned if implausible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dslsim import plausible
from dslsim.yamldoc import Node, load_yaml
from dslsim.errors import DslsimError, InputError, describe
from dslsim.cost import op_outputs, pin_voltage
from dslsim.hw.load import load_profile, profile_path
from dslsim.hw.profile import Core, Profile
from dslsim.calibration.currents import (SLOPE_RANGES, DatasheetCurrents, check_lines, fit_table, leave_one_clock_out,
                                        load_datasheet_currents, table_name, voltage_exponent)
from dslsim.trace.model_ops import read_model_ops
from dslsim.trace.schema import Op

#: Op kinds whose MACs are multiply-accumulates (the rest only have output and invocation costs).
MAC_KINDS = plausible.MAC_OP_KINDS
#: Op kinds a calibrated core gets an entry for.
CALIBRATED_KINDS = MAC_KINDS + ("pooling", "elementwise", "softmax", "reshape", "generic")
#: Front-end kinds (not in the measurements): they get the MAC kinds' costs, marked as assumed, unless the profile
#: costs them itself (:data:`FRONT_END_KINDS`).
ASSUMED_LIKE_MACS = ("fft", "filterbank")
#: Op kinds of the audio front end (:mod:`dslsim.trace.frontend`), which a profile may cost from the DSP library's
#: published cycle counts; calibration keeps such entries.
FRONT_END_KINDS = ("fft", "filterbank", "vector", "magnitude", "log", "overhead")


@dataclass(frozen=True)
class Measurement:
    """One measured (system, model) pair: seconds and joules per inference."""

    system: str
    model: str
    latency: float
    energy: float
    source: str = ""


@dataclass(frozen=True)
class System:
    """A core of a profile at a clock: what a measurement ran on."""

    name: str
    profile_path: Path
    core: str
    clock: float
    source: str = ""
    datasheet: DatasheetCurrents | None = None
    """The MCU's Run and Sleep current tables versus clock, when the file gives them (``datasheet: FILE``)."""


@dataclass
class MeasurementSet:
    """A parsed measurement file: models (op lists), systems and measurements."""

    path: Path
    name: str
    models: dict[str, tuple[Op, ...]]
    model_files: dict[str, Path]
    systems: dict[str, System]
    measurements: list[Measurement]
    profiles: dict[str, Profile] = field(default_factory=dict)

    def profile(self, system: str) -> Profile:
        """The (uncalibrated) profile a system's core lives in."""
        sysm = self.systems[system]
        key = str(sysm.profile_path)
        if key not in self.profiles:
            self.profiles[key] = load_profile(sysm.profile_path)
        return self.profiles[key]


def load_measurements(path: str | Path) -> MeasurementSet:
    """Parse and check a measurement file; errors name the file and key path."""
    path = Path(path)
    root = Node(load_yaml(path), str(path), sourced=True)
    root.check_keys({"name", "description", "models", "systems"}, required=("models", "systems"))
    here = path.parent
    models, files = {}, {}
    for name, node in root.children("models"):
        node.check_keys({"file", "dead_channels"}, required=("file",))
        file = here / node.text("file")
        if not file.is_file():
            raise InputError(path, node.at("file"), repr(node.data["file"]), f"a model file (looked for {file})")
        models[name] = read_model_ops(file, node.text("dead_channels", "keep", ("keep", "skip")))
        files[name] = file
    systems, measurements = {}, []
    for name, node in root.children("systems"):
        node.check_keys({"profile", "core", "clock", "results", "datasheet"},
                        required=("profile", "core", "clock", "results"))
        profile = node.text("profile")
        datasheet = load_datasheet_currents(node.child("datasheet"), here) if node.has("datasheet") else None
        systems[name] = System(name, here / profile if profile.endswith((".yaml", ".yml")) else profile_path(profile),
                               node.text("core"),
                               node.quantity("clock", "Hz", strictly_positive=True), str(node.data.get("source", "")),
                               datasheet)
        for model, item in node.children("results"):
            if model not in models:
                raise InputError(path, item.path, describe(model), f"one of the models {list(models)}")
            item.check_keys({"latency", "energy"}, required=("latency", "energy"))
            measurements.append(Measurement(name, model, item.quantity("latency", "s", strictly_positive=True),
                                            item.quantity("energy", "J", strictly_positive=True),
                                            str(item.data.get("source", ""))))
    out = MeasurementSet(path, root.text("name", default=path.stem), models, files, systems, measurements)
    for name, sysm in systems.items():
        profile = out.profile(name)
        if sysm.core not in profile.cores:
            raise InputError(path, f"systems.{name}.core", describe(sysm.core), f"a core of {sysm.profile_path}: "
                             f"{list(profile.cores)}")
        core = profile.cores[sysm.core]
        if core.supply is None:
            raise InputError(sysm.profile_path, f"cores.{sysm.core}.supply", "nothing",
                             "the supply the measurements were taken at (voltage, regulator)")
        try:
            core.clock(sysm.clock)
        except ValueError:
            raise InputError(path, f"systems.{name}.clock", f"{sysm.clock / 1e6:g} MHz",
                             f"a clock core '{sysm.core}' supports") from None
        if sysm.datasheet is not None:
            _check_datasheet(sysm.datasheet, core, path, f"systems.{name}.datasheet")
            voltages = {label: core.opp(opp).voltage for label, opp in sysm.datasheet.ranges.items()}
            datasheet = replace(sysm.datasheet, voltages=voltages)
            check_lines(datasheet)  # the floors and parts per MHz calibrate would write, before any work
            out.systems[name] = replace(sysm, datasheet=datasheet)
    return out


def _check_datasheet(ds: DatasheetCurrents, core: Core, path: Path, where: str) -> None:
    """The tables' ranges are operating points of the core, and no tabulated clock is above its range's maximum."""
    names = [p.name for p in core.opps]
    for label, opp in ds.ranges.items():
        if opp not in names:
            raise InputError(path, f"{where}.ranges.{label}", describe(opp), f"an operating point of core "
                             f"'{core.name}' {names}")
    for table in ds.tables.values():
        for p in table.points:
            top = core.opp(ds.ranges[p.range]).freq
            if p.clock > top * (1 + 1e-12):
                raise InputError(ds.path, f"{p.path}.clock", f"{p.clock / 1e6:g} MHz",
                                 f"a clock no higher than range {p.range!r} ({ds.ranges[p.range]}) supports, "
                                 f"{top / 1e6:g} MHz")


def features(ops: tuple[Op, ...]) -> np.ndarray:
    """(MACs, output elements, invocations) of a model: what the shared cycle shape multiplies."""
    macs = sum(op.macs for op in ops if op.kind in MAC_KINDS)
    return np.array([macs, sum(op_outputs(op) for op in ops), float(len(ops))])


@dataclass(frozen=True)
class Calibration:
    """Fitted costs: the shared shape, each system's speed factor and rail power, and the residuals."""

    cycles_per_mac: float
    cycles_per_output: float
    cycles_per_op: float
    speed: dict[str, float]
    power: dict[str, float]
    residuals: list[dict]

    def cycles(self, system: str, ops: tuple[Op, ...]) -> float:
        """Predicted cycles of one inference of ``ops`` on ``system``."""
        shape = np.array([self.cycles_per_mac, self.cycles_per_output, self.cycles_per_op])
        return float(self.speed[system] * features(ops) @ shape)


def fit(data: MeasurementSet, exclude_model: str | None = None) -> Calibration:
    """Fit the shared cycle shape, per-system speed factors and powers, leaving out ``exclude_model``."""
    from scipy.optimize import least_squares

    rows = [m for m in data.measurements if m.model != exclude_model]
    systems = list(dict.fromkeys(m.system for m in rows))
    if not rows:
        raise DslsimError(f"{data.path}: no measurements left to calibrate on.")
    x = np.array([features(data.models[m.model]) for m in rows])
    cycles = np.array([m.latency * data.systems[m.system].clock for m in rows])
    which = np.array([systems.index(m.system) for m in rows])

    def residual(p: np.ndarray) -> np.ndarray:
        shape = np.exp(p[:3])
        speed = np.exp(np.concatenate([[0.0], p[3:]]))
        return np.log(speed[which] * (x @ shape)) - np.log(cycles)

    start = np.concatenate([np.log([1.0, 10.0, 1000.0]), np.zeros(len(systems) - 1)])
    sol = least_squares(residual, start, method="lm" if len(rows) >= len(start) else "trf")
    shape = np.exp(sol.x[:3])
    speed = dict(zip(systems, np.exp(np.concatenate([[0.0], sol.x[3:]])).tolist()))
    power = {}
    for s in systems:
        watts = [m.energy / m.latency for m in rows if m.system == s]
        power[s] = float(math.exp(np.mean(np.log(watts))))
    cal = Calibration(float(shape[0]), float(shape[1]), float(shape[2]), speed, power, [])
    for s in systems:
        _check_plausible(data, s, cal)
    for m in rows:
        t = cal.cycles(m.system, data.models[m.model]) / data.systems[m.system].clock
        cal.residuals.append({"system": m.system, "model": m.model, "latency_s": m.latency, "fit_latency_s": t,
                              "latency_err_pct": 100 * (t / m.latency - 1), "energy_J": m.energy,
                              "fit_energy_J": power[m.system] * t,
                              "energy_err_pct": 100 * (power[m.system] * t / m.energy - 1)})
    return cal


def _check_plausible(data: MeasurementSet, system: str, cal: Calibration) -> None:
    """A system's fitted cycles per MAC against its core kind's range (:mod:`dslsim.plausible`: refused when no
    such core could run that fast, which is what a clock typed in kHz gives), and its run power per MHz against the
    range of currents per MHz (warned)."""
    sysm = data.systems[system]
    core = data.profile(system).cores[sysm.core]
    where = f"systems.{system}"
    how = f"fitted from its latencies at systems.{system}.clock = {sysm.clock / 1e6:g} MHz"
    key = f"cycles_per_mac.{core.kind}"
    if key in plausible.RANGES:
        plausible.check(key, cal.speed[system] * cal.cycles_per_mac, data.path, where, how)
    pins = pin_voltage(core)
    if pins > 0:
        plausible.check("run_current_per_mhz", cal.power[system] / (pins * sysm.clock), data.path, where,
                        f"{cal.power[system] * 1e3:.4g} mW measured at {sysm.clock / 1e6:g} MHz and {pins:g} V")


def calibrated_profile_data(data: MeasurementSet, cal: Calibration, system: str) -> dict:
    """The profile document of ``system`` (as loaded from YAML) with its core's costs and run current replaced,
    each fitted number marked ``source: calibrated from <file>``."""
    sysm = data.systems[system]
    raw = load_yaml(sysm.profile_path)
    profile = data.profile(system)
    core = profile.cores[sysm.core]
    note = f"calibrated from {data.path.name} ({data.name}); `dslsim calibrate` fit, see docs/validation.md"
    s = cal.speed[system]
    number = _number
    ops = {}
    for kind in CALIBRATED_KINDS:
        ops[kind] = {"cycles_per_mac": number(s * cal.cycles_per_mac) if kind in MAC_KINDS else 0.0,
                     "cycles_per_output": number(s * cal.cycles_per_output),
                     "cycles_per_op": number(s * cal.cycles_per_op), "source": note}
    node = raw["cores"][sysm.core]
    for kind in ASSUMED_LIKE_MACS:
        ops[kind] = dict(ops["linear"], assumed=f"'{kind}' was not measured: the calibrated MAC kinds' costs")
    ops["default"] = dict(ops["generic"])
    # The audio front end is not what the measurements ran: a profile's own sourced entries for its kinds (from
    # published cycle counts of the DSP library) stay as they are.
    for kind, entry in node.get("ops", {}).items():
        if kind in FRONT_END_KINDS and not str(entry.get("source", "")).startswith("calibrated from"):
            ops[kind] = entry
    node["ops"] = ops
    if sysm.datasheet is not None:
        _datasheet_currents(node, core, sysm, cal.power[system], f"{data.path.name}, systems.{system}", data.path)
        return raw
    clock = core.clock(sysm.clock)
    watts = cal.power[system]
    current = watts / (pin_voltage(core) * clock.freq) - clock.opp.base_current / clock.freq
    plausible.check("run_current_per_mhz", current, data.path, f"systems.{system}",
                    f"{watts * 1e3:.4g} mW measured at {sysm.clock / 1e6:g} MHz and {pin_voltage(core):g} V, less the "
                    f"floor of operating point {clock.opp.name!r} of {sysm.profile_path.name}, "
                    f"{clock.opp.base_current * 1e6:.4g} uA")
    # Without current tables the measured all-in power is the only figure: other operating points follow it by
    # their core voltage (clock power ~ C V^2 f: the current per Hz at the pins goes with V^2 through an SMPS,
    # with V through an LDO), floor included, which is why the result is marked assumed.
    exponent = 1 if core.supply.regulator == "ldo" else 2
    for point, spec in zip(node["opps"], core.opps):
        scale = (spec.voltage / clock.opp.voltage) ** exponent
        # Rounded, so that calibrating a calibrated profile gives the same file.
        ratio = float(f"{spec.idle_current / spec.run_current:.3g}") if spec.run_current else 0.0
        measured = f"{note}: {watts * 1e3:.4g} mW measured at {sysm.clock / 1e6:g} MHz, all in per MHz"
        gap = (f"no current-versus-clock table of this part was at hand (the measurement file gives no "
               f"'datasheet'), so the board's floor cannot be separated from its part per MHz")
        if spec is clock.opp:
            point["run_current"] = {"value": f"{number(current * scale * 1e12)} uA/MHz", "source": measured,
                                    "assumed": f"{gap}: right at {sysm.clock / 1e6:g} MHz, too steep below it"}
        else:
            point["run_current"] = {"value": f"{number(current * scale * 1e12)} uA/MHz", "assumed":
                                    f"{gap}: the {clock.opp.name} all-in figure x ({spec.voltage:g} V / "
                                    f"{clock.opp.voltage:g} V)^{exponent}, floor included; not validated"}
        if ratio:
            point["idle_current"] = {"value": f"{number(current * scale * ratio * 1e12)} uA/MHz", "assumed":
                                     f"{gap}: the run current x the profile's idle/run ratio {ratio:.3g} (a "
                                     f"core-only datasheet ratio on a board-level figure); not validated"}
    return raw


def _number(value: float) -> float:
    """Five significant figures, so that calibrating a calibrated profile gives the same file."""
    return float(f"{value:.5g}")


def nn_factor(ds: DatasheetCurrents, core: Core, clock: float, watts: float) -> float:
    """How much more current per MHz the measured network draws than the datasheet's Run code: the measured
    board power at ``clock`` less the Run floor of its range, over the datasheet's Run part per MHz there."""
    spec = core.clock(clock)
    label = {opp: lbl for lbl, opp in ds.ranges.items()}.get(spec.opp.name)
    line = fit_table(ds.tables["run"], ds.voltages, voltage_exponent(ds.regulator)).get(label) \
        if "run" in ds.tables and label is not None else None
    if line is None:
        raise DslsimError(f"{ds.path}: no Run table for range {spec.opp.name}, where the measurements ran "
                          f"({clock / 1e6:g} MHz); the network's factor over the datasheet needs it.")
    return (watts / _pins(ds, core) - line.base) / (line.per_hz * clock)


def _pins(ds: DatasheetCurrents, core: Core) -> float:
    """The voltage that turns the tables' currents into the board's power: the rail through an LDO (current
    passes), the tables' own supply voltage through an SMPS (power passes)."""
    return core.supply.voltage if core.supply.regulator == "ldo" else ds.voltage


def _datasheet_currents(node: dict, core: Core, sysm: System, watts: float, where: str, source: Path) -> None:
    """Write each operating point's Run and Sleep floor and slope from the datasheet's tables; the Run slope times
    the measured network's factor over the datasheet's code (:func:`nn_factor`). The tables' own floors and
    slopes were checked when the measurement file was read (:func:`~dslsim.calibration.currents.check_lines`);
    what is scaled here (by that factor, or to a range without a table) is checked as written, against the same
    ranges, naming the measurement file ``source`` and the operating point."""
    ds = sysm.datasheet
    k = nn_factor(ds, core, sysm.clock, watts)
    if k <= 0:
        raise DslsimError(f"{where}: the measured {watts * 1e3:.4g} mW at {sysm.clock / 1e6:g} MHz is below the "
                          f"Run floor of {ds.path.name} alone; the measurement and the table disagree on what the "
                          f"rail includes.")
    if core.supply.regulator == "smps":  # the tables' currents turn into power at their own supply voltage
        node["supply"]["datasheet_voltage"] = f"{ds.voltage:g} V"
    lines = {state: fit_table(table, ds.voltages, voltage_exponent(ds.regulator)) for state, table in ds.tables.items()}
    # Each fitted current carries its fit's spread: the largest leave-one-clock-out error of its board and state.
    spread: dict[str, float] = {}
    for row in leave_one_clock_out(ds):
        spread[row["state"]] = max(spread.get(row["state"], 0.0), abs(row["err_pct"]))
    label_of = {opp: lbl for lbl, opp in ds.ranges.items()}
    keys = {"run": ("base_current", "run_current"), "sleep": ("idle_base_current", "idle_current")}
    for point, spec in zip(node["opps"], core.opps):
        for state in lines:   # a state without a table keeps the profile's own figures
            for key in keys[state]:
                point.pop(key, None)
        for state, (base_key, slope_key) in keys.items():
            fits = lines.get(state, {})
            label = label_of.get(spec.name)
            factor = k if state == "run" else 1.0
            extra = (f" x {k:.3g}, the measured network's current per MHz over the datasheet code's ({where}: "
                     f"{watts * 1e3:.4g} mW at {sysm.clock / 1e6:g} MHz)") if state == "run" else ""
            if label in fits:
                line = fits[label]
                table = ds.tables[state]
                how = (f"{table.source} (typ, 25 degC): fitted with every range's floor and one switched "
                       f"capacitance (part per MHz ~ Vcore^{voltage_exponent(ds.regulator)}) on relative error; "
                       f"{line.clocks} clock(s) of range {label}")
                tol = {"tolerance": f"{min(spread[state], 99.0):.3g} %"} if state in spread else {}
                if state == "run":
                    plausible.check("run_current_per_mhz", line.per_hz * factor, source,
                                    f"systems.{sysm.name}: operating point {spec.name!r}, {slope_key}",
                                    f"{table_name(table)}, range {label!r}: {line.per_hz * 1e12:.4g} uA/MHz x {k:.3g}, "
                                    f"the measured network's factor over the datasheet code")
                point[base_key] = {"value": f"{_number(line.base * 1e6)} uA", **tol, "source": f"{how}: the floor"}
                point[slope_key] = {"value": f"{_number(line.per_hz * factor * 1e12)} uA/MHz", **tol,
                                    "source": f"{how}: the part per MHz{extra}"}
                continue
            if not fits:
                continue
            # No table for this range: the floor of the nearest range in voltage, the part per MHz scaled by the
            # core voltage (what switching scales with); the floor does not scale.
            near_label = min(fits, key=lambda lbl: abs(core.opp(ds.ranges[lbl]).voltage - spec.voltage))
            near = core.opp(ds.ranges[near_label])
            line = fits[near_label]
            e = voltage_exponent(ds.regulator)
            scale = (spec.voltage / near.voltage) ** e
            why = (f"{ds.document} has no {state} table for {spec.name}: range {near_label}'s floor and its part "
                   f"per MHz x ({spec.voltage:g} V / {near.voltage:g} V)^{e}")
            plausible.check(SLOPE_RANGES[state], line.per_hz * factor * scale, source,
                            f"systems.{sysm.name}: operating point {spec.name!r}, {slope_key}",
                            f"{table_name(ds.tables[state])}, range {near_label!r}: {line.per_hz * 1e12:.4g} uA/MHz"
                            f"{f' x {k:.3g}' if state == 'run' else ''} x ({spec.voltage:g} V / {near.voltage:g} V)^{e}")
            point[base_key] = {"value": f"{_number(line.base * 1e6)} uA", "assumed": why}
            point[slope_key] = {"value": f"{_number(line.per_hz * factor * scale * 1e12)} uA/MHz",
                                "assumed": why + extra}
