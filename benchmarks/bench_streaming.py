"""Benchmark: month-long runs in bounded memory, and what a user waits for on a day-long trace.

Cases (each in a fresh process, so its peak memory is its own; VmHWM, the process's own high-water mark):

* ``days``: N days of 75 Hz frames on the phone profile with its all-dense baseline, the trace streamed from a
  file (``simulate(..., frames=False)``): wall time of the simulation and peak memory;
* ``cli``: ``dslsim simulate -p phone -t <24 h trace>`` from start to exit (interpreter start, imports, trace
  read and checks, both runs, printing), the median of three;
* the reference in the same run: the same day held in memory (``frames=True``, as before streaming).

The N-day trace is one synthetic day repeated (frame index and arrival times shifted), written row group by row
group, so making it needs no more memory than a day.

    python benchmarks/bench_streaming.py                       # 1, 7 and 30 days, the CLI on 24 h
    python benchmarks/bench_streaming.py --days 1 7 --no-cli
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY_S = 86400.0


def write_days(day: Path, days: int, out: Path) -> None:
    """``days`` copies of the one-day trace ``day``, one after another, to ``out``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(day)
    n = source.metadata.num_rows
    with pq.ParquetWriter(out, source.schema_arrow, compression="zstd") as writer:
        for d in range(days):
            for g in range(source.metadata.num_row_groups):
                t = source.read_row_group(g)
                t = t.set_column(0, "frame", pc.add(t.column("frame"), pa.scalar(d * n, pa.int64())))
                i = t.schema.get_field_index("t_arrival")
                t = t.set_column(i, "t_arrival", pc.add(t.column(i), pa.scalar(d * DAY_S)))
                writer.write_table(t)


CHILD = """
import json, sys, time
from dslsim.sim.run import simulate
t0 = time.perf_counter()
r = simulate("phone", sys.argv[1], frames=sys.argv[2] == "memory", baseline=True)
wall = time.perf_counter() - t0
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"simulate_s": round(wall, 2), "peak_MB": round(hwm / 1024), "frames": r.summary.frames,
                  "battery_life_h": round(r.summary.battery_life_h, 3),
                  "latency_p99_ms": round(1e3 * r.summary.latency_p99_s, 4),
                  "percentiles": r.meta["latency_percentiles"]}))
"""


def run_case(path: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7, 30])
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI timing")
    args = parser.parse_args()
    from dslsim.trace.io import write_trace
    from dslsim.trace.synth import synth_trace

    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "1d.parquet"
        write_trace(synth_trace(duration=DAY_S, frame_rate=75.0, light_share=0.8, mean_burst=0.5, seed=1,
                                width=16, embed_dim=64), day)
        print(json.dumps({"case": "reference: 1 day held in memory", **run_case(day, "memory")}))
        for days in args.days:
            path = day if days == 1 else Path(tmp) / f"{days}d.parquet"
            if days != 1:
                write_days(day, days, path)
            print(json.dumps({"case": f"{days} days streamed", "days": days, **run_case(path, "stream")}))
            if days != 1:
                path.unlink()
        if not args.no_cli:
            walls = []
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([Path(sys.executable).with_name("dslsim"), "simulate", "-p", "phone", "-t", str(day),
                                "--no-progress"], check=True, capture_output=True)
                walls.append(time.perf_counter() - t0)
            print(json.dumps({"case": "dslsim simulate -p phone -t <24 h trace>, start to exit",
                              "median_s": round(statistics.median(walls), 2),
                              "runs_s": [round(w, 2) for w in walls]}))


if __name__ == "__main__":
    main()
