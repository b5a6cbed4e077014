"""Physical ranges of the numbers dslsim fits, imports and loads, each with its source: a number outside its
*possible* range is refused (an error naming the file, the key path, the figure and the limit), one outside its
*plausible* range is kept with one warning sentence giving the range and where it comes from.

Validity (a positive frequency, a fraction in (0, 1]) is the loaders' business; this module catches the numbers
that are well formed but physically wrong: a calibration fitted on a clock typed in kHz instead of MHz (0.0017
cycles per MAC on a microcontroller), a discharge table in the wrong unit (a 5000 C discharge), a phone CPU speed
written in Hz where the file says kHz.

>>> RANGES["c_rate"].describe()
'0.0001 to 20 C (possible: > 0 and <= 100 C)'
>>> check("cycles_per_mac.mcu", 1.2, "f.yaml", "cores.m.ops.conv2d.cycles_per_mac")
1.2
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from dslsim.errors import InputError

#: Op kinds whose ``macs`` are multiply-accumulates (the others count elements, outputs or nothing): the kinds a
#: cycles-per-MAC range applies to.
MAC_OP_KINDS = ("conv1d", "conv_transpose1d", "conv2d", "depthwise_conv2d", "pointwise_conv2d", "linear",
                "vq_search")


def _num(x: float, unit: str) -> str:
    """A bound as written: cycles per MAC below 1 as a fraction (1/256 reads better than 0.00390625)."""
    if unit == "cycles/MAC" and 0 < x < 0.05 and abs(1 / x - round(1 / x)) < 1e-9:
        return f"1/{round(1 / x)}"
    return f"{x:g}"


class PlausibilityWarning(UserWarning):
    """A number outside the range dslsim expects for it: possible, but more often a typo or a unit slip."""


@dataclass(frozen=True)
class Range:
    """The plausible and the possible span of one physical quantity, in the unit it is shown in."""

    what: str
    """What the number is, for messages ('cycles per MAC on a microcontroller core')."""
    unit: str
    """The unit the bounds are written and shown in ('cycles/MAC', 'uA/MHz', 'C')."""
    scale: float
    """Shown value = SI value x scale (1e12 turns A/Hz into uA/MHz)."""
    low: float | None
    """Smallest plausible value (None: no lower bound)."""
    high: float | None
    """Largest plausible value (None: no upper bound)."""
    source: str
    """Where the plausible span comes from."""
    possible_low: float | None = None
    """Below this the value is impossible and refused (None: only the loader's own checks)."""
    possible_high: float | None = None
    """Above this the value is impossible and refused."""
    low_inclusive: bool = False
    """Whether ``possible_low`` itself is possible (0 mA is a current; 0 kHz is no speed)."""
    why_impossible: str = ""
    """Why values beyond the possible span cannot be right."""

    def describe(self) -> str:
        """The plausible span, and the possible one where it is bounded, in words."""
        if self.low is not None and self.high is not None:
            span = f"{_num(self.low, self.unit)} to {_num(self.high, self.unit)} {self.unit}"
        elif self.low is not None:
            span = f"at least {_num(self.low, self.unit)} {self.unit}"
        else:
            span = f"at most {_num(self.high, self.unit)} {self.unit}"
        possible = self.possible_span()
        return f"{span} (possible: {possible})" if possible else span

    def possible_span(self) -> str:
        """The possible span as bounds ('> 0 and <= 100 C'), or '' when only the loader's checks bound it."""
        bounds = []
        if self.possible_low is not None:
            bounds.append(f"{'>=' if self.low_inclusive else '>'} {_num(self.possible_low, self.unit)}")
        if self.possible_high is not None:
            bounds.append(f"<= {_num(self.possible_high, self.unit)}")
        return f"{' and '.join(bounds)} {self.unit}".rstrip() if bounds else ""


#: The table: one entry per quantity (``docs/input-safety.md`` prints it with ``python -m dslsim.plausible``).
RANGES: dict[str, Range] = {
    "cycles_per_mac.mcu": Range(
        "cycles per MAC on a microcontroller core (kind mcu)", "cycles/MAC", 1.0, 0.1, 50.0,
        "Arm Cortex-M55/M85 with Helium (MVE) retire at most 8 int8 MACs per cycle (0.125 cycles/MAC); the shipped "
        "calibrations of Cortex-M4F, M7 and M33 kernels give 0.83 to 1.38 (docs/validation.md); plain C kernels on "
        "cores without SIMD take several cycles per MAC",
        possible_low=1.0 / 32,
        why_impossible="32 MACs per cycle is four times the widest microcontroller datapath (Helium's 8); a clock "
                       "or a latency in the wrong unit, or an accelerator that should be a core of kind 'npu'"),
    "cycles_per_mac.dsp": Range(
        "cycles per MAC on a DSP core (kind dsp)", "cycles/MAC", 1.0, 1.0 / 256, 20.0,
        "Cadence HiFi 5: 32 16x8-bit MACs per cycle; Qualcomm Hexagon HVX: 1024-bit vectors of 128 int8 lanes per "
        "slot; GAP9 measured at 15.1 int8 MACs per cycle on MLPerf Tiny KWS (the shipped earbud profile)",
        possible_low=1.0 / 2048,
        why_impossible="2048 MACs per cycle is eight times the widest DSP vector unit; a clock or a latency in the "
                       "wrong unit, or an accelerator that should be a core of kind 'npu'"),
    "cycles_per_mac.cpu": Range(
        "cycles per MAC on an application CPU core (kind cpu)", "cycles/MAC", 1.0, 1.0 / 64, 50.0,
        "Armv8.2 SDOT: 16 int8 MACs per 128-bit instruction, two to four SIMD pipes in a big core (at most 64 per "
        "cycle); the shipped phone profile's Cortex-A55 and A76 use 4 and 16",
        possible_low=1.0 / 4096,
        why_impossible="4096 MACs per cycle is beyond even a matrix extension (Arm SME outer products, ~1000 per "
                       "cycle); a clock or a latency in the wrong unit"),
    "cycles_per_mac.npu": Range(
        "cycles per MAC on a neural accelerator (kind npu)", "cycles/MAC", 1.0, 1.0 / 4096, 1.0,
        "Arm Ethos-U55: 32 to 256 MACs per cycle, Ethos-U65: up to 512, Ethos-U85: up to 2048 (Arm product "
        "briefs); an accelerator slower than 1 MAC per cycle is slower than the CPU beside it",
        possible_low=1.0 / 65536,
        why_impossible="65536 MACs per cycle is 32 times the largest Ethos-U; a clock or a latency in the wrong "
                       "unit"),
    "run_current_per_mhz": Range(
        "a run current per MHz of clock at the supply pins", "uA/MHz", 1e12, 1.0, 5000.0,
        "Ambiq Apollo4, about 4 uA/MHz, is the lowest published microcontroller figure (the shipped earbud); STM32U5 "
        "datasheet Run currents are 20 to 80 uA/MHz (DS13737); a phone's fastest core draws about 800 uA/MHz at "
        "the battery (Pixel 6 X1 at 2.63 GHz, its power_profile.xml)",
        possible_low=0.0,
        why_impossible="a running core draws more current at a higher clock (it switches more often): no part per "
                       "MHz is a table whose currents do not grow with the clock, a sign slip, or a floor above "
                       "the measured current"),
    "idle_current_per_mhz": Range(
        "a clock-gated (Sleep) current per MHz at the supply pins", "uA/MHz", 1e12, 0.0, 5000.0,
        "no core draws more per MHz while waiting than the 5000 uA/MHz allowed while running",
        possible_low=0.0, low_inclusive=True,
        why_impossible="a current drawn is not negative (it would cancel the floor's)"),
    "floor_current": Range(
        "a clock-independent (floor) current of a Run or Sleep operating point at the supply pins", "mA", 1e3,
        0.0, 50.0,
        "the shipped datasheet tables fit floors of 0 to 0.91 mA (STM32U575: DS13737 Tables 38 and 45; STM32H7A3: "
        "DS13195 Tables 35 and 39; 0 where a range's rows lie far from 0 Hz), and the H7A3's whole Run current at "
        "280 MHz is 33.5 mA (DS13195 Table 35): a floor above 50 mA is more than a large microcontroller draws in "
        "all",
        possible_low=0.0, low_inclusive=True,
        why_impossible="a board draws current at 0 Hz, it does not give it back: a floor below zero is a line "
                       "extrapolated far below its clocks, or a sign slip"),
    "c_rate": Range(
        "a discharge rate of a cell, in C (current / nominal capacity)", "C", 1.0, 1e-4, 20.0,
        "coin cells are rated near C/1000 (Energizer CR2032: 235 mAh into 15 kOhm, about 0.2 mA); high-power "
        "Li-ion cells at about 10 C continuous (Molicel INR-18650-P42A: 45 A from 4.2 Ah)",
        possible_low=0.0, possible_high=100.0,
        why_impossible="no lithium cell delivers its capacity at over 100 C (a full discharge in 36 s); a current "
                       "or a capacity in the wrong unit"),
    "cell_capacity": Range(
        "the capacity of a battery cell", "mAh", 1000.0, 5.0, 20000.0,
        "from coin and ring cells (CR1025: about 30 mAh) to tablet packs (about 10 Ah); the shipped profiles hold "
        "49.7 mAh (earbud) to 4614 mAh (phone)",
        possible_low=0.0, why_impossible="a cell that holds no charge powers nothing"),
    "kinetic_k": Range(
        "the rate constant k of a kinetic battery model", "1/s", 1.0, 1e-6, 1e-1,
        "the Enertech Li-ion cell shipped with dslsim fits k = 1.5e-4 /s (docs/battery.md); below 1e-6 /s the "
        "bound charge takes weeks to flow (the cell is one of capacity c x C), above 0.1 /s the wells even out "
        "within seconds (the cell is the ideal reservoir)"),
    "converter_efficiency": Range(
        "the efficiency of a switching converter", "", 1.0, 0.5, 1.0,
        "TI TPS62840 (buck) and TPS63900 (buck-boost) stay above 80 % from 1 uA of load (TI datasheet, white "
        "paper SLYY203B; both cited by the shipped earbud)"),
    "android_speed_khz": Range(
        "a CPU speed in an Android power_profile.xml", "kHz", 1.0, 1e4, 5e6,
        "phone CPU clusters run from about 300 MHz to about 3.3 GHz (the Pixel 6's power_profile.xml lists 300 MHz "
        "to 2.63 GHz)",
        possible_low=0.0, possible_high=1e7,
        why_impossible="the file lists speeds in kHz: 0 kHz runs nothing, and 1e7 kHz is 10 GHz, beyond any CPU "
                       "(a speed given in Hz?)"),
    "android_current_ma": Range(
        "a current in an Android power_profile.xml", "mA", 1.0, 0.0, 5000.0,
        "a phone's fastest core at its top speed draws about 2 A from the battery (Pixel 6 X1: 2050 mA at 2.63 GHz "
        "in its power_profile.xml); the whole phone's peak is a few A",
        possible_low=0.0, low_inclusive=True,
        why_impossible="a current drawn from the battery is not negative (a negative entry would cancel others in "
                       "the sums the import makes)"),
}


def _shown(value: float, rng: Range) -> str:
    return f"{value * rng.scale:.4g} {rng.unit}".rstrip()


def check(key: str, value: float, source: Any, key_path: str, context: str = "") -> float:
    """``value`` (SI) once it is within the possible span of :data:`RANGES` ``[key]``; an :class:`InputError`
    naming ``source`` and ``key_path`` if it is not, a :class:`PlausibilityWarning` (one sentence with the range
    and its source) if it is possible but not plausible. ``context`` adds what the value was derived from."""
    rng = RANGES[key]
    shown = value * rng.scale
    found = f"{_shown(value, rng)}{f' ({context})' if context else ''}"
    if not math.isfinite(shown):
        raise InputError(source, key_path, found, f"a finite {rng.what}")
    too_low = rng.possible_low is not None and (shown < rng.possible_low if rng.low_inclusive
                                                 else shown <= rng.possible_low)
    if too_low or (rng.possible_high is not None and shown > rng.possible_high):
        bound = (f"{'at least' if rng.low_inclusive else 'above'} {_num(rng.possible_low, rng.unit)} {rng.unit}"
                 if too_low else f"at most {_num(rng.possible_high, rng.unit)} {rng.unit}")
        raise InputError(source, key_path, found, f"{rng.what} {bound}: {rng.why_impossible}")
    if (rng.low is not None and shown < rng.low) or (rng.high is not None and shown > rng.high):
        warn(f"{source}: {key_path}: {found} is outside the plausible range of {rng.what}, {rng.describe()} "
             f"({rng.source}); "
             f"check it.")
    return value


def warn(message: str) -> None:
    """Say ``message`` once: inside a dslsim command as one 'warning:' line on stderr (once per command, however
    often the same number is loaded), elsewhere as a :class:`PlausibilityWarning`."""
    try:
        import click

        ctx = click.get_current_context(silent=True)
    except ImportError:  # pragma: no cover - click is a dependency; a library user without it gets warnings
        ctx = None
    if ctx is None:
        warnings.warn(message, PlausibilityWarning, stacklevel=3)
        return
    shown = ctx.find_root().meta.setdefault("dslsim.plausible.shown", set())
    if message not in shown:
        shown.add(message)
        click.echo(f"warning: {message}", err=True)


def table_markdown() -> str:
    """The table of :data:`RANGES` as Markdown (docs/input-safety.md)."""
    rows = ["| quantity | plausible (warned outside) | possible (refused outside) | source of the range |",
            "|---|---|---|---|"]
    for rng in RANGES.values():
        plausible = rng.describe().split(" (possible")[0]
        possible = rng.possible_span() or "(the loader's own checks)"
        rows.append(f"| {rng.what} | {plausible} | {possible} | {rng.source} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(table_markdown(), end="")
