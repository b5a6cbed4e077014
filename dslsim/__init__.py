"""dslsim: what a dynamic network costs on a device.

The package follows the pipeline: ``trace`` (per-frame routing + op graph) and
``hw`` (device profiles) feed ``sim`` (SimPy replay), whose results ``report``
turns into latency, power and battery figures.

>>> import dslsim
>>> result = dslsim.simulate("watch", "dsl-75hz-10min")
>>> result.summary["keeps_up"], round(result.summary["battery_life_h"])
(True, 62)
>>> result                                                 # doctest: +ELLIPSIS
<SimResult watch/watch-default: 45,000 frames, always-on ... mW, battery 62.4 h (+... % vs dense); ...>
>>> dslsim.load_profile("earbud").name, len(dslsim.load_trace("dsl-fr-50hz-10min"))
('earbud', 30000)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "simulate", "load_profile", "load_trace", "parse_spec", "run_sweep", "DslsimError"]

from dslsim.errors import DslsimError

# Thin wrappers, so that ``import dslsim`` stays cheap (pandas, pint and SimPy load on first use).


def simulate(*args, **kwargs):
    """Simulate a trace on a device profile; see :func:`dslsim.sim.run.simulate`."""
    from dslsim.sim.run import simulate as _simulate

    return _simulate(*args, **kwargs)


def load_profile(name_or_path):
    """A device profile by shipped name (``"watch"``) or YAML file; see :func:`dslsim.hw.load.load_profile`."""
    from dslsim.hw.load import load_profile as _load

    return _load(name_or_path)


def load_trace(name_or_path):
    """A trace by shipped name (``"dsl-75hz-10min"``) or Parquet file; see :func:`dslsim.trace.io.read_trace`."""
    from dslsim.trace.io import read_trace

    return read_trace(name_or_path)


def parse_spec(data, *args, **kwargs):
    """A sweep spec from a mapping; see :func:`dslsim.sweep.spec.parse_spec`."""
    from dslsim.sweep.spec import parse_spec as _parse

    return _parse(data, *args, **kwargs)


def run_sweep(spec, out, **kwargs):
    """Run a sweep into the store at ``out``; see :func:`dslsim.sweep.run.run_sweep`."""
    from dslsim.sweep.run import run_sweep as _run

    return _run(spec, out, **kwargs)
