"""Shared helpers of the figures: note names, log-frequency bands, envelopes, STFT rows."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..audio.scales import hz_to_note

#: An explanation as the plots read it (a ``freqrex_app.engine.Explanation``). The plots never
#: import the engine: the engine calls them to save its figures, so imports run one way.
Explanation = Any

__all__ = ["PALETTE", "hz_to_note", "note_ticks", "new_figure", "log_bands", "band_max",
           "envelope", "style_log_hz", "stft_log_rows", "stft_magnitude"]

#: Colours shared by the figures and the app.
PALETTE = {
    "spectrum": "#9aa0a6",
    "original": "#5f6368",
    "responsibility": "#7b2cbf",
    "sufficient": "#f28c28",      # S: orange
    "necessary": "#f6c700",       # SN (beyond S): yellow
    "adjustment": "#d62828",      # A: red
    "changed": "#1a73e8",
    "difference": "#d62828",
    "grid": "#e3e3e3",
}



def note_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """The A notes (A0 = 27.5 Hz, ..., A4 = 440 Hz, ...) between ``lo`` and ``hi`` Hz."""
    out = []
    for octave in range(0, 11):
        hz = 27.5 * 2 ** octave
        if lo <= hz <= hi:
            out.append((hz, f"A{octave}"))
    return out


def new_figure(width: float = 10.0, height: float = 3.2, *, left: float = 0.75,
               right: float = 0.35, top: float = 0.55, bottom: float = 0.5,
               hspace: float = 0.55, wspace: float = 0.05) -> Figure:
    """A white figure with fixed margins in inches (faster than constrained layout)."""
    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_facecolor("white")
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, hspace=hspace, wspace=wspace)
    return fig


def log_bands(n_bins: int, sample_rate: int, n_samples: int, n_bands: int = 700,
              fmin: float = 20.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-spaced bands over the rfft bins: (first bin of each band, band centres in Hz,
    band edges in Hz). Bands that contain no bin are dropped."""
    df = sample_rate / n_samples
    nyquist = (n_bins - 1) * df
    lo = max(fmin, df)
    if nyquist <= lo:
        lo = df * 0.5
    edges = np.geomspace(lo, max(nyquist, lo * 1.01), n_bands + 1)
    starts = np.ceil(edges / df).astype(np.int64)
    starts = np.clip(starts, 0, n_bins)
    starts[0] = min(starts[0], 1) if n_bins > 1 else 0
    starts, keep = np.unique(starts, return_index=True)
    starts = starts[starts < n_bins]
    ends = np.append(starts[1:], n_bins)
    centres = np.sqrt(np.maximum(starts, 0.5) * np.maximum(ends - 1, 0.5)) * df
    return starts, centres, np.append(starts, n_bins) * df


def band_max(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Maximum of ``values`` (one per bin) within each band starting at ``starts``."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.float64)
    return np.maximum.reduceat(np.asarray(values, dtype=np.float64), starts)


def envelope(wave: np.ndarray, n_cols: int = 1600) -> tuple[np.ndarray, np.ndarray, int]:
    """Min and max of ``wave`` over ``n_cols`` blocks, and the block length in samples."""
    wave = np.asarray(wave, dtype=np.float32)
    n = wave.shape[0]
    block = max(1, int(math.ceil(n / n_cols)))
    pad = (-n) % block
    if pad:
        wave = np.concatenate([wave, np.full(pad, wave[-1] if n else 0.0, dtype=np.float32)])
    blocks = wave.reshape(-1, block)
    return blocks.min(axis=1), blocks.max(axis=1), block


def style_log_hz(ax, lo: float, hi: float, notes: bool = True, axis: str = "x") -> None:
    """A log-frequency axis in Hz with the A notes on the opposite side."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def fmt(v, _pos):
        return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"

    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        main = ax.xaxis
    else:
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        main = ax.yaxis
    main.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    main.set_major_formatter(FuncFormatter(fmt))
    main.set_minor_formatter(NullFormatter())
    if notes:
        ticks = note_ticks(lo, hi)
        if axis == "x":
            sec = ax.secondary_xaxis("top")
        else:
            sec = ax.secondary_yaxis("right")
        sec.set_ticks([t for t, _ in ticks], labels=[n for _, n in ticks])
        sec.tick_params(labelsize=8, colors="#555555", length=3)
        if axis == "x":
            for t, _ in ticks:
                ax.axvline(t, color=PALETTE["grid"], lw=0.6, zorder=0)


def stft_magnitude(wave: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| with the engine's settings (Hann window, centred frames): ``[freq, frames]``."""
    import torch

    w = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    with torch.inference_mode():
        spec = torch.stft(w, n_fft, hop, window=torch.hann_window(n_fft), center=True,
                          return_complex=True)
    return spec.abs().numpy()


def stft_log_rows(n_freq: int, sample_rate: int, n_fft: int, n_rows: int = 240,
                  fmin: float = 30.0) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Map STFT frequency bins onto ``n_rows`` rows evenly spaced in log-frequency.

    Returns each row's bin range ``[lo, hi)`` (at least one bin; neighbouring low rows may share
    one) and the row edges in Hz (``n_rows + 1``, for ``imshow``'s extent on a log axis)."""
    df = sample_rate / n_fft
    nyquist = (n_freq - 1) * df
    fmin = min(max(fmin, df), nyquist / 4)
    edges = np.geomspace(fmin, nyquist, n_rows + 1)
    ranges = []
    for j in range(n_rows):
        lo = int(round(edges[j] / df))
        hi = int(round(edges[j + 1] / df))
        lo = min(lo, n_freq - 1)
        hi = max(hi, lo + 1)
        ranges.append((lo, min(hi, n_freq)))
    return ranges, edges
