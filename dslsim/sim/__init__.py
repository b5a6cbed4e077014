"""Simulation: a trace replayed on a device profile under a scenario, event by event (a SimPy reference engine and a
compiled batch engine, the same numbers bit for bit). Never imports torch.

>>> from dslsim.sim import simulate
>>> result = simulate("watch", "dsl-75hz-10min")
>>> len(result.frames), result.summary.dropped
(45000, 0)
"""

from dslsim.sim.results import SimResult
from dslsim.sim.run import simulate
from dslsim.sim.scenario import Scenario, load_scenario, parse_scenario

__all__ = ["SimResult", "Scenario", "load_scenario", "parse_scenario", "simulate"]
