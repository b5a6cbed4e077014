"""Figures (matplotlib, no display needed). Each function returns ``(figure, data)``: the data is the table the
figure draws, so every figure can also be written as CSV or Parquet.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot, so drawing them never selects or
changes the matplotlib backend: in a notebook the user's backend stays as it was, and a figure shows by being the
cell's value (or ``display(fig)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dslsim.sim.results import SimResult

#: One colour per power state, the same in every figure.
STATE_COLORS = {"active": "#d62728", "wake": "#ff7f0e", "idle": "#bcbd22"}
SLEEP_COLORS = ["#1f77b4", "#17becf", "#9467bd", "#7f7f7f", "#393b79", "#6b6ecf", "#8c6d31", "#e377c2"]


def _figure(**kwargs):
    """A new figure outside pyplot's state (no backend chosen, nothing to close)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _patch(color: str, alpha: float = 1.0):
    """A legend handle: a filled rectangle of ``color``."""
    from matplotlib.patches import Rectangle

    return Rectangle((0, 0), 1, 1, color=color, alpha=alpha)


def state_color(state: str, order: list[str]) -> str:
    """Colour of a state: fixed for active/wake/idle, the sleep palette by depth otherwise."""
    if state in STATE_COLORS:
        return STATE_COLORS[state]
    sleeps = [s for s in order if s not in STATE_COLORS]
    return SLEEP_COLORS[sleeps.index(state) % len(SLEEP_COLORS)] if state in sleeps else "#cccccc"


def _states_in(result: SimResult) -> list[str]:
    return list(dict.fromkeys(result.resources.loc[result.resources["time_s"].notna(), "component"]))


def power_over_time(result: SimResult):
    """Per-core power over the recorded window, as a step line over bands coloured by power state."""
    tl = result.timeline
    if tl is None or tl.empty:
        raise ValueError("the result has no timeline; simulate with window=(t0, t1)")
    cores = [r for r in result.meta.get("resources", tl["resource"].unique()) if r in set(tl["resource"])
             and "<->" not in r]
    order = _states_in(result)
    fig = _figure(figsize=(10, 1.8 * (len(cores) + 1) + 0.8))
    axes = fig.subplots(len(cores) + 1, 1, sharex=True, squeeze=False)
    edges, total = total_power(tl, cores)
    top = axes[0, 0]
    top.step(edges, np.r_[total, total[-1:]] * 1e3, where="post", color="black", lw=0.8)
    top.set_yscale("symlog", linthresh=0.01)
    top.set_ylim(0, max(0.02, total.max() * 2e3))
    top.set_ylabel("all cores\nmW")
    for ax, core in zip(axes[1:, 0], cores):
        g = tl[tl["resource"] == core]
        for state, seg in g.groupby("state"):
            for t0, t1 in zip(seg["start_s"], seg["end_s"]):
                ax.axvspan(t0, t1, color=state_color(state, order), alpha=0.25, lw=0)
        xs = np.repeat(np.r_[g["start_s"].to_numpy(), g["end_s"].to_numpy()[-1:]], 2)[1:-1]
        ys = np.repeat(g["power_W"].to_numpy() * 1e3, 2)
        ax.plot(xs, ys, color="black", lw=0.8)
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylim(0, max(0.02, ys.max() * 2))
        ax.set_ylabel(f"{core}\nmW")
    handles = [_patch(state_color(s, order), alpha=0.4) for s in order]
    axes[0, 0].legend(handles, order, ncol=min(len(order), 5), loc="lower left", bbox_to_anchor=(0, 1.02),
                      frameon=False)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    data = tl[tl["resource"].isin(cores)].assign(power_mW=lambda d: d["power_W"] * 1e3)
    return fig, data


