"""Interactive figures (plotly) of an explanation, for ``gr.Plot``: zoom, pan and hover with the
time, the frequency in Hz, the note name and the responsibility.

- :func:`spectrogram_figure`: the STFT responsibility on the mel scale the model hears
  (:func:`~freqrex_app.plots.grid.mel_grid`), lightly smoothed, over the log-magnitude
  spectrogram, with the STFT flip's cells outlined;
- :func:`frequency_figure`: the responsibility over the rfft bins on a log-frequency axis
  (maximum per log band), note names on the axis and in the hover, the top bins marked;
- :func:`notes_figure`: the shares per note, per pitch class and per register
  (:func:`~freqrex_app.plots.notes.summarise_notes`).

Each returns a ``plotly.graph_objects.Figure`` (``fig.to_json()`` is what ``gr.Plot`` sends;
numeric arrays travel as typed arrays, so a 30 s spectrogram is well under 1 MB).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import PALETTE, Explanation, hz_to_note, log_bands
from ..audio.scales import hz_to_mel
from .grid import MelGrid, mel_grid
from .notes import HIGHEST_KEY, LOWEST_KEY, REGISTERS, NoteSummary, summarise_notes

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["spectrogram_figure", "frequency_figure", "notes_figure", "note_labels"]

#: Responsibility colours: transparent where it is nil, so the spectrogram shows through.
_HEAT = [[0.0, "rgba(253,231,37,0)"], [0.2, "rgba(253,231,37,0.05)"],
         [0.45, "rgba(248,149,64,0.45)"], [0.75, "rgba(232,53,59,0.75)"],
         [1.0, "rgba(156,23,158,0.9)"]]
_GREYS = [[0.0, "#ffffff"], [1.0, "#3c4043"]]
_FLIP = "#00b4d8"
_DB_RANGE = 80.0
_FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=12)


def _title(exp: "Explanation") -> str:
    return f"{exp.model} · {exp.label} ({exp.confidence:.0%})"


def note_labels(hz: np.ndarray, cents: bool = True) -> list[str]:
    """Note names (``"A4 +12c"``) of frequencies in Hz; ``"-"`` for 0 Hz."""
    return [hz_to_note(float(h), cents=cents) for h in np.asarray(hz, dtype=np.float64).ravel()]


def _a_ticks(lo_hz: float, hi_hz: float, mel_gap: float = 0.0) -> list[tuple[float, str]]:
    """The A notes between ``lo_hz`` and ``hi_hz``, highest first kept, dropping any closer
    than ``mel_gap`` (mel) to the one above (low notes crowd on the mel scale)."""
    out: list[tuple[float, str]] = []
    for octave in range(9, -1, -1):
        hz = 27.5 * 2 ** octave
        if lo_hz <= hz <= hi_hz and (not out or hz_to_mel(out[-1][0]) - hz_to_mel(hz) >= mel_gap):
            out.append((hz, f"A{octave} · {hz:g} Hz"))
    return out[::-1]


def _layout(fig: "go.Figure", title: str, height: int) -> None:
    fig.update_layout(template="plotly_white", height=height, font=_FONT,
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=14)),
                      margin=dict(l=70, r=20, t=60, b=50), hoverlabel=dict(font_size=12),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))


# --------------------------------------------------------------------------------------------
def spectrogram_figure(exp: "Explanation", grid: MelGrid | None = None,
                       max_marked: int = 300, zmax: float | None = None) -> "go.Figure | None":
    """The responsibility spectrogram on the mel scale, over the log-magnitude spectrogram,
    with the STFT flip's cells outlined (and marked one by one when at most ``max_marked``).
    Hover: time (s), the band's centre in Hz and as a note, its mean responsibility per cell
    (unsmoothed), its level (dB) and the cells the flip removed there. None when the
    STFT variant did not run. ``grid`` reuses a :func:`~freqrex_app.plots.grid.mel_grid`;
    ``zmax`` sets the top of the colour scale (one scale for figures to compare by eye)."""
    import plotly.graph_objects as go

    grid = grid if grid is not None else mel_grid(exp)
    if grid is None:
        return None
    n_rows, n_cols = grid.sums.shape
    x, y = grid.t_centres, grid.mel_centres
    hz_c = grid.hz_centres
    custom = np.stack([np.broadcast_to(hz_c[:, None], grid.sums.shape), grid.mean,
                       grid.level_db, grid.removed], axis=-1).astype(np.float32)
    text = np.repeat(np.asarray(note_labels(hz_c), dtype=object)[:, None], n_cols, axis=1)
    smax = float(grid.smooth.max())
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        x=x, y=y, z=np.clip(np.round(grid.level_db), -_DB_RANGE, 0).astype(np.int8),
        zmin=-_DB_RANGE, zmax=0, colorscale=_GREYS, showscale=False, hoverinfo="skip",
        name="level (dB)"))
    fig.add_trace(go.Heatmap(
        x=x, y=y, z=grid.smooth.astype(np.float32), zmin=0,
        zmax=zmax if zmax else (smax if smax > 0 else 1),
        colorscale=_HEAT, customdata=custom, text=text, name="responsibility",
        colorbar=dict(title=dict(text="responsibility<br>per cell", side="right"), thickness=12,
                      len=0.8),
        hovertemplate=("%{x:.2f} s · %{customdata[0]:.0f} Hz · %{text}"
                       "<br>responsibility %{customdata[1]:.3g} per cell"
                       "<br>level %{customdata[2]:.0f} dB · changed by the STFT flip: "
                       "%{customdata[3]:.0f} cells<extra></extra>")))
    top = zmax if zmax else smax
    # small values with SI prefixes (2e-05 reads 20µ: µ is a millionth), others as decimals
    fig.data[-1].colorbar.update(tickformat=".2~s" if 0 < top < 1e-3 else ".3~g")
    flip = exp.stft_flip
    sub = ""
    if flip is not None and grid.removed.any():
        fig.add_trace(go.Contour(
            x=x, y=y, z=(grid.removed > 0).astype(np.uint8), showscale=False,
            contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
            line=dict(color=_FLIP, width=1.6), hoverinfo="skip", showlegend=True,
            name=f"cells the STFT flip {flip.change} ({flip.k:,})"))
        if flip.k <= max_marked:
            n_frames = int(exp.stft["shape"][1])
            cells = np.asarray(flip.index, dtype=np.int64)
            f_hz = (cells // n_frames) * exp.sample_rate / int(exp.stft["n_fft"])
            t = float(exp.audio.start or 0.0) + (cells % n_frames) * int(exp.stft["hop"]) / exp.sample_rate
            fig.add_trace(go.Scatter(
                x=t, y=hz_to_mel(f_hz), mode="markers", showlegend=False,
                name=f"cell {flip.change}",
                marker=dict(symbol="circle-open", size=8, color=_FLIP, line=dict(width=1.5)),
                text=note_labels(f_hz), customdata=f_hz,
                hovertemplate=f"cell {flip.change}<br>" + "%{x:.3f} s · %{customdata:.0f} Hz · "
                              "%{text}<extra></extra>"))
        sub = f" · STFT flip: {flip.k:,} cells → {exp.labels[flip.label]}"
    ticks = _a_ticks(grid.hz_edges[0] + 1e-9, grid.hz_edges[-1],
                     mel_gap=0.05 * float(grid.mel_edges[-1] - grid.mel_edges[0]))
    fig.update_yaxes(title_text="frequency (mel scale)", range=[grid.mel_edges[0], grid.mel_edges[-1]],
                     tickvals=[float(hz_to_mel(h)) for h, _ in ticks],
                     ticktext=[t for _, t in ticks], showgrid=False, zeroline=False)
    fig.update_xaxes(title_text="time (s)", range=[grid.t_edges[0], grid.t_edges[-1]],
                     showgrid=False, zeroline=False)
    _layout(fig, f"Responsibility spectrogram · {_title(exp)}{sub}", 480)
    return fig


# --------------------------------------------------------------------------------------------
def frequency_figure(exp: "Explanation", n_bands: int = 700, top: int = 5) -> "go.Figure":
    """Responsibility over frequency: the maximum per log band of the rfft bins on a log-Hz
    axis with the A notes named; hover gives the band, its most responsible bin in Hz and as a
    note with cents, and the responsibility. The ``top`` most responsible bins are marked."""
    import plotly.graph_objects as go

    r = np.asarray(exp.responsibility, dtype=np.float64)
    starts, centres, edges = log_bands(exp.n_bins, exp.sample_rate, exp.n_samples, n_bands)
    ends = np.append(starts[1:], exp.n_bins)
    peak = np.maximum.reduceat(r, starts) if len(starts) else np.zeros(0)
    # the most responsible bin of each band (first of ties)
    arg = np.array([s + int(np.argmax(r[s:e])) for s, e in zip(starts, ends)], dtype=np.int64)
    peak_hz = exp.hz(arg).astype(np.float64)
    custom = np.stack([edges[:-1], edges[1:], peak_hz], axis=-1)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=centres, y=peak, mode="lines", line=dict(color=PALETTE["responsibility"], width=1.2,
                                                   shape="hvh"),
        fill="tozeroy", fillcolor="rgba(123,44,191,0.25)", name="responsibility",
        customdata=custom, text=note_labels(peak_hz),
        hovertemplate=("%{customdata[0]:.1f}-%{customdata[1]:.1f} Hz<br>most responsible: "
                       "%{customdata[2]:.2f} Hz · %{text}<br>responsibility %{y:.3g}"
                       "<extra></extra>")))
    bins = [int(b) for b in np.asarray(exp.ranking)[:top] if r[int(b)] > 0 and b > 0]
    if bins:
        hz = exp.hz(np.asarray(bins)).astype(np.float64)
        names = note_labels(hz)
        fig.add_trace(go.Scatter(
            x=hz, y=r[bins], mode="markers+text", name=f"top {len(bins)} bins",
            marker=dict(color="#111111", size=7), text=_rank_labels(hz, r[bins]),
            # labels near the right edge go left of their marker, inside the plot
            textposition=["top left" if np.log10(h) > np.log10(exp.sample_rate / 2) - 0.2
                          else "top center" for h in hz],
            customdata=np.stack([hz, np.arange(1, len(bins) + 1)], -1),
            hovertext=names,
            hovertemplate=("#%{customdata[1]}: %{customdata[0]:.2f} Hz · %{hovertext}"
                           "<br>responsibility %{y:.3g}<extra></extra>")))
    lo = max(float(centres[0]) * 0.95, 15.0) if len(centres) else 20.0
    hi = exp.sample_rate / 2
    ticks = _a_ticks(lo, hi)
    fig.update_xaxes(type="log", range=[np.log10(lo), np.log10(hi)], title_text="frequency (Hz)",
                     tickvals=[h for h, _ in ticks],
                     ticktext=[t.replace(" · ", "<br>") for _, t in ticks])
    fig.update_yaxes(title_text="responsibility", rangemode="tozero")
    _layout(fig, f"Responsibility over frequency · {_title(exp)}", 380)
    return fig


def _rank_labels(hz: np.ndarray, y: np.ndarray, gap_decades: float = 0.06) -> list[str]:
    """'#1', '#2', ... for the top bins; bins closer than ``gap_decades`` on the log axis share
    one label ('#2 #5') on the highest of them, so that labels never overlap."""
    n = len(hz)
    labels = [""] * n
    done: set[int] = set()
    for i in range(n):
        if i in done:
            continue
        group = [j for j in range(n) if j not in done
                 and abs(np.log10(hz[j]) - np.log10(hz[i])) < gap_decades]
        done.update(group)
        top = max(group, key=lambda j: y[j])
        labels[top] = " ".join(f"#{j + 1}" for j in sorted(group))
    return labels


# --------------------------------------------------------------------------------------------
_REGISTER_COLOURS = ["#3a0ca3", "#4361ee", "#4895ef", "#4cc9f0", "#f72585", "#b5179e", "#7209b7"]


def notes_figure(summary: "NoteSummary | Explanation", title: str = "") -> "go.Figure":
    """Bars of the responsibility per bin of each note (A0 to C8, coloured by register, with
    the bins below A0 and above C8 beside them) and of each register band, against the clip's
    mean (1 = average), and the pitch-class shares; hover adds each one's share of the total.
    Takes a :class:`~freqrex_app.plots.notes.NoteSummary` or an explanation."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not isinstance(summary, NoteSummary):
        exp = summary
        title = title or _title(exp)
        summary = summarise_notes(exp)
    keys = [n for n in summary.notes if LOWEST_KEY <= n.midi <= HIGHEST_KEY]
    fig = make_subplots(rows=2, cols=2, specs=[[{"colspan": 2}, None], [{}, {}]],
                        row_heights=[0.55, 0.45], vertical_spacing=0.16, horizontal_spacing=0.08,
                        subplot_titles=("per note (nearest semitone, A4 = 440 Hz)",
                                        "per pitch class (A0-C8)", "per register"))

    def register_of(hz: float) -> int:
        return next(i for i, r in enumerate(REGISTERS) if r.lo_hz <= hz < r.hi_hz)

    out = [n for n in summary.notes if n.n_bins and not n.in_range]
    def outside_mean(sel):
        bins = sum(n.n_bins for n in sel)
        return sum(n.responsibility for n in sel) / bins if bins else 0.0
    clip_mean = summary.total / summary.n_bins if summary.n_bins else 0.0
    below_rel = outside_mean([n for n in out if n.midi < LOWEST_KEY]) / clip_mean if clip_mean else 0.0
    above_rel = outside_mean([n for n in out if n.midi > HIGHEST_KEY]) / clip_mean if clip_mean else 0.0
    names = ["below A0"] + [n.name for n in keys] + ["above C8"]
    rel = [below_rel] + [n.relative for n in keys] + [above_rel]
    colours = ["#9aa0a6"] + [_REGISTER_COLOURS[register_of(n.hz)] for n in keys] + ["#9aa0a6"]
    custom = ([[0.0, 100 * summary.below_share]] + [[n.hz, 100 * n.share] for n in keys]
              + [[0.0, 100 * summary.above_share]])
    fig.add_trace(go.Bar(x=names, y=rel, marker_color=colours, customdata=np.asarray(custom),
                         name="note", showlegend=False,
                         hovertemplate=("%{x} (%{customdata[0]:.1f} Hz)<br>%{y:.2f} × the "
                                        "clip's mean responsibility per bin<br>"
                                        "%{customdata[1]:.2f}% of the total<extra></extra>")),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=[p.name for p in summary.pitch_classes],
                         y=[100 * p.share for p in summary.pitch_classes],
                         marker_color=PALETTE["responsibility"], showlegend=False,
                         name="pitch class",
                         hovertemplate="%{x}: %{y:.2f}% (each semitone counted once)<extra></extra>"),
                  row=2, col=1)
    fig.add_trace(go.Bar(x=[r.name for r in summary.registers],
                         y=[r.relative for r in summary.registers],
                         marker_color=_REGISTER_COLOURS[: len(summary.registers)],
                         showlegend=False, name="register",
                         text=[r.description for r in summary.registers],
                         textposition="none",
                         customdata=[100 * r.share for r in summary.registers],
                         hovertemplate=("%{x}: %{text}<br>%{y:.2f} × the clip's mean "
                                        "responsibility per bin<br>%{customdata:.2f}% of the "
                                        "total<extra></extra>")),
                  row=2, col=2)
    fig.update_yaxes(title_text="× average per bin", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="% (semitones)", rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title_text="× average per bin", rangemode="tozero", row=2, col=2)
    fig.update_xaxes(tickangle=-60, tickfont=dict(size=9), row=1, col=1,
                     tickvals=[n for n in names if n.startswith(("C", "below", "above"))
                               and "#" not in n and n != "C8"])
    head = (f"Which notes · {title} · " if title else "Which notes · ")
    _layout(fig, f"{head}{100 * summary.outside_share:.1f}% outside the musical range A0-C8",
            560)
    return fig
