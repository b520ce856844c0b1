"""The Gradio app: the layout wired to the callbacks, the ``explain`` API endpoint, the queue
and the launch options of the playground."""
from __future__ import annotations

import threading
from functools import partial
from typing import Any

import gradio as gr

from .callbacks import Callbacks
from .examples import ASSETS, warm_examples
from .gradio_queue import EXPLAIN, admit_joins
from .guard import Gate, Listeners
from .jobs import small_job
from .layout import CSS, THEME, Layout
from .limits import Limits, get_limits
from .logs import setup_log
from .model_cache import load_model_cached, model_views
from .settings import AppSettings
from .speed import calibrate as _calibrate

__all__ = ["build_app", "launch", "launch_options"]


def time_models(model_ids: list[str], limits: Limits,
                stop: threading.Event | None = None) -> threading.Thread:
    """In the background: time a model call of each model, and one small job of the first,
    so that the first estimate comes from this server (:func:`speed.calibrate`)."""
    def load(model_id: str):
        views = model_views(model_id)
        return load_model_cached(model_id, "genres" if "genres" in views else views[0])

    def job(model, model_id: str) -> None:
        small_job(model, model_id, limits.default_excerpt_s, limits)

    thread = threading.Thread(
        target=lambda: _calibrate(model_ids, load, limits.default_excerpt_s, stop=stop, job=job),
        name="freqrex-time-models", daemon=True)
    thread.start()
    return thread


def build_app(limits: Limits | None = None, *, warm: bool = True,
              calibrate: bool | list[str] | None = None) -> gr.Blocks:
    """The FreqReX Gradio app (queue and limits set; launch it with :func:`launch`).

    ``warm`` rebuilds the examples in the background; ``calibrate`` (default: ``warm``) times
    the models in the background for the first estimates: True for every model of the page
    (the default first), or a list of model ids."""
    limits = limits or get_limits()
    limits.cache.mkdir(parents=True, exist_ok=True)
    settings = AppSettings.from_limits(limits)
    warm_stop = threading.Event()
    calibrate = warm if calibrate is None else calibrate
    if calibrate is True:
        calibrate = [settings.default_model] + [m for m in settings.model_ids
                                                if m != settings.default_model
                                                and not m.startswith("hf:")]
    timing = time_models(list(calibrate), limits, warm_stop) if calibrate else None
    warm_thread = warm_examples(limits, warm_stop) if warm else None
    cb = Callbacks(settings, Listeners())
    private = dict(api_visibility="private")

    # uploads and results older than 30 min are deleted every 10 min (with the per-visitor
    # upload allowance, this bounds what one visitor keeps on disk)
    with gr.Blocks(title="FreqReX · causal explanations of audio classifiers",
                   delete_cache=(600, 1800), analytics_enabled=False) as demo:
        ui = Layout(settings)
        results = ui.result_outputs

        # one explanation per visitor: claimed (or refused with a toast) before it queues;
        # the button is disabled while the visitor's job waits or runs
        status = [ui.queue_md, ui.queue_timer, ui.explain_btn]
        claim = ui.explain_btn.click(
            cb.claim_ui, [ui.audio_in, ui.model_dd, ui.hf_box, ui.duration, ui.preset],
            status, concurrency_limit=None, **private, show_progress="hidden")
        explain_evt = claim.success(
            cb.explain_ui, ui.explain_inputs, [*results, ui.estimate], **private,
            concurrency_id=EXPLAIN, concurrency_limit=limits.concurrency,
            show_progress="full", show_progress_on=[ui.placeholder, ui.spectro_plot])
        explain_evt.then(cb.explain_ended, None, ui.explain_btn, queue=False, **private,
                         show_progress="hidden")
        ui.queue_timer.tick(cb.queue_status, None, status, queue=False, **private,
                            show_progress="hidden")
        ui.cancel_btn.click(cb.cancel_ui, None, ui.queue_md, cancels=[explain_evt],
                            queue=False, **private).then(
            cb.after_cancel, None, [ui.placeholder, ui.results], queue=False, **private).then(
            cb.explain_ended, None, ui.explain_btn, queue=False, **private,
            show_progress="hidden")
        demo.unload(cb.on_unload)  # the page closed or reloaded: its work stops
        for name in ui.pert_names:
            ui.pert_btns[name].click(partial(cb.show_perturbation, name), [ui.job_state],
                                     ui.perturbation_outputs, **private, concurrency_limit=8,
                                     show_progress="minimal")
        ui.model_dd.input(cb.on_dropdown, [ui.model_dd, ui.duration, ui.preset, ui.compare_dd],
                          [ui.view, ui.model_md, ui.estimate, ui.foil, ui.hf_box], **private)
        ui.hf_box.submit(cb.on_model, [ui.model_dd, ui.hf_box, ui.duration, ui.preset,
                                       ui.compare_dd],
                         [ui.view, ui.model_md, ui.estimate, ui.foil], **private)
        ui.view.change(cb.on_view, [ui.model_dd, ui.hf_box, ui.view, ui.foil],
                       [ui.model_md, ui.foil], **private)
        estimate_in = [ui.model_dd, ui.hf_box, ui.duration, ui.preset, ui.compare_dd]
        for comp in (ui.preset, ui.duration, ui.compare_dd):
            comp.change(cb.on_estimate, estimate_in, [ui.estimate], **private,
                        show_progress="hidden")
        # the estimate from this server's speed now (the start-up timing may have ended)
        demo.load(cb.on_estimate, estimate_in, [ui.estimate], **private, show_progress="hidden")
        for evt in (ui.audio_in.upload, ui.audio_in.stop_recording):
            evt(cb.on_upload, [ui.audio_in, ui.start, ui.duration],
                [ui.preview, ui.start, ui.duration], **private, concurrency_limit=4,
                show_progress="hidden")
        ui.audio_in.clear(cb.on_clear, None, [ui.preview], **private)
        for comp in (ui.start, ui.duration):
            comp.release(cb.on_excerpt, [ui.audio_in, ui.start, ui.duration], [ui.preview],
                         **private, concurrency_limit=4, show_progress="hidden")
        for i, btn in enumerate(getattr(ui, "ex_btns", [])):
            btn.click(partial(cb.load_example, i), None,
                      [ui.audio_in, ui.start, ui.duration, ui.model_dd, ui.hf_box, ui.view,
                       ui.preview, *results], **private, concurrency_limit=4,
                      # the progress where the picture comes, never over the headline
                      show_progress_on=[ui.placeholder, ui.spectro_plot])

        # the public API: one named endpoint, sharing the page's line (the board)
        api_btn = gr.Button(visible=False)
        api_btn.click(cb.explain_api, ui.api_inputs, ui.api_outputs, api_name="explain",
                      validator=cb.claim_api, concurrency_id=EXPLAIN,
                      concurrency_limit=limits.concurrency, show_progress="hidden")

    demo.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    cb.attach(demo, ui)
    demo.freqrex_board = cb.board  # the record of every job (tests, benchmarks)
    demo.freqrex_limits = limits  # for launch()
    demo.freqrex_listeners = cb.listeners  # who listens for which result (the gate counts)
    demo.freqrex_start = partial(_on_start, demo, cb)  # the gate calls it on the first request
    demo.freqrex_warm = (warm_thread, warm_stop)  # see testing.shutdown
    demo.freqrex_timing = timing  # the start-up timing of the models (None: none)
    return demo


