"""Typed command-line values: every number an option takes is parsed by one of these click parameter types, with
its range, so that ``--help`` shows the type and range and nothing reaches a command unchecked (click's own
``FloatRange`` lets ``nan`` through every bound: ``nan > 0`` and ``nan < 1`` are both false).

A value outside its type is a usage error (exit 2) naming the option, what was found and what was expected:

>>> Share(min_open=True, max_open=True).convert("1.5", None, None)
Traceback (most recent call last):
...
click.exceptions.BadParameter: found 1.5, expected a share in (0, 1).
>>> Quantity("s", minimum=0, min_open=True).convert("90 s", None, None)
90.0

Options that apply to some choices of another option only (``trace synth --shares`` to the K-path kinds) are
refused when given for another choice (:func:`refuse_inapplicable`), never silently ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import click
from click.core import ParameterSource

from dslsim.errors import DslsimError, InputError

#: Largest seed: numpy takes any non-negative integer, torch's manual_seed one below 2**64.
MAX_SEED = 2**63 - 1
#: Most paths a trace may declare (:data:`dslsim.trace.schema.MAX_PATHS`; frames store their path as int8), and so
#: most shares a K-path synthetic trace may take. Restated here so ``--help`` stays instant (no trace import).
MAX_PATHS = 127


def _bound(x: float) -> str:
    return f"{x:g}"


class Typed(click.ParamType):
    """A parameter type that can say its range in words, for ``--help`` (:class:`TypedOption`)."""

    def describe(self) -> str:
        """The type and its range, e.g. 'a time > 0 s'."""
        return self.name


class Number(Typed):
    """A finite number (never nan or inf) within ``minimum`` .. ``maximum`` (each bound open or closed)."""

    name = "number"

    def __init__(self, minimum: float | None = None, maximum: float | None = None, *, min_open: bool = False,
                 max_open: bool = False, what: str = "a number", integer: bool = False):
        self.minimum, self.maximum, self.min_open, self.max_open = minimum, maximum, min_open, max_open
        self.what, self.integer = what, integer

    def span(self) -> str:
        """The range as an interval or a bound: '(0, 1)', '> 0', '<= 100'."""
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{'(' if self.min_open else '['}{_bound(lo)}, {_bound(hi)}{')' if self.max_open else ']'}"
        if lo is not None:
            return f"{'>' if self.min_open else '>='} {_bound(lo)}"
        if hi is not None:
            return f"{'<' if self.max_open else '<='} {_bound(hi)}"
        return ""

    def describe(self) -> str:
        span = self.span()
        return f"{self.what} in {span}" if span.startswith(("(", "[")) else f"{self.what} {span}".rstrip()

    def inside(self, x: float) -> bool:
        """Whether finite ``x`` is within the range."""
        if self.minimum is not None and (x <= self.minimum if self.min_open else x < self.minimum):
            return False
        return not (self.maximum is not None and (x >= self.maximum if self.max_open else x > self.maximum))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, bool):
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
        try:
            x = float(value) if not self.integer else int(str(value).strip())
        except (TypeError, ValueError):
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
        if not math.isfinite(x) or not self.inside(x):
            self.fail(f"found {value}, expected {self.describe()}.", param, ctx)
        return x


class Share(Number):
    """A share of frames, of time or of a battery, in [0, 1] (either end open)."""

    name = "share"

    def __init__(self, *, min_open: bool = False, max_open: bool = False):
        super().__init__(0.0, 1.0, min_open=min_open, max_open=max_open, what="a share")


class Threshold(Number):
    """A decision threshold on a score in [0, 1]."""

    name = "threshold"

    def __init__(self, *, min_open: bool = False, max_open: bool = False):
        super().__init__(0.0, 1.0, min_open=min_open, max_open=max_open, what="a threshold")


class Seed(Number):
    """A random seed: a whole number from 0 to 2**63 - 1 (numpy refuses negative seeds)."""

    name = "seed"

    def __init__(self) -> None:
        super().__init__(0, MAX_SEED, what="a whole number", integer=True)

    def describe(self) -> str:
        return "a whole number >= 0"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return int(super().convert(value, param, ctx))


#: What ``--help`` calls a quantity option's value, by unit.
METAVARS = {"s": "TIME", "Hz": "FREQ", "V": "VOLTS", "W": "POWER", "A": "CURRENT", "J": "ENERGY", "A*h": "CHARGE"}


class Quantity(Typed):
    """A number with a unit ('90 s', '16 kHz'), read by dslsim's strict grammar (:func:`dslsim.units.parse_quantity`)
    and returned in SI; a bare number is read in ``bare_unit`` when one is given (``--sample-rate 16000``: Hz)."""

    name = "quantity"

    def __init__(self, unit: str, minimum: float | None = None, maximum: float | None = None, *,
                 min_open: bool = False, max_open: bool = False, bare_unit: str | None = None):
        from dslsim.units import expected

        self.unit, self.bare_unit = unit, bare_unit
        self.range = Number(minimum, maximum, min_open=min_open, max_open=max_open, what=expected(unit))

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return METAVARS.get(self.unit, "QUANTITY")

    def describe(self) -> str:
        span = self.range.span()
        bare = f"; a bare number is in {self.bare_unit}" if self.bare_unit else ""
        where = (f" in {span} {self.unit}" if span.startswith(("(", "[")) else f", {span} {self.unit}") if span else ""
        return f"{self.range.what}{where}{bare}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        from dslsim.units import parse_quantity

        if isinstance(value, (int, float)) and not isinstance(value, bool):   # a default already in SI
            text: Any = float(value) if not self.unit else f"{float(value)!r} {self.unit}"
        else:
            text = str(value).strip()
            if self.bare_unit:
                try:
                    float(text)
                    text = f"{text} {self.bare_unit}"
                except ValueError:
                    pass
        try:
            x = parse_quantity(text, self.unit, None, "", minimum=None)
        except InputError as exc:
            self.fail(f"found {exc.found}, expected {exc.expected}.", param, ctx)
        if not self.range.inside(x):
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
        return x


class NumberList(Typed):
    """Numbers separated by commas ('0.6,0.3,0.1'), each of ``item``'s type, ``min_items`` to ``max_items`` of
    them; with ``total`` they must add up to it (within 1e-6)."""

    name = "list"

    def __init__(self, item: Number, *, min_items: int = 1, max_items: int | None = None,
                 total: float | None = None, example: str = "0.6,0.3,0.1"):
        self.item, self.min_items, self.max_items, self.total, self.example = item, min_items, max_items, total, example

    def describe(self) -> str:
        count = f"{self.min_items} to {self.max_items}" if self.max_items else f"{self.min_items} or more"
        total = f" adding up to {self.total:g}" if self.total is not None else ""
        return f"{count} of {self.item.describe()}, separated by commas{total} (e.g. {self.example})"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",")]
        out = []
        for i, part in enumerate(parts):
            try:
                x = float(part)
            except ValueError:
                x = math.nan
            if not math.isfinite(x) or not self.item.inside(x):
                self.fail(f"found {part!r} as item {i + 1}, expected {self.describe()}.", param, ctx)
            out.append(x)
        if len(out) < self.min_items or (self.max_items is not None and len(out) > self.max_items):
            self.fail(f"found {len(out)} numbers, expected {self.describe()}.", param, ctx)
        if self.total is not None and not math.isclose(sum(out), self.total, abs_tol=1e-6):
            self.fail(f"found numbers adding up to {sum(out):g}, expected {self.describe()}.", param, ctx)
        return tuple(out)


class Shares(NumberList):
    """Each path's share of frames: two to :data:`MAX_PATHS` shares in [0, 1] adding up to 1."""

    name = "shares"

    def __init__(self) -> None:
        super().__init__(Share(), min_items=2, max_items=MAX_PATHS, total=1.0)


