"""Plain dataclasses for a loaded hardware profile. All values are SI floats (Hz, V, W, J, s, B, Ah)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Core kinds a profile may declare; the kind is descriptive, behaviour comes from the numbers.
CORE_KINDS = ("mcu", "dsp", "cpu", "npu")


@dataclass(frozen=True)
class OperatingPoint:
    """A DVFS operating point or an STM32-style voltage range: its highest clock ``freq``, core voltage, and power.

    Power may be given core-side (``leakage``, W at ``voltage``; op energies in the core's op table) or as an MCU
    datasheet gives it, in currents at the supply pins, for Run and for Sleep (clock-gated WFI) separately: a
    clock-independent floor (regulator, flash, SRAM, oscillators: ``base_current``, ``idle_base_current``) plus a
    part per Hz of clock (``run_current``, ``idle_current``). Both ways may be combined; they add.
    """

    name: str
    """Name of the point (``range1``, ``nominal``)."""
    freq: float
    """Highest clock the point supports (Hz)."""
    voltage: float
    """Core voltage (V)."""
    leakage: float = 0.0
    """Core-side static power (W), through the regulator."""
    run_current: float = 0.0
    """Run mode current per Hz of clock at the supply pins (A/Hz; datasheets say uA/MHz)."""
    idle_current: float = 0.0
    """Sleep mode (clock-gated) current per Hz of clock at the supply pins (A/Hz)."""
    base_current: float = 0.0
    """Run mode's clock-independent current at the supply pins (A)."""
    idle_base_current: float = 0.0
    """Sleep mode's clock-independent current at the supply pins (A); a profile that omits it gets Run's."""


@dataclass(frozen=True)
class Clock:
    """Where a core runs in a scenario: an operating point and a clock no higher than its ``freq``."""

    opp: OperatingPoint
    freq: float

    @property
    def label(self) -> str:
        """``name`` when running at the point's own clock, else ``name@60 MHz``."""
        if self.freq == self.opp.freq:
            return self.opp.name
        return f"{self.opp.name}@{self.freq / 1e6:g} MHz"


@dataclass(frozen=True)
class Supply:
    """What feeds a core: the rail voltage and the regulator between it and the core.

    ``regulator`` 'ldo' passes current (efficiency = core voltage / rail voltage); 'smps' passes power at
    ``efficiency``; 'none' means the figures are at the core already. Datasheet currents are read at
    ``datasheet_voltage`` (default: the rail voltage): through an LDO the current stays the same on another rail,
    through an SMPS the power does.
    """

    voltage: float
    regulator: str = "none"
    efficiency: float = 1.0
    datasheet_voltage: float | None = None


#: Regulator kinds a supply may name.
REGULATORS = ("none", "ldo", "smps")


@dataclass(frozen=True)
class OpCost:
    """How a core executes one op kind: cycles per MAC, per output element (bias, requantisation, store) and per
    op invocation (call, set-up), and the dynamic energy per MAC at the reference voltage (zero when the operating
    point's run current already covers it)."""

    cycles_per_mac: float
    energy_per_mac: float = 0.0
    cycles_per_op: float = 0.0
    cycles_per_output: float = 0.0

    @property
    def macs_per_cycle(self) -> float:
        """Sustained throughput, the inverse of :attr:`cycles_per_mac`."""
        return 1.0 / self.cycles_per_mac if self.cycles_per_mac > 0 else float("inf")


@dataclass(frozen=True)
class Peripheral:
    """A peripheral a scenario may keep running between jobs (an audio interface receiving by DMA, a UART).

    While it runs it draws ``base_current`` plus its current per Hz at the core's operating point x the core's
    clock at the supply pins, in Run and in Sleep alike. A sleep state that stops the clocks stops it too, unless
    the state is in ``runs_in`` (a low-power audio filter that captures in Stop 2, say); there it draws only
    ``base_current``.
    """

    name: str
    """Name (``sai1``, ``gpdma1``)."""
    base_current: float = 0.0
    """Clock-independent current while it runs (A): its own kernel clock's share, say."""
    current_per_hz: dict[str, float] = field(default_factory=dict)
    """Operating point name -> current per Hz of the bus clock while it runs (A/Hz; datasheets list peripherals in
    uA/MHz per voltage range)."""
    runs_in: tuple[str, ...] = ()
    """Sleep states of the core in which it keeps running."""


@dataclass(frozen=True)
class SleepState:
    """A low-power state: its power, how long entering and leaving take, and what each transition costs."""

    name: str
    power: float
    entry_latency: float
    exit_latency: float
    entry_energy: float
    exit_energy: float


@dataclass(frozen=True)
class Core:
    """One core: supply, operating points, per-op-kind cost table, memory energy, idle and sleep states.

    The cost formula lives in :mod:`dslsim.cost`: an op takes
    ``max(macs * cycles_per_mac + outputs * cycles_per_output + cycles_per_op, bytes / mem_bytes_per_cycle)``
    cycles and costs
    ``macs * energy_per_mac * (V / ref_voltage) ** 2 + bytes * mem_energy_per_byte`` of dynamic energy, on top of
    the operating point's active power for as long as it runs.
    """

    name: str
    kind: str
    opps: tuple[OperatingPoint, ...]
    ref_voltage: float
    op_costs: dict[str, OpCost]
    mem_energy_per_byte: float
    mem_bytes_per_cycle: float
    idle_power: float
    sleep_states: tuple[SleepState, ...] = ()
    supply: Supply | None = None
    peripherals: dict[str, Peripheral] = field(default_factory=dict)
    """Peripherals a scenario may keep streaming on this core, by name."""

    def opp(self, name: str) -> OperatingPoint:
        """The operating point called ``name`` (KeyError if absent; the scenario checks first)."""
        for point in self.opps:
            if point.name == name:
                return point
        raise KeyError(name)

    def clock(self, spec: str | float) -> Clock:
        """The clock for an operating point name, or for a frequency in Hz: the lowest point that supports it
        (ValueError if none does; the scenario checks first).

        >>> # STM32U5 ranges 4..1 up to 24/55/110/160 MHz: clock(60e6) runs range 2 at 60 MHz.
        """
        if isinstance(spec, str):
            point = self.opp(spec)
            return Clock(point, point.freq)
        able = [p for p in self.opps if p.freq >= spec * (1 - 1e-12)]
        if not able:
            raise ValueError(spec)
        return Clock(min(able, key=lambda p: (p.freq, p.voltage)), float(spec))

    def sleep_state(self, name: str) -> SleepState:
        """The sleep state called ``name``."""
        for state in self.sleep_states:
            if state.name == name:
                return state
        raise KeyError(name)


@dataclass(frozen=True)
class Link:
    """A data path between two cores (both directions, one transfer at a time)."""

    a: str
    b: str
    latency: float
    bandwidth: float
    energy_per_byte: float

    @property
    def name(self) -> str:
        """``a<->b``."""
        return f"{self.a}<->{self.b}"


@dataclass(frozen=True)
class Battery:
    """Battery and converter: usable energy = capacity * voltage * usable_fraction.

    ``kinetic``: a kinetic battery model's (available fraction c, valve rate k in 1/s) for rate and recovery
    effects, or None for an ideal reservoir. ``self_discharge``: the share of the capacity lost per month.
    """

    capacity_ah: float
    voltage: float
    usable_fraction: float
    converter_efficiency: float
    kinetic: tuple[float, float] | None = None
    self_discharge: float = 0.0

    def lifetime_s(self, power: float, modelled: bool = True) -> float:
        """Seconds a full battery lasts at a mean draw of ``power`` W from it. ``modelled``: by the battery's own
        model (self-discharge as a steady extra draw; the kinetic model when the battery has one); else as the
        ideal reservoir, usable energy / draw."""
        from dslsim.hw.battery import KiBaM

        if modelled:
            power = power + self.capacity_ah * 3600.0 * self.voltage * self.self_discharge / SECONDS_PER_MONTH
        if power <= 0:
            return float("inf")
        if self.kinetic is None or not modelled:
            return self.usable_energy / power
        c, k = self.kinetic
        return KiBaM(self.capacity_ah * self.usable_fraction, c, k).lifetime_constant(power / self.voltage)

    @property
    def usable_energy(self) -> float:
        """Joules the load can draw, before converter losses."""
        return self.capacity_ah * 3600.0 * self.voltage * self.usable_fraction


#: A month for self-discharge rates (30 days).
SECONDS_PER_MONTH = 30 * 86400.0


@dataclass(frozen=True)
class Profile:
    """A device: battery, always-on platform floor, cores and links, plus its default scenario (raw YAML)."""

    name: str
    description: str
    battery: Battery
    floor: dict[str, float]
    """Always-on power outside the modelled cores, drawn at the rails (after the converter), by item."""
    cores: dict[str, Core]
    links: tuple[Link, ...]
    default_scenario: dict[str, Any] = field(default_factory=dict)
    source_file: str = ""
    unsourced: tuple[str, ...] = ()
    battery_floor: dict[str, float] = field(default_factory=dict)
    """Floor items measured at the battery (e.g. Android power_profile.xml currents): not divided by the
    converter efficiency again."""

    @property
    def floor_power(self) -> float:
        """Always-on platform power (microphone, PMIC, …) in W."""
        return float(sum(self.floor.values()))

    @property
    def battery_floor_power(self) -> float:
        """Floor power measured at the battery, in W."""
        return float(sum(self.battery_floor.values()))

    def link_between(self, a: str, b: str) -> Link | None:
        """The link joining cores ``a`` and ``b`` in either direction, if any."""
        for link in self.links:
            if {link.a, link.b} == {a, b}:
                return link
        return None
