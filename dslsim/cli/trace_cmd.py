"""``dslsim trace``: make synthetic traces and inspect trace files."""

from __future__ import annotations

import click

from dslsim.cli.params import (MAX_PATHS, Number, NumberList, Quantity, Seed, Share, Shares, Subsets, Threshold,
                               option, refuse_inapplicable)
from dslsim.errors import DslsimError


def frontend_options(default: str):
    """--frontend and --decimation: the audio front end prepended to every path (see dslsim.trace.frontend)."""
    def wrap(command):
        command = click.option("--decimation", type=click.Choice(["hardware", "software"]), default="hardware",
                               show_default=True, help="PDM-to-PCM in a hardware block, or a CIC + FIR on the core.")(command)
        return click.option("--frontend", type=click.Choice(["none", "pcm", "logmel", "mfcc"]), default=default,
                            show_default=True,
                            help="Audio front end as a stage 'frontend' before every path: capture only ('pcm'), "
                                 "or capture and features; 'none' leaves it out.")(command)
    return wrap


def _add_frontend(t, frontend: str, decimation: str):
    """``t`` with the chosen front end (capture at the trace's rate and hop), or unchanged for 'none'."""
    if frontend == "none":
        return t
    from dslsim.trace.frontend import frontend_stage, with_frontend

    features = "none" if frontend == "pcm" else frontend
    return with_frontend(t, frontend_stage(t.meta.sample_rate, t.meta.hop, features=features, decimation=decimation))


def _seconds(text: str, what: str) -> float:
    from dslsim.units import parse_quantity

    return parse_quantity(text, "s", f"--{what}", "", strictly_positive=True)


@click.group()
def trace() -> None:
    """Make and inspect per-frame routing traces (Parquet, format v2).

    \b
    Examples:
      dslsim trace synth out.parquet --duration "10 min" --light-share 0.8
      dslsim trace info dsl-75hz-10min
    """


#: Which --kind each kind-specific option of ``trace synth`` is for (given for another kind, it is refused).
SYNTH_APPLIES = {"light_share": ("dsl",), "embed_dim": ("dsl",),
                 "shares": ("early-exit", "iterated-block", "layer-subset"),
                 "steps": ("early-exit", "iterated-block", "layer-subset"),
                 "thresholds": ("early-exit", "iterated-block"), "subsets": ("layer-subset",)}


@trace.command()
@click.argument("out", type=click.Path(dir_okay=False))
@option("--duration", type=Quantity("s", 0, min_open=True), default="10 min", show_default=True,
        help="Length, with a unit ('90 s', '24 h').")
@option("--frame-rate", type=Quantity("Hz", 1e-6, 1e9, bare_unit="Hz"), default="75 Hz", show_default=True,
        help="Frames per second (75 = 24 kHz / 320-sample hop; 50 = 16 kHz).")
@option("--light-share", type=Share(min_open=True, max_open=True), default=0.8, show_default=True,
        help="dsl: target share of frames on the light path (stationary share of the Markov chain).")
@option("--mean-burst", type=Quantity("s", 0, min_open=True), default="0.5 s", show_default=True,
        help="Mean length of a full-path burst (dsl) or of a run at one difficulty (K-path kinds).")
@option("--seed", type=Seed(), default=0, show_default=True, help="Random seed (same seed, same trace).")
@option("--width", default=None, type=click.IntRange(min=1),
        help="Channel width: C of the SoundStream-shaped graph (default 16; 32 = paper size), or of the "
             "K-path kinds' conv blocks (default 64).")
@option("--embed-dim", default=None, type=click.IntRange(min=1), help="dsl: embedding dimension D (default 4C).")
@click.option("--kind", type=click.Choice(["dsl", "early-exit", "iterated-block", "layer-subset"]), default="dsl",
              show_default=True,
              help="dsl: two paths (light, full); early-exit: K exits after a chain of blocks; iterated-block: "
                   "one block run 1..N times; layer-subset: a policy picks which blocks run (--subsets).")
