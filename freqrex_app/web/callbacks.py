"""The page's event handlers and the ``explain`` API endpoint. Each method is one callback;
:mod:`ui` wires them to the components of :mod:`layout`. Errors reach a person as one line
(``gr.Error`` / ``gr.Warning``), never a traceback."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import re
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Iterator

import gradio as gr

from . import render
from .board import WAITING, Board, Busy, Ticket
from .errors import Cancelled, JobError
from .examples import example_job
from .format import one_line, short
from .gradio_queue import (abandoned_check, current_event_id, drop_unheard, event_visitor,
                           pending_visitors)
from .guard import Listeners
from .jobs import run_job
from .layout import Layout
from .model_cache import model_views, resolve_model_id
from .outputs import Job
from .perturbations import PERTURBATION_NAMES
from .preview import preview_png, read_source
from .sentences import estimate_md, model_md
from .settings import AppSettings
from .store import recall
from .visitors import Allowance, visitor_of

log = logging.getLogger("freqrex.app")

__all__ = ["Callbacks"]

#: The page shows a running explanation's newest picture at most this often (seconds).
LIVE_EVERY_S = 1.0
#: After Cancel, the page waits at most this long (seconds) for the job to stop.
STOP_WAIT_S = 5.0


class _Live:
    """The newest partial explanation of a running job, handed from the job's thread (which
    :meth:`put` s it) to the page's generator (which :meth:`take` s it); older ones are
    dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._latest: Any = None
        self.done = False

    def put(self, exp: Any) -> None:
        with self._cond:
            self._latest = exp
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self.done = True
            self._cond.notify_all()

    def take(self, timeout: float) -> Any:
        """The newest partial not taken yet (waits up to ``timeout``; None if none came)."""
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self.done, timeout)
            exp, self._latest = self._latest, None
            return exp

    def wait_done(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.done, timeout)


def _in_thread(fn: Callable[[], Any], on_end: Callable[[], None]) -> Future:
    """Run ``fn`` in a thread with this thread's context (Gradio's event id and progress live
    there); its result or exception comes back through the future."""
    future: Future = Future()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            future.set_result(context.run(fn))
        except BaseException as exc:  # the caller re-raises it
            future.set_exception(exc)
        finally:
            on_end()

    threading.Thread(target=target, name="freqrex-job", daemon=True).start()
    return future


_COUNT = re.compile(r"\s*\(\d+ model calls\)")


def _progress(ticket: Ticket, message: str) -> tuple[float, str]:
    """The progress bar's fraction and words from the job's one count of model calls (the
    count the status line and the headline show), with the engine's stage."""
    calls = max(1, ticket.plan().calls)
    stage = _COUNT.sub("", message)
    return (min(1.0, ticket.queries / calls),
            f"{stage} · {ticket.queries:,} of {calls:,} model calls")


def _error(exc: BaseException, who: str = "") -> gr.Error:
    """A refusal: one line for the person, one line in the log, no traceback."""
    log.info("refused input%s: %s", f" from {who}" if who else "", one_line(exc, 200))
    return gr.Error(one_line(exc), title="Cannot explain", print_exception=False)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


def _runs(compare_model: Any) -> int:
    """Explanations a request asks for: two with a model to compare."""
    return 2 if isinstance(compare_model, str) and compare_model.strip() else 1


def _calls(budget: Any, s: AppSettings) -> int:
    """Model calls of a request, for its place in line (the job itself checks the value)."""
    try:
        calls = float(budget)
    except (TypeError, ValueError):
        calls = math.nan
    if not math.isfinite(calls):
        return s.presets[s.default_preset]
    return int(min(max(calls, 50), s.limits.max_budget))


def _duration(duration: Any, s: AppSettings) -> float:
    try:
        d = float(duration)
    except (TypeError, ValueError):
        d = math.nan
    if not math.isfinite(d) or d <= 0:
        return s.limits.default_excerpt_s
    return min(d, s.limits.max_excerpt_s)


def _unshown_values() -> render.Values:
    """The results hidden and the placeholder back; the rest as it is (results, buttons and
    the estimate)."""
    return {"placeholder": gr.update(visible=True), "results": gr.update(visible=False)}


