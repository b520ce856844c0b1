"""musicnn's input pipeline in torch: waves -> log-mel -> 3 s patches.

musicnn computes ``librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256,
n_mels=96)`` (periodic Hann window, centred frames with zero padding as in librosa >= 0.10,
power 2, Slaney mel scale and norm), then ``log10(10000 x + 1)``, and cuts the result into
non-overlapping patches of 187 frames (3 s). musicnn's own extractor casts the mel power to
float16 before the log, which overflows to ``inf`` on loud music; here the log is taken in
float32 (as ``log1p(10000 x) / ln 10``, the same function, more accurate near 0).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP",
    "N_MELS",
    "PATCH_FRAMES",
    "MIN_SAMPLES",
    "LogMel",
    "mel_filterbank",
    "n_frames",
    "n_patches",
    "to_patches",
]

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``, as musicnn sets it.
PATCH_FRAMES = 187
#: The fewest samples that give one full patch (centred frames: ``1 + N // HOP``).
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP


def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa's default (Slaney) mel filterbank, float32 ``[n_mels, n_fft // 2 + 1]``."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


def n_frames(n_samples: int) -> int:
    """Number of centred STFT frames for ``n_samples`` samples."""
    return 1 + n_samples // HOP


def n_patches(n_samples: int) -> int:
    """Number of non-overlapping 187-frame patches musicnn cuts (at least 1, see ``MIN_SAMPLES``)."""
    return max(1, (n_frames(n_samples) - PATCH_FRAMES) // PATCH_FRAMES + 1)


class LogMel(nn.Module):
    """Batched waves ``[B, N]`` (float32, 16 kHz) -> log-mel ``[B, T, 96]`` as musicnn defines it.

    The window and the mel filterbank are buffers built once.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, hop: int = HOP, n_mels: int = N_MELS):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True, dtype=torch.float32), persistent=False)
        fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels))
        self.register_buffer("mel_fb", fb, persistent=False)

    def power_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """Mel power ``[B, T, n_mels]`` (before the log)."""
        spec = torch.stft(
            waves.float(),
            n_fft=self.n_fft,
            hop_length=self.hop,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )  # [B, F, T]
        power = torch.view_as_real(spec).square().sum(-1)  # [B, F, T]
        return torch.matmul(power.transpose(1, 2), self.mel_fb.t())  # [B, T, M]

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        mel = self.power_mel(waves)
        return torch.log1p(mel * 10000.0) * (1.0 / math.log(10.0))


def to_patches(logmel: torch.Tensor, patch_frames: int = PATCH_FRAMES) -> torch.Tensor:
    """Cut ``[B, T, M]`` into non-overlapping patches ``[B, P, patch_frames, M]`` (tail dropped,
    as musicnn does). ``T`` must be at least ``patch_frames``."""
    b, t, m = logmel.shape
    p = (t - patch_frames) // patch_frames + 1
    if p < 1:
        raise ValueError(f"need at least {patch_frames} frames, got {t}")
    return logmel[:, : p * patch_frames].reshape(b, p, patch_frames, m)
