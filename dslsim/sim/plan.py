"""Compile (trace metadata, profile, scenario) into per-path hops: which resource, for how long, at what energy.

Consecutive stages on the same core merge into one hop; a change of core inserts a transfer on the link
between the two cores. Every per-frame cost is fixed per path, so the engine only looks costs up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dslsim.errors import DslsimError
from dslsim.cost import Cost, active_power, idle_power, peripheral_power, power_sources, stage_cost
from dslsim.hw.profile import Battery, Profile, SleepState
from dslsim.sim.engine import path_counts
from dslsim.sim.engine.states import AWAKE_STATE_NAMES, State
from dslsim.sim.scenario import Scenario
from dslsim.trace.schema import TraceMeta


#: The share of frames that may miss their deadline in a run that keeps up, unless the caller says otherwise.
DEFAULT_MAX_MISS_RATE = 0.01


@dataclass(frozen=True)
class SleepPolicy:
    """A sleep state in use on a core, entered after ``timeout`` seconds of idleness."""

    state: SleepState
    timeout: float


@dataclass(frozen=True)
class Resource:
    """A core or a link as the engine sees it: a FIFO server with a power model (links have no states).

    ``active_power`` is drawn for as long as a job runs (the frame is charged for it), ``idle_power`` while the
    core waits clocked; both come from :mod:`dslsim.hw.cost` for the scenario's clock."""

    name: str
    is_core: bool
    drop_when_busy: bool
    active_power: float = 0.0
    idle_power: float = 0.0
    sleep: tuple[SleepPolicy, ...] = ()
    opp: str = ""
    freq: float = 0.0
    voltage: float = 0.0
    unused_sleep_states: tuple[str, ...] = ()
    """The sleep states the core could enter (its streaming peripherals keep running there) when the scenario gives
    it neither a sleep policy nor a declared idle mode (it then never sleeps, perhaps by oversight), else empty."""
    settled_power: float = 0.0
    """What the core draws when the device does nothing (:func:`device_idle_power`): the reference a feature's
    own drain is counted against, whatever the scenario's clock, policy or streaming."""
    idle_mode: str = "clock-gated"
    """How the core waits between jobs (:data:`~dslsim.sim.scenario.IDLE_MODES`)."""
    streaming: tuple[str, ...] = ()
    """Peripherals the core keeps running (their power is in :attr:`active_power` and :attr:`idle_power`)."""
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    """Component ('active', 'idle', a sleep state, 'transitions', 'dynamic') -> the profile key paths of the numbers
    that set its energy: what a figure's explanation names."""

    @property
    def state_names(self) -> list[str]:
        """Residency buckets in :class:`~dslsim.sim.engine.states.State` order: active, idle, wake (exit
        transitions), then the sleep states in depth order."""
        return list(AWAKE_STATE_NAMES) + [s.state.name for s in self.sleep]

    @property
    def state_powers(self) -> list[float]:
        """Power of each residency bucket; transition energy is lumped per transition, so 'wake' draws 0 W."""
        powers = [0.0] * State.SLEEP0
        powers[State.ACTIVE], powers[State.IDLE], powers[State.WAKE] = self.active_power, self.idle_power, 0.0
        return powers + [s.state.power for s in self.sleep]


@dataclass(frozen=True)
class Hop:
    """One step of a path: ``service`` seconds on ``resource``, then ``delay`` before the next hop may start."""

    resource: int
    service: float
    delay: float
    energy: float
    stages: tuple[str, ...]
    macs: float = 0.0
    """Multiply-accumulates of the hop's stages."""
    bytes: float = 0.0
    """Bytes a link hop carries."""
    sources: tuple[str, ...] = ()
    """Profile key paths of the numbers that cost a core hop (op table entries, memory figures)."""


