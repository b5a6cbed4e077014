"""Import an Android ``power_profile.xml`` (the classic AOSP layout, or the per-policy one) as a dslsim profile.

AOSP's power profile (https://source.android.com/docs/core/power/values) lists **currents drawn from the battery**
in mA: ``cpu.suspend`` (the device asleep), ``cpu.idle`` (awake, every CPU idle), ``cpu.active`` (any CPU running),
``cpu.cluster_power.clusterN`` (a cluster running), ``cpu.core_power.clusterN`` (one core of it, per speed in
``cpu.core_speeds.clusterN``, kHz), with ``cpu.clusters.cores`` the cores per cluster and ``battery.capacity`` in
mAh. The import writes one dslsim core per cluster, one operating point per listed speed, the battery and the
suspend floor; every number is sourced to the XML and marked as a battery-side current, and what could not be
mapped is listed. A core's run current at a speed is what BatteryStats charges one core of the cluster running
there: core + cluster + CPU-active current.

Newer Android (14 and later; AOSP ``frameworks/base`` ``com/android/internal/os/PowerProfile.java``) may describe
CPUs per **scaling policy** instead: ``cpu.scaling_policy_power.policyN`` (item, the policy's share, read like a
cluster's) and ``cpu.scaling_step_power.policyN`` (array, one current per frequency step, read like a core's),
where N is the policy's first CPU, as in ``/sys/devices/system/cpu/cpufreq/policyN``. Those files carry no
frequencies: the framework takes them from the kernel at run time, so the import needs them given (``speeds``:
the policy's ``scaling_available_frequencies`` in kHz, lowest first, one per step). When a file has both layouts,
the per-policy one is read, as the framework does.

>>> xml = '''<device name="Android">
...   <item name="battery.capacity">2915</item>
...   <item name="cpu.suspend">1.3</item> <item name="cpu.idle">3.9</item> <item name="cpu.active">18.33</item>
...   <array name="cpu.clusters.cores"><value>4</value></array>
...   <array name="cpu.core_speeds.cluster0"><value>300000</value><value>1000000</value></array>
...   <array name="cpu.core_power.cluster0"><value>10</value><value>40</value></array>
...   <item name="cpu.cluster_power.cluster0">2.41</item>
...   <item name="screen.on">98</item>
... </device>'''
>>> doc, unmapped = android_profile(parse_power_profile(xml, "t.xml"), "t.xml", name="test")
>>> doc["cores"]["cluster0"]["opps"][1]["run_current"]["value"], unmapped
('6.074e-05 A/MHz', ['screen.on'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
import xml.etree.ElementTree as ElementTree

from dslsim.errors import DslsimError

#: Keys the import maps (prefixes for per-cluster keys).
MAPPED = ("battery.capacity", "cpu.suspend", "cpu.idle", "cpu.active", "cpu.clusters.cores", "cpu.core_speeds.",
          "cpu.core_power.", "cpu.cluster_power.", "cpu.scaling_policy_power.", "cpu.scaling_step_power.")
POLICY_STEP, POLICY_POWER = "cpu.scaling_step_power.policy", "cpu.scaling_policy_power.policy"
#: Most bytes read from a power profile (real ones are a few kB).
MAX_BYTES = 1_000_000


def parse_power_profile(text: str, source: str) -> dict[str, float | list[float]]:
    """Items (numbers) and arrays (lists of numbers) of a power_profile.xml, by name. Documents that declare a
    DOCTYPE or entities are refused (power profiles have none; entity expansion is how XML bombs work)."""
    if len(text) > MAX_BYTES:
        raise DslsimError(f"{source}: {len(text):,} bytes; a power profile is a few kB (at most {MAX_BYTES:,}).")
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise DslsimError(f"{source}: declares a DOCTYPE or entities; expected a plain power_profile.xml.")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise DslsimError(f"{source}: not well-formed XML ({exc}).") from None
    values: dict[str, float | list[float]] = {}

    def number(element, where: str) -> float:
        try:
            return float((element.text or "").strip())
        except ValueError:
            raise DslsimError(f"{source}: {where} holds {element.text!r}; expected a number.") from None

    for element in root:
        name = element.get("name")
        if element.tag == "item" and name:
            values[name] = number(element, f"item '{name}'")
        elif element.tag == "array" and name:
            values[name] = [number(v, f"array '{name}'") for v in element.findall("value")]
    return values


#: Names of the pre-2017 layout (Android 7 and older) and the ones they became (AOSP change b/67752294).
LEGACY = {"cpu.speeds.": "cpu.core_speeds.", "cpu.active.": "cpu.core_power.", "cpu.awake": "cpu.idle"}


def _modern(values: dict) -> dict:
    """``values`` with pre-2017 names renamed, where the newer name is absent. In that layout ``cpu.idle`` was
    the suspended current (now ``cpu.suspend``) and ``cpu.awake`` the idle one."""
    if "cpu.awake" in values and "cpu.suspend" not in values:
        values = {("cpu.suspend" if k == "cpu.idle" else k): v for k, v in values.items()}
    out = dict(values)
    for key, value in values.items():
        for old, new in LEGACY.items():
            if key.startswith(old):
                renamed = new + key[len(old):]
                if renamed not in values:
                    out[renamed] = value
                    out.pop(key, None)
    if "cpu.active" not in out and any(k.startswith("cpu.core_power.") for k in out) and "cpu.awake" in values:
        out["cpu.active"] = 0.0   # the old layout had no separate CPU-active current
    return out


def _sourced(value: str, key: str, source: str, note: str = "") -> dict:
    return {"value": value, "source": f"{source}: {key} (a current at the battery, mA){note}"}


@dataclass(frozen=True)
class CpuGroup:
    """CPUs that share a clock (a cluster, or a scaling policy): one dslsim core."""

    key: str                 # "cluster0", "policy4"
    speeds: list[float]      # kHz, one per step
    currents: list[float]    # mA of one core running at each step
    shared: float            # mA of the cluster or policy while any of its cores runs
    step_key: str
    shared_key: str
    speeds_note: str = ""


def _first(values: dict, key: str) -> float:
    """An item's value, or a one-value array's (0 when absent): the shared current of a cluster or policy."""
    value = values.get(key, 0.0)
    if isinstance(value, list):
        return float(value[0]) if value else 0.0
    return float(value)


def _cpu_groups(values: dict, source: str, speeds: dict[int, list[float]]) -> list[CpuGroup]:
    """The file's CPU groups: its scaling policies when it has any (as the framework reads it), else clusters."""
    policies = sorted({int(k[len(prefix):]) for prefix in (POLICY_STEP, POLICY_POWER) for k in values
                       if k.startswith(prefix) and k[len(prefix):].isdigit()})
    if policies:
        groups = []
        for policy in policies:
            steps = values.get(f"{POLICY_STEP}{policy}")
            if not isinstance(steps, list) or not steps:
                raise DslsimError(f"{source}: policy {policy} has no array '{POLICY_STEP}{policy}' of step currents.")
            given = speeds.get(policy)
            if given is None:
                raise DslsimError(
                    f"{source}: the per-policy layout gives no frequencies; pass policy {policy}'s with --speeds "
                    f"{policy}=KHZ,KHZ,... (from /sys/devices/system/cpu/cpufreq/policy{policy}/"
                    f"scaling_available_frequencies, {len(steps)} of them, lowest first).")
            if any(b <= a for a, b in zip(given, given[1:])) or min(given) <= 0:
                raise DslsimError(f"{source}: --speeds for policy {policy} must be positive kHz, lowest first; "
                                  f"found {', '.join(f'{x:g}' for x in given)}.")
            if len(given) != len(steps):
                raise DslsimError(f"{source}: policy {policy} lists {len(steps)} step currents but --speeds gives "
                                  f"{len(given)} frequencies; expected one per step.")
            groups.append(CpuGroup(f"policy{policy}", list(given), list(steps),
                                   _first(values, f"{POLICY_POWER}{policy}"),
                                   f"{POLICY_STEP}{policy}", f"{POLICY_POWER}{policy}",
                                   " (frequency given on the command line)"))
        unused = sorted(set(speeds) - set(policies))
        if unused:
            raise DslsimError(f"{source}: --speeds names policy {unused[0]}, which the file does not describe "
                              f"(it has {', '.join(map(str, policies))}).")
        return groups
    clusters = values.get("cpu.clusters.cores")
    if not isinstance(clusters, list) or not clusters:
        raise DslsimError(f"{source}: neither the classic layout (array 'cpu.clusters.cores') nor the per-policy "
                          f"one ('{POLICY_STEP}N'); is this a power_profile.xml?")
    groups = []
    for index in range(len(clusters)):
        key = f"cluster{index}"
        steps, currents = values.get(f"cpu.core_speeds.{key}"), values.get(f"cpu.core_power.{key}")
        if not isinstance(steps, list) or not isinstance(currents, list) or len(steps) != len(currents) or not steps:
            raise DslsimError(f"{source}: 'cpu.core_speeds.{key}' and 'cpu.core_power.{key}' must be arrays of the "
                              f"same, non-zero length.")
        groups.append(CpuGroup(key, steps, currents, _first(values, f"cpu.cluster_power.{key}"),
                               f"cpu.core_power.{key}", f"cpu.cluster_power.{key}"))
    return groups


