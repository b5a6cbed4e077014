"""Every input file is read through one bounded reader: a regular file no larger than its kind allows, refused
with its name before it is read (a symlink to an endless device must not be read whole)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import DslsimError
from dslsim.fileio import check_input_file, read_input_bytes


@pytest.fixture()
def endless(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    link = tmp_path / "endless"
    link.symlink_to("/dev/zero")
    return link


@pytest.mark.parametrize("suffix, args", [
    (".yaml", ["profiles", "validate", "{f}"]),
    (".tflite", ["trace", "from-model", "{f}", "{out}", "--rate", "1 Hz"]),
    (".csv", ["trace", "from-model", "{f}", "{out}", "--rate", "1 Hz"]),
    (".xml", ["profiles", "import-android", "{f}", "--out", "{out}"]),
])
def test_a_symlink_to_an_endless_device_is_refused_by_name(tmp_path, endless, suffix, args):
    f = tmp_path / f"model{suffix}"
    f.symlink_to(endless)
    out = tmp_path / "out.parquet" if suffix != ".xml" else tmp_path / "out.yaml"
    r = CliRunner().invoke(cli, [a.format(f=f, out=out) for a in args])
    assert r.exit_code == 2, r.output
    assert str(f) in r.output and "not a regular file" in r.output and not out.exists()


def test_size_is_bounded_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 30)
    assert check_input_file(big, 150, "a YAML document") == 150
    with pytest.raises(DslsimError, match="read only up to 100 bytes"):
        read_input_bytes(big, 100, "a YAML document")
    (tmp_path / "empty.yaml").write_bytes(b"")
    with pytest.raises(DslsimError, match="empty"):
        check_input_file(tmp_path / "empty.yaml", 100, "a YAML document")
    with pytest.raises(DslsimError, match="a folder"):
        check_input_file(tmp_path, 100, "a YAML document")


@pytest.mark.parametrize("end", ["9**9**9", "1 ms" + " " * 100, True])
def test_a_sweep_range_end_is_a_quantity_before_pint_sees_it(tmp_path, end):
    import yaml

    spec = {"name": "r", "base": {"profile": "watch", "trace": "dsl-75hz-10min"},
            "axes": {"scenario.sleep.big.core_off": {"range": ["1 ms", end], "steps": 3}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    r = CliRunner().invoke(cli, ["sweep", str(tmp_path / "s.yaml"), "--check"])
    assert r.exit_code == 2, r.output
    assert "s.yaml" in r.output and "range[1]" in r.output