@dataclass(frozen=True)
class Plan:
    """Everything the engine needs, independent of the per-frame table, and what the result needs from the profile."""

    resources: tuple[Resource, ...]
    """Cores first (in the profile's order), then links; a resource's index is its bit in a frame's core mask."""
    path_names: tuple[str, ...]
    """The trace's paths, in path-code order."""
    hops: tuple[tuple[Hop, ...], ...]
    """Per path code, its hops in order."""
    frame_duration: float
    """Seconds per frame: a frame is ready this long after it arrives."""
    deadline: float
    """Latency past which a frame misses its deadline (s)."""
    battery: Battery
    """The profile's battery (capacity, voltage, converter, optional kinetic model)."""
    floor_power: float
    """Platform floor at the rails (W): microphone, PMIC, SoC suspend; it passes through the converter."""
    battery_floor_power: float
    """Platform floor measured at the battery (W): already past the converter."""
    max_miss_rate: float = DEFAULT_MAX_MISS_RATE
    """The share of frames that may miss their deadline (dropped frames included) for the run to keep up."""
    profile_name: str = ""
    """The profile's name."""
    profile_file: str = ""
    """The file the profile was read from ('' when given in code)."""
    priorities: tuple[int, ...] = ()
    """Per path code, the priority of its jobs where they wait for a core or link (higher first); empty: every
    path alike, and every resource serves its jobs first come, first served. A resource whose jobs come from paths
    of different priorities serves, whenever it frees, the waiting job of the highest priority (non-preemptive),
    ties by ready time, then by the frame's place in the run, then by hop (docs/simulation.md)."""

    def __post_init__(self) -> None:
        if self.priorities and len(self.priorities) != len(self.hops):
            raise ValueError(f"{len(self.priorities)} priorities for {len(self.hops)} paths")

    def priority_resources(self) -> frozenset[int]:
        """The resources that see jobs of more than one priority (the others serve first come, first served,
        which is what the priority rule gives when every job has the same priority)."""
        if not self.priorities:
            return frozenset()
        seen: dict[int, set[int]] = {}
        for code, hops in enumerate(self.hops):
            for hop in hops:
                seen.setdefault(hop.resource, set()).add(self.priorities[code])
        return frozenset(r for r, levels in seen.items() if len(levels) > 1)


def device_idle_power(core) -> float:
    """A core's power when the device does nothing at all: its deepest sleep state (the profile's last), or, with
    none, waiting clock-gated at its lowest operating point. Scenario-independent, so that what a scenario forces
    (a streaming audio interface that keeps the core out of Stop, a high clock while waiting) is the feature's."""
    if core.sleep_states:
        return core.sleep_states[-1].power
    lowest = min(core.opps, key=lambda o: (o.freq, o.voltage))
    return idle_power(core, core.clock(lowest.name))


def _state_sources(name: str, clock, streams: tuple[str, ...], policy, busy_poll: bool,
                   profile: Profile) -> dict[str, tuple[str, ...]]:
    """The profile key paths behind each state of core ``name`` (see :attr:`Resource.sources`)."""
    core = profile.cores[name]
    peripherals = tuple(f"cores.{name}.peripherals.{p}" for p in streams)
    running = power_sources(core, clock, running=True) + peripherals
    out = {"active": running, "idle": running if busy_poll else power_sources(core, clock, running=False) + peripherals}
    for state, _ in policy:
        out[state] = (f"cores.{name}.sleep.{state}.power",) + tuple(
            p for p, n in zip(peripherals, streams) if state in core.peripherals[n].runs_in)
    out["transitions"] = tuple(f"cores.{name}.sleep.{state}.{key}" for state, _ in policy
                               for key in ("entry_energy", "exit_energy"))
    return out


