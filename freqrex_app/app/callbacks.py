"""The page's event handlers and the ``explain`` API endpoint. Each method is one callback;
:mod:`ui` wires them to the components of :mod:`layout`. Errors reach a person as one line
(``gr.Error`` / ``gr.Warning``), never a traceback."""
from __future__ import annotations

import logging
import threading

import gradio as gr

from . import render
from .examples import example_job
from .format import one_line
from .jobs import (PERTURBATION_NAMES, Cancelled, JobError, model_views, recall,
                   resolve_model_id, run_job)
from .preview import preview_png, read_source
from .settings import AppSettings

log = logging.getLogger("freqrex.app")

__all__ = ["Callbacks"]

_N_RESULTS = len(render.RESULT_KEYS) + len(PERTURBATION_NAMES)


def _error(exc: BaseException) -> gr.Error:
    return gr.Error(one_line(exc), title="Cannot explain")


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


class Callbacks:
    """The handlers of one app (its settings, and the cancel flag of each session's job)."""

    def __init__(self, settings: AppSettings):
        self.s = settings
        self._cancel: dict[str, threading.Event] = {}

    # -------------------------------------------------------------------- cancel flags

    def _new_cancel_event(self, request: gr.Request | None) -> threading.Event:
        """A fresh cancel flag for the job a session starts (an older job keeps its own)."""
        if len(self._cancel) > 2000:
            for key in list(self._cancel)[:1000]:
                self._cancel.pop(key, None)
        event = threading.Event()
        self._cancel[_session(request)] = event
        return event

    # -------------------------------------------------------------------- explain

    def explain_ui(self, audio, model, hf_id, labels_view, t0, dur, preset_name, seed_v, stft_v,
                   request: gr.Request, progress=gr.Progress()):
        limits = self.s.limits
        cancel = self._new_cancel_event(request)
        try:
            model_id = resolve_model_id(model, hf_id)
            if labels_view not in model_views(model_id):
                labels_view = "all"
            progress(0.0, desc="loading the model and the excerpt")
            job = run_job(audio, model_id, labels_view, start=t0 or 0.0,
                          duration=dur or limits.default_excerpt_s,
                          budget=self.s.preset_calls(preset_name), seed=seed_v or 0,
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
            estimate_now = render.estimate_md(model_id, self.s.preset_calls(preset_name), dur,
                                              limits)
        except Exception:
            estimate_now = gr.update()
        return [*render.result_values(job), estimate_now]

    def explain_api(self, audio, model, labels_view, start, duration, budget, seed, stft,
                    request: gr.Request, progress=gr.Progress()):
        """Explain an audio clip: returns the explanation JSON (SPEC section 5), its
        files (explanation.json and every WAV) and a zip of all outputs."""
        s, limits = self.s, self.s.limits
        cancel = self._new_cancel_event(request)
        try:
            model_id = resolve_model_id(model or s.default_model)
            views = model_views(model_id)
            labels_view = (labels_view or "auto").strip()
            if labels_view == "auto":
                labels_view = "genres" if "genres" in views else "all"
            job = run_job(audio, model_id, labels_view,
                          start=0.0 if start is None else start,
                          duration=limits.default_excerpt_s if duration is None else duration,
                          budget=s.presets[s.default_preset] if budget is None else budget,
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
            str(job.files[n]) for n in ("original", *PERTURBATION_NAMES) if n in job.files]
        return job.exp.to_dict(), files, str(job.zip_path) if job.zip_path else None

    def cancel_ui(self, request: gr.Request):
        event = self._cancel.get(_session(request))
        if event is not None:
            event.set()
        gr.Info("Cancelling…")

    # -------------------------------------------------------------------- results

    def show_perturbation(self, name: str, key):
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
        return [*render.perturbation_values(job, name),
                *[gr.update(variant="primary" if n == name else "secondary")
                  for n in PERTURBATION_NAMES]]

    def load_example(self, i: int):
        s = self.s
        ex = s.examples[i]
        settings = ex.settings()
        try:
            job = example_job(ex, s.limits)
        except Exception as exc:
            log.exception("example %s failed", ex.stem)
            raise gr.Error(f"This example could not be loaded: {exc}".splitlines()[0]) from None
        model = settings.get("model", s.default_model)
        inputs = [str(ex.path), gr.update(value=settings.get("start", 0.0)),
                  gr.update(value=settings.get("duration", s.limits.default_excerpt_s)),
                  model, "",
                  gr.update(choices=model_views(model),
                            value=settings.get("labels_view", s.default_view)),
                  gr.update(visible=False)]
        if job is None:
            gr.Info("No precomputed explanation for this clip: press Explain.")
            return inputs + [gr.update()] * _N_RESULTS
        return inputs + render.result_values(job)

    # -------------------------------------------------------------------- model and budget

    def on_model(self, model, hf_id, dur, preset_name):
        try:
            model_id = resolve_model_id(model, hf_id)
        except JobError as exc:
            raise _error(exc) from None
        views = model_views(model_id)
        value = "genres" if "genres" in views else views[0]
        return (gr.update(choices=views, value=value), render.model_md(model_id, value),
                render.estimate_md(model_id, self.s.presets.get(preset_name, 1000), dur,
                                   self.s.limits))

    def on_dropdown(self, model, dur, preset_name):
        # picking a built-in model clears the Hugging Face field (which would win)
        return (*self.on_model(model, "", dur, preset_name), "")

    def on_view(self, model, hf_id, labels_view):
        try:
            return render.model_md(resolve_model_id(model, hf_id), labels_view)
        except JobError:
            return ""

    def on_estimate(self, model, hf_id, dur, preset_name):
        try:
            model_id = resolve_model_id(model, hf_id)
        except JobError:
            model_id = model
        return render.estimate_md(model_id, self.s.presets.get(preset_name, 1000), dur,
                                  self.s.limits)

    # -------------------------------------------------------------------- the excerpt

    def on_upload(self, audio, t0, dur):
        limits = self.s.limits
        if not audio:
            return gr.update(visible=False, value=None), gr.update(), gr.update()
        try:
            src = read_source(audio, limits)
        except Exception as exc:  # a toast, and the inputs stay usable
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable file"
            gr.Warning(text, title="Cannot use this file", duration=12)
            return gr.update(visible=False, value=None), gr.update(), gr.update()
        total = src.duration
        new_dur = min(limits.default_excerpt_s, limits.max_excerpt_s, total)
        new_start = 0.0
        if total > 60 and new_dur < total:  # skip intros of long tracks
            new_start = round(min(total * 0.3, total - new_dur), 1)
        fig = preview_png(src, new_start, new_dur, limits)
        return (gr.update(visible=True, value=fig),
                gr.update(maximum=max(0.0, round(total - 0.5, 1)), value=new_start),
                gr.update(maximum=round(min(limits.max_excerpt_s, total), 1),
                          value=round(new_dur, 1)))

    def on_excerpt(self, audio, t0, dur):
        if not audio:
            return gr.update()
        try:
            src = read_source(audio, self.s.limits)
        except Exception:
            return gr.update()
        return gr.update(visible=True, value=preview_png(src, float(t0), float(dur),
                                                         self.s.limits))

    def on_clear(self):
        return gr.update(visible=False, value=None)

