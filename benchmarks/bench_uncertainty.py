"""Benchmark: uncertainty bands (200 draws) on a 10-minute trace, beside the simulation they price.

Runs in this process; reports wall and CPU time of the nominal simulation and of the draws separately.

    python benchmarks/bench_uncertainty.py                       # watch, dsl-75hz-10min, 200 draws
    python benchmarks/bench_uncertainty.py --profile stm32u575 --trace early-exit-vad-50hz-10min --draws 500
"""

from __future__ import annotations

import argparse
import platform
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="watch")
    parser.add_argument("--trace", default="dsl-75hz-10min")
    parser.add_argument("--draws", type=int, default=200)
    args = parser.parse_args()

    from dslsim.hw.load import load_profile
    from dslsim.sim.run import simulate
    from dslsim.sim.scenario import load_scenario
    from dslsim.sim.uncertainty import bands, samples
    from dslsim.trace.io import read_trace
    from dslsim.yamldoc import load_yaml

    profile, trace = load_profile(args.profile), read_trace(args.trace)
    scenario = load_scenario(None, profile)
    simulate(profile, trace, scenario, baseline=False)               # warm-up: numba compile, unit cache
    w, c = time.perf_counter(), time.process_time()
    result = simulate(profile, trace, scenario, baseline=False)
    sim = (time.perf_counter() - w, time.process_time() - c)
    w, c = time.perf_counter(), time.process_time()
    draws = samples(result, load_yaml(profile.source_file), profile, trace, scenario, n=args.draws)
    unc = (time.perf_counter() - w, time.process_time() - c)
    lo, _, hi = bands(draws)["battery_life_h"]
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}: "
          f"{args.profile} / {args.trace} ({len(trace):,} frames)")
    print(f"  simulation        {sim[0]:.2f} s wall, {sim[1]:.2f} s CPU")
    print(f"  {args.draws} draws        {unc[0]:.2f} s wall, {unc[1]:.2f} s CPU "
          f"(battery life band {lo:.1f}-{hi:.1f} h)")


if __name__ == "__main__":
    main()
