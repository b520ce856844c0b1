"""The least audible flip in one domain (SPEC section 4): by the margin's gradient where the
model is differentiable (``gradient``), by black-box search elsewhere (``quiet``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decision import Decision
from .gradient import gradient_flip
from .manipulations import Flip, loudest_first, snr_db
from .oracle import Oracle
from .quiet import quiet_search

__all__ = ["SEARCHES", "FlipSearch", "least_audible_flip"]

#: ``flip_search`` values: "auto" takes the gradient where the model has ``predict_torch``.
SEARCHES = ("auto", "gradient", "black-box")


@dataclass
class FlipSearch:
    """What one least-audible search found: the flip (None: none within its budget), the map
    it measured (black-box: the margin's measured drop per feature; gradient: the predicted
    drop), and the gradient passes it took, with their seconds."""

    flip: Flip | None
    drop_map: np.ndarray
    gradients: int = 0
    gradient_seconds: float = 0.0


def least_audible_flip(space, oracle: Oracle, decision: Decision, *, budget: float,
                       search: str, model=None, clip_scores: np.ndarray | None = None,
                       **settings) -> FlipSearch:
    """The least audible flip of ``space`` that ``search`` ("gradient" or "black-box") finds;
    its features are listed loudest first."""
    if search == "gradient":
        found = gradient_flip(space, model, oracle, decision, budget=budget, **settings)
        flip = found.flip
        if flip is not None:
            flip.index = loudest_first(space, flip.index)
        return FlipSearch(flip, found.drop_map, found.gradients, found.seconds)
    if search != "black-box":
        raise ValueError(f"search must be 'gradient' or 'black-box', not {search!r}")
    found = quiet_search(space, oracle, decision, budget=budget, clip_scores=clip_scores,
                         **settings)
    if found.index is None:
        return FlipSearch(None, found.drop_map)
    index = loudest_first(space, found.index)
    flip = Flip(int(index.shape[0]), index, found.label, found.confidence, True,
                snr_db(space.wave, found.wave), found.wave, found.gain, "black-box")
    return FlipSearch(flip, found.drop_map)
