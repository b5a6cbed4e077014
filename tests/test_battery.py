"""The kinetic battery model's closed forms against a numerical integration of its differential equations, and
its two effects: rate capacity (less charge at high current) and recovery (rest gives charge back)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dslsim.hw.battery import KiBaM

CELL = KiBaM(capacity_ah=0.3, c=0.5, k=2e-4)


def integrate(cell: KiBaM, segments, y):
    """Reference: scipy's RK45 on dy1/dt = -I + k(h2 - h1), dy2/dt = -k(h2 - h1), segment by segment."""
    out = []
    for duration, current in segments:
        def f(t, v, current=current):
            h1, h2 = v[0] / cell.c, v[1] / (1 - cell.c)
            return [-current + cell.k * (h2 - h1), -cell.k * (h2 - h1)]
        sol = solve_ivp(f, (0, duration), y, rtol=1e-11, atol=1e-9)
        y = list(sol.y[:, -1])
        out.append(y)
    return out


@pytest.mark.parametrize("current", [0.001, 0.03, 0.3])
@pytest.mark.parametrize("t", [1.0, 600.0, 7200.0])
def test_step_matches_numerical_integration(current, t):
    y = [0.6 * 0.3 * 3600 * 0.5, 0.3 * 3600 * 0.5]            # a part-drained available well
    exact = CELL.step(*y, current, t)
    ref = integrate(CELL, [(t, current)], y)[-1]
    assert exact == pytest.approx(ref, rel=1e-8, abs=1e-6)


def test_piecewise_lifetime_matches_numerical_integration():
    """A pulsed load (1 min at 150 mA, 4 min at 5 mA, repeated): the time to empty from the closed forms equals
    the integrated equations' own zero crossing."""
    segments = [(60.0, 0.15), (240.0, 0.005)]
    life = CELL.lifetime(segments)

    def f(t, v):
        current = 0.15 if (t % 300.0) < 60.0 else 0.005
        h1, h2 = v[0] / CELL.c, v[1] / (1 - CELL.c)
        return [-current + CELL.k * (h2 - h1), -CELL.k * (h2 - h1)]

    empty = lambda t, v: v[0]  # noqa: E731
    empty.terminal, empty.direction = True, -1
    sol = solve_ivp(f, (0, 10 * life), list(CELL.full()), events=empty, rtol=1e-10, atol=1e-8, max_step=5.0)
    assert life == pytest.approx(sol.t_events[0][0], rel=1e-5)


def test_rate_capacity_and_recovery():
    q = CELL.capacity_ah * 3600
    # Low current: nearly all the charge comes out; high current: the bound well is left behind.
    low, high = 0.001, 0.6
    assert CELL.lifetime_constant(low) * low / q > 0.99
    assert CELL.lifetime_constant(high) * high / q < 0.9
    # The same charge in pulses with rests lasts longer than drawn continuously at the pulses' current.
    pulsed = CELL.lifetime([(10.0, high), (10.0, 0.0)])
    assert pulsed * high / 2 > CELL.lifetime_constant(high) * high
    # No draw: never empty.
    assert math.isinf(CELL.lifetime([(1.0, 0.0)]))


def test_ideal_limit():
    """With a fast valve (large k) the cell behaves as an ideal reservoir: life = capacity / current."""
    fast = KiBaM(capacity_ah=0.3, c=0.5, k=10.0)
    assert fast.lifetime_constant(0.05) == pytest.approx(0.3 * 3600 / 0.05, rel=1e-3)
    assert np.isclose(sum(fast.full()), 0.3 * 3600)


def test_summary_battery_life_by_the_kinetic_model_with_the_ideal_beside_it():
    """A watch with a kinetic battery (c = 0.5, k = 1e-4 /s) and 3 %/month self-discharge: the summary's life is
    the time to empty that integrating the model at the run's mean current (plus self-discharge) gives; the
    ideal figure stays usable energy / battery draw."""
    import copy

    import yaml

    from dslsim.hw.load import parse_profile
    from dslsim.shipped import PROFILES
    from dslsim.sim.run import simulate

    doc = yaml.safe_load((PROFILES / "watch.yaml").read_text())
    plain = parse_profile(copy.deepcopy(doc), "watch.yaml")
    doc["battery"]["kinetic"] = {"c": 0.5, "k": "1e-4 Hz", "assumed": "a test cell"}
    doc["battery"]["self_discharge_per_month"] = 0.03
    kinetic = parse_profile(doc, "watch-kinetic.yaml")
    a = simulate(plain, "dsl-75hz-10min", baseline=False).summary
    s = simulate(kinetic, "dsl-75hz-10min", baseline=False).summary
    assert s.battery_model == "kinetic" and a.battery_model == "ideal"
    assert s.battery_life_ideal_h == a.battery_life_h == a.battery_life_ideal_h
    b = kinetic.battery
    current = s.battery_power_W / b.voltage + b.capacity_ah * 0.03 / (30 * 86400) * 3600
    cell = KiBaM(b.capacity_ah * b.usable_fraction, 0.5, 1e-4)

    def f(t, v):
        h1, h2 = v[0] / cell.c, v[1] / (1 - cell.c)
        return [-current + cell.k * (h2 - h1), -cell.k * (h2 - h1)]

    empty = lambda t, v: v[0]  # noqa: E731
    empty.terminal, empty.direction = True, -1
    sol = solve_ivp(f, (0, 1e8), list(cell.full()), events=empty, rtol=1e-10, atol=1e-8)
    assert s.battery_life_h == pytest.approx(sol.t_events[0][0] / 3600, rel=1e-6)
    assert s.battery_life_h < s.battery_life_ideal_h


def test_kinetic_battery_keys_are_checked():
    import copy

    import yaml

    from dslsim.errors import InputError
    from dslsim.hw.load import parse_profile
    from dslsim.shipped import PROFILES

    doc = yaml.safe_load((PROFILES / "watch.yaml").read_text())
    for change, where in (({"kinetic": {"c": 1.2, "k": "1e-4 Hz"}}, "battery.kinetic.c"),
                          ({"kinetic": {"c": 0.5}}, "battery.kinetic"),
                          ({"self_discharge_per_month": 2}, "battery.self_discharge_per_month")):
        bad = copy.deepcopy(doc)
        bad["battery"].update(change)
        with pytest.raises(InputError) as err:
            parse_profile(bad, "w.yaml")
        assert where in str(err.value)