def live_values(live: _Live, every: float = LIVE_EVERY_S,
                queries: Callable[[], int] | None = None) -> Iterator[render.Values]:
    """The page's values for the newest partial explanation, at most once every ``every``
    seconds, until the job ends. A partial that fails to render is skipped. ``queries()`` is
    the job's count of model calls (the one the status line and the progress bar show)."""
    last, shown = -math.inf, None
    while not live.done:
        wait = last + every - time.monotonic()
        if wait > 0:  # the newest partial waits; the job's end does not
            live.wait_done(wait)
            continue
        exp = live.take(timeout=0.5)
        if live.done:
            continue
        try:
            if exp is not None:
                values = render.partial_values(exp, queries() if queries else None)
            elif shown is not None and queries is not None:  # no news: the count moves on
                values = render.partial_count_values(shown, queries())
            else:
                continue
        except Exception:
            log.exception("showing the explanation so far failed; skipped")
            continue
        shown = exp or shown
        last = time.monotonic()
        yield values


class Callbacks:
    """The handlers of one app: its settings and its :class:`Board` (one explanation per
    session, the line, cancellation). :meth:`attach` gives it the Blocks, whose queue tells
    which work was abandoned, and the layout, whose components its handlers fill."""

    def __init__(self, settings: AppSettings, listeners: Listeners | None = None):
        self.s = settings
        limits = settings.limits
        self.board = Board(limits.concurrency, queue_size=limits.queue_size)
        self.listeners = listeners or Listeners()
        self.previews = Allowance(limits.preview_msamples_per_min, 60.0)
        self.blocks = None
        self._ui: Layout | None = None
        self._cancelling: dict[str, Ticket] = {}  # session -> the ticket its Cancel stops

    def attach(self, blocks, ui: Layout) -> None:
        self.blocks = blocks
        self._ui = ui

    @property
    def ui(self) -> Layout:
        """The page's components (given by :meth:`attach`)."""
        if self._ui is None:
            raise RuntimeError("Callbacks.attach(blocks, ui) gives the handlers the page")
        return self._ui

    def visitor(self, request: gr.Request | None) -> str:
        """The client address of a request (see :mod:`visitors`)."""
        client = getattr(request, "client", None)
        headers = getattr(request, "headers", None)
        return visitor_of(getattr(client, "host", None), headers, self.s.limits.trusted_proxies)

    def _pending(self, visitor: str) -> bool:
        return visitor in pending_visitors(self.blocks, self.s.limits.trusted_proxies)

    def _ticket(self, request, model_id: str, calls: int, duration: Any,
                compare: str | None = None) -> Ticket:
        """The ticket claimed when the request arrived (claimed now when there is none, as
        for a handler called directly), with the request's own settings."""
        visitor, session = self.visitor(request), _session(request)
        ticket = self.board.ticket(visitor)
        if ticket is None or ticket.state != WAITING:
            ticket = self.board.claim(visitor, model_id, calls, _duration(duration, self.s),
                                      session=session, pending=self._pending)
        ticket.session = session  # an API request gets its session when it joins the queue
        ticket.model_id = model_id
        ticket.calls, ticket.duration = calls, _duration(duration, self.s)
        ticket.compare_id = (compare or "").strip() if (compare or "").strip() != model_id else ""
        return ticket

    async def sweep(self, every_s: float = 1.0) -> None:
        """Forever: waiting explanations that nobody listens for leave the queue, and their
        tickets end (started once, on the server's loop, by the gate)."""
        grace = self.s.limits.stream_grace_s

        def dropped(event) -> None:
            from gradio.server_messages import ProcessCompletedMessage

            visitor = event_visitor(event, self.s.limits.trusted_proxies)
            self.board.cancel(visitor, "nobody listens for the result")
            try:  # a client that comes back reads why
                self.blocks._queue.send_message(event, ProcessCompletedMessage(
                    output={"error": "Cancelled: nobody listened for the result"},
                    success=False))
            except Exception:
                pass

        while True:
            await asyncio.sleep(every_s)
            try:
                n = await drop_unheard(self.blocks, self.listeners, grace, dropped)
                if n:
                    log.info("dropped %d waiting explanation(s) nobody listens for", n)
            except Exception:
                log.exception("the sweep of unheard jobs failed")

    def _run(self, ticket: Ticket, work) -> Job:
        """``work(cancelled, on_queries)`` under the ticket, stopping when it is abandoned."""
        abandoned = abandoned_check(self.blocks, current_event_id(), listeners=self.listeners,
                                    session=ticket.session,
                                    grace_s=self.s.limits.stream_grace_s)

        def on_queries(n: int) -> None:
            ticket.count(n)

        return self.board.run(ticket, lambda stop: work(stop, on_queries), abandoned)

    # -------------------------------------------------------------------- explain

    def claim_ui(self, audio, model, hf_id, dur, preset_name, request: gr.Request):
        """Before the page's request joins the explanations' line (this event is queued, with
        no limit, so that a refusal reaches the page as a toast): one explanation per
        visitor; shows the place in line (the timer keeps it current) and disables Explain."""
        model_id = (hf_id or "").strip() or model or self.s.default_model
        try:
            self.board.claim(self.visitor(request), str(model_id),
                             _calls(self.s.presets.get(preset_name), self.s),
                             _duration(dur, self.s), session=_session(request),
                             pending=self._pending)
        except Busy as exc:
            log.info("refused an explanation from %s: %s", self.visitor(request), exc)
            raise gr.Error(str(exc), title="One explanation at a time",
                           print_exception=False) from None
        md, timer, _ = self.queue_status(request)
        return md, timer, gr.update(interactive=False)

    def explain_ended(self):
        """The visitor's explanation ended (done, failed or cancelled): Explain works again."""
        return gr.update(interactive=True)

    def claim_api(self, audio, model, labels_view, start, duration, budget, seed, stft,
                  contrast, compare_model, request: gr.Request):
        """The API's validator (before its request joins the queue, one join at a time): one
        explanation per visitor (client address), the line's bound, a comparison counted
        twice; refused at once with a clear line."""
        visitor = self.visitor(request)
        try:
            self.board.claim(visitor, short(model or self.s.default_model, 100),
                             _calls(budget, self.s) * _runs(compare_model),
                             _duration(duration, self.s), session=_session(request),
                             pending=self._pending)
        except Busy as exc:
            log.info("refused an explanation from %s: %s", visitor, exc)
            refused = {self.ui.api_audio: gr.validate(False, str(exc))}
        else:
            refused = {}
        return {**{c: gr.validate(True, "") for c in self.ui.api_inputs}, **refused}

    def queue_status(self, request: gr.Request):
        """The visitor's place in line and wait, or its progress (hidden when idle); Explain
        works again once the visitor has nothing in play."""
        text = self.board.status(self.visitor(request), pending=self._pending)
        return (gr.update(value=text, visible=bool(text)), gr.Timer(active=bool(text)),
                gr.update(interactive=not text))

    def explain_ui(self, audio, model, hf_id, labels_view, t0, dur, preset_name, seed_v, stft_v,
                   foil=None, compare_model=None, request: gr.Request = None,
                   progress=gr.Progress()) -> Iterator[dict]:
        """The page's Explain: yields the picture while the search runs (the responsibility
        figures and the best flip so far, marked provisional, at most every
        :data:`LIVE_EVERY_S`), then the result (the last values, as :func:`render.result_values`
        gives them, with the estimate)."""
        limits = self.s.limits
        live = _Live()
        ticket = None
        try:
            ticket = self._ticket(request, str((hf_id or "").strip() or model),
                                  _calls(self.s.presets.get(preset_name), self.s), dur,
                                  compare_model)

            def work(cancelled, on_queries):
                model_id = resolve_model_id(model, hf_id)
                view = labels_view if labels_view in model_views(model_id) else "all"
                ticket.model_id = model_id
                progress(0.0, desc="loading the model and the excerpt")
                job = run_job(audio, model_id, view, start=t0 or 0.0,
                              duration=dur or limits.default_excerpt_s,
                              budget=self.s.preset_calls(preset_name), seed=seed_v or 0,
                              stft=bool(stft_v), contrast=foil or None,
                              compare_model=resolve_model_id(compare_model)
                              if compare_model else None, limits=limits,
                              progress=lambda fr, msg: progress(*_progress(ticket, msg)),
                              cancelled=cancelled, on_queries=on_queries, partial=live.put)
                return model_id, job

            running = _in_thread(lambda: self._run(ticket, work), live.finish)
            for values in live_values(live, queries=lambda: ticket.queries):
                ticket.shown = True
                yield self.ui.fill(values)
            model_id, job = running.result()
        except Cancelled:
            yield from self._unshow(ticket)
            raise gr.Error("Cancelled: nothing was changed.", title="Cancelled",
                           print_exception=False) from None
        except JobError as exc:
            yield from self._unshow(ticket)
            raise _error(exc, self.visitor(request)) from None
        except gr.Error:
            yield from self._unshow(ticket)
            raise
        except Exception as exc:  # never a traceback in the UI
            log.exception("explain failed")
            yield from self._unshow(ticket)
            raise gr.Error(f"Something went wrong while explaining: {one_line(exc)}",
                           title="Error") from None
        progress(1.0, desc="done")
        values = render.result_values(job)
        try:  # the estimate now knows this model's measured speed
            values["estimate"] = estimate_md(
                model_id, self.s.preset_calls(preset_name), dur, limits, compare_model)
        except Exception:
            pass  # the estimate stays as it was
        yield self.ui.fill(values)

    def _unshow(self, ticket: Ticket | None) -> Iterator[dict]:
        """After a failure: the provisional picture, if one was shown, goes."""
        if ticket is not None and ticket.shown:
            yield self.ui.fill(_unshown_values())

    def explain_api(self, audio, model, labels_view, start, duration, budget, seed, stft,
                    contrast="", compare_model="", request: gr.Request = None,
                    progress=gr.Progress()):
        """Explain an audio clip: returns the explanation JSON (SPEC section 5), its
        files (explanation.json and every WAV) and a zip of all outputs. ``contrast`` names a
        foil ("why this label and not the foil?"); ``compare_model`` explains the same
        excerpt with a second model too (its JSON under the key ``comparison``, its outputs in
        the zip's ``compare/`` folder)."""
        s, limits = self.s, self.s.limits
        try:
            ticket = self._ticket(request, short(model or s.default_model, 100),
                                  _calls(budget, s), duration, compare_model)

            def work(cancelled, on_queries):
                model_id = resolve_model_id(model or s.default_model)
                views = model_views(model_id)
                view = (labels_view or "auto").strip()
                if view == "auto":
                    view = "genres" if "genres" in views else "all"
                ticket.model_id = model_id
                return run_job(audio, model_id, view,
                               start=0.0 if start is None else start,
                               duration=limits.default_excerpt_s if duration is None else duration,
                               budget=s.presets[s.default_preset] if budget is None else budget,
                               seed=0 if seed is None else seed,
                               stft=True if stft is None else bool(stft),
                               contrast=(contrast or "").strip() or None,
                               compare_model=resolve_model_id(compare_model)
                               if (compare_model or "").strip() else None, limits=limits,
                               progress=lambda fr, msg: progress(fr, desc=msg),
                               cancelled=cancelled, on_queries=on_queries)

            job = self._run(ticket, work)
        except Cancelled:
            raise gr.Error("Cancelled", print_exception=False) from None
        except JobError as exc:
            raise _error(exc, self.visitor(request)) from None
        except Exception as exc:
            log.exception("explain (API) failed")
            raise gr.Error(f"Something went wrong while explaining: {one_line(exc)}"
                           ) from None
        files = [str(job.files["explanation"])] + [
            str(job.files[n]) for n in ("original", *PERTURBATION_NAMES) if n in job.files]
        d = job.exp.to_dict()
        if job.compare is not None:
            d["comparison"] = job.compare.exp.to_dict()
        return d, files, str(job.zip_path) if job.zip_path else None

    def cancel_ui(self, request: gr.Request):
        """The Cancel button: the session's explanation stops, waiting or running (its
        provisional picture goes in :meth:`after_cancel`)."""
        session = _session(request)
        ticket = self.board.cancel(None, "cancel button", session=session)
        if ticket is not None:
            gr.Info("Cancelling…")
            self._cancelling[session] = ticket
        return gr.update(value="", visible=False)

    def after_cancel(self, request: gr.Request):
        """After the Cancel button, once the job has stopped: the provisional picture it
        showed, if any, goes (the placeholder comes back). Decided only when the job has
        ended, so that no picture of it can arrive after this and stay."""
        ticket = self._cancelling.pop(_session(request), None)
        if ticket is None:
            return gr.update(), gr.update()
        deadline = time.monotonic() + STOP_WAIT_S
        while not ticket.ended and time.monotonic() < deadline:
            time.sleep(0.05)
        if not ticket.shown:
            return gr.update(), gr.update()
        return gr.update(visible=True), gr.update(visible=False)

    def on_unload(self, request: gr.Request):
        """The page was closed or reloaded (its session ended): its work stops."""
        self.board.cancel(None, "page closed", session=_session(request))
        self._cancelling.pop(_session(request), None)

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
        return self.ui.fill({**render.perturbation_values(job, name),
                             **{render.button(n): gr.update(variant="primary" if n == name
                                                            else "secondary")
                                for n in PERTURBATION_NAMES}})

    def load_example(self, i: int):
        s = self.s
        ex = s.examples[i]
        settings = ex.settings()
        try:
            job = example_job(ex, s.limits)
        except Exception as exc:
            log.exception("example %s failed", ex.stem)
            raise gr.Error(f"This example could not be loaded: {one_line(exc)}") from None
        model = settings.get("model", s.default_model)
        inputs = {"audio_in": str(ex.path), "start": gr.update(value=settings.get("start", 0.0)),
                  "duration": gr.update(value=settings.get("duration",
                                                           s.limits.default_excerpt_s)),
                  "model_dd": model, "hf_box": "",
                  "view": gr.update(choices=model_views(model),
                                    value=settings.get("labels_view", s.default_view)),
                  "preview": gr.update(visible=False)}
        if job is None:
            gr.Info("No precomputed explanation for this clip: press Explain.")
            return self.ui.fill(inputs)
        return self.ui.fill({**inputs, **render.result_values(job)})

    # -------------------------------------------------------------------- model and budget

    def on_model(self, model, hf_id, dur, preset_name, compare=""):
        try:
            model_id = resolve_model_id(model, hf_id)
        except JobError as exc:
            raise _error(exc) from None
        views = model_views(model_id)
        value = "genres" if "genres" in views else views[0]
        return (gr.update(choices=views, value=value), model_md(model_id, value),
                estimate_md(model_id, self.s.presets.get(preset_name, 1000), dur,
                                   self.s.limits, compare),
                gr.update(choices=render.foil_choices(model_id, value), value=""))

    def on_dropdown(self, model, dur, preset_name, compare=""):
        # picking a built-in model clears the Hugging Face field (which would win)
        return (*self.on_model(model, "", dur, preset_name, compare), "")

    def on_view(self, model, hf_id, labels_view, foil):
        try:
            model_id = resolve_model_id(model, hf_id)
        except JobError:
            return "", gr.update()
        choices = render.foil_choices(model_id, labels_view)
        keep = foil if foil in [v for _, v in choices] else ""
        return model_md(model_id, labels_view), gr.update(choices=choices, value=keep)

    def on_estimate(self, model, hf_id, dur, preset_name, compare=""):
        """The estimate for the settings now (this server's recent measured speed)."""
        try:
            model_id = resolve_model_id(model, hf_id)
        except JobError:
            model_id = model
        return estimate_md(model_id, self.s.presets.get(preset_name, 1000), dur,
                                  self.s.limits, compare)

    # -------------------------------------------------------------------- the excerpt

    def _preview_spend(self, request: gr.Request | None):
        """What a preview's decoding costs is charged to the visitor (refused over the
        allowance, before anything is decoded)."""
        from ..audio import AudioError

        visitor = self.visitor(request)

        def spend(msamples: float) -> None:
            wait = self.previews.spend(visitor, msamples)
            if wait is not None:
                per_min = self.s.limits.preview_msamples_per_min
                raise AudioError(f"preview allowance used ({per_min:g} M samples a minute per "
                                 f"visitor): try again in {wait:.0f} s")

        return spend

    def on_upload(self, audio, t0, dur, request: gr.Request = None):
        limits = self.s.limits
        if not audio:
            return gr.update(visible=False, value=None), gr.update(), gr.update()
        try:
            src = read_source(audio, limits, self._preview_spend(request))
        except Exception as exc:  # a toast, and the inputs stay usable
            text = one_line(exc, 200) if str(exc).strip() else "unreadable file"
            log.info("refused a preview from %s: %s", self.visitor(request), text)
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

    def on_excerpt(self, audio, t0, dur, request: gr.Request = None):
        if not audio:
            return gr.update()
        try:
            t0, dur = float(t0), float(dur)
            if not (math.isfinite(t0) and math.isfinite(dur)):
                return gr.update()
            src = read_source(audio, self.s.limits, self._preview_spend(request))
            return gr.update(visible=True, value=preview_png(src, t0, dur, self.s.limits))
        except Exception as exc:  # the preview stays as it was
            log.info("no preview for %s: %s", self.visitor(request), one_line(exc, 200))
            return gr.update()

    def on_clear(self):
        return gr.update(visible=False, value=None)

