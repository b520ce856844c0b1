"""The white-box reference (SPEC sections 4 and 8): what the margin's gradient finds.

For a model with a torch forward (:mod:`.torch_forward`), a *removal mask* ``m`` moves each
feature a fraction ``m_k`` of the way to the fill value: ``X'_k = X_k + m_k (fill - X_k)``,
over (a) the rfft bins, reconstructed with ``irfft(X', n=N)``, or (b) the complex STFT cells
(Hann window, centred frames, the other cells keeping their phase), reconstructed with the
inverse STFT at length N, exactly as :class:`~freqrex_app.engine.spaces.FrequencySpace` and
:class:`~freqrex_app.engine.spaces.StftSpace` do. The *margin* is the label's score minus the
best other active label (with a foil: the best label other than the foil minus the foil, so
that it turns negative exactly when the foil becomes the top-1). Its gradient with respect to
``m`` at 0 predicts, to first order, the margin drop of removing each feature.

- **Quiet flip** (:func:`least_audible_flip`): features with a positive predicted drop, in
  order of predicted drop per unit of removed energy; growing prefixes (gallop + bisection) are
  removed, or attenuated by one gain ``g`` (``X'_k = g X_k + (1 - g) fill``), and classified
  exactly by the model's own ``predict`` on the reconstructed wave; the shortest flipping
  prefix at each gain, and the highest SNR over the gains, is the answer. Re-linearisation:
  the gradient is recomputed at the mask of the best flip so far (or of the change with the
  lowest margin while none flipped) and the search repeated with the new order, for as long
  as it finds a quieter flip (``steps`` at most).
- **Flip-k** (:func:`whitebox_flip_k`): the best k-bin removal the gradient guides: the top k
  by predicted drop, a greedy variant that re-linearises after each bin, and for k = 1 the next
  few single bins too; the flipping candidate with the highest SNR (else the highest SNR).
- **Gradient saliency** (:func:`saliency_flip_k`): the baseline a reviewer expects: the top k
  bins by |gradient x input| of the label's score (|d score / d m_k| at 0), removed.

Every flip is the exact wave that was classified; its SNR is 10 log10(sum x^2 / sum (x-x')^2).
This estimates what the model allows (a ceiling for the black-box engine); it never runs in
the engine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..engine.manipulations import snr_db
from ..engine.oracle import Oracle
from ..engine.spaces import FrequencySpace, StftSpace
from .torch_forward import TorchForward, model_device, torch_forward

__all__ = ["WhiteBoxFlip", "WhiteBoxResult", "MaskedWave", "margin_gradient", "score_gradient",
           "energy_order", "least_audible_flip", "whitebox_flip_k", "saliency_flip_k",
           "run_whitebox", "GAINS"]

#: Attenuation gains tried by the quiet flips (0 = removal); measured in
#: benchmarks/evaluation/whitebox.md (0.9 never flipped there).
GAINS = (0.0, 0.5, 0.7, 0.8)
#: Re-linearisation steps after the first search (measured to gain 2-8 dB on real music).
STEPS = 3
#: Bisection stops when the flipping prefix is known to this relative precision.
RTOL = 0.01


@dataclass
class WhiteBoxFlip:
    """Features ``index`` (flat) removed or attenuated by ``gain``: the exact wave, its label."""

    domain: str          #: "freq" (rfft bins) or "stft" (STFT cells)
    method: str          #: how the features were chosen
    index: np.ndarray
    gain: float
    label: int
    confidence: float
    flipped: bool
    snr_db: float
    wave: np.ndarray = field(repr=False)
    margin: float = float("nan")  #: the exact margin of ``wave`` (negative: flipped)

    @property
    def n(self) -> int:
        return int(self.index.shape[0])


@dataclass
class WhiteBoxResult:
    """The white-box reference of one clip (None where not found; the reason in ``notes``)."""

    quiet: WhiteBoxFlip | None
    stft: WhiteBoxFlip | None
    flips: list[WhiteBoxFlip]       #: k = 1..5, removal
    saliency: list[WhiteBoxFlip]    #: k = 1..5, removal
    queries: int
    gradients: int
    seconds: float
    trace: list[dict] = field(default_factory=list)  #: every prefix search: domain, step, gain, n, snr
    notes: dict[str, str] = field(default_factory=dict)


class MaskedWave:
    """``mask -> wave``: the space's reconstruction with each feature moved ``m_k`` to the fill.

    Differentiable in ``mask`` (shape ``space.shape``); at a 0/1 mask it is the wave that
    ``space.remove`` gives (up to float rounding).
    """

    def __init__(self, space: FrequencySpace | StftSpace, device: torch.device | str = "cpu"):
        self.space = space
        self.device = torch.device(device)
        if space.ndim == 1:
            coef = torch.from_numpy(space.spectrum)
        else:
            coef = space.stft.clone()
            self.window = torch.hann_window(space.n_fft, device=self.device)
        self.coef = coef.to(self.device)
        self.delta = torch.as_tensor(space.fill, dtype=self.coef.dtype, device=self.device) - self.coef

    def __call__(self, mask: torch.Tensor) -> torch.Tensor:
        spec = self.coef + mask.to(self.delta.real.dtype) * self.delta
        s = self.space
        if s.ndim == 1:
            return torch.fft.irfft(spec, n=s.n_samples)
        return torch.istft(spec, s.n_fft, s.hop, window=self.window, center=True, length=s.n_samples)

    def energy(self) -> np.ndarray:
        """The energy each feature's full removal takes out (exact for bins; per cell for the
        STFT, which is not an orthogonal basis, |fill - S|^2)."""
        e = self.delta.abs().double().square().cpu().numpy()
        if self.space.ndim == 1:
            n = self.space.n_samples
            e[1:-1 if n % 2 == 0 else None] *= 2.0  # one-sided spectrum
            e /= n
        return e.ravel()


def _margin(scores: torch.Tensor, target: int, foil: int | None) -> torch.Tensor:
    """Label minus the best other label; with a foil, the best non-foil label minus the foil."""
    top = foil if foil is not None else target
    others = torch.cat([scores[:top], scores[top + 1:]])
    return scores[target] - others.max() if foil is None else others.max() - scores[foil]


def _gradient(forward: TorchForward, masked: MaskedWave, mask: np.ndarray | None,
              objective) -> tuple[float, np.ndarray]:
    shape = masked.coef.shape
    m = torch.zeros(shape, dtype=masked.delta.real.dtype, device=masked.device) if mask is None \
        else torch.as_tensor(mask.reshape(shape), dtype=masked.delta.real.dtype,
                             device=masked.device).clone()
    m.requires_grad_(True)
    with torch.enable_grad():
        value = objective(forward(masked(m)[None].float())[0])
        (grad,) = torch.autograd.grad(value, m)
    return float(value.detach()), grad.detach().double().cpu().numpy().ravel()


def margin_gradient(forward: TorchForward, masked: MaskedWave, target: int,
                    foil: int | None = None, mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """The margin at ``mask`` (default 0) and its gradient with respect to the mask (flat)."""
    return _gradient(forward, masked, mask, lambda s: _margin(s, target, foil))


def score_gradient(forward: TorchForward, masked: MaskedWave, target: int) -> tuple[float, np.ndarray]:
    """The label's score and its gradient with respect to the mask at 0 (flat)."""
    return _gradient(forward, masked, None, lambda s: s[target])


