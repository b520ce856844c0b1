"""The sentences of the page (Markdown and HTML) for a job, a model or an explanation still
running: the headline, the lead flip, the sufficient set, the facts, a perturbation's caption,
the estimate. Formatting helpers: :mod:`format`; the fixed words: :mod:`page_text`."""
from __future__ import annotations

import html
import math
from pathlib import Path

from ..audio.hearing import words
from .format import count, fmt_seconds, pct
from .limits import Limits
from .listening import FEW_TONES, lead_flip, read_audible
from .outputs import Job
from .perturbations import PERTURBATION_NAMES, perturbation_info
from .speed import SPEED, JobPlan

__all__ = ["TORN", "torn_between", "headline_html", "lead_md", "sufficient_md", "facts_md",
           "labels_md", "estimate_md", "perturbation_md", "notes_md", "model_md", "credits_md",
           "column_md", "provisional_headline_html", "provisional_lead_md",
           "provisional_facts_md"]

#: The top two scores count as torn when the second is at least this share of the first.
TORN = 0.85


def torn_between(exp) -> tuple[tuple[str, float], tuple[str, float]] | None:
    """The top two labels and scores when the model is torn between them (the second at least
    :data:`TORN` of the first), else None."""
    top = [(label, float(score)) for label, score in exp.top_scores(2)]
    if len(top) < 2 or top[0][1] <= 0 or top[1][1] < TORN * top[0][1]:
        return None
    return top[0], top[1]


def _verdict_html(exp, sub: str) -> str:
    """The model's verdict (label, confidence, foil) over a sub-line of HTML; a line more when
    the model is torn between two labels."""
    foil = (f' <span class="fx-conf">and not</span> <span class="fx-label">'
            f'{html.escape(exp.contrast)}</span>' if exp.contrast else "")
    torn = torn_between(exp)
    if torn is not None:
        (a, sa), (b, sb) = torn
        sub += (f'<div class="fx-torn">The model is <b>torn</b> between {html.escape(a)} '
                f'({sa:.1%}) and {html.escape(b)} ({sb:.1%}): almost level, so a small change '
                'can tip it either way.</div>')
    return (
        '<div class="fx-headline">'
        f'<div class="fx-verdict"><span class="fx-model">{html.escape(exp.model)}</span> hears '
        f'<span class="fx-label">{html.escape(exp.label)}</span> '
        f'<span class="fx-conf">{exp.confidence:.0%}</span>{foil}</div>'
        f'<div class="fx-sub">{sub}</div></div>')


def _source_name(exp) -> str:
    return html.escape(Path(exp.audio.source).name if exp.audio.source else "clip")


def headline_html(job: Job) -> str:
    exp = job.exp
    start, end = exp.audio.start, exp.audio.start + exp.audio.duration
    return _verdict_html(exp, f'{_source_name(exp)} · {start:.1f}–{end:.1f} s · labels view '
                              f'<b>{html.escape(exp.labels_view)}</b> ({len(exp.labels)} labels)')


def lead_md(job: Job) -> str:
    """The least audible verified flip in words a visitor reads ("a change 47 dB below the
    music makes the model hear ambient"), with what it changed and the files that show it."""
    exp = job.exp
    lead = lead_flip(exp)
    if lead is None:
        reasons = "; ".join(f"{k.replace('_', ' ')}: {exp.notes[k]}"
                            for k in ("quiet_flip", "stft_flip") if exp.notes.get(k))
        title = ("changes what the model hears" if exp.contrast is None else
                 f"makes the model hear {html.escape(exp.contrast)} over "
                 f"{html.escape(exp.label)}")
        return (f"### Nothing this budget tried {title}\n"
                f"**{html.escape(exp.label)}** held against every flip"
                + (f" ({html.escape(reasons)})" if reasons else "") +
                ". A larger budget searches further.")
    info = perturbation_info(exp, lead.name) or {}
    instead = (f" instead of {html.escape(exp.label)}" if exp.contrast is None
               else f" and not {html.escape(exp.label)}")
    audible = _audible(lead)
    gains = read_audible(job.folder)
    removed = gains.get(f"removed_{lead.name}")
    loud = (f" The third player is what was removed, played at **{removed.gain_db:+.0f} dB** "
            f"(× {removed.gain:,.3g}, normalised to a peak of 0.5) so that you can hear it."
            if removed is not None else "")
    return (f"### A change **{lead.snr_db:.0f} dB below the music** makes the model hear "
            f"**{html.escape(lead.label)}**{instead}\n"
            f"{PERTURBATION_NAMES[lead.name]}: {info.get('size', lead.k):,} "
            f"{info.get('unit', lead.unit)} ({audible}). Verified: the changed clip "
            f"(`{lead.name}.wav` in the zip) classifies as **{html.escape(lead.label)}** "
            f"({lead.confidence:.0%}); {_heard(lead)}; found by "
            f"{_SEARCH_WORDS[lead.search]}. The first two players are at "
            f"the level the model heard (never normalised).{loud}")


