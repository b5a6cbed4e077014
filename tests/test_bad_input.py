"""Bad profiles, scenarios and traces give one paragraph naming file and key, exit code 2, no traceback."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from conftest import SHIPPED_TRACE, SIMPLE
from dslsim.cli.main import cli


def invoke(*args):
    result = CliRunner().invoke(cli, list(map(str, args)))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write_profile(tmp_path, mutate=None, name="dev.yaml"):
    data = copy.deepcopy(SIMPLE)
    if mutate:
        mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _set(path: str, value):
    def mutate(data):
        node = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


_DELETE = object()

PROFILE_CASES = [
    ("cores.a.opps.1.freq", "fast", "cores.a.opps[1].freq", "frequency"),
    ("cores.a.opps.1.freq", 200, "cores.a.opps[1].freq", "needs a unit"),
    ("cores.a.opps.1.voltage", "3 mW", "cores.a.opps[1].voltage", "wrong kind of unit"),
    ("cores.a.opps.0.leakage", "-1 mW", "cores.a.opps[0].leakage", "at least 0"),
    ("battery.capacity", _DELETE, "battery.capacity", "present"),
    ("battery.usable_fraction", 1.5, "battery.usable_fraction", "(0, 1]"),
    ("cores.a.kind", "gpu", "cores.a.kind", "mcu"),
    ("cores.a.leakge", "1 mW", "cores.a.leakge", "unknown key"),
    ("cores.a.ops", {}, "cores.a.ops", "default"),
    ("cores.a.sleep.s1.exit_latency", "soon", "cores.a.sleep.s1.exit_latency", "time"),
    ("links.0.between", ["a", "z"], "links[0].between", "two different cores"),
    ("links.0.bandwidth", "0 B/s", "links[0].bandwidth", "greater than zero"),
    ("cores.a.opps", [], "cores.a.opps", "non-empty list"),
]


@pytest.mark.parametrize("key, value, path, expected", PROFILE_CASES)
def test_bad_profile_values(tmp_path, key, value, path, expected):
    f = write_profile(tmp_path, _set(key, value))
    r = invoke("profiles", "validate", "--allow-unsourced", f)
    assert r.exit_code == 2
    assert str(f) in r.output and path in r.output and expected in r.output


SCENARIO_CASES = [
    ({"placement": {"default": "z"}}, "placement.default", "a core of profile"),
    ({"placement": {"default": "a"}, "opp": {"a": "turbo"}}, "opp.a", "an operating point of core 'a'"),
    ({"placement": {"default": "a"}, "sleep": {"a": {"deep": "1 ms"}}}, "sleep.a.deep", "a sleep state"),
    ({"placement": {"default": "a"}, "sleep": {"a": {"s1": "soon"}}}, "sleep.a.s1", "time"),
    ({"placement": {"default": "a"}, "deadline": "-3 ms"}, "deadline", "greater than zero"),
    ({"placement": {"default": "a"}, "when_busy": "panic"}, "when_busy", "queue"),
    ({"placement": {"light_decoder": "a"}}, "", "is not placed on any core"),
    ({"placemnt": {"default": "a"}}, "placemnt", "unknown key"),
]


@pytest.mark.parametrize("scenario, path, expected", SCENARIO_CASES)
def test_bad_scenarios(tmp_path, scenario, path, expected):
    profile = write_profile(tmp_path)
    s = tmp_path / "scn.yaml"
    s.write_text(yaml.safe_dump(scenario))
    r = invoke("simulate", "-p", profile, "-t", SHIPPED_TRACE, "-s", s, "--no-baseline")
    assert r.exit_code == 2
    assert path in r.output and expected in r.output


def test_missing_link_and_missing_op_cost_are_explained(tmp_path):
    no_link = write_profile(tmp_path, _set("links", []), "nolink.yaml")
    s = tmp_path / "split.yaml"
    s.write_text(yaml.safe_dump({"placement": {"default": "a", "full_decoder": "b"}}))
    r = invoke("simulate", "-p", no_link, "-t", SHIPPED_TRACE, "-s", s, "--no-baseline")
    assert r.exit_code == 2 and "no link between" in r.output

    def only_conv(data):
        data["cores"]["a"]["ops"] = {"conv1d": {"macs_per_cycle": 1, "energy_per_mac": "1 pJ"}}
    f = write_profile(tmp_path, only_conv, "noops.yaml")
    r = invoke("simulate", "-p", f, "-t", SHIPPED_TRACE, "--no-baseline")
    assert r.exit_code == 2 and "no cost entry for op kind" in r.output and "cores.a.ops" in r.output


def test_unsourced_numbers_fail_strict_validation(tmp_path):
    f = write_profile(tmp_path)
    r = invoke("profiles", "validate", f)
    assert r.exit_code == 2 and "without a 'source' or 'assumed' note" in r.output
    assert "battery.capacity" in r.output


def test_shipped_profiles_validate_strictly():
    r = invoke("profiles", "validate", "earbud", "watch", "phone")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("content, expected", [
    ("cores: [\n", "not valid YAML"),
    ("- just\n- a list\n", "a mapping of keys"),
])
def test_unreadable_yaml(tmp_path, content, expected):
    f = tmp_path / "broken.yaml"
    f.write_text(content)
    r = invoke("profiles", "validate", f)
    assert r.exit_code == 2 and expected in r.output and "broken.yaml" in r.output


def test_missing_files_and_unknown_profile():
    assert "no such trace file" in invoke("simulate", "-p", "watch", "-t", "nope.parquet").output
    r = invoke("simulate", "-p", "toaster", "-t", SHIPPED_TRACE)
    assert r.exit_code == 2 and "shipped profiles: earbud" in r.output


def test_bad_synth_arguments():
    r = invoke("trace", "synth", "x.parquet", "--light-share", "1.5")
    assert r.exit_code == 2 and "'--light-share': found 1.5, expected a share in (0, 1)" in r.output
    r = invoke("trace", "synth", "x.parquet", "--duration", "ten")
    assert r.exit_code == 2 and "'--duration': found 'ten' (str) (not a number with a unit), expected a time" in r.output


def test_real_console_script_exit_code_and_stderr(tmp_path):
    f = write_profile(tmp_path, _set("cores.a.opps.1.freq", "fast"))
    proc = subprocess.run([sys.executable, "-m", "dslsim.cli.main", "profiles", "validate", str(f)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "cores.a.opps[1].freq" in proc.stderr


def test_failed_write_leaves_nothing_half_written(tmp_path):
    from dslsim.fileio import write_atomic

    target = tmp_path / "out.csv"

    def boom(path):
        path.write_text("partial")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert list(tmp_path.iterdir()) == []


def test_output_piped_into_head_stops_quietly(tmp_path):
    # ~150 kB of output, far more than a pipe buffer, so the writer really meets a closed pipe.
    spec = tmp_path / "big.yaml"
    spec.write_text(yaml.safe_dump({"base": {"profile": "watch", "trace": str(SHIPPED_TRACE)},
                                    "axes": {"trace.threshold": {"range": [0, 1], "steps": 6000}}}))
    proc = subprocess.run(f"'{sys.executable}' -m dslsim.cli.main sweep '{spec}' --check | head -n 2", shell=True,
                          capture_output=True, text=True)
    assert proc.stdout.count("trace.threshold=") == 2
    assert "error" not in proc.stderr.lower() and "Traceback" not in proc.stderr, proc.stderr


def _rewrite_trace(tmp_path, frames_edit=None, meta_edit=None, name="t.parquet"):
    """The shipped trace's first 300 frames written with edited frames or metadata, bypassing write_trace's own
    checks (as a file from another tool, or damaged, would be)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from dslsim.trace.io import META_KEY, read_trace

    t = read_trace(SHIPPED_TRACE)
    frames, meta = t.frames.head(300).copy(), t.meta.to_json()
    if frames_edit:
        frames_edit(frames)
    if meta_edit:
        meta_edit(meta)
    table = pa.Table.from_pandas(frames, preserve_index=False)
    path = tmp_path / name
    pq.write_table(table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()}), path)
    return path


