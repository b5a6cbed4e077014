"""dslsim: what a dynamic network costs on a device.

The package follows the pipeline: ``trace`` (per-frame routing + op graph) and ``hw`` (device profiles) feed
``cost`` (what each stage costs on each core), whose plan ``sim`` replays event by event (a SimPy reference engine
and a compiled batch engine that give the same numbers, bit for bit); ``report`` turns the results into latency,
power and battery figures, ``sweep`` runs many variants.

>>> import dslsim
>>> result = dslsim.simulate("watch", "dsl-75hz-10min")
>>> result.summary.keeps_up, round(result.summary.battery_life_h), round(result.summary["battery_life_h"])
(True, 62, 62)
>>> result                                                 # doctest: +ELLIPSIS
<SimResult watch/watch-default: 45,000 frames, always-on ... mW, battery ... h (+... % vs dense); ...>
>>> dslsim.load_profile("earbud").name, len(dslsim.load_trace("dsl-fr-50hz-10min"))
('earbud', 30000)

The top-level functions are the library's own (``help(dslsim.simulate)`` shows its signature and docstring);
they load on first use, so ``import dslsim`` stays cheap (pandas, pint and SimPy load only when needed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dslsim.errors import DslsimError

__version__ = "0.1.0"

#: Each top-level name and the module and name it is, imported when first used.
_LAZY = {
    "simulate": ("dslsim.sim.run", "simulate"),
    "load_profile": ("dslsim.hw.load", "load_profile"),
    "load_trace": ("dslsim.trace.io", "read_trace"),
    "parse_spec": ("dslsim.sweep.spec", "parse_spec"),
    "run_sweep": ("dslsim.sweep.run", "run_sweep"),
}

__all__ = ["__version__", "simulate", "load_profile", "load_trace", "parse_spec", "run_sweep", "DslsimError"]

if TYPE_CHECKING:  # what editors and type checkers see; at run time __getattr__ imports them on first use
    from dslsim.hw.load import load_profile
    from dslsim.sim.run import simulate
    from dslsim.sweep.run import run_sweep
    from dslsim.sweep.spec import parse_spec
    from dslsim.trace.io import read_trace as load_trace


def __getattr__(name: str) -> Any:
    """The top-level function ``name`` itself (real signature and docstring), imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'dslsim' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value            # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