_SEARCH_WORDS = {"gradient": "the model's gradient", "black-box": "black-box search"}


def _audible(lead) -> str:
    """What the model of hearing says of the lead flip (SNR alone while it is not scored)."""
    return words(lead.heard)


def _heard(lead) -> str:
    """``hearing model MOS 4.97 (Zimtohrli 0.0003), SNR 35.9 dB``."""
    snr = f"SNR {lead.snr_db:.1f} dB"
    if lead.mos is None:
        return snr
    return f"hearing model (Zimtohrli) MOS {lead.mos:.2f} of 5, distance {lead.zimtohrli:.4f}; {snr}"


def sufficient_md(job: Job) -> str:
    """The sufficient set in words: "all the model needs to still hear metal: these 6 tones"."""
    from ..plots._common import hz_to_note

    exp = job.exp
    s = exp.sufficient
    if s is None:
        return (f"No small set of frequencies alone keeps **{html.escape(exp.label)}** "
                f"({html.escape(exp.notes.get('sufficient', 'not found'))}).")
    n = len(s.index)
    gains = read_audible(job.folder).get("sufficient_loud")
    loud = (f" The second player is the same sound at **{gains.gain_db:+.0f} dB** "
            f"(× {gains.gain:,.3g}, normalised to a peak of 0.5)." if gains is not None else "")
    if n <= FEW_TONES:
        hz = sorted(float(h) for h in exp.hz(s.index))
        tones = ", ".join(f"{h:,.1f} Hz ({hz_to_note(h)})" for h in hz)
        what = f"this one tone: {tones}" if n == 1 else f"these {n} tones: {tones}"
    else:
        what = (f"these {n:,} of {exp.n_bins:,} frequencies ({pct(n / exp.n_bins)} of them, "
                f"{pct(exp.energy_fraction(s.index))} of the energy)")
    label, top = html.escape(exp.label), html.escape(exp.labels[s.label])
    if exp.contrast is not None:  # the question is X over the foil, whatever the top-1
        foil = html.escape(exp.contrast)
        top_words = ("its top label is " + (f"{label} too" if top == label else
                                            f"{top}, a third label") + f" ({s.confidence:.0%})")
        return (f"**All the model needs to still prefer {label} over {foil}:** {what}. "
                f"Verified: `sufficient.wav` keeps {label} ahead of {foil}; {top_words}.{loud}")
    return (f"**All the model needs to still hear {top}:** {what}. "
            f"Verified: `sufficient.wav` classifies as {top} "
            f"({s.confidence:.0%}).{loud}")


def facts_md(job: Job) -> str:
    exp = job.exp
    budget = f"of a budget of {exp.budget:,}" if exp.budget else "(no budget)"
    spent = (" — a stage used all of its share, so its result is the best found within the budget"
             if exp.budget_exhausted else "")
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
            lines.append(f"{name}: **{count(len(idx), 'bin')}** ({pct(len(idx) / exp.n_bins)} of bins, "
                         f"{pct(exp.energy_fraction(idx))} of energy)")
    flipped = [f.k for f in exp.flips if f.flipped]
    if flipped:
        lines.append(f"Removing the top **{flipped[0]}** frequenc{'y' if flipped[0] == 1 else 'ies'} "
                     + ("changes the label" if exp.contrast is None else
                        f"makes the model hear **{html.escape(exp.contrast)}** over "
                        f"{html.escape(exp.label)}"))
    if exp.stft_flip is not None:
        f = exp.stft_flip
        lines.append(f"STFT flip: **{count(f.k, 'cell')}** {f.change} → {exp.labels[f.label]} "
                     f"(SNR {f.snr_db:.1f} dB)")
    return "\n".join(f"- {line}" for line in lines)


def labels_md(labels: list[str]) -> str:
    chips = " ".join(f"`{html.escape(lab)}`" for lab in labels)
    return f"{len(labels)} labels: {chips}"