@pytest.mark.parametrize("frames_edit, meta_edit, where, expected", [
    # A typo'd top-level key was accepted and its content dropped.
    (None, lambda m: m.update(decisons=[]), "metadata.decisons", "an unknown key"),
    (None, lambda m: m["stages"]["encoder"].update(opz=[]), "metadata.stages.encoder.opz", "only 'ops'"),
    (None, lambda m: m["stages"]["encoder"]["ops"][0].update(weight_byte=3), "metadata.stages.encoder.ops[0]"
     ".weight_byte", "an unknown key"),
    # Text in a path's error column ended in an internal error where the error is averaged (sweeps, K-path export).
    (lambda f: f.__setitem__("err_light", "bad"), None, "column 'err_light'", "as numbers"),
    (lambda f: f.__setitem__("err_full", [float("inf")] + [0.1] * (len(f) - 1)), None, "column 'err_full' row 0",
     "as a finite number"),
])
def test_trace_files_with_unknown_keys_or_bad_error_columns_are_refused(tmp_path, frames_edit, meta_edit, where,
                                                                        expected):
    path = _rewrite_trace(tmp_path, frames_edit, meta_edit)
    r = invoke("trace", "info", path)
    assert r.exit_code == 2 and f"{path}: {where}" in r.output and expected in r.output, r.output