@option("--subsets", default=None, type=Subsets(), metavar="1,1+3,...",
        help="layer-subset: the block subsets the policy picks, one path each (default 1,1+3,1+2+3,1+2+3+4).")
@option("--shares", default=None, type=Shares(), metavar="S1,S2,...",
        help="K-path kinds: each path's share of frames, summing to 1 (default 0.6,0.25,0.15 for early-exit, "
             "0.5,0.3,0.15,0.05 for iterated-block, 0.5,0.25,0.15,0.1 for layer-subset).")
@option("--thresholds", default=None, metavar="T1,...",
        type=NumberList(Threshold(min_open=True, max_open=True), max_items=MAX_PATHS - 1, example="0.8,0.7"),
        help="early-exit, iterated-block: one threshold per decision (K - 1), or one for all (default 0.8 for the "
             "exits' confidence, 0.1 for the iterations' residual).")
@option("--steps", default=16, show_default=True, type=click.IntRange(min=1),
        help="K-path kinds: time steps per frame each block convolves.")
@frontend_options("pcm")
@click.pass_context
def synth(ctx, out, duration, frame_rate, light_share, mean_burst, seed, width, embed_dim, kind, subsets, shares,
          thresholds, steps, frontend, decimation):
    """Write a seeded synthetic trace: Markov routing over an op graph. 'dsl': a two-state chain over a
    DSL-SoundStream (--light-share); 'early-exit' and 'iterated-block': K difficulty levels in bursts (--shares),
    with per-frame scores for every decision (so sweeps can move each threshold) and a per-path error column;
    'layer-subset': the same levels pick block subsets, with no decisions. An option for other kinds than the
    one chosen is refused, not ignored.

    \b
    Examples:
      dslsim trace synth day.parquet --duration "24 h" --light-share 0.8 --mean-burst "0.6 s" --seed 1
      dslsim trace synth ee.parquet --kind early-exit --shares 0.6,0.3,0.1 --thresholds 0.8,0.7 --frame-rate 50
      dslsim trace synth it.parquet --kind iterated-block --shares 0.4,0.3,0.2,0.1
      dslsim trace synth ls.parquet --kind layer-subset --subsets 1,1+2,1+2+3+4 --shares 0.6,0.3,0.1
    """
    from dslsim.trace.io import write_trace

    refuse_inapplicable(ctx, "--kind", kind, SYNTH_APPLIES)
    if kind == "dsl":
        from dslsim.trace.synth import synth_trace

        t = synth_trace(duration=duration, frame_rate=frame_rate, light_share=light_share, mean_burst=mean_burst,
                        seed=seed, width=width or 16, embed_dim=embed_dim or 4 * (width or 16))
    else:
        from dslsim.trace.kpath import early_exit_trace, iterated_block_trace, layer_subset_trace

        make = {"early-exit": early_exit_trace, "iterated-block": iterated_block_trace,
                "layer-subset": layer_subset_trace}[kind]
        options: dict = {}
        if shares:
            options["shares"] = list(shares)
        if thresholds:
            options["thresholds"] = thresholds[0] if len(thresholds) == 1 else list(thresholds)
        if subsets:
            options["subsets"] = ["+".join(map(str, s)) for s in subsets]
            options["blocks"] = max(b for s in subsets for b in s)
        t = make(duration=duration, frame_rate=frame_rate, mean_burst=mean_burst, seed=seed, width=width or 64,
                 steps=steps, **options)
    t = _add_frontend(t, frontend, decimation)
    write_trace(t, out)
    shares_seen = t.frames["path"].value_counts(normalize=True, sort=False)
    click.echo(f"wrote {out}: {len(t):,} frames, {t.duration:.1f} s, "
               + ", ".join(f"{name} {share:.3f}" for name, share in shares_seen.items()))


