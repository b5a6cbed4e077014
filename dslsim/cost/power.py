"""What a clocked core draws at its supply rail while it runs and while it waits, from the profile's operating point
and supply.

* **Running** (for as long as a job runs): the operating point's leakage through the regulator, plus the datasheet
  run current at the supply pins: ``V_pins * (base_current + run_current * f)``.
* **Waiting, clock-gated** (WFI; STM32 "Sleep mode"): leakage and the core's idle power through the regulator, plus
  ``V_pins * (idle_base_current + idle_current * f)`` -- Sleep has its own floor and its own, smaller, part per
  MHz, as the datasheets' Sleep tables give them.
* **Peripherals a scenario keeps running** (an audio interface with its DMA): their floor plus their part per MHz,
  in Run and Sleep alike.

The regulator (:class:`~dslsim.hw.profile.Supply`): core-side figures are divided by its efficiency ('smps':
the given one; 'ldo': core voltage / rail voltage). Datasheet currents are read at ``datasheet_voltage``: through
an LDO the current is the same at the rail voltage, through an SMPS the power is.

>>> from dslsim.hw.profile import Core, OpCost, OperatingPoint, Supply
>>> mcu = Core("mcu", "mcu", (OperatingPoint("r1", 160e6, 1.2, run_current=80e-12),), 1.2,
...            {"default": OpCost(cycles_per_mac=1.5)}, 0.0, float("inf"), 0.0, supply=Supply(1.8, "smps", 0.9))
>>> round(active_power(mcu, mcu.clock(80e6)) * 1e3, 3)      # 1.8 V * 80 pA/Hz * 80 MHz
11.52
"""

from __future__ import annotations

from dslsim.hw.profile import Clock, Core


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
        + pin_voltage(core) * (opp.idle_base_current + opp.idle_current * clock.freq)


def peripheral_power(core: Core, clock: Clock, names: tuple[str, ...], state: str | None = None) -> float:
    """Watts at the rail that the peripherals ``names`` draw while they run: in Run and Sleep (``state`` None)
    their floor plus their part per Hz of the core's clock; in a sleep state they keep running in, their floor
    alone (the bus clock is stopped); 0 in any other sleep state."""
    total = 0.0
    for name in names:
        p = core.peripherals[name]
        if state is None:
            total += p.base_current + p.current_per_hz[clock.opp.name] * clock.freq
        elif state in p.runs_in:
            total += p.base_current
    return pin_voltage(core) * total


def power_sources(core: Core, clock: Clock, running: bool) -> tuple[str, ...]:
    """The profile key paths whose numbers set :func:`active_power` (``running``) or :func:`idle_power`."""
    opp = clock.opp
    point = f"cores.{core.name}.opps[{opp.name}]"
    paths = []
    if opp.leakage:
        paths.append(f"{point}.leakage")
    per_hz = opp.run_current if running else opp.idle_current
    base = opp.base_current if running else opp.idle_base_current
    if pin_voltage(core) and base:
        paths.append(f"{point}.{'base_current' if running else 'idle_base_current'}")
    if pin_voltage(core) and per_hz:
        paths.append(f"{point}.{'run_current' if running else 'idle_current'}")
    if not running and core.idle_power:
        paths.append(f"cores.{core.name}.idle.power")
    if core.supply is not None and core.supply.regulator != "none":
        paths.append(f"cores.{core.name}.supply")
    return tuple(paths)
