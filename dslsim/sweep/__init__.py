"""Sweeps: many scenario and profile variants of one base, run in parallel, stored resumably.

>>> from dslsim.sweep import load_spec, run_sweep
>>> spec = load_spec("examples/sweep-heavy-path.yaml")      # doctest: +SKIP
>>> table = run_sweep(spec, "sweeps/heavy-path")             # doctest: +SKIP
"""

from dslsim.sweep.spec import SweepSpec, load_spec
from dslsim.sweep.run import run_sweep

__all__ = ["SweepSpec", "load_spec", "run_sweep"]
