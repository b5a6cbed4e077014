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

import math
import re
from dataclasses import dataclass
import xml.etree.ElementTree as ElementTree

from dslsim import plausible
from dslsim.errors import DslsimError, InputError, describe

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
        text = (element.text or "").strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InputError(source, where, describe(element.text), "a finite number") from None
        return value

    for element in root:
        name = element.get("name")
        if name in values:
            raise InputError(source, name, "a second element of this name", "each item and array once (Android "
                             "reads one of them; which is not defined)")
        if element.tag == "item" and name:
            values[name] = number(element, name)
        elif element.tag == "array" and name:
            values[name] = [number(v, f"{name}[{i}]") for i, v in enumerate(element.findall("value"))]
    return values


#: Prefixes of the keys that hold currents (mA) and CPU speeds (kHz), in either layout and the pre-2017 names.
CURRENT_KEYS = ("battery.", "cpu.suspend", "cpu.idle", "cpu.awake", "cpu.active", "cpu.core_power.",
                "cpu.cluster_power.", "cpu.scaling_policy_power.", "cpu.scaling_step_power.")
SPEED_KEYS = ("cpu.core_speeds.", "cpu.speeds.")


def check_values(values: dict, source: str) -> None:
    """The numbers the import maps, against :mod:`dslsim.plausible`, before anything is derived from them (a
    negative current would cancel others in the sums; 0 kHz would divide by zero): currents in mA not negative,
    speeds in kHz above 0 and at most 10 GHz, increasing within a cluster, and the capacity a cell's. Errors name
    the file and the item or array entry (``cpu.core_speeds.cluster0[1]``)."""
    for key, value in values.items():
        entries = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, v in entries:
            where = key if i is None else f"{key}[{i}]"
            if key == "battery.capacity":
                plausible.check("cell_capacity", v / 1e3, source, where)
            elif key.startswith(SPEED_KEYS):
                plausible.check("android_speed_khz", v, source, where)
            elif key.startswith(CURRENT_KEYS):
                plausible.check("android_current_ma", v, source, where)
        if key.startswith(SPEED_KEYS) and isinstance(value, list):
            for i, (a, b) in enumerate(zip(value, value[1:])):
                if b <= a:
                    raise InputError(source, f"{key}[{i + 1}]", f"{b:g} kHz after {a:g} kHz",
                                     "each speed once, lowest first (one operating point per speed)")


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
            for i, khz in enumerate(given):
                plausible.check("android_speed_khz", khz, "--speeds", f"policy {policy}, speed {i + 1}")
            if any(b <= a for a, b in zip(given, given[1:])):
                raise DslsimError(f"{source}: --speeds for policy {policy} must be kHz, lowest first; "
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
    if speeds:
        raise DslsimError(f"{source}: --speeds gives policy {sorted(speeds)[0]}'s frequencies, but the file is in the "
                          f"classic layout, whose speeds are its own (cpu.core_speeds.clusterN); --speeds is for the "
                          f"per-policy layout (cpu.scaling_step_power.policyN) only.")
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
                    speeds: dict[int, list[float]] | None = None, path: str | None = None) -> tuple[dict, list[str]]:
    """(a dslsim profile document, the keys it did not map) from a parsed power profile; ``voltage``: the
    battery's nominal voltage (the XML gives currents only), which turns currents into power; ``speeds``: for the
    per-policy layout, each policy's frequencies in kHz (policy number -> one per step), refused for the classic
    one. Files in the pre-2017 layout (``cpu.speeds.clusterN``, ``cpu.active.clusterN``, ``cpu.awake``) are read
    under the newer names. ``source`` names the file in the sources written; errors name ``path`` (default: the
    same), the file as the user gave it."""
    check_values(values, path or source)
    values = _modern(values)
    label, source = source, path or source

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
        "description": f"Imported from {label} (Android power_profile.xml): currents at the battery, one core "
                       f"per CPU {'scaling policy' if groups[0].key.startswith('policy') else 'cluster'}; compute "
                       f"rates assumed.",
        "battery": {
            "capacity": {"value": f"{get('battery.capacity'):g} mAh",
                         "source": f"{label}: battery.capacity"},
            "voltage": {"value": f"{voltage:g} V", "assumed": v_note},
            "converter_efficiency": {"value": 1.0, "assumed": "the XML's currents are at the battery: converter "
                                                               "losses are inside them"},
        },
        "platform": {"floor": {"suspend": {
            "power": {"value": f"{get('cpu.suspend') * 1e-3 * voltage:.6g} W",
                      "source": f"{label}: cpu.suspend, {get('cpu.suspend'):g} mA at the battery x "
                                f"{voltage:g} V"},
            "at": "battery"}}},
        "cores": {},
    }
    for index, group in enumerate(groups):
        key = group.key
        active = get("cpu.active", index)
        opps = []
        for step, (khz, core_ma) in enumerate(sorted(zip(group.speeds, group.currents))):
            hz = khz * 1e3
            run = (core_ma + group.shared + active) * 1e-3 / hz * 1e6       # A per MHz
            plausible.check("run_current_per_mhz", run * 1e-6, source, f"{group.step_key}[{step}]",
                            f"({core_ma:g} + {group.shared:g} + {active:g}) mA at {khz:g} kHz")
            mhz = f"{khz / 1e3:.10g}"       # every digit: two speeds may not round to one name
            opps.append({"name": f"{mhz}MHz", "freq": f"{mhz} MHz", "voltage": "1 V",
                         "run_current": _sourced(f"{run:.12g} A/MHz", f"{group.step_key} + {group.shared_key} + "
                                                 f"cpu.active at {khz:g} kHz{group.speeds_note}", label,
                                                 ", over the clock"),
                         "idle_current": _sourced(f"{get('cpu.idle') * 1e-3 / hz * 1e6:.12g} A/MHz", "cpu.idle",
                                                  label, ", the device awake with every CPU idle, counted per "
                                                         "core"),
                         "assumed": "core voltage 1 V (the XML has none; currents at the battery do not need it)"})
        doc["cores"][key] = {
            "kind": "cpu",
            "supply": {"voltage": f"{voltage:g} V", "regulator": "none",
                       "source": f"{label}: currents are at the battery", "assumed": v_note},
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
