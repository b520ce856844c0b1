"""Feature spaces the search runs over: rfft bins (1-D) and STFT cells (2-D).

A *region* is a contiguous block of features: ``(lo, hi)`` bins, or ``(f0, f1, t0, t1)`` cells.
A space turns sets of regions, or flat feature indices, into waveforms (mutants): kept
features keep their complex value, removed ones take the fill value. Both transforms are
linear, so the search can sum the waveforms of disjoint regions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.fft
import torch

__all__ = ["FrequencySpace", "StftSpace", "split_widths"]

Region = tuple[int, ...]


def split_widths(width: int, rng: np.random.Generator, min_width: int, parts: int = 4) -> list[int]:
    """Widths of up to ``parts`` contiguous pieces of ``width``, at random cuts, each >= min_width."""
    p = min(parts, width // min_width)
    if p < 2:
        return []
    extra = width - p * min_width
    cuts = np.sort(rng.integers(0, extra + 1, size=p - 1))
    bounds = np.concatenate(([0], cuts, [extra]))
    return [int(min_width + d) for d in np.diff(bounds)]


class FrequencySpace:
    """The rfft bins of a clip: ``F = N // 2 + 1`` features."""

    ndim = 1

    def __init__(self, wave: np.ndarray, sample_rate: int, fill: float = 0.0):
        self.wave = np.asarray(wave, dtype=np.float32)
        self.n_samples = int(self.wave.shape[0])
        self.sample_rate = int(sample_rate)
        self.spectrum = np.fft.rfft(self.wave.astype(np.float64)).astype(np.complex64)
        self.shape = (self.spectrum.shape[0],)
        self.n_features = self.shape[0]
        self.fill = np.complex64(fill)
        self.magnitude = np.abs(self.spectrum).astype(np.float32)
        power = self.magnitude.astype(np.float64) ** 2
        power[1:-1 if self.n_samples % 2 == 0 else None] *= 2.0  # one-sided spectrum
        self.power = power
        self.root: Region = (0, self.n_features)

    def hz(self, bins: np.ndarray | int) -> np.ndarray:
        return np.asarray(bins) * self.sample_rate / self.n_samples

    def size(self, region: Region) -> int:
        return region[1] - region[0]

    def split(self, region: Region, rng: np.random.Generator, min_width: int) -> list[Region]:
        lo, hi = region
        out, at = [], lo
        for w in split_widths(hi - lo, rng, min_width, parts=2):
            out.append((at, at + w))
            at += w
        return out

    def add(self, resp: np.ndarray, region: Region, value: float) -> None:
        resp[region[0]:region[1]] += value

    def _irfft(self, spec: np.ndarray) -> np.ndarray:
        return scipy.fft.irfft(spec, n=self.n_samples, axis=-1).astype(np.float32, copy=False)

    def regions_wave(self, regions: Sequence[Region]) -> np.ndarray:
        """The waveform keeping only ``regions`` (fill elsewhere)."""
        spec = np.full(self.n_features, self.fill, dtype=np.complex64)
        for lo, hi in regions:
            spec[lo:hi] = self.spectrum[lo:hi]
        return self._irfft(spec)

    def keep(self, index: np.ndarray) -> np.ndarray:
        """The waveform keeping only the features ``index`` (flat)."""
        spec = np.full(self.n_features, self.fill, dtype=np.complex64)
        spec[index] = self.spectrum[index]
        return self._irfft(spec)

    def remove(self, index: np.ndarray) -> np.ndarray:
        """The waveform of the full spectrum with the features ``index`` (flat) removed."""
        spec = self.spectrum.copy()
        spec[index] = self.fill
        return self._irfft(spec)

    def attenuate(self, index: np.ndarray, gain: float = 0.0) -> np.ndarray:
        """The full spectrum with the features ``index`` scaled by ``gain`` (0: removed)."""
        spec = self.spectrum.copy()
        spec[index] = self.fill + np.complex64(gain) * (spec[index] - self.fill)
        return self._irfft(spec)

    def empty_wave(self) -> np.ndarray:
        return self.regions_wave([])


