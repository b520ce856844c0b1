"""The Gradio app: layout, callbacks, the ``explain`` API endpoint and the playground limits."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from . import handlers as H
from .examples import ASSETS, example_job, list_examples, warm_examples
from .jobs import (
    PERTURBATION_NAMES,
    Cancelled,
    Job,
    JobError,
    hf_available,
    model_views,
    perturbation_rows,
    recall,
    remember,
    resolve_model_id,
    run_job,
    sets_rows,
)
from .limits import DEFAULT_PRESET, Limits, get_limits

log = logging.getLogger("freqrex.app")

__all__ = ["build_app", "launch", "launch_options", "CSS", "THEME"]

CSS = """
.fx-header {padding: 18px 22px; border-radius: 14px; color: white;
  background: linear-gradient(120deg, #3c096c 0%, #7b2cbf 45%, #f28c28 100%);}
.fx-header h1 {margin: 0; font-size: 1.9em; color: white;}
.fx-header p {margin: 6px 0 0 0; opacity: 0.92; font-size: 1.02em; color: white;}
.fx-header b {color: #ffe8a3;}
.fx-headline {padding: 10px 4px 2px 4px;}
.fx-verdict {font-size: 1.55em; line-height: 1.25;}
.fx-model {font-family: monospace; background: #efe6fb; color: #3c096c; padding: 1px 7px;
  border-radius: 6px; font-size: 0.8em;}
.fx-label {font-weight: 800; color: #7b2cbf;}
.fx-conf {font-weight: 600; color: var(--body-text-color-subdued);}
.fx-sub {color: var(--body-text-color-subdued); margin-top: 4px;}
.fx-placeholder {padding: 40px 20px; text-align: center; color: var(--body-text-color-subdued);
  font-size: 1.1em;
  border: 2px dashed #d9c7f0; border-radius: 14px;}
.fx-pert-buttons button {min-width: 0 !important;}
.fx-steps {text-align: left; display: inline-block; margin: 14px auto 0 auto; font-size: 0.95em;}
.fx-legend span {display: inline-block; padding: 1px 8px; border-radius: 5px; margin-right: 6px;
  font-size: 0.9em;}
footer {display: none !important;}
"""

THEME = gr.themes.Soft(primary_hue="violet", secondary_hue="orange", neutral_hue="slate")

_INTRO = """
<div class="fx-header">
<h1>FreqReX · which frequencies made the model say that?</h1>
<p>Drop in a music clip. FreqReX finds the frequencies that <b>cause</b> an audio classifier's
label (actual causality, not gradients), then lets you <b>hear</b> the smallest changes that
keep or flip it.</p>
</div>
"""

_HOW = """
**How to read it.** Each of the clip's frequency bins gets a degree of *responsibility* for
the label: how few other bins must go before removing it changes the label. **S** is the
smallest set of top bins that alone keeps the label; **SN** also changes the label when
removed; **complete** adds **A** to restore the original confidence. **Flip-k** removes the
top *k* bins; the **STFT flip** removes the fewest time-frequency cells, the quietest
cells of the most responsible regions first, so that the change is as quiet as it can be.
<span class="fx-legend"><span style="background:#f28c28;color:white">S</span>
<span style="background:#f6c700">SN</span><span style="background:#d62828;color:white">A</span></span>
"""


# -------------------------------------------------------------------------------------------
# session state: cancel flags and the last source read for the excerpt preview

_CANCEL: dict[str, threading.Event] = {}
_SOURCES: OrderedDict[str, Any] = OrderedDict()
_SOURCES_LOCK = threading.Lock()


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


def _new_cancel_event(request: gr.Request | None) -> threading.Event:
    """A fresh cancel flag for the job a session starts (an older job keeps its own)."""
    if len(_CANCEL) > 2000:
        for key in list(_CANCEL)[:1000]:
            _CANCEL.pop(key, None)
    event = threading.Event()
    _CANCEL[_session(request)] = event
    return event


def _cancel_session(request: gr.Request | None) -> None:
    event = _CANCEL.get(_session(request))
    if event is not None:
        event.set()


_PREVIEW_PIECE_FRAMES = 1 << 23  # source frames decoded at once for the preview (32 MB)


def _read_source(path: str, limits: Limits):
    """The whole source at 8 kHz, for the excerpt preview (cached for a few files).

    A source with many frames is decoded piece by piece: a 15 MB FLAC can hold 10 minutes
    at 192 kHz, which decoded at once would take over a gigabyte."""
    import numpy as np
    import soundfile as sf

    from ..audio import Audio, AudioError, load_audio

    p = Path(path)
    key = f"{p}:{p.stat().st_mtime_ns}"
    with _SOURCES_LOCK:
        if key in _SOURCES:
            _SOURCES.move_to_end(key)
            return _SOURCES[key]
    kw = dict(sample_rate=8000, max_file_seconds=limits.max_source_s,
              max_excerpt_seconds=limits.max_source_s)
    try:
        info = sf.info(str(p))
        rate, frames = int(info.samplerate), int(info.frames)
    except Exception:
        rate, frames = 0, 0  # load_audio says what is wrong
    if rate <= 0 or frames <= _PREVIEW_PIECE_FRAMES or frames > rate * limits.max_source_s:
        audio = load_audio(p, **kw)
    else:
        step = max(1, _PREVIEW_PIECE_FRAMES // rate)  # whole seconds per piece
        pieces = []
        for t0 in range(0, int(frames // rate) + 1, step):
            try:
                pieces.append(load_audio(p, start=float(t0), duration=float(step),
                                         min_seconds=0.0, **kw).samples)
            except AudioError as exc:
                if "silent" in str(exc):
                    pieces.append(np.zeros(int(round(min(step, frames / rate - t0) * 8000)),
                                           np.float32))
                elif "empty excerpt" in str(exc):  # past the end (or a truncated file)
                    break
                else:
                    raise
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        if samples.size == 0 or float(np.max(np.abs(samples))) < 1e-5:
            raise AudioError(f"{p.name} is silent or holds no audio")
        audio = Audio(samples=samples, sample_rate=8000, start=0.0, source=str(p))
    with _SOURCES_LOCK:
        _SOURCES[key] = audio
        while len(_SOURCES) > 8:
            _SOURCES.popitem(last=False)
    return audio


def _error(exc: BaseException) -> gr.Error:
    text = str(exc).strip()
    return gr.Error(text.splitlines()[0] if text else type(exc).__name__, title="Cannot explain")


# -------------------------------------------------------------------------------------------


def build_app(limits: Limits | None = None, *, warm: bool = True) -> gr.Blocks:
    """The FreqReX Gradio app (queue and limits set; launch it with :func:`launch`)."""
    from .. import models

    limits = limits or get_limits()
    limits.cache.mkdir(parents=True, exist_ok=True)
    presets = limits.presets()
    model_ids = models.list_models()
    default_model = models.DEFAULT_MODEL if models.DEFAULT_MODEL in model_ids else model_ids[0]
    default_views = model_views(default_model)
    default_view = "genres" if "genres" in default_views else default_views[0]
    examples = list_examples()
    warm_stop = threading.Event()
    warm_thread = warm_examples(limits, warm_stop) if warm else None

    def preset_calls(preset: str) -> int:
        if preset not in presets:
            raise JobError(f"unknown budget preset {preset!r}; choose {', '.join(presets)}")
        return presets[preset]

    with gr.Blocks(title="FreqReX · causal explanations of audio classifiers",
                   delete_cache=(1800, 3600), analytics_enabled=False) as demo:
        job_state = gr.State(None, time_to_live=int(limits.job_ttl_s))  # the job's folder
        gr.HTML(_INTRO)
        with gr.Row(equal_height=False):
            # ---------------------------------------------------------------- inputs
            with gr.Column(scale=4, min_width=360):
                audio_in = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", elem_id="audio-input",
                    label="Music clip: drop or browse a WAV, FLAC, OGG or MP3, or record",
                    buttons=["download"])
                if examples:
                    gr.Markdown("**Try an example** (real music, explained in advance: instant)",
                                elem_classes="fx-tight")
                    ex_btns = []
                    with gr.Row():
                        for ex in examples:
                            ex_btns.append(gr.Button(ex.button, size="sm", min_width=120,
                                                     elem_id=f"example-{ex.stem}"))
                preview = gr.Image(type="filepath", format="png", show_label=False,
                                   visible=False, elem_id="excerpt-preview", container=False,
                                   interactive=False, buttons=[])
                with gr.Row():
                    start = gr.Slider(0, limits.max_source_s, value=0.0, step=0.1,
                                      label="start (s)", elem_id="start")
                    duration = gr.Slider(0.5, limits.max_excerpt_s,
                                         value=limits.default_excerpt_s, step=0.1,
                                         label="duration (s)", elem_id="duration",
                                         info=f"at most {limits.max_excerpt_s:g} s")
                with gr.Row():
                    model_dd = gr.Dropdown(model_ids, value=default_model, label="model",
                                           elem_id="model", scale=3)
                    view = gr.Radio(default_views, value=default_view, label="labels view",
                                    elem_id="labels-view", scale=2)
                preset = gr.Radio([(f"{name} · {calls:,} calls", name)
                                   for name, calls in presets.items()],
                                  value=DEFAULT_PRESET if DEFAULT_PRESET in presets else
                                  next(iter(presets)), label="budget (model calls)",
                                  elem_id="preset")
                estimate = gr.Markdown(H.estimate_md(default_model, presets[DEFAULT_PRESET],
                                                     limits.default_excerpt_s, limits),
                                       elem_id="estimate")
                with gr.Row():
                    explain_btn = gr.Button("Explain", variant="primary", size="lg",
                                            elem_id="explain-btn", scale=3)
                    cancel_btn = gr.Button("Cancel", variant="stop", size="lg",
                                           elem_id="cancel-btn", scale=1)
                with gr.Accordion("Model details · Hugging Face model" if hf_available()
                                  else "Model details", open=False):
                    model_md = gr.Markdown(_model_md(default_model, default_view))
                    hf_box = gr.Textbox(label="…or a Hugging Face audio classifier id",
                                        placeholder="org/name (loaded from the local cache)",
                                        visible=hf_available(), elem_id="hf-id")
                with gr.Accordion("Advanced", open=False):
                    with gr.Row():
                        seed = gr.Number(0, precision=0, label="seed", minimum=0)
                        stft = gr.Checkbox(True, label="STFT flip (time-frequency)")
                if examples:
                    gr.Markdown(_credits(examples), elem_id="credits")
                with gr.Accordion("Limits of this playground", open=False):
                    gr.Markdown("\n".join(["| limit | value |", "|---|---|"] +
                                          [f"| {k} | {v} |" for k, v in limits.table()]))

            # ---------------------------------------------------------------- results
            with gr.Column(scale=7, min_width=520):
                placeholder = gr.HTML(
                    '<div class="fx-placeholder"><b>Try an example</b> on the left (instant), '
                    'or drop a track, choose the excerpt and the model, and press '
                    '<b>Explain</b>.<ol class="fx-steps"><li>the model\'s label and its top '
                    'scores</li><li>the <b>responsibility spectrogram</b>: where in time and '
                    'frequency the label comes from</li><li>the frequencies that are '
                    '<b>sufficient</b> and <b>necessary</b> for it</li><li>the smallest '
                    'changes that keep or <b>flip</b> the label, to listen to beside the '
                    'original</li></ol></div>', elem_id="placeholder")
                with gr.Column(visible=False, elem_id="results") as results:
                    headline = gr.HTML(elem_id="headline")
                    with gr.Row(equal_height=False):
                        scores = gr.Label(num_top_classes=5, label="top scores", scale=2,
                                          elem_id="scores")
                        facts = gr.Markdown(elem_id="facts")
                    spectro_img = gr.Image(type="filepath", format="png",
                                           label="Responsibility spectrogram (heat over the "
                                                 "sound; frequency responsibility alongside)",
                                           interactive=False, elem_id="fig-spectrogram",
                                           buttons=["download", "fullscreen"])
                    with gr.Tabs():
                        with gr.Tab("Responsibility over frequency"):
                            resp_img = gr.Image(type="filepath", format="png", show_label=False,
                                                interactive=False, elem_id="fig-responsibility",
                                                buttons=["download", "fullscreen"])
                        with gr.Tab("Spectrum and sets"):
                            spectrum_img = gr.Image(type="filepath", format="png",
                                                    show_label=False, interactive=False,
                                                    elem_id="fig-spectrum",
                                                    buttons=["download", "fullscreen"])
                            sets_df = gr.Dataframe(headers=["set", "bins", "share of bins",
                                                            "share of energy", "note"],
                                                   interactive=False, elem_id="sets-table")
                        with gr.Tab("Waveform"):
                            wave_img = gr.Image(type="filepath", format="png", show_label=False,
                                                interactive=False, elem_id="fig-waveform")
                        with gr.Tab("How to read this"):
                            gr.Markdown(_HOW)
                    gr.Markdown("### Hear the minimal perturbations")
                    pert_btns = {}
                    with gr.Row(elem_classes="fx-pert-buttons"):
                        for name, title in PERTURBATION_NAMES.items():
                            pert_btns[name] = gr.Button(title, size="sm",
                                                        elem_id=f"pert-{name}", min_width=60)
                    pert_md = gr.Markdown(elem_id="pert-caption")
                    with gr.Row():
                        orig_player = gr.Audio(type="filepath", label="original",
                                               interactive=False, elem_id="player-original",
                                               buttons=["download"])
                        pert_player = gr.Audio(type="filepath", label="perturbed",
                                               interactive=False, elem_id="player-perturbed",
                                               buttons=["download"])
                    pert_img = gr.Image(type="filepath", format="png", show_label=False,
                                        interactive=False, elem_id="fig-perturbation",
                                        buttons=["download", "fullscreen"])
                    pert_df = gr.Dataframe(headers=["perturbation", "size", "label",
                                                    "confidence", "SNR (dB)", "outcome"],
                                           interactive=False, label="all perturbations",
                                           elem_id="pert-table")
                    with gr.Row():
                        json_file = gr.File(label="explanation.json", elem_id="download-json")
                        zip_file = gr.File(label="everything (zip: JSON, sets, WAVs, PNGs)",
                                           elem_id="download-zip")
                    with gr.Accordion("Explanation JSON", open=False):
                        json_view = gr.JSON(elem_id="json-view")
                    notes = gr.Markdown(elem_id="notes")

        # ------------------------------------------------------------ API-only components
        with gr.Column(visible=False):
            api_audio = gr.Audio(type="filepath", label="audio", sources=["upload"])
            api_model = gr.Textbox(default_model, label="model")
            api_view = gr.Textbox("auto", label="labels_view")
            api_start = gr.Number(0.0, label="start")
            api_duration = gr.Number(limits.default_excerpt_s, label="duration")
            api_budget = gr.Number(presets[DEFAULT_PRESET], precision=0, label="budget")
            api_seed = gr.Number(0, precision=0, label="seed")
            api_stft = gr.Checkbox(True, label="stft")
            api_json = gr.JSON(label="explanation")
            api_files = gr.File(file_count="multiple", label="files")
            api_zip = gr.File(label="zip")

        # ------------------------------------------------------------ rendering
        pert_names = list(PERTURBATION_NAMES)
        result_outputs = [placeholder, results, headline, scores, facts, spectro_img, resp_img,
                          spectrum_img, sets_df, wave_img, pert_df, json_file, zip_file,
                          json_view, notes, pert_md, orig_player, pert_player, pert_img,
                          job_state, *[pert_btns[n] for n in pert_names]]

        def render(job: Job) -> list[Any]:
            exp = job.exp
            f = job.files

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
            first = next((n for n in ("flip_1", *pert_names) if n in waves), None)
            pert = safe("perturbation", lambda: _perturbation_outputs(job, first)) if first \
                else None
            pert = pert or ["", path("original"), None, None]
            values = [gr.update(visible=False), gr.update(visible=True),
                      safe("headline", lambda: H.headline_html(job), ""),
                      safe("scores", lambda: H.top_scores(job), {}),
                      safe("facts", lambda: H.facts_md(job), ""),
                      path("figure_responsibility_spectrogram"),
                      path("figure_responsibility"), path("figure_spectrum_sets"),
                      safe("sets", lambda: sets_rows(exp), []), path("figure_waveform"),
                      safe("perturbations", lambda: perturbation_rows(exp), []),
                      path("explanation"), str(job.zip_path) if job.zip_path else None,
                      safe("json", lambda: _json_for_view(exp.to_dict()), {})]
            return [*values, H.notes_md(job), *pert, remember(job),
                    *[gr.update(interactive=n in waves, variant="primary" if n == first
                                else "secondary") for n in pert_names]]

        def _perturbation_outputs(job: Job, name: str) -> list[Any]:
            f = job.files
            wav = f.get(name)
            png = job.perturbation_png(name)
            return [H.perturbation_md(job, name),
                    str(f["original"]) if "original" in f else None,
                    str(wav) if wav is not None else None, str(png) if png else None]

        # ------------------------------------------------------------ callbacks
        def explain_ui(audio, model, hf_id, labels_view, t0, dur, preset_name, seed_v, stft_v,
                       request: gr.Request, progress=gr.Progress()):
            cancel = _new_cancel_event(request)
            try:
                model_id = resolve_model_id(model, hf_id)
                if labels_view not in model_views(model_id):
                    labels_view = "all"
                progress(0.0, desc="loading the model and the excerpt")
                job = run_job(audio, model_id, labels_view, start=t0 or 0.0,
                              duration=dur or limits.default_excerpt_s,
                              budget=preset_calls(preset_name), seed=seed_v or 0,
                              stft=bool(stft_v), limits=limits,
                              progress=lambda fr, msg: progress(fr, desc=msg),
                              cancelled=cancel.is_set)
            except Cancelled:
                raise gr.Error("Cancelled: nothing was changed.", title="Cancelled") from None
            except JobError as exc:
                raise _error(exc) from None
            except gr.Error:
                raise
            except Exception as exc:  # never a traceback in the UI
                log.exception("explain failed")
                raise gr.Error(f"Something went wrong while explaining: {exc}".splitlines()[0],
                               title="Error") from None
            progress(1.0, desc="done")
            try:  # the estimate now knows this model's measured speed
                estimate_now = H.estimate_md(model_id, preset_calls(preset_name), dur, limits)
            except Exception:
                estimate_now = gr.update()
            return [*render(job), estimate_now]

        def cancel_ui(request: gr.Request):
            _cancel_session(request)
            gr.Info("Cancelling…")

        def show_perturbation(name, key):
            if key is None:
                raise gr.Error("Explain a clip first.")
            try:
                job = recall(key)
            except Exception:
                log.exception("recalling %s failed", key)
                job = None
            if job is None:
                raise gr.Error("This result has expired from the server: press Explain again.")
            if name not in job.exp.waves():
                raise gr.Error(f"{PERTURBATION_NAMES[name]} was not found for this clip.")
            return [*_perturbation_outputs(job, name),
                    *[gr.update(variant="primary" if n == name else "secondary")
                      for n in pert_names]]

        def on_model(model, hf_id, t0_dur, preset_name):
            try:
                model_id = resolve_model_id(model, hf_id)
            except JobError as exc:
                raise _error(exc) from None
            views = model_views(model_id)
            value = "genres" if "genres" in views else views[0]
            return (gr.update(choices=views, value=value), _model_md(model_id, value),
                    H.estimate_md(model_id, presets.get(preset_name, 1000), t0_dur, limits))

        def on_view(model, hf_id, labels_view):
            try:
                return _model_md(resolve_model_id(model, hf_id), labels_view)
            except JobError:
                return ""

        def on_estimate(model, hf_id, dur, preset_name):
            try:
                model_id = resolve_model_id(model, hf_id)
            except JobError:
                model_id = model
            return H.estimate_md(model_id, presets.get(preset_name, 1000), dur, limits)

        def on_upload(audio, t0, dur):
            if not audio:
                return gr.update(visible=False, value=None), gr.update(), gr.update()
            try:
                src = _read_source(audio, limits)
            except Exception as exc:  # a toast, and the inputs stay usable
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable file"
                gr.Warning(text, title="Cannot use this file", duration=12)
                return gr.update(visible=False, value=None), gr.update(), gr.update()
            total = src.duration
            new_dur = min(limits.default_excerpt_s, limits.max_excerpt_s, total)
            new_start = 0.0
            if total > 60 and new_dur < total:  # skip intros of long tracks
                new_start = round(min(total * 0.3, total - new_dur), 1)
            fig = _preview_png(src, new_start, new_dur)
            return (gr.update(visible=True, value=fig),
                    gr.update(maximum=max(0.0, round(total - 0.5, 1)), value=new_start),
                    gr.update(maximum=round(min(limits.max_excerpt_s, total), 1),
                              value=round(new_dur, 1)))

        def on_excerpt(audio, t0, dur):
            if not audio:
                return gr.update()
            try:
                src = _read_source(audio, limits)
            except Exception:
                return gr.update()
            return gr.update(visible=True, value=_preview_png(src, float(t0), float(dur)))

        def _preview_png(src, t0, dur):
            import uuid

            from .. import plots

            fig = plots.source_waveform(src.samples, src.sample_rate, t0, dur,
                                        title=f"{Path(src.source).name if src.source else 'clip'}"
                                              f" · excerpt {t0:.1f}–{t0 + dur:.1f} s of "
                                              f"{src.duration:.1f} s")
            folder = limits.cache / "previews"
            folder.mkdir(parents=True, exist_ok=True)
            old = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
            for p in old[:max(0, len(old) - 63)]:  # a bounded folder of its own
                p.unlink(missing_ok=True)
            out = folder / f"preview-{uuid.uuid4().hex[:10]}.png"
            fig.savefig(out, dpi=90)
            return str(out)

        def on_clear():
            return gr.update(visible=False, value=None)

        def load_example(i: int):
            ex = examples[i]
            s = ex.settings()
            try:
                job = example_job(ex, limits)
            except Exception as exc:
                log.exception("example %s failed", ex.stem)
                raise gr.Error(f"This example could not be loaded: {exc}".splitlines()[0]) from None
            inputs = [str(ex.path), gr.update(value=s.get("start", 0.0)),
                      gr.update(value=s.get("duration", limits.default_excerpt_s)),
                      s.get("model", default_model), "",
                      gr.update(choices=model_views(s.get("model", default_model)),
                                value=s.get("labels_view", default_view)),
                      gr.update(visible=False)]
            if job is None:
                gr.Info("No precomputed explanation for this clip: press Explain.")
                return inputs + [gr.update()] * len(result_outputs)
            return inputs + render(job)

        # ------------------------------------------------------------ wiring
        explain_inputs = [audio_in, model_dd, hf_box, view, start, duration, preset, seed, stft]
        explain_evt = explain_btn.click(
            explain_ui, explain_inputs, [*result_outputs, estimate], api_visibility="private",
            concurrency_id="explain", concurrency_limit=limits.concurrency,
            show_progress="full", show_progress_on=[placeholder, headline, spectro_img])
        cancel_btn.click(cancel_ui, None, None, cancels=[explain_evt], queue=False,
                         api_visibility="private")
        for name in pert_names:
            pert_btns[name].click(partial(show_perturbation, name), [job_state],
                                  [pert_md, orig_player, pert_player, pert_img,
                                   *[pert_btns[n] for n in pert_names]],
                                  api_visibility="private", concurrency_limit=8,
                                  show_progress="minimal")
        def on_dropdown(model, dur, preset_name):
            # picking a built-in model clears the Hugging Face field (which would win)
            return (*on_model(model, "", dur, preset_name), "")

        model_dd.input(on_dropdown, [model_dd, duration, preset],
                       [view, model_md, estimate, hf_box], api_visibility="private")
        hf_box.submit(on_model, [model_dd, hf_box, duration, preset],
                      [view, model_md, estimate], api_visibility="private")
        view.change(on_view, [model_dd, hf_box, view], [model_md], api_visibility="private")
        for comp in (preset, duration):
            comp.change(on_estimate, [model_dd, hf_box, duration, preset], [estimate],
                        api_visibility="private", show_progress="hidden")
        for evt in (audio_in.upload, audio_in.stop_recording):
            evt(on_upload, [audio_in, start, duration], [preview, start, duration],
                api_visibility="private", concurrency_limit=4, show_progress="hidden")
        audio_in.clear(on_clear, None, [preview], api_visibility="private")
        for comp in (start, duration):
            comp.release(on_excerpt, [audio_in, start, duration], [preview],
                         api_visibility="private", concurrency_limit=4,
                         show_progress="hidden")
        if examples:
            for i, btn in enumerate(ex_btns):
                btn.click(partial(load_example, i), None,
                          [audio_in, start, duration, model_dd, hf_box, view, preview,
                           *result_outputs], api_visibility="private", concurrency_limit=4)

        # ------------------------------------------------------------ the API endpoint
        def explain_api(audio, model, labels_view, start, duration, budget, seed, stft,
                        request: gr.Request, progress=gr.Progress()):
            """Explain an audio clip: returns the explanation JSON (SPEC section 5), its
            files (explanation.json and every WAV) and a zip of all outputs."""
            cancel = _new_cancel_event(request)
            try:
                model_id = resolve_model_id(model or default_model)
                views = model_views(model_id)
                labels_view = (labels_view or "auto").strip()
                if labels_view == "auto":
                    labels_view = "genres" if "genres" in views else "all"
                job = run_job(audio, model_id, labels_view,
                              start=0.0 if start is None else start,
                              duration=limits.default_excerpt_s if duration is None else duration,
                              budget=presets[DEFAULT_PRESET] if budget is None else budget,
                              seed=0 if seed is None else seed,
                              stft=True if stft is None else bool(stft), limits=limits,
                              progress=lambda fr, msg: progress(fr, desc=msg),
                              cancelled=cancel.is_set)
            except Cancelled:
                raise gr.Error("Cancelled") from None
            except JobError as exc:
                raise _error(exc) from None
            except Exception as exc:
                log.exception("explain (API) failed")
                raise gr.Error(f"Something went wrong while explaining: {exc}".splitlines()[0]
                               ) from None
            files = [str(job.files["explanation"])] + [
                str(job.files[n]) for n in ("original", *pert_names) if n in job.files]
            return job.exp.to_dict(), files, str(job.zip_path) if job.zip_path else None

        api_btn = gr.Button(visible=False)
        api_btn.click(explain_api,
                      [api_audio, api_model, api_view, api_start, api_duration, api_budget,
                       api_seed, api_stft],
                      [api_json, api_files, api_zip], api_name="explain",
                      concurrency_id="explain", concurrency_limit=limits.concurrency,
                      show_progress="hidden")

    demo.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    demo.freqrex_limits = limits  # for launch()
    demo.freqrex_warm = (warm_thread, warm_stop)  # see testing.shutdown
    return demo


def _json_for_view(d: dict, limit: int = 100) -> dict:
    """The explanation JSON for the page: long lists cut (the file has them all)."""
    sf = d.get("stft_flip")
    if isinstance(sf, dict) and len(sf.get("cells") or []) > limit:
        sf = dict(sf)
        n = len(sf["cells"])
        sf["cells"] = sf["cells"][:limit] + [f"... {n - limit:,} more in explanation.json"]
        d = {**d, "stft_flip": sf}
    return d


def _model_md(model_id: str, labels_view: str) -> str:
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
            f"</small></summary><small>{H.labels_md(labels)}</small></details>")


def _credits(examples) -> str:
    parts = [f"*{e.title}* by {e.author} ({e.licence})" for e in examples]
    return ("<small>Music: " + "; ".join(parts) +
            ". Details in assets/ATTRIBUTION.md.</small>")


def launch_options(limits: Limits | None = None, host: str | None = None,
                   port: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: limits, theme, CSS, allowed paths."""
    limits = limits or get_limits()
    opts: dict[str, Any] = dict(max_file_size=limits.max_file_size, theme=THEME, css=CSS,
                                allowed_paths=[str(ASSETS), str(limits.cache)],
                                footer_links=["api"], show_error=True,
                                enable_monitoring=False)  # no /monitoring dashboard or summary
    if host is not None:
        opts["server_name"] = host
    if port is not None:
        opts["server_port"] = int(port)
    return opts


def launch(host: str = "127.0.0.1", port: int = 7860, **kwargs: Any):
    """Build and serve the app (blocking), as ``freqrex app`` does."""
    demo = build_app()
    return demo.launch(**{**launch_options(demo.freqrex_limits, host, port), **kwargs})
