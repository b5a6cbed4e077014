"""The cost model: what an op, a stage and a clocked core cost, in seconds and joules at the core's supply rail.

Two phases, as in every table-driven estimator: the profile is the reference table (cycles and energy per MAC
per op kind, per-op overhead, currents or energies per operating point), and this module multiplies the counts
of a trace's op graph by it.

* **Time.** An op takes ``max(macs * cycles_per_mac + outputs * cycles_per_output + cycles_per_op,
  bytes_moved / mem_bytes_per_cycle)`` cycles (compute and memory overlap; ``outputs`` = output elements);
  a stage is the sum of its ops; seconds = cycles / clock.
* **Power while active** (for as long as the core runs): the operating point's leakage through the regulator,
  plus the datasheet run current at the supply pins: ``V_pins * (base_current + run_current * f)``.
* **Power while idle** (clock-gated, waiting): leakage and the core's idle power through the regulator, plus
  ``V_pins * (base_current + idle_current * f)`` — so idle power follows the clock, as STM32 "Sleep mode" does.
* **Dynamic energy per op** on top: ``macs * energy_per_mac * (V / ref_voltage)**2 + bytes * mem_energy_per_byte``
  through the regulator (zero for a core described by datasheet currents alone).

The regulator (:class:`~dslsim.hw.profile.Supply`): core-side figures are divided by its efficiency ('smps':
the given one; 'ldo': core voltage / rail voltage). Datasheet currents are read at ``datasheet_voltage``: through
an LDO the current is the same at the rail voltage, through an SMPS the power is.

>>> from dslsim.hw.profile import Core, OpCost, OperatingPoint, Supply
>>> from dslsim.trace.schema import Op
>>> mcu = Core("mcu", "mcu", (OperatingPoint("r1", 160e6, 1.2, run_current=80e-12),), 1.2,
...            {"default": OpCost(cycles_per_mac=1.5, cycles_per_op=2000)}, 0.0, float("inf"), 0.0,
...            supply=Supply(1.8, "smps", 0.9))
>>> clock = mcu.clock(80e6)                      # 80 MHz: the lowest point that supports it
>>> round(op_seconds(Op("fc", "linear", macs=10_000), mcu, clock) * 1e6, 3)   # (15,000 + 2,000) / 80 MHz
212.5
>>> round(active_power(mcu, clock) * 1e3, 3)      # 1.8 V * 80 pA/Hz * 80 MHz
11.52
"""

from __future__ import annotations

from dslsim.errors import DslsimError
from dslsim.hw.profile import Clock, Core, OpCost
from dslsim.trace.schema import DTYPE_BYTES, Op, Stage


def regulator_efficiency(core: Core, clock: Clock) -> float:
    """Efficiency from the rail to the core at this clock's voltage (1 with no supply or 'none')."""
    supply = core.supply
    if supply is None or supply.regulator == "none":
        return 1.0
    if supply.regulator == "ldo":
        return min(1.0, clock.opp.voltage / supply.voltage)
    return supply.efficiency


def pin_voltage(core: Core) -> float:
    """The voltage that turns the datasheet's pin currents into power at this core's rail.

    Through an LDO the current does not change with the rail, so power = current x rail voltage; through an SMPS
    (or with no regulator named) the power does not change, so it is current x the datasheet's voltage.
    """
    supply = core.supply
    if supply is None:
        return 0.0
    measured_at = supply.datasheet_voltage or supply.voltage
    return supply.voltage if supply.regulator == "ldo" else measured_at


def active_power(core: Core, clock: Clock) -> float:
    """Watts at the rail while the core runs (static and clock power; op energies come on top)."""
    opp = clock.opp
    return opp.leakage / regulator_efficiency(core, clock) \
        + pin_voltage(core) * (opp.base_current + opp.run_current * clock.freq)


def idle_power(core: Core, clock: Clock) -> float:
    """Watts at the rail while the core is clocked but waiting (WFI / STM32 Sleep mode)."""
    opp = clock.opp
    return (opp.leakage + core.idle_power) / regulator_efficiency(core, clock) \
        + pin_voltage(core) * (opp.base_current + opp.idle_current * clock.freq)


def _cost(core: Core, op: Op, stage: str) -> OpCost:
    cost = core.op_cost(op.kind)
    if cost is None:
        raise DslsimError(
            f"core '{core.name}' has no cost entry for op kind '{op.kind}' (stage '{stage}', op '{op.name}'); add "
            f"'{op.kind}' or 'default' under cores.{core.name}.ops in the profile.")
    return cost


def op_outputs(op: Op) -> float:
    """Output elements of one frame of ``op``."""
    return op.act_out_bytes / DTYPE_BYTES.get(op.dtype, 1)


def op_cycles(op: Op, core: Core, stage: str = "") -> float:
    """Cycles one frame of ``op`` takes on ``core``."""
    cost = _cost(core, op, stage)
    compute = op.macs * cost.cycles_per_mac + op_outputs(op) * cost.cycles_per_output + cost.cycles_per_op
    return max(compute, op.bytes_moved / core.mem_bytes_per_cycle)


def op_seconds(op: Op, core: Core, clock: Clock, stage: str = "") -> float:
    """Seconds one frame of ``op`` takes on ``core`` at ``clock``."""
    return op_cycles(op, core, stage) / clock.freq


def op_dynamic_energy(op: Op, core: Core, clock: Clock, stage: str = "") -> float:
    """Joules of dynamic energy of one frame of ``op`` at the rail (on top of the active power)."""
    cost = _cost(core, op, stage)
    v2 = (clock.opp.voltage / core.ref_voltage) ** 2
    core_side = op.macs * cost.energy_per_mac * v2 + op.bytes_moved * core.mem_energy_per_byte
    return core_side / regulator_efficiency(core, clock)


def stage_cost(stage: Stage, core: Core, clock: Clock) -> tuple[float, float]:
    """(seconds, dynamic joules) of one frame of ``stage`` on ``core`` at ``clock``.

    The active power for those seconds is accounted by the simulator on the core's timeline (and attributed to
    the frame); it is not in the joules returned here.
    """
    seconds = sum(op_seconds(op, core, clock, stage.name) for op in stage.ops)
    joules = sum(op_dynamic_energy(op, core, clock, stage.name) for op in stage.ops)
    return seconds, joules


def stage_energy(stage: Stage, core: Core, clock: Clock) -> float:
    """All the energy one frame of ``stage`` costs while it runs: dynamic plus active power for its time."""
    seconds, joules = stage_cost(stage, core, clock)
    return joules + active_power(core, clock) * seconds
