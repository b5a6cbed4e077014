"""User-facing errors: one paragraph naming the file, the key path, what was found and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class DslsimError(Exception):
    """An error caused by the user's input, reported without a traceback.

    >>> str(InputError("watch.yaml", "cores.dsp.opps[2].freq", "'fast'", "a frequency such as '200 MHz'"))
    "watch.yaml: cores.dsp.opps[2].freq: found 'fast', expected a frequency such as '200 MHz'."
    """


class InputError(DslsimError):
    """A value in an input file is wrong: where it is, what it is, what it should be."""

    def __init__(self, source: str | Path | None, key_path: str, found: Any, expected: str):
        self.source = str(source) if source is not None else "<input>"
        self.key_path = key_path
        self.found = found
        self.expected = expected
        where = f"{self.source}: {key_path}: " if key_path else f"{self.source}: "
        super().__init__(f"{where}found {found}, expected {expected}.")


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (or its type when it has none), at most ``limit`` characters:
    what a one-paragraph error quotes of a library's failure."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]


def describe(value: Any, limit: int = 60) -> str:
    """A short, quoted description of a found value for error messages; never builds the repr of a huge value
    (a YAML alias bomb expands to gigabytes), only a bounded one."""
    import reprlib

    if value is None:
        return "nothing"
    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlevel = limit, limit, 3
    short.maxlist = short.maxdict = short.maxtuple = short.maxset = 6
    text = short.repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"
