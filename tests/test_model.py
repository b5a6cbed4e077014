"""The model side: streaming equals whole-file, frozen-state switching, measured op graph, RVQ, training with
checkpoints and resume, data, and trace export that the simulator replays unchanged. Tiny widths keep it fast."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from dslsim.cli.main import cli  # noqa: E402
from dslsim.errors import DslsimError  # noqa: E402
from dslsim.model.codec import CodecConfig, decoder, encoder, stream_in_chunks  # noqa: E402
from dslsim.model.dsl import DSLCodec  # noqa: E402
from dslsim.model.graph import measure_stages  # noqa: E402
from dslsim.model.rvq import ResidualVQ, VectorQuantizer  # noqa: E402
from dslsim.trace.graph import dsl_soundstream_graph  # noqa: E402

TINY = CodecConfig(width=2, embed_dim=8, n_q=2, codebook_size=16, light_width=1, switch_hidden=4)


@pytest.mark.parametrize("chunk_frames", [1, 3])
def test_streaming_equals_whole_file(chunk_frames):
    torch.manual_seed(0)
    enc, dec = encoder(4, 16), decoder(4, 16)
    x = torch.randn(2, 1, 320 * 12)
    with torch.no_grad():
        z = enc(x)
        assert torch.allclose(stream_in_chunks(enc, x, 320 * chunk_frames), z, atol=1e-6)
        assert torch.allclose(stream_in_chunks(dec, z, chunk_frames), dec(z), atol=1e-6)


def test_frozen_state_switching_history():
    """A decoder advances only on its own frames: its outputs equal it run over just those latents."""
    torch.manual_seed(1)
    model = DSLCodec(TINY).eval()
    x = torch.randn(1, 1, 320 * 20) * 0.3
    with torch.no_grad():
        q, _, _ = model.encode(x)
        mask = torch.tensor([i % 3 == 0 or 9 <= i < 14 for i in range(20)])
        model.switch.forward = lambda q_: mask.float()[None]   # force this routing through 'infer'
        out = model.infer(x, threshold=0.5)["audio"].reshape(20, 320)
        for name, dec, sel in (("full", model.full_decoder, mask), ("light", model.light_decoder, ~mask)):
            alone = dec(q[..., sel]).reshape(-1, 320)
            assert torch.allclose(out[sel], alone, atol=1e-6), name


def test_op_graph_hooks_flopcounter_and_analytic_agree_exactly():
    cfg = CodecConfig(width=4, embed_dim=16, n_q=3, codebook_size=64, light_width=1, light_units=2,
                      light_input_kernel=3)
    model = DSLCodec(cfg)
    stages, measured = measure_stages(model, frames=8)
    ref, _ = dsl_soundstream_graph(width=4, embed_dim=16, light_width=1, n_q=3, codebook=64, light_units=2,
                                   light_input_kernel=3)
    for name in ("encoder", "light_decoder", "full_decoder"):
        convs = [op for op in stages[name].ops if op.kind != "elementwise"]
        assert sum(op.macs for op in convs) == measured[name]                     # hooks == FlopCounterMode
        ref_convs = [op for op in ref[name].ops if op.kind != "elementwise"]
        assert [op.macs for op in convs] == [op.macs for op in ref_convs]          # == formulas, layer by layer
        assert sum(op.weight_bytes for op in convs) == sum(p.numel() for p in getattr(model, name).parameters())
    assert measured["rvq"] == 3 * 64 * 16                                          # the matmul search is counted
    assert stages["switch"].macs == 16 * cfg.switch_hidden + cfg.switch_hidden
    up = [op for op in stages["full_decoder"].ops if op.kind == "conv_transpose1d"][0]
    assert up.macs == 64 * 32 * 16 * 1                                            # input length, not output


def test_default_light_decoder_has_the_papers_ratios():
    """Seed paper: a light pass >= 12x cheaper and >= 20x smaller. Parameters counted by hand for C=8, D=32:
    full = 316,417 (input 32->128 k7, four up-convs k=2S, three residual units each, output 8->1 k7);
    light (C=2, one unit per block, input k1) = 13,641."""
    model = DSLCodec(CodecConfig())
    full = sum(p.numel() for p in model.full_decoder.parameters())
    light = sum(p.numel() for p in model.light_decoder.parameters())
    assert (full, light) == (316_417, 13_641)
    stages, _ = measure_stages(model, frames=4)
    assert stages["full_decoder"].macs / stages["light_decoder"].macs >= 12
    assert full / light >= 20


def test_untrained_codec_passes_the_signal_at_unit_gain():
    """At initialisation the output must depend on the input: PyTorch's default init gives a largest Jacobian
    entry of ~3e-6 here; unit gain with the output conv at 0.1 gives ~1e-3."""
    torch.manual_seed(0)
    enc, dec = encoder(8, 32), decoder(8, 32)
    x = (0.2 * torch.randn(1, 1, 320 * 20)).requires_grad_()
    (grad,) = torch.autograd.grad(dec(enc(x))[0, 0, 320 * 10 + 100], x)
    assert 1e-4 < float(grad[0, 0, 320 * 9:320 * 11].abs().max()) < 1.0


def test_rvq_kmeans_init_dead_codes_and_dropout():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 8).train()
    data = torch.randn(64, 4) + 10.0
    vq(data)
    assert bool(vq.initialised) and (vq.codebook.mean() - 10.0).abs() < 1.0     # k-means on the first batch
    vq.cluster_size[3] = 0.0                                                      # a dead code...
    vq.codebook[3] = -100.0
    vq(data)
    assert vq.codebook[3].min() > 0                                               # ...replaced from the batch
    rvq = ResidualVQ(4, 4, 8).train()
    torch.manual_seed(3)
    z = torch.randn(16, 4, 5)
    q_train, _, _, _ = rvq(z)
    rvq.eval()
    q_eval, codes, _, _ = rvq(z)
    assert codes.shape == (16, 4, 5)
    # With dropout some items use fewer quantizers, so training output differs from the all-quantizer output.
    assert not torch.allclose(q_train, q_eval)


def _train(tmp_path, steps, name="ck.pt", resume=True, progress=None):
    from dslsim.model.train import TrainConfig, train

    cfg = TrainConfig(steps=steps, time_budget_s=None, batch=2, seconds=0.32, warmup=0.3, checkpoint_every=10,
                      threads=1)
    return train(TINY, cfg, tmp_path / name, resume=resume, progress=progress)


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    from dslsim.model.train import load_checkpoint, load_model

    def interrupt(state, logs):
        if state.step == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, 4, progress=interrupt)
    path = tmp_path / "ck.pt"
    assert load_checkpoint(path)["state"]["step"] == 2          # saved on the way out
    _train(tmp_path, 4)                                          # resumes: runs steps 3 and 4 only
    resumed = load_checkpoint(path)
    assert resumed["state"]["step"] == 4
    straight = load_checkpoint(_train(tmp_path, 4, "straight.pt", resume=False))
    for k, v in straight["model"].items():                       # same seed: identical weights either way
        assert torch.equal(v, resumed["model"][k]), k
    model, _ = load_model(path)
    assert not model.training


def test_unsafe_or_foreign_checkpoints_are_refused(tmp_path):
    from dslsim.model.train import load_checkpoint

    evil = tmp_path / "evil.pt"
    import datetime

    torch.save({"format": "dslsim.checkpoint", "x": datetime.datetime(2026, 1, 1)}, evil)  # not allow-listed
    with pytest.raises(DslsimError, match="not a loadable"):
        load_checkpoint(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(DslsimError, match="not a dslsim checkpoint"):
        load_checkpoint(other)


def test_generated_scenes_are_seeded_and_labelled():
    from dslsim.model.data import scene

    a, la, sa = scene(4.0, 16000, 5)
    b, lb, _ = scene(4.0, 16000, 5)
    c, _, _ = scene(4.0, 16000, 6)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    assert len(la) == 200 and 0 < la.mean() < 1 and np.abs(a).max() <= 0.99
    # The clean stem is what was mixed in: where it is silent, only background remains; labels follow its energy.
    energy = (sa.reshape(-1, 320).astype(np.float64) ** 2).mean(1)
    assert np.array_equal(la, energy > 0.01 * energy[energy > 0].mean())


def test_wav_files_at_any_rate_are_resampled(tmp_path):
    from scipy.io import wavfile

    from dslsim.model.data import load_wav_dir

    t = np.arange(44100) / 44100
    wavfile.write(tmp_path / "a.wav", 44100, (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16))
    (clip,) = load_wav_dir(tmp_path, 16000)
    assert len(clip) == 16000 and np.abs(clip).max() == pytest.approx(0.5, rel=0.02)
    (tmp_path / "b.wav").write_text("not audio")
    with pytest.raises(DslsimError, match="b.wav"):
        load_wav_dir(tmp_path, 16000)


def test_cli_train_export_simulate_table(tmp_path):
    runner = CliRunner()
    ck = tmp_path / "m.pt"
    r = runner.invoke(cli, ["train", "--out", str(ck), "--steps", "2", "--width", "2", "--embed-dim", "8",
                            "--n-q", "2", "--codebook-size", "16", "--batch", "2", "--seconds", "0.32"])
    assert r.exit_code == 0, r.output
    trace = tmp_path / "t.parquet"
    r = runner.invoke(cli, ["trace", "export", str(trace), "--checkpoint", str(ck), "--demo-seconds", "4"])
    assert r.exit_code == 0, r.output
    from dslsim.sim.run import simulate
    from dslsim.trace.io import read_trace

    t = read_trace(trace)
    assert len(t) == 200 and {"score", "err_light", "err_full", "label"} <= set(t.frames.columns)
    assert t.meta.source["checkpoint_sha256"] and t.meta.stages["full_decoder"].macs > t.meta.stages["light_decoder"].macs
    assert np.array_equal(t.frames["path"] == "full", t.frames["score"] >= t.meta.threshold)   # calibrated default
    s = simulate("earbud", t).summary                        # the simulator replays it unchanged
    assert s["frames"] == 200 and s["battery_life_h"] > 0
    r = runner.invoke(cli, ["model", "table", "--checkpoint", str(ck), "--clips", "1", "--seconds", "2"])
    assert r.exit_code == 0, r.output
    for routing in ("always-full", "always-light", "DSL-switched", "GC-switched"):
        assert routing in r.output


def test_paper_table_counts_light_frames_overall_and_on_speech():
    from dslsim.model.data import scene
    from dslsim.model.evaluate import paper_table

    torch.manual_seed(0)
    model = DSLCodec(TINY).eval()
    audio, labels, _ = scene(2.0, 16000, 7, 320, occupancy=0.5)
    even = torch.arange(len(labels)) % 2 == 0
    model.switch.forward = lambda q_: even.float()[None]                 # DSL: even frames go full
    table, _ = paper_table(model, [(audio, labels)], threshold=0.5)
    rows = table.set_index("routing")
    odd = ~even.numpy()
    assert rows.loc["DSL-switched", "light_share"] == pytest.approx(odd.mean())
    assert rows.loc["DSL-switched", "light_share_speech"] == pytest.approx((odd & labels).sum() / labels.sum())
    assert rows.loc["always-full", "light_share_speech"] == 0 and rows.loc["always-light", "light_share"] == 1
    assert ((table["stoi_speech"] >= -1) & (table["stoi_speech"] <= 1)).all()


def test_shipped_checkpoint_loads_and_exports(tmp_path):
    from dslsim.cli.model_cmd import SHIPPED_CHECKPOINT

    assert SHIPPED_CHECKPOINT.stat().st_size <= 5_000_000
    runner = CliRunner()
    trace = tmp_path / "t.parquet"
    r = runner.invoke(cli, ["trace", "export", str(trace), "--demo-seconds", "2"])
    assert r.exit_code == 0, r.output
    from dslsim.trace.io import read_trace

    t = read_trace(trace)
    assert len(t) == 100 and t.meta.source["config"]["width"] == 8


def test_switch_quality_metrics_by_hand():
    from dslsim.model.evaluate import auc, spearman

    # 3 positives, 2 negatives: positives outrank negatives in 5 of 6 pairs.
    assert auc(np.array([0.9, 0.8, 0.3, 0.5, 0.1]), np.array([1, 1, 1, 0, 0])) == pytest.approx(5 / 6)
    assert auc(np.array([0.2, 0.2]), np.array([1, 0])) == 0.5                  # a tie counts half
    assert np.isnan(auc(np.array([0.1, 0.2]), np.array([1, 1])))
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 25, 100])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)


def test_model_table_on_recordings_with_label_files(tmp_path):
    """--wav-dir: speech rows come from the per-frame label CSV; a bad label file is one clear error."""
    from scipy.io import wavfile

    from dslsim.model.data import scene

    s = scene(2.0, 16000, 3, 320, occupancy=0.5)
    wavfile.write(tmp_path / "a.wav", 16000, (s.audio * 32767).astype(np.int16))
    import pandas as pd

    pd.DataFrame({"speech": s.labels.astype(int)}).to_csv(tmp_path / "a.csv", index=False)
    ck = tmp_path / "m.pt"
    runner = CliRunner()
    r = runner.invoke(cli, ["train", "--out", str(ck), "--steps", "1", "--width", "2", "--embed-dim", "8", "--n-q", "2",
                            "--codebook-size", "16", "--batch", "2", "--seconds", "0.32"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["model", "table", "--checkpoint", str(ck), "--wav-dir", str(tmp_path), "--csv",
                            str(tmp_path / "t.csv")])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(tmp_path / "t.csv").set_index("routing")
    assert np.isfinite(t.loc["always-full", "si_sdr_speech_dB"]) and np.isnan(t.loc["always-full", "si_sdr_clean_speech_dB"])
    (tmp_path / "a.csv").write_text("speech\n1\n")
    r = runner.invoke(cli, ["model", "table", "--checkpoint", str(ck), "--wav-dir", str(tmp_path)])
    assert r.exit_code == 2 and "a.csv" in r.output and "100 rows" in r.output


def test_speech_corpus_scenes_carry_the_clean_stem(tmp_path):
    from scipy.io import wavfile

    from dslsim.model.data import SpeechCorpus, scene

    t = np.arange(8000) / 8000
    for i in range(3):
        tone = np.sin(2 * np.pi * (200 + 50 * i) * t) * np.hanning(8000)
        wavfile.write(tmp_path / f"p{i}.wav", 8000, (0.3 * tone * 32767).astype(np.int16))
    wavfile.write(tmp_path / "empty.wav", 8000, np.zeros(0, np.int16))   # prompt packages ship such files
    corpus = SpeechCorpus.from_dirs([tmp_path], 16000)
    assert len(corpus.clips) == 3 and 2.5 < corpus.seconds < 3.0            # silence trimmed, 8 kHz resampled
    levels = []
    for seed in range(6):
        a, labels, speech = scene(6.0, 16000, seed, 320, corpus=corpus, occupancy=0.5)
        energy = (speech.reshape(-1, 320).astype(float) ** 2).mean(1)
        assert np.abs(a).max() <= 0.99 and labels.any()
        assert energy[~labels].max(initial=0) <= 0.01 * energy[energy > 0].mean()   # the stem is where the labels are
        levels.append(20 * np.log10(np.sqrt(np.mean(a.astype(float) ** 2))))
    assert np.ptp(levels) > 6                                                  # random overall level


def test_residual_full_path_starts_as_the_light_path_and_keeps_light_history():
    """A residual full path equals the light path at initialisation; at inference the light decoder advances on
    every frame and full frames add the refinement run over just their latents (frozen state)."""
    import dataclasses

    torch.manual_seed(2)
    model = DSLCodec(dataclasses.replace(TINY, residual_full=True)).eval()
    x = torch.randn(1, 1, 320 * 20) * 0.3
    with torch.no_grad():
        assert torch.equal(model.infer(x, route="full")["audio"], model.infer(x, route="light")["audio"])
        for p in model.full_decoder.parameters():                      # now make the refinement non-zero
            p.add_(0.05 * torch.randn_like(p))
        q, _, _ = model.encode(x)
        mask = torch.tensor([i % 4 == 0 or 9 <= i < 13 for i in range(20)])
        model.switch.forward = lambda q_: mask.float()[None]
        out = model.infer(x, threshold=0.5)["audio"].reshape(20, 320)
        light = model.light_decoder(q).reshape(20, 320)
        refine = model.full_decoder(q[..., mask]).reshape(-1, 320)
        assert torch.allclose(out[~mask], light[~mask], atol=1e-6)
        assert torch.allclose(out[mask], light[mask] + refine, atol=1e-6)
    assert model.paths["full"] == ["encoder", "rvq", "switch", "light_decoder", "full_decoder"]


def test_light_path_on_the_first_codebooks_reads_only_their_codes():
    """With light_codebooks = 1 of 2, the light decoder's input is the first quantizer's code vector (looked up
    by hand from the codes) and does not change when the second quantizer's codebook does; the full path does."""
    import dataclasses

    torch.manual_seed(5)
    model = DSLCodec(dataclasses.replace(TINY, light_codebooks=1, residual_full=True)).eval()
    x = torch.randn(1, 1, 320 * 10) * 0.3
    with torch.no_grad():
        for p in model.full_decoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
        z = model.encoder(model._scale(x, model.gain(x)))
        _, codes, _, _ = model.rvq(z)
        by_hand = model.rvq.quantizers[0].codebook[codes[0, 0]].T[None]
        q, coarse, _ = model.encode(x)
        assert torch.allclose(coarse, by_hand, atol=1e-6) and not torch.allclose(q, coarse)
        before = model.infer(x, route="light")["audio"], model.infer(x, route="full")["audio"]
        model.rvq.quantizers[1].codebook.mul_(3.0)
        after = model.infer(x, route="light")["audio"], model.infer(x, route="full")["audio"]
    assert torch.equal(before[0], after[0]) and not torch.allclose(before[1], after[1])