@trace.command("add-frontend")
@click.argument("trace_in", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--features", type=click.Choice(["none", "logmel", "mfcc"]), default="none", show_default=True,
              help="Feature extraction after capture ('none': the model takes PCM, as a codec does).")
@click.option("--decimation", type=click.Choice(["hardware", "software"]), default="hardware", show_default=True,
              help="PDM-to-PCM in a hardware block, or a CIC + FIR on the core.")
@option("--sample-rate", type=Quantity("Hz", 1.0, 768e3, bare_unit="Hz"), default=None,
        help="Audio sample rate (default: the trace's), e.g. 16000 or '16 kHz'.")
@click.option("--hop", type=click.IntRange(min=1), default=None,
              help="Audio samples per trace frame (default: the trace's hop; 16000 for one 1-s KWS inference).")
@click.option("--feature-hop", type=click.IntRange(min=1), default=320, show_default=True,
              help="Samples between analysis windows.")
@click.option("--n-fft", type=click.IntRange(min=2), default=512, show_default=True)
@click.option("--n-mels", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--n-mfcc", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--arithmetic", type=click.Choice(["fixed", "float32"]), default="fixed", show_default=True,
              help="Features in fixed point (a DSP), or in float32 as an MCU computes them with CMSIS-DSP "
                   "(int16 to float, window, real FFT, magnitude, mel, log, int8), each step costed by its own op "
                   "kind (vector, fft, magnitude, filterbank, log, overhead).")
@click.pass_context
def add_frontend(ctx, trace_in, out, features, decimation, sample_rate, hop, feature_hop, n_fft, n_mels, n_mfcc,
                 arithmetic):
    """Prepend the audio front end (capture, decimation, features) to every path, as a stage named 'frontend'.

    Place it like any stage: 'placement: {frontend: dsp}'. Op counts are in docs/trace-format.md.

    \b
    Examples:
      dslsim trace add-frontend dsl-75hz-10min dsl-fe.parquet --decimation software
      dslsim trace add-frontend kws.parquet kws-fe.parquet --features mfcc --hop 16000 --feature-hop 320
      dslsim trace add-frontend kws.parquet kws-mcu.parquet --features logmel --arithmetic float32 --n-fft 1024
    """
    from dslsim.trace.frontend import frontend_stage, with_frontend
    from dslsim.trace.io import read_trace, write_trace

    # The feature options shape the features; with --features none (capture only) they would change nothing.
    refuse_inapplicable(ctx, "--features", features, {
        "feature_hop": ("logmel", "mfcc"), "n_fft": ("logmel", "mfcc"), "n_mels": ("logmel", "mfcc"),
        "arithmetic": ("logmel", "mfcc"), "n_mfcc": ("mfcc",)})
    t = read_trace(trace_in)
    sr = t.meta.sample_rate if sample_rate is None else sample_rate   # 0 is refused by its type, never replaced
    stage = frontend_stage(sr, hop or t.meta.hop, features=features, decimation=decimation, feature_hop=feature_hop,
                           n_fft=n_fft, n_mels=n_mels, n_mfcc=n_mfcc, arithmetic=arithmetic)
    write_trace(with_frontend(t, stage), out)
    click.echo(f"wrote {out}: front end of {len(stage.ops)} ops, {stage.macs / 1e3:.1f} kOP per frame, before "
               f"every path")


@trace.command("list")
def list_traces():
    """List the shipped traces: name, frames, length, frame rate, path shares, the file each comes from (the
    checkout's traces/ folder, or the package data of an installed wheel) and how it was made; say which files
    in the working folder take a shipped name's place.

    A name works wherever a trace file does (-t NAME); an existing file you name is always read instead.

    \b
    Example:
      dslsim trace list
      dslsim simulate -p watch -t dsl-fr-50hz-10min
    """
    from dslsim.cli.listing import echo_rows, echo_shadows
    from dslsim.shipped import origin, shipped_traces
    from dslsim.trace.io import read_trace

    rows = []
    for name, path in shipped_traces().items():
        t = read_trace(path)
        src = t.meta.source if isinstance(t.meta.source, dict) else {}
        kind = src.get("generator") or ", ".join(str(src[k]) for k in ("model", "route") if src.get(k))
        shares = t.frames["path"].value_counts(normalize=True)
        light = ", ".join(f"{p} {100 * shares.get(p, 0.0):.0f} %" for p in t.meta.paths)
        rows.append((name, f"{len(t):>7,} frames", f"{t.duration / 60:5.1f} min", f"{t.meta.frame_rate:g} Hz", light,
                     origin(path), f"({kind})" if kind else ""))
    echo_rows(rows)
    echo_shadows("trace", "-t")


