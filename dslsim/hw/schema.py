"""What a hardware profile may hold, declared once (:mod:`dslsim.yamlschema`): :mod:`dslsim.hw.load` checks
keys and reads units and defaults from these declarations, and ``dslsim profiles schema`` writes them as JSON
Schema. A key added here is accepted by the loader and known to editors at once."""

from __future__ import annotations

from dslsim.hw.profile import CORE_KINDS, REGULATORS
from dslsim.yamlschema import AnyOf, List, Map, Obj, Quantity, Ref, Text

__all__ = ["PROFILE", "BATTERY", "KINETIC", "PLATFORM", "FLOOR_ITEM", "CORE", "SUPPLY", "OPP", "OP_COST", "MEMORY",
           "IDLE", "SLEEP_STATE", "PERIPHERAL", "PERIPHERAL_CURRENT", "OPP_CURRENT", "LINK", "RESERVED_STATES"]

#: Names the result tables use for a core's own states and energy components; a sleep state may not take them.
RESERVED_STATES = ("active", "idle", "wake", "dynamic", "transitions")


def _fraction(doc: str) -> Quantity:
    """A share in (0, 1], 1 when absent."""
    return Quantity("", doc=doc, default=1.0, positive=True, maximum=1.0)


KINETIC = Obj({
    "c": Quantity("", doc="the available well's share of the usable charge, between 0 and 1", required=True,
                  positive=True, below=1.0),
    "k": Quantity("Hz", doc="the valve's rate between the wells (1/s, written in Hz)", required=True, positive=True),
}, doc="a kinetic battery model (KiBaM): battery life from it, the ideal figure beside it")

BATTERY = Obj({
    "capacity": Quantity("A*h", doc="rated capacity", required=True, positive=True),
    "voltage": Quantity("V", doc="nominal cell voltage", required=True, positive=True),
    "usable_fraction": _fraction("share of the capacity the system can use before cut-off"),
    "converter_efficiency": _fraction("battery draw = load power / this efficiency"),
    "kinetic": KINETIC,
    "self_discharge_per_month": Quantity("", doc="share of the capacity lost per month (0.02 = 2 %)", default=0.0,
                                         maximum=1.0),
}, doc="the battery", required=True)

FLOOR_ITEM = Obj({
    "power": Quantity("W", doc="its always-on power", required=True),
    "at": Text(doc="where the figure was measured: at the rail (through the converter) or at the battery",
               choices=("rail", "battery"), default="rail"),
}, doc="an always-on load outside the modelled cores (microphone, PMIC, SoC suspend)")

PLATFORM = Obj({
    "floor": Map(FLOOR_ITEM, doc="always-on loads by name"),
}, doc="what is always on besides the cores")

SUPPLY = Obj({
    "voltage": Quantity("V", doc="the rail that feeds the core", required=True, positive=True),
    "regulator": Text(doc="between rail and core: none, an LDO (passes current) or an SMPS (passes power)",
                      choices=REGULATORS, default="none"),
    "efficiency": _fraction("the SMPS efficiency (SMPS only; required for one)"),
    "datasheet_voltage": Quantity("V", doc="the supply the datasheet currents were read at (default: the rail)",
                                  positive=True),
}, doc="what feeds the core; needed to turn currents into power")

OPP = Obj({
    "name": Text(doc="the point's name, which scenarios choose", required=True),
    "freq": Quantity("Hz", doc="its highest clock", required=True, positive=True),
    "voltage": Quantity("V", doc="core voltage", required=True, positive=True),
    "leakage": Quantity("W", doc="core-side static power, through the regulator", default="0 W"),
    "run_current": Quantity("A/Hz", doc="Run mode current per clock frequency at the supply pins",
                            default="0 A/Hz"),
    "idle_current": Quantity("A/Hz", doc="Sleep (clock-gated) current per clock frequency at the supply pins",
                             default="0 A/Hz"),
    "base_current": Quantity("A", doc="Run mode's clock-independent current at the supply pins", default="0 A"),
    "idle_base_current": Quantity("A", doc="Sleep mode's clock-independent current at the supply pins "
                                           "(default: base_current)"),
}, doc="an operating point or voltage range")

