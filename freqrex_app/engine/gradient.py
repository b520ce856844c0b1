"""The least audible flips by the margin's gradient (SPEC section 4), for differentiable models.

A *mask* ``m`` moves each feature (an rfft bin, or an STFT cell) a fraction ``m_k`` of the way
to the fill value, ``X'_k = X_k + m_k (fill - X_k)``, and the space's own reconstruction
(``irfft``, or the inverse STFT keeping the other cells' phase) turns it into a wave; the
model's ``predict_torch`` scores it. The gradient of the *flip margin* (how far the decision is
from changing: the label's score minus the best other, or with a foil the best non-foil label
minus the foil) with respect to ``m`` at the current mask predicts each feature's effect.

1. Features whose change the gradient predicts lowers the flip margin are ordered by predicted
   drop per unit of the energy the change takes out (the audibility cost).
2. For each gain ``g`` in ``gains`` (0 is removal), the shortest flipping prefix of that order
   is bracketed around the prefix whose predicted drop, ``(1 - g)`` times the summed gradient,
   reaches the margin, and bisected; every test classifies the exact wave with ``predict``.
3. Re-linearisation: the gradient is taken again at the mask of the best flip so far (or of
   the tested change nearest to flipping while none did) and step 2 repeats at that flip's gain,
   while it finds a quieter flip (while none flipped: a nearer change; ``steps`` at most).

The best flip is the one with the highest SNR, or the least audible by the caller's model of
hearing (``less_audible``, from ``audio.hearing``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from .decision import Decision
from .manipulations import Flip, remove_and_classify
from .oracle import BudgetExhausted, Oracle
from .prefix import bracket

__all__ = ["GAINS", "STEPS", "MaskedWave", "GradientResult", "mask_gradient",
           "margin_gradient",
           "energy_order", "gradient_flip"]

#: Attenuation gains tried, in this order (0 = removal): the gentlest first, as the model's own
#: flips on real music were mostly at 0.8, then 0.7 and 0.5, never removals; 0.9 never flipped.
#: A later gain is searched only among the prefixes that would change less energy than the
#: best flip so far.
GAINS = (0.8, 0.7, 0.5, 0.0)
#: Re-linearisation steps after the first search (2-8 dB on real music).
STEPS = 3
#: Bisection stops when the flipping prefix is known to this relative precision.
RTOL = 0.02
#: A gain is searched up to the prefix whose change (in the order's own energy measure) is this
#: many times the best flip's (the STFT is not an orthogonal basis: the measure is approximate).
_SLACK = 1.5


class MaskedWave:
    """``mask -> wave``: the space's reconstruction with each feature moved ``m_k`` to the fill.

    Differentiable in ``mask`` (shape ``space.shape``); at a 0/1 mask it is the wave that
    ``space.remove`` gives (up to float rounding).
    """

    def __init__(self, space, device: torch.device | str = "cpu"):
        self.space = space
        self.device = torch.device(device)
        if space.ndim == 1:
            coef = torch.from_numpy(space.spectrum)
        else:
            coef = space.stft.clone()
            self.window = torch.hann_window(space.n_fft, device=self.device)
        self.coef = coef.to(self.device)
        self.delta = torch.as_tensor(space.fill, dtype=self.coef.dtype,
                                     device=self.device) - self.coef

    def __call__(self, mask: torch.Tensor) -> torch.Tensor:
        spec = self.coef + mask.to(self.delta.real.dtype) * self.delta
        s = self.space
        if s.ndim == 1:
            return torch.fft.irfft(spec, n=s.n_samples)
        return torch.istft(spec, s.n_fft, s.hop, window=self.window, center=True,
                           length=s.n_samples)

    def energy(self) -> np.ndarray:
        """The energy each feature's full removal takes out (exact for bins; per cell for the
        STFT, which is not an orthogonal basis, ``|fill - S|^2``), flat."""
        e = self.delta.abs().double().square().cpu().numpy()
        if self.space.ndim == 1:
            n = self.space.n_samples
            e[1:-1 if n % 2 == 0 else None] *= 2.0  # one-sided spectrum
            e /= n
        return e.ravel()


def mask_gradient(model, masked: MaskedWave, objective: Callable[[torch.Tensor], torch.Tensor],
                  mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """``objective(scores)`` at ``mask`` (default 0) and its gradient with respect to the mask
    (flat)."""
    shape = masked.coef.shape
    dtype = masked.delta.real.dtype
    m = (torch.zeros(shape, dtype=dtype, device=masked.device) if mask is None
         else torch.as_tensor(mask.reshape(shape), dtype=dtype, device=masked.device).clone())
    m.requires_grad_(True)
    with torch.enable_grad():
        value = objective(model.predict_torch(masked(m)[None].float())[0])
        (grad,) = torch.autograd.grad(value, m)
    return float(value.detach()), grad.detach().double().cpu().numpy().ravel()


def margin_gradient(model, masked: MaskedWave, decision: Decision,
                    mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """The flip margin at ``mask`` (default 0) and its gradient with respect to the mask (flat)."""
    return mask_gradient(model, masked, decision.flip_margin, mask)


def energy_order(gradient: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Features whose change the gradient predicts lowers the margin, by predicted drop per
    unit of removed energy (descending; ties by index)."""
    drop = -gradient
    cand = np.flatnonzero(drop > 0)
    ratio = drop[cand] / np.maximum(energy[cand], 1e-300)
    return cand[np.lexsort((cand, -ratio))].astype(np.int64)


