"""A worked early-exit example: a three-exit speech detector on the generated always-on scenes.

Per 20 ms frame (16 kHz, hop 320) the detector reads 40 log-mel bands and says whether speech is present. A
causal conv1d stem and three residual blocks (dilations 1, 2, 4) each end in a linear exit head giving P(speech);
all exits are trained together (the sum of their cross-entropies), so each is a detector of its own. At run time a
frame leaves at exit i when that exit is sure enough: confidence |2p - 1| at or above exit i's threshold
(``conf_exit<i>``); the last exit takes the rest. ``err_exit<i>`` is 1 where exit i's answer (p >= 0.5) is
wrong, so the routed mean is the error rate.

It exists to show the export of a dynamic network from PyTorch (:mod:`dslsim.model.dynamic`) end to end and to
give a K-path trace whose exits really follow the audio: quiet background leaves early, speech onsets go deep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from dslsim.errors import DslsimError
from dslsim.fileio import write_atomic
from dslsim.model.data import scene
from dslsim.model.dynamic import DynamicNetwork, dynamic_trace, measure_stages
from dslsim.model.losses import mel
from dslsim.trace.schema import Decision, Op, Trace

SAMPLE_RATE, HOP, N_MELS, WINDOW = 16_000, 320, 40, 640


@dataclass(frozen=True)
class DetectorConfig:
    """Shape of the early-exit detector."""

    width: int = 32
    exits: int = 3
    kernel: int = 3


class CausalBlock(nn.Module):
    """Residual causal conv1d block: x + relu(conv(x)), left-padded so frame t sees frames <= t only."""

    def __init__(self, width: int, kernel: int, dilation: int):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(width, width, kernel, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.conv(F.pad(x, (self.pad, 0))))


class EarlyExitDetector(nn.Module):
    """A 1x1 stem and ``exits`` residual blocks, a linear head after each. Input (B, 40, T) log-mel, output (B, exits, T)
    logits."""

    def __init__(self, config: DetectorConfig = DetectorConfig()):
        super().__init__()
        self.config = config
        w, k = config.width, config.kernel
        # The 1x1 stem belongs to the first block: it runs exactly when the first block does.
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv1d(N_MELS, w, 1), CausalBlock(w, k, 1))]
                                    + [CausalBlock(w, k, 2 ** i) for i in range(1, config.exits)])
        self.heads = nn.ModuleList(nn.Linear(w, 1) for _ in range(config.exits))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features
        logits = []
        for block, head in zip(self.blocks, self.heads):
            x = block(x)
            logits.append(head(x.transpose(1, 2)).squeeze(-1))
        return torch.stack(logits, dim=1)

    def network(self, thresholds: list[float]) -> DynamicNetwork:
        """The detector as dslsim sees it: stage ``block1`` is the stem and first block, ``block<i>`` the i-th,
        ``exit<i>`` its head; path ``exit<i>`` runs blocks and heads 1..i."""
        k = self.config.exits
        if len(thresholds) != k - 1:
            raise DslsimError(f"{len(thresholds)} threshold(s) for {k} exits: expected {k - 1}, one per exit but the last.")
        stages: dict[str, nn.Module] = {}
        for i in range(1, k + 1):
            stages[f"block{i}"] = self.blocks[i - 1]
            stages[f"exit{i}"] = self.heads[i - 1]
        paths = {f"exit{i}": [s for j in range(1, i + 1) for s in (f"block{j}", f"exit{j}")] for i in range(1, k + 1)}
        decisions = tuple(Decision(f"exit{i}", f"conf_exit{i}", float(t), f"exit{i}")
                          for i, t in enumerate(thresholds, start=1))
        w = self.config.width
        # Hooks see the convolutions and heads; the ReLU and skip add of a block, and an exit's sigmoid and
        # confidence, are element operations they cannot see.
        extra = {f"block{i}": [Op(name="relu_add", kind="elementwise", macs=2.0 * w, act_in_bytes=2.0 * w,
                                  act_out_bytes=float(w))] for i in range(1, k + 1)}
        extra.update({f"exit{i}": [Op(name="sigmoid_confidence", kind="elementwise", macs=3.0, act_in_bytes=1.0,
                                      act_out_bytes=1.0)] for i in range(1, k + 1)})
        return DynamicNetwork(stages=stages, paths=paths, decisions=decisions, fallback_path=f"exit{k}",
                              extra_ops=extra)


def features(audio: torch.Tensor) -> torch.Tensor:
    """(B, N) audio -> (B, 40, N / hop) log-mel, one column per frame (a 40 ms window ending with the frame)."""
    x = F.pad(audio[:, None], (WINDOW - HOP, 0))
    return torch.log(mel(x, WINDOW, SAMPLE_RATE, hop=HOP, n_mels=N_MELS, center=False) + 1e-5)


def batch(seconds: float, size: int, seed) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-mel (size, 40, T), speech labels (size, T)) from seeded generated scenes."""
    clips = [scene(seconds, SAMPLE_RATE, (seed, i), hop=HOP) for i in range(size)]
    audio = torch.from_numpy(np.stack([c.audio for c in clips]))
    labels = torch.from_numpy(np.stack([c.labels for c in clips]).astype(np.float32))
    return features(audio), labels


