"""A job -> the values of the page's components: the headline, facts, tables, figures, players
and the perturbation buttons. Text only comes from here (formatting helpers: ``format``)."""
from __future__ import annotations

import html
import logging
import math
from pathlib import Path
from typing import Any

import gradio as gr

from .format import fmt_seconds, fmt_snr, pct
from .jobs import PERTURBATION_NAMES, SPEED, Job, perturbation_info, remember
from .limits import Limits

log = logging.getLogger("freqrex.app")

__all__ = ["RESULT_KEYS", "result_values", "perturbation_values", "headline_html", "facts_md",
           "labels_md", "estimate_md", "perturbation_md", "notes_md", "top_scores",
           "perturbation_rows", "sets_rows", "json_for_view", "model_md", "credits_md"]

#: The result components, in the order of :func:`result_values`; the perturbation buttons
#: (one per ``PERTURBATION_NAMES``) follow them.
RESULT_KEYS = ("placeholder", "results", "headline", "scores", "facts", "spectro_img",
               "resp_img", "spectrum_img", "sets_df", "wave_img", "pert_df", "json_file",
               "zip_file", "json_view", "notes", "pert_md", "orig_player", "pert_player",
               "pert_img", "job_state")
#: What :func:`perturbation_values` fills.
PERTURBATION_KEYS = ("pert_md", "orig_player", "pert_player", "pert_img")


# ------------------------------------------------------------------------------ text


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
        f"**{fmt_seconds(exp.seconds)}** to explain ({fmt_seconds(exp.predict_seconds)} inside the model)"
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
    return (f"**{calls:,} model calls** · about {fmt_seconds(seconds)} for a "
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


def model_md(model_id: str, labels_view: str) -> str:
    """The model's description and its labels in ``labels_view`` (built-in models)."""
    from .. import models

    try:
        info = models.model_info(model_id) if model_id in models.list_models() else None
    except Exception:
        info = None
    if info is None:
        return f"`{model_id}`"
    labels = info["views"].get(labels_view, info["labels"])
    return (f"<small>{info.get('description', '')} · {info['sample_rate'] // 1000} kHz</small>"
            f"<details><summary><small>{len(labels)} labels in the <b>{labels_view}</b> view"
            f"</small></summary><small>{labels_md(labels)}</small></details>")


def credits_md(examples) -> str:
    parts = [f"*{e.title}* by {e.author} ({e.licence})" for e in examples]
    return ("<small>Music: " + "; ".join(parts) +
            ". Details in assets/ATTRIBUTION.md.</small>")


# ------------------------------------------------------------------------------ tables


def perturbation_rows(exp) -> list[list[Any]]:
    rows = []
    for name, title in PERTURBATION_NAMES.items():
        info = perturbation_info(exp, name)
        if info is None:
            reason = exp.notes.get(name.split("_")[0] if name.startswith("necessary") else
                                   ("flips" if name.startswith("flip_") else name), "not found")
            rows.append([title, "-", "-", "-", "-", reason])
            continue
        rows.append([title, f"{info['size']:,} {info['unit']}", info["label"],
                     f"{info['confidence']:.3f}", fmt_snr(info["snr_db"]),
                     "changed" if info["changed"] else "same"])
    return rows


def sets_rows(exp) -> list[list[Any]]:
    rows = []
    for key, title, found in (("sufficient", "S  sufficient", exp.sufficient),
                              ("necessary", "SN  sufficient + necessary", exp.necessary),
                              ("complete", "complete (SN + A)", exp.complete)):
        if found is None:
            rows.append([title, "-", "-", "-", exp.notes.get(key, "not found")])
            continue
        idx = found.index
        rows.append([title, f"{len(idx):,}", pct(len(idx) / exp.n_bins),
                     pct(exp.energy_fraction(idx)), ""])
    if exp.adjustment is not None and exp.complete is not None:
        a = exp.adjustment
        rows.append(["A  adjustment", f"{len(a):,}", pct(len(a) / exp.n_bins),
                     pct(exp.energy_fraction(a)), ""])
    return rows


def json_for_view(d: dict, limit: int = 100) -> dict:
    """The explanation JSON for the page: long lists cut (the file has them all)."""
    sf = d.get("stft_flip")
    if isinstance(sf, dict) and len(sf.get("cells") or []) > limit:
        sf = dict(sf)
        n = len(sf["cells"])
        sf["cells"] = sf["cells"][:limit] + [f"... {n - limit:,} more in explanation.json"]
        d = {**d, "stft_flip": sf}
    return d


# ------------------------------------------------------------------------------ components


def perturbation_values(job: Job, name: str) -> list[Any]:
    """Caption, original player, perturbed player and figure of one perturbation
    (``PERTURBATION_KEYS``)."""
    f = job.files
    wav = f.get(name)
    png = job.perturbation_png(name)
    return [perturbation_md(job, name),
            str(f["original"]) if "original" in f else None,
            str(wav) if wav is not None else None, str(png) if png else None]


def result_values(job: Job) -> list[Any]:
    """Every result component (``RESULT_KEYS``, then the perturbation buttons) for ``job``.
    A piece that fails to render is noted and left empty; the rest is shown."""
    exp = job.exp
    f = job.files
    names = list(PERTURBATION_NAMES)

    def path(key):
        p = f.get(key)
        return str(p) if p is not None and Path(p).exists() else None

    def safe(what: str, fn, default=None):
        # one piece that fails must not lose the rest of the result
        try:
            return fn()
        except Exception as exc:
            log.exception("rendering %s failed", what)
            job.notes[f"display_{what}"] = f"could not show {what}: {exc}"
            return default

    waves = exp.waves()
    first = next((n for n in ("flip_1", *names) if n in waves), None)
    pert = safe("perturbation", lambda: perturbation_values(job, first)) if first else None
    pert = pert or ["", path("original"), None, None]
    values = [gr.update(visible=False), gr.update(visible=True),
              safe("headline", lambda: headline_html(job), ""),
              safe("scores", lambda: top_scores(job), {}),
              safe("facts", lambda: facts_md(job), ""),
              path("figure_responsibility_spectrogram"),
              path("figure_responsibility"), path("figure_spectrum_sets"),
              safe("sets", lambda: sets_rows(exp), []), path("figure_waveform"),
              safe("perturbations", lambda: perturbation_rows(exp), []),
              path("explanation"), str(job.zip_path) if job.zip_path else None,
              safe("json", lambda: json_for_view(exp.to_dict()), {})]
    return [*values, notes_md(job), *pert, remember(job),
            *[gr.update(interactive=n in waves, variant="primary" if n == first
                        else "secondary") for n in names]]
