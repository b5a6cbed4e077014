"""Sweeps: many scenario and profile variants of one base, run in parallel, stored resumably.

>>> import tempfile
>>> from dslsim.sweep import parse_spec, run_sweep
>>> spec = parse_spec({"name": "timeouts", "base": {"profile": "watch", "trace": "dsl-75hz-10min"},
...                    "axes": {"scenario.sleep.big.core_off": ["2 ms", "20 ms"]}})
>>> table = run_sweep(spec, tempfile.mkdtemp(), jobs=1, progress=False)
>>> table[["scenario.sleep.big.core_off", "scenario.sleep.big.core_off_s"]].values.tolist()
[['2 ms', 0.002], ['20 ms', 0.02]]

From a spec file: ``load_spec("examples/sweep-heavy-path.yaml")``.
"""

from dslsim.sweep.spec import SweepSpec, load_spec, parse_spec
from dslsim.sweep.run import run_sweep

__all__ = ["SweepSpec", "load_spec", "parse_spec", "run_sweep"]
