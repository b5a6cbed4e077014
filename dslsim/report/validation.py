"""docs/validation.md: the leave-one-benchmark-out table, written from the validation DataFrame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _pct(x: float) -> str:
    return f"{x:+.1f} %"


def _share(x: float) -> str:
    return f"{100 * x:.0f} %"


def validation_markdown(df: pd.DataFrame, summary: dict[str, float], calibration, data, command: str,
                        clocks: pd.DataFrame, by_clock: pd.DataFrame) -> str:
    """The whole of docs/validation.md (regenerated, never edited by hand): the leave-one-benchmark-out table
    (``df``, ``summary``) and the leave-one-clock-out table of the datasheets' current tables (``clocks``,
    ``by_clock``)."""
    lines = [
        "# Validation against measured silicon",
        "",
        f"*Written by `{command}`; the test suite recomputes it and fails if it differs. Do not edit by hand.*",
        "",
        "dslsim's device model is checked where power engineers check it: against published measurements. The",
        f"measurements are in [`{_shown(data.path)}`](../{_shown(data.path)}): {data.name}.",
        "Each row below is a benchmark **left out**: the per-op cycle costs and each board's run current were",
        "calibrated on the other three benchmarks (all four boards together), then the left-out model was turned",
        "into a trace from its TFLite file (`dslsim trace from-model`) and simulated by the full simulator on the",
        "calibrated profile at the measured clock, back to back as MLPerf Tiny runs it.",
        "",
        "| board | benchmark | clock | latency measured | predicted | error | energy measured | predicted | error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in df.itertuples(index=False):
        lines.append(f"| {r.system} | {r.benchmark} | {r.clock_MHz:g} MHz | {r.latency_ms:.4g} ms | "
                     f"{r.predicted_latency_ms:.4g} ms | {_pct(r.latency_err_pct)} | {r.energy_uJ:.5g} uJ | "
                     f"{r.predicted_energy_uJ:.5g} uJ | {_pct(r.energy_err_pct)} |")
    lines += [
        "",
        f"**Latency: median |error| {summary['latency_median_abs_err_pct']:.1f} %, largest "
        f"{summary['latency_max_abs_err_pct']:.1f} %. Energy per inference: median |error| "
        f"{summary['energy_median_abs_err_pct']:.1f} %, largest {summary['energy_max_abs_err_pct']:.1f} %.** "
        f"Within 5 %: {_share(summary['latency_within_5_pct'])} of latencies, "
        f"{_share(summary['energy_within_5_pct'])} of energies; within 10 %: "
        f"{_share(summary['latency_within_10_pct'])} and {_share(summary['energy_within_10_pct'])}. "
        "(Target: median at most 15 %, none worse than 30 %.)",
        "",
        "This table checks each board at the one clock it was measured at, running back to back: it tests the cycle",
        "model and the run power at that clock, not what changes with the clock. The next table does.",
        "",
        "## Other clocks: leave one clock out of the datasheets' current tables",
        "",
        "An MCU draws, per voltage range, a clock-independent floor (regulator, flash, SRAM, oscillators, the PLL",
        "where the range uses one) and a part per MHz, in Run and in Sleep (clock-gated WFI) separately; the",
        "datasheets tabulate both against HCLK (typ, 25 °C). `dslsim calibrate` fits, per state, a floor for every",
        "range and one switched capacitance for all of them (the part per MHz goes with Vcore² through an SMPS,",
        "with Vcore through an LDO), on relative error, floors not below zero; a range tabulated at two clocks",
        "(or one) leans on the shared capacitance. The floor is the whole MCU supply's (VDD) with its peripherals",
        "off, as the tables are measured: regulator, flash, SRAM, oscillators, the PLL where the range uses one. A",
        "peripheral the scenario keeps streaming (an audio interface and its DMA) adds its own table current; the",
        "board beyond the MCU rail is not in it. Each row below is a tabulated point **left out** and predicted",
        "from the others (`dslsim/calibration/currents.py`).",
        "",
        "| board | state | predictions | median abs error | largest | within 5 % | within 10 % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in by_clock.itertuples(index=False):
        bold = "**" if r.board == "all" else ""
        lines.append(f"| {bold}{r.board}{bold} | {r.state} | {r.predictions} | {r.median_abs_err_pct:.1f} % | "
                     f"{r.max_abs_err_pct:.1f} % | {_share(r.within_5_pct)} | {_share(r.within_10_pct)} |")
    lines += [
        "",
        "Tables used (the transcriptions in "
        "[`dslsim/data/validation/datasheets/`](../dslsim/data/validation/datasheets/), picked in the measurement "
        "file): " + "; ".join(f"{name}: " + ", ".join(t.source.split(":")[0].split(". ")[0] + f" ({state})"
                                                      for state, t in s.datasheet.tables.items())
                              for name, s in data.systems.items() if s.datasheet is not None) + ".",
        "Boards without tables: " + (", ".join(name for name, s in data.systems.items() if s.datasheet is None)
                                     or "none") + " (their Run and Sleep currents at other clocks are assumed).",
        "",
        "<details><summary>Every prediction</summary>",
        "",
        "| board | state | range | clock | datasheet | predicted | error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in clocks.itertuples(index=False):
        lines.append(f"| {r.board} | {r.state} | {r.range} | {r.clock_MHz:g} MHz | {r.current_mA:.4g} mA | "
                     f"{r.predicted_mA:.4g} mA | {_pct(r.err_pct)} |")
    lines += [
        "",
        "</details>",
        "",
        "## The model that is calibrated",
        "",
        "Cycles of one inference on board k = s_k x (c_mac x MACs + c_out x output elements + c_op x op invocations),",
        "summed over the model's ops; the board draws its run power for that time. The shape (c_mac, c_out, c_op) is",
        "shared by the four boards, each has its own speed factor s_k (the same runtime on an M33, an M4F and an M7",
        "differs mostly in cycles per kernel loop, not in which kernels are slow). Fitted on all sixteen",
        "measurements (`dslsim calibrate --out-dir hw_profiles`):",
        "",
        f"* c_mac = {calibration.cycles_per_mac:.4g} cycles per MAC, c_out = {calibration.cycles_per_output:.4g} "
        f"cycles per output element, c_op = {calibration.cycles_per_op:.4g} cycles per op invocation;",
        "* speed factors: " + ", ".join(f"{k} {v:.3f}" for k, v in calibration.speed.items()) + ";",
        "* rail power while running: " + ", ".join(f"{k} {1e3 * v:.4g} mW" for k, v in calibration.power.items())
        + ".",
        "",
        "The per-output term is what makes a depthwise MAC (9 per output) dearer than a pointwise one (64 or more",
        "per output); with four benchmarks the data cannot separate the MAC kinds further, so every MAC kind has",
        "the same cycles per MAC. The per-invocation term (about 0.1 ms per layer at 160 MHz) dominates the small",
        "dense autoencoder (AD), which is why AD is the hardest benchmark to predict from the other three.",
        "",
        "## Choices and what they rest on",
        "",
        "* **Which submission.** Several submitters ran these boards and disagree by up to 3x in latency and 1.7x in",
        "  energy (runtime, OS, clock and supply differ). Each board uses STMicroelectronics' own newest submission:",
        "  the only submitter with energy for all four benchmarks on all four boards, with one runtime family",
        "  (X-CUBE-AI 9.0 to 10.2). NUCLEO-L4R5ZI-P (v1.3, 3 V external SMPS) is used rather than the older",
        "  NUCLEO-L4R5ZI at 1.8 V, whose rail also feeds more of the board (42 vs 33 mW at the same speed).",
        "* **Dead channels.** The VWW reference weights are about 83 % zeros, whole output channels of them;",
        "  X-CUBE-AI from 8.1 on drops those channels (its reported MACC falls from 7.49 M to 4.65 M), so the traces",
        "  count only MACs of channels with a non-zero weight (`dead_channels: skip`; VWW 4.36 M of 7.49 M). The",
        "  other three models have no dead channels. A runtime that keeps them needs `dead_channels: keep`.",
        "* **What the energy includes.** The MCU supply rail as the MLPerf Tiny energy runner measured it (core,",
        "  regulator, flash, SRAM, clocks), with no idle baseline subtracted. Where the board has current tables,",
        "  the profile keeps the datasheet's floor of each range and multiplies only the part per MHz by the",
        "  network's factor over the datasheet's code (the measured power at the measured clock, less the floor,",
        "  over the tables' part per MHz there): a network moves more data per cycle than the datasheet's code.",
        "  Sleep keeps the tables' own floor and slope. Without tables the whole measured power is one figure per",
        "  MHz, marked assumed in the profile: right at the measured clock, too steep below it.",
        "* **Validated:** the cycle model and run power at each board's measured clock (first table); the Run and",
        "  Sleep current model across clocks and voltage ranges on boards with tables (second table).",
        "* **Not validated here:** Stop and other sleep states (their currents are the datasheets', not checked",
        "  against a measurement), the audio front end on an MCU (MLPerf Tiny feeds precomputed features), the",
        "  network's factor at other clocks (assumed constant), and any clock change on a board without tables.",
        "",
        "## Where each figure comes from",
        "",
        "| board | benchmark | file (MLCommons results repository) |",
        "|---|---|---|",
    ]
    for r in df.itertuples(index=False):
        lines.append(f"| {r.system} | {r.benchmark} | `{r.source}` |")
    lines += ["", "Systems: " + "; ".join(f"{name}: {s.source}" for name, s in data.systems.items()) + ".", ""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """The measurement file as the docs link it: inside the package from the source tree's root, else its name."""
    from dslsim.shipped import DATA

    try:
        return f"dslsim/data/{path.resolve().relative_to(DATA.resolve()).as_posix()}"
    except ValueError:
        return path.name


