"""A job -> the values of the page's components: the headline, facts, tables, figures, players
and the perturbation buttons, keyed by component name (:data:`Values`), for a result and for an
explanation still running. The sentences come from :mod:`sentences`, the tables from
:mod:`tables`."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from .listening import lead_flip, read_audible
from .outputs import Job
from .perturbations import PERTURBATION_NAMES
from .sentences import (column_md, facts_md, headline_html, lead_md, notes_md, perturbation_md,
                        provisional_facts_md, provisional_headline_html, provisional_lead_md,
                        sufficient_md)
from .store import remember
from .tables import json_for_view, perturbation_rows, sets_rows

log = logging.getLogger("freqrex.app")

__all__ = ["RESULT_KEYS", "PERTURBATION_KEYS", "BUTTON", "button", "Values", "top_scores",
           "foil_choices", "perturbation_values", "lead_values", "figure_values",
           "compare_values", "result_values", "partial_values", "partial_count_values"]

#: The page's values, keyed by the name of their component (the layout's attribute; a
#: perturbation's button: :func:`button`). A component left out stays as it is.
Values = dict[str, Any]

#: The result components, in the order of the page's outputs (the perturbation buttons
#: follow them): every name :func:`result_values` may fill.
RESULT_KEYS = ("placeholder", "results", "headline", "lead_md", "lead_orig", "lead_changed",
               "lead_removed", "suff_md", "suff_player", "suff_loud", "scores", "facts",
               "spectro_plot", "freq_plot", "notes_plot", "notes_text", "spectrum_img",
               "sets_df", "wave_img", "pert_df", "json_file", "zip_file", "json_view", "notes",
               "compare_col", "compare_summary", "compare_head_a", "compare_lead_a",
               "compare_plot_a", "compare_head", "compare_lead", "compare_changed",
               "compare_removed", "compare_plot", "compare_df", "pert_md", "orig_player",
               "pert_player", "pert_img", "job_state")
#: What :func:`perturbation_values` fills.
PERTURBATION_KEYS = ("pert_md", "orig_player", "pert_player", "pert_img")
#: The prefix of a perturbation button's name (:func:`button`).
BUTTON = "button_"


def button(name: str) -> str:
    """The component name of the button of perturbation ``name``."""
    return BUTTON + name


def top_scores(job: Job, n: int = 5) -> dict[str, float]:
    """The ``n`` top labels and their scores (the value of the scores component)."""
    return {label: float(score) for label, score in job.exp.top_scores(n)}


def foil_choices(model_id: str, labels_view: str) -> list[tuple[str, str]]:
    """The foils a visitor can pick: none, or a label of the model in ``labels_view``
    (built-in models, without loading weights)."""
    from .. import models

    labels: list[str] = []
    try:
        if model_id in models.list_models():
            info = models.model_info(model_id)
            labels = list(info["views"].get(labels_view, info["labels"]))
    except Exception:
        labels = []
    return [("(none: the runner-up)", "")] + [(lab, lab) for lab in labels]


# ------------------------------------------------------------------------------ components


def perturbation_values(job: Job, name: str) -> Values:
    """Caption, original player, perturbed player and figure of one perturbation
    (``PERTURBATION_KEYS``)."""
    f = job.files
    wav = f.get(name)
    png = job.perturbation_png(name)
    return {"pert_md": perturbation_md(job, name),
            "orig_player": str(f["original"]) if "original" in f else None,
            "pert_player": str(wav) if wav is not None else None,
            "pert_img": str(png) if png else None}


def _path(job: Job, key: str) -> str | None:
    p = job.files.get(key)
    return str(p) if p is not None and Path(p).exists() else None


def lead_values(job: Job) -> Values:
    """The lead flip's text and its three players (original, changed, what was removed,
    amplified), the sufficient set's text and its two players."""
    lead = lead_flip(job.exp)
    gains = read_audible(job.folder)
    removed = gains.get(f"removed_{lead.name}") if lead else None
    loud = gains.get("sufficient_loud")
    return {"lead_md": lead_md(job), "lead_orig": _path(job, "original"),
            "lead_changed": gr.update(
                value=_path(job, lead.name) if lead else None,
                label=f"changed: the model hears {lead.label}" if lead else "changed"),
            "lead_removed": gr.update(
                value=removed.file if removed else None,
                label=(f"what was removed, {removed.gain_db:+.0f} dB" if removed
                       else "what was removed")),
            "suff_md": sufficient_md(job), "suff_player": _path(job, "sufficient"),
            "suff_loud": gr.update(value=loud.file if loud else None,
                                   label=f"sufficient set, {loud.gain_db:+.0f} dB" if loud
                                   else "sufficient set, amplified")}


