"""The figures of an explanation: waveform, responsibility over frequency, the spectrum with the
sets, the responsibility spectrogram, and what each minimal perturbation changed."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from ..audio.hearing import snr_db

from ._common import (
    PALETTE,
    band_max,
    envelope,
    hz_to_note,
    log_bands,
    new_figure,
    stft_log_rows,
    stft_magnitude,
    style_log_hz,
)

__all__ = ["waveform", "source_waveform", "responsibility", "spectrum_sets", "responsibility_spectrogram",
           "perturbation"]

_HEAT = LinearSegmentedColormap.from_list(
    "freqrex_heat", ["#fde725", "#f89540", "#e8353b", "#9c179e"])
_DB_RANGE = 80.0


def _db(x: np.ndarray, ref: float) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-12) / max(ref, 1e-12))


def _time_offset(exp) -> float:
    return float(getattr(exp.audio, "start", 0.0) or 0.0)


def _bands(exp, n_bands: int = 700):
    return log_bands(exp.n_bins, exp.sample_rate, exp.n_samples, n_bands)


def _hz_limits(exp, centres: np.ndarray) -> tuple[float, float]:
    nyquist = exp.sample_rate / 2
    lo = float(centres[0]) if len(centres) else 20.0
    return max(lo * 0.95, 15.0), nyquist


def _title(exp) -> str:
    return f"{exp.model}  ·  {exp.label} ({exp.confidence:.0%})"


# --------------------------------------------------------------------------------------------
def waveform(exp):
    """The excerpt the model heard (min/max envelope), in seconds of the source."""
    fig = new_figure(10, 2.4, top=0.35)
    ax = fig.add_subplot()
    _draw_envelope(ax, exp.audio.samples, exp.sample_rate, _time_offset(exp),
                   PALETTE["changed"], "excerpt")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    src = exp.audio.source
    name = src.rsplit("/", 1)[-1] if src else "excerpt"
    ax.set_title(f"{name}  ·  {exp.audio.duration:.1f} s at {exp.sample_rate} Hz", fontsize=10,
                 loc="left")
    _clean(ax)
    return fig


def source_waveform(samples: np.ndarray, sample_rate: int, start: float = 0.0,
                    duration: float | None = None, title: str = ""):
    """A whole source (min/max envelope) with the excerpt ``[start, start + duration)`` shaded,
    for choosing the excerpt before explaining."""
    samples = np.asarray(samples, dtype=np.float32)
    total = samples.shape[0] / sample_rate
    end = total if duration is None else min(total, start + duration)
    # drawn at about the size the page shows it (a narrow column), so that its text is read
    fig = new_figure(5.0, 1.55, left=0.2, right=0.15, top=0.32, bottom=0.42)
    ax = fig.add_subplot()
    _draw_envelope(ax, samples, sample_rate, 0.0, PALETTE["spectrum"], "source", alpha=0.8)
    first, last = int(start * sample_rate), int(end * sample_rate)
    if last > first:
        part = samples[first:last]
        _draw_envelope(ax, part, sample_rate, first / sample_rate, PALETTE["changed"], "excerpt",
                       cols=max(50, int(1600 * (last - first) / max(samples.shape[0], 1))))
        ax.set_xlim(0, total)
    ax.axvspan(start, end, color=PALETTE["changed"], alpha=0.08, lw=0)
    ax.set_xlabel("time (s)", fontsize=9, labelpad=1)
    ax.set_yticks([])
    ax.set_title(title or f"excerpt {start:.1f}-{end:.1f} s of {total:.1f} s", fontsize=10,
                 loc="left")
    _clean(ax)
    ax.tick_params(labelsize=9)
    ax.spines["left"].set_visible(False)
    return fig


def _draw_envelope(ax, wave, sample_rate, offset, colour, label, alpha=0.9, cols=1600):
    lo, hi, block = envelope(wave, cols)
    t = offset + (np.arange(lo.shape[0]) * block + block / 2) / sample_rate
    ax.fill_between(t, lo, hi, color=colour, alpha=alpha, lw=0, label=label)
    ax.set_xlim(offset, offset + len(wave) / sample_rate)


def _clean(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


# --------------------------------------------------------------------------------------------
def responsibility(exp, top: int = 5):
    """Responsibility over frequency (maximum per log band), log-Hz axis with A-note ticks;
    the ``top`` most responsible bins marked with their frequency and note."""
    starts, centres, _ = _bands(exp)
    r = band_max(exp.responsibility, starts)
    fig = new_figure(10, 3.2)
    ax = fig.add_subplot()
    lo, hi = _hz_limits(exp, centres)
    ax.fill_between(centres, 0, r, step="mid", color=PALETTE["responsibility"], alpha=0.35, lw=0)
    ax.plot(centres, r, drawstyle="steps-mid", color=PALETTE["responsibility"], lw=1.0)
    rmax = float(np.max(exp.responsibility)) if exp.n_bins else 0.0
    bins = [int(b) for b in exp.ranking[:top] if exp.responsibility[b] > 0]
    lines = []
    for i, b in enumerate(bins):
        hz = float(exp.hz(b))
        if hz <= 0:
            continue
        ax.plot([hz], [float(exp.responsibility[b])], "o", color="#111111", ms=3.5, zorder=5)
        lines.append(f"#{i + 1}  {hz:,.1f} Hz  {hz_to_note(hz, cents=True)}")
    if lines:
        ax.text(0.995, 0.97, "most responsible bins\n" + "\n".join(lines), transform=ax.transAxes,
                ha="right", va="top", fontsize=7.5, family="monospace", multialignment="left",
                bbox=dict(boxstyle="round,pad=0.35", fc="white", ec="#cccccc", alpha=0.9))
    style_log_hz(ax, lo, hi)
    ax.set_ylim(0, rmax * 1.18 if rmax > 0 else 1.0)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("responsibility")
    ax.set_title(f"Responsibility over frequency  ·  {_title(exp)}", fontsize=10, loc="left")
    _clean(ax)
    return fig


# --------------------------------------------------------------------------------------------
def _members(exp):
    """Disjoint S, SN \\ S and A index arrays (any may be empty)."""
    s = np.asarray(exp.sufficient.index if exp.sufficient is not None else [], dtype=np.int64)
    sn = np.asarray(exp.necessary.index if exp.necessary is not None else [], dtype=np.int64)
    a = np.asarray(exp.adjustment if exp.adjustment is not None else [], dtype=np.int64)
    sn_only = np.setdiff1d(sn, s, assume_unique=False)
    a_only = np.setdiff1d(a, np.union1d(s, sn), assume_unique=False)
    return s, sn_only, a_only


def _set_label(exp, name: str, idx: np.ndarray, total: np.ndarray | None = None) -> str:
    idx = idx if total is None else total
    return (f"{name}: {len(idx):,} bins ({len(idx) / max(exp.n_bins, 1):.3%} of bins, "
            f"{exp.energy_fraction(idx):.1%} of energy)")


def spectrum_sets(exp):
    """The magnitude spectrum (dB, log-Hz) with the sufficient set S (orange), the rest of the
    sufficient-and-necessary set SN (yellow) and the adjustment set A (red)."""
    starts, centres, _ = _bands(exp)
    mag = np.asarray(exp.magnitude, dtype=np.float64)
    ref = float(mag.max()) if mag.size else 1.0
    db = _db(mag, ref)
    floor = -_DB_RANGE
    base = np.maximum(band_max(db, starts), floor)
    fig = new_figure(10, 3.4)
    ax = fig.add_subplot()
    lo, hi = _hz_limits(exp, centres)
    ax.fill_between(centres, floor, base, step="mid", color=PALETTE["spectrum"], alpha=0.35, lw=0)
    ax.plot(centres, base, drawstyle="steps-mid", color=PALETTE["spectrum"], lw=0.8,
            label="spectrum")
    s, sn_only, a_only = _members(exp)
    sn_full = (np.asarray(exp.necessary.index, dtype=np.int64)
               if exp.necessary is not None else np.zeros(0, np.int64))
    layers = [
        ("A (adjustment)", a_only, PALETTE["adjustment"], None),
        ("SN (sufficient + necessary)", sn_only, PALETTE["necessary"], sn_full),
        ("S (sufficient)", s, PALETTE["sufficient"], None),
    ]
    for name, idx, colour, total in layers:
        if idx.size == 0 and (total is None or total.size == 0):
            continue
        if idx.size:
            masked = np.full(exp.n_bins, -np.inf)
            masked[idx] = db[idx]
            band = band_max(masked, starts)
            hit = np.isfinite(band)
            ax.vlines(centres[hit], floor, np.maximum(band[hit], floor + 1), color=colour,
                      lw=1.6, alpha=0.95, zorder=4)
        ax.plot([], [], color=colour, lw=4, label=_set_label(exp, name, idx, total))
    style_log_hz(ax, lo, hi)
    ax.set_ylim(floor, 5)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("magnitude (dB)")
    missing = [n for n, v in (("S", exp.sufficient), ("SN", exp.necessary), ("A", exp.complete))
               if v is None]
    note = f"  (not found: {', '.join(missing)})" if missing else ""
    ax.set_title(f"Spectrum and the sets{note}  ·  {_title(exp)}", fontsize=10, loc="left")
    ax.legend(loc="lower left", fontsize=7.5, frameon=True, framealpha=0.85)
    _clean(ax)
    return fig


# --------------------------------------------------------------------------------------------
def _stft_rows(exp, n_rows: int = 240):
    n_fft, hop = int(exp.stft["n_fft"]), int(exp.stft["hop"])
    mag = stft_magnitude(exp.audio.samples, n_fft, hop)
    ranges, edges = stft_log_rows(mag.shape[0], exp.sample_rate, n_fft, n_rows)
    power = mag.astype(np.float64) ** 2
    rows_db = np.stack([power[lo:hi].mean(axis=0) for lo, hi in ranges])
    rows_db = 10 * np.log10(np.maximum(rows_db, 1e-20) / max(rows_db.max(), 1e-20))
    return mag, ranges, edges, rows_db


def responsibility_spectrogram(exp):
    """The STFT responsibility on the mel scale the model hears (mean per cell of each mel band
    and time column, lightly smoothed: :func:`~freqrex_app.plots.grid.mel_grid`) as a heatmap
    over the log-magnitude spectrogram, the STFT flip's cells outlined in cyan, and the
    frequency responsibility alongside on the same mel axis. None when the STFT variant did
    not run."""
    from ..audio.scales import hz_to_mel
    from .grid import mel_grid

    grid = mel_grid(exp)
    if grid is None:
        return None
    fig = new_figure(10, 4.2, top=0.35, right=0.45, left=0.95, bottom=0.62)
    gs = fig.add_gridspec(1, 2, width_ratios=[5, 1])
    ax = fig.add_subplot(gs[0, 0])
    side = fig.add_subplot(gs[0, 1], sharey=ax)
    m0, m1 = float(grid.mel_edges[0]), float(grid.mel_edges[-1])
    extent = (float(grid.t_edges[0]), float(grid.t_edges[-1]), m0, m1)
    ax.imshow(np.clip(grid.level_db, -_DB_RANGE, 0), origin="lower", aspect="auto",
              extent=extent, cmap="Greys", vmin=-_DB_RANGE, vmax=0, interpolation="bilinear")
    hmax = float(grid.smooth.max())
    if hmax > 0:
        norm = grid.smooth / hmax
        rgba = _HEAT(norm)
        rgba[..., 3] = 0.8 * np.clip((norm - 0.15) / 0.85, 0, 1) ** 1.3
        ax.imshow(rgba, origin="lower", aspect="auto", extent=extent, interpolation="bilinear")
    flip = exp.stft_flip
    sub = ""
    if flip is not None:
        sub = (f"  ·  STFT flip: {flip.k:,} cell{'s' if flip.k != 1 else ''} -> "
               f"{exp.labels[flip.label]}")
        mask = (grid.removed > 0).astype(np.float64)
        if mask.any() and min(mask.shape) >= 2:
            ax.contour(grid.t_centres, grid.mel_centres, mask, levels=[0.5], colors="#00b4d8",
                       linewidths=1.1)
            ax.plot([], [], color="#00b4d8", lw=1.4, label=f"cells the STFT flip {flip.change}")
        if flip.k <= 300:  # few enough to mark one by one
            n_frames = int(exp.stft["shape"][1])
            cells = np.asarray(flip.index, dtype=np.int64)
            f_hz = (cells // n_frames) * exp.sample_rate / int(exp.stft["n_fft"])
            t = _time_offset(exp) + (cells % n_frames) * int(exp.stft["hop"]) / exp.sample_rate
            ax.scatter(t, hz_to_mel(f_hz), s=22, facecolors="none", edgecolors="#00b4d8",
                       lw=1.0, zorder=5)
        if mask.any():
            ax.legend(loc="upper right", fontsize=7.5, framealpha=0.85)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(m0, m1)
    ticks = [(hz, name) for hz, name in _mel_ticks(grid)]
    ax.set_yticks([float(hz_to_mel(h)) for h, _ in ticks],
                  labels=[f"{n} {h:g}" for h, n in ticks])
    ax.tick_params(labelsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz, mel scale)")
    ax.set_title(f"Responsibility spectrogram  ·  {_title(exp)}{sub}", fontsize=10, loc="left")
    for side_name in ("top", "right"):
        ax.spines[side_name].set_visible(False)

    # the frequency responsibility (maximum over the rfft bins of each mel band), same axis
    r = np.asarray(exp.responsibility, dtype=np.float64)
    df = exp.sample_rate / exp.n_samples
    lo = np.clip(np.ceil(grid.hz_edges[:-1] / df).astype(np.int64), 0, exp.n_bins - 1)
    hi = np.clip(np.ceil(grid.hz_edges[1:] / df).astype(np.int64), lo + 1, exp.n_bins)
    row_r = np.array([r[a:b].max() for a, b in zip(lo, hi)])
    side.fill_betweenx(grid.mel_centres, 0, row_r, step="mid", color=PALETTE["responsibility"],
                       alpha=0.4, lw=0)
    side.plot(row_r, grid.mel_centres, drawstyle="steps-mid", color=PALETTE["responsibility"],
              lw=0.9)
    side.set_xlim(0, max(float(row_r.max()) * 1.1, 1e-9))
    side.set_xlabel("frequency\nresponsibility", fontsize=8)
    side.tick_params(labelleft=False, labelsize=7)
    _clean(side)
    return fig


def _mel_ticks(grid) -> list[tuple[float, str]]:
    """A notes on the mel axis, dropping low ones that crowd (closer than 5% of the axis)."""
    from ..audio.scales import hz_to_mel

    gap = 0.05 * float(grid.mel_edges[-1] - grid.mel_edges[0])
    out: list[tuple[float, str]] = []
    for octave in range(9, -1, -1):
        hz = 27.5 * 2 ** octave
        if grid.hz_edges[0] < hz <= grid.hz_edges[-1] and (
                not out or hz_to_mel(out[-1][0]) - hz_to_mel(hz) >= gap):
            out.append((hz, f"A{octave}"))
    return out[::-1]


# --------------------------------------------------------------------------------------------
def perturbation(exp, name: str):
    """What the perturbation ``name`` (a key of ``exp.perturbations()``) changed: the original and
    the perturbed spectrum (dB, log-Hz; removed bins or cells marked) above, the original
    waveform and the difference below. Raises KeyError when that perturbation was not found."""
    found = exp.perturbations().get(name)
    if found is None:
        raise KeyError(f"{name} was not found for this explanation")
    x = np.asarray(exp.audio.samples, dtype=np.float64)
    y = np.asarray(found.wave, dtype=np.float64)
    diff = x - y
    snr = snr_db(x, y)
    info = found.outcome

    fig = new_figure(10, 5.2, top=0.6)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 2])
    snr_txt = "no change" if math.isinf(snr) else f"SNR {snr:.1f} dB"
    title = f"{found.kind.caption}  ·  {info}  ·  {snr_txt}"
    if name == "stft_flip" and exp.stft is not None and exp.stft_flip is not None:
        _draw_removed_cells(top, exp, title)
    else:
        _draw_spectra(top, exp, found, y, title)

    t0 = _time_offset(exp)
    _draw_envelope(bottom, x, exp.sample_rate, t0, PALETTE["spectrum"], "original", alpha=0.6)
    _draw_envelope(bottom, diff, exp.sample_rate, t0, PALETTE["difference"],
                   "difference (original − perturbed)", alpha=0.85)
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("amplitude")
    bottom.legend(loc="upper right", fontsize=7.5, framealpha=0.85)
    _clean(bottom)
    return fig


def _draw_spectra(top, exp, found, y: np.ndarray, title: str) -> None:
    """Original and perturbed spectrum (dB, log-Hz), removed bins marked for flip-k."""
    starts, centres, _ = _bands(exp)
    ref = float(np.max(exp.magnitude)) if exp.n_bins else 1.0
    orig_db = np.maximum(band_max(_db(exp.magnitude, ref), starts), -_DB_RANGE)
    new_mag = np.abs(np.fft.rfft(y))
    new_db = np.maximum(band_max(_db(new_mag, ref), starts), -_DB_RANGE)
    lo, hi = _hz_limits(exp, centres)
    top.fill_between(centres, -_DB_RANGE, orig_db, step="mid", color=PALETTE["spectrum"],
                     alpha=0.3, lw=0)
    top.plot(centres, orig_db, drawstyle="steps-mid", color=PALETTE["original"], lw=0.8,
             label="original")
    top.plot(centres, new_db, drawstyle="steps-mid", color=PALETTE["changed"], lw=0.9,
             alpha=0.9, label="perturbed")
    if found.name.startswith("flip_"):  # flip-k: its few bins, marked
        lines = []
        for i, b in enumerate(np.asarray(found.index)[:5]):
            hz = float(exp.hz(int(b)))
            if hz <= 0:
                continue
            top.axvline(hz, color=PALETTE["difference"], lw=1.2, alpha=0.9,
                        label="removed bins" if i == 0 else None)
            lines.append(f"{hz:,.1f} Hz  {hz_to_note(hz, cents=True)}")
        if lines:
            top.text(0.995, 0.97, "removed\n" + "\n".join(lines), transform=top.transAxes,
                     ha="right", va="top", fontsize=7.5, family="monospace",
                     multialignment="left", color=PALETTE["difference"],
                     bbox=dict(boxstyle="round,pad=0.35", fc="white", ec="#cccccc",
                               alpha=0.9))
    style_log_hz(top, lo, hi)
    top.set_ylim(-_DB_RANGE, 5)
    top.set_ylabel("magnitude (dB)")
    top.set_xlabel("frequency (Hz)", fontsize=8)
    top.legend(loc="lower left", fontsize=7.5, framealpha=0.85)
    top.set_title(title, fontsize=10, loc="left")
    _clean(top)



def _draw_removed_cells(ax, exp, title: str) -> None:
    """The spectrogram with the STFT cells the flip changed (removed or attenuated) shaded in
    red."""
    mag, ranges, edges, rows_db = _stft_rows(exp)
    mask = np.zeros(mag.shape, dtype=np.float32)
    mask.reshape(-1)[np.asarray(exp.stft_flip.index, dtype=np.int64)] = 1.0
    rows = np.stack([mask[lo:hi].max(axis=0) for lo, hi in ranges])
    t0 = _time_offset(exp)
    half = int(exp.stft["hop"]) / exp.sample_rate / 2
    extent = (t0 - half, t0 + exp.n_samples / exp.sample_rate + half, edges[0], edges[-1])
    ax.imshow(np.clip(rows_db, -_DB_RANGE, 0), origin="lower", aspect="auto", extent=extent,
              cmap="Greys", vmin=-_DB_RANGE, vmax=0, interpolation="nearest")
    rgba = np.zeros(rows.shape + (4,), dtype=np.float32)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 0.84, 0.16, 0.16
    rgba[..., 3] = 0.75 * rows
    ax.imshow(rgba, origin="lower", aspect="auto", extent=extent, interpolation="nearest")
    style_log_hz(ax, edges[0], edges[-1], notes=False, axis="y")
    ax.set_ylabel("frequency (Hz)")
    ax.set_xlabel("time (s)", fontsize=8)
    share = exp.stft_flip.k / max(mag.size, 1)
    ax.text(0.995, 0.97, f"{exp.stft_flip.k:,} of {mag.size:,} cells {exp.stft_flip.change} "
            f"({share:.2%})",
            transform=ax.transAxes, ha="right", va="top", fontsize=7.5,
            color=PALETTE["difference"],
            bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#cccccc", alpha=0.9))
    ax.set_title(title, fontsize=10, loc="left")
    _clean(ax)
