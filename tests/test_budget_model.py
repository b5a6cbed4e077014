"""The online light budget wired into the model (routing, trace export, replay) and the training additions of
the wideband recipe (a wider codec grown from a narrow one, the multi-resolution STFT loss, clean-speech clips)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dslsim.errors import InputError  # noqa: E402
from dslsim.model.codec import CodecConfig  # noqa: E402
from dslsim.model.data import BACKGROUNDS, scene  # noqa: E402
from dslsim.model.dsl import DSLCodec  # noqa: E402
from dslsim.model.evaluate import Clip, budget_shares  # noqa: E402
from dslsim.model.export import export_trace  # noqa: E402
from dslsim.model.losses import multiresolution_stft_loss  # noqa: E402
from dslsim.model.train import TrainConfig, TrainState, _batch, load_model, save_checkpoint, warm_start  # noqa: E402
from dslsim.shipped import CHECKPOINT  # noqa: E402
from dslsim.trace.budget import BudgetController  # noqa: E402
from dslsim.trace.io import read_trace, write_trace  # noqa: E402
from dslsim.trace.schema import Trace  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    model, _ = load_model(CHECKPOINT)
    return model


def test_budget_holds_on_every_background_where_a_fixed_threshold_does_not(shipped):
    """The issue's acceptance: on fresh scene seeds, each background kind in its own 30 s clip, the controller
    keeps every clip's light share within 3 points of an 80 % budget; the calibrated fixed threshold misses
    by more than 3 points on at least one background (measured: 7 to 23 points on all of them)."""
    clips = []
    for kind, name in enumerate(BACKGROUNDS):
        s = scene(30.0, 16000, (31_000, kind), 320, background_kind=kind)
        clips.append(Clip(s.audio, s.labels, s.speech, name))
    df = budget_shares(shipped, clips, shipped.budget_controller(0.8, time_constant_s=5.0))
    assert (df["off_budget_points"].abs() <= 3.0).all(), df
    assert (df["off_fixed_points"].abs() > 3.0).any(), df


def test_budget_export_carries_the_controller_and_replays_exactly(shipped, tmp_path):
    """A trace exported with a budget stores each frame's threshold; its paths are score >= that threshold
    (recomputed here from the stored columns), the thresholds are what the controller gives when re-run on the
    stored scores, and the file reader refuses a trace whose threshold column disagrees with its paths."""
    s = scene(8.0, 16000, (32_000, 0), 320)
    controller = shipped.budget_controller(0.75, time_constant_s=2.0)
    trace = export_trace(shipped, s.audio, labels=s.labels, budget=controller)
    frames = trace.frames
    score, cut = frames["score"].to_numpy(np.float64), frames["threshold"].to_numpy(np.float64)
    assert ((frames["path"] == "full").to_numpy() == (score >= cut)).all()
    np.testing.assert_array_equal(frames["threshold"].to_numpy(),
                                  controller.thresholds(frames["score"].to_numpy()).astype(np.float32))
    (decision,) = trace.meta.decisions
    assert decision.threshold_column == "threshold"
    assert trace.meta.source["budget"]["light_share"] == 0.75
    # Before its warm-up mass (25 frames), the controller routes by the model's calibrated threshold.
    assert frames["threshold"].iloc[0] == np.float32(shipped.threshold)
    back = read_trace(write_trace(trace, tmp_path / "budget.parquet"))
    assert back.meta.decisions == trace.meta.decisions
    assert (back.frames["path"] == frames["path"]).all()
    bad = back.frames.copy()
    row = int(np.argmax(bad["path"].to_numpy() == "light"))
    bad.loc[row, "threshold"] = 0.0  # every score passes 0: the stored 'light' now disagrees
    with pytest.raises(InputError, match=f"row {row}.*threshold columns"):
        Trace(back.meta, bad).validate("budget.parquet")
    # A fixed threshold given later replaces the controller's column.
    fixed = back.rethreshold(0.5)
    assert fixed.meta.decisions[0].threshold_column is None
    assert ((fixed.frames["path"] == "full").to_numpy() == (score >= 0.5)).all()


def test_budget_refuses_a_forced_route_and_another_frame_rate(shipped):
    s = scene(1.0, 16000, (32_001, 0), 320)
    with pytest.raises(Exception, match="forces one path"):
        export_trace(shipped, s.audio, route="full", budget=shipped.budget_controller(0.8))
    wrong = BudgetController(light_share=0.8, time_constant_s=1.0, frame_rate=75.0)
    with pytest.raises(ValueError, match="75.0 frames/s"):
        shipped.infer(torch.from_numpy(s.audio)[None, None], budget=wrong)


def _tiny(width: int) -> CodecConfig:
    return CodecConfig(width=width, embed_dim=8, n_q=2, codebook_size=16, residual_full=True, light_codebooks=1,
                       switch_detail=True, switch_context=3, agc_seconds=0.5)


def test_a_wider_codec_grown_from_a_narrow_one_starts_with_its_outputs(tmp_path):
    """Warm-starting a C=6 codec from a C=4 checkpoint: the wider model's outputs equal the narrow model's
    (its own forward pass is the reference), and the new channels are live (random incoming weights)."""
    torch.manual_seed(3)
    narrow = DSLCodec(_tiny(4))
    for p in narrow.parameters():  # move every weight off its initial value, so nothing matches by accident
        p.data.add_(0.05 * torch.randn_like(p))
    path = save_checkpoint(tmp_path / "narrow.pt", narrow, TrainConfig(), TrainState(), None)
    wide = DSLCodec(_tiny(6))
    assert warm_start(wide, path) == []
    narrow.eval(), wide.eval()
    x = 0.1 * torch.randn(2, 1, 320 * 12, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a, b = narrow(x), wide(x)
    for key in ("light", "full", "logits"):
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6)
    stem = wide.encoder.layers[0].weight  # (6, 1, 7): rows 4 and 5 are new channels
    assert stem[4:].abs().sum() > 0


def test_multiresolution_stft_loss_closed_form():
    """y = 2x: spectral convergence is ||2S - S|| / ||S|| = 1 and the log-magnitude distance ln 2 at every
    resolution (floor 0), so the loss is 1 + ln 2; y = x gives 0."""
    x = torch.randn(2, 1, 8000, generator=torch.Generator().manual_seed(0))
    assert multiresolution_stft_loss(2 * x, x, floor=0.0).item() == pytest.approx(1 + math.log(2), abs=1e-4)
    assert multiresolution_stft_loss(x, x).item() == pytest.approx(0.0, abs=1e-7)


def test_clean_training_clips_are_speech_alone():
    """A clean scene is its speech stem alone (no background), and the clean items of a training batch carry
    speech in at least a quarter of their frames."""
    s = scene(2.0, 16000, (5, 1), 320, clean=True)
    np.testing.assert_array_equal(s.audio, s.speech)
    cfg = TrainConfig(batch=4, clean_share=0.5)
    audio, labels = _batch(cfg, CodecConfig(), 0, None, None)
    assert audio.shape == (4, 1, 10240)
    assert (labels[:2].mean(1) >= 0.25).all()


def _adv_train(tmp_path, steps, name, resume=True, progress=None):
    from dslsim.model.train import train

    cfg = TrainConfig(steps=steps, time_budget_s=None, batch=2, seconds=0.32, warmup=0.3, checkpoint_every=10,
                      threads=1, adv_weight=1.0, fm_weight=2.0, stft_weight=1.0, clean_share=0.5)
    return train(_tiny(4), cfg, tmp_path / name, resume=resume, progress=progress)


def test_adversarial_training_resumes_to_the_same_weights(tmp_path):
    """With the discriminator on, an interrupted run resumed from its checkpoint reaches the weights of an
    uninterrupted one, the discriminator's included (it is saved with its optimizer)."""
    from dslsim.model.train import load_checkpoint

    def interrupt(state, logs):
        assert {"adv", "fm", "disc"} <= set(logs)
        if state.step == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        _adv_train(tmp_path, 3, "ck.pt", progress=interrupt)
    resumed = load_checkpoint(_adv_train(tmp_path, 3, "ck.pt"))
    straight = load_checkpoint(_adv_train(tmp_path, 3, "straight.pt", resume=False))
    assert resumed["state"]["step"] == straight["state"]["step"] == 3
    for part in ("model", "disc"):
        for k, v in straight[part].items():
            assert torch.equal(v, resumed[part][k]), (part, k)