def android_profile(values: dict, source: str, name: str = "android", voltage: float = 3.85,
                    speeds: dict[int, list[float]] | None = None) -> tuple[dict, list[str]]:
    """(a dslsim profile document, the keys it did not map) from a parsed power profile; ``voltage``: the
    battery's nominal voltage (the XML gives currents only), which turns currents into power; ``speeds``: for the
    per-policy layout, each policy's frequencies in kHz (policy number -> one per step). Files in the pre-2017
    layout (``cpu.speeds.clusterN``, ``cpu.active.clusterN``, ``cpu.awake``) are read under the newer names."""
    values = _modern(values)

    def get(key: str, index: int = 0) -> float:
        """An item, or an array's entry for cluster ``index`` (some files give ``cpu.active`` per cluster, the
        framework's default profile as a one-value array)."""
        value = values.get(key)
        if isinstance(value, list) and value:
            return float(value[index] if index < len(value) else value[0])
        if value is None or isinstance(value, list):
            raise DslsimError(f"{source}: no item '{key}'; the import needs it.")
        return float(value)

    if "battery.capacity" not in values:
        raise DslsimError(f"{source}: no 'battery.capacity' (mAh); add it to the file or to the profile written.")
    groups = _cpu_groups(values, source, speeds or {})
    v_note = f"{voltage:g} V assumed nominal: power_profile.xml gives currents only"
    doc: dict = {
        "name": name,
        "description": f"Imported from {source} (Android power_profile.xml): currents at the battery, one core per "
                       f"CPU {'scaling policy' if groups[0].key.startswith('policy') else 'cluster'}; compute "
                       f"rates assumed.",
        "battery": {
            "capacity": {"value": f"{get('battery.capacity'):g} mAh", "source": f"{source}: battery.capacity"},
            "voltage": {"value": f"{voltage:g} V", "assumed": v_note},
            "converter_efficiency": {"value": 1.0, "assumed": "the XML's currents are at the battery: converter "
                                                               "losses are inside them"},
        },
        "platform": {"floor": {"suspend": {
            "power": {"value": f"{get('cpu.suspend') * 1e-3 * voltage:.6g} W",
                      "source": f"{source}: cpu.suspend, {get('cpu.suspend'):g} mA at the battery x {voltage:g} V"},
            "at": "battery"}}},
        "cores": {},
    }
    for index, group in enumerate(groups):
        key = group.key
        active = get("cpu.active", index)
        opps = []
        for khz, core_ma in sorted(zip(group.speeds, group.currents)):
            hz = khz * 1e3
            run = (core_ma + group.shared + active) * 1e-3 / hz * 1e6       # A per MHz
            opps.append({"name": f"{khz / 1e3:g}MHz", "freq": f"{khz / 1e3:g} MHz", "voltage": "1 V",
                         "run_current": _sourced(f"{run:.12g} A/MHz", f"{group.step_key} + {group.shared_key} + "
                                                 f"cpu.active at {khz:g} kHz{group.speeds_note}", source,
                                                 ", over the clock"),
                         "idle_current": _sourced(f"{get('cpu.idle') * 1e-3 / hz * 1e6:.12g} A/MHz", "cpu.idle",
                                                  source, ", the device awake with every CPU idle, counted per core"),
                         "assumed": "core voltage 1 V (the XML has none; currents at the battery do not need it)"})
        doc["cores"][key] = {
            "kind": "cpu",
            "supply": {"voltage": f"{voltage:g} V", "regulator": "none",
                       "source": f"{source}: currents are at the battery", "assumed": v_note},
            "opps": opps,
            "ops": {"default": {"macs_per_cycle": 1.0,
                                "assumed": "power_profile.xml says nothing of compute rate: 1 MAC per cycle; "
                                           "fit it with dslsim calibrate"}},
            "sleep": {"off": {"power": "0 W", "exit_latency": "1 ms", "entry_energy": "0 J", "exit_energy": "0 J",
                              "assumed": "a powered-down cluster; its residual current is the suspend floor"}},
        }
    first = next(iter(doc["cores"]))
    # Everything on the first cluster at its top speed: a starting point to edit, not a recommendation.
    doc["default_scenario"] = {"name": f"{name}-default", "placement": {"default": first},
                               "opp": {first: doc["cores"][first]["opps"][-1]["name"]},
                               "sleep": {c: {"off": "5 ms"} for c in doc["cores"]},
                               "deadline": "frame", "when_busy": "queue"}
    unmapped = sorted(k for k in values if not k.startswith(MAPPED))
    return doc, unmapped
