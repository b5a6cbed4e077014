"""The HTML report of a stack of models: its figures are the library's attribution table, its rows add up to the
battery draw, what does not apply to a stack is refused, and a stack that does not keep up has no battery figure."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.sim.run import simulate

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "examples" / "stacks" / "vad-ww-codec.yaml"
MODELS = ("vad", "ww", "codec")


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts (header row first)."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(" ".join("".join(self._cell or []).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table(html: str, first_header: str, having: str) -> dict[str, dict[str, str]]:
    """The page's table whose header has ``having``, as {first column: {header: cell}}."""
    parser = _Tables()
    parser.feed(html)
    for rows in parser.tables:
        head = rows[0]
        if head[0] == first_header and having in head:
            return {row[0]: dict(zip(head, row)) for row in rows[1:]}
    raise AssertionError(f"no table with {having!r}")


def _report(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    out = tmp_path / "stack.html"
    r = CliRunner().invoke(cli, ["report", *args, "-o", str(out), "--data-dir", str(tmp_path / "data")])
    return r.exit_code, r.output, out


@pytest.fixture(scope="module")
def earbud(tmp_path_factory):
    """The shipped stack on the earbud: the report (HTML and its data folder) and the library's own result."""
    tmp = tmp_path_factory.mktemp("earbud")
    code, output, out = _report(tmp, "-p", "earbud", "--stack", str(STACK))
    assert code == 0, output
    return out.read_text(), tmp / "data", simulate("earbud", stack=STACK)


def test_the_report_names_the_stack_and_every_models_trace(earbud):
    html, _, result = earbud
    assert str(STACK.relative_to(ROOT)) in html or str(STACK) in html
    for name, info in result.meta["models"].items():
        assert f"{name} from trace {info['source']}" in html
    assert "vad-fr-50s.parquet" in html and "okay-nabu-fr-50s.parquet" in html and "dsl-fr-50hz-10min.parquet" in html


def test_the_attribution_table_is_the_librarys(earbud):
    html, data, result = earbud
    lib = result.models.set_index("part")
    shown = _table(html, "part", "power at the battery (mW)")
    latency = _table(html, "part", "p99 latency (ms)")
    assert list(shown) == list(lib.index)              # every model, then the rows that are no model's, the total
    for part, row in lib.iterrows():
        cells = shown[part]
        assert cells["power at the battery (mW)"] == f"{row.power_mW:.4f}"
        assert cells["mAh/day"] == f"{row.mAh_per_day:.3f}"
        assert cells["battery %/day"] == f"{row.pct_per_day:.4f}"
        assert cells["share of the draw (%)"] == f"{row.share_pct:.2f}"
        assert cells["ungated battery %/day"] == f"{row.ungated_pct_per_day:.4f}"
        if row.kind != "device":
            assert cells["calls"] == f"{int(row.calls):,}" and cells["ungated calls"] == f"{int(row.ungated_calls):,}"
    for part in MODELS:
        row, cells = lib.loc[part], latency[part]
        p99 = "" if math.isnan(row.latency_p99_s) else f"{1e3 * row.latency_p99_s:.3f}"  # the codec never runs
        assert cells["p99 latency (ms)"] == p99
        assert cells["deadline (ms)"] == f"{1e3 * row.deadline_s:.4g}"
        assert cells["deadline miss rate (%)"] == f"{100 * row.deadline_miss_rate:.2f}"
        assert cells["keeps up"] == ("yes" if row.keeps_up else "no")
    # The CSV beside the report holds the same figures, unrounded.
    csv = pd.read_csv(data / "models.csv").set_index("part")
    for column, header, scale in (("power_mW", "power at the battery (mW)", 1.0), ("mAh_per_day", "mAh/day", 1.0),
                                  ("pct_per_day", "battery %/day", 1.0), ("calls", "calls", 1.0),
                                  ("share_pct", "share of the draw (%)", 1.0)):
        pd.testing.assert_series_equal(csv[header], lib[column] * scale, check_names=False, rtol=1e-12)
    lat = pd.read_csv(data / "model_latency.csv").set_index("part")
    pd.testing.assert_series_equal(lat["p99 latency (ms)"], lib.loc[list(MODELS), "latency_p99_s"] * 1e3,
                                   check_names=False, rtol=1e-12)
    # The same headline figures as a single trace's report, the gain against the ungated run.
    s = result.summary
    assert f"{s.battery_life_h:.1f} h" in html and f"{s.battery_gain_pct:+.1f} %" in html
    assert "battery gain vs ungated" in html and "Keeps up" in html
    text = re.sub(r'src="data:[^"]*"', "", html)
    assert html.count("<img") == 3 and not re.search(r"\bnan\b|\binf\b", text, re.IGNORECASE)


def test_the_rows_add_up_to_the_battery_draw(earbud):
    _, data, result = earbud
    table = pd.read_csv(data / "models.csv")
    parts = table[table["kind"] != "total"]
    draw = 1e3 * result.summary.charge_per_day_Ah          # mAh/day of the whole battery draw
    assert set(parts["part"]) == {*MODELS, "other cores and links", "cores at rest", "platform floor"}
    assert parts["mAh/day"].sum() == pytest.approx(draw, rel=1e-9)
    assert parts["share of the draw (%)"].sum() == pytest.approx(100.0, rel=1e-9)
    shares = pd.read_csv(data / "model_shares.csv")          # the figure's data: every row but the total
    assert list(shares["part"]) == list(parts["part"])


def test_trace_and_stack_together_are_refused_naming_both(tmp_path):
    code, output, out = _report(tmp_path, "-p", "earbud", "-t", "dsl-fr-50hz-10min", "--stack", str(STACK))
    assert code == 2 and "--trace" in output and "--stack" in output and not out.exists()


@pytest.mark.parametrize("option", [["--window", "1 s:2 s"], ["--uncertainty", "5"], ["--resolution", "2"]])
def test_options_a_stack_does_not_take_are_refused(tmp_path, option):
    code, output, out = _report(tmp_path, "-p", "earbud", "--stack", str(STACK), *option)
    assert code == 2 and option[0] in output and not out.exists()


@pytest.mark.parametrize("option", [["--max-misses", "5"], ["--window", "1 s:2 s"], ["--uncertainty", "5"]])
def test_options_a_sweep_report_does_not_take_are_refused(tmp_path, option):
    """A sweep's points were judged when it ran (against its spec's allowed misses): the report cannot re-judge
    them, so the option is refused before the store is read."""
    code, output, out = _report(tmp_path, "--sweep", str(tmp_path / "no-store"), *option)
    assert code == 2 and option[0] in output and not out.exists()


def test_a_stack_that_does_not_keep_up_has_no_battery_figure(tmp_path):
    # The VAD's calls take 75-91 us on the earbud's DSP: a 50 us deadline is missed by every call.
    stack = tmp_path / "tight.yaml"
    stack.write_text("name: tight\nduration: 20 s\nmodels:\n"
                     "  vad: {trace: vad-fr-50s, priority: 2, placement: {default: dsp}, deadline: 50 us}\n"
                     "  ww: {trace: okay-nabu-fr-50s, priority: 1, placement: {default: dsp},\n"
                     "       gate: {model: vad, threshold: 0.5, hold: 1 s}}\n")
    code, output, out = _report(tmp_path, "-p", "earbud", "--stack", str(stack))
    assert code == 4, output                      # written, then the exit status a single trace's report gives
    html = out.read_text()
    assert "Does not keep up" in html and "model 'vad' misses" in unescape(html)
    cards = dict(re.findall(r"<div class=v>([^<]*)</div><div class=l>([^<]*)</div>", html))
    assert cards and not {"battery life", "battery gain vs ungated", "charge per day"} & set(cards.values())
    summary = _table(html, "figure", "value")
    assert summary["battery life"]["value"].startswith("n/a") and summary["charge per day"]["value"].startswith("n/a")
    shown = _table(html, "part", "power at the battery (mW)")
    for cells in shown.values():
        for header in ("power at the battery (mW)", "mAh/day", "battery %/day", "share of the draw (%)"):
            assert cells[header] == ""
    assert _table(html, "part", "p99 latency (ms)")["vad"]["keeps up"] == "no"
    assert not (tmp_path / "data" / "model_shares.png").exists()
    assert pd.read_csv(tmp_path / "data" / "models.csv")["mAh/day"].isna().all()


def test_the_stack_report_renders_in_headless_chromium(earbud, tmp_path):
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                   None)
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium on this machine")
    page = tmp_path / "stack.html"
    page.write_text(earbud[0])
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded and int(loaded.group(1)) == int(loaded.group(2)) == 3