def test_discriminator_losses_at_known_logits():
    """Hinge losses by hand: a discriminator whose logits are all c gives relu(1 - c) + relu(1 + c) to itself
    and relu(1 - c) to the codec; identical real and fake audio give zero feature matching."""
    from dslsim.model.adversarial import MultiScaleSTFTDiscriminator, discriminator_loss, generator_losses

    disc = MultiScaleSTFTDiscriminator(channels=4)
    for scale in disc.scales:  # logits = the output conv's bias alone
        torch.nn.init.zeros_(scale.out.weight)
        torch.nn.init.constant_(scale.out.bias, 0.25)
    x = torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(1))
    assert discriminator_loss(disc, x, 0.5 * x).item() == pytest.approx(0.75 + 1.25)
    adv, fm = generator_losses(disc, x, x.clone())
    assert adv.item() == pytest.approx(0.75)
    assert fm.item() == pytest.approx(0.0, abs=1e-7)


def test_over_seeds_gives_mean_and_student_t_interval():
    """Two seeds with values 1 and 3: mean 2, sample standard deviation sqrt 2, so the 95 % half-width is
    t(0.975, 1) x sqrt(2) / sqrt(2) = 12.7062; a constant column has half-width 0; names are kept."""
    import pandas as pd

    from dslsim.cli.model_cmd import over_seeds

    tables = [pd.DataFrame({"routing": ["a"], "x": [1.0], "k": [5.0]}),
              pd.DataFrame({"routing": ["a"], "x": [3.0], "k": [5.0]})]
    out = over_seeds(tables, ["routing"])
    assert out["routing"].tolist() == ["a"]
    assert out["x"].iloc[0] == pytest.approx(2.0)
    assert out["x_ci95"].iloc[0] == pytest.approx(12.7062047, rel=1e-6)
    assert out["k_ci95"].iloc[0] == 0.0
