"""Benchmark: compose 1, 7 and 30 days of the shipped week of a wearable at 75 Hz (dslsim trace compose).

Each case runs in a fresh process so that its peak memory (ru_maxrss) is its own; the composer holds one row group
(at most 1,000,000 frames), so the peak should not grow with the days. Reports wall time (loading the schedule and
its traces included), frames per second, peak memory and the file's size; the file is written to a temporary
folder and removed.

    python benchmarks/bench_compose.py                       # 1, 7 and 30 days
    python benchmarks/bench_compose.py --days 1 7 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "usage" / "week-of-a-wearable.yaml"


def one_case(days: int, schedule: Path, folder: Path) -> dict:
    from dslsim.trace.compose import compose, load_schedule

    out = folder / f"{days}d.parquet"
    t0 = time.perf_counter()
    plan = load_schedule(schedule)
    t1 = time.perf_counter()
    result = compose(plan, out, days=days)
    t2 = time.perf_counter()
    size = out.stat().st_size
    out.unlink()
    return {"days": days, "frames": result.frames, "row_groups": result.row_groups,
            "load_s": round(t1 - t0, 2), "compose_s": round(t2 - t1, 2), "wall_s": round(t2 - t0, 2),
            "frames_per_s": round(result.frames / (t2 - t1)),
            "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "file_MB": round(size / 2**20, 1), "bytes_per_frame": round(size / result.frames, 2),
            "light_share": round(result.path_frames.get("light", 0) / result.frames, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, nargs="+", default=[1, 7, 30])
    ap.add_argument("--schedule", type=Path, default=EXAMPLE)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each case")
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(one_case(args.days[0], args.schedule, args.folder)))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as folder:
        for days in args.days:
            for _ in range(args.repeat):
                cmd = [sys.executable, __file__, "--case", "--days", str(days), "--schedule", str(args.schedule),
                       "--folder", folder]
                print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
