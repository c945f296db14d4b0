"""Models: each takes ``(x [B,T,D], pad_mask [B,T])`` and returns ``(gloss_logits, cat_logits)``."""

from signlang.models.ensemble import SignEnsemble
from signlang.models.gru import SignGRU
from signlang.models.iv3_gru import InceptionV3GRU
from signlang.models.transformer import SignTransformer

__all__ = ["InceptionV3GRU", "SignEnsemble", "SignGRU", "SignTransformer"]
