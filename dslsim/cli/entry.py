"""The console script: Ctrl-C at any moment, even while the CLI is still importing, ends with status 130 and one
line, never a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``dslsim``; an interrupt before or after a command's own handling exits 130 quietly."""
    try:
        from dslsim.cli.main import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