def total_power(timeline: pd.DataFrame, cores: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(edges, power in W between consecutive edges): the sum of the cores' power over the window."""
    tl = timeline[timeline["resource"].isin(cores)]
    edges = np.unique(np.r_[tl["start_s"].to_numpy(), tl["end_s"].to_numpy()])
    if len(edges) < 2:
        return np.array([0.0, 0.0]), np.zeros(1)
    mid = (edges[:-1] + edges[1:]) / 2
    total = np.zeros(len(mid))
    for _, g in tl.groupby("resource"):
        starts, ends, power = (g[c].to_numpy() for c in ("start_s", "end_s", "power_W"))
        i = np.searchsorted(starts, mid, side="right") - 1
        inside = (i >= 0) & (mid < ends[np.clip(i, 0, None)])
        total += np.where(inside, power[np.clip(i, 0, None)], 0.0)
    return edges, total


def state_timeline(result: SimResult):
    """Which state each core and link is in, over the recorded window."""
    tl = result.timeline
    if tl is None or tl.empty:
        raise ValueError("the result has no timeline; simulate with window=(t0, t1)")
    names = [r for r in result.meta.get("resources", tl["resource"].unique()) if r in set(tl["resource"])]
    order = _states_in(result)
    fig = _figure(figsize=(10, 0.5 * len(names) + 1.4))
    ax = fig.subplots()
    for i, name in enumerate(names):
        g = tl[tl["resource"] == name]
        ax.broken_barh(list(zip(g["start_s"], g["end_s"] - g["start_s"])), (i - 0.4, 0.8),
                       facecolors=[state_color(s, order) for s in g["state"]])
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)")
    handles = [_patch(state_color(s, order)) for s in order]
    ax.legend(handles, order, ncol=min(len(order), 5), loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    fig.tight_layout()
    return fig, tl


def latency_by_path(result: SimResult):
    """Latency distribution (empirical CDF) of each path, with the deadline."""
    f = result.frames
    fig = _figure(figsize=(8, 3.2))
    ax = fig.subplots()
    q = np.linspace(0, 100, 201)
    data = {"percentile": q}
    for path, g in f[~f["dropped"]].groupby("path", observed=True):
        ms = np.percentile(g["latency_s"].to_numpy() * 1e3, q)
        data[f"{path}_latency_ms"] = ms
        ax.step(ms, q / 100, where="post", label=f"{path} ({len(g):,} frames)")
    ax.axvline(result.summary.deadline_s * 1e3, color="black", ls="--", lw=1, label="deadline")
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of frames at or below")
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig, pd.DataFrame(data)


def path_shares_over_time(result: SimResult, bins: int = 120):
    """Share of frames taking each path, per time bin (stacked): how often each exit, iteration count or
    decoder is used as the input changes. Bins are equal slices of the run, ready times."""
    f = result.frames
    ready = f["ready_s"].to_numpy()
    edges = np.linspace(ready.min(), ready.max() + 1e-12, min(bins, max(len(f), 1)) + 1)
    which = np.clip(np.searchsorted(edges, ready, side="right") - 1, 0, len(edges) - 2)
    names = list(f["path"].cat.categories)
    counts = np.zeros((len(names), len(edges) - 1))
    np.add.at(counts, (f["path"].cat.codes.to_numpy(), which), 1)
    shares = counts / np.maximum(counts.sum(axis=0), 1)
    mid = 0.5 * (edges[:-1] + edges[1:])
    fig = _figure(figsize=(8, 3.0))
    ax = fig.subplots()
    ax.stackplot(mid, shares, labels=names, step="mid")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("share of frames")
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(names), 6))
    fig.tight_layout()
    table = pd.DataFrame({"t_start_s": edges[:-1], "t_end_s": edges[1:],
                          **{f"{name}_share": shares[i] for i, name in enumerate(names)}})
    return fig, table