def estimate_md(model_id: str, calls: int, duration: float, limits: Limits,
                compare: str | None = None) -> str:
    """The time a job of these settings takes, from this server's recent measured speed
    (:mod:`speed`); says so when a model has never run here instead of inventing a time."""
    d = float(duration or limits.default_excerpt_s)
    models = (model_id, compare) if compare and compare != model_id else (model_id,)
    what = (f"**{calls:,} model calls**" if len(models) == 1 else
            f"**{calls:,} model calls** for each of the 2 models")
    seconds = SPEED.estimate(JobPlan(models, int(calls), d))
    if seconds is None:
        missing = [m for m in models if not SPEED.measured(m)] or list(models)
        verb = "has" if len(missing) == 1 else "have"
        return (f"{what} · the time is not known yet: {' and '.join(missing)} {verb} not run "
                "on this server (the first job measures it)")
    return (f"{what} · about {fmt_seconds(seconds)} for a {d:g} s excerpt, from this "
            "server's measured speed now")


def perturbation_md(job: Job, name: str) -> str:
    info = perturbation_info(job.exp, name)
    if info is None:
        return f"**{name}** was not found for this clip."
    snr = "no change" if not math.isfinite(info["snr_db"]) else f"SNR **{info['snr_db']:.1f} dB**"
    if info["mos"] is not None:
        snr += f", hearing model MOS **{info['mos']:.2f}** of 5"
    exp = job.exp
    if exp.contrast is None:
        verdict = ("the label **changed**" if info["changed"] else "the label **stayed**")
        was = f"was {html.escape(exp.label)}"
    else:
        verdict = f"**{html.escape(info['outcome'])}**"
        was = f"why {html.escape(exp.label)} and not {html.escape(exp.contrast)}"
    return (f"### {info['title']}: {info['size']:,} {info['unit']}\n"
            f"The model now hears **{html.escape(info['label'])}** ({info['confidence']:.0%}) — "
            f"{verdict} ({was}) · {snr}. "
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


def column_md(job: Job, which: str) -> tuple[str, str]:
    """A comparison column's heading and its verdict with the least audible flip."""
    exp = job.exp
    lead = lead_flip(exp)
    flip = (f"A change **{lead.snr_db:.0f} dB below the music** makes it hear "
            f"**{html.escape(lead.label)}** ({PERTURBATION_NAMES[lead.name]})" if lead
            else "No change this budget tried flips its label")
    return (f"### {which}: `{html.escape(exp.model)}`",
            f"Hears **{html.escape(exp.label)}** ({exp.confidence:.0%}). {flip}.")


# ------------------------------------------------------------------------------ while it runs


_PROVISIONAL = '<span class="fx-provisional">so far</span>'


def provisional_headline_html(exp, queries: int | None = None) -> str:
    """The verdict of an explanation still running, marked provisional; ``queries``: the job's
    count of model calls (the status line's), else the engine's."""
    n = exp.queries if queries is None else queries
    return _verdict_html(exp, f'{_PROVISIONAL} {_source_name(exp)} · working: '
                              f'{count(n, "model call")} so far · the picture below is '
                              'refined as the search runs')


def provisional_lead_md(exp) -> str:
    """The best flip found so far, in the words of :func:`lead_md`, marked provisional."""
    lead = lead_flip(exp)
    if lead is None:
        if not exp.flips:
            return ("### So far: searching which frequencies the label depends on\n"
                    "The responsibility map is refined with every model call; the changes "
                    "that flip the label come next.")
        return ("### So far: no change tried flips the label\n"
                "The search for the least audible change goes on.")
    info = perturbation_info(exp, lead.name) or {}
    instead = (f" instead of {html.escape(exp.label)}" if exp.contrast is None
               else f" and not {html.escape(exp.label)}")
    return (f"### So far: a change **{lead.snr_db:.0f} dB below the music** makes the model "
            f"hear **{html.escape(lead.label)}**{instead}\n"
            f"{PERTURBATION_NAMES[lead.name]}: {info.get('size', lead.k):,} "
            f"{info.get('unit', lead.unit)} ({_audible(lead)}); verified on the model "
            f"({lead.confidence:.0%}). Provisional: the search goes on for a quieter one, and "
            "the sounds come with the result.")


def provisional_facts_md(exp, queries: int | None = None) -> str:
    n = exp.queries if queries is None else queries
    budget = f"of a budget of {exp.budget:,}" if exp.budget else "(no budget)"
    done = [name for name, ok in (("flip-k", bool(exp.flips)),
                                  ("quiet flip", "quiet_flip" in exp.notes
                                   or exp.quiet_flip is not None),
                                  ("STFT flip", exp.stft_margin_drop is not None)) if ok]
    return "\n".join([
        f"- {count(n, 'model call')} so far {budget}",
        f"- **{exp.n_bins:,}** frequency bins, {exp.sample_rate / exp.n_samples:.3f} Hz apart",
        "- done: responsibility search" + (", " + ", ".join(done) if done else " (running)"),
        "- provisional: the sets, the sounds and the downloads come with the result"])
