"""Plain dataclasses for a loaded hardware profile. All values are SI floats (Hz, V, W, J, s, B, Ah)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Core kinds a profile may declare; the kind is descriptive, behaviour comes from the numbers.
CORE_KINDS = ("mcu", "dsp", "cpu", "npu")


@dataclass(frozen=True)
class OperatingPoint:
    """A DVFS operating point: clock, supply voltage and the static (leakage) power at that voltage."""

    name: str
    freq: float
    voltage: float
    leakage: float


@dataclass(frozen=True)
class OpCost:
    """How a core executes one op kind: sustained MACs per cycle and energy per MAC at the reference voltage."""

    macs_per_cycle: float
    energy_per_mac: float


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
    """One core: operating points, per-op-kind cost table, memory energy, idle and sleep states.

    Dynamic energy of an op at operating point ``opp`` is
    ``macs * energy_per_mac * (opp.voltage / ref_voltage) ** 2 + bytes * mem_energy_per_byte``; its time is
    ``max(macs / macs_per_cycle, bytes / mem_bytes_per_cycle) / opp.freq`` (compute and memory overlap).
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

    def opp(self, name: str) -> OperatingPoint:
        """The operating point called ``name`` (KeyError if absent; the scenario checks first)."""
        for point in self.opps:
            if point.name == name:
                return point
        raise KeyError(name)

    def op_cost(self, kind: str) -> OpCost | None:
        """Cost entry for an op kind, falling back to the ``default`` entry; None if neither exists."""
        return self.op_costs.get(kind) or self.op_costs.get("default")

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
    """Battery and converter: usable energy = capacity * voltage * usable_fraction."""

    capacity_ah: float
    voltage: float
    usable_fraction: float
    converter_efficiency: float

    @property
    def usable_energy(self) -> float:
        """Joules the load can draw, before converter losses."""
        return self.capacity_ah * 3600.0 * self.voltage * self.usable_fraction


@dataclass(frozen=True)
class Profile:
    """A device: battery, always-on platform floor, cores and links, plus its default scenario (raw YAML)."""

    name: str
    description: str
    battery: Battery
    floor: dict[str, float]
    cores: dict[str, Core]
    links: tuple[Link, ...]
    default_scenario: dict[str, Any] = field(default_factory=dict)
    source_file: str = ""
    unsourced: tuple[str, ...] = ()

    @property
    def floor_power(self) -> float:
        """Always-on platform power (microphone, PMIC, …) in W."""
        return float(sum(self.floor.values()))

    def link_between(self, a: str, b: str) -> Link | None:
        """The link joining cores ``a`` and ``b`` in either direction, if any."""
        for link in self.links:
            if {link.a, link.b} == {a, b}:
                return link
        return None
