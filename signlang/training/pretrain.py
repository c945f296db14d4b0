"""Self-supervised pre-training of keypoint encoders: masked-frame and masked-point reconstruction.

Labelled clips are few where it matters (WLASL100: ~14 per gloss, from 97 signers); unlabelled
keypoints are not (FSL-105, asl33, the run's own clips). Before the supervised fit, each
SignTransformer (each member of an ensemble) learns to fill in what was hidden from it: spans of
whole frames and single points are set to "not detected" (exact zeros, what the pipeline already
uses for a missing point), and a linear decoder on the encoder's per-frame output predicts the
clip's standardised per-frame views (``KeypointFeatures``) before masking. The loss is the mean
squared error over the values masking hid (present in the clip, zero after masking). The encoder,
its input statistics included, is then where ``trainer.fit`` starts; the heads start fresh.

``conf/pretrain/masked.yaml`` pre-trains inside the run (``RunFolder.save_pretraining``:
``checkpoints/pretrained_encoder.pt`` and ``pretrain_metrics.csv``); ``pretrain.init=<run or file>``
starts from an encoder pre-trained before instead (one pre-training, many seeds of fine-tuning).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from signlang.core.errors import ConfigError, DataError
from signlang.data.clips import Batch, ClipSet
from signlang.data.loader import eval_batches
from signlang.data.module import ClipData
from signlang.models.input_norm import fit_input_norm
from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.folder import RunFolder
from signlang.training.optim import param_groups
from signlang.training.schedulers import cosine

log = logging.getLogger(__name__)

HEADS = ("gloss_head.", "cat_head.")  # what pre-training leaves untouched (and does not save)


def encoders(model: nn.Module) -> list[nn.Module]:
    """The keypoint encoders of ``model``: itself, or an ensemble's members. Refused for a model
    without per-frame outputs over keypoints (the GRUs, InceptionV3-GRU)."""
    parts = list(getattr(model, "members", [model]))
    if not all(hasattr(m, "encode") and getattr(m, "input_kind", None) == "keypoints" for m in parts):
        raise ConfigError(
            f"pretrain=masked pre-trains keypoint transformers (model=transformer, or model=ensemble of them); "
            f"{type(parts[0]).__name__} has no per-frame encoder to pre-train: use pretrain=none"
        )
    return parts


def hide(
    x: torch.Tensor, pad_mask: torch.Tensor, g: torch.Generator, frame_ratio: float, span: int, point_ratio: float
):
    """``x [B,T,156]`` with spans of frames and single points set to 0 ("not detected").

    A span of ``span`` frames starts at each frame with probability ``frame_ratio / span``, so about
    ``frame_ratio`` of the frames are hidden (a little less where spans overlap); each remaining point
    is hidden with probability ``point_ratio``. Padding stays padding."""
    b, t, d = x.shape
    starts = (torch.rand(b, t, generator=g) < frame_ratio / span).float()
    frames = F.max_pool1d(F.pad(starts[:, None], (span - 1, 0)), span, stride=1)[:, 0].bool()
    points = torch.rand(b, t, d // 2, generator=g) < point_ratio
    hidden = (frames[..., None] | points) & ~pad_mask[..., None]
    return (x.float().view(b, t, d // 2, 2) * ~hidden[..., None]).view(b, t, d)


class MaskedPretraining:
    """Pre-trains the encoders of a model on keypoint folders before the supervised fit
    (``conf/pretrain/masked.yaml``: every setting is a keyword set there)."""

    def __init__(
        self,
        *,
        roots: list[str],
        include_train: bool,
        steps: int,
        lr: float,
        weight_decay: float,
        warmup: float,
        frame_ratio: float,
        span: int,
        point_ratio: float,
        log_every: int,
        init: str | None = None,
    ) -> None:
        if not (0.0 <= frame_ratio < 1.0 and 0.0 <= point_ratio < 1.0 and frame_ratio + point_ratio > 0):
            raise ConfigError(
                f"pretrain.frame_ratio ({frame_ratio}) and pretrain.point_ratio ({point_ratio}) must be in [0, 1), "
                "not both 0 (nothing would be hidden)"
            )
        if int(span) < 1 or int(steps) < 1:
            raise ConfigError(f"pretrain.span ({span}) and pretrain.steps ({steps}) must be >= 1")
        if not 0.0 <= warmup < 1.0:
            raise ConfigError(f"pretrain.warmup is a fraction of pretrain.steps in [0, 1), got {warmup}")
        self.roots = [str(r) for r in roots or []]
        self.include_train = bool(include_train)
        if not self.roots and not self.include_train and init is None:
            raise ConfigError("pretrain: no clips to pre-train on: list folders in pretrain.roots or set include_train")
        self.steps = int(steps)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.warmup = float(warmup)
        self.frame_ratio = float(frame_ratio)
        self.span = int(span)
        self.point_ratio = float(point_ratio)
        self.init = init
        self.log_every = int(log_every)

    # ------------------------------------------------------------------------------ entry point
    def run(self, model: nn.Module, data: ClipData, run: RunFolder, trainer: Any, dist: Any = None) -> None:
        """Give ``model`` pre-trained encoders: read from ``init``, or trained here (on ``trainer.device``,
        seeded by ``trainer.seed``) and saved in ``run``. Called once, before ``trainer.fit``; never on
        resume (the run's checkpoint has the weights)."""
        if dist is not None and dist.world_size > 1:
            raise ConfigError(
                "pretrain=masked runs in one process: pre-train without torchrun, then pretrain.init=<run>"
            )
        parts = encoders(model)
        if self.init is not None:
            self.load(parts, self.init)
            return
        clips = self.clips(data, run)
        fit_input_norm(model, eval_batches(clips, data.transform, data.eval_batch_size))  # kept by trainer.fit
        history = self.train(parts, data.loader(clips, train=True, seed=trainer.seed), trainer.device)
        model.to("cpu")
        run.save_pretraining(self.state(parts, clips, history), history)

    def clips(self, data: ClipData, run: RunFolder) -> ClipSet:
        """Every clip of ``roots`` and (``include_train``) the clips the run trains on, normalised:
        never its val or test split unless the run trains on val (``data.train_on_val``)."""
        missing = [root for root in self.roots if not Path(root).is_dir()]
        if missing:
            raise DataError(f"pretrain.roots: {missing[0]} is not a folder of .npz clips; fix the path or drop it")
        if self.roots and not hasattr(data, "load"):
            raise ConfigError(f"pretrain.roots reads .npz folders; {type(data).__name__} has none: use data=keypoints")
        sets = [data.prepare(data.load(root, None)) for root in self.roots]
        if self.include_train:
            data.bind_split(run.path, write=run.writer)  # a carved val split: the one the fit will use
            sets.append(data.prepared("train"))
            if data.train_on_val:
                sets.append(data.prepared("val"))
        if not all(isinstance(c, ClipSet) for c in sets):
            raise ConfigError("pretrain=masked reads its clips in memory: use data.cache=memory or mmap, not none")
        clips = ClipSet.concat(sets) if len(sets) > 1 else sets[0]
        log.info(
            "pretrain: %d clips, %d frames (%s%s)",
            len(clips),
            len(clips.x),
            ", ".join(self.roots) or "no extra folders",
            " + the run's training clips" if self.include_train else "",
        )
        return clips

    # ------------------------------------------------------------------------------ the loop
    def train(self, parts: list[nn.Module], loader, device: torch.device) -> list[dict[str, float]]:
        """``steps`` steps of masked reconstruction for every encoder on the same batches; each has its
        own linear decoder (thrown away after). Returns the logged rows."""
        decoders = nn.ModuleList(nn.Linear(m.norm.normalized_shape[0], m.features.dim) for m in parts)
        trained = nn.ModuleList([*parts, decoders]).to(device).train()
        optimizer = torch.optim.AdamW(param_groups(trained), lr=self.lr, weight_decay=self.weight_decay)
        schedule = cosine(optimizer, self.steps, steps_per_epoch=self.steps, warmup_epochs=self.warmup)
        g = torch.Generator().manual_seed(int(loader.batch_sampler.seed))
        history, running, step, epoch, start = [], 0.0, 0, 0, time.perf_counter()
        while step < self.steps:
            loader.batch_sampler.set_epoch(epoch)
            for batch in loader:
                loss = self.loss(parts, decoders, batch.to(device), g)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                step += 1
                running += float(loss.detach())
                if step % self.log_every == 0 or step == self.steps:
                    n = step % self.log_every or self.log_every
                    row = {"step": step, "loss": running / n, "time_s": time.perf_counter() - start}
                    history.append(row)
                    log.info("pretrain step %d/%d: reconstruction loss %.4f", step, self.steps, row["loss"])
                    running = 0.0
                if step == self.steps:
                    break
            epoch += 1
        return history

    def loss(self, parts: list[nn.Module], decoders: nn.ModuleList, batch: Batch, g: torch.Generator) -> torch.Tensor:
        """Mean over encoders of the squared error on the standardised values that hiding removed."""
        x, pad = batch.x.float(), batch.pad_mask
        hidden_x = hide(x.cpu(), pad.cpu(), g, self.frame_ratio, self.span, self.point_ratio).to(x.device)
        losses = []
        for m, decoder in zip(parts, decoders, strict=True):
            raw, seen = m.features(x, pad), m.features(hidden_x, pad)
            target = m.input_norm(raw) if m.input_norm is not None else raw
            scored = ((seen == 0) & (raw != 0) & ~pad[..., None]).float()
            h = m.encode(hidden_x, pad)
            h = h[:, 1:] if m.cls_token is not None else h
            losses.append(((decoder(h) - target) ** 2 * scored).sum() / scored.sum().clamp(min=1.0))
        return torch.stack(losses).mean()

    # ------------------------------------------------------------------------------ saving / loading
    def state(self, parts: list[nn.Module], clips: ClipSet, history: list[dict[str, float]]) -> dict[str, Any]:
        """What ``pretrained_encoder.pt`` holds: each encoder's weights without its heads, and how they were made."""
        return {
            "encoders": [{k: v for k, v in m.state_dict().items() if not k.startswith(HEADS)} for m in parts],
            "pretrain": {
                "roots": self.roots,
                "include_train": self.include_train,
                "clips": len(clips),
                "steps": self.steps,
                "frame_ratio": self.frame_ratio,
                "span": self.span,
                "point_ratio": self.point_ratio,
                "final_loss": history[-1]["loss"] if history else float("nan"),
            },
        }

    @staticmethod
    def load(parts: list[nn.Module], init: str | Path) -> None:
        """Start ``parts`` from the encoders saved in ``init`` (a run folder or its ``pretrained_encoder.pt``).
        One saved encoder starts every member of an ensemble; else there must be one per member."""
        path = Path(init)
        path = RunFolder(path, writer=False).pretrained_path if path.is_dir() else path
        saved = load_checkpoint(path).get("encoders")
        if not saved:
            raise DataError(
                f"pretrain.init: {path} holds no pre-trained encoder (a run with pretrain=masked writes one)"
            )
        if len(saved) not in (1, len(parts)):
            raise ConfigError(
                f"pretrain.init: {path} holds {len(saved)} encoders for a model with {len(parts)}: "
                "pre-train with the same model.size, or from a single transformer"
            )
        for i, m in enumerate(parts):
            try:
                missing, unexpected = m.load_state_dict(saved[i % len(saved)], strict=False)
            except RuntimeError as e:
                why = str(e).splitlines()[-1].strip()
                raise ConfigError(
                    f"pretrain.init: {path} was pre-trained with another model shape ({why}); "
                    "use the same model settings as its run"
                ) from None
            wrong = [k for k in missing if not k.startswith(HEADS)] + list(unexpected)
            if wrong:
                raise ConfigError(
                    f"pretrain.init: {path} does not match this model ({', '.join(wrong[:4])}); "
                    "use the same model settings as its run"
                )
        log.info("pretrain: %d encoder(s) start from %s", len(parts), path)
