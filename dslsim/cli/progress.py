"""Progress bars on long work (tqdm, shown on a terminal only unless forced)."""

from __future__ import annotations

from typing import Callable


class SimProgress:
    """A progress callback ``(label, done, total)`` that drives one tqdm bar per label."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = enabled
        self.bars: dict[str, object] = {}

    def __call__(self, label: str, done: float, total: float) -> None:
        from tqdm import tqdm

        bar = self.bars.get(label)
        if bar is None:
            disable = None if self.enabled is None else not self.enabled
            bar = self.bars[label] = tqdm(total=round(total, 3), desc=label, unit="sim-s", leave=False,
                                          disable=disable, dynamic_ncols=True,
                                          bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} sim-s "
                                                     "[{elapsed}<{remaining}]")
        bar.n = min(round(done, 3), bar.total)
        bar.refresh()

    def close(self) -> None:
        """Close every bar."""
        for bar in self.bars.values():
            bar.close()


def progress_option(f: Callable) -> Callable:
    """``--progress/--no-progress`` (default: on a terminal only)."""
    import click

    return click.option("--progress/--no-progress", default=None,
                        help="Show progress bars (default: only when stderr is a terminal).")(f)
