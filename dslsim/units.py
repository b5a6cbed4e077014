"""Units at the edge: parse '200 MHz' once when loading, keep SI floats inside.

>>> parse_quantity("200 MHz", "Hz", "f.yaml", "cores.dsp.opps[0].freq")
200000000.0
>>> parse_quantity("45 mAh", "A*h", "f.yaml", "battery.capacity")
0.045
"""

from __future__ import annotations

import atexit
import hashlib
import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from dslsim.errors import DslsimError, InputError, describe
from dslsim.fileio import write_text_atomic

#: Examples shown in errors, keyed by the unit a field expects.
EXAMPLES = {
    "Hz": "a frequency such as '200 MHz'",
    "V": "a voltage such as '0.9 V'",
    "W": "a power such as '12 uW' or '3.5 mW'",
    "J": "an energy such as '0.9 pJ' or '2 uJ'",
    "s": "a time such as '5 ms' or '1.2 us'",
    "A*h": "a charge such as '50 mAh'",
    "B": "a size such as '4 kB'",
    "B/s": "a bandwidth such as '20 MB/s'",
    "J/B": "an energy per byte such as '5 pJ/B'",
    "A": "a current such as '12 uA' or '3 mA'",
    "A/Hz": "a current per clock frequency such as '40 uA/MHz'",
    "": "a plain number such as 0.9",
}


