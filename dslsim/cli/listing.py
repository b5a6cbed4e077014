"""Listings of shipped files (``profiles list``, ``trace list``): aligned columns, and the local files that take a
shipped name's place."""

from __future__ import annotations

import click


def echo_rows(rows: list[tuple[str, ...]]) -> None:
    """Rows as columns two spaces apart, each as wide as its widest entry (the last left ragged)."""
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join([*(f"{cell:<{w}}" for cell, w in zip(row, widths)), row[-1]]))


def echo_shadows(kind: str, flag: str) -> None:
    """A note (on stderr) for each file in the working folder that a spelling of a shipped name would read
    instead of the shipped file; ``kind`` is 'profile' or 'trace', ``flag`` the option that takes it ('-p')."""
    from dslsim.shipped import shadows

    for shadow in shadows(kind):
        click.echo(f"note: {shadow.sentence(flag)}", err=True)
