"""Load and validate hardware profiles from YAML (units parsed once, every error names file and key path).

Which keys each mapping may hold, which are required, and each value's unit and default come from the declarations
in :mod:`dslsim.hw.schema` (the JSON Schema editors use is generated from the same); this module adds the checks
that span keys (names that must match, a supply for currents, one cost form per op kind), the physics across keys
(an LDO's output no higher than its input) and the plausibility of the numbers (:mod:`dslsim.plausible`: cycles
per MAC by core kind, currents per MHz, the cell's capacity and rate constant, converter efficiencies).
"""

from __future__ import annotations

from pathlib import Path

from dslsim import plausible
from dslsim.yamldoc import Node, Provenance, load_yaml
from dslsim.yamlschema import Obj
from dslsim.errors import InputError, describe
from dslsim.hw.profile import Battery, Core, Link, OpCost, OperatingPoint, Peripheral, Profile, SleepState, Supply
from dslsim.hw.schema import (BATTERY, CORE, FLOOR_ITEM, IDLE, KINETIC, LINK, MEMORY, OP_COST, OPP, OPP_CURRENT,
                              PERIPHERAL, PERIPHERAL_CURRENT, PLATFORM, PROFILE, RESERVED_STATES, SLEEP_STATE, SUPPLY)
from dslsim.shipped import resolve_shipped, shipped_profiles