@trace.command()
@click.argument("path", type=click.Path(dir_okay=False))
def info(path):
    """Summarise a trace: frames, duration, path shares, stages and their MACs per frame.

    \b
    Example:
      dslsim trace info dsl-75hz-10min
    """
    from dslsim.trace.io import read_trace

    t = read_trace(path)
    m = t.meta
    counts = t.frames["path"].value_counts()
    click.echo(f"{path}: trace format v{m.version}")
    click.echo(f"  frames       {len(t):,} over {t.duration:.2f} s at {m.frame_rate:g} frames/s "
               f"(sample rate {m.sample_rate:g} Hz, hop {m.hop})")
    click.echo("  source")
    for key, value in m.source.items():
        text = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else \
            ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        click.echo(f"    {key:<18} {text}")
    click.echo(f"  dense path   {m.dense_path}")
    if m.decisions:
        click.echo(f"  decisions    in order, the first that fires routes the frame; otherwise {m.fallback_path}")
        for d in m.decisions:
            test = ">=" if d.when == "above" else "<"
            click.echo(f"    {d.name:<14} {d.score} {test} {d.threshold:g} -> {d.path}")
    else:
        click.echo("  decisions    none: paths come from the 'path' column alone")
    for name, stages in m.paths.items():
        share = counts.get(name, 0) / len(t)
        click.echo(f"  path {name:<8} {100 * share:6.2f} % of frames, {m.path_macs(name) / 1e6:9.3f} MMAC/frame: "
                   f"{' -> '.join(stages)}")
    click.echo("  stages")
    for name, st in m.stages.items():
        click.echo(f"    {name:<14} {len(st.ops):3d} ops {st.macs / 1e6:9.3f} MMAC/frame "
                   f"{st.weight_bytes / 1e3:9.1f} kB weights  out {st.output_bytes:g} B/frame")
    extra = [c for c in t.frames.columns if c not in ("frame", "t_arrival", "path")]
    click.echo(f"  columns      frame, t_arrival, path{', ' + ', '.join(extra) if extra else ''}")


@trace.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--audio", default=None, type=click.Path(dir_okay=False),
              help="A WAV file (any rate; resampled to the model's). Default: a generated always-on scene.")
