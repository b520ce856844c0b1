"""Text the app shows: headline, facts, labels, estimates, the perturbation caption."""
from __future__ import annotations

import html
import math
from pathlib import Path

from .jobs import SPEED, Job, perturbation_info
from .limits import Limits

__all__ = ["headline_html", "facts_md", "labels_md", "estimate_md", "perturbation_md",
           "notes_md", "top_scores", "pct"]


def _fmt_seconds(s: float) -> str:
    if s < 1:
        return "under a second"
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


def headline_html(job: Job) -> str:
    exp = job.exp
    src = Path(exp.audio.source).name if exp.audio.source else "clip"
    start, end = exp.audio.start, exp.audio.start + exp.audio.duration
    return (
        '<div class="fx-headline">'
        f'<div class="fx-verdict"><span class="fx-model">{html.escape(exp.model)}</span> hears '
        f'<span class="fx-label">{html.escape(exp.label)}</span> '
        f'<span class="fx-conf">{exp.confidence:.0%}</span></div>'
        f'<div class="fx-sub">{html.escape(src)} · {start:.1f}–{end:.1f} s · labels view '
        f'<b>{html.escape(exp.labels_view)}</b> ({len(exp.labels)} labels)</div></div>'
    )


def top_scores(job: Job, n: int = 5) -> dict[str, float]:
    return {label: float(score) for label, score in job.exp.top_scores(n)}


def facts_md(job: Job) -> str:
    exp = job.exp
    budget = f"of a budget of {exp.budget:,}" if exp.budget else "(no budget)"
    spent = " — the budget ran out, so the map is the best found so far" if exp.budget_exhausted else ""
    lines = [
        f"**{exp.queries:,}** model calls {budget}{spent}",
        f"**{_fmt_seconds(exp.seconds)}** to explain ({_fmt_seconds(exp.predict_seconds)} inside the model)"
        + (" — precomputed, shown now without calling the model" if job.precomputed else ""),
        f"**{exp.n_bins:,}** frequency bins, {exp.sample_rate / exp.n_samples:.3f} Hz apart",
    ]
    for key, name, found in (("sufficient", "Sufficient S", exp.sufficient),
                             ("necessary", "Sufficient + necessary SN", exp.necessary),
                             ("complete", "Complete", exp.complete)):
        if found is None:
            lines.append(f"{name}: not found ({exp.notes.get(key, 'no reason given')})")
        else:
            idx = found.index
            lines.append(f"{name}: **{len(idx):,} bins** ({pct(len(idx) / exp.n_bins)} of bins, "
                         f"{pct(exp.energy_fraction(idx))} of energy)")
    flipped = [f.k for f in exp.flips if f.flipped]
    if flipped:
        lines.append(f"Removing the top **{flipped[0]}** frequenc{'y' if flipped[0] == 1 else 'ies'} "
                     f"changes the label")
    if exp.stft_flip is not None:
        f = exp.stft_flip
        lines.append(f"STFT flip: **{f.k:,} cells** removed → {exp.labels[f.label]} "
                     f"(SNR {f.snr_db:.1f} dB)")
    return "\n".join(f"- {line}" for line in lines)


def labels_md(labels: list[str]) -> str:
    chips = " ".join(f"`{html.escape(lab)}`" for lab in labels)
    return f"{len(labels)} labels: {chips}"


def estimate_md(model_id: str, calls: int, duration: float, limits: Limits) -> str:
    seconds = SPEED.estimate(model_id, calls, float(duration or limits.default_excerpt_s))
    return (f"**{calls:,} model calls** · about {_fmt_seconds(seconds)} for a "
            f"{float(duration or 0):.0f} s excerpt on this server")


def perturbation_md(job: Job, name: str) -> str:
    info = perturbation_info(job.exp, name)
    if info is None:
        return f"**{name}** was not found for this clip."
    snr = "no change" if not math.isfinite(info["snr_db"]) else f"SNR **{info['snr_db']:.1f} dB**"
    verdict = ("the label **changed**" if info["changed"] else "the label **stayed**")
    return (f"### {info['title']}: {info['size']:,} {info['unit']}\n"
            f"The model now hears **{html.escape(info['label'])}** ({info['confidence']:.0%}) — "
            f"{verdict} (was {html.escape(job.exp.label)}) · {snr}. "
            "Both players are at the same level (never normalised).")


def notes_md(job: Job) -> str:
    notes = job.all_notes()
    if not notes:
        return ""
    items = "\n".join(f"- **{html.escape(k)}**: {html.escape(str(v))}" for k, v in notes.items())
    return f"<details><summary>Notes ({len(notes)})</summary>\n\n{items}\n</details>"
