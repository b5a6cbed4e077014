"""``dslsim train`` and ``dslsim model``: train the DSL codec and print the paper-style table (needs torch)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from dslsim.cli.params import Number, Seed, Share, Threshold, option, refuse_inapplicable
from dslsim.errors import DslsimError
from dslsim.shipped import CHECKPOINT as SHIPPED_CHECKPOINT


def need_torch():
    """Import torch or explain how to get it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise DslsimError("this command needs PyTorch: pip install -e '.[model]' (torch==2.13.0, CPU build).") from None


def _seconds(text: str, what: str) -> float:
    from dslsim.units import parse_quantity

    return parse_quantity(text, "s", what, "", strictly_positive=True)

def _options(*decorators):
    """Several click options as one decorator, so commands that share them declare them once."""
    def apply(f):
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


_checkpoint_option = option("--checkpoint", type=click.Path(dir_okay=False), default=None,
                                  help="Checkpoint (default: the shipped one).")
_scene_options = _options(
    option("--clips", type=click.IntRange(min=1), default=8, show_default=True, help="Held-out scenes."),
    option("--seconds", type=Number(0.5), default=10.0, show_default=True,
                 help="Length of each scene."),
    option("--speech-dir", "speech_dirs", type=click.Path(file_okay=False, exists=True), multiple=True,
                 help="Build the held-out scenes from this recorded speech (keep it out of training); repeatable."))
_run_options = _options(
    option("--threads", type=click.IntRange(min=1), default=None, help="Torch threads (default: up to 4)."),
    option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None,
                 help="Also write the table as CSV."))


_seeds_option = option("--seeds", "n_seeds", type=click.IntRange(min=1), default=1, show_default=True,
                             help="Repeat on this many scene seeds (--seed, --seed+1, ...): mean and 95 % "
                                  "interval over seeds.")
_budget_options = _options(
    option("--light-budget", type=Share(min_open=True, max_open=True), default=None,
                 help="Add a row routed by the online budget controller holding this light share."),
    option("--budget-time-constant", type=Number(0, min_open=True), default=10.0,
                 show_default=True, help="The controller's memory (seconds)."))


def over_seeds(tables: list, keys: list[str]):
    """Per-seed tables (same rows, same order) as one: every numeric column's mean over seeds and the half-width
    of its 95 % Student-t interval (``<column>_ci95``; 0 with one seed). ``keys``: the columns naming a row."""
    import pandas as pd

    from dslsim.model.codec_compare import interval95

    first = tables[0]
    out = first[keys].copy()
    for col in first.columns:
        if col in keys or not pd.api.types.is_numeric_dtype(first[col]):
            continue
        stats = [interval95([t[col].iloc[i] for t in tables]) for i in range(len(first))]
        out[col] = [m for m, _ in stats]
        out[f"{col}_ci95"] = [h for _, h in stats]
    return out


def _echo_seeds_table(df, keys: list[str], n_seeds: int, csv_out: str | None) -> None:
    """Print a table over seeds as 'mean ± half-width' (numbers only when there is one seed); the CSV keeps the
    numbers in separate columns."""
    if n_seeds == 1:
        _echo_table(df[[c for c in df.columns if not c.endswith("_ci95")]], csv_out)
        return
    shown = df[keys].copy()
    for col in df.columns:
        if col in keys or col.endswith("_ci95"):
            continue
        shown[col] = [f"{m:.3f} ± {h:.3f}" if m == m else "nan" for m, h in zip(df[col], df[f"{col}_ci95"])]
    click.echo(shown.to_string(index=False))
    if csv_out:
        from dslsim.fileio import write_atomic

        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))


def _echo_table(df, csv_out: str | None) -> None:
    """Print a result table and, when asked, write it as CSV (atomically)."""
    click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if csv_out:
        from dslsim.fileio import write_atomic

        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))



@click.command()
@option("--out", "-o", type=click.Path(dir_okay=False), default="checkpoints/dsl.pt", show_default=True,
              help="Checkpoint to write; if it exists, training resumes from it.")