class StftSpace:
    """The cells of the complex STFT (Hann window, centred frames): ``freq x frames`` features."""

    ndim = 2

    def __init__(self, wave: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256,
                 fill: float = 0.0):
        self.wave = np.asarray(wave, dtype=np.float32)
        self.n_samples = int(self.wave.shape[0])
        self.sample_rate = int(sample_rate)
        self.n_fft, self.hop = int(n_fft), int(hop)
        if self.n_samples <= self.n_fft // 2:
            raise ValueError(f"clip of {self.n_samples} samples is too short for an STFT of {n_fft}")
        self._window = torch.hann_window(self.n_fft)
        with torch.inference_mode():
            self.stft = torch.stft(torch.from_numpy(self.wave), self.n_fft, self.hop,
                                   window=self._window, center=True, return_complex=True)
        self.shape = tuple(self.stft.shape)
        self.n_features = self.shape[0] * self.shape[1]
        self.fill = complex(fill)
        self.magnitude = self.stft.abs().numpy().astype(np.float32)
        self.root: Region = (0, self.shape[0], 0, self.shape[1])
        # overlap-added squared window, as torch.istft divides by it
        env = torch.zeros(self.n_samples + self.n_fft * 2, dtype=torch.float32)
        at = (torch.arange(self.shape[1]) * self.hop)[None, :] + torch.arange(self.n_fft)[:, None]
        env.index_add_(0, at.reshape(-1), (self._window ** 2)[:, None].expand_as(at).reshape(-1))
        self._envelope = env[self.n_fft // 2:self.n_fft // 2 + self.n_samples].clamp_min(1e-11)
        # a removal is x - keep(cells) by linearity: istft(stft(x)) is x to float precision,
        # and using x's own samples leaves every untouched sample (and model patch) as it was
        self._full = self.wave

    def hz(self, freq_bins: np.ndarray | int) -> np.ndarray:
        return np.asarray(freq_bins) * self.sample_rate / self.n_fft

    def seconds(self, frames: np.ndarray | int) -> np.ndarray:
        return np.asarray(frames) * self.hop / self.sample_rate

    def size(self, region: Region) -> int:
        f0, f1, t0, t1 = region
        return (f1 - f0) * (t1 - t0)

    def split(self, region: Region, rng: np.random.Generator, min_width: int) -> list[Region]:
        """A 2x2 grid at one random cut in frequency and one in time; 4 strips when one side is 1."""
        f0, f1, t0, t1 = region
        fw = split_widths(f1 - f0, rng, 1, parts=2) if f1 - f0 >= 2 else []
        tw = split_widths(t1 - t0, rng, 1, parts=2) if t1 - t0 >= 2 else []
        if fw and not tw:
            fw = split_widths(f1 - f0, rng, 1)
        if tw and not fw:
            tw = split_widths(t1 - t0, rng, 1)
        fcuts = np.cumsum([f0] + (fw or [f1 - f0]))
        tcuts = np.cumsum([t0] + (tw or [t1 - t0]))
        out = [(int(fcuts[i]), int(fcuts[i + 1]), int(tcuts[j]), int(tcuts[j + 1]))
               for i in range(len(fcuts) - 1) for j in range(len(tcuts) - 1)]
        return out if len(out) >= 2 else []

    def add(self, resp: np.ndarray, region: Region, value: float) -> None:
        f0, f1, t0, t1 = region
        resp[f0:f1, t0:t1] += value

    def _istft(self, spec: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            wave = torch.istft(spec, self.n_fft, self.hop, window=self._window, center=True,
                               length=self.n_samples)
        return wave.numpy().astype(np.float32, copy=False)

    def _overlap_add(self, parts: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> np.ndarray:
        """Inverse STFT of sparse columns: ``(cols [freq, T], frame ids [T])`` pairs, fill 0.

        Only the given frames are inverted and overlap-added (the sum torch.istft makes,
        normalised by the same window envelope), so a few frames cost almost nothing.
        """
        half = self.n_fft // 2
        out = torch.zeros(self.n_samples + 2 * half + self.n_fft, dtype=torch.float32)
        with torch.inference_mode():
            for cols, frame_ids in parts:
                frames = torch.fft.irfft(cols, n=self.n_fft, dim=0) * self._window[:, None]
                at = (frame_ids * self.hop)[None, :] + torch.arange(self.n_fft)[:, None]
                out.index_add_(0, at.reshape(-1), frames.reshape(-1))
            wave = out[half:half + self.n_samples] / self._envelope
        return wave.numpy().astype(np.float32, copy=False)

    def _narrow(self, n_frames: int) -> bool:
        return self.fill == 0 and n_frames <= self.shape[1] // 2

    def regions_wave(self, regions: Sequence[Region]) -> np.ndarray:
        """The inverse STFT keeping only ``regions`` (frame-locally when they are narrow)."""
        if not self._narrow(sum(t1 - t0 for _, _, t0, t1 in regions)):
            spec = torch.full(self.shape, self.fill, dtype=self.stft.dtype)
            for f0, f1, t0, t1 in regions:
                spec[f0:f1, t0:t1] = self.stft[f0:f1, t0:t1]
            return self._istft(spec)
        parts = []
        for f0, f1, t0, t1 in regions:
            cols = torch.zeros((self.shape[0], t1 - t0), dtype=self.stft.dtype)
            cols[f0:f1] = self.stft[f0:f1, t0:t1]
            parts.append((cols, torch.arange(t0, t1)))
        return self._overlap_add(parts)

    def keep(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        freq, frame = np.divmod(index, self.shape[1])
        frame_ids, col = np.unique(frame, return_inverse=True)
        if not self._narrow(frame_ids.size):
            spec = torch.full(self.shape, self.fill, dtype=self.stft.dtype).reshape(-1)
            idx = torch.from_numpy(index)
            spec[idx] = self.stft.reshape(-1)[idx]
            return self._istft(spec.reshape(self.shape))
        cols = torch.zeros((self.shape[0], frame_ids.size), dtype=self.stft.dtype)
        f, c, t = (torch.from_numpy(a) for a in (freq, col, frame))
        cols[f, c] = self.stft[f, t]
        return self._overlap_add([(cols, torch.from_numpy(frame_ids))])

    def remove(self, index: np.ndarray) -> np.ndarray:
        """The full STFT with cells ``index`` removed: istft(S) - keep(index), by linearity."""
        index = np.asarray(index, dtype=np.int64)
        touched = np.zeros(self.shape[1], dtype=bool)
        touched[index % self.shape[1]] = True
        if not self._narrow(int(touched.sum())):
            spec = self.stft.clone().reshape(-1)
            spec[torch.from_numpy(index)] = self.fill
            return self._istft(spec.reshape(self.shape))
        return self._full - self.keep(index)

    def attenuate(self, index: np.ndarray, gain: float = 0.0) -> np.ndarray:
        """The full STFT with cells ``index`` scaled by ``gain`` (0: removed), inverted."""
        if gain == 0.0:
            return self.remove(index)
        index = np.asarray(index, dtype=np.int64)
        touched = np.zeros(self.shape[1], dtype=bool)
        touched[index % self.shape[1]] = True
        if not self._narrow(int(touched.sum())):
            spec = self.stft.clone().reshape(-1)
            idx = torch.from_numpy(index)
            spec[idx] = self.fill + gain * (spec[idx] - self.fill)
            return self._istft(spec.reshape(self.shape))
        return self._full - np.float32(1.0 - gain) * self.keep(index)

    def empty_wave(self) -> np.ndarray:
        return self.regions_wave([])