def _shared_zmax(*exps) -> float | None:
    """The top of one colour scale for the responsibility spectrograms of ``exps``."""
    from ..plots.grid import mel_grid

    tops = [float(g.smooth.max()) for g in (mel_grid(e) for e in exps) if g is not None]
    return max(tops) if tops and max(tops) > 0 else None


def figure_values(job: Job) -> Values:
    """The interactive spectrogram, frequency and notes figures (plotly) and the notes
    summary. With a second model, the spectrogram's colour scale is the one both
    models' spectrograms share."""
    from ..plots.grid import mel_grid
    from ..plots.interactive import frequency_figure, notes_figure, spectrogram_figure
    from ..plots.notes import notes_markdown, summarise_notes

    exp = job.exp
    summary = summarise_notes(exp)
    zmax = _shared_zmax(exp, job.compare.exp) if job.compare is not None else None
    return {"spectro_plot": spectrogram_figure(exp, grid=mel_grid(exp), zmax=zmax),
            "freq_plot": frequency_figure(exp), "notes_plot": notes_figure(summary),
            "notes_text": notes_markdown(summary)}


def compare_values(job: Job) -> Values:
    """The two models side by side, each in its own column with its heading, their
    spectrograms on one colour scale, and the line of where they agree and differ (the
    column hidden and emptied when there is no second model)."""
    other = job.compare
    if other is None:
        return {k: v for k, v in _EMPTY.items() if k.startswith("compare_")}
    from ..plots.grid import mel_grid
    from ..plots.interactive import spectrogram_figure
    from .compare import comparison_md

    zmax = _shared_zmax(job.exp, other.exp)

    def figure(exp):  # a short title for a half-width column
        fig = spectrogram_figure(exp, grid=mel_grid(exp), zmax=zmax)
        if fig is not None:
            fig.update_layout(title_text=f"{exp.model} · {exp.label} ({exp.confidence:.0%})",
                              legend=dict(y=-0.25, yanchor="top", x=0, xanchor="left"),
                              margin=dict(b=90))
        return fig

    lead = lead_flip(other.exp)
    removed = read_audible(other.folder).get(f"removed_{lead.name}") if lead else None
    head_a, lead_a = column_md(job, "First model")
    head_b, lead_b = column_md(other, "Second model")
    return {"compare_col": gr.update(visible=True),
            "compare_summary": comparison_md(job.exp, other.exp),
            "compare_head_a": head_a, "compare_lead_a": lead_a, "compare_plot_a": figure(job.exp),
            "compare_head": head_b, "compare_lead": lead_b,
            "compare_changed": gr.update(value=_path(other, lead.name) if lead else None,
                                         label=f"changed: hears {lead.label}" if lead
                                         else "changed"),
            "compare_removed": gr.update(value=removed.file if removed else None,
                                         label=(f"what was removed, {removed.gain_db:+.0f} dB"
                                                if removed else "what was removed")),
            "compare_plot": figure(other.exp), "compare_df": perturbation_rows(other.exp)}


