"""``dslsim trace score``: the per-call scores of a packaged VAD or wake-word model on audio, as a trace."""

from __future__ import annotations

import click

from dslsim.cli.params import Number, Seed, Threshold, given, option
from dslsim.errors import DslsimError

#: The models the command runs (dslsim.model.scores.MODELS, restated so that --help imports no numpy; a test
#: checks the two agree).
MODEL_NAMES = ("vad", "okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")
#: Background kinds of a generated scene (dslsim.model.data.BACKGROUNDS, restated likewise).
BACKGROUND_NAMES = ("pink", "brown", "hum", "babble", "pink+brown")
#: Longest generated scene (it is built in memory: about 100 MB per 10 minutes).
MAX_SCENE_SECONDS = 3600.0
#: Scene seeds are (SCENE_SEED_SPACE, --seed): the space ``dslsim trace export`` draws its scenes from, so that a
#: score trace and an exported codec trace of the same --seed and speech folders hear the same audio.
SCENE_SEED_SPACE = 20_000


@click.command("score")
@click.argument("files", nargs=-1, metavar="[AUDIO] OUT", type=click.Path(dir_okay=False))
@click.option("--model", "model_name", required=True, type=click.Choice(MODEL_NAMES),
              help="The voice-activity detector of pymicro-vad, or a wake-word model of pymicro-wakeword.")
@option("--scene-seconds", type=Number(0, MAX_SCENE_SECONDS, min_open=True, what="seconds"), default=None,
        help="Score a generated always-on scene of this length instead of an AUDIO file (labels included).")
@option("--seed", type=Seed(), default=1, show_default=True,
        help="Seed of the generated scene (the scene 'trace export --demo-seconds' builds for the same seed).")
@click.option("--speech-dir", "speech_dirs", type=click.Path(file_okay=False, exists=True), multiple=True,
              help="Build the scene's speech from these recorded prompts (*.wav) instead of generated speech.")
@click.option("--background", type=click.Choice(BACKGROUND_NAMES), default=None,
              help="The scene's background (default: drawn by the seed).")
@option("--threshold", type=Threshold(), default=None,
        help="Threshold of the decision 'fire' (default: the model's own: 0.5 for the VAD, the manifest's "
             "probability_cutoff for a wake word).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: only when stderr is a terminal).")
