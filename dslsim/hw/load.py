"""Load and validate hardware profiles from YAML (units parsed once, every error names file and key path)."""

from __future__ import annotations

from pathlib import Path

from dslsim.yamldoc import Node, Provenance, load_yaml
from dslsim.errors import DslsimError, InputError, describe
from dslsim.hw.profile import (CORE_KINDS, REGULATORS, Battery, Core, Link, OpCost, OperatingPoint, Peripheral,
                               Profile, SleepState, Supply)
from dslsim.shipped import resolve_shipped, shipped_profiles

#: Names the result tables use for a core's own states and energy components; a sleep state may not take them.
RESERVED_STATES = ("active", "idle", "wake", "dynamic", "transitions")


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
    root.check_keys({"name", "description", "battery", "platform", "cores", "links", "default_scenario"},
                    required=("name", "battery", "cores"))
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
        name=root.text("name"),
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
    node.check_keys({"capacity", "voltage", "usable_fraction", "converter_efficiency", "kinetic",
                     "self_discharge_per_month"}, required=("capacity", "voltage"))
    kinetic = None
    if node.has("kinetic"):
        model = node.child("kinetic")
        model.check_keys({"c", "k", "source", "assumed"}, required=("c", "k"))
        c = model.quantity("c", "", strictly_positive=True)
        if c >= 1:
            raise InputError(node.source, model.at("c"), repr(model.data.get("c")),
                             "the available well's share of the charge, between 0 and 1")
        kinetic = (c, model.quantity("k", "Hz", strictly_positive=True))
    return Battery(
        capacity_ah=node.quantity("capacity", "A*h", strictly_positive=True),
        voltage=node.quantity("voltage", "V", strictly_positive=True),
        usable_fraction=_fraction(node, "usable_fraction", 1.0),
        converter_efficiency=_fraction(node, "converter_efficiency", 1.0),
        kinetic=kinetic,
        self_discharge=_share(node, "self_discharge_per_month"),
    )


def _share(node: Node, key: str) -> float:
    """An optional share in [0, 1] (default 0)."""
    value = node.quantity(key, "", default=0.0)
    if value > 1:
        raise InputError(node.source, node.at(key), repr(node.data.get(key)), "a share from 0 to 1 (0.02 = 2 %)")
    return value


def _fraction(node: Node, key: str, default: float) -> float:
    value = node.quantity(key, "", default=default, strictly_positive=True)
    if value > 1:
        raise InputError(node.source, node.at(key), repr(node.data.get(key)), "a fraction in (0, 1]")
    return value


def _floor(root: Node) -> tuple[dict[str, float], dict[str, float]]:
    """(rail-side items, battery-side items): every floor item says where it was measured (default: the rail)."""
    if not root.has("platform"):
        return {}, {}
    platform = root.child("platform")
    platform.check_keys({"floor"})
    rail, battery = {}, {}
    for name, item in platform.children("floor"):
        item.check_keys({"power", "at"}, required=("power",))
        side = item.text("at", "rail", ("rail", "battery"))
        (battery if side == "battery" else rail)[name] = item.quantity("power", "W")
    return rail, battery


