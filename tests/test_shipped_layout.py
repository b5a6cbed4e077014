"""The shipped profiles and traces: top-level folders are the source of truth, and the wheel carries them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

from dslsim import shipped
from dslsim.hw.load import load_profile, profile_path

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_folders_are_the_shipped_data_and_there_is_no_copy_in_the_package():
    assert shipped.PROFILES == ROOT / "hw_profiles" and shipped.TRACES == ROOT / "traces"
    assert {"earbud", "watch", "phone"} <= set(shipped.shipped_profiles())
    assert "dsl-fr-50hz-10min" in shipped.shipped_traces() and (ROOT / "traces" / "README.md").is_file()
    assert not (ROOT / "dslsim" / "data" / "profiles").exists()
    assert not (ROOT / "dslsim" / "data" / "traces").exists()


def test_names_resolve_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert profile_path("watch") == ROOT / "hw_profiles" / "watch.yaml"
    assert profile_path("watch.yaml") == ROOT / "hw_profiles" / "watch.yaml"   # no local file: the shipped one
    assert shipped.trace_path("dsl-fr-50hz-10min") == ROOT / "traces" / "dsl-fr-50hz-10min.parquet"
    assert load_profile("earbud").name


def _wheel(tmp_path: Path) -> zipfile.ZipFile:
    """Build dslsim's wheel from this checkout (no dependencies) and open it."""
    # Offline when setuptools is at hand; otherwise pip fetches the build requirements, as an install does.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(tmp_path),
                        str(ROOT)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("dslsim-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_carries_every_top_level_profile_and_trace(tmp_path):
    names = set(_wheel(tmp_path).namelist())
    expected = {f"dslsim/data/profiles/{p.name}" for p in (ROOT / "hw_profiles").glob("*.yaml")}
    expected |= {f"dslsim/data/traces/{p.name}" for p in (ROOT / "traces").glob("*.parquet")}
    expected |= {"dslsim/data/traces/README.md", "dslsim/data/validation/mlperf-tiny.yaml"}
    # Every file of the package's data folder (measurements, datasheet tables, cells, models) goes too: a
    # measurement file that names a table the wheel lacks cannot be read outside the checkout.
    data = ROOT / "dslsim" / "data"
    expected |= {f"dslsim/data/{f.relative_to(data).as_posix()}" for f in data.rglob("*")
                 if f.is_file() and "__pycache__" not in f.parts}
    assert len(expected) >= 7 + 5 + 2
    assert expected <= names, sorted(expected - names)
    assert not any(n.startswith(("hw_profiles/", "traces/")) for n in names)   # inside the package only


def _cli(*args: str):
    from click.testing import CliRunner

    from dslsim.cli.main import cli

    return CliRunner().invoke(cli, list(args))


def test_listings_say_where_each_entry_comes_from_and_which_local_files_shadow_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = _cli("profiles", "list")
    assert listing.exit_code == 0 and "hw_profiles/watch.yaml" in listing.output and "note:" not in listing.output
    (tmp_path / "watch.yaml").write_text("name: mine\n")
    (tmp_path / "dsl-75hz-10min").write_bytes(b"")
    listing = _cli("profiles", "list")
    assert "watch.yaml shadows the shipped 'watch' for -p watch.yaml" in listing.output
    traces = _cli("trace", "list")
    assert traces.exit_code == 0 and "traces/dsl-fr-50hz-10min.parquet" in traces.output
    assert "dsl-75hz-10min shadows the shipped 'dsl-75hz-10min': -t dsl-75hz-10min reads this file" in traces.output


def test_origin_names_the_checkout_folder_or_the_installed_package_data():
    assert shipped.origin(ROOT / "traces" / "dsl-75hz-10min.parquet") == "traces/dsl-75hz-10min.parquet"
    assert shipped.origin(shipped.DATA / "profiles" / "watch.yaml") == "package data: dslsim/data/profiles/watch.yaml"


def test_profiles_init_copies_a_shipped_profile_and_never_overwrites_by_accident(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _cli("profiles", "init", "watch", "--out", "my.yaml")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "my.yaml").read_bytes() == (ROOT / "hw_profiles" / "watch.yaml").read_bytes()
    assert load_profile(tmp_path / "my.yaml").name == "watch" and not load_profile(tmp_path / "my.yaml").unsourced
    (tmp_path / "my.yaml").write_text("edited\n")
    again = _cli("profiles", "init", "earbud", "--out", "my.yaml")
    assert again.exit_code == 2 and "--force" in again.output
    assert (tmp_path / "my.yaml").read_text() == "edited\n"
    forced = _cli("profiles", "init", "earbud.yaml", "--out", "my.yaml", "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "my.yaml").read_bytes() == (ROOT / "hw_profiles" / "earbud.yaml").read_bytes()
    unknown = _cli("profiles", "init", "toaster", "--out", "t.yaml")
    assert unknown.exit_code == 2 and "not a shipped profile" in unknown.output and "watch" in unknown.output
    assert not (tmp_path / "t.yaml").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["my.yaml"]
