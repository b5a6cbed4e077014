"""Scenario: where each stage runs, at which operating point, with which sleep policy and deadline.

YAML form (a file, or a profile's ``default_scenario``)::

    name: watch-default
    placement: {default: dsp, full_decoder: big}   # stage -> core ('default' covers the rest)
    opp: {dsp: nominal, big: low, mcu: 60 MHz}      # core -> operating point name, or a clock: the lowest
                                                    #   point (voltage range) that supports it applies
    sleep:                                          # core -> sleep state -> idle time before entering it
      big: {core_off: 2 ms, cluster_off: 20 ms}
    deadline: 20 ms                                 # or 'frame' (one frame duration)
    when_busy: queue                                # or drop, or {default: queue, big: drop}
    idle: {mcu: clock-gated}                        # core -> how it waits between jobs (clock-gated or busy-poll)
    streaming: {mcu: [sai1, gpdma1]}                # core -> peripherals it keeps running (the audio input)

A core waits between jobs ``clock-gated`` (WFI: the profile's Sleep currents; the default) or ``busy-poll``
(spinning at its run current, as some reference firmware does), and may then enter its sleep states after their
timeouts. A peripheral that streams needs its clock: a sleep state that stops the clocks is refused for that
core unless the profile says the peripheral runs in it (``runs_in``).

The keys and units are declared in :mod:`dslsim.sim.scenario_schema` (the JSON Schema editors use is generated from
it); this module checks the names against the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dslsim.yamldoc import Node, load_yaml
from dslsim.errors import InputError, describe
from dslsim.hw.profile import Profile
from dslsim.sim.scenario_schema import BUSY_POLICIES, DEADLINE, FRAME, IDLE_MODES, SCENARIO, TIMEOUT


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; core and state names are checked against the profile."""

    name: str
    placement: dict[str, str]
    default_core: str | None
    opp: dict[str, str | float]
    """Core -> operating point name, or a clock in Hz (see :meth:`dslsim.hw.profile.Core.clock`)."""
    sleep: dict[str, tuple[tuple[str, float], ...]]
    deadline: float | None
    when_busy: dict[str, str] = field(default_factory=dict)
    source: str = ""
    """Where the scenario was read from (a file, or a profile's default_scenario)."""
    idle: dict[str, str] = field(default_factory=dict)
    """Core -> how it waits between jobs, when declared (one of :data:`IDLE_MODES`; undeclared: clock-gated)."""
    streaming: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Core -> the peripherals it keeps running all the time (an audio interface and its DMA)."""
    optional_stages: frozenset[str] = frozenset()
    """Placed stages the trace may lack. Any other placement of a stage the trace does not have is refused (a
    typo would silently run the stage on the default core); a profile's default scenario is written for its usual
    trace, so its own placements are optional and ``dslsim simulate -p PROFILE -t ANY-TRACE`` runs."""

    def core_of(self, stage: str) -> str | None:
        """The core that runs ``stage`` (None when neither placed nor covered by a default)."""
        return self.placement.get(stage, self.default_core)

    def idle_mode(self, core: str) -> str:
        """How ``core`` waits between jobs: 'clock-gated' unless the scenario declares otherwise."""
        return self.idle.get(core, IDLE_MODES[0])

    def busy_policy(self, resource: str) -> str:
        """'queue' or 'drop' for a core or link."""
        return self.when_busy.get(resource, self.when_busy.get("default", "queue"))


def load_scenario(path: str | Path | None, profile: Profile) -> Scenario:
    """Load a scenario file, or the profile's default scenario when ``path`` is None."""
    if path is None:
        if not profile.default_scenario:
            raise InputError(profile.source_file, "default_scenario", "nothing",
                             "a default scenario in the profile, or a --scenario file")
        scenario = parse_scenario(profile.default_scenario, profile, profile.source_file, "default_scenario")
        return replace(scenario, optional_stages=frozenset(scenario.placement))
    return parse_scenario(load_yaml(path), profile, str(path))


