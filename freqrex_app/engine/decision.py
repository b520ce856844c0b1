"""The decision being explained: the label wins, over the runner-up or over a foil."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Decision"]


@dataclass(frozen=True)
class Decision:
    """``target`` is the clip's top-1 label; with a ``foil`` the question is "why target and
    not foil?" (SPEC section 4, contrast).

    - the decision *holds* while target is top-1 (with a foil: while target scores above it);
    - it *changed* when another label is top-1 (with a foil: only when the foil is);
    - its *margin* is target's score minus the best other score (with a foil: the foil's).
    """

    target: int
    foil: int | None = None

    def margin(self, scores: np.ndarray) -> np.ndarray:
        scores = np.atleast_2d(scores)
        if self.foil is not None:
            return scores[:, self.target] - scores[:, self.foil]
        others = np.delete(scores, self.target, axis=1)
        return scores[:, self.target] - (others.max(axis=1) if others.shape[1] else 0.0)

    def holds(self, scores: np.ndarray) -> np.ndarray:
        scores = np.atleast_2d(scores)
        if self.foil is not None:
            return scores[:, self.target] > scores[:, self.foil]
        return scores.argmax(axis=1) == self.target

    def flip_margin(self, scores):
        """How far one clip's ``scores [L]`` (numpy or torch, so that a gradient flows) are from
        a *change*, negative once changed: the label minus the best other label; with a foil,
        the best label other than the foil minus the foil (the foil wins below 0). Unlike
        :meth:`margin`, which measures how far the decision is from no longer *holding*."""
        top = self.target if self.foil is None else self.foil
        best_other = scores[[i for i in range(scores.shape[0]) if i != top]].max()
        if self.foil is None:
            return scores[self.target] - best_other
        return best_other - scores[self.foil]

    def changed(self, scores: np.ndarray) -> np.ndarray:
        top = np.atleast_2d(scores).argmax(axis=1)
        return top == self.foil if self.foil is not None else top != self.target