@option("--time-budget", default="12 min", show_default=True, help="Stop after this long ('none' for no limit).")
@option("--steps", type=click.IntRange(min=1), default=None, help="Stop after this many steps.")
@option("--width", type=click.IntRange(min=1), default=16, show_default=True, help="Channel width C.")
@option("--embed-dim", type=click.IntRange(min=1), default=None, help="Embedding dimension D (default 4C).")
@option("--n-q", type=click.IntRange(min=1), default=6, show_default=True, help="Quantizers.")
@option("--codebook-size", type=click.IntRange(min=2), default=1024, show_default=True,
              help="Codes per quantizer (6 x 1024 codes at 50 frames/s = 3 kbit/s).")
@option("--switch-context", type=click.IntRange(min=1), default=3, show_default=True,
              help="Latent frames the switch sees (the current one and the ones before it).")
@option("--residual-full/--separate-full", default=True, show_default=True,
              help="Full path = light decoder + a refinement (starts equal to light), or a decoder of its own.")
@option("--light-width", type=click.IntRange(min=0), default=0, show_default=True,
              help="Channel width of the light decoder (0: C // 4); a narrower checkpoint's grows (--init-from).")
@option("--light-codebooks", type=click.IntRange(min=0), default=0, show_default=True,
              help="The light decoder reads only the first N quantizers (a lower bitrate); 0: all of them.")
@option("--switch-detail", is_flag=True,
              help="The switches also read the detail the light decoder lacks (with --light-codebooks).")
@option("--switch-target", type=click.Choice(["top", "rank"]), default="top", show_default=True,
              help="The DSL switch's self-label: the batch's top --target-full-share of full-path advantage, "
                   "or every frame's advantage rank (0..1).")
