"""The STFT responsibility on the scale the model hears: mel bands by a readable time grid.

The engine's STFT responsibility is ``[freq, frames]`` over the linear STFT bins (513 x 1,876
for 30 s at ``n_fft=1024``, ``hop=256``). :func:`mel_grid` sums it onto mel bands (the Slaney mel
scale musicnn uses: linear below 1 kHz, logarithmic above) and onto blocks of frames, so the
totals are kept exactly: each STFT bin belongs to the one band its centre frequency falls in,
and each frame to one block. What is drawn is the *mean* responsibility per cell of each tile
(so a wide high band does not outshine a narrow low one by its width alone), lightly smoothed
for reading; hover and tables use the unsmoothed values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..audio.scales import hz_to_mel, mel_to_hz
from ._common import Explanation, stft_magnitude

__all__ = ["MelGrid", "mel_grid", "grid_from_arrays"]

@dataclass(frozen=True)
class MelGrid:
    """STFT responsibility summed onto ``[bands, columns]`` tiles (band 0 is the lowest).

    ``sums`` keeps the total (``sums.sum() == margin_drop.sum()``); ``cells`` is the
    number of STFT cells per tile; ``mean = sums / cells``; ``smooth`` is ``mean`` lightly
    smoothed (for drawing only); ``level_db`` the mean power per tile in dB re the loudest tile;
    ``removed`` the number of cells of the STFT flip in each tile (zeros when there is none).
    Band ``j`` spans ``hz_edges[j]..hz_edges[j + 1]`` (``mel_edges`` in mel); column ``c``
    spans ``t_edges[c]..t_edges[c + 1]`` seconds of the source."""

    sums: np.ndarray
    cells: np.ndarray
    mean: np.ndarray
    smooth: np.ndarray
    level_db: np.ndarray
    removed: np.ndarray
    mel_edges: np.ndarray
    hz_edges: np.ndarray
    t_edges: np.ndarray
    frames_per_column: int

    @property
    def hz_centres(self) -> np.ndarray:
        """Band centres in Hz (the middle of each band on the mel scale)."""
        return mel_to_hz((self.mel_edges[:-1] + self.mel_edges[1:]) / 2)

    @property
    def mel_centres(self) -> np.ndarray:
        return (self.mel_edges[:-1] + self.mel_edges[1:]) / 2

    @property
    def t_centres(self) -> np.ndarray:
        return (self.t_edges[:-1] + self.t_edges[1:]) / 2

    @property
    def total(self) -> float:
        return float(self.sums.sum())


def _band_of_bins(n_freq: int, sample_rate: int, n_fft: int, n_bands: int):
    """Each STFT bin's band and the band edges (mel, Hz), empty bands merged away."""
    nyquist = sample_rate / 2
    mel_edges = np.linspace(0.0, float(hz_to_mel(nyquist)), n_bands + 1)
    bin_mel = hz_to_mel(np.arange(n_freq) * sample_rate / n_fft)
    band = np.clip(np.searchsorted(mel_edges, bin_mel, side="right") - 1, 0, n_bands - 1)
    used = np.unique(band)                      # drop bands that hold no bin
    remap = np.full(n_bands, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    band = remap[band]
    # a kept band reaches up to the next kept band's lower edge (absorbing empty ones)
    lower = mel_edges[used]
    mel_kept = np.append(lower, mel_edges[-1])
    mel_kept[0] = 0.0
    return band, mel_kept


def _smooth(x: np.ndarray, sigma: tuple[float, float]) -> np.ndarray:
    if x.size == 0 or max(sigma) <= 0:
        return x.copy()
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=sigma, mode="nearest")


