"""The unit-conversion store: a fresh process that finds pint's earlier answers does not import pint, and gets
exactly the numbers pint gives; a damaged store is ignored; 'none' turns it off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
from dslsim.hw.load import load_profile
p = load_profile('phone')
print(json.dumps({'pint': 'pint' in sys.modules, 'profile': repr(p)}))
"""


def run_probe(cache: str, **env_extra: str) -> dict:
    env = {**os.environ, "DSLSIM_CACHE_DIR": cache, **env_extra}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_second_run_uses_the_store_and_gets_the_same_numbers(tmp_path):
    first = run_probe(str(tmp_path))
    stores = list(tmp_path.glob("units-pint-*.json"))
    assert first["pint"] and len(stores) == 1
    second = run_probe(str(tmp_path))
    assert not second["pint"] and second["profile"] == first["profile"]
    # A store whose content no longer matches its checksum is ignored: pint answers again, same numbers.
    data = json.loads(stores[0].read_text())
    key = next(iter(data["conversions"]))
    data["conversions"][key] *= 10
    stores[0].write_text(json.dumps(data))
    third = run_probe(str(tmp_path))
    assert third["pint"] and third["profile"] == first["profile"]
    fixed = json.loads(stores[0].read_text())
    assert fixed["conversions"][key] == data["conversions"][key] / 10      # rewritten with pint's answer


def test_store_can_be_turned_off(tmp_path):
    for _ in range(2):
        assert run_probe("none", XDG_CACHE_HOME=str(tmp_path), HOME=str(tmp_path))["pint"]
    assert not any(tmp_path.rglob("units-*"))


def test_stored_answers_are_pints(tmp_path):
    """Every conversion in a store written by parsing the shipped profiles equals pint's own answer."""
    import pint

    run_probe(str(tmp_path))
    store = json.loads(next(tmp_path.glob("units-pint-*.json")).read_text())
    ureg = pint.UnitRegistry()
    assert len(store["conversions"]) > 20
    for key, value in store["conversions"].items():
        number, text, unit = key.split("|")
        assert value == float(ureg.Quantity(float(number), text).to(unit or "dimensionless").magnitude), key