def build_plan(meta: TraceMeta, profile: Profile, scenario: Scenario,
               max_miss_rate: float = DEFAULT_MAX_MISS_RATE) -> Plan:
    """Resolve placement, operating points, links and sleep policies into a :class:`Plan`; ``max_miss_rate`` is
    the share of deadline misses a run may have and still keep up."""
    where = f"scenario '{scenario.name}' ({scenario.source or 'given in code'}) on profile " \
            f"'{profile.name}' ({profile.source_file or 'given in code'})"
    unknown = [stage for stage in scenario.placement
               if stage not in meta.stages and stage not in scenario.optional_stages]
    if unknown:  # a typo here would silently run the stage on the default core
        raise DslsimError(f"{where}: placement names stage(s) {unknown} that the trace does not have; its stages "
                          f"are {list(meta.stages)}.")
    resources: list[Resource] = []
    index: dict[str, int] = {}
    clocks = {name: core.clock(scenario.opp[name]) for name, core in profile.cores.items()}
    for name, core in profile.cores.items():
        clock = clocks[name]
        streams = scenario.streaming.get(name, ())
        states = []
        for state, timeout in scenario.sleep.get(name, ()):
            spec = core.sleep_state(state)
            if streams:  # peripherals that run in this state draw their floor on top of it
                spec = replace(spec, power=spec.power + peripheral_power(core, clock, streams, state))
            states.append(SleepPolicy(spec, timeout))
        # Sleep states the core could use but does not (no policy, no declared idle mode): those that keep every
        # streaming peripheral running; a core whose audio needs the clock in all of them has none to advise.
        usable = [st.name for st in core.sleep_states if all(st.name in core.peripherals[p].runs_in for p in streams)]
        unused = () if scenario.sleep.get(name) or name in scenario.idle else tuple(usable)
        busy_poll = scenario.idle_mode(name) == "busy-poll"
        running = active_power(core, clock) + peripheral_power(core, clock, streams)
        waiting = running if busy_poll else idle_power(core, clock) + peripheral_power(core, clock, streams)
        policy = scenario.sleep.get(name, ())
        settled = device_idle_power(core)
        index[name] = len(resources)
        resources.append(Resource(name=name, is_core=True, drop_when_busy=scenario.busy_policy(name) == "drop",
                                  active_power=running, idle_power=waiting, sleep=tuple(states), opp=clock.label,
                                  freq=clock.freq, voltage=clock.opp.voltage, unused_sleep_states=unused,
                                  settled_power=settled, idle_mode=scenario.idle_mode(name), streaming=streams,
                                  sources=_state_sources(name, clock, streams, policy, busy_poll, profile)))
    for i, link in enumerate(profile.links):
        index[link.name] = len(resources)
        resources.append(Resource(name=link.name, is_core=False,
                                  drop_when_busy=scenario.busy_policy(link.name) == "drop",
                                  sources={"dynamic": (f"links[{i}]",), "active": (f"links[{i}]",)}))

    all_hops = []
    for path, stages in meta.paths.items():
        groups: list[tuple[str, list[str]]] = []
        for stage in stages:
            core = scenario.core_of(stage)
            if core is None:
                raise DslsimError(f"{where}: stage '{stage}' (path '{path}') is not placed on any core; add "
                                  f"'placement.{stage}: <core>' or 'placement.default'.")
            if groups and groups[-1][0] == core:
                groups[-1][1].append(stage)
            else:
                groups.append((core, [stage]))
        hops: list[Hop] = []
        for g, (core_name, group) in enumerate(groups):
            if g > 0:
                prev_core, prev_group = groups[g - 1]
                link = profile.link_between(prev_core, core_name)
                if link is None:
                    raise DslsimError(
                        f"{where}: path '{path}' moves from core '{prev_core}' (stage '{prev_group[-1]}') to core "
                        f"'{core_name}' (stage '{group[0]}'), but the profile has no link between them; add one "
                        f"under 'links' or place both stages on one core.")
                nbytes = meta.stages[group[0]].input_bytes  # what the receiving stage reads
                hops.append(Hop(resource=index[link.name], service=nbytes / link.bandwidth, delay=link.latency,
                                energy=nbytes * link.energy_per_byte, stages=(), bytes=nbytes))
            core = profile.cores[core_name]
            cost = Cost()
            for stage in group:
                try:
                    cost = cost + stage_cost(meta.stages[stage], core, clocks[core_name])
                except DslsimError as exc:
                    raise DslsimError(f"{where}: {exc}") from None
            hops.append(Hop(resource=index[core_name], service=cost.seconds, delay=0.0, energy=cost.joules,
                            stages=tuple(group), macs=cost.macs, sources=cost.sources))
        all_hops.append(tuple(hops))
    # Each core's dynamic energy comes from the op table entries its hops used.
    for r, res in enumerate(resources):
        used = tuple(dict.fromkeys(src for hops in all_hops for hop in hops if hop.resource == r for src in hop.sources))
        if res.is_core and used:
            resources[r] = replace(res, sources={**res.sources, "dynamic": used})
    deadline = scenario.deadline if scenario.deadline is not None else meta.frame_duration
    return Plan(resources=tuple(resources), path_names=tuple(meta.paths), hops=tuple(all_hops),
                frame_duration=meta.frame_duration, deadline=deadline, max_miss_rate=max_miss_rate,
                battery=profile.battery,
                floor_power=profile.floor_power, battery_floor_power=profile.battery_floor_power,
                profile_name=profile.name, profile_file=profile.source_file)


