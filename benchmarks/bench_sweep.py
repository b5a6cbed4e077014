"""Benchmark: a 1,000-point sweep of a 1 h (or, with --duration, a 24 h) trace, serial, on the local process pool
and on a local Dask cluster.

Each run is the `dslsim sweep` command in a fresh process (start-up and result writing included), timed by wall
clock. The sweep varies the watch's application-core sleep timeout (10 values) and clock (2), the switch
threshold (10) and the deadline (5): 20 distinct all-dense baselines (100 for a day-long trace, one per
deadline: its latencies are binned), 1,000 points.

    python benchmarks/bench_sweep.py                      # serial, 2 processes, Dask with 1 and 2 workers
    python benchmarks/bench_sweep.py --runs pool1 pool2   # only the process pool
    python benchmarks/bench_sweep.py --runs pool2 --duration "24 h"   # 1,000 points of a day, 2 processes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
name: bench-1000
base:
  profile: watch
  trace: hour.parquet
baseline: true
axes:
  scenario.sleep.big.core_off: {range: [1 ms, 200 ms], steps: 10, scale: log}
  scenario.sleep.big.rail_off: [1 s]
  scenario.opp.big: [low, mid]
  trace.threshold: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
  scenario.deadline: [frame, 5 ms, 10 ms, 30 ms, 50 ms]
"""

#: Name -> extra arguments of `dslsim sweep`.
RUNS = {
    "pool1": ["--jobs", "1"],
    "pool2": ["--jobs", "2"],
    "dask1": ["--scheduler", "local", "--jobs", "1"],
    "dask2": ["--scheduler", "local", "--jobs", "2"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--duration", default="1 h", help="length of the swept trace (default: 1 h)")
    args = ap.parse_args()
    dslsim = [sys.executable, "-m", "dslsim"]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(dslsim + ["trace", "synth", str(work / "hour.parquet"), "--duration", args.duration,
                                 "--seed", "1"], check=True, capture_output=True)
        (work / "spec.yaml").write_text(SPEC)
        times = {}
        for name in args.runs:
            cmd = dslsim + ["sweep", str(work / "spec.yaml"), "--out", str(work / name), "--fresh",
                            "--no-progress"] + RUNS[name]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name] = time.perf_counter() - t0
            print(json.dumps({"run": name, "trace": args.duration, "points": 1000, "wall_s": round(times[name], 1),
                              "points_per_s": round(1000 / times[name], 1)}), flush=True)
        for serial, parallel in (("pool1", "pool2"), ("dask1", "dask2")):
            if serial in times and parallel in times:
                print(f"# {parallel} vs {serial}: {times[serial] / times[parallel]:.2f}x", flush=True)


if __name__ == "__main__":
    main()