def test_rank_labels_are_each_frames_rank():
    from dslsim.model.train import rank_labels

    adv = torch.tensor([[3.0, -1.0, 0.5], [10.0, 2.0, -4.0]])
    # sorted: -4, -1, 0.5, 2, 3, 10 -> ranks 0..5, scaled by 5
    assert torch.equal(rank_labels(adv), torch.tensor([[4.0, 1.0, 2.0], [5.0, 3.0, 0.0]]) / 5)


def test_switch_detail_reads_what_the_light_path_lacks():
    """With switch_detail the switches see [q, q - coarse]: a frame whose finer codes are changed gets another
    score, while the light path's output stays the same."""
    import dataclasses

    torch.manual_seed(6)
    model = DSLCodec(dataclasses.replace(TINY, light_codebooks=1, switch_detail=True)).eval()
    x = torch.randn(1, 1, 320 * 6) * 0.3
    with torch.no_grad():
        q, coarse, _ = model.encode(x)
        assert model.switch.fc1.in_channels == 2 * TINY.embed_dim
        assert torch.equal(model.switch_input(q, coarse), torch.cat([q, q - coarse], 1))
        a = model.infer(x, route="dsl")
        model.rvq.quantizers[1].codebook.mul_(2.0)
        b = model.infer(x, route="dsl")
    assert torch.equal(a["light"], b["light"]) and not torch.allclose(a["score"], b["score"])


