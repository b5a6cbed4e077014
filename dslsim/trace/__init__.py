"""Trace: the per-frame routing of a model plus its op graph, the one contract between model and hardware.

>>> from dslsim.trace import read_trace
>>> trace = read_trace("dsl-75hz-10min")            # a shipped trace, by name
>>> list(trace.meta.paths), trace.meta.dense_path
(['light', 'full'], 'full')
"""

from dslsim.trace.schema import FORMAT, VERSION, Op, Stage, Trace, TraceMeta
from dslsim.trace.io import read_trace, write_trace

__all__ = ["FORMAT", "VERSION", "Op", "Stage", "Trace", "TraceMeta", "read_trace", "write_trace"]
