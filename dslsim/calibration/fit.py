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
clock. Nothing else in the profile changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dslsim.yamldoc import Node, load_yaml
from dslsim.errors import DslsimError, InputError, describe
from dslsim.cost import op_outputs, pin_voltage
from dslsim.hw.load import load_profile, profile_path
from dslsim.hw.profile import Profile
from dslsim.trace.model_ops import read_model_ops
from dslsim.trace.schema import Op

#: Op kinds whose MACs are multiply-accumulates (the rest only have output and invocation costs).
MAC_KINDS = ("conv1d", "conv_transpose1d", "conv2d", "depthwise_conv2d", "pointwise_conv2d", "linear", "vq_search")
#: Op kinds a calibrated core gets an entry for.
CALIBRATED_KINDS = MAC_KINDS + ("pooling", "elementwise", "softmax", "reshape", "generic")
#: Front-end kinds (not in the measurements): they get the MAC kinds' costs, marked as assumed.
ASSUMED_LIKE_MACS = ("fft", "filterbank")


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
        node.check_keys({"profile", "core", "clock", "results"}, required=("profile", "core", "clock", "results"))
        profile = node.text("profile")
        systems[name] = System(name, here / profile if profile.endswith((".yaml", ".yml")) else profile_path(profile),
                               node.text("core"),
                               node.quantity("clock", "Hz", strictly_positive=True), str(node.data.get("source", "")))
        for model, item in node.children("results"):
            if model not in models:
                raise InputError(path, item.path, describe(model), f"one of the models {list(models)}")
            item.check_keys({"latency", "energy"}, required=("latency", "energy"))
            measurements.append(Measurement(name, model, item.quantity("latency", "s", strictly_positive=True),
                                            item.quantity("energy", "J", strictly_positive=True),
                                            str(item.data.get("source", ""))))
    out = MeasurementSet(path, str(root.data.get("name", path.stem)), models, files, systems, measurements)
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
    return out


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
    for m in rows:
        t = cal.cycles(m.system, data.models[m.model]) / data.systems[m.system].clock
        cal.residuals.append({"system": m.system, "model": m.model, "latency_s": m.latency, "fit_latency_s": t,
                              "latency_err_pct": 100 * (t / m.latency - 1), "energy_J": m.energy,
                              "fit_energy_J": power[m.system] * t,
                              "energy_err_pct": 100 * (power[m.system] * t / m.energy - 1)})
    return cal


def calibrated_profile_data(data: MeasurementSet, cal: Calibration, system: str) -> dict:
    """The profile document of ``system`` (as loaded from YAML) with its core's costs and run current replaced,
    each fitted number marked ``source: calibrated from <file>``."""
    sysm = data.systems[system]
    raw = load_yaml(sysm.profile_path)
    profile = data.profile(system)
    core = profile.cores[sysm.core]
    note = f"calibrated from {data.path.name} ({data.name}); `dslsim calibrate` fit, see docs/validation.md"
    s = cal.speed[system]

    def number(value: float) -> float:
        return float(f"{value:.5g}")

    ops = {}
    for kind in CALIBRATED_KINDS:
        ops[kind] = {"cycles_per_mac": number(s * cal.cycles_per_mac) if kind in MAC_KINDS else 0.0,
                     "cycles_per_output": number(s * cal.cycles_per_output),
                     "cycles_per_op": number(s * cal.cycles_per_op), "source": note}
    for kind in ASSUMED_LIKE_MACS:
        ops[kind] = dict(ops["linear"], assumed=f"'{kind}' was not measured: the calibrated MAC kinds' costs")
    ops["default"] = dict(ops["generic"])
    node = raw["cores"][sysm.core]
    node["ops"] = ops
    clock = core.clock(sysm.clock)
    watts = cal.power[system]
    current = watts / (pin_voltage(core) * clock.freq) - clock.opp.base_current / clock.freq
    # Other operating points follow the measured one by their core voltage: clock power ~ C V^2 f, so the
    # current per Hz at the pins goes with V^2 through an SMPS (power passes) and with V through an LDO.
    exponent = 1 if core.supply.regulator == "ldo" else 2
    for point, spec in zip(node["opps"], core.opps):
        scale = (spec.voltage / clock.opp.voltage) ** exponent
        # Rounded, so that calibrating a calibrated profile gives the same file.
        ratio = float(f"{spec.idle_current / spec.run_current:.3g}") if spec.run_current else 0.0
        how = (f"{watts * 1e3:.4g} mW measured at {sysm.clock / 1e6:g} MHz" if spec is clock.opp else
               f"the {clock.opp.name} value x ({spec.voltage:g} V / {clock.opp.voltage:g} V)^{exponent}")
        point["run_current"] = {"value": f"{number(current * scale * 1e12)} uA/MHz",
                                "source": f"{note}: {how}"}
        if ratio:
            point["idle_current"] = {"value": f"{number(current * scale * ratio * 1e12)} uA/MHz",
                                     "source": f"{note}: the run current x the profile's idle/run ratio {ratio:.3g}"}
    return raw