def profile_path(name_or_path: str | Path) -> Path:
    """Resolve a profile file or a shipped profile name (``watch``, ``watch.yaml``) to a path.

    An existing file as given wins, so a user's ``watch.yaml`` in the working folder is read for
    ``watch.yaml``; ``watch`` alone is the shipped one unless a file named exactly ``watch`` exists
    (:func:`dslsim.shipped.resolve_shipped`, the rule traces share).
    """
    return resolve_shipped(name_or_path, "profile")


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by shipped name or path and validate every field.

    >>> load_profile("earbud").battery.capacity_ah
    0.0497
    """
    path = profile_path(name_or_path)
    return parse_profile(load_yaml(path), str(path))


def parse_profile(data: object, source: str = "<profile>") -> Profile:
    """Validate a profile document (already parsed from YAML) and build a :class:`Profile`."""
    prov = Provenance()
    root = Node(data, source, provenance=prov)
    PROFILE.check(root)
    battery = _battery(root.child("battery"))  # parsed in file order, so errors list keys top-down
    floor, battery_floor = _floor(root)
    cores = {name: _core(name, node) for name, node in root.children("cores")}
    if not cores:
        raise InputError(source, "cores", "no cores", "at least one core")
    links = tuple(_link(node, cores) for node in root.items_of("links", allow_empty=True)) \
        if root.has("links") else ()
    seen = set()
    for i, link in enumerate(links):
        key = frozenset((link.a, link.b))
        if key in seen:
            raise InputError(source, f"links[{i}]", f"a second link {link.name}", "one link per pair of cores")
        seen.add(key)
    scenario = root.data.get("default_scenario", {})
    if not isinstance(scenario, dict):
        raise InputError(source, "default_scenario", describe(scenario), "a scenario mapping")
    return Profile(
        name=PROFILE.text(root, "name"),
        description=str(root.data.get("description", "")),
        battery=battery,
        floor=floor,
        battery_floor=battery_floor,
        cores=cores,
        links=links,
        default_scenario=scenario,
        source_file=source,
        unsourced=tuple(prov.unsourced),
    )


def _battery(node: Node) -> Battery:
    BATTERY.check(node)
    kinetic = None
    if node.has("kinetic"):
        model = node.child("kinetic")
        KINETIC.check(model)
        c = KINETIC.quantity(model, "c")
        if c >= 1:
            raise InputError(node.source, model.at("c"), repr(model.data.get("c")),
                             "the available well's share of the charge, between 0 and 1")
        kinetic = (c, plausible.check("kinetic_k", KINETIC.quantity(model, "k"), node.source, model.at("k")))
    return Battery(
        capacity_ah=plausible.check("cell_capacity", BATTERY.quantity(node, "capacity"), node.source,
                                    node.at("capacity")),
        voltage=BATTERY.quantity(node, "voltage"),
        usable_fraction=_fraction(BATTERY, node, "usable_fraction"),
        converter_efficiency=plausible.check("converter_efficiency",
                                             _fraction(BATTERY, node, "converter_efficiency"), node.source,
                                             node.at("converter_efficiency")),
        kinetic=kinetic,
        self_discharge=_share(BATTERY, node, "self_discharge_per_month"),
    )


def _share(spec: Obj, node: Node, key: str) -> float:
    """An optional share in [0, 1] (default 0)."""
    value = spec.quantity(node, key)
    if value > 1:
        raise InputError(node.source, node.at(key), repr(node.data.get(key)), "a share from 0 to 1 (0.02 = 2 %)")
    return value


def _fraction(spec: Obj, node: Node, key: str) -> float:
    """A fraction in (0, 1]."""
    value = spec.quantity(node, key)
    if value > 1:
        raise InputError(node.source, node.at(key), repr(node.data.get(key)), "a fraction in (0, 1]")
    return value


def _floor(root: Node) -> tuple[dict[str, float], dict[str, float]]:
    """(rail-side items, battery-side items): every floor item says where it was measured (default: the rail)."""
    if not root.has("platform"):
        return {}, {}
    platform = root.child("platform")
    PLATFORM.check(platform)
    rail, battery = {}, {}
    for name, item in platform.children("floor"):
        FLOOR_ITEM.check(item)
        side = FLOOR_ITEM.text(item, "at")
        (battery if side == "battery" else rail)[name] = FLOOR_ITEM.quantity(item, "power")
    return rail, battery


def _core(name: str, node: Node) -> Core:
    CORE.check(node)
    supply = _supply(node.child("supply")) if node.has("supply") else None
    opps = []
    for item in node.items_of("opps"):
        OPP.check(item)
        base = OPP.quantity(item, "base_current")
        point = OperatingPoint(name=OPP.text(item, "name"), freq=OPP.quantity(item, "freq"),
                               voltage=OPP.quantity(item, "voltage"),
                               leakage=OPP.quantity(item, "leakage"),
                               run_current=OPP.quantity(item, "run_current"),
                               idle_current=OPP.quantity(item, "idle_current"),
                               base_current=base,
                               idle_base_current=OPP.quantity(item, "idle_base_current")
                               if item.has("idle_base_current") else base)
        if supply is None and (point.run_current or point.idle_current or point.base_current
                               or point.idle_base_current):
            raise InputError(node.source, item.path, "currents with no supply voltage to turn them into power",
                             f"a 'supply' block under {node.path} (voltage, regulator)")
        if supply is not None and supply.regulator == "ldo" and point.voltage > supply.voltage:
            # A linear regulator only drops voltage; the cost model would otherwise take the LDO as lossless.
            raise InputError(node.source, item.at("voltage"), f"{point.voltage:g} V, above the LDO's input "
                             f"{supply.voltage:g} V ({node.at('supply')}.voltage)",
                             "a core voltage no higher than the rail an LDO drops it from (or regulator: smps for a "
                             "converter that can raise it)")
        for key, rng in (("run_current", "run_current_per_mhz"), ("idle_current", "idle_current_per_mhz")):
            if getattr(point, key) > 0:
                plausible.check(rng, getattr(point, key), node.source, item.at(key))
        opps.append(point)
    names = [p.name for p in opps]
    if len(set(names)) != len(names):
        raise InputError(node.source, node.at("opps"), f"repeated names {names}", "a unique name per operating point")
    op_costs = {}
    for kind, item in node.children("ops"):
        OP_COST.check(item)
        if sum(item.has(k) for k in OP_COST.exactly_one) != 1:
            raise InputError(node.source, item.path, f"both or neither of {' and '.join(OP_COST.exactly_one)}",
                             "exactly one of them")
        cycles_per_mac = OP_COST.quantity(item, "cycles_per_mac") if item.has("cycles_per_mac") \
            else 1.0 / OP_COST.quantity(item, "macs_per_cycle")
        kind_of_core = node.data.get("kind")
        if cycles_per_mac > 0 and (kind in plausible.MAC_OP_KINDS or kind == "default") \
                and f"cycles_per_mac.{kind_of_core}" in plausible.RANGES:
            # Only MAC kinds (and the default, which may stand for them): other kinds count elements or outputs.
            given = "cycles_per_mac" if item.has("cycles_per_mac") else "macs_per_cycle"
            plausible.check(f"cycles_per_mac.{kind_of_core}", cycles_per_mac, node.source, item.at(given),
                            f"{1 / cycles_per_mac:.4g} MACs per cycle" if given == "cycles_per_mac" else
                            f"{cycles_per_mac:.4g} cycles per MAC")
        op_costs[kind] = OpCost(cycles_per_mac=cycles_per_mac,
                                energy_per_mac=OP_COST.quantity(item, "energy_per_mac"),
                                cycles_per_op=OP_COST.quantity(item, "cycles_per_op"),
                                cycles_per_output=OP_COST.quantity(item, "cycles_per_output"))
    if not op_costs:
        raise InputError(node.source, node.at("ops"), "no op kinds", "at least a 'default' entry")
    needs_ref = any(c.energy_per_mac for c in op_costs.values())
    if needs_ref and not node.has("ref_voltage"):
        raise InputError(node.source, node.at("ref_voltage"), "nothing",
                         "the voltage the energies per MAC are quoted at (they scale with V^2)")
    ref_voltage = CORE.quantity(node, "ref_voltage") if node.has("ref_voltage") \
        else max(p.voltage for p in opps)
    memory = node.child("memory") if node.has("memory") else Node({}, node.source, node.at("memory"), True)
    MEMORY.check(memory)
    idle = node.child("idle") if node.has("idle") else Node({}, node.source, node.at("idle"), True)
    IDLE.check(idle)
    sleep_states = []
    if node.has("sleep"):
        for state_name, item in node.children("sleep"):
            if state_name in RESERVED_STATES:
                raise InputError(node.source, node.at("sleep"), repr(state_name),
                                 f"a sleep state name other than {list(RESERVED_STATES)} (dslsim's own states)")
            SLEEP_STATE.check(item)
            sleep_states.append(SleepState(
                name=state_name, power=SLEEP_STATE.quantity(item, "power"),
                entry_latency=SLEEP_STATE.quantity(item, "entry_latency"),
                exit_latency=SLEEP_STATE.quantity(item, "exit_latency"),
                entry_energy=SLEEP_STATE.quantity(item, "entry_energy"),
                exit_energy=SLEEP_STATE.quantity(item, "exit_energy")))
    peripherals = _peripherals(node, [s.name for s in sleep_states], names)
    if peripherals and supply is None:
        raise InputError(node.source, node.at("peripherals"), "peripheral currents with no supply voltage",
                         f"a 'supply' block under {node.path} (voltage, regulator)")
    kind = CORE.text(node, "kind")
    return Core(name=name, kind=kind, opps=tuple(opps), ref_voltage=ref_voltage, op_costs=op_costs,
                mem_energy_per_byte=MEMORY.quantity(memory, "energy_per_byte"),
                mem_bytes_per_cycle=MEMORY.quantity(memory, "bytes_per_cycle")
                if memory.has("bytes_per_cycle") else float("inf"),
                idle_power=IDLE.quantity(idle, "power"),
                sleep_states=tuple(sleep_states), supply=supply, peripherals=peripherals)


def _peripherals(node: Node, sleep_states: list[str], opps: list[str]) -> dict[str, Peripheral]:
    """The core's peripherals a scenario may keep running: ``peripherals: {sai1: {current_per_mhz: ...}}``, one
    current per MHz for every operating point or a mapping of operating point names to theirs."""
    out = {}
    if not node.has("peripherals"):
        return out
    for name, item in node.children("peripherals"):
        PERIPHERAL.check(item)
        runs_in = item.data.get("runs_in", [])
        if not isinstance(runs_in, list) or any(state not in sleep_states for state in runs_in):
            raise InputError(node.source, item.at("runs_in"), describe(runs_in),
                             f"a list of this core's sleep states {sleep_states or '(it has none)'}")
        raw = item.data.get("current_per_mhz")
        if isinstance(raw, dict) and "value" not in raw:
            per = item.child("current_per_mhz")
            if set(per.data) != set(opps):
                raise InputError(node.source, per.path, f"operating points {sorted(map(str, per.data))}",
                                 f"one current per MHz for each of {opps}, or one for all")
            per_hz = {opp: OPP_CURRENT.read(per, opp) for opp in opps}
        else:
            value = PERIPHERAL_CURRENT.read(item, "current_per_mhz")
            per_hz = dict.fromkeys(opps, value)
        out[name] = Peripheral(name=name, base_current=PERIPHERAL.quantity(item, "base_current"),
                               current_per_hz=per_hz, runs_in=tuple(runs_in))
    return out


def _supply(node: Node) -> Supply:
    SUPPLY.check(node)
    regulator = SUPPLY.text(node, "regulator")
    if regulator == "smps" and not node.has("efficiency"):
        raise InputError(node.source, node.at("efficiency"), "nothing", "the SMPS efficiency, a fraction in (0, 1]")
    if regulator != "smps" and node.has("efficiency"):
        raise InputError(node.source, node.at("efficiency"), repr(node.data["efficiency"]),
                         f"no efficiency for regulator '{regulator}' (an LDO's follows from its voltages)")
    efficiency = _fraction(SUPPLY, node, "efficiency")
    if regulator == "smps":
        plausible.check("converter_efficiency", efficiency, node.source, node.at("efficiency"))
    return Supply(voltage=SUPPLY.quantity(node, "voltage"), regulator=regulator, efficiency=efficiency,
                  datasheet_voltage=SUPPLY.quantity(node, "datasheet_voltage")
                  if node.has("datasheet_voltage") else None)


def _link(node: Node, cores: dict[str, Core]) -> Link:
    LINK.check(node)
    ends = node.data.get("between")
    if not (isinstance(ends, list) and len(ends) == 2 and all(isinstance(e, str) and e in cores for e in ends)
            and ends[0] != ends[1]):
        raise InputError(node.source, node.at("between"), describe(ends), f"two different cores from {list(cores)}")
    return Link(a=ends[0], b=ends[1], latency=LINK.quantity(node, "latency"),
                bandwidth=LINK.quantity(node, "bandwidth"),
                energy_per_byte=LINK.quantity(node, "energy_per_byte"))
