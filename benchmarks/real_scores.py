"""Measure the packaged VAD and wake-word models on seeded always-on scenes (docs/real-scores.md).

For each seed, background and speech source (recorded prompts from --speech-dir, and dslsim's generated speech),
one scene is built (the scene ``dslsim trace score --scene-seconds S --seed N --background B`` scores) and every
model is run over it with the code ``trace score`` uses. Per scene and model it records: calls, the share of
calls labelled speech, the fire share on speech calls, on non-speech calls within 1 s of speech and on non-speech
calls at least 1 s from any speech (the VAD sees 0.74 s of past audio, so it fires on past speech), detections
(quiet-to-fire edges) at the model's default threshold, the score's upper quantiles and maximum, and per-call wall
time (median and 99th percentile) of the package call. One CSV row per scene and model; a summary per model and
condition is printed as Markdown.

    python benchmarks/real_scores.py --speech-dir data/speech/wb/fr_CA_f_June --seeds 1 2 3 --seconds 600 \\
        --csv real-scores.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np

#: Non-speech calls closer than this to a speech call (either side) count as "near speech".
NEAR_S = 1.0


def distance_to_speech(labels: np.ndarray, period: float) -> np.ndarray:
    """Per call, seconds to the nearest call labelled speech (inf when there is none)."""
    n = len(labels)
    idx = np.arange(n)
    last = np.where(labels, idx, -1)
    last = np.maximum.accumulate(last)
    nxt = np.where(labels, idx, n * 10)
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    before = np.where(last >= 0, idx - last, np.inf)
    after = np.where(nxt < n * 10, nxt - idx, np.inf)
    return np.minimum(before, after) * period


def one_scene(audio: np.ndarray, labels10: np.ndarray, model: str, meta: dict) -> dict:
    from dslsim.model import scores as sc

    t0 = time.perf_counter()
    result = sc.score_audio(audio, model)
    run_s = time.perf_counter() - t0
    per_call = sc.call_labels(result, labels10)
    trace = sc.scores_trace(result, labels=per_call)
    summary = sc.summarize(trace)
    s = result.score
    scored = ~np.isnan(s)
    fires = (trace.frames["path"] == sc.FIRE).to_numpy()
    period = 1.0 / result.spec.call_rate_hz
    dist = distance_to_speech(per_call, period)
    near = scored & ~per_call & (dist < NEAR_S)
    far = scored & ~per_call & (dist >= NEAR_S)
    speech = scored & per_call
    edges = fires & ~np.concatenate([[False], fires[:-1]])          # the calls that start a detection
    wall, cpu = result.wall_s * 1e6, result.cpu_s * 1e6
    q = np.quantile(s[scored], [0.5, 0.99, 0.999]) if scored.any() else [np.nan] * 3
    return {**meta, "model": model, "threshold": result.spec.threshold, "calls": len(result),
            "scored": int(scored.sum()), "hours": trace.duration / 3600.0,
            "speech_calls": int(speech.sum()), "near_calls": int(near.sum()), "far_calls": int(far.sum()),
            "fire_speech": int(fires[speech].sum()), "fire_near": int(fires[near].sum()),
            "fire_far": int(fires[far].sum()), "detections": round(summary.fires_per_hour * trace.duration / 3600),
            "detections_far": int(np.count_nonzero(edges & (dist >= NEAR_S))),
            "at_threshold": int(np.count_nonzero(s[scored] == result.spec.threshold)),
            "score_p50": float(q[0]), "score_p99": float(q[1]), "score_p999": float(q[2]),
            "score_max": float(np.nanmax(s)) if scored.any() else np.nan,
            "score_max_speech": float(s[speech].max()) if speech.any() else np.nan,
            "score_max_far": float(s[far].max()) if far.any() else np.nan,
            "wall_median_us": float(np.median(wall)), "wall_p99_us": float(np.percentile(wall, 99)),
            "cpu_median_us": float(np.median(cpu)), "cpu_p99_us": float(np.percentile(cpu, 99)),
            "frontend_us_per_10ms": 1e6 * result.frontend_wall_s, "run_s": run_s}


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f} %" if den else "-"


def report(rows: list[dict]) -> str:
    """Markdown tables: the VAD by condition and background; every model's fires and scores by condition."""
    out = []
    vad = [r for r in rows if r["model"] == "vad"]
    if vad:
        out += ["| speech | background | speech calls | fires on speech | non-speech < 1 s from speech | "
                "non-speech >= 1 s from speech | detections / h |", "|---|---|---|---|---|---|---|"]
        for cond in sorted({r["speech"] for r in vad}):
            for bg in sorted({r["background"] for r in vad}):
                g = [r for r in vad if r["speech"] == cond and r["background"] == bg]
                if not g:
                    continue
                tot = {k: sum(r[k] for r in g) for k in ("scored", "speech_calls", "fire_speech", "near_calls",
                                                         "fire_near", "far_calls", "fire_far", "detections")}
                hours = sum(r["hours"] for r in g)
                out.append(f"| {cond} | {bg} | {_pct(tot['speech_calls'], tot['scored'])} | "
                           f"{_pct(tot['fire_speech'], tot['speech_calls'])} | {_pct(tot['fire_near'], tot['near_calls'])} | "
                           f"{_pct(tot['fire_far'], tot['far_calls'])} | {tot['detections'] / hours:,.0f} |")
        out.append("")
    out += ["| model | speech | hours | threshold | detections | per hour | of them >= 1 s from speech | score p50 / "
            "p99 / p99.9 (median over scenes) | max score | max score >= 1 s from speech | calls exactly at "
            "threshold |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        for cond in sorted({r["speech"] for r in rows}):
            g = [r for r in rows if r["model"] == model and r["speech"] == cond]
            if not g:
                continue
            hours = sum(r["hours"] for r in g)
            det = sum(r["detections"] for r in g)
            med = [float(np.median([r[k] for r in g])) for k in ("score_p50", "score_p99", "score_p999")]
            out.append(f"| {model} | {cond} | {hours:.2f} | {g[0]['threshold']:g} | {det} | {det / hours:.2f} | "
                       f"{sum(r['detections_far'] for r in g)} | {med[0]:.4f} / {med[1]:.4f} / {med[2]:.4f} | "
                       f"{max(r['score_max'] for r in g):.4f} | {np.nanmax([r['score_max_far'] for r in g]):.4f} | "
                       f"{sum(r['at_threshold'] for r in g)} |")
    out += ["", "| model | calls | wall per call, median of scene medians | 99th percentile (median over scenes) | "
            "CPU per call, median / 99th percentile | front end per 10 ms (wall) |", "|---|---|---|---|---|---|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        g = [r for r in rows if r["model"] == model]
        front = np.median([r["frontend_us_per_10ms"] for r in g])
        out.append(f"| {model} | {sum(r['calls'] for r in g):,} | {np.median([r['wall_median_us'] for r in g]):.0f} us | "
                   f"{np.median([r['wall_p99_us'] for r in g]):.0f} us | "
                   f"{np.median([r['cpu_median_us'] for r in g]):.0f} / {np.median([r['cpu_p99_us'] for r in g]):.0f} us | "
                   f"{f'{front:.0f} us' if front else 'inside the call'} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    from dslsim.cli.score_cmd import SCENE_SEED_SPACE
    from dslsim.model import scores as sc
    from dslsim.model.data import BACKGROUNDS, SpeechCorpus, scene

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speech-dir", action="append", default=[], help="recorded speech (validation voice)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--backgrounds", nargs="+", default=list(BACKGROUNDS), choices=BACKGROUNDS)
    ap.add_argument("--models", nargs="+", default=list(sc.MODELS), choices=sc.MODELS)
    ap.add_argument("--no-generated", action="store_true", help="only the recorded speech")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args(argv)

    sources = [("recorded", SpeechCorpus.from_dirs(args.speech_dir, sc.SAMPLE_RATE))] if args.speech_dir else []
    if not args.no_generated:
        sources.append(("generated", None))
    rows = []
    print(f"# {platform.processor() or platform.machine()}, Python {sys.version.split()[0]}, "
          f"{len(args.seeds)} seeds x {len(args.backgrounds)} backgrounds x {len(sources)} speech sources x "
          f"{args.seconds:g} s", file=sys.stderr)
    for cond, corpus in sources:
        for bg in args.backgrounds:
            for seed in args.seeds:
                built = scene(args.seconds, sc.SAMPLE_RATE, (SCENE_SEED_SPACE, seed), hop=sc.CHUNK_SAMPLES,
                              corpus=corpus, background_kind=BACKGROUNDS.index(bg))
                meta = {"speech": cond, "background": bg, "seed": seed, "seconds": args.seconds}
                for model in args.models:
                    row = one_scene(built.audio, built.labels, model, meta)
                    rows.append(row)
                    print(f"{cond:9s} {bg:10s} seed {seed} {model:11s} fires speech "
                          f"{_pct(row['fire_speech'], row['speech_calls']):>7s} far {_pct(row['fire_far'], row['far_calls']):>7s} "
                          f"det {row['detections']:4d} max {row['score_max']:.3f} "
                          f"{row['wall_median_us']:.0f} us/call ({row['run_s']:.1f} s)", file=sys.stderr, flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    print(report(rows))


if __name__ == "__main__":
    main()
