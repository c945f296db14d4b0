"""SignEnsemble: several copies of one model trained side by side, their logits averaged; and the
mirrored clip read too (``flip_tta``).

Members start from different random weights and see the same batches; each is trained on its own
loss (in training the logits come stacked, ``[members, B, C]``, and the trainer averages the
members' losses), so they stay as different as separately seeded runs. One run, one folder, one
checkpoint: evaluation, prediction, streams and the camera read the ensemble as one model.

The members' per-frame views (``signlang.models.features``: parameter-free, the same for every
member) are computed once per batch and handed to each member, not once per member: with hand
angles that was a tenth of a WLASL100 training step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from signlang.core.errors import ConfigError
from signlang.core.layout import MIRROR, NUM_POINTS
from signlang.models.layers import Mix


class SignEnsemble(nn.Module):
    """``size`` members built by ``member()`` (``conf/model/ensemble.yaml``: any model config with
    ``_partial_: true``)."""

    def __init__(self, input_dim: int, *, member: Callable[[], nn.Module], size: int, flip_tta: bool) -> None:
        super().__init__()
        self.input_dim = input_dim  # what the data configs read (${model.input_dim}); the members' own
        if not isinstance(size, int) or size < 1:
            raise ConfigError(f"model.size must be an integer >= 1, got {size!r}")
        self.members = nn.ModuleList(member() for _ in range(size))
        self.input_kind = self.members[0].input_kind
        widths = {m.features.input_dim for m in self.members if hasattr(m, "features")}
        if widths and widths != {input_dim}:
            raise ConfigError(f"model.input_dim ({input_dim}) must be the members' (model.member.input_dim: {widths})")
        if flip_tta and self.input_kind != "keypoints":
            raise ConfigError("model.flip_tta mirrors keypoints; this model reads " + self.input_kind)
        self.flip_tta = flip_tta
        # Members built from one config have the same views; compute them once (a member config that
        # could differ, or a member without views, gets x and computes its own).
        views = {repr(getattr(m, "features", None)) for m in self.members}
        self.shared_frames = len(views) == 1 and hasattr(self.members[0], "features")
        self.register_buffer("mirror", torch.as_tensor(MIRROR), persistent=False)

    @property
    def input_norm(self):
        """The first member's (the members see the same inputs: ``fit_input_norm`` fits it once and the
        others copy it, see :meth:`share_input_norm`)."""
        return getattr(self.members[0], "input_norm", None)

    def frame_features(self, x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        return self.members[0].frame_features(x, pad_mask)

    def share_input_norm(self) -> None:
        """Give every member the first member's fitted input statistics."""
        first = self.input_norm
        for m in self.members[1:]:
            if getattr(m, "input_norm", None) is not None and first is not None:
                m.input_norm.load_state_dict(first.state_dict())

    def mirrored(self, x: torch.Tensor) -> torch.Tensor:
        """The clips mirrored left-right: left and right swap, x negated (the pipeline has centred the
        signer on the shoulders; points not found stay at 0)."""
        points = x.view(*x.shape[:-1], NUM_POINTS, 2)[..., self.mirror, :]
        return torch.stack([-points[..., 0], points[..., 1]], dim=-1).reshape(x.shape)

    def member_outputs(self, x: torch.Tensor, pad_mask: torch.Tensor, lengths=None, mix: Mix | None = None):
        """Each member's ``(gloss, category, embedding)``, with the mirrored clip's averaged in at eval;
        ``mix`` (``trainer.mixup``) is the same blend for every member."""
        views = [x, self.mirrored(x)] if self.flip_tta and not self.training else [x]
        given = [{"frames": self.frame_features(v, pad_mask)} if self.shared_frames else {} for v in views]
        out = []
        for m in self.members:
            parts = [m.embed(v, pad_mask, lengths, mix=mix, **g) for v, g in zip(views, given)]
            embedding = torch.stack(parts).mean(0)
            gloss = torch.stack([m.gloss_head(p) for p in parts]).mean(0)
            cat = torch.stack([m.cat_head(p) for p in parts]).mean(0)
            out.append((gloss, cat, embedding))
        return out

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor, lengths=None, mix: Mix | None = None):
        """Training: logits stacked ``[members, B, C]`` (one loss each); evaluation: their mean ``[B, C]``."""
        outputs = self.member_outputs(x, pad_mask, lengths, mix)
        gloss = torch.stack([o[0] for o in outputs])
        cat = torch.stack([o[1] for o in outputs])
        return (gloss, cat) if self.training else (gloss.mean(0), cat.mean(0))

    def embed_and_classify(self, x: torch.Tensor, pad_mask: torch.Tensor, lengths=None):
        """Mean logits and the members' embeddings side by side (``signlang.models.rejection``)."""
        outputs = self.member_outputs(x, pad_mask, lengths)
        gloss = torch.stack([o[0] for o in outputs]).mean(0)
        cat = torch.stack([o[1] for o in outputs]).mean(0)
        return gloss, cat, torch.cat([o[2] for o in outputs], dim=-1)
