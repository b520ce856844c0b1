"""Formatting helpers shared by everything the app shows: durations, shares, SNRs, one-line
messages. No Gradio, no model."""
from __future__ import annotations

import math

from ..errors import first_line

__all__ = ["fmt_seconds", "pct", "fmt_snr", "one_line", "count", "short"]


def count(n: int, word: str, plural: str | None = None) -> str:
    """'1 bin', '2 bins', '1,024 STFT cells': a number and its word, in agreement."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def fmt_seconds(s: float) -> str:
    """A duration for a person: '0.4 s', '42 s', '2.5 min'."""
    if s < 0.95:
        return f"{max(s, 0.1):.1f} s"
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min"


def pct(x: float) -> str:
    """A share as a percentage with enough digits to be informative."""
    if x <= 0:
        return "0%"
    if x < 0.001:
        return f"{x:.4%}"
    if x < 0.01:
        return f"{x:.3%}"
    return f"{x:.1%}"


def fmt_snr(v: float | None) -> str:
    """An SNR in dB for a table cell ('-' when there is none or no change)."""
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:.1f}"


def short(text: object, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters (an echo of what a visitor typed)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (:func:`~freqrex_app.errors.first_line`: its
    type name when it has none), at most ``limit`` characters: what a visitor reads."""
    return short(first_line(exc), limit)