#: What a quantity may look like before pint sees it: a plain decimal number (at most 30 characters, exponent of at
#: most three digits) and a unit made of names joined by '/', '*' or a space, each with an optional small power.
#: Pint would evaluate any expression ('9**9**9 mAh' never returns), so nothing else reaches it.
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?"
_UNIT_NAME = r"[A-Za-zµΩ°%]+(?:\^[-+]?\d)?"
QUANTITY = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>(?:{_UNIT_NAME})(?:\s*[/*]?\s*{_UNIT_NAME})*)?\s*$")
#: Largest magnitude any field accepts, in SI units: far beyond any device, far below float overflow.
MAX_MAGNITUDE = 1e18


@lru_cache(maxsize=1)
def registry():
    """The one pint registry of the process. Building it parses pint's definitions (~0.2 s); pint's own file cache
    (in the user's cache folder) makes every later start ~0.01 s. Without a writable cache it is built plainly."""
    import pint

    try:
        return pint.UnitRegistry(cache_folder=":auto:")
    except Exception:  # an unwritable or damaged cache must never stop a simulation
        return pint.UnitRegistry()


#: Pint's answers already known (key: number text, unit text, target unit), loaded from the conversion store.
_KNOWN: dict[str, float] | None = None
#: Most conversions the store keeps (a sweep's ranges add a few each; this bounds the file, not correctness).
MAX_STORED = 20_000
_STORE_FORMAT = "dslsim.units/1"


def cache_dir() -> Path | None:
    """Where dslsim keeps what it may recompute: ``$DSLSIM_CACHE_DIR`` ('none' turns it off), else the user's
    cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``) / dslsim."""
    env = os.environ.get("DSLSIM_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dslsim"


def _store_path() -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        from importlib.metadata import version

        return folder / f"units-pint-{version('pint')}.json"
    except Exception:  # no metadata: no store, pint answers every time
        return None


def _checksum(conversions: dict[str, float]) -> str:
    return hashlib.sha256(json.dumps(conversions, sort_keys=True).encode()).hexdigest()


def _known() -> dict[str, float]:
    """The conversions pint gave in earlier runs (same pint version), if the store is intact; else none."""
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = {}
        path = _store_path()
        try:
            data = json.loads(path.read_text()) if path is not None and path.is_file() else None
            conversions = data.get("conversions") if isinstance(data, dict) else None
            if (isinstance(conversions, dict) and data.get("format") == _STORE_FORMAT
                    and data.get("checksum") == _checksum(conversions)
                    and all(isinstance(v, float) for v in conversions.values())):
                _KNOWN = conversions
        except (OSError, ValueError):
            pass  # a damaged or unreadable store is ignored: pint answers, and the store is rewritten
    return _KNOWN


def _save_known() -> None:
    path = _store_path()
    if path is None or not _KNOWN:
        return
    conversions = dict(sorted(_KNOWN.items()))
    try:
        write_text_atomic(path, json.dumps({"format": _STORE_FORMAT, "checksum": _checksum(conversions),
                                            "conversions": conversions}))
    except (OSError, DslsimError):
        pass  # an unwritable cache folder only costs the next run pint's start-up


def _convert(number: str, unit_text: str, unit: str) -> float:
    """Pint's conversion of ``number unit_text`` to ``unit``, remembered: profiles repeat the same few strings, a
    sweep parses its profile once per point, and importing pint costs a fresh process a quarter of a second.
    Known answers come from a checksummed store per pint version (see :func:`cache_dir`); errors are raised,
    never remembered."""
    key = f"{number}|{unit_text}|{unit}"
    known = _known()
    value = known.get(key)
    if value is None:
        quantity = registry().Quantity(float(number), unit_text)
        value = float(quantity.to(unit or "dimensionless").magnitude)
        if len(known) < MAX_STORED:
            if not _SAVE_AT_EXIT:  # the first new answer of this process: write the store when it ends
                _SAVE_AT_EXIT.append(atexit.register(_save_known))
            known[key] = value
    return value


#: Holds the exit hook once this process has an answer to add to the store.
_SAVE_AT_EXIT: list = []


def expected(unit: str) -> str:
    """What a field in ``unit`` should look like, for error messages."""
    return EXAMPLES.get(unit, f"a quantity in {unit}")


def parse_quantity(value: Any, unit: str, source: Any, key_path: str, *, minimum: float | None = 0.0,
                   strictly_positive: bool = False) -> float:
    """Parse a value with units into a float in ``unit`` (an SI-ish base like 'Hz', 'J', 'A*h').

    Plain numbers are accepted only for dimensionless fields (``unit == ""``); a quantity field
    given a bare number is an error, since '200' could be Hz or MHz.
    """
    wanted = expected(unit)
    if isinstance(value, bool) or value is None:
        raise InputError(source, key_path, describe(value), wanted)
    if isinstance(value, (int, float)):
        if unit:
            raise InputError(source, key_path, f"the bare number {value!r}",
                             f"{wanted} (a number needs a unit here)")
        number = float(value)
    elif isinstance(value, str):
        match = QUANTITY.match(value) if len(value) <= 64 else None
        if match is None or len(match.group("number")) > 30:
            raise InputError(source, key_path, f"{describe(value)} (not a number with a unit)", wanted)
        try:
            number = _convert(match.group("number"), match.group("unit") or "", unit)
        except Exception as exc:  # pint's errors; pint is imported only if it had to answer
            kind = "wrong kind of unit" if type(exc).__name__ == "DimensionalityError" else "not a quantity"
            raise InputError(source, key_path, f"{value!r} ({kind})", wanted) from None
    else:
        raise InputError(source, key_path, describe(value), wanted)
    if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
        raise InputError(source, key_path, describe(value), f"{wanted}, finite and at most {MAX_MAGNITUDE:g} in SI units")
    if strictly_positive and number <= 0:
        raise InputError(source, key_path, repr(value), f"{wanted}, greater than zero")
    if minimum is not None and number < minimum:
        raise InputError(source, key_path, repr(value), f"{wanted}, at least {minimum:g}")
    return number


#: The SI units dslsim's fields use, in the order :func:`si_value` tries them.
SI_UNITS = ("s", "Hz", "V", "W", "J", "A", "A*h", "B", "B/s", "J/B", "A/Hz")


def si_value(text: Any) -> tuple[float, str] | None:
    """A quantity string as (SI float, SI unit), for the units dslsim uses; None if it is not one of them.

    >>> si_value("60 MHz"), si_value("low")
    ((60000000.0, 'Hz'), None)
    >>> si_value("40 uA/MHz")[1], si_value("50 mAh")[1]     # the same dimension, told apart by the text
    ('A/Hz', 'A*h')
    """
    if not isinstance(text, str):
        return None
    match = QUANTITY.match(text) if len(text) <= 64 else None
    if match is None or not match.group("unit"):
        return None
    per_clock = "Hz" in match.group("unit") and "/" in match.group("unit")
    for unit in sorted(SI_UNITS, key=lambda u: u != "A/Hz") if per_clock else SI_UNITS:
        try:
            return _convert(match.group("number"), match.group("unit"), unit), unit
        except Exception:  # not this dimension (or not a unit at all)
            continue
    return None


def format_si(value: float, unit: str, digits: int = 3) -> str:
    """Format an SI float with an engineering prefix: ``format_si(0.0123, 'W') == '12.3 mW'``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    prefixes = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")]
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value / 1e-12:.{digits}g} p{unit}"