@option("--init-from", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Start a new run from this checkpoint's weights where names and shapes match (fine-tune).")
@option("--agc", "agc_seconds", type=Number(0), default=0.5, show_default=True,
              help="Level normalisation: time constant (s) of the causal running level the codec divides by "
                   "(0: none).")
@option("--sample-rate", type=click.Choice(["16000", "24000"]), default="16000", show_default=True,
              help="16 kHz (50 frames/s) or 24 kHz (75 frames/s).")
@option("--target-full-share", type=Share(min_open=True, max_open=True), default=0.2,
              show_default=True, help="Compute budget: the share of frames on the full path.")
@option("--batch", type=click.IntRange(min=1), default=8, show_default=True)
@option("--seconds", "clip_seconds", type=Number(0, min_open=True), default=0.64, show_default=True, help="Clip length per item.")
@option("--lr", type=Number(0, min_open=True), default=1e-3, show_default=True,
              help="Adam learning rate (a resumed run takes this one, not the saved one).")
@option("--speech-dir", "speech_dirs", type=click.Path(file_okay=False, exists=True), multiple=True,
              help="Clean recorded speech (*.wav, any rate) to mix into the generated scenes; repeatable.")
@option("--wav-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Train on your WAV files as they are (any rate; resampled) instead of scenes.")
@option("--frame-floor", type=Number(0, min_open=True), default=1.0, show_default=True,
              help="Loss: a frame's waveform error is relative to its energy plus this x the clip's mean.")
@option("--waveform-weight", type=Number(0), default=20.0, show_default=True,
              help="Loss: weight of the relative waveform error beside the log-mel term.")
@option("--stft-weight", type=Number(0), default=0.0, show_default=True,
              help="Loss: weight of a multi-resolution STFT term (spectral convergence + log magnitude).")
@option("--adv-weight", type=Number(0), default=0.0, show_default=True,
              help="Loss: weight of a multi-scale STFT discriminator's hinge loss on both paths (0: off).")
@option("--fm-weight", type=Number(0), default=2.0, show_default=True,
              help="Loss: weight of the discriminator's feature matching (with --adv-weight).")
@option("--adv-start", type=click.IntRange(min=0), default=0, show_default=True,
              help="Step from which the adversarial terms apply.")
@option("--disc-lr", type=Number(0, min_open=True), default=1e-4, show_default=True,
              help="The discriminator's Adam learning rate.")
@option("--clean-share", type=Share(), default=0.0, show_default=True,
              help="Share of each batch that is clean speech (no background), with --speech-dir or generated.")
@option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch threads (default: $DSLSIM_THREADS, else the cores up to 4).")
@option("--seed", type=Seed(), default=0, show_default=True)
@option("--fresh", is_flag=True, help="Start over even if --out exists.")
def train(out, time_budget, steps, width, embed_dim, n_q, codebook_size, switch_context, residual_full,
          light_width, light_codebooks, switch_detail, switch_target, init_from, agc_seconds, sample_rate,
          target_full_share, batch, clip_seconds, lr, speech_dirs, wav_dir, frame_floor, waveform_weight,
          stft_weight, adv_weight, fm_weight, adv_start, disc_lr, clean_share, threads, seed, fresh):
    """Train DSL-SoundStream without labels (and the supervised GC switch), with checkpoints and resume.

    \b
    Examples:
      dslsim train --out checkpoints/dsl.pt                 # 12 min, generated speech
      dslsim train --out checkpoints/dsl.pt --steps 200 --width 8 --n-q 4 --codebook-size 256
      dslsim train --out runs/dsl.pt --steps 30000 --time-budget none --threads 1 \\
          --speech-dir /usr/share/asterisk/sounds/es_MX_f_Allison   # real speech (docs/model.md)
      dslsim train --out my.pt --wav-dir recordings/ --time-budget "30 min"
    """
    need_torch()
    from tqdm import tqdm

    from dslsim.model.codec import CodecConfig
    from dslsim.model.train import TrainConfig, train as run

    budget = None if time_budget.strip().lower() == "none" else _seconds(time_budget, "--time-budget")
    if budget is None and steps is None:
        raise DslsimError("give --steps or a --time-budget; training needs an end.")
    codec = CodecConfig(sample_rate=int(sample_rate), width=width, embed_dim=embed_dim or 4 * width, n_q=n_q,
                        codebook_size=codebook_size, switch_context=switch_context, residual_full=residual_full,
                        agc_seconds=agc_seconds, light_codebooks=light_codebooks, switch_detail=switch_detail,
                        light_width=light_width)
    if light_codebooks > n_q:
        raise DslsimError(f"--light-codebooks is {light_codebooks}; expected at most --n-q ({n_q}).")
    cfg = TrainConfig(steps=steps, time_budget_s=budget, batch=batch, seconds=clip_seconds, seed=seed, lr=lr,
                      target_full_share=target_full_share, wav_dir=wav_dir, speech_dirs=tuple(speech_dirs),
                      frame_floor=frame_floor, waveform_weight=waveform_weight, threads=threads,
                      init_from=init_from, switch_target=switch_target, stft_weight=stft_weight,
                      clean_share=clean_share, adv_weight=adv_weight, fm_weight=fm_weight, adv_start=adv_start,
                      disc_lr=disc_lr)
    total = steps or int(budget)
    bars = []

    def tick(state, logs):
        done = state.step if steps else min(int(state.elapsed_s), total)
        if not bars:  # made at the first step, so a resumed run starts at its checkpoint without a bogus rate
            bars.append(tqdm(total=total, initial=done, unit="step" if steps else "s", desc="train",
                             dynamic_ncols=True))
        bars[0].update(done - bars[0].n)
        bars[0].set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)

    if fresh and Path(out).exists():
        Path(out).unlink()
    try:
        path = run(codec, cfg, out, resume=True, progress=tick)
    finally:
        for bar in bars:
            bar.close()
    click.echo(f"wrote {path}")


@click.group()
def model():
    """Inspect a trained model: the paper-style table; the worked early-exit example.

    \b
    Example:
      dslsim model table
    """


@model.command()
@_checkpoint_option
@_scene_options
@option("--wav-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Evaluate on your recordings instead (*.wav; a same-named .csv with a 0/1 'speech' column per "
                   "frame adds the speech rows).")
