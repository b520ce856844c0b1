"""The excerpt a model hears: mono float32 samples at the model's rate, and where they came from."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Audio"]


@dataclass(frozen=True)
class Audio:
    """A mono excerpt: ``samples`` (float32 ``[N]``) at ``sample_rate``.

    ``start`` and ``duration`` are in seconds within ``source`` (a path, or None when the
    samples were given directly).
    """

    samples: np.ndarray
    sample_rate: int
    start: float = 0.0
    source: str | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        samples = np.ascontiguousarray(np.asarray(self.samples, dtype=np.float32))
        if samples.ndim != 1:
            raise ValueError(f"Audio samples must be mono [N], got shape {samples.shape}")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(audio)`` is the samples."""
        if dtype is not None and np.dtype(dtype) != self.samples.dtype:
            return self.samples.astype(dtype)
        return self.samples.copy() if copy else self.samples

    def __len__(self) -> int:
        return self.n_samples

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_rate