def battery_markdown(cell, df: pd.DataFrame, fitted, command: str) -> str:
    """The whole of docs/battery.md: the kinetic battery model fitted to a cell's measured discharges, each
    discharge predicted with it left out, the ideal reservoir beside it (regenerated, never edited by hand)."""
    held_out = "kibam_held_out_err_pct" in df
    lines = [
        "# Battery model: validation against measured discharges",
        "",
        f"*Written by `{command}`; the test suite recomputes it and fails if it differs. Do not edit by hand.*",
        "",
        f"Cell: {cell.description.strip()} Measurements: [`{_shown(Path(cell.source_file))}`]"
        f"(../{_shown(Path(cell.source_file))}), each the time from full to the "
        f"{f'{cell.cutoff_v:g} V ' if cell.cutoff_v else ''}cut-off at one constant current.",
        "",
        f"Kinetic battery model (Manwell & McGowan) fitted to all of them: capacity **{fitted.capacity_ah:.4g} Ah**, "
        f"c = **{fitted.c:.4g}**, k = **{fitted.k:.4g} /s** (the wells equalise with time constant "
        f"c (1 − c) / k = {1 / fitted.k_prime / 60:.3g} min). The ideal reservoir is one capacity, "
        f"{_ideal(df):.4g} Ah, with no rate effect.",
        "",
        "| current | C-rate | measured | KiBaM | error | ideal | error |"
        + (" KiBaM, left out | error | ideal, left out | error |" if held_out else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|---|---|" if held_out else ""),
    ]
    for r in df.itertuples(index=False):
        rate = "—" if r.c_rate != r.c_rate else f"{r.c_rate:.3g}C"     # NaN without a nominal capacity
        row = (f"| {1e3 * r.current_A:.4g} mA | {rate} | {r.measured_s:,.0f} s | {r.kibam_s:,.0f} s | "
               f"{r.kibam_err_pct:+.2f} % | {r.ideal_s:,.0f} s | {r.ideal_err_pct:+.2f} % |")
        if held_out:
            row += (f" {r.kibam_held_out_s:,.0f} s | {r.kibam_held_out_err_pct:+.2f} % | {r.ideal_held_out_s:,.0f} s"
                    f" | {r.ideal_held_out_err_pct:+.2f} % |")
        lines.append(row)
    lines += [""]
    if held_out:
        k, i = df["kibam_held_out_err_pct"].abs(), df["ideal_held_out_err_pct"].abs()
        lines += [
            f"**Left out** (fitted on the other discharges, then predicted): KiBaM |error| at most {k.max():.2f} %, "
            f"the ideal reservoir's at most {i.max():.2f} %. The ideal model cannot follow the cell delivering less "
            "charge at higher current; the kinetic one predicts it, including the fastest discharge from the "
            "slower ones alone.",
            "",
        ]
    lines += [
        "What this does and does not show. The measured rate effect is real but small for this cell "
        f"({_delivered(df)}), and an always-on load draws far less than 0.1C (a watch at a few mW from a "
        f"300 mAh cell is about C/300): there the fitted model delivers {_low_rate_share(fitted):.2f} % of its "
        "capacity, so the capacity measured at a low rate is what matters and the ideal reservoir with it is "
        "right. The kinetic model matters for bursty, high-current loads and for recovery during rests. "
        "No published measurement under pulsed load was at hand to validate recovery; that part of the model is "
        "checked against a "
        "numerical integration of its equations (`tests/test_battery.py`), not against a cell.",
        "",
        "Use a fit in a profile as `battery.kinetic: {c: ..., k: ... Hz}` (and the fitted capacity as "
        "`battery.capacity`), sourced to the cell file; `dslsim profiles fit-battery MY-CELL.yaml` prints the "
        "block to paste.",
        "",
    ]
    return "\n".join(lines)


def _ideal(df: pd.DataFrame) -> float:
    return float((df["ideal_s"] * df["current_A"]).iloc[0] / 3600.0)


def _delivered(df: pd.DataFrame) -> str:
    charge = df["measured_s"] * df["current_A"] / 3600.0
    lo, hi = df["current_A"].iloc[0], df["current_A"].iloc[-1]
    return (f"{charge.iloc[0]:.3f} Ah delivered at {1e3 * lo:.4g} mA, {charge.iloc[-1]:.3f} Ah at {1e3 * hi:.4g} mA, "
            f"{100 * (1 - charge.iloc[-1] / charge.iloc[0]):.1f} % less")


def _low_rate_share(fitted) -> float:
    """% of the fitted capacity delivered at a constant C/300."""
    current = fitted.capacity_ah / 300.0
    return 100.0 * fitted.lifetime_constant(current) * current / (fitted.capacity_ah * 3600.0)