def train(steps: int = 1500, config: DetectorConfig = DetectorConfig(), seed: int = 0, pool: int = 384,
          clip_seconds: float = 8.0, crop_frames: int = 200, batch_size: int = 32,
          progress: Callable[[int, float], None] | None = None) -> EarlyExitDetector:
    """Train all exits together (Adam, mean of per-exit binary cross-entropies) on random crops of a pool of
    ``pool`` generated scenes (generating scenes costs far more than a step of this small network)."""
    torch.manual_seed(seed)
    x_all, y_all = batch(clip_seconds, pool, seed=(seed, 1))         # evaluation draws (10_000, i): disjoint
    generator = torch.Generator().manual_seed(seed)
    model = EarlyExitDetector(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    frames = x_all.shape[-1]
    for step in range(steps):
        rows = torch.randint(0, pool, (batch_size,), generator=generator)
        start = int(torch.randint(0, frames - crop_frames + 1, (1,), generator=generator))
        x, y = x_all[rows, :, start:start + crop_frames], y_all[rows, start:start + crop_frames]
        logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, y[:, None].expand_as(logits))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress:
            progress(step + 1, float(loss.detach()))
    return model.eval()


def save(model: EarlyExitDetector, path: str | Path, record: dict) -> Path:
    """Write the detector's weights and config (tensors and plain data only), atomically."""
    payload = {"format": "dslsim.early_exit", "version": 1, "config": asdict(model.config),
               "model": model.state_dict(), "record": record}
    return write_atomic(path, lambda p: torch.save(payload, p))


def load(path: str | Path) -> EarlyExitDetector:
    """Load a detector checkpoint safely (``weights_only=True``)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DslsimError(f"{path}: no such checkpoint file.") from None
    except Exception as exc:
        raise DslsimError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc}).") from None
    if not isinstance(payload, dict) or payload.get("format") != "dslsim.early_exit":
        raise DslsimError(f"{path}: not an early-exit detector checkpoint (format 'dslsim.early_exit').")
    model = EarlyExitDetector(DetectorConfig(**payload["config"]))
    model.load_state_dict(payload["model"])
    return model.eval()


@dataclass
class Evaluation:
    """Per-frame outputs of the detector on some clips."""

    probability: np.ndarray     # (exits, frames)
    labels: np.ndarray          # (frames,) bool

    @property
    def confidence(self) -> np.ndarray:
        return np.abs(2 * self.probability - 1)

    @property
    def wrong(self) -> np.ndarray:
        """(exits, frames): 1 where an exit's answer is wrong."""
        return ((self.probability >= 0.5) != self.labels[None]).astype(np.float32)


