"""Figures of an explanation (SPEC section 5): each function takes an :class:`Explanation` and
returns a matplotlib :class:`~matplotlib.figure.Figure` (or None when there is nothing to draw).

Figures are built with the object API (no pyplot state, safe in a server's worker threads) on
the Agg canvas. 240,000 rfft bins are never plotted one by one: values are aggregated onto
log-spaced frequency bands (maximum per band) and waveforms onto min/max envelopes, so each
figure takes well under half a second for a 30 s clip.

>>> fig = plots.responsibility(exp); fig.savefig("responsibility.png")
"""
from __future__ import annotations

from ._common import PALETTE, hz_to_note, note_ticks
from .figures import (
    perturbation,
    responsibility,
    responsibility_spectrogram,
    source_waveform,
    spectrum_sets,
    waveform,
)
from .save import FIGURE_FILES, save_figures

__all__ = [
    "FIGURE_FILES",
    "PALETTE",
    "hz_to_note",
    "note_ticks",
    "perturbation",
    "responsibility",
    "responsibility_spectrogram",
    "save_figures",
    "source_waveform",
    "spectrum_sets",
    "waveform",
]
