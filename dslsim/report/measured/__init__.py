"""A measured current trace beside the simulation of the same trace.

* :mod:`.reader`: a bench tool's current-vs-time CSV (Nordic PPK2, Qoitech Otii, Joulescope, or any file whose
  headers name time and current with units) read into a :class:`~.reader.Measurement`, refusing bad input with
  the file and column named;
* :mod:`.align`: both as piecewise-constant power, averaged on a common grid, and the time offset between them
  found by cross-correlation;
* :mod:`.compare`: mean current and power, energy per window (per frame period by default), a fit of measured
  on simulated power, all in a :class:`~.compare.MeasuredComparison`;
* :mod:`.render`: text, the overlay figures, the HTML report and the CSV tables.

>>> from dslsim.report.measured import compare_measured, read_measurement    # doctest: +SKIP
"""

from __future__ import annotations

from dslsim.report.measured.compare import MeasuredComparison, compare_measured
from dslsim.report.measured.reader import Measurement, read_measurement

__all__ = ["Measurement", "MeasuredComparison", "compare_measured", "read_measurement"]
