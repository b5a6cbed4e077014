"""Benchmark: simulate 1 h and 24 h of 75 Hz frames on the phone profile.

Each case runs in a fresh process so that its peak memory (ru_maxrss) is its own. Reports wall time of
the simulation (trace generation excluded and reported separately), frames per second and peak memory.

    python benchmarks/bench_simulate.py                 # 1 h and 24 h, default scenario, no baseline
    python benchmarks/bench_simulate.py --hours 1 --baseline
    python benchmarks/bench_simulate.py --hours 1 24 --baseline --engine batch reference   # and the ratio
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from dataclasses import replace


#: Variants of the profile's default scenario: a hand-over cycle (the encoder moves to the big core, so frames go
#: DSP -> big -> DSP -> big) and the drop policy on every resource.
VARIANTS = {
    "default": {},
    "cycle": {"placement": {"encoder": "big"}},
    "drop": {"when_busy": "drop"},
    "early-exit": {},    # the default scenario on a three-exit early-exit trace (K paths) instead of the DSL
}


def one_case(hours: float, profile: str, baseline: bool, engine: str, variant: str = "default") -> dict:
    from dslsim.hw.load import load_profile
    from dslsim.sim.run import simulate
    from dslsim.sim.scenario import parse_scenario
    from dslsim.trace.kpath import early_exit_trace
    from dslsim.trace.synth import synth_trace

    prof = load_profile(profile)
    data = dict(prof.default_scenario)
    for key, value in VARIANTS[variant].items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    # The default scenario's placements may name stages a K-path trace lacks, as on the command line.
    scenario = replace(parse_scenario(data, prof), optional_stages=frozenset(data.get("placement", {})))

    t0 = time.perf_counter()
    if variant == "early-exit":
        trace = early_exit_trace(duration=hours * 3600, frame_rate=75.0, shares=(0.6, 0.3, 0.1), seed=1)
    else:
        trace = synth_trace(duration=hours * 3600, frame_rate=75.0, light_share=0.8, mean_burst=0.5, seed=1,
                            width=16, embed_dim=64)
    t1 = time.perf_counter()
    result = simulate(prof, trace, scenario, baseline=baseline, engine=engine)
    t2 = time.perf_counter()
    frames = len(trace) * (2 if baseline else 1)
    return {"engine": engine, "variant": variant, "hours": hours, "profile": profile, "baseline": baseline,
            "frames": len(trace),
            "synth_s": round(t1 - t0, 2), "simulate_s": round(t2 - t1, 2),
            "frames_per_s": round(frames / (t2 - t1)),
            "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "battery_life_h": round(result.summary["battery_life_h"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 24.0])
    ap.add_argument("--profile", default="phone")
    ap.add_argument("--baseline", action="store_true", help="also run the all-full baseline (2x the frames)")
    ap.add_argument("--engine", nargs="+", default=["auto"], choices=["auto", "batch", "reference"],
                    help="engines to time on each case (both: the ratio is printed too)")
    ap.add_argument("--variant", nargs="+", default=["default"], choices=list(VARIANTS),
                    help="scenario variants: the profile's default, a hand-over cycle, the drop policy; or the "
                         "default on a three-exit early-exit trace")
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(one_case(args.hours[0], args.profile, args.baseline, args.engine[0], args.variant[0])))
        return
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    for variant, hours in ((v, h) for v in args.variant for h in args.hours):
        times = {}
        for engine in args.engine:
            cmd = [sys.executable, __file__, "--case", "--hours", str(hours), "--profile", args.profile,
                   "--engine", engine, "--variant", variant]
            if args.baseline:
                cmd.append("--baseline")
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            print(out.strip(), flush=True)
            times[engine] = json.loads(out)["simulate_s"]
        if len(times) == 2:
            a, b = args.engine
            print(f"# {variant}, {hours:g} h: {b} / {a} = {times[b] / max(times[a], 1e-9):.1f}x", flush=True)


if __name__ == "__main__":
    main()
