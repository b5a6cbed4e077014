"""What an op and a stage cost on a clocked core: cycles, seconds and dynamic joules, with the profile key paths of
the numbers used.

Two phases, as in every table-driven estimator: the profile is the reference table (cycles and energy per MAC
per op kind, per-op overhead, memory energy), and this module multiplies the counts of a trace's op graph by it.

* **Time.** An op takes ``max(macs * cycles_per_mac + outputs * cycles_per_output + cycles_per_op,
  bytes_moved / mem_bytes_per_cycle)`` cycles (compute and memory overlap; ``outputs`` = output elements);
  a stage is the sum of its ops; seconds = cycles / clock.
* **Dynamic energy per op**, on top of the running power of :mod:`dslsim.cost.power`:
  ``macs * energy_per_mac * (V / ref_voltage)**2 + bytes * mem_energy_per_byte`` through the regulator (zero for a
  core described by datasheet currents alone).

>>> from dslsim.hw.profile import Core, OpCost, OperatingPoint, Supply
>>> from dslsim.trace.schema import Op, Stage
>>> mcu = Core("mcu", "mcu", (OperatingPoint("r1", 160e6, 1.2, run_current=80e-12),), 1.2,
...            {"default": OpCost(cycles_per_mac=1.5, cycles_per_op=2000)}, 0.0, float("inf"), 0.0,
...            supply=Supply(1.8, "smps", 0.9))
>>> cost = stage_cost(Stage("fc", (Op("fc", "linear", macs=10_000),)), mcu, mcu.clock(80e6))
>>> round(cost.seconds * 1e6, 3), cost.macs, cost.sources      # (15,000 + 2,000) cycles / 80 MHz
(212.5, 10000.0, ('cores.mcu.ops.default',))
"""

from __future__ import annotations

from dslsim.cost.power import regulator_efficiency
from dslsim.cost.record import Cost
from dslsim.errors import DslsimError
from dslsim.hw.profile import Clock, Core, OpCost
from dslsim.trace.schema import DTYPE_BYTES, Op, Stage


def _entry(core: Core, op: Op, stage: str) -> tuple[str, OpCost]:
    """The op table entry that costs ``op`` on ``core``: its key (the op kind, else 'default') and its costs."""
    for key in (op.kind, "default"):
        if key in core.op_costs:
            return key, core.op_costs[key]
    raise DslsimError(
        f"core '{core.name}' has no cost entry for op kind '{op.kind}' (stage '{stage}', op '{op.name}'); add "
        f"'{op.kind}' or 'default' under cores.{core.name}.ops in the profile.")


def op_outputs(op: Op) -> float:
    """Output elements of one frame of ``op``."""
    return op.act_out_bytes / DTYPE_BYTES.get(op.dtype, 1)


def op_cycles(op: Op, core: Core, stage: str = "") -> float:
    """Cycles one frame of ``op`` takes on ``core``."""
    cost = _entry(core, op, stage)[1]
    compute = op.macs * cost.cycles_per_mac + op_outputs(op) * cost.cycles_per_output + cost.cycles_per_op
    return max(compute, op.bytes_moved / core.mem_bytes_per_cycle)


def op_seconds(op: Op, core: Core, clock: Clock, stage: str = "") -> float:
    """Seconds one frame of ``op`` takes on ``core`` at ``clock``."""
    return op_cycles(op, core, stage) / clock.freq


def op_dynamic_energy(op: Op, core: Core, clock: Clock, stage: str = "") -> float:
    """Joules of dynamic energy of one frame of ``op`` at the rail (on top of the running power)."""
    cost = _entry(core, op, stage)[1]
    v2 = (clock.opp.voltage / core.ref_voltage) ** 2
    core_side = op.macs * cost.energy_per_mac * v2 + op.bytes_moved * core.mem_energy_per_byte
    return core_side / regulator_efficiency(core, clock)


def op_sources(op: Op, core: Core, stage: str = "") -> tuple[str, ...]:
    """The profile key paths whose numbers cost ``op`` on ``core``: its op table entry, and the memory figures
    when they enter (a memory-bound op, bytes moved at an energy per byte)."""
    key, cost = _entry(core, op, stage)
    paths = [f"cores.{core.name}.ops.{key}"]
    compute = op.macs * cost.cycles_per_mac + op_outputs(op) * cost.cycles_per_output + cost.cycles_per_op
    if op.bytes_moved / core.mem_bytes_per_cycle > compute:
        paths.append(f"cores.{core.name}.memory.bytes_per_cycle")
    if op.bytes_moved and core.mem_energy_per_byte:
        paths.append(f"cores.{core.name}.memory.energy_per_byte")
    return tuple(paths)


def stage_cost(stage: Stage, core: Core, clock: Clock) -> Cost:
    """What one frame of ``stage`` costs on ``core`` at ``clock``: seconds, dynamic joules, MACs, bytes moved and
    the key paths of the numbers used.

    The running power for those seconds is accounted by the simulator on the core's timeline (and attributed to
    the frame); it is not in the joules returned here.
    """
    seconds = sum(op_seconds(op, core, clock, stage.name) for op in stage.ops)
    joules = sum(op_dynamic_energy(op, core, clock, stage.name) for op in stage.ops)
    sources = tuple(dict.fromkeys(path for op in stage.ops for path in op_sources(op, core, stage.name)))
    return Cost(seconds=seconds, joules=joules, macs=float(sum(op.macs for op in stage.ops)),
                bytes=float(sum(op.bytes_moved for op in stage.ops)), sources=sources)