@option("--threshold", "thresholds", type=Threshold(), multiple=True,
              help="Switch threshold(s); repeat for a trade-off curve (default: the model's calibrated one).")
@option("--seed", type=Seed(), default=10_000, show_default=True, help="Seed of the held-out scenes.")
@_seeds_option
@_budget_options
@_run_options
@click.pass_context
def table(ctx, checkpoint, clips, seconds, speech_dirs, wav_dir, thresholds, seed, n_seeds, light_budget,
          budget_time_constant, threads, csv_out):
    """Always-full vs always-light vs DSL vs GC: light share, MACs, mel distance and SI-SDR (against the input
    and the clean speech), STOI, and how well each switch's score follows content.

    \b
    Examples:
      dslsim model table --clips 8 --seconds 10
      dslsim model table --speech-dir /usr/share/asterisk/sounds/fr_CA_f_June   # real held-out speech
      dslsim model table --threshold 0.2 --threshold 0.5 --threshold 0.8 --csv curve.csv
      dslsim model table --seeds 3 --light-budget 0.8    # 3 scene seeds, 95 % intervals; an online budget row
      dslsim model table --wav-dir my-recordings/
    """
    refuse_inapplicable(ctx, "--light-budget", "given" if light_budget is not None else "not given",
                        {"budget_time_constant": ("given",)})
    refuse_inapplicable(ctx, "--wav-dir", "given" if wav_dir else "not given",
                        {"clips": ("not given",), "seconds": ("not given",), "speech_dirs": ("not given",),
                         "seed": ("not given",)})
    need_torch()
    import numpy as np
    from tqdm import tqdm

    from dslsim.model.data import SpeechCorpus
    from dslsim.model.evaluate import evaluation_set, paper_table, wav_clips
    from dslsim.model.train import load_model, set_threads

    set_threads(threads)
    m, payload = load_model(checkpoint or SHIPPED_CHECKPOINT)
    cfg = m.config
    if wav_dir:
        if n_seeds > 1:
            raise DslsimError("--seeds repeats generated scenes; with --wav-dir the recordings are the data set.")
        sets = [wav_clips(wav_dir, cfg.sample_rate, cfg.hop)]
        what = f"{len(sets[0])} recordings from {wav_dir}"
    else:
        corpus = SpeechCorpus.from_dirs(list(speech_dirs), cfg.sample_rate) if speech_dirs else None
        sets = [evaluation_set(clips, seconds, cfg.sample_rate, cfg.hop, seed=seed + k, corpus=corpus)
                for k in range(n_seeds)]
        what = f"{clips} held-out scenes of {seconds:g} s" + (f" with speech from {', '.join(speech_dirs)}"
                                                              if speech_dirs else " (generated speech)")
        what += f", scene seed {seed}" + (f" to {seed + n_seeds - 1} (± : 95 % interval over seeds)"
                                          if n_seeds > 1 else "")
    thr = list(thresholds) or None
    budget = m.budget_controller(light_budget, budget_time_constant) if light_budget else None
    runs = (2 + 2 * len(thr or [None]) + (budget is not None)) * sum(len(d) for d in sets)
    tables, infos = [], []
    with tqdm(total=runs, desc="model table", unit="clip", dynamic_ncols=True, disable=None) as bar:
        for data in sets:
            df, info = paper_table(m, data, thr, progress=bar.update, budget=budget)
            tables.append(df)
            infos.append(info)
    df = over_seeds(tables, ["routing"])
    info = {k: float(np.mean([i[k] for i in infos])) for k in infos[0]}
    click.echo(f"model C={cfg.width} D={cfg.embed_dim} light C={cfg.light}, {cfg.n_q} x {cfg.codebook_size} codes "
               f"({cfg.n_q * math.log2(cfg.codebook_size) * cfg.frame_rate / 1e3:g} kbit/s), "
               f"{payload['state']['step']} training steps; {what}")
    click.echo(f"light decoder: {info['decoder_mac_ratio']:.1f}x fewer MACs, {info['decoder_param_ratio']:.1f}x fewer "
               f"parameters than the full decoder; whole light pass: {info['pass_mac_ratio']:.2f}x fewer MACs, "
               f"{info['pass_param_ratio']:.2f}x fewer parameters than the dense model "
               f"({info['dense_MMAC_per_frame']:.3f} MMAC/frame)")
    click.echo(f"switch follows content: DSL rank corr. with full-path advantage {info['dsl_rank_corr_advantage']:.3f}, "
               f"speech AUC {info['dsl_speech_auc']:.3f}; GC {info['gc_rank_corr_advantage']:.3f}, "
               f"{info['gc_speech_auc']:.3f}; advantage on speech {info['advantage_speech_dB']:.2f} dB, "
               f"elsewhere {info['advantage_rest_dB']:.2f} dB" + (" (means over seeds)" if n_seeds > 1 else ""))
    if budget is not None:
        click.echo(f"DSL-budget: an online controller holding {light_budget:g} light (time constant "
                   f"{budget_time_constant:g} s, from the calibrated threshold {float(m.threshold):.3f}); "
                   f"light_share_min/max: the per-clip extremes")
    _echo_seeds_table(df, ["routing"], n_seeds, csv_out)


