"""musicnn's input pipeline in torch: waves -> log-mel -> 3 s patches.

musicnn computes ``librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256,
n_mels=96)`` (periodic Hann window, centred frames with zero padding as in librosa >= 0.10,
power 2, Slaney mel scale and norm), then ``log10(10000 x + 1)``, and cuts the result into
non-overlapping patches of 187 frames (3 s). musicnn's own extractor casts the mel power to
float16 before the log, which overflows to ``inf`` on loud music; here the log is taken in
float32 (as ``log1p(10000 x) / ln 10``, the same function, more accurate near 0).

Each patch depends on an exact span of samples: patch ``p`` holds the centred frames
``187 p .. 187 p + 186``, and centred frame ``t`` covers samples ``[256 t - 256, 256 t + 256)``
(zero beyond the clip) with a periodic Hann window whose first weight is 0, so patch ``p``
depends on samples ``[47872 p - 255, 47872 (p + 1))`` clipped to the clip (``patch_span``;
patch 0 from sample 0): 48,127 samples, 255 shared with each neighbour. The log-mel of one
patch is computed from its 48,128-sample *segment* alone (``segments``: zeros where the span
leaves the clip and under the window's zero weight, then ``LogMel(center=False)``), frame
for frame the same arithmetic as the whole clip's centred STFT.
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
    "PATCH_STRIDE",
    "SEGMENT",
    "LogMel",
    "mel_filterbank",
    "n_frames",
    "n_patches",
    "patch_span",
    "segments",
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
#: Samples between the starts of consecutive patches (187 frames of 256 samples).
PATCH_STRIDE = PATCH_FRAMES * HOP
#: Samples one patch depends on: 187 frames of 512 samples, 256 apart.
SEGMENT = (PATCH_FRAMES - 1) * HOP + N_FFT


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


def patch_span(p: int, n_samples: int) -> tuple[int, int]:
    """Samples ``[lo, hi)`` of a clip of ``n_samples`` that patch ``p``'s log-mel depends on."""
    start = p * PATCH_STRIDE - N_FFT // 2  # the first sample of the patch's first frame,
    return max(0, start + 1), min(n_samples, start + SEGMENT)  # where the Hann window is 0


def segments(waves: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The ``SEGMENT``-sample input of each patch ``which[k] = (row, p)`` of ``waves [B, N]``:
    ``[K, SEGMENT]`` float32, the clip's samples of ``patch_span(p, N)`` and zeros elsewhere
    (the centred STFT's padding, the padding of a short clip, the window's zero weight)."""
    n = waves.shape[1]
    out = np.zeros((len(which), SEGMENT), dtype=np.float32)
    for k, (row, p) in enumerate(np.asarray(which, dtype=np.int64).reshape(-1, 2)):
        lo, hi = patch_span(int(p), n)
        at = lo - (int(p) * PATCH_STRIDE - N_FFT // 2)
        out[k, at : at + hi - lo] = waves[row, lo:hi]
    return out


class LogMel(nn.Module):
    """Batched waves ``[B, N]`` (float32, 16 kHz) -> log-mel ``[B, T, 96]`` as musicnn defines it.

    ``center=True``: musicnn's centred frames (``1 + N // 256``); ``center=False``: frames
    that start at sample 0 (``1 + (N - 512) // 256``), for a patch's segment. The window and
    the mel filterbank are buffers built once.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, hop: int = HOP, n_mels: int = N_MELS,
                 center: bool = True):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop
        self.center = center
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
            center=self.center,
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