@pytest.mark.parametrize("name, text, where", [
    ("ops.csv", "name,kind,macs,weight_byte\nc,conv2d,100,5\n", "column 'weight_byte'"),
    ("ops.csv", "name,kind,macs,macs\nc,conv2d,100,5\n", "column 'macs.1'"),          # pandas renames a repeat
    ("ops.yaml", "ops:\n  - {name: c, kind: conv2d, macs: 100, act_out_byte: 5}\n", "ops[0].act_out_byte"),
])
def test_op_table_typos_are_refused_not_dropped(tmp_path, name, text, where):
    table = tmp_path / name
    table.write_text(text)
    r = invoke("trace", "from-model", table, tmp_path / "t.parquet", "--rate", "2 Hz")
    assert r.exit_code == 2 and f"{table}: {where}" in r.output and "weight_bytes" in r.output, r.output
    assert not (tmp_path / "t.parquet").exists()


def test_a_spreadsheets_empty_trailing_column_is_not_a_typo(tmp_path):
    table = tmp_path / "ops.csv"
    table.write_text("name,kind,macs,\nc,conv2d,100,\n")
    r = invoke("trace", "from-model", table, tmp_path / "t.parquet", "--rate", "2 Hz")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("text, expected", [
    ('{"points": [', "manifest.json: not JSON"),
    ("[1, 2]", "manifest.json: found [1, 2] (list), expected a JSON object"),
    ('{"name": "s"}', "manifest.json: points: found nothing"),
    ('{"points": [{"id": 3}]}', "manifest.json: points[0]: found"),
])
def test_a_damaged_sweep_manifest_is_refused_by_file_and_key(tmp_path, text, expected):
    """A manifest cut short or rewritten ended in an internal error in 'report --sweep' and in a resumed sweep;
    the resumed sweep refuses to guess which results are whose and says how to start over."""
    store = tmp_path / "store"
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "s", "base": {"profile": "watch", "trace": str(SHIPPED_TRACE)},
                                    "axes": {"scenario.opp.big": ["low"]}}))
    assert invoke("sweep", spec, "--out", store, "--jobs", "1").exit_code == 0
    (store / "manifest.json").write_text(text)
    r = invoke("report", "--sweep", store, "--out", tmp_path / "r.html")
    assert r.exit_code == 2 and expected in r.output and not (tmp_path / "r.html").exists(), r.output
    r = invoke("sweep", spec, "--out", store, "--jobs", "1")
    assert r.exit_code == 2 and expected in r.output and "--fresh" in r.output, r.output
    assert (store / "manifest.json").read_text() == text          # nothing rewritten behind the user's back


@pytest.mark.parametrize("rate", ["0", "-16000", "nan", "16 kHz/s"])
def test_add_frontend_refuses_a_sample_rate_instead_of_replacing_it(tmp_path, rate):
    """'--sample-rate 0' was taken as 'not given' and replaced by the trace's own rate without a word."""
    r = invoke("trace", "add-frontend", SHIPPED_TRACE, tmp_path / "fe.parquet", "--sample-rate", rate)
    assert r.exit_code == 2 and "'--sample-rate': found" in r.output and "a frequency" in r.output, r.output
    assert not (tmp_path / "fe.parquet").exists()


def test_export_names_the_audio_that_is_shorter_than_a_frame(tmp_path):
    pytest.importorskip("torch")
    import numpy as np
    from scipy.io import wavfile

    wav = tmp_path / "short.wav"
    wavfile.write(wav, 16000, np.zeros(100, dtype=np.int16))        # 100 samples; a frame of the shipped model is 320
    r = invoke("trace", "export", tmp_path / "t.parquet", "--audio", wav)
    assert r.exit_code == 2 and f"{wav}: 100 samples at 16000 Hz, shorter than one frame" in r.output, r.output
    assert "320 samples" in r.output and not (tmp_path / "t.parquet").exists()


@pytest.mark.parametrize("args, expected", [
    (["trace", "add-frontend", SHIPPED_TRACE, "OUT", "--n-mfcc", "12"], "--n-mfcc does not apply to --features none"),
    (["trace", "add-frontend", SHIPPED_TRACE, "OUT", "--features", "logmel", "--n-mfcc", "12"],
     "--n-mfcc does not apply to --features logmel"),
    (["trace", "add-frontend", SHIPPED_TRACE, "OUT", "--arithmetic", "float32"],
     "--arithmetic does not apply to --features none"),
    (["trace", "export", "OUT", "--audio", "a.wav", "--seed", "3"], "--seed applies only when --audio is not given"),
    (["trace", "export", "OUT", "--budget-time-constant", "3"],
     "--budget-time-constant applies only when --light-budget is given"),
    (["model", "table", "--wav-dir", ".", "--clips", "3"], "--clips applies only when --wav-dir is not given"),
])
def test_options_for_another_choice_are_refused_not_ignored(tmp_path, args, expected):
    out = tmp_path / "out.parquet"
    r = invoke(*[out if a == "OUT" else a for a in args])
    assert r.exit_code == 2 and expected in r.output, r.output
    assert not out.exists()
