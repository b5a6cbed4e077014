"""A self-contained HTML report: figures embedded as PNG data URIs, tables inline, no external assets.

On load, a two-line script records in ``<body data-images-loaded="k/n">`` how many images decoded, so a
headless browser can check that the report renders.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from dslsim.fileio import write_text_atomic

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.scroll { overflow-x: auto; max-height: 32em; overflow-y: auto; }
table { border-collapse: collapse; font-size: 12px; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; } th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 12px; } img { max-width: 100%; }
.note { color: #555; font-size: 12px; }
.headline { display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0 .4em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5em .9em; min-width: 9em; }
.card .v { font-size: 1.5em; font-weight: 600; } .card .l { color: #555; font-size: 12px; }
.verdict { padding: .5em .9em; border-radius: 6px; font-weight: 600; margin: .4em 0; }
.ok { background: #e8f5e9; color: #1b5e20; } .bad { background: #fdecea; color: #b71c1c; }
.warnings li { color: #8a4b00; }
"""

_CHECK = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + imgs.length);
});
"""


def _cell(value, spec: str) -> str:
    """A table cell formatted by ``spec``: empty for a missing value, yes or no for a true or false one."""
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return format(value, spec)


class HtmlReport:
    """Collects headings, text, tables and figures; :meth:`write` makes one HTML file (and figure data)."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.data: dict[str, pd.DataFrame] = {}
        self.images: dict[str, bytes] = {}

    def headline(self, cards: list[tuple[str, str]], ok: bool, verdict: str, warnings: list[str]) -> None:
        """The answer first: a verdict line (green when the run keeps up, red when it does not), the headline
        figures as cards (label, value), and every warning."""
        self.parts.append(f"<div class='verdict {'ok' if ok else 'bad'}'>{html.escape(verdict)}</div>")
        self.parts.append("<div class=headline>" + "".join(
            f"<div class=card><div class=v>{html.escape(value)}</div><div class=l>{html.escape(label)}</div></div>"
            for label, value in cards) + "</div>")
        if warnings:
            self.parts.append("<ul class=warnings>" + "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
                              + "</ul>")

    def heading(self, text: str) -> None:
        """A section heading."""
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, note: bool = False) -> None:
        """A paragraph (escaped)."""
        self.parts.append(f"<p{' class=note' if note else ''}>{html.escape(text)}</p>")

    def table(self, name: str, df: pd.DataFrame, caption: str = "", float_format: str = "{:,.4g}",
              formats: Mapping[str, str] | None = None) -> None:
        """An inline table; its data is also kept under ``name``. ``formats``: a format spec for some columns
        (',.0f' for counts that a missing value made floats; a true or false value shows as yes or no, a missing
        one as an empty cell)."""
        self.data[name] = df
        body = df.to_html(index=False, border=0, float_format=float_format.format, na_rep="",
                          formatters={c: partial(_cell, spec=spec) for c, spec in (formats or {}).items()})
        # Wide or long tables scroll inside their box instead of running off the page.
        self.parts.append(f"<figure><div class=scroll>{body}</div><figcaption>{html.escape(caption)}"
                          f"</figcaption></figure>")

    def figure(self, name: str, fig, data: pd.DataFrame | None, caption: str = "") -> None:
        """An embedded PNG of a matplotlib figure; its data is kept under ``name``. The figure is saved with its
        own canvas (no pyplot, so the user's backend is left alone)."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        self.images[name] = buf.getvalue()
        b64 = base64.b64encode(self.images[name]).decode()
        if data is not None:
            self.data[name] = data
        self.parts.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}">'
                          f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def render(self) -> str:
        """The HTML text."""
        return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(self.title)}</title>"
                f"<style>{_STYLE}</style><script>{_CHECK}</script></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{''.join(self.parts)}</body></html>")

    def write(self, path: str | Path, data_dir: str | Path | None = None) -> list[Path]:
        """Write the report atomically; into ``data_dir`` also each figure as PNG and its data as CSV."""
        from dslsim.fileio import write_atomic
        from dslsim.report.export import write_table

        written = [write_text_atomic(path, self.render())]
        if data_dir is not None:
            for name, df in self.data.items():
                written.append(write_table(df, Path(data_dir) / f"{name}.csv", "csv"))
            for name, png in self.images.items():
                written.append(write_atomic(Path(data_dir) / f"{name}.png", lambda p, b=png: p.write_bytes(b)))
        return written