def energy_by_path(result: SimResult):
    """Energy per frame of each path (active power while running, dynamic op energy, wake-ups and links, as the
    summary counts it), with each path's share of frames in its label."""
    summary = result.summary
    names = list(summary.energy_per_frame_J)
    energy = np.array([summary.energy_per_frame_J[n] for n in names]) * 1e6
    fig = _figure(figsize=(8, 0.5 + 0.45 * len(names)))
    ax = fig.subplots()
    ax.barh(range(len(names)), np.nan_to_num(energy), color="#4c72b0")
    ax.set_yticks(range(len(names)), [f"{n} ({100 * summary.shares.get(n, 0.0):.1f} %)" for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("energy per frame (uJ)")
    fig.tight_layout()
    return fig, pd.DataFrame({"path": names, "share": [summary.shares.get(n, 0.0) for n in names],
                              "energy_per_frame_uJ": energy})


#: Colours of the parts of the battery draw that are not a core's: the platform floor and the converter's loss.
PLATFORM_COLORS = {"floor": "#aaaaaa", "converter loss": "#555555"}


def energy_breakdown(result: SimResult):
    """Mean power drawn from the battery, by where it goes: each core and link (power states, dynamic energy,
    wake-up transitions), the platform floor, and the converter's loss. The bars add up to the battery draw."""
    s = result.summary
    r = result.resources.copy()
    r["part"] = np.where(r["time_s"].notna(), "state: " + r["component"], r["component"])
    r["power_mW"] = 1e3 * r["power_W"]
    table = r.pivot_table(index="resource", columns="part", values="power_mW", aggfunc="sum", sort=False).fillna(0.0)
    table = table.loc[table.sum(axis=1) > 0]
    battery_side = s.floor_battery_side_W
    platform = {"platform floor": ("floor", s.floor_power_W),
                "platform floor (battery side)": ("floor", battery_side),
                "converter": ("converter loss", s.battery_power_W - s.compute_power_W - s.floor_power_W
                              - battery_side)}
    for name, (part, watts) in platform.items():
        if watts > 0:
            table.loc[name] = 0.0
            if part not in table.columns:
                table[part] = 0.0
            table.loc[name, part] = 1e3 * watts
    table = table.fillna(0.0)
    order = _states_in(result)
    colors = [state_color(c[7:], order) if c.startswith("state: ") else
              PLATFORM_COLORS.get(c, "#2ca02c" if c == "dynamic" else "#8c564b") for c in table.columns]
    fig = _figure(figsize=(8, 0.5 * len(table) + 1.6))
    ax = fig.subplots()
    left = np.zeros(len(table))
    for column, color in zip(table.columns, colors):      # stacked bars, one segment per part
        values = table[column].to_numpy(dtype=float)
        ax.barh(range(len(table)), values, left=left, height=0.7, color=color, label=column)
        left += values
    ax.set_yticks(range(len(table)), [str(i) for i in table.index])
    ax.set_ylabel("resource")
    ax.set_xlabel(f"mean power (mW); in all {1e3 * s.battery_power_W:.3f} mW from the battery")
    ax.invert_yaxis()
    ax.legend(ncol=3, fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0))
    fig.tight_layout()
    return fig, table.reset_index()


def battery_comparison(table: pd.DataFrame):
    """Battery life of named configurations (a :func:`~dslsim.report.analysis.baseline_table`)."""
    fig = _figure(figsize=(8, 0.5 * len(table) + 1.2))
    ax = fig.subplots()
    # A configuration that cannot keep up has no battery life: no bar, a label, and it does not set the scale.
    hours = table["battery_life_h"].where(table["keeps_up"])
    ax.barh(table["configuration"], hours.fillna(0.0), color="#1f77b4")
    for y, (h, ok) in enumerate(zip(hours, table["keeps_up"])):
        ax.text(h if ok else 0.0, y, f" {h:,.1f} h" if ok else " cannot keep up: no battery life", va="center",
                fontsize=8, color="black" if ok else "#b00020")
    ax.invert_yaxis()
    ax.set_xlabel("battery life (h)")
    top = hours.max()
    ax.set_xlim(0, (top if top == top and top > 0 else 1.0) * 1.35)
    fig.tight_layout()
    return fig, table


def pareto(df: pd.DataFrame, x: str, y: str, front: pd.Series, label: str | None = None,
           x_label: str | None = None, y_label: str | None = None, feasible: pd.Series | None = None):
    """Scatter of sweep points with the Pareto front drawn and labelled. Points that do not keep up
    (``feasible`` False) are left off the axes, which they would stretch (a growing queue's latency runs to
    seconds), and counted in a note on the figure; the front is drawn among the others only."""
    feasible = feasible if feasible is not None else pd.Series(True, index=df.index)
    shown = df[feasible]
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.scatter(shown[x], shown[y], s=18, color="#999999", label="points that keep up")
    f = shown[front[feasible]].sort_values(x)
    ax.plot(f[x], f[y], "o-", color="#d62728", ms=5, label="Pareto front")
    if label:
        # Labels alternate above and below the line; past a dozen they would overprint, so every n-th is kept
        # (the data file lists every point and whether it is on the front).
        step = max(1, int(np.ceil(len(f) / 12)))
        for k, (_, row) in enumerate(f.iloc[::step].iterrows()):
            ax.annotate(str(row[label]), (row[x], row[y]), fontsize=7, textcoords="offset points",
                        xytext=(5, 6) if k % 2 == 0 else (5, -12))
    left_off = int((~feasible).sum())
    if left_off:
        ax.text(0.99, 0.98, f"{left_off} point{'s' if left_off > 1 else ''} that do not keep up: not drawn "
                f"(see the table)", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#b00020")
    ax.set_xlabel(x_label or x)
    ax.set_ylabel(y_label or y)
    ax.legend(frameon=False, loc="lower left")
    fig.tight_layout()
    return fig, df.assign(on_front=front & feasible, keeps_up=feasible)


def text_color(rgba) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba`` (relative luminance, WCAG)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgba[:3])
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "white"


def heatmap(df: pd.DataFrame, row: str, col: str, value: str, value_label: str | None = None,
            feasible: str | None = "keeps_up"):
    """A metric over two sweep axes (mean over any other axes). Every combination of the axes' values gets a
    cell: one with no finished point says 'missing', one whose points do not keep up (``feasible`` False, so the
    metric is NaN) says so, hatched; neither is dropped from the map."""
    from matplotlib.patches import Rectangle

    rows = list(dict.fromkeys(df[row]))
    cols = list(dict.fromkeys(df[col]))
    table = df.pivot_table(index=row, columns=col, values=value, aggfunc="mean", sort=False, dropna=False)
    table = table.reindex(index=rows, columns=cols)
    count = df.groupby([row, col], sort=False).size().unstack(col).reindex(index=rows, columns=cols)
    bad = (df[~df[feasible].astype(bool)].groupby([row, col], sort=False).size().unstack(col)
           .reindex(index=rows, columns=cols)) if feasible and feasible in df else None
    fig = _figure(figsize=(1.1 * len(table.columns) + 3, 0.5 * len(table) + 2))
    ax = fig.subplots()
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
    ax.set_xlabel(col)
    ax.set_ylabel(row)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.iat[i, j]
            n_bad = 0 if bad is None or not np.isfinite(bad.iat[i, j]) else int(bad.iat[i, j])
            if not np.isfinite(count.iat[i, j]):
                ax.text(j, i, "missing", ha="center", va="center", fontsize=7, color="#555555")
            elif n_bad and not np.isfinite(v):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#b00020"))
                ax.text(j, i, "does not\nkeep up", ha="center", va="center", fontsize=7, color="#b00020")
            elif np.isfinite(v):
                # A cell whose other points do not keep up says how many: its value is the mean of the rest.
                note = f"\n{n_bad}/{int(count.iat[i, j])} do not\nkeep up" if n_bad else ""
                ax.text(j, i, f"{v:.3g}{note}", ha="center", va="center", fontsize=8 if not note else 6,
                        color=text_color(im.cmap(im.norm(v))))
    fig.colorbar(im, ax=ax, label=value_label or value)
    fig.tight_layout()
    return fig, table.reset_index()


#: Colours of a stack's attribution rows: its models', and the rows' that are no model's.
MODEL_COLOR, DEVICE_COLOR = "#4c72b0", "#aaaaaa"


def _share_text(pct: float) -> str:
    """A share of the draw as a bar's label says it: '41.2 %', '0.23 %', a trace of one '<0.01 %'."""
    if pct == 0:
        return "0 %"
    if pct < 0.01:
        return "<0.01 %"
    return f"{pct:.1f} %" if pct >= 1 else f"{pct:.2f} %"


def model_shares(models: pd.DataFrame):
    """Each model's share of a stack's battery draw, and the rows that are no model's (other cores and links, the
    cores at rest, the platform floor), from its attribution table (``SimResult.models``; the total row left out).
    Each bar is labelled with its share, its power at the battery and its % of the battery a day; the bars add up
    to 100 %. A table whose run does not keep up has no battery figures: it is refused (there is no draw to
    share)."""
    rows = models[models["kind"] != "total"]
    if rows["power_mW"].isna().any():
        raise ValueError("the stack does not keep up: it has no battery draw to share between its models")
    share = rows["share_pct"].to_numpy(dtype=float)
    names = [str(p) for p in rows["part"]]
    colors = [MODEL_COLOR if k == "model" else DEVICE_COLOR for k in rows["kind"]]
    fig = _figure(figsize=(8, 0.45 * len(rows) + 1.3))
    ax = fig.subplots()
    ax.barh(range(len(rows)), share, height=0.7, color=colors)
    for y, (pct, mw, day) in enumerate(zip(share, rows["power_mW"], rows["pct_per_day"])):
        ax.text(pct, y, f" {_share_text(pct)}: {mw:.4f} mW, {day:.3f} %/day", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, max(share.max(initial=0.0), 1.0) / 0.62)   # the right part left for the longest bar's label
    total = models.loc[models["kind"] == "total", "power_mW"]
    ax.set_xlabel("share of the battery draw (%)" + (f"; in all {float(total.iloc[0]):.3f} mW from the battery"
                                                     if len(total) else ""))
    ax.legend([_patch(MODEL_COLOR), _patch(DEVICE_COLOR)], ["a model's", "no model's"], frameon=False, fontsize=8,
              ncol=2, loc="lower left", bbox_to_anchor=(0, 1.0))
    fig.tight_layout()
    data = rows[["part", "kind", "share_pct", "power_mW", "mAh_per_day", "pct_per_day"]].reset_index(drop=True)
    return fig, data