class Subsets(Typed):
    """Block subsets, one path each: '1,1+3,1+2+3' -> ((1,), (1, 3), (1, 2, 3)); block numbers from 1, each at
    most once in a subset, no subset twice."""

    name = "subsets"

    def describe(self) -> str:
        return (f"1 to {MAX_PATHS} subsets separated by commas, each block numbers from 1 joined by '+' "
                f"(e.g. 1,1+3,1+2+3)")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[tuple[int, ...], ...]:
        if isinstance(value, tuple):
            return value
        out = []
        for text in str(value).split(","):
            members = text.strip().split("+")
            if not all(m.strip().isdigit() and int(m) >= 1 for m in members):
                self.fail(f"found the subset {text.strip()!r}, expected {self.describe()}.", param, ctx)
            blocks = tuple(int(m) for m in members)
            if len(set(blocks)) != len(blocks):
                self.fail(f"found block {max(blocks, key=blocks.count)} twice in {text.strip()!r}, expected each "
                          f"block at most once in a subset.", param, ctx)
            if tuple(sorted(blocks)) in {tuple(sorted(o)) for o in out}:
                self.fail(f"found the subset {text.strip()!r} twice, expected each subset once (one path each).",
                          param, ctx)
            out.append(blocks)
        if len(out) > MAX_PATHS:
            self.fail(f"found {len(out)} subsets, expected {self.describe()}.", param, ctx)
        return tuple(out)