@model.command()
@_checkpoint_option
@_scene_options
@option("--light-share", "light_shares", type=Share(max_open=True), multiple=True,
              help="Light share(s) to compare at (default 0.6, 0.7, 0.8, 0.9).")
@option("--seed", type=Seed(), default=10_000, show_default=True,
              help="Seed of the held-out scenes (and of the random router).")
@_seeds_option
@_run_options
def routers(checkpoint, clips, seconds, speech_dirs, light_shares, seed, n_seeds, threads, csv_out):
    """The DSL switch against an oracle router (the frames the full path helps most) and a random one, at the
    same light share: speech SI-SDR of each, and the fraction of the oracle's gain over random the switch
    recovers.

    \b
    Example:
      dslsim model routers --speech-dir wb/fr_CA_f_June --light-share 0.8 --csv routers.csv
      dslsim model routers --seeds 3        # mean and 95 % interval over three scene seeds
    """
    need_torch()
    from tqdm import tqdm

    from dslsim.model.data import SpeechCorpus
    from dslsim.model.evaluate import evaluation_set
    from dslsim.model.routers import ROUTERS, router_curve
    from dslsim.model.train import load_model, set_threads

    set_threads(threads)
    m, payload = load_model(checkpoint or SHIPPED_CHECKPOINT)
    cfg = m.config
    corpus = SpeechCorpus.from_dirs(list(speech_dirs), cfg.sample_rate) if speech_dirs else None
    shares = list(light_shares) or [0.6, 0.7, 0.8, 0.9]
    tables = []
    with tqdm(total=n_seeds * len(shares) * len(ROUTERS), desc="routers", unit="run", dynamic_ncols=True,
              disable=None) as bar:
        for k in range(n_seeds):
            data = evaluation_set(clips, seconds, cfg.sample_rate, cfg.hop, seed=seed + k, corpus=corpus)
            tables.append(router_curve(m, data, shares, seed=seed + k, progress=bar.update))
    click.echo(f"{clips} held-out scenes of {seconds:g} s" + (f" with speech from {', '.join(speech_dirs)}"
               if speech_dirs else " (generated speech)") + f", scene seed {seed}"
               + (f" to {seed + n_seeds - 1} (± : 95 % interval over seeds)" if n_seeds > 1 else "")
               + f"; model at {payload['state']['step']} training steps")
    _echo_seeds_table(over_seeds(tables, ["light_share"]), ["light_share"], n_seeds, csv_out)


