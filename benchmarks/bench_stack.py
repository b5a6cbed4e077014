"""Benchmark: a day of a three-model stack (VAD -> wake word -> DSL codec at their own rates) with its ungated
baseline, against a day of the DSL trace with its all-full baseline (``bench_simulate.py --hours 24 --baseline``)
measured in the same session.

Each case runs in a fresh process so that its peak memory (ru_maxrss) is its own. The stack case times
``simulate_stack`` (stack loading included) on the shipped stack file with its duration set to ``--hours``; the
stack's calls are generated as the run goes, so it keeps no per-call table (``frames=False``), as ``dslsim simulate
--stack`` runs it.

    python benchmarks/bench_stack.py                      # 24 h on the phone, and the DSL day for the ratio
    python benchmarks/bench_stack.py --hours 1 --profile earbud --no-reference
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "examples" / "stacks" / "vad-ww-codec.yaml"


def one_case(hours: float, profile: str, stack_file: str, engine: str) -> dict:
    from dslsim.sim.stack import parse_stack
    from dslsim.sim.stack_run import simulate_stack
    from dslsim.yamldoc import load_yaml

    t0 = time.perf_counter()
    doc = load_yaml(stack_file)
    doc["duration"] = f"{hours:g} h"
    stack = parse_stack(doc, stack_file, Path(stack_file).parent, Path(stack_file).stem)
    result = simulate_stack(profile, stack, engine=engine)
    t1 = time.perf_counter()
    s, b = result.summary, result.baseline
    models = result.models[result.models["kind"] == "model"]
    return {"case": "stack", "stack": Path(stack_file).name, "hours": hours, "profile": profile, "engine": engine,
            "calls": int(s.frames), "ungated_calls": int(b.frames), "simulate_s": round(t1 - t0, 2),
            "calls_per_s": round((s.frames + b.frames) / (t1 - t0)),
            "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "keeps_up": bool(s.keeps_up), "battery_life_h": round(s.battery_life_h, 2),
            "battery_gain_pct": round(s.battery_gain_pct, 1),
            "calls_by_model": dict(zip(models["part"], models["calls"].astype(int).tolist()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--profile", default="phone")
    ap.add_argument("--stack", default=str(STACK))
    ap.add_argument("--engine", default="auto", choices=["auto", "batch", "reference"])
    ap.add_argument("--no-reference", action="store_true", help="skip the DSL day measured for the ratio")
    ap.add_argument("--repeat", type=int, default=1, help="run each case this many times (fresh processes)")
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(one_case(args.hours, args.profile, args.stack, args.engine)))
        return
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    stack_times, dsl_times, rows = [], [], []
    for _ in range(args.repeat):
        cmd = [sys.executable, __file__, "--case", "--hours", str(args.hours), "--profile", args.profile,
               "--stack", args.stack, "--engine", args.engine]
        row = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        print(json.dumps(row), flush=True)
        stack_times.append(row["simulate_s"])
        rows.append(row)
        if not args.no_reference:
            cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_simulate.py"), "--case", "--hours",
                   str(args.hours), "--profile", args.profile, "--engine", "auto", "--variant", "default",
                   "--baseline"]
            ref = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            ref["case"] = "dsl trace + all-full baseline (bench_simulate.py)"
            print(json.dumps(ref), flush=True)
            dsl_times.append(ref["simulate_s"])
            row["reference"] = ref
    if dsl_times:
        ratio = min(stack_times) / min(dsl_times)
        per_call = [r["peak_rss_MB"] / (r["calls"] + r["ungated_calls"]) * 1e6 for r in rows]
        per_frame = [r["reference"]["peak_rss_MB"] / (2 * r["reference"]["frames"]) * 1e6 for r in rows]
        print(f"# stack {min(stack_times):.2f} s / DSL day {min(dsl_times):.2f} s = {ratio:.2f}x (best of "
              f"{args.repeat}); peak memory per call replayed {min(per_call):.0f} B against {min(per_frame):.0f} B "
              f"per frame", flush=True)


if __name__ == "__main__":
    main()
