"""The online light-share budget: a streaming score quantile with an exact memory time constant."""

import math

import numpy as np
import pytest

from dslsim.trace.budget import BudgetController


def test_holds_the_share_on_stationary_scores():
    rng = np.random.default_rng(0)
    scores = rng.random(50 * 600)  # 10 min at 50 frames/s, uniform: the quantile is the share itself
    c = BudgetController(light_share=0.8, time_constant_s=20.0, frame_rate=50.0)
    full, thr = c.route(scores)
    assert abs((1 - full[50 * 60:].mean()) - 0.8) < 0.01
    assert abs(np.median(thr[50 * 60:]) - 0.8) < 0.02  # uniform scores: the 80 % quantile is 0.8


def test_holds_the_share_where_a_fixed_threshold_drifts():
    rng = np.random.default_rng(1)
    quiet, babble = rng.beta(2, 6, 50 * 600), rng.beta(6, 2, 50 * 600)  # the background changes mid-stream
    scores = np.concatenate([quiet, babble])
    fixed = np.quantile(quiet, 0.8)  # calibrated on the first background only
    assert (babble < fixed).mean() < 0.2  # ...which on the second keeps almost nothing light
    c = BudgetController(light_share=0.8, time_constant_s=10.0, frame_rate=50.0, initial_threshold=fixed)
    full, _ = c.route(scores)
    settle = 5 * 10 * 50  # five time constants after the change
    for part in (full[settle:50 * 600], full[50 * 600 + settle:]):
        assert abs((1 - part.mean()) - 0.8) < 0.03


def test_memory_has_the_stated_time_constant():
    # Constant scores a, then b: with a 50 % budget the threshold leaves a's bin when the new scores hold half of
    # the decayed mass, 1 - d^n = 1/2 with d = exp(-1 / (tau * rate)), so n = ln 2 * tau * rate frames.
    tau, rate = 2.0, 50.0
    c = BudgetController(light_share=0.5, time_constant_s=tau, frame_rate=rate)
    scores = np.concatenate([np.full(5000, 0.2), np.full(1000, 0.7)])
    thr = c.thresholds(scores)
    crossed = int(np.argmax(thr[5000:] > 0.5))
    assert abs(crossed - math.log(2) * tau * rate) <= 1.5


def test_causal_and_deterministic():
    rng = np.random.default_rng(2)
    s = rng.random(3000)
    c = BudgetController(light_share=0.7, time_constant_s=5.0, frame_rate=50.0)
    a, b = c.thresholds(s), c.thresholds(s)
    assert np.array_equal(a, b)
    s2 = s.copy()
    s2[2000:] = 1 - s2[2000:]  # a change in the future cannot move today's thresholds
    assert np.array_equal(c.thresholds(s2)[:2001], a[:2001])
    assert (a[:25] == 0.5).all()  # the initial threshold until the warm-up mass is in


@pytest.mark.parametrize("kw", [{"light_share": 1.0}, {"light_share": 0.0}, {"time_constant_s": 0.0},
                                {"time_constant_s": float("nan")}, {"frame_rate": -1.0}, {"initial_threshold": 2.0}])
def test_bad_settings_are_refused(kw):
    args = {"light_share": 0.8, "time_constant_s": 10.0, "frame_rate": 50.0, **kw}
    with pytest.raises(ValueError, match=next(iter(kw))):
        BudgetController(**args)


def test_trace_export_holds_a_light_budget_from_the_cli(tmp_path):
    """`trace export --light-budget` routes by the controller: the trace stores each frame's threshold, its
    decision reads it, and the paths agree with the scores frame by frame (the reader checks; here by hand)."""
    pytest.importorskip("torch")
    import numpy as np
    from click.testing import CliRunner

    from dslsim.cli.main import cli
    from dslsim.trace.io import read_trace

    out = tmp_path / "held.parquet"
    r = CliRunner().invoke(cli, ["trace", "export", str(out), "--light-budget", "0.8", "--demo-seconds", "12"])
    assert r.exit_code == 0, r.output
    t = read_trace(out)
    (decision,) = t.meta.decisions
    assert decision.threshold_column == "threshold"
    full = t.frames["score"].to_numpy() >= t.frames["threshold"].to_numpy()
    assert np.array_equal(full, (t.frames["path"] == "full").to_numpy())
    bad = CliRunner().invoke(cli, ["trace", "export", str(tmp_path / "x.parquet"), "--light-budget", "0.8",
                                   "--threshold", "0.5"])
    assert bad.exit_code == 2 and "--light-budget" in bad.output