def _core(name: str, node: Node) -> Core:
    node.check_keys({"kind", "ref_voltage", "supply", "opps", "ops", "memory", "idle", "sleep", "peripherals"},
                    required=("kind", "opps", "ops"))
    supply = _supply(node.child("supply")) if node.has("supply") else None
    opps = []
    for item in node.items_of("opps"):
        item.check_keys({"name", "freq", "voltage", "leakage", "run_current", "idle_current", "base_current",
                         "idle_base_current"}, required=("name", "freq", "voltage"))
        base = item.quantity("base_current", "A", default="0 A")
        point = OperatingPoint(name=item.text("name"), freq=item.quantity("freq", "Hz", strictly_positive=True),
                               voltage=item.quantity("voltage", "V", strictly_positive=True),
                               leakage=item.quantity("leakage", "W", default="0 W"),
                               run_current=item.quantity("run_current", "A/Hz", default="0 A/Hz"),
                               idle_current=item.quantity("idle_current", "A/Hz", default="0 A/Hz"),
                               base_current=base,
                               idle_base_current=item.quantity("idle_base_current", "A")
                               if item.has("idle_base_current") else base)
        if supply is None and (point.run_current or point.idle_current or point.base_current
                               or point.idle_base_current):
            raise InputError(node.source, item.path, "currents with no supply voltage to turn them into power",
                             f"a 'supply' block under {node.path} (voltage, regulator)")
        opps.append(point)
    names = [p.name for p in opps]
    if len(set(names)) != len(names):
        raise InputError(node.source, node.at("opps"), f"repeated names {names}", "a unique name per operating point")
    op_costs = {}
    for kind, item in node.children("ops"):
        item.check_keys({"macs_per_cycle", "cycles_per_mac", "cycles_per_op", "cycles_per_output", "energy_per_mac"})
        if item.has("macs_per_cycle") == item.has("cycles_per_mac"):
            raise InputError(node.source, item.path, "both or neither of macs_per_cycle and cycles_per_mac",
                             "exactly one of them")
        cycles_per_mac = item.quantity("cycles_per_mac", "") if item.has("cycles_per_mac") \
            else 1.0 / item.quantity("macs_per_cycle", "", strictly_positive=True)
        op_costs[kind] = OpCost(cycles_per_mac=cycles_per_mac,
                                energy_per_mac=item.quantity("energy_per_mac", "J", default="0 J"),
                                cycles_per_op=item.quantity("cycles_per_op", "", default=0.0),
                                cycles_per_output=item.quantity("cycles_per_output", "", default=0.0))
    if not op_costs:
        raise InputError(node.source, node.at("ops"), "no op kinds", "at least a 'default' entry")
    needs_ref = any(c.energy_per_mac for c in op_costs.values())
    if needs_ref and not node.has("ref_voltage"):
        raise InputError(node.source, node.at("ref_voltage"), "nothing",
                         "the voltage the energies per MAC are quoted at (they scale with V^2)")
    ref_voltage = node.quantity("ref_voltage", "V", strictly_positive=True) if node.has("ref_voltage") \
        else max(p.voltage for p in opps)
    memory = node.child("memory") if node.has("memory") else Node({}, node.source, node.at("memory"), True)
    memory.check_keys({"energy_per_byte", "bytes_per_cycle"})
    idle = node.child("idle") if node.has("idle") else Node({}, node.source, node.at("idle"), True)
    idle.check_keys({"power"})
    sleep_states = []
    if node.has("sleep"):
        for state_name, item in node.children("sleep"):
            if state_name in RESERVED_STATES:
                raise InputError(node.source, node.at("sleep"), repr(state_name),
                                 f"a sleep state name other than {list(RESERVED_STATES)} (dslsim's own states)")
            item.check_keys({"power", "entry_latency", "exit_latency", "entry_energy", "exit_energy"},
                            required=("power",))
            sleep_states.append(SleepState(
                name=state_name, power=item.quantity("power", "W"),
                entry_latency=item.quantity("entry_latency", "s", default="0 s"),
                exit_latency=item.quantity("exit_latency", "s", default="0 s"),
                entry_energy=item.quantity("entry_energy", "J", default="0 J"),
                exit_energy=item.quantity("exit_energy", "J", default="0 J")))
    peripherals = _peripherals(node, [s.name for s in sleep_states], names)
    if peripherals and supply is None:
        raise InputError(node.source, node.at("peripherals"), "peripheral currents with no supply voltage",
                         f"a 'supply' block under {node.path} (voltage, regulator)")
    kind = node.text("kind", choices=CORE_KINDS)
    return Core(name=name, kind=kind, opps=tuple(opps), ref_voltage=ref_voltage, op_costs=op_costs,
                mem_energy_per_byte=memory.quantity("energy_per_byte", "J/B", default="0 J/B"),
                mem_bytes_per_cycle=memory.quantity("bytes_per_cycle", "", strictly_positive=True)
                if memory.has("bytes_per_cycle") else float("inf"),
                idle_power=idle.quantity("power", "W", default="0 W"),
                sleep_states=tuple(sleep_states), supply=supply, peripherals=peripherals)


def _peripherals(node: Node, sleep_states: list[str], opps: list[str]) -> dict[str, Peripheral]:
    """The core's peripherals a scenario may keep running: ``peripherals: {sai1: {current_per_mhz: ...}}``, one
    current per MHz for every operating point or a mapping of operating point names to theirs."""
    out = {}
    if not node.has("peripherals"):
        return out
    for name, item in node.children("peripherals"):
        item.check_keys({"base_current", "current_per_mhz", "runs_in"})
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
            per_hz = {opp: per.quantity(opp, "A/Hz") for opp in opps}
        else:
            value = item.quantity("current_per_mhz", "A/Hz", default="0 A/Hz")
            per_hz = dict.fromkeys(opps, value)
        out[name] = Peripheral(name=name, base_current=item.quantity("base_current", "A", default="0 A"),
                               current_per_hz=per_hz, runs_in=tuple(runs_in))
    return out


def _supply(node: Node) -> Supply:
    node.check_keys({"voltage", "regulator", "efficiency", "datasheet_voltage"}, required=("voltage",))
    regulator = node.text("regulator", default="none", choices=REGULATORS)
    if regulator == "smps" and not node.has("efficiency"):
        raise InputError(node.source, node.at("efficiency"), "nothing", "the SMPS efficiency, a fraction in (0, 1]")
    if regulator != "smps" and node.has("efficiency"):
        raise InputError(node.source, node.at("efficiency"), repr(node.data["efficiency"]),
                         f"no efficiency for regulator '{regulator}' (an LDO's follows from its voltages)")
    return Supply(voltage=node.quantity("voltage", "V", strictly_positive=True), regulator=regulator,
                  efficiency=_fraction(node, "efficiency", 1.0),
                  datasheet_voltage=node.quantity("datasheet_voltage", "V", strictly_positive=True)
                  if node.has("datasheet_voltage") else None)


def _link(node: Node, cores: dict[str, Core]) -> Link:
    node.check_keys({"between", "latency", "bandwidth", "energy_per_byte"}, required=("between", "bandwidth"))
    ends = node.data.get("between")
    if not (isinstance(ends, list) and len(ends) == 2 and all(e in cores for e in ends) and ends[0] != ends[1]):
        raise InputError(node.source, node.at("between"), describe(ends), f"two different cores from {list(cores)}")
    return Link(a=ends[0], b=ends[1], latency=node.quantity("latency", "s", default="0 s"),
                bandwidth=node.quantity("bandwidth", "B/s", strictly_positive=True),
                energy_per_byte=node.quantity("energy_per_byte", "J/B", default="0 J/B"))
