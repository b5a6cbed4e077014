"""In a notebook: results, summaries and sweep tables show their headline figures as HTML; plotting leaves the
user's matplotlib backend alone; the top-level functions show their real signatures; a summary saved as JSON reads
back equal."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import make_trace, simple_profile
from dslsim.report.export import json_safe
from dslsim.sim.run import simulate
from dslsim.sim.summary import Summary
from dslsim.sweep.table import SweepTable


@pytest.fixture(scope="module")
def result():
    return simulate(simple_profile(), make_trace(["light", "full", "light", "light"] * 50))


def test_summary_and_result_show_headline_figures_as_html(result):
    s = result.summary
    page = s._repr_html_()
    # Shown in the units the text report uses, with the digits it uses.
    assert f"{1e3 * s.always_on_power_W:.3f} mW" in page and f"{s.battery_life_h:.1f} h" in page
    assert f"{s.battery_gain_h:+.1f} h ({s.battery_gain_pct:+.1f} %)" in page
    assert page.index("always-on power") < page.index("battery life") < page.index("share on")
    view = result._repr_html_()
    assert "simple" in view and f"{1e3 * s.latency_p99_s:.3f} ms" in view and ".frames" in view


def test_a_result_with_a_warning_shows_it_escaped(result):
    import dataclasses

    warned = dataclasses.replace(result, warnings=["core 'a' <never> sleeps"])
    assert "core &#x27;a&#x27; &lt;never&gt; sleeps" in warned._repr_html_()


def test_sweep_table_shows_axes_and_headline_figures_in_report_units():
    df = pd.DataFrame({"point_id": ["p1", "p2"], "scenario.opp.big": ["low", "high"],
                       "always_on_power_W": [0.0125, 0.02], "battery_life_h": [40.0, 25.0],
                       "latency_p99_s": [0.004, 0.002], "sim_wall_s": [0.1, 0.1]})
    table = SweepTable.of(df, ["scenario.opp.big"])
    shown = table.shown()
    assert shown.columns.tolist() == ["scenario.opp.big", "always-on power (mW)", "battery life (h)",
                                      "latency p99 (ms)"]
    assert shown["always-on power (mW)"].tolist() == [12.5, 20.0] and shown["latency p99 (ms)"].tolist() == [4.0, 2.0]
    page = table._repr_html_()
    assert "2 points" in page and "2 more columns" in page and "point_id" not in page
    assert type(table[table["battery_life_h"] > 30]) is pd.DataFrame      # derived tables are plain


def test_summary_reads_back_from_its_json_form(result):
    s = result.summary
    back = Summary.from_dict(json.loads(json.dumps(json_safe(s))))
    assert back.shares == s.shares and back.battery_life_h == s.battery_life_h and back == s
    older = Summary.from_dict({k: v for k, v in s.to_dict().items() if k != "battery_current_A"})
    assert np.isnan(older.battery_current_A) and older.battery_gain_h == s.battery_gain_h


def test_plotting_leaves_the_users_backend_alone(tmp_path):
    """The report's figures are drawn without pyplot: a notebook's backend (here 'svg') stays selected."""
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import sys\n"
        "from dslsim.sim.run import simulate\n"
        "from dslsim.report import plots\n"
        "from dslsim.report.html import HtmlReport\n"
        "r = simulate('earbud', 'dsl-c32-75hz-2min', window=(1.0, 1.5))\n"
        "rep = HtmlReport('t')\n"
        "for make in (plots.energy_breakdown, plots.state_timeline, plots.power_over_time, plots.latency_by_path):\n"
        "    rep.figure(make.__name__, *make(r))\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules, len(rep.images))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.split() == ["svg", "False", "4"]


def test_top_level_functions_show_their_real_signatures():
    import dslsim

    assert list(inspect.signature(dslsim.simulate).parameters)[:3] == ["profile", "trace", "scenario"]
    assert "engine" in inspect.signature(dslsim.simulate).parameters
    assert "jobs" in inspect.signature(dslsim.run_sweep).parameters
    for name in ("simulate", "load_profile", "load_trace", "parse_spec", "run_sweep"):
        function = getattr(dslsim, name)
        assert function.__doc__ and "*args" not in str(inspect.signature(function)), name
    assert {"simulate", "run_sweep"} <= set(dir(dslsim))
    with pytest.raises(AttributeError):
        dslsim.no_such_function