def test_level_normalisation_makes_the_codec_level_invariant():
    """With AGC the codec's output scales with its input exactly (the network sees the same normalised audio)."""
    import dataclasses

    torch.manual_seed(4)
    model = DSLCodec(dataclasses.replace(TINY, agc_seconds=0.5, residual_full=True)).eval()
    x = torch.randn(1, 1, 320 * 12) * 0.2
    with torch.no_grad():
        loud, quiet = model.infer(x)["audio"], model.infer(x * 0.01)["audio"]
        g = model.gain(x)
    assert torch.allclose(quiet, loud * 0.01, rtol=1e-4, atol=1e-7)
    # The level is causal: frame t's gain depends on frames up to t only.
    y = x.clone()
    y[..., 320 * 8:] *= 10
    with torch.no_grad():
        assert torch.equal(model.gain(y)[:, :8], g[:, :8]) and not torch.equal(model.gain(y)[:, 8:], g[:, 8:])


def test_mask_routing_equals_the_fixed_routes():
    from dslsim.model.data import scene

    torch.manual_seed(0)
    model = DSLCodec(TINY).eval()
    x = torch.from_numpy(scene(1.0, 16000, 3, 320).audio)[None, None]
    with torch.no_grad():
        for route, flag in (("full", True), ("light", False)):
            by_route = model.infer(x, route=route)["audio"]
            by_mask = model.infer(x, mask=torch.full((x.shape[-1] // 320,), flag))["audio"]
            assert torch.equal(by_route, by_mask)


def test_router_curve_an_advantage_ranking_switch_recovers_all_of_the_oracle():
    from dslsim.model import routers
    from dslsim.model.data import scene
    from dslsim.model.evaluate import Clip

    torch.manual_seed(0)
    model = DSLCodec(CodecConfig(**{**TINY.__dict__, "residual_full": False})).eval()
    s = scene(2.0, 16000, 5, 320, occupancy=0.5)
    clip = Clip(s.audio, s.labels)
    _, (adv,) = routers._per_frame(model, [clip])
    assert np.ptp(adv) > 0  # two different decoders: the full path helps some frames more than others
    # A switch that scores frames by their true advantage routes exactly as the oracle does.
    model.switch.forward = lambda q_: torch.from_numpy(adv)[None]
    df = routers.router_curve(model, [clip], [0.5, 0.75])
    assert (df["dsl_si_sdr_speech_dB"] == df["oracle_si_sdr_speech_dB"]).all()
    gain = df["oracle_si_sdr_speech_dB"] - df["random_si_sdr_speech_dB"]
    assert ((df["recovered"] == 1.0) | (gain <= 0)).all()
    # The threshold at each share is the score of the last frame sent full: the share is exact.
    for _, row in df.iterrows():
        assert (adv >= row["dsl_threshold"]).sum() == round((1 - row["light_share"]) * len(adv))