def evaluate(model: EarlyExitDetector, seconds: float = 60.0, clips: int = 4, seed: int = 10_000) -> Evaluation:
    """Run the detector on held-out scenes (seeds the training never drew)."""
    with torch.no_grad():
        parts = [batch(seconds, 1, seed=(seed, i)) for i in range(clips)]
        probability = np.concatenate([torch.sigmoid(model(x))[0].numpy() for x, _ in parts], axis=1)
    labels = np.concatenate([y[0].numpy() > 0.5 for _, y in parts])
    return Evaluation(probability, labels)


def exit_table(ev: Evaluation, thresholds: list[list[float]]) -> pd.DataFrame:
    """For each threshold set: the share of frames at each exit and the routed error rate, overall and on
    speech frames; rows 'always exit<i>' first."""
    k = ev.probability.shape[0]
    rows = []
    for i in range(k):
        wrong = ev.wrong[i]
        rows.append({"routing": f"always exit{i + 1}", **{f"share_exit{j + 1}": float(j == i) for j in range(k)},
                     "error_rate": float(wrong.mean()), "error_rate_speech": float(wrong[ev.labels].mean()),
                     "mean_exit": i + 1.0})
    for ts in thresholds:
        exit_of = np.full(ev.labels.shape, k - 1)
        for i in reversed(range(k - 1)):
            exit_of = np.where(ev.confidence[i] >= ts[i], i, exit_of)
        wrong = ev.wrong[exit_of, np.arange(len(exit_of))]
        rows.append({"routing": "thresholds " + ", ".join(f"{t:g}" for t in ts),
                     **{f"share_exit{j + 1}": float((exit_of == j).mean()) for j in range(k)},
                     "error_rate": float(wrong.mean()), "error_rate_speech": float(wrong[ev.labels].mean()),
                     "mean_exit": float(exit_of.mean() + 1)})
    return pd.DataFrame(rows)


def export(model: EarlyExitDetector, thresholds: list[float], seconds: float = 600.0, seed: int = 20_000,
           dtype: str = "int8", source: dict | None = None) -> Trace:
    """A trace of one held-out scene of ``seconds``: measured stage ops, per-exit confidences and errors, the
    speech labels, routed by ``thresholds``."""
    net = model.network(thresholds)
    frames = 50
    probe = features(torch.zeros(1, frames * HOP))
    stages = measure_stages(net, lambda: model(probe), frames=frames, dtype=dtype)
    ev = evaluate(model, seconds=seconds, clips=1, seed=seed)
    k = model.config.exits
    return dynamic_trace(net, stages, scores={f"conf_exit{i + 1}": ev.confidence[i] for i in range(k - 1)},
                         frame_rate=SAMPLE_RATE / HOP, sample_rate=SAMPLE_RATE, hop=HOP,
                         errors={f"exit{i + 1}": ev.wrong[i] for i in range(k)},
                         extra={"label": ev.labels},
                         source={"model": f"early-exit speech detector ({k} exits, C={model.config.width})",
                                 "audio": f"generated always-on scene, seed {seed}, {seconds:g} s",
                                 "bytes_assume": dtype, **(source or {})})


def timed_train(steps: int, config: DetectorConfig, seed: int, progress=None) -> tuple[EarlyExitDetector, dict]:
    """:func:`train` and its record (steps, seconds, final loss) for the run log."""
    t0 = time.perf_counter()
    losses: list[float] = []

    def tick(step: int, loss: float) -> None:
        losses.append(loss)
        if progress:
            progress(step, loss)
    model = train(steps, config, seed, progress=tick)
    return model, {"steps": steps, "seed": seed, "wall_s": round(time.perf_counter() - t0, 1),
                   "final_loss_mean_last_50": float(np.mean(losses[-50:])), "torch": str(torch.__version__)}