@option("--demo-seconds", default=60.0, show_default=True, type=Number(0, 86400, min_open=True, what="seconds"),
        help="Length of the generated scene when no --audio is given.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None, help="Default: the shipped model.")
@option("--threshold", type=Threshold(), default=None,
        help="Switch threshold (default: the model's calibrated one; 0.5 for --route gc).")
@click.option("--route", type=click.Choice(["dsl", "gc"]), default="dsl", show_default=True,
              help="Which switch decides: the unsupervised DSL or the supervised GC baseline.")
@option("--seed", default=1, show_default=True, type=Seed(), help="Seed of the generated scene.")
@click.option("--speech-dir", "speech_dirs", type=click.Path(file_okay=False, exists=True), multiple=True,
              help="Build the generated scene from this recorded speech (*.wav) instead of generated speech.")
@option("--light-budget", type=Share(min_open=True, max_open=True), default=None,
        metavar="SHARE", help="Route by an online light-budget controller holding this share of frames on "
                              "the light path (e.g. 0.8) on the audio itself, instead of a fixed threshold.")
@option("--budget-time-constant", type=Number(0, min_open=True, what="seconds"), default=10.0, show_default=True,
        metavar="S", help="With --light-budget: the controller's memory (seconds of audio).")
@frontend_options("pcm")
@click.pass_context
def export(ctx, out, audio, demo_seconds, checkpoint, threshold, route, seed, speech_dirs, light_budget,
           budget_time_constant, frontend, decimation):
    """Export a trace from a trained model: per-frame path, score, both paths' distortion, measured op graph.

    \b
    Examples:
      dslsim trace export model.parquet                      # shipped model, generated 60 s scene
      dslsim trace export mine.parquet --audio speech.wav --threshold 0.6
      dslsim trace export fr.parquet --speech-dir /usr/share/asterisk/sounds/fr_CA_f_June --demo-seconds 600
      dslsim trace export held.parquet --light-budget 0.8          # the budget held on this audio, per frame
      dslsim simulate -p earbud -t model.parquet
    """
    from dslsim.cli.model_cmd import SHIPPED_CHECKPOINT, need_torch

    # The scene options make the generated scene, which --audio replaces; the time constant is the controller's.
    refuse_inapplicable(ctx, "--audio", "given" if audio else "not given", {
        "demo_seconds": ("not given",), "seed": ("not given",), "speech_dirs": ("not given",)})
    refuse_inapplicable(ctx, "--light-budget", "given" if light_budget is not None else "not given",
                        {"budget_time_constant": ("given",)})
    need_torch()
    import numpy as np

    from tqdm import tqdm

    from dslsim.model.data import SpeechCorpus, read_wav, scene
    from dslsim.model.export import export_trace
    from dslsim.shipped import checkpoint_source
    from dslsim.model.train import load_model, set_threads
    from dslsim.trace.io import write_trace

    set_threads()
    ckpt = checkpoint or SHIPPED_CHECKPOINT
    model, _ = load_model(ckpt)
    cfg = model.config
    labels = None
    if audio:
        samples = read_wav(audio, cfg.sample_rate)
        source = {"audio": str(audio)}
    else:
        corpus = SpeechCorpus.from_dirs(list(speech_dirs), cfg.sample_rate) if speech_dirs else None
        # seeds (20_000, seed): disjoint from training's (seed, step, i) and the table's (10_000, i)
        samples, labels, _ = scene(demo_seconds, cfg.sample_rate, (20_000, seed), cfg.hop, corpus=corpus)
        speech = f" with speech from {', '.join(speech_dirs)}" if speech_dirs else ""
        source = {"audio": f"generated always-on scene, {demo_seconds:g} s, seed {seed}{speech}"}
    if len(samples) < cfg.hop:
        what = f"{audio}" if audio else f"--demo-seconds {demo_seconds:g}"
        raise DslsimError(f"{what}: {len(samples)} samples at {cfg.sample_rate} Hz, shorter than one frame of the "
                          f"model ({ckpt}: {cfg.hop} samples, {1e3 * cfg.hop / cfg.sample_rate:g} ms); give at least "
                          f"that much audio.")
    source.update(checkpoint_source(ckpt))
    if light_budget is not None and (threshold is not None or route != "dsl"):
        raise DslsimError("--light-budget routes the DSL switch by its own per-frame threshold: give it without "
                          "--threshold and --route gc.")
    budget = model.budget_controller(light_budget, budget_time_constant) if light_budget is not None else None
    with tqdm(total=len(samples) // cfg.hop, desc="export", unit="frame", dynamic_ncols=True, disable=None) as bar:
        t = export_trace(model, np.asarray(samples), threshold=threshold, labels=labels, source=source, route=route,
                         progress=bar.update, budget=budget)
    t = _add_frontend(t, frontend, decimation)
    write_trace(t, out)
    click.echo(f"wrote {out}: {len(t):,} frames at {cfg.frame_rate:g} frames/s, light share "
               f"{(t.frames['path'] == 'light').mean():.3f}")
