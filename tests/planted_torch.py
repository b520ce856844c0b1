"""A planted differentiable classifier (a torch module with ``predict_torch``), for the
gradient searches' tests.

It says "yes" while the amplitude of one rfft bin (a faint tone) stays above a threshold,
with a smooth (sigmoid) score so that its margin has a gradient.
"""
from __future__ import annotations

import numpy as np
import torch

from planted import SR, hz_to_bin, tone_clip

#: The faint cue: a 440 Hz tone of this amplitude under louder content (1 kHz tone, noise).
CUE_HZ, CUE_AMP, THRESHOLD = 440.0, 0.005, 0.003


def faint_tone_clip(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A loud 1 kHz tone and noise, with the faint 440 Hz cue."""
    return tone_clip(seconds, tones=((CUE_HZ, CUE_AMP), (1000.0, 0.3)), noise=0.05, seed=seed)


class FaintTone(torch.nn.Module):
    """'yes' while the amplitude at ``hz`` exceeds ``threshold``; differentiable
    (``predict_torch``, the module's ``forward``)."""

    sample_rate = SR
    labels = ["no", "yes"]

    def __init__(self, hz: float = CUE_HZ, threshold: float = THRESHOLD, sharpness: float = 4000.0):
        super().__init__()
        self.name = "planted-torch-faint-tone"
        self.hz, self.threshold, self.sharpness = hz, threshold, sharpness

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        n = waves.shape[1]
        amp = torch.fft.rfft(waves.double(), dim=1)[:, hz_to_bin(self.hz, n)].abs() / (n / 2)
        p = torch.sigmoid((amp - self.threshold) * self.sharpness)
        return torch.stack([1 - p, p], dim=1).float()

    def predict_torch(self, waves: torch.Tensor) -> torch.Tensor:
        return self(waves)

    def predict(self, waves: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self(torch.from_numpy(np.asarray(waves, dtype=np.float32))).numpy()


class SteppedTone(FaintTone):
    """The same decision with scores of exactly 0 and 1 (rounded): differentiable in form, but
    its gradient is zero everywhere (gradient masking), so no gradient search can move it."""

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        p = torch.round(super().forward(waves)[:, 1])
        return torch.stack([1 - p, p], dim=1)


def faint_tone() -> FaintTone:
    """Factory for the command line: ``--models tests.planted_torch:faint_tone``."""
    return FaintTone()
