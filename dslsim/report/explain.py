"""Where a run's figures come from: the largest contributors to its battery draw, each with the profile numbers
(key paths) behind it and their ``source`` / ``assumed`` notes.

The battery draw sets the always-on power's battery-side figure, the battery life (inversely) and the charge per
day, so one table of contributors explains all of them: a contributor with 62 % of the draw is 62 % of what
shortens the battery life. Each core's energy is split by what it pays for (running, waiting, each sleep state,
wake-up transitions, dynamic energy per op); the platform floor by item; rail-side loads are counted at the
battery, converter losses included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dslsim.hw.sources import provenance_rows
from dslsim.sim.results import SimResult
from dslsim.yamldoc import load_yaml

#: How each resource component is named in an explanation.
WHAT = {"active": "running", "idle": "waiting (clock-gated or busy-polling)", "transitions": "wake-up transitions",
        "dynamic": "energy per op", "wake": "waking"}


def _notes(profile_file: str) -> list[dict[str, str]]:
    """Every number of the profile file with its notes (none for a profile given in code)."""
    if not profile_file or not Path(profile_file).is_file():
        return []
    try:
        return provenance_rows(load_yaml(profile_file))
    except Exception:  # an explanation never fails a run that succeeded; it names the key paths alone then
        return []


def _sources_of(keys: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    """The notes covering ``keys`` (numbers' paths, or mappings': every number under them), each note once."""
    found = [r for key in keys for r in rows   # in the order of the keys: the state's own numbers first
             if r["key"] == key or r["key"].startswith(key + ".") or r["key"].startswith(key + "[")]
    notes = []
    for r in found:
        note = r["source"] or (f"assumed: {r['assumed']}" if r["assumed"] else "")
        if r["source"] and r["assumed"]:
            note += f" (assumed: {r['assumed']})"
        if note and note not in notes:
            notes.append(note)
    return " | ".join(notes) if notes else "no source in the profile"


def contributors(result: SimResult, top: int | None = 8) -> pd.DataFrame:
    """The run's battery draw split into contributors, largest first (``top`` of them and the rest summed):
    contributor, mW at the battery, share of the draw (%), the profile key paths and their sources."""
    meta: dict[str, Any] = result.meta
    s = result.summary
    eff = meta.get("converter_efficiency", 1.0) or 1.0
    sources = meta.get("sources", {})
    t = s.duration_s
    rows = []
    for (resource, component), energy in result.resources.groupby(["resource", "component"], sort=False)[
            "energy_J"].sum().items():
        watts = energy / t / eff
        if watts <= 0:
            continue
        opp = result.resources.loc[result.resources["resource"] == resource, "opp"].iloc[0]
        what = WHAT.get(component, f"in {component}")
        where = f" at {opp}" if opp and component in ("active", "idle", "dynamic") else ""
        rows.append((f"{resource} {what}{where}", watts, tuple(sources.get(resource, {}).get(component, ()))))
    for item, watts in meta.get("floor", {}).items():
        rows.append((f"platform floor: {item}", watts / eff, (f"platform.floor.{item}",)))
    for item, watts in meta.get("battery_floor", {}).items():
        rows.append((f"platform floor at the battery: {item}", watts, (f"platform.floor.{item}",)))
    notes = _notes(meta.get("profile_file", ""))
    total = s.battery_power_W
    df = pd.DataFrame(rows, columns=["contributor", "power_W", "key_paths"]).sort_values(
        "power_W", ascending=False, kind="stable").reset_index(drop=True)
    if top is not None and len(df) > top:
        rest = df.iloc[top:]
        df = pd.concat([df.iloc[:top], pd.DataFrame([(f"{len(rest)} others", rest["power_W"].sum(), ())],
                                                     columns=df.columns)], ignore_index=True)
    return pd.DataFrame({
        "contributor": df["contributor"],
        "battery_mW": 1e3 * df["power_W"],
        "share_pct": 100.0 * df["power_W"] / total if total > 0 else float("nan"),
        "key_paths": [", ".join(k) for k in df["key_paths"]],
        "sources": [_sources_of(keys, notes) if keys else "" for keys in df["key_paths"]],
    })


def explain_text(result: SimResult, top: int = 8, width: int = 110) -> str:
    """The contributors as text: one line per contributor, its key paths and sources indented under it."""
    df = contributors(result, top)
    s = result.summary
    lines = [f"  where the battery draw ({1e3 * s.battery_power_W:.3f} mW) comes from, largest first:"]
    for r in df.itertuples(index=False):
        lines.append(f"  {r.share_pct:5.1f} %  {r.battery_mW:9.4f} mW  {r.contributor}")
        if r.key_paths:
            lines.append(f"           {r.key_paths}")
            text = r.sources
            lines.append("           from: " + (text if len(text) <= width else text[: width - 3] + "..."))
    return "\n".join(lines)