def parse_scenario(data: Any, profile: Profile, source: str = "<scenario>", prefix: str = "") -> Scenario:
    """Validate a scenario mapping against ``profile``."""
    root = Node(data, source, prefix, sourced=True)
    SCENARIO.check(root)
    cores = list(profile.cores)

    def core_name(node: Node, key: str) -> str:
        value = node.data[key]
        if not isinstance(value, str) or value not in profile.cores:
            raise InputError(source, node.at(key), describe(value), f"a core of profile '{profile.name}': {cores}")
        return value

    placement_node = root.child("placement")
    placement = {stage: core_name(placement_node, stage) for stage in placement_node.data}
    default_core = placement.pop("default", None)

    opp: dict[str, str | float] = {}
    if root.has("opp"):
        node = root.child("opp")
        for core in node.data:
            spec = profile.cores[_known(node, core, cores, "a core")]
            names = [p.name for p in spec.opps]
            value = node.data[core]
            if isinstance(value, str) and value in names:
                opp[core] = value
                continue
            wanted = f"an operating point of core '{core}' {names}, or a clock such as '60 MHz'"
            if not isinstance(value, str) or not any(c.isdigit() for c in value):
                raise InputError(source, node.at(core), describe(value), wanted)
            freq = node.quantity(core, "Hz", strictly_positive=True)
            top = max(p.freq for p in spec.opps)
            if freq > top * (1 + 1e-12):
                raise InputError(source, node.at(core), describe(value),
                                 f"a clock no higher than core '{core}' supports ({top / 1e6:g} MHz)")
            opp[core] = freq
    for core, spec in profile.cores.items():
        opp.setdefault(core, spec.opps[-1].name)

    sleep: dict[str, tuple[tuple[str, float], ...]] = {}
    if root.has("sleep"):
        node = root.child("sleep")
        for core in node.data:
            _known(node, core, cores, "a core")
            policy = node.child(core)
            declared = [s.name for s in profile.cores[core].sleep_states]
            timeouts = []
            for state in policy.data:
                if state not in declared:
                    raise InputError(source, policy.at(state), describe(state),
                                     f"a sleep state of core '{core}': {declared or 'it has none'}")
                timeouts.append((state, TIMEOUT.read(policy, state)))
            order = sorted(timeouts, key=lambda st: declared.index(st[0]))
            for (s1, t1), (s2, t2) in zip(order, order[1:]):
                if not t2 > t1:
                    raise InputError(source, policy.at(s2), f"{t2 * 1e3:g} ms",
                                     f"a timeout longer than the shallower state '{s1}' ({t1 * 1e3:g} ms)")
            sleep[core] = tuple(order)

    deadline: float | None = None
    if root.has("deadline") and root.data["deadline"] != FRAME:
        deadline = DEADLINE.read(root, "deadline")

    when_busy: dict[str, str] = {}
    raw = root.data.get("when_busy", "queue")
    if isinstance(raw, str):
        when_busy["default"] = raw
        if raw not in BUSY_POLICIES:
            raise InputError(source, root.at("when_busy"), repr(raw), f"one of {list(BUSY_POLICIES)}")
    else:
        node = root.child("when_busy")
        links = [link.name for link in profile.links]
        for key in node.data:
            if key != "default":
                _known(node, key, cores + links, "'default', a core or a link")
            when_busy[key] = node.text(key, choices=BUSY_POLICIES)

    idle: dict[str, str] = {}
    if root.has("idle"):
        node = root.child("idle")
        for core in node.data:
            _known(node, core, cores, "a core")
            idle[core] = node.text(core, choices=IDLE_MODES)
    streaming = _streaming(root, profile, sleep)

    where = f"{source} ({prefix})" if prefix else str(source)
    return Scenario(name=root.text("name", default=Path(source).stem or "scenario"), placement=placement,
                    default_core=default_core, opp=opp, sleep=sleep, deadline=deadline, when_busy=when_busy,
                    source=where, idle=idle, streaming=streaming)


def _streaming(root: Node, profile: Profile, sleep: dict[str, tuple[tuple[str, float], ...]]) \
        -> dict[str, tuple[str, ...]]:
    """The peripherals each core keeps running, checked against the profile and against the sleep policy: a
    streaming peripheral's clock must stay on, so a sleep state it does not run in is refused."""
    out: dict[str, tuple[str, ...]] = {}
    if not root.has("streaming"):
        return out
    node = root.child("streaming")
    for core in node.data:
        _known(node, core, list(profile.cores), "a core")
        spec = profile.cores[core]
        names = node.data[core]
        if isinstance(names, str):
            names = [names]
        known = list(spec.peripherals)
        if not isinstance(names, list) or any(not isinstance(n, str) or n not in spec.peripherals for n in names):
            raise InputError(node.source, node.at(core), describe(names),
                             f"a list of core '{core}''s peripherals {known or '(the profile declares none)'}")
        for state, _ in sleep.get(core, ()):
            stopped = [n for n in names if state not in spec.peripherals[n].runs_in]
            if stopped:
                raise InputError(node.source, f"{root.at('sleep')}.{core}.{state}", f"sleep state '{state}'",
                                 f"no sleep state that stops the clock of a peripheral core '{core}' keeps "
                                 f"streaming ({', '.join(stopped)}, under {node.at(core)}): the audio would stop. "
                                 f"Let it idle clock-gated (drop '{state}' from its sleep policy), or use a state "
                                 f"the profile says the peripheral runs in (cores.{core}.peripherals.<name>.runs_in)")
        out[core] = tuple(dict.fromkeys(names))
    return out


def _known(node: Node, key: str, names: list[str], what: str) -> str:
    if key not in names:
        raise InputError(node.source, node.at(key), describe(key), f"{what} of the profile: {names}")
    return key