@click.pass_context
def score(ctx, files, model_name, scene_seconds, seed, speech_dirs, background, threshold, progress):
    """Run a packaged always-on model over audio and write its per-call scores as a trace.

    One frame per call of the model at its own rate (the VAD every 10 ms, a wake-word model every 30 ms, the rate
    'trace from-model' reads from its manifest), t_arrival = when the call's audio is in minus one period; the
    column 'score' in [0, 1] (NaN before the model gives one), the decision 'fire' (score >= threshold takes the
    path 'fire', else 'quiet'; both run the model's op graph, so a downstream model can be gated on 'fire'), and
    per call 'label' (speech in at least half the call's audio) for a generated scene. AUDIO is a 16 kHz mono WAV
    file. Needs pymicro-vad / pymicro-wakeword (pip install 'dslsim[stacks]').

    \b
    Examples:
      dslsim trace score --scene-seconds 600 --seed 1 --speech-dir data/speech/wb/fr_CA_f_June --model vad vad.parquet
      dslsim trace score --scene-seconds 600 --seed 1 --model okay_nabu nabu.parquet --threshold 0.9
      dslsim trace score my-room.wav --model hey_jarvis jarvis.parquet
      dslsim simulate -p earbud -t vad.parquet
    """
    from pathlib import Path

    import numpy as np

    from dslsim.model import scores as sc
    from dslsim.trace.io import write_trace

    if len(files) not in (1, 2):
        raise DslsimError(f"found {len(files)} file argument(s) {list(files)}; expected [AUDIO] OUT: an audio file "
                          f"and the trace to write, or only OUT with --scene-seconds.")
    audio_path, out = (None, files[0]) if len(files) == 1 else files
    if audio_path is None and scene_seconds is None:
        raise DslsimError(f"only one file given ({out}): give an AUDIO file before OUT, or --scene-seconds N to "
                          f"score a generated scene.")
    if audio_path is not None:
        if scene_seconds is not None:
            raise DslsimError(f"an AUDIO file ({audio_path}) and --scene-seconds: give one or the other.")
        for name, flag in (("seed", "--seed"), ("speech_dirs", "--speech-dir"), ("background", "--background")):
            if given(ctx, name):
                raise DslsimError(f"{flag} is for a generated scene (--scene-seconds); it does not apply to an "
                                  f"AUDIO file ({audio_path}).")
    if Path(out).suffix.lower() != ".parquet":
        raise DslsimError(f"{out}: the trace to write is a Parquet file; expected a name ending in .parquet.")
    labels, source = None, {}
    if audio_path is not None:
        from dslsim.fileio import file_sha256

        audio = sc.read_audio(audio_path)
        source = {"audio": str(audio_path), "audio_sha256": file_sha256(audio_path)}
    spec = sc.model_spec(model_name)            # the package is there, before a scene is built
    what = str(audio_path) if audio_path is not None else f"--scene-seconds {scene_seconds:g}"
    if audio_path is None:
        if scene_seconds * sc.SAMPLE_RATE < sc.min_samples(spec):
            raise DslsimError(f"{what}: model {model_name} gives its first score after "
                              f"{sc.min_samples(spec) / sc.SAMPLE_RATE:g} s of audio; give a scene at least that long.")
        from dslsim.model.data import BACKGROUNDS, SpeechCorpus, scene

        corpus = SpeechCorpus.from_dirs(list(speech_dirs), sc.SAMPLE_RATE) if speech_dirs else None
        kind = None if background is None else BACKGROUNDS.index(background)
        built = scene(scene_seconds, sc.SAMPLE_RATE, (SCENE_SEED_SPACE, seed), hop=sc.CHUNK_SAMPLES, corpus=corpus,
                      background_kind=kind)
        audio, labels = built.audio, built.labels
        source = {"audio": "generated always-on scene",
                  "scene_seconds": scene_seconds, "scene_seed": [SCENE_SEED_SPACE, seed],
                  "speech_dirs": list(speech_dirs), "background": background or "drawn by the seed"}
    from tqdm import tqdm

    disable = None if progress is None else not progress
    with tqdm(total=len(audio), desc=f"score {model_name}", unit="sample", unit_scale=True, dynamic_ncols=True,
              disable=disable, leave=False) as bar:
        result = sc.score_audio(audio, model_name, progress=bar.update, source=what)
    per_call = None if labels is None else sc.call_labels(result, labels)
    t = sc.scores_trace(result, threshold=threshold, labels=per_call, source=source)
    write_trace(t, out)
    summary = sc.summarize(t)
    cut = t.meta.threshold
    basis = spec.threshold_basis if threshold is None else "--threshold"
    click.echo(f"wrote {out}: {len(t):,} calls of {model_name} at {spec.call_rate_hz:.4g} Hz "
               f"({t.duration:,.1f} s of audio), {sum(op.macs for op in spec.ops):,.0f} MACs per call; threshold "
               f"{cut:g} ({basis}): fires on {100 * summary.fire_share:.2f} % of scored calls, "
               f"{summary.fires_per_hour:,.1f} detections (quiet-to-fire edges) per hour")
    if summary.speech_share is not None:
        click.echo(f"  labels: speech in {100 * summary.speech_share:.1f} % of calls; fires on "
                   f"{100 * summary.fire_share_speech:.2f} % of speech calls and {100 * summary.fire_share_nonspeech:.2f} "
                   f"% of non-speech calls")
    wall, cpu = np.asarray(result.wall_s) * 1e6, np.asarray(result.cpu_s) * 1e6
    front = (f"; feature front end {1e6 * result.frontend_wall_s:.0f} us wall per 10 ms of audio"
             if result.frontend_wall_s else " (its front end included)")
    click.echo(f"  per call on this machine: wall median {np.median(wall):.0f} us, 99th percentile "
               f"{np.percentile(wall, 99):.0f} us; CPU median {np.median(cpu):.0f} us, 99th percentile "
               f"{np.percentile(cpu, 99):.0f} us{front} (measured, not stored in the trace)")
    for note in spec.notes:
        click.echo(f"  note: {note}")
