"""dslsim: what a dynamic network costs on a device.

The package follows the pipeline: ``trace`` (per-frame routing + op graph) and
``hw`` (device profiles) feed ``sim`` (SimPy replay), whose results ``report``
turns into latency, power and battery figures.

>>> import dslsim
>>> result = dslsim.simulate("watch", "dsl-75hz-10min")
>>> result.summary["keeps_up"], round(result.summary["battery_life_h"])
(True, 62)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "simulate", "DslsimError"]

from dslsim.errors import DslsimError


def simulate(*args, **kwargs):
    """Simulate a trace on a device profile; see :func:`dslsim.sim.run.simulate`."""
    from dslsim.sim.run import simulate as _simulate

    return _simulate(*args, **kwargs)
