"""Streaming replay: a trace file read block by block gives the figures of the run held in memory (exactly where
exact, within the stated bound for binned percentiles), the per-frame table streamed to Parquet equals the one
kept in memory, and memory does not grow with the trace's length."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, same_figures

from dslsim.errors import InputError
from dslsim.sim import accumulate
from dslsim.sim.accumulate import PERCENTILE_RELATIVE_ERROR, FrameTotals, LatencyQuantiles
from dslsim.sim.engine import batch
from dslsim.sim.run import simulate
from dslsim.trace import io
from dslsim.trace.io import TraceFile, read_trace, write_trace
from dslsim.trace.synth import synth_trace

QS = (0, 1, 50, 95, 99, 99.9, 100)


def lognormal(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(mean=np.log(4e-3), sigma=0.8, size=n)


def test_percentiles_are_numpys_while_every_latency_is_kept():
    values = lognormal(10_000, 0)
    q = LatencyQuantiles()
    for part in np.array_split(values, 7):
        q.add(part)
    assert q.exact
    assert q.percentiles(QS) == [float(v) for v in np.percentile(values, QS)]


@pytest.mark.parametrize("seed", range(4))
def test_binned_percentiles_stay_within_the_stated_bound(monkeypatch, seed):
    monkeypatch.setattr(accumulate, "EXACT_LATENCIES", 1000)
    values = lognormal(200_000, seed)
    values[:50] = 0.0                       # frames of no latency have no log-scale bin
    values[50:60] = 1e-7                    # and a few far below the rest widen the histogram
    q = LatencyQuantiles()
    for part in np.array_split(values, 13):
        q.add(part)
    assert not q.exact
    exact = np.percentile(values, QS)
    got = np.array(q.percentiles(QS))
    # The bound: half a bin of 2**-14 of an octave, relative to the exact value.
    assert np.all(np.abs(got - exact) <= PERCENTILE_RELATIVE_ERROR * exact + 1e-300)
    assert PERCENTILE_RELATIVE_ERROR == pytest.approx(2 ** -15)
    # It is a bound, not slack: the binned values are not simply the exact ones.
    assert np.any(got != exact)


def test_binned_percentiles_do_not_depend_on_how_the_latencies_come(monkeypatch):
    """Latencies wait to be binned in batches: any cut of the same latencies into blocks, and any batch size,
    gives the same counts, so the same percentiles to the bit."""
    monkeypatch.setattr(accumulate, "EXACT_LATENCIES", 1000)
    values = lognormal(300_000, 7)
    results = []
    for parts, batch in ((3, 1 << 18), (97, 1 << 18), (97, 1000), (1, 1)):
        monkeypatch.setattr(accumulate, "BIN_BATCH", batch)
        q = LatencyQuantiles()
        for part in np.array_split(values, parts):
            q.add(part)
        results.append(q.percentiles(QS))
    assert all(r == results[0] for r in results)


def test_totals_do_not_depend_on_how_frames_arrive_in_blocks():
    rng = np.random.default_rng(3)
    n = 300_000
    ready = np.cumsum(rng.uniform(0.01, 0.02, n))
    end = ready + rng.uniform(1e-3, 9e-3, n)
    codes = rng.integers(0, 3, n)
    energy = rng.uniform(1e-6, 5e-4, n)
    dropped = rng.random(n) < 0.001

    def totals(cuts) -> FrameTotals:
        t = FrameTotals(3, deadline=8e-3)
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            t.add(ready[lo:hi], codes[lo:hi], end[lo:hi], energy[lo:hi], dropped[lo:hi])
        return t

    whole = totals([0, n])
    pieces = totals([0, 5, 70_000, 70_001, 200_000, n])
    assert pieces.path_energy.tobytes() == whole.path_energy.tobytes()
    assert (pieces.frames, pieces.dropped, pieces.late, pieces.latency_max) == \
        (whole.frames, whole.dropped, whole.late, whole.latency_max)
    kept = ~dropped
    assert whole.late == int(np.count_nonzero((end - ready)[kept] > 8e-3))
    assert whole.path_frames.tolist() == np.bincount(codes, minlength=3).tolist()
    assert whole.path_energy == pytest.approx([energy[codes == c].sum() for c in range(3)], rel=1e-12)


@pytest.fixture(scope="module")
def hour_file(tmp_path_factory):
    """An hour at 75 Hz (270,000 frames) written with small row groups, so it is read in many blocks."""
    import pyarrow.parquet as pq

    trace = synth_trace(duration=3600.0, frame_rate=75.0, light_share=0.8, mean_burst=0.5, seed=5)
    path = tmp_path_factory.mktemp("stream") / "hour.parquet"
    write_trace(trace, path)
    table = pq.read_table(path)
    pq.write_table(table, path, row_group_size=40_000)   # schema metadata (the trace's JSON) is kept
    assert pq.ParquetFile(path).metadata.num_row_groups == 7
    assert TraceFile(path).meta.frame_rate == 75.0         # the trace's metadata survived the rewrite
    return path


def test_streamed_run_gives_the_in_memory_figures(hour_file, monkeypatch):
    monkeypatch.setattr(io, "BLOCK_FRAMES", 25_000)
    monkeypatch.setattr(batch, "WINDOW_FRAMES", 9_000)
    streamed = simulate("phone", hour_file, frames=False, engine="batch")
    in_memory = simulate("phone", read_trace(hour_file), engine="batch")
    assert len(streamed.frames) == 0 and len(in_memory.frames) == 270_000
    assert streamed.meta["latency_percentiles"] == "exact"
    assert same_figures(streamed.summary, in_memory.summary)
    pd.testing.assert_frame_equal(streamed.resources, in_memory.resources, check_exact=True)


def test_streamed_run_matches_the_reference_engine(hour_file, monkeypatch):
    """The SimPy engine keeps its role as the check: on a run both can do, the streaming summary is its summary."""
    monkeypatch.setattr(io, "BLOCK_FRAMES", 60_000)
    trace = read_trace(hour_file)
    short = type(trace)(trace.meta, trace.frames.iloc[:20_000].copy())
    path = hour_file.with_name("short.parquet")
    write_trace(short, path)
    streamed = simulate("earbud", path, frames=False, engine="batch")
    reference = simulate("earbud", short, engine="reference")
    assert same_figures(streamed.summary, reference.summary)


def test_binned_percentiles_of_a_streamed_run_stay_within_the_bound(hour_file, monkeypatch):
    monkeypatch.setattr(accumulate, "EXACT_LATENCIES", 10_000)
    streamed = simulate("phone", hour_file, frames=False, engine="batch")
    in_memory = simulate("phone", read_trace(hour_file), engine="batch")
    assert streamed.meta["latency_percentiles"].startswith("histogram")
    a, b = streamed.summary.to_dict(), in_memory.summary.to_dict()
    percentiles = [k for k in a if k.startswith("latency_p")]
    for k in a:
        if k in percentiles:
            assert abs(a[k] - b[k]) <= PERCENTILE_RELATIVE_ERROR * b[k], k
        else:
            assert a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]), k


def test_per_frame_table_streamed_to_parquet_equals_the_kept_one(hour_file, tmp_path, monkeypatch):
    monkeypatch.setattr(io, "BLOCK_FRAMES", 50_000)
    out = tmp_path / "frames.parquet"
    streamed = simulate("watch", hour_file, frames=False, frames_out=out, baseline=False, engine="batch")
    kept = simulate("watch", hour_file, baseline=False, engine="batch").frames
    written = pd.read_parquet(out)
    assert len(streamed.frames) == 0 and len(written) == len(kept) == 270_000
    for column in kept.columns:
        a, b = written[column], kept[column]
        if isinstance(b.dtype, pd.CategoricalDtype):
            assert a.astype(str).tolist() == b.astype(str).tolist(), column
        else:
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy(), err_msg=column)
    assert [p.name for p in tmp_path.iterdir()] == ["frames.parquet"]   # no temporary file left


def test_a_failed_run_leaves_no_per_frame_file(hour_file, tmp_path, monkeypatch):
    out = tmp_path / "frames.parquet"

    def boom(*args, **kwargs):
        raise RuntimeError("stop")

    monkeypatch.setattr(FrameTotals, "__call__", boom)
    with pytest.raises(RuntimeError):
        simulate("watch", hour_file, frames=False, frames_out=out, baseline=False, engine="batch")
    assert list(tmp_path.iterdir()) == []


def test_a_bad_row_in_a_later_block_is_named_by_its_place_in_the_file(hour_file, tmp_path):
    import pyarrow.parquet as pq

    table = pq.read_table(hour_file)
    t = table.column("t_arrival").to_numpy().copy()
    t[123_456] = -1.0                                    # in the fourth block of 40,000
    bad = tmp_path / "bad.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("t_arrival"), "t_arrival",
                                    __import__("pyarrow").array(t)), bad, row_group_size=40_000)
    with pytest.raises(InputError, match=r"row 123456") as err:
        for _ in TraceFile(bad).blocks(40_000):
            pass
    assert str(bad) in str(err.value)


CHILD = """
import json, sys
from dslsim.sim import accumulate
from dslsim.sim.run import simulate
from dslsim.trace import io
io.BLOCK_FRAMES = accumulate.EXACT_LATENCIES = 100_000   # both bounded; small, so that an hour exceeds them
r = simulate("phone", sys.argv[1], frames=False, engine="batch")
# VmHWM is this program's own peak: ru_maxrss would keep the parent's peak from before the exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"rss_MB": hwm / 1024, "frames": r.summary.frames}))
"""


def test_memory_does_not_grow_with_the_trace(tmp_path):
    """Six times the frames, about the same peak: a streamed run holds a block, the frames in flight and the kept
    latencies (all bounded; full after the first hour here), not the trace. (Held in memory, the extra 2.7 M frames
    would cost about 115 bytes each, over 300 MB.)"""
    peaks = {}
    for hours in (2, 12):
        path = tmp_path / f"{hours}h.parquet"
        # A model the phone's DSP keeps up with (a queue that grows without bound holds its frames, by nature).
        write_trace(synth_trace(duration=hours * 3600.0, frame_rate=75.0, light_share=0.8, mean_burst=0.5,
                                seed=1, width=16, embed_dim=64), path)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True,
                             cwd=ROOT)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["frames"] == hours * 270_000
        peaks[hours] = result["rss_MB"]
    assert peaks[12] - peaks[2] < 40, peaks


def test_a_queue_that_grows_without_bound_stops_a_streamed_run_with_the_reason(tmp_path, monkeypatch):
    """The default synthetic model needs 18 ms of the phone's DSP per 13.3 ms frame: its queue only grows, and
    a streamed run would hold every waiting frame. Past the limit it stops and says why."""
    monkeypatch.setattr(batch, "MAX_IN_FLIGHT", 50_000)
    path = tmp_path / "overload.parquet"
    write_trace(synth_trace(duration=2 * 3600.0, frame_rate=75.0, light_share=0.8, mean_burst=0.5, seed=1), path)
    with pytest.raises(Exception, match="cannot keep up: .* frames .* still waiting, 'dsp' is busy until"):
        simulate("phone", path, frames=False, engine="batch")


def test_ctrl_c_during_a_streamed_run_leaves_no_per_frame_file(tmp_path):
    """Interrupted while it streams the per-frame table: exit 130, one line, and no file (not even a temporary)."""
    import os
    import signal
    import time

    day = tmp_path / "day.parquet"
    write_trace(synth_trace(duration=12 * 3600.0, frame_rate=75.0, light_share=0.8, mean_burst=0.5, seed=1,
                            width=16, embed_dim=64), day)
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "dslsim.cli.main", "simulate", "-p", "phone", "-t", str(day), "--no-progress",
           "--frames-out", str(out / "frames.parquet")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline and not any(out.iterdir()):      # the writer has started
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err[-2000:])
    assert list(out.iterdir()) == []