def result_values(job: Job) -> Values:
    """Every result component (``RESULT_KEYS`` and the perturbation buttons) for ``job``.
    A piece that fails to render is noted and left empty; the rest is shown."""
    exp = job.exp
    names = list(PERTURBATION_NAMES)

    def safe(what: str, fn) -> Values:
        # one piece that fails must not lose the rest of the result
        try:
            return fn()
        except Exception as exc:
            log.exception("rendering %s failed", what)
            job.notes[f"display_{what}"] = f"could not show {what}: {exc}"
            return {}

    waves = exp.waves()
    lead = lead_flip(exp)
    first = next((n for n in (lead.name if lead else "flip_1", "flip_1", *names) if n in waves),
                 None)
    pert = safe("perturbation", lambda: perturbation_values(job, first)) if first else {}
    values: Values = {
        **_EMPTY, "placeholder": gr.update(visible=False), "results": gr.update(visible=True),
        **safe("headline", lambda: {"headline": headline_html(job)}),
        **safe("lead", lambda: lead_values(job)),
        **safe("scores", lambda: {"scores": top_scores(job)}),
        **safe("facts", lambda: {"facts": facts_md(job)}),
        **safe("figures", lambda: figure_values(job)),
        "spectrum_img": _path(job, "figure_spectrum_sets"),
        **safe("sets", lambda: {"sets_df": sets_rows(exp)}),
        "wave_img": _path(job, "figure_waveform"),
        **safe("perturbations", lambda: {"pert_df": perturbation_rows(exp)}),
        "json_file": _path(job, "explanation"),
        "zip_file": str(job.zip_path) if job.zip_path else None,
        **safe("json", lambda: {"json_view": json_for_view(exp.to_dict())}),
        "notes": notes_md(job),
        **safe("comparison", lambda: compare_values(job)),
        "orig_player": _path(job, "original"),
        **pert,
        "job_state": remember(job)}
    values.update({button(n): gr.update(interactive=n in waves,
                                        variant="primary" if n == first else "secondary")
                   for n in names})
    return values


def partial_count_values(exp, queries: int) -> Values:
    """Like :func:`partial_values` for the same partial explanation ``exp``, with only the
    count of model calls moved on (the headline and the facts); the rest stays."""
    return {"headline": provisional_headline_html(exp, queries),
            "facts": provisional_facts_md(exp, queries)}


def partial_values(exp, queries: int | None = None) -> Values:
    """Every result component (``RESULT_KEYS`` and the perturbation buttons) for an
    explanation still running: the verdict, the best flip so far and the responsibility
    figures, marked provisional; the rest empty until the result. Writes no file; the session's
    job (``job_state``) is left as it was. May raise: the caller skips the update."""
    from ..plots.grid import mel_grid
    from ..plots.interactive import frequency_figure, spectrogram_figure

    spectro = (spectrogram_figure(exp, grid=mel_grid(exp))
               if exp.stft_margin_drop is not None else None)
    return {**_EMPTY, "placeholder": gr.update(visible=False),
            "results": gr.update(visible=True),
            "headline": provisional_headline_html(exp, queries),
            "lead_md": provisional_lead_md(exp),
            "scores": {label: float(score) for label, score in exp.top_scores(5)},
            "facts": provisional_facts_md(exp, queries),
            "spectro_plot": spectro, "freq_plot": frequency_figure(exp),
            **{button(n): gr.update(interactive=False, variant="secondary")
               for n in PERTURBATION_NAMES}}


#: The result components emptied (the job's state is not among them: it stays as it is).
_EMPTY: Values = {
    "headline": "", "lead_md": "", "lead_orig": None,
    "lead_changed": gr.update(value=None, label="changed"),
    "lead_removed": gr.update(value=None, label="what was removed"),
    "suff_md": "", "suff_player": None,
    "suff_loud": gr.update(value=None, label="sufficient set, amplified"),
    "scores": {}, "facts": "", "spectro_plot": None, "freq_plot": None, "notes_plot": None,
    "notes_text": "", "spectrum_img": None, "sets_df": [], "wave_img": None, "pert_df": [],
    "json_file": None, "zip_file": None, "json_view": None, "notes": "",
    "compare_col": gr.update(visible=False), "compare_summary": "", "compare_head_a": "",
    "compare_lead_a": "", "compare_plot_a": None, "compare_head": "", "compare_lead": "",
    "compare_changed": None, "compare_removed": None, "compare_plot": None, "compare_df": [],
    "pert_md": "", "orig_player": None, "pert_player": None, "pert_img": None}