@model.command()
@_checkpoint_option
@option("--speech-dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="Clean recorded speech (*.wav) kept out of training.")
@option("--clips", type=click.IntRange(min=2), default=12, show_default=True, help="Clips (intervals need 2+).")
@option("--seconds", type=Number(1.0), default=6.0, show_default=True,
              help="Length of each clip (whole prompts joined).")
@option("--seed", type=Seed(), default=0, show_default=True, help="Which prompts, in which order.")
@option("--per-clip-csv", type=click.Path(dir_okay=False), default=None,
              help="Also write every coder's scores on every clip (for paired comparisons between checkpoints).")
@_run_options
def codecs(checkpoint, speech_dir, clips, seconds, seed, per_clip_csv, threads, csv_out):
    """The model's full and light paths beside Codec2 (3200, 1200) and Opus (6 kbit/s) on the same clean clips:
    PESQ-WB, STOI and SI-SDR with 95 % intervals over clips. Codec2 and Opus come from Debian's `codec2` and
    `opus-tools`; a coder whose tools are missing is left out with a note.

    \b
    Example:
      dslsim model codecs --speech-dir wb/fr_CA_f_June --clips 12 --csv codecs.csv
    """
    need_torch()
    import numpy as np
    import torch
    from tqdm import tqdm

    from dslsim.model.codec_compare import SAMPLE_RATE, compare, clean_clips
    from dslsim.model.train import load_model, set_threads

    set_threads(threads)
    m, payload = load_model(checkpoint or SHIPPED_CHECKPOINT)
    cfg = m.config
    if cfg.sample_rate != SAMPLE_RATE:
        raise DslsimError(f"{checkpoint}: the comparison runs at {SAMPLE_RATE} Hz; this model codes "
                          f"{cfg.sample_rate} Hz audio.")
    data = clean_clips(speech_dir, clips, seconds, seed)
    bits = math.log2(cfg.codebook_size) * cfg.frame_rate

    def path(route: str):
        def code(x: np.ndarray) -> np.ndarray:
            padded = np.pad(x, (0, -len(x) % cfg.hop))  # the codec works on whole frames
            with torch.no_grad():
                y = m.infer(torch.from_numpy(padded)[None, None], route=route)["audio"].flatten().numpy()
            return y[: len(x)]
        return code

    light_q = cfg.light_codebooks or cfg.n_q
    mine = {"dslsim full path": (int(cfg.n_q * bits), path("full")),
            "dslsim light path": (int(light_q * bits), path("light"))}
    with tqdm(total=(len(mine) + 3) * len(data), desc="codecs", unit="clip", dynamic_ncols=True,
              disable=None) as bar:
        per_clip: list[dict] = []
        df, notes = compare(data, mine, progress=bar.update, per_clip=per_clip)
    click.echo(f"{len(data)} clean clips of about {seconds:g} s from {speech_dir}; model at "
               f"{payload['state']['step']} training steps")
    click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for note in notes:
        click.echo(note)
    from dslsim.fileio import write_atomic

    if csv_out:
        write_atomic(csv_out, lambda p: df.to_csv(p, index=False))
    if per_clip_csv:
        import pandas as pd

        write_atomic(per_clip_csv, lambda p: pd.DataFrame(per_clip).to_csv(p, index=False))


@model.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@option("--half", is_flag=True, help="Store float weights as float16 (half the size; loaded back as float32).")
def pack(checkpoint, out, half):
    """Copy a checkpoint without its optimizer state (about a third of the size), e.g. to ship it.

    \b
    Examples:
      dslsim model pack checkpoints/dsl.pt dslsim/model/assets/dsl-c8-16k.pt
      dslsim model pack runs/dsl-c16.pt dslsim/model/assets/dsl-c16-16k.pt --half
    """
    need_torch()
    import torch

    from dslsim.fileio import write_atomic
    from dslsim.model.train import load_checkpoint

    payload = load_checkpoint(checkpoint)
    payload["optimizer"] = None
    payload.pop("disc", None), payload.pop("disc_optimizer", None)  # training-only
    if half:
        payload["model"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["model"].items()}
        payload["packed"] = "float16"
    write_atomic(out, lambda p: torch.save(payload, p))
    click.echo(f"wrote {out}")