OP_COST = Obj({
    "macs_per_cycle": Quantity("", doc="sustained MACs per cycle (or give cycles_per_mac)", positive=True),
    "cycles_per_mac": Quantity("", doc="cycles per MAC, or per element for element-wise ops (or give "
                                       "macs_per_cycle)"),
    "cycles_per_op": Quantity("", doc="fixed cycles per op invocation (call, set-up)", default=0.0),
    "cycles_per_output": Quantity("", doc="cycles per output element (bias, requantisation, store)", default=0.0),
    "energy_per_mac": Quantity("J", doc="dynamic energy per MAC at ref_voltage, scaled by (V/ref)^2",
                               default="0 J"),
}, doc="what one op kind costs on the core", exactly_one=("macs_per_cycle", "cycles_per_mac"))

MEMORY = Obj({
    "energy_per_byte": Quantity("J/B", doc="energy per byte of weights and activations moved", default="0 J/B"),
    "bytes_per_cycle": Quantity("", doc="memory bandwidth (default: unlimited); an op takes max(compute, memory) "
                                        "cycles", positive=True),
}, doc="memory traffic")

IDLE = Obj({
    "power": Quantity("W", doc="power above leakage while idle (clock-gated, waiting)", default="0 W"),
}, doc="the core while it waits")

SLEEP_STATE = Obj({
    "power": Quantity("W", doc="power while in the state", required=True),
    "entry_latency": Quantity("s", doc="time to enter it", default="0 s"),
    "exit_latency": Quantity("s", doc="time to leave it", default="0 s"),
    "entry_energy": Quantity("J", doc="energy to enter it", default="0 J"),
    "exit_energy": Quantity("J", doc="energy to leave it", default="0 J"),
}, doc="a sleep state")

#: One peripheral's current per clock frequency at every operating point.
PERIPHERAL_CURRENT = Quantity("A/Hz", doc="the same at every operating point", default="0 A/Hz")
#: One peripheral's current per clock frequency at one operating point.
OPP_CURRENT = Quantity("A/Hz", doc="at this operating point")

PERIPHERAL = Obj({
    "base_current": Quantity("A", doc="its clock-independent current", default="0 A"),
    "current_per_mhz": AnyOf((PERIPHERAL_CURRENT, Map(OPP_CURRENT, doc="operating point name -> its current, "
                                                                       "one for each point")),
                             doc="its current per clock frequency of the core: one for all operating points, or "
                                 "one per point", default="0 A/Hz"),
    "runs_in": List(Text(doc="a sleep state of this core"), min_items=0,
                    doc="the sleep states it keeps running in (a state it does not run in is refused while it "
                        "streams)"),
}, doc="a peripheral a scenario may keep streaming (an audio interface, its DMA)")

CORE = Obj({
    "kind": Text(doc="descriptive; behaviour comes from the numbers", required=True, choices=CORE_KINDS),
    "ref_voltage": Quantity("V", doc="the voltage energy_per_mac figures are quoted at (required with them; "
                                     "default: the highest operating point's)", positive=True),
    "supply": SUPPLY,
    "opps": List(OPP, doc="operating points or voltage ranges; scenarios default to the last", required=True),
    "ops": Map(OP_COST, doc="op kind -> its cost; 'default' covers kinds without an entry", required=True,
               min_entries=1),
    "memory": MEMORY,
    "idle": IDLE,
    "sleep": Map(SLEEP_STATE, doc="sleep states by name, shallow to deep", reserved=RESERVED_STATES),
    "peripherals": Map(PERIPHERAL, doc="peripherals by name"),
}, doc="a core")

LINK = Obj({
    "between": List(Text(doc="a core"), doc="the two cores the link joins (either direction)", required=True,
                    min_items=2, max_items=2),
    "latency": Quantity("s", doc="fixed delay of a transfer", default="0 s"),
    "bandwidth": Quantity("B/s", doc="the link is busy for bytes / bandwidth", required=True, positive=True),
    "energy_per_byte": Quantity("J/B", doc="energy per byte transferred", default="0 J/B"),
}, doc="a link between two cores")

PROFILE = Obj({
    "name": Text(doc="profile name", required=True),
    "description": Text(doc="what device this is", min_length=0),
    "battery": BATTERY,
    "platform": PLATFORM,
    "cores": Map(CORE, doc="the device's cores by name", required=True, min_entries=1),
    "links": List(LINK, doc="links between cores", min_items=0),
    "default_scenario": Ref("scenario", doc="the scenario used when no --scenario is given"),
}, doc="A dslsim hardware profile: battery, always-on floor, cores and links, and a default scenario. Values "
       "carry units ('200 MHz') and a source or 'assumed' note.")