def energy_order(gradient: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Features whose removal the gradient predicts lowers the margin, by predicted drop per
    unit of removed energy (descending; ties by index)."""
    drop = -gradient
    cand = np.flatnonzero(drop > 0)
    ratio = drop[cand] / np.maximum(energy[cand], 1e-300)
    return cand[np.lexsort((cand, -ratio))].astype(np.int64)


class _Exact:
    """Changed waves, classified exactly (one wave per model call) by the oracle."""

    def __init__(self, space, oracle: Oracle, target: int, foil: int | None):
        self.space, self.oracle, self.target, self.foil = space, oracle, target, foil
        self.full = space.regions_wave([space.root])  # the unchanged reconstruction

    def wave(self, index: np.ndarray, gain: float) -> np.ndarray:
        removed = self.space.remove(index)
        if gain == 0.0:
            return removed
        # X' = g X + (1 - g) fill on index: linear in the spectrum
        return (gain * self.full + (1.0 - gain) * removed).astype(np.float32)

    def flipped(self, label: int) -> bool:
        return label != self.target if self.foil is None else label == self.foil

    def flip(self, index: np.ndarray, gain: float, method: str, domain: str) -> WhiteBoxFlip:
        wave = self.wave(index, gain)
        label, conf, scores = self.oracle.classify_one(wave)
        margin = float(_margin(torch.from_numpy(np.asarray(scores)), self.target, self.foil))
        return WhiteBoxFlip(domain, method, np.asarray(index, dtype=np.int64).copy(), float(gain),
                            label, conf, self.flipped(label), snr_db(self.space.wave, wave), wave,
                            margin)


def _shortest_flip(exact: _Exact, order: np.ndarray, gain: float, method: str, domain: str,
                   rtol: float = RTOL) -> tuple[WhiteBoxFlip | None, dict[int, WhiteBoxFlip]]:
    """The shortest flipping prefix of ``order`` (gallop 1, 2, 4, ... then bisection, to a
    relative precision ``rtol``) and every prefix tested."""
    seen: dict[int, WhiteBoxFlip] = {}
    n = int(order.shape[0])

    def test(k: int) -> bool:
        seen[k] = exact.flip(order[:k], gain, method, domain)
        return seen[k].flipped

    if n == 0:
        return None, seen
    fail, k = 0, 1
    while not test(k):
        fail = k
        if k >= n:
            return None, seen
        k = min(n, 2 * k)
    ok = k
    while ok - fail > max(1, int(rtol * ok)):
        mid = (ok + fail) // 2
        if test(mid):
            ok = mid
        else:
            fail = mid
    return seen[ok], seen


def least_audible_flip(forward: TorchForward, masked: MaskedWave, oracle: Oracle, target: int,
                       foil: int | None = None, gains: Sequence[float] = GAINS,
                       steps: int = STEPS, trace: list | None = None
                       ) -> tuple[WhiteBoxFlip | None, int]:
    """The quietest flip the gradient's energy order finds (and how many gradients it took).

    Step 0 searches every gain. Each re-linearisation step recomputes the gradient at the mask
    of the best flip so far (or, while none flipped, of the tested change with the lowest exact
    margin) and searches again (at the best flip's gain, or every gain while none flipped),
    stopping once a step finds no quieter flip.
    """
    space = masked.space
    domain = "freq" if space.ndim == 1 else "stft"
    exact = _Exact(space, oracle, target, foil)
    energy = masked.energy()
    best: WhiteBoxFlip | None = None
    lowest: WhiteBoxFlip | None = None  # the tested change with the lowest margin
    mask = None
    grads = 0
    for step in range(int(steps) + 1):
        _, grad = margin_gradient(forward, masked, target, foil, mask)
        grads += 1
        order = energy_order(grad, energy)
        improved = False
        for gain in (gains if best is None else (best.gain,)):
            f, seen = _shortest_flip(exact, order, float(gain), f"energy order, step {step}",
                                     domain)
            if trace is not None:
                trace.append({"domain": domain, "step": step, "gain": float(gain),
                              "n": None if f is None else f.n,
                              "snr_db": None if f is None else f.snr_db,
                              "tests": [(k, t.flipped, round(t.margin, 5)) for k, t in seen.items()]})
            for t in seen.values():
                if lowest is None or t.margin < lowest.margin:
                    lowest = t
            if f is not None and (best is None or f.snr_db > best.snr_db):
                best, improved = f, True
        if best is not None and not improved:
            break
        at = best or lowest
        if at is None:
            break
        mask = np.zeros(space.n_features)
        mask[at.index] = 1.0 - at.gain
    return best, grads


def _best(flips: list[WhiteBoxFlip]) -> WhiteBoxFlip:
    return max(flips, key=lambda f: (f.flipped, f.snr_db))


def whitebox_flip_k(forward: TorchForward, masked: MaskedWave, oracle: Oracle, target: int,
                    foil: int | None = None, ks: Sequence[int] = range(1, 6),
                    singles: int = 8) -> tuple[list[WhiteBoxFlip], int]:
    """For each k, the best k-bin removal the margin's gradient guides (and the gradients)."""
    exact = _Exact(masked.space, oracle, target, foil)
    ks = list(ks)
    _, grad = margin_gradient(forward, masked, target, foil)
    grads = 1
    top = np.lexsort((np.arange(grad.size), grad)).astype(np.int64)  # largest predicted drop
    greedy = [int(top[0])]
    while len(greedy) < max(ks):
        mask = np.zeros(grad.size)
        mask[greedy] = 1.0
        _, g = margin_gradient(forward, masked, target, foil, mask)
        grads += 1
        g[greedy] = np.inf
        greedy.append(int(np.argmin(g)))
    out = []
    for k in ks:
        cands = [exact.flip(top[:k], 0.0, "top-k predicted drop", "freq")]
        if sorted(greedy[:k]) != sorted(top[:k].tolist()):
            cands.append(exact.flip(np.array(greedy[:k]), 0.0, "greedy re-linearised", "freq"))
        if k == 1:
            cands += [exact.flip(top[i:i + 1], 0.0, f"single bin #{i + 1} by predicted drop", "freq")
                      for i in range(1, singles)]
        out.append(_best(cands))
    return out, grads


def saliency_flip_k(forward: TorchForward, masked: MaskedWave, oracle: Oracle, target: int,
                    ks: Sequence[int] = range(1, 6)) -> list[WhiteBoxFlip]:
    """Remove the top-k bins by |gradient x input| of the label's score (nested over k)."""
    exact = _Exact(masked.space, oracle, target, None)
    _, grad = score_gradient(forward, masked, target)
    top = np.lexsort((np.arange(grad.size), -np.abs(grad))).astype(np.int64)
    return [exact.flip(top[:k], 0.0, "gradient saliency", "freq") for k in ks]


def run_whitebox(model, space: FrequencySpace, stft_space: StftSpace | None, target: int,
                 foil: int | None = None, *, ks: Sequence[int] = range(1, 6),
                 gains: Sequence[float] = GAINS, steps: int = STEPS, singles: int = 8,
                 oracle: Oracle | None = None) -> WhiteBoxResult | str:
    """The white-box reference of one clip, or the reason it cannot run for ``model``."""
    forward, reason = torch_forward(model)
    if forward is None:
        return reason
    t0 = time.perf_counter()
    oracle = oracle or Oracle(model)
    q0 = oracle.queries
    device = model_device(model)
    trace: list[dict] = []
    notes: dict[str, str] = {}
    freq = MaskedWave(space, device)
    quiet, grads = least_audible_flip(forward, freq, oracle, target, foil, gains, steps, trace)
    if quiet is None:
        notes["quiet"] = "no prefix of the gradient's energy order flips the label"
    stft = None
    if stft_space is not None:
        stft, g = least_audible_flip(forward, MaskedWave(stft_space, device), oracle, target, foil,
                                     gains, steps, trace)
        grads += g
        if stft is None:
            notes["stft"] = "no prefix of the gradient's energy order of STFT cells flips the label"
    flips, g = whitebox_flip_k(forward, freq, oracle, target, foil, ks, singles)
    saliency = saliency_flip_k(forward, freq, oracle, target, ks)
    return WhiteBoxResult(quiet, stft, flips, saliency, oracle.queries - q0, grads + g + 1,
                          time.perf_counter() - t0, trace, notes)