#: Limits of one simulation: the engine marks a frame's cores in a 64-bit mask, steps run-ahead resources every
#: ``RUN_AHEAD`` simulated seconds (:mod:`dslsim.sim.engine.reference`), and a day at 75 Hz is 6.5 M frames;
#: past these a run is a typo, not a study.
MAX_RESOURCES = 62
MAX_SPAN_S = 10 * 365 * 86400.0
MAX_SERVICE_S = 3600.0
MAX_JOBS = 2_000_000_000
MAX_JOB_ENERGY_J = 1000.0


def check_size(plan: Plan, span: float, frames: int, frame_duration: float) -> None:
    """Refuse, before any work, a simulation whose span, job count or single job is absurd, with the figure."""
    if len(plan.resources) > MAX_RESOURCES:
        raise DslsimError(f"{len(plan.resources)} cores and links: the engine handles at most {MAX_RESOURCES}.")
    if not np.isfinite(span) or span > MAX_SPAN_S:
        raise DslsimError(f"the trace spans {span:.3g} s of simulated time; at most {MAX_SPAN_S:.3g} s (10 years) "
                          f"per simulation.")
    for path, hops in zip(plan.path_names, plan.hops):
        for hop in hops:
            if not np.isfinite(hop.energy) or hop.energy > MAX_JOB_ENERGY_J:
                raise DslsimError(
                    f"path '{path}': one job on '{plan.resources[hop.resource].name}' would cost {hop.energy:.3g} J; "
                    f"check the profile's energies (at most {MAX_JOB_ENERGY_J:g} J per job).")
            if not np.isfinite(hop.service) or hop.service > MAX_SERVICE_S:
                where = f"stages {list(hop.stages)}" if hop.stages else "a link transfer"
                raise DslsimError(
                    f"path '{path}': {where} on '{plan.resources[hop.resource].name}' would take {hop.service:.3g} s "
                    f"per frame (frames come every {frame_duration:.3g} s); check the clock and the op counts "
                    f"(at most {MAX_SERVICE_S:g} s per job).")
    hops = max((len(h) for h in plan.hops), default=1)
    if frames * hops > MAX_JOBS:
        raise DslsimError(f"{frames:,} frames x up to {hops} hops = {frames * hops:,} jobs; at most {MAX_JOBS:,} "
                          f"per simulation (split the trace).")


def check_backlog(plan: Plan, codes: np.ndarray, span: float) -> None:
    """Refuse a run whose busiest core needs more than 100x the time its frames (``codes``, arriving over ``span``
    seconds: the whole trace, or its first block) take to arrive: a clock typo ('4 kHz' for a DSP), not a study;
    the engine's run time follows simulated time, so it would grind through the backlog."""
    busy = np.zeros(len(plan.resources))
    for count, hops in zip(path_counts(codes, len(plan.hops)), plan.hops):
        for hop in hops:
            busy[hop.resource] += count * hop.service
    worst = int(busy.argmax())
    if busy[worst] > 100 * max(span, 1.0):
        raise DslsimError(
            f"'{plan.resources[worst].name}' would need {busy[worst]:.3g} s to run what arrives in {span:.3g} s "
            f"({busy[worst] / max(span, 1e-12):.0f}x); check its clock and the placement.")
