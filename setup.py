"""Build hook: the shipped device profiles and traces live at the top of the repository (``hw_profiles/``,
``traces/``) and are mapped into the package (``dslsim/data/profiles``, ``dslsim/data/traces``) when a wheel is built.

Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Top-level folder -> (package it is installed into, the file patterns shipped). ``dslsim/shipped.py`` reads the
#: installed copy, and the top-level folder itself in a source checkout.
SHIPPED_DATA = {
    "hw_profiles": ("dslsim.data.profiles", ("*.yaml",)),
    "traces": ("dslsim.data.traces", ("*.parquet", "README.md")),
}


class BuildPyWithShippedData(build_py):
    """``build_py`` that also copies the top-level shipped data into the package."""

    def _get_data_files(self) -> list[tuple[str, str, str, list[str]]]:
        data = list(super()._get_data_files())
        root = Path(__file__).resolve().parent
        for folder, (package, patterns) in SHIPPED_DATA.items():
            src = root / folder
            names = sorted({p.name for pattern in patterns for p in src.glob(pattern) if p.is_file()})
            if not names:
                raise SystemExit(f"setup.py: no shipped files in {src} ({', '.join(patterns)}).")
            build_dir = str(Path(self.build_lib, *package.split(".")))
            data.append((package, folder, build_dir, names))
        return data


setup(cmdclass={"build_py": BuildPyWithShippedData})
