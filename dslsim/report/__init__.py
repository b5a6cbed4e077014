"""Report: render simulation results as text and write them as CSV, Parquet or JSON."""

from dslsim.report.export import EXPORT_FORMATS, write_result
from dslsim.report.text import render_summary

__all__ = ["EXPORT_FORMATS", "render_summary", "write_result"]
