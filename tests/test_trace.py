"""Trace format (v2, and v1 read), the synthetic generator and the analytic op graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import SHIPPED_TRACE, make_trace
from dslsim.errors import InputError
from dslsim.trace.graph import dsl_soundstream_graph
from dslsim.trace.io import read_trace, write_trace
from dslsim.trace.synth import markov_routing, synth_trace


def test_round_trip_keeps_frames_and_metadata(tmp_path):
    t = synth_trace(30, frame_rate=50, seed=2, width=8, embed_dim=32)
    path = write_trace(t, tmp_path / "t.parquet")
    back = read_trace(path)
    assert back.meta == t.meta
    assert list(back.meta.paths) == ["light", "full"]          # order is part of the contract
    pd.testing.assert_frame_equal(back.frames, t.frames, check_categorical=True)


@pytest.mark.parametrize("width, embed, mmac, enc_params, dec_params", [
    # Measured with FlopCounterMode on a paper-shaped model (reference notes, soundstream-and-data §1.3).
    (32, 128, 121.9, 4.79e6, 5.05e6),
    (32, 256, 122.6, 4.99e6, 5.51e6),
    (16, 64, 30.5, 1.20e6, 1.26e6),
    (8, 32, 7.65, 0.30e6, 0.32e6),
])
def test_graph_matches_measured_soundstream_figures(width, embed, mmac, enc_params, dec_params):
    stages, _ = dsl_soundstream_graph(width=width, embed_dim=embed)
    conv = lambda st: sum(op.macs for op in st.ops if op.kind.startswith("conv"))  # noqa: E731
    total = conv(stages["encoder"]) + conv(stages["full_decoder"])
    assert total / 1e6 == pytest.approx(mmac, abs=0.05 if mmac > 10 else 0.005)
    # int8 graph: one byte per parameter; the notes print millions to two decimals (half a digit = 5 k).
    assert stages["encoder"].weight_bytes == pytest.approx(enc_params, abs=5e3)
    assert stages["full_decoder"].weight_bytes == pytest.approx(dec_params, abs=5e3)


def test_rvq_search_costs_nq_times_k_times_d():
    stages, _ = dsl_soundstream_graph(width=32, embed_dim=128, n_q=8, codebook=1024)
    search = next(op for op in stages["rvq"].ops if op.kind == "vq_search")
    assert search.macs == 8 * 1024 * 128        # 1.05 M per frame, as in the reference notes


@pytest.mark.parametrize("share, burst_s", [(0.8, 0.5), (0.6, 1.0), (0.95, 0.2)])
def test_markov_routing_hits_target_share_and_burst_length(share, burst_s):
    rate = 75.0
    full = markov_routing(2_000_000, share, burst_s * rate, seed=11)
    assert 1 - full.mean() == pytest.approx(share, abs=0.01)
    edges = np.flatnonzero(np.diff(full.astype(np.int8)))
    runs = np.diff(edges)[(full[edges[:-1] + 1])]       # lengths of full-path runs
    assert runs.mean() == pytest.approx(burst_s * rate, rel=0.05)


def test_shipped_trace_is_valid_and_small():
    t = read_trace(SHIPPED_TRACE)
    assert len(t) == 45_000 and t.meta.frame_rate == 75
    total = sum(p.stat().st_size for p in SHIPPED_TRACE.parent.glob("*.parquet"))
    assert total <= 1_000_000


def _write_raw(path, frames: pd.DataFrame, meta: dict | None):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frames, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata({b"dslsim.trace": json.dumps(meta).encode()})
    pq.write_table(table, path)


def _good():
    t = make_trace(["light", "full", "light"])
    return t.frames.copy(), t.meta.to_json()


@pytest.mark.parametrize("mutate, key", [
    (lambda f, m: m.update(version=3), "metadata.version"),
    (lambda f, m: m.update(format="other"), "metadata.format"),
    (lambda f, m: m["stages"]["back"].update(ops=[]), "metadata.stages.back.ops"),
    (lambda f, m: m["paths"].update(full=["front", "nope"]), "metadata.paths.full[1]"),
    (lambda f, m: m.update(dense_path="huge"), "metadata.dense_path"),
    (lambda f, m: m["stages"]["front"]["ops"][0].update(macs=-1), "metadata.stages.front.ops[0].macs"),
    (lambda f, m: m.update(frame_rate=0), "metadata.frame_rate"),
    (lambda f, m: f.__setitem__("t_arrival", [0.0, 0.02, 0.01]), "column 't_arrival' row 2"),
    (lambda f, m: f.__setitem__("path", ["light", "medium", "full"]), "column 'path' row 1"),
    (lambda f, m: f.__setitem__("frame", [0, 0, 1]), "column 'frame' row 1"),
])
def test_bad_traces_name_the_key(tmp_path, mutate, key):
    frames, meta = _good()
    frames["path"] = frames["path"].astype(str)
    mutate(frames, meta)
    path = tmp_path / "bad.parquet"
    _write_raw(path, frames, meta)
    with pytest.raises(InputError) as err:
        read_trace(path)
    assert key in str(err.value) and "bad.parquet" in str(err.value)


def test_parquet_without_metadata_and_non_parquet_are_clear(tmp_path):
    frames, _ = _good()
    _write_raw(tmp_path / "plain.parquet", frames, None)
    with pytest.raises(InputError, match="no dslsim trace metadata"):
        read_trace(tmp_path / "plain.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="Parquet cannot read"):
        read_trace(tmp_path / "junk.parquet")
