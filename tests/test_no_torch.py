"""The simulator imports and runs without torch (issue contract: torch only in dslsim.model)."""

from __future__ import annotations

import subprocess
import sys

from conftest import SHIPPED_TRACE

CODE = f"""
import sys
sys.modules['torch'] = None          # any 'import torch' now raises ImportError
import dslsim
from dslsim.cli.main import cli
r = dslsim.simulate('phone', {str(SHIPPED_TRACE)!r})
assert r.summary['battery_life_h'] > 0
print('ok')
"""


def test_simulator_runs_with_torch_blocked():
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
