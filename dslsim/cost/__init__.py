"""The cost model: what an op, a stage and a clocked core cost, in seconds and joules at the core's supply rail.

It sits above the device description (:mod:`dslsim.hw`, pure data) and the workload (:mod:`dslsim.trace`, op
graphs) and multiplies one by the other: :mod:`dslsim.cost.ops` for ops and stages (cycles, seconds, dynamic
energy), :mod:`dslsim.cost.power` for a core's power while running and while waiting, :class:`Cost` for a result
that adds and names the profile key paths it used.
"""

from dslsim.cost.power import (active_power, idle_power, peripheral_power, pin_voltage, power_sources,
                               regulator_efficiency)
from dslsim.cost.ops import op_cycles, op_dynamic_energy, op_outputs, op_seconds, op_sources, stage_cost
from dslsim.cost.record import Cost

__all__ = ["Cost", "active_power", "idle_power", "op_cycles", "op_dynamic_energy", "op_outputs", "op_seconds",
           "op_sources", "peripheral_power", "pin_voltage", "power_sources", "regulator_efficiency", "stage_cost"]