class PolicySpeeds(Typed):
    """One scaling policy's frequencies: 'POLICY=KHZ,KHZ,...' (from its scaling_available_frequencies) ->
    (policy, (kHz, ...)); each a finite number above 0."""

    name = "speeds"

    def describe(self) -> str:
        return "a policy number, '=', and its frequencies in kHz separated by commas, lowest first (e.g. 4=400000,2000000)"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, tuple[float, ...]]:
        if isinstance(value, tuple):
            return value
        policy, sep, rest = str(value).partition("=")
        speeds = NumberList(Number(0, min_open=True, what="a frequency in kHz"), example="400000,2000000")
        try:
            if not sep or not policy.strip().isdigit():
                raise click.BadParameter("")
            return int(policy), speeds.convert(rest, None, None)
        except click.BadParameter:
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)


@dataclass(frozen=True)
class BudgetValue:
    """An always-on budget as given: ``kind`` 'percent' (of the battery per day), 'power' (W) or 'life' (s of
    battery life at least), and its ``value`` in those units."""

    kind: str
    value: float

    def percent_per_day(self, usable_energy_j: float) -> float:
        """The budget as % of a battery of ``usable_energy_j`` per day: a power drains power x 1 day of it; a
        life of L seconds allows 100 % per L."""
        if self.kind == "percent":
            return self.value
        if self.kind == "power":
            return 100.0 * self.value * 86400.0 / usable_energy_j
        return 100.0 * 86400.0 / self.value


class Budget(Typed):
    """An always-on budget: a % of the battery per day ('1', '1 %'), a power ('5 mW') or a battery life
    ('3 days', '72 h'); finite and above zero."""

    name = "budget"

    def describe(self) -> str:
        return "a finite budget above 0: % of the battery per day ('1'), a power ('5 mW') or a battery life ('72 h')"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> BudgetValue:
        if isinstance(value, BudgetValue):
            return value
        text = str(value).strip()
        number = text[:-1].strip() if text.endswith("%") else text
        try:
            pct = float(number)
        except ValueError:
            pct = None
        if pct is not None:
            if not math.isfinite(pct) or pct <= 0:
                self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
            return BudgetValue("percent", pct)
        from dslsim.units import si_value

        parsed = si_value(text)
        if parsed is None or parsed[1] not in ("W", "s") or not math.isfinite(parsed[0]) or parsed[0] <= 0:
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
        return BudgetValue("power" if parsed[1] == "W" else "life", parsed[0])


class TimeWindow(Typed):
    """'START:END' in time units ('10 s:13 s'), the end after the start -> (start s, end s); times from
    ``minimum`` on (None: any, as in a measurement's own clock)."""

    name = "window"

    def __init__(self, minimum: float | None = 0.0):
        self.minimum = minimum

    def describe(self) -> str:
        return "START:END, two times with units, the end after the start (e.g. '10 s:13 s')"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        start, sep, end = str(value).partition(":")
        if not sep:
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
        time = Quantity("s", minimum=self.minimum)
        a, b = time.convert(start, param, ctx), time.convert(end, param, ctx)
        if not b > a:
            self.fail(f"found {value!r}, expected {self.describe()}.", param, ctx)
        return a, b


class TypedOption(click.Option):
    """An option whose ``--help`` line ends with its type's range ([a share in (0, 1)])."""

    def get_help_extra(self, ctx: click.Context):  # type: ignore[override]
        extra = super().get_help_extra(ctx)
        if isinstance(self.type, Typed):
            extra["range"] = self.type.describe()
        return extra


def option(*decls: str, **attrs: Any):
    """``click.option`` with :class:`TypedOption`: the range of a :class:`Typed` type shows in ``--help``."""
    return click.option(*decls, cls=TypedOption, **attrs)


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave parameter ``name`` (on the command line or in the environment), not its default."""
    return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def refuse_inapplicable(ctx: click.Context, choice_option: str, choice: str, applies: dict[str, tuple[str, ...]]) \
        -> None:
    """Refuse, naming both, an option given for a ``choice`` it does not apply to: ``applies`` maps a parameter
    name to the choices it is for."""
    for name, choices in applies.items():
        if choice not in choices and given(ctx, name):
            flag = next((p.opts[0] for p in ctx.command.params if p.name == name), f"--{name}")
            if choice in ("given", "not given"):      # an option that goes with another one, or without it
                raise DslsimError(f"{flag} applies only when {choice_option} is {choices[0]}; leave it out.")
            raise DslsimError(f"{flag} does not apply to {choice_option} {choice} (it is for {choice_option} "
                              f"{', '.join(choices)}); leave it out.")
