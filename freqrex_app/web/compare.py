"""Two models on the same excerpt: where they agree and where they differ (the label, the least
audible flip, the frequency bands with most responsibility), in one line for the page. No
Gradio."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from .listening import lead_flip

__all__ = ["Band", "top_bands", "comparison_md"]

#: Octave bands from A to A (27.5 Hz x 2^k), the ones a musician names.
_A0 = 27.5


@dataclass(frozen=True)
class Band:
    """An octave band ``lo_hz``..``hi_hz`` (A to A) and its share of the responsibility."""

    lo_hz: float
    hi_hz: float
    share: float

    @property
    def name(self) -> str:
        if self.lo_hz <= 0:
            return f"below {self.hi_hz:g} Hz"
        octave = int(round(np.log2(self.lo_hz / _A0)))
        return f"A{octave}-A{octave + 1} ({self.lo_hz:g}-{self.hi_hz:g} Hz)"


def top_bands(exp, n: int = 2) -> list[Band]:
    """The ``n`` octave bands (A to A) holding most of the responsibility over frequency."""
    r = np.clip(np.asarray(exp.responsibility, dtype=np.float64), 0, None)
    total = float(r.sum())
    if total <= 0:
        return []
    hz = np.asarray(exp.hz(np.arange(exp.n_bins)), dtype=np.float64)
    edges = [0.0] + [_A0 * 2 ** k for k in range(0, 12) if _A0 * 2 ** k < exp.sample_rate / 2]
    edges.append(exp.sample_rate / 2 + 1.0)
    band = np.clip(np.searchsorted(edges, hz, side="right") - 1, 0, len(edges) - 2)
    sums = np.bincount(band, weights=r, minlength=len(edges) - 1)
    order = np.argsort(-sums, kind="stable")[:n]
    return [Band(edges[i], min(edges[i + 1], exp.sample_rate / 2), float(sums[i] / total))
            for i in order if sums[i] > 0]


def _flip_words(exp) -> tuple[str, float | None]:
    lead = lead_flip(exp)
    if lead is None:
        return "no flip within the budget", None
    return (f"{lead.snr_db:.0f} dB below the music makes it hear "
            f"{html.escape(lead.label)}", lead.snr_db)


def comparison_md(a, b) -> str:
    """Where explanations ``a`` and ``b`` (two models, one excerpt) agree and differ."""
    ma, mb = f"`{html.escape(a.model)}`", f"`{html.escape(b.model)}`"
    if a.label == b.label:
        label = f"**Label: they agree**, both hear {html.escape(a.label)}"
    else:
        label = (f"**Label: they differ**: {ma} hears {html.escape(a.label)}, {mb} hears "
                 f"{html.escape(b.label)}")
    (fa, sa), (fb, sb) = _flip_words(a), _flip_words(b)
    if sa is None or sb is None:
        quieter = ""
    elif abs(sa - sb) < 1.0:
        quieter = " (equally fragile)"
    else:
        quieter = (f" ({ma if sa > sb else mb} flips with the quieter change: it is the more "
                   "fragile here)")
    flips = f"**Least audible flip**: {ma} {fa}; {mb} {fb}{quieter}"
    ba, bb = top_bands(a), top_bands(b)
    shared = {x.name for x in ba} & {x.name for x in bb}

    def bands(found: list[Band]) -> str:
        return ", ".join(f"{x.name} {x.share:.0%}" for x in found) or "none"

    verdict = ("they agree on " + ", ".join(sorted(shared)) if shared
               else "they differ: no band in common")
    where = (f"**Most responsible octaves**: {verdict} ({ma}: {bands(ba)}; {mb}: {bands(bb)})")
    return "\n".join(f"- {line}" for line in (label, flips, where))
