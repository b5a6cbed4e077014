"""The options and the ending every command that shows a run shares: how many deadline misses a run may have and
still keep up, and what happens when one does not (its warnings shown, exit status 4 unless asked otherwise)."""

from __future__ import annotations

from typing import Iterable

import click

from dslsim.cli.params import Number, option
from dslsim.sim.plan import DEFAULT_MAX_MISS_RATE

#: The exit status of a command whose run (or any of whose runs) does not keep up.
EXIT_CANNOT_KEEP_UP = 4


def feasibility_options(f):
    """``--max-misses PCT`` (passed on as ``max_misses``) and ``--anyway`` (as ``anyway``)."""
    f = click.option("--anyway", "--allow-backlog", "anyway", is_flag=True,
                     help="Exit 0 even when a run does not keep up (exit 4 otherwise); its battery figures stay "
                          "empty either way.")(f)
    f = option("--max-misses", type=Number(0, 100, what="a percentage"), default=100 * DEFAULT_MAX_MISS_RATE,
                     show_default=True, metavar="PCT",
                     help="Share of frames (%) that may miss their deadline, dropped ones included, in a run that "
                          "keeps up.")(f)
    return f


def finish(runs: Iterable[tuple[str, list[str], bool]], anyway: bool) -> None:
    """Show each run's warnings (``(name, warnings, keeps_up)``; the name prefixes them when there are several)
    and exit 4 when one does not keep up, unless ``anyway``."""
    runs = list(runs)
    for name, warnings, _ in runs:
        for warning in warnings:
            click.echo(f"warning: {f'{name}: ' if len(runs) > 1 else ''}{warning}", err=True)
    failed = [name for name, _, ok in runs if not ok]
    if failed and not anyway:
        which = f" ({', '.join(failed)})" if len(runs) > 1 else ""
        click.echo(f"error: {'a run does' if len(runs) > 1 else 'the scenario does'} not keep up{which}, see the "
                   f"warning above; place stages on faster cores, raise the clock, relax the deadline or "
                   f"--max-misses, or pass --anyway to accept it.", err=True)
        raise SystemExit(EXIT_CANNOT_KEEP_UP)