def grid_from_arrays(margin_drop: np.ndarray, sample_rate: int, n_fft: int, hop: int,
                     *, magnitude: np.ndarray | None = None,
                     removed_cells: np.ndarray | None = None, start: float = 0.0,
                     n_bands: int = 96, max_columns: int = 240,
                     sigma: tuple[float, float] = (1.2, 1.5)) -> MelGrid:
    """:func:`mel_grid` on plain arrays: ``margin_drop`` and ``magnitude`` are
    ``[freq, frames]``; ``removed_cells`` are flat indices into that shape."""
    resp = np.asarray(margin_drop, dtype=np.float64)
    if resp.ndim != 2 or resp.shape[0] != n_fft // 2 + 1:
        raise ValueError(f"STFT responsibility of shape {resp.shape} is not [n_fft/2+1, frames] "
                         f"for n_fft={n_fft}")
    n_freq, n_frames = resp.shape
    band, mel_edges = _band_of_bins(n_freq, sample_rate, n_fft, n_bands)
    per_col = max(1, int(math.ceil(n_frames / max(1, max_columns))))
    col = np.arange(n_frames) // per_col
    n_cols = int(col.max()) + 1 if n_frames else 0

    # bands and columns are contiguous runs of bins and frames: sum them with reduceat
    row_starts = np.flatnonzero(np.diff(band, prepend=-1))
    col_starts = np.arange(0, n_frames, per_col)

    def pool(values: np.ndarray) -> np.ndarray:
        rows = np.add.reduceat(np.asarray(values, dtype=np.float64), row_starts, axis=0)
        return np.add.reduceat(rows, col_starts, axis=1)

    sums = pool(resp)
    cells = np.outer(np.diff(np.append(row_starts, n_freq)),
                     np.diff(np.append(col_starts, n_frames))).astype(np.float64)
    mean = sums / np.maximum(cells, 1)
    if magnitude is not None:
        power = pool(np.asarray(magnitude, dtype=np.float64) ** 2) / np.maximum(cells, 1)
        level_db = 10 * np.log10(np.maximum(power, 1e-20) / max(float(power.max()), 1e-20))
    else:
        level_db = np.zeros_like(sums)
    removed = np.zeros_like(sums)
    if removed_cells is not None and len(removed_cells):
        mask = np.zeros(resp.size, dtype=np.float64)
        mask[np.asarray(removed_cells, dtype=np.int64)] = 1.0
        removed = pool(mask.reshape(resp.shape))
    # frame f is centred at f * hop; column c covers frames [c * per_col, (c + 1) * per_col)
    frame_s = hop / sample_rate
    t_edges = start + (np.minimum(np.arange(n_cols + 1) * per_col, n_frames) - 0.5) * frame_s
    return MelGrid(sums=sums, cells=cells, mean=mean, smooth=_smooth(mean, sigma),
                   level_db=level_db, removed=removed, mel_edges=mel_edges,
                   hz_edges=mel_to_hz(mel_edges), t_edges=t_edges, frames_per_column=per_col)


def mel_grid(exp: "Explanation", n_bands: int = 96, max_columns: int = 240,
             sigma: tuple[float, float] = (1.2, 1.5)) -> MelGrid | None:
    """The explanation's STFT responsibility on ``n_bands`` mel bands (96, as musicnn hears)
    by at most ``max_columns`` time columns, with its spectrogram level and the STFT flip's
    cells; ``sigma`` (bands, columns) is the Gaussian smoothing of the drawn values. None when
    the STFT variant did not run."""
    resp = getattr(exp, "stft_margin_drop", None)
    if resp is None or exp.stft is None:
        return None
    n_fft, hop = int(exp.stft["n_fft"]), int(exp.stft["hop"])
    mag = stft_magnitude(exp.audio.samples, n_fft, hop)
    if mag.shape != np.asarray(resp).shape:
        raise ValueError(f"STFT responsibility {np.asarray(resp).shape} does not match the STFT "
                         f"{mag.shape}")
    removed = exp.stft_flip.index if exp.stft_flip is not None else None
    return grid_from_arrays(resp, exp.sample_rate, n_fft, hop, magnitude=mag,
                            removed_cells=removed, start=float(exp.audio.start or 0.0),
                            n_bands=n_bands, max_columns=max_columns, sigma=sigma)