@dataclass
class GradientResult:
    """The quietest flip found (None: none), the gradient passes and model calls it took, and
    the first gradient's predicted drop of the flip margin per feature (``>= 0``, the map);
    ``seconds`` is the time spent in the gradient passes (forward and backward)."""

    flip: Flip | None
    gradients: int
    queries: int
    drop_map: np.ndarray
    trace: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def gradient_flip(space, model, oracle: Oracle, decision: Decision, *,
                  budget: float = float("inf"), gains: Sequence[float] = GAINS,
                  steps: int = STEPS,
                  less_audible: Callable[[np.ndarray, np.ndarray], bool] | None = None
                  ) -> GradientResult:
    """The least audible flip the gradient's energy order finds within ``budget`` model calls.

    Each prefix tested is the exact wave ``space.attenuate`` gives, classified on its own by ``oracle``; the returned flip is
    one of them (``search="gradient"``). The shortest flipping prefix of each search is a
    candidate; the best is the one with the highest SNR, or with ``less_audible`` (whether
    one wave is less audible than another) the one it prefers.
    """
    start = oracle.queries
    masked = MaskedWave(space)
    energy = masked.energy()
    best: Flip | None = None
    nearest: tuple[float, np.ndarray, float] | None = None  # (margin, index, gain) while none flipped
    trace: list[dict] = []
    mask, drop_map, grads, margin, best_change = None, None, 0, 0.0, np.inf
    last = None  # the nearest change at the last re-linearisation, while none flipped
    seconds = 0.0

    def better(f: Flip, than: Flip | None) -> bool:
        if than is None:
            return True
        return (less_audible(f.wave, than.wave) if less_audible is not None
                else f.snr_db > than.snr_db)

    def test(order: np.ndarray, gain: float, k: int, tested: dict) -> bool:
        if min(budget - (oracle.queries - start), oracle.left) < 1:
            raise BudgetExhausted("gradient search budget spent")
        flip = remove_and_classify(space, oracle, order[:k], decision, gain, search="gradient")
        tested[k] = flip
        return flip.flipped

    try:
        for step in range(int(steps) + 1):
            t0 = time.perf_counter()
            value, grad = margin_gradient(model, masked, decision, mask)
            grads, seconds = grads + 1, seconds + time.perf_counter() - t0
            if drop_map is None:  # at the clip itself: its map and its flip margin
                drop_map = np.maximum(-grad, 0.0).reshape(space.shape)
                margin = max(value, 0.0)
            order = energy_order(grad, energy)
            if order.size == 0:
                break
            predicted = np.cumsum(-grad[order])
            removed = np.cumsum(energy[order])  # the energy each prefix takes out at gain 0
            improved = False
            for gain in (gains if best is None else (best.gain,)):
                # the prefix whose linear prediction reaches the clip's margin, at this gain,
                # among those that would change less energy than the best flip so far
                reach = int(np.searchsorted((1.0 - gain) * predicted, margin)) + 1
                hi = order.size if best is None else int(np.searchsorted(
                    removed, _SLACK * best_change / max(1.0 - gain, 1e-9) ** 2)) + 1
                hi = min(hi, order.size)
                tested: dict[int, Flip] = {}
                k = bracket(lambda j: test(order, gain, j, tested), min(reach, hi), hi, RTOL)
                trace.append({"step": step, "gain": float(gain), "n": k,
                              "tests": sorted(tested), "snr_db": None if k is None
                              else tested[k].snr_db})
                if k is not None and better(tested[k], best):
                    best, improved = tested[k], True
                    best_change = (1.0 - best.gain) ** 2 * float(energy[best.index].sum())
                if best is None:
                    for j, f in tested.items():
                        m = float(decision.flip_margin(np.asarray(f.scores)))
                        if nearest is None or m < nearest[0]:
                            nearest = (m, order[:j], gain)
            if best is not None and not improved:
                break
            at = (best.index, best.gain) if best is not None else (
                (nearest[1], nearest[2]) if nearest is not None else None)
            if at is None or (best is None and nearest is last):
                break  # no nearer change to linearise at: the next step would repeat this one
            last = nearest
            mask = np.zeros(space.n_features)
            mask[at[0]] = 1.0 - at[1]
    except BudgetExhausted:
        pass
    if drop_map is None:
        drop_map = np.zeros(space.shape)
    return GradientResult(best, grads, oracle.queries - start, drop_map, trace, seconds)