def _on_start(demo, cb: Callbacks, loop) -> None:
    """On the server's loop, at its first request: joins admitted one at a time and fairly,
    and the sweep of explanations nobody listens for."""
    limits = demo.freqrex_limits
    admit_joins(demo, limits.trusted_proxies, limits.events_per_visitor)
    demo.freqrex_sweep = loop.create_task(cb.sweep())


def launch_options(limits: Limits | None = None, host: str | None = None,
                   port: int | None = None, *, demo: gr.Blocks | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: limits, theme, CSS, allowed paths, and the
    gate in front of every route (:class:`~freqrex_app.web.guard.Gate`, given the ``demo``
    that :func:`build_app` made); the app's log goes to stderr (:func:`~.logs.setup_log`).

    The app decides whose ``X-Forwarded-For`` to believe (``FREQREX_TRUSTED_PROXIES``), so
    uvicorn is told to believe none (``FORWARDED_ALLOW_IPS``, which by default trusts any
    loopback client to name itself)."""
    import os

    from starlette.middleware import Middleware

    limits = limits or (demo.freqrex_limits if demo is not None else get_limits())
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    setup_log()
    opts: dict[str, Any] = dict(max_file_size=limits.max_file_size, theme=THEME, css=CSS,
                                allowed_paths=[str(ASSETS), str(limits.cache)],
                                footer_links=["api"], show_error=True,
                                enable_monitoring=False)  # no /monitoring dashboard or summary
    if demo is not None:
        opts["app_kwargs"] = {"middleware": [Middleware(
            Gate, limits=limits, listeners=demo.freqrex_listeners,
            on_start=demo.freqrex_start)]}
    if host is not None:
        opts["server_name"] = host
    if port is not None:
        opts["server_port"] = int(port)
    return opts


def launch(host: str = "127.0.0.1", port: int = 7860, **kwargs: Any):
    """Build and serve the app (blocking), as ``freqrex app`` does."""
    demo = build_app()
    return demo.launch(**{**launch_options(demo.freqrex_limits, host, port, demo=demo),
                          **kwargs})
