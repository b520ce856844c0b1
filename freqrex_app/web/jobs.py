"""One explanation job: load the excerpt, run the engine (one model, or two to compare),
write every output into the job's folder and publish it. Shared by the UI and the API endpoint.

Nothing here knows about Gradio: errors are :class:`JobError` (one line for a person) and
cancellation is a callable that returns True when the job should stop.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

from .errors import Cancelled, JobError
from .format import one_line, short
from .guarded import GuardedModel
from .limits import Limits
from .model_cache import load_model_cached, model_views
from .outputs import COMPARE_DIR, Job, prepare_job
from .speed import SPEED
from .store import partial_job_dir, publish

__all__ = ["run_job", "small_job", "load_excerpt"]


def load_excerpt(path: str | None, sample_rate: int, start: float, duration: float,
                 limits: Limits):
    """The excerpt as the model hears it, within the playground's limits."""
    from ..audio import AudioError, load_audio

    if not path:
        raise JobError("no audio: upload a file (WAV, FLAC, OGG or MP3) or record one first")
    p = Path(path)
    if not p.exists():
        raise JobError("the uploaded file is gone from the server; upload it again")
    if p.stat().st_size == 0:
        raise JobError("the uploaded file is empty (0 bytes)")
    if p.stat().st_size > limits.max_upload_mb * 1024 * 1024:
        raise JobError(f"the file is larger than the {limits.max_upload_mb:g} MB limit")
    try:
        duration = float(duration)
        start = float(start)
    except (TypeError, ValueError):
        raise JobError("start and duration must be numbers of seconds") from None
    if duration > limits.max_excerpt_s + 1e-6:
        raise JobError(f"the excerpt is {duration:g} s long; this server explains at most "
                       f"{limits.max_excerpt_s:g} s at a time")
    try:
        return load_audio(p, sample_rate=sample_rate, start=start, duration=duration,
                          max_file_seconds=limits.max_source_s,
                          max_excerpt_seconds=limits.max_excerpt_s)
    except AudioError as exc:
        raise JobError(one_line(exc)) from exc


def run_job(audio_path: str | None, model_id: str, labels_view: str, *, start: float = 0.0,
            duration: float = 10.0, budget: int = 1000, seed: int = 0, stft: bool = True,
            contrast: str | None = None, compare_model: str | None = None,
            limits: Limits, progress: Callable[[float, str], None] | None = None,
            cancelled: Callable[[], bool] | None = None,
            on_queries: Callable[[int], None] | None = None,
            partial: Callable[[Any], None] | None = None) -> Job:
    """Explain an excerpt and write every output (see :func:`prepare_job`).

    ``contrast`` names a foil ("why this label and not the foil?"). ``compare_model`` explains
    the same excerpt with a second model, with the same budget and seed (and the foil, when
    that model has it); its outputs go to the job's ``compare/`` folder and into the zip.

    ``cancelled`` is asked before every model call (each about half a second, see
    :class:`GuardedModel`) and between the files; when it says True the job raises
    :class:`Cancelled` and leaves nothing on disk. A job's folder appears only complete.

    ``partial(explanation so far)`` sees the first model's explanation as it goes (the
    engine's ``partial``, see :func:`~freqrex_app.engine.explain`); it writes nothing here."""
    t0 = time.perf_counter()
    should_stop = cancelled or (lambda: False)
    try:
        budget = int(budget)
        seed = int(seed)
    except (TypeError, ValueError, OverflowError):
        raise JobError("budget and seed must be whole numbers") from None
    if not 0 <= seed < 2**63:
        raise JobError(f"the seed must be a whole number from 0 to {2**63 - 1}, got "
                       f"{short(seed, 24)}")
    if budget < 50:
        raise JobError(f"a budget of {short(budget, 24)} model calls is too small (at least 50)")
    if budget > limits.max_budget:
        raise JobError(f"a budget of {short(f'{budget:,}', 24)} model calls is above this "
                       f"server's limit of {limits.max_budget:,}")
    views = model_views(model_id)
    if labels_view not in views:
        raise JobError(f"model {model_id} has no labels view {short(repr(labels_view), 40)}; "
                       f"choose one of: {', '.join(views)}")
    contrast = (contrast or "").strip() or None
    compare_model = (compare_model or "").strip() or None
    if compare_model == model_id:
        compare_model = None
    n_runs = 2 if compare_model else 1
    if budget * n_runs > limits.max_budget:  # a comparison spends the budget twice
        raise JobError(f"with a second model to compare, the job spends {budget:,} model calls "
                       f"twice ({budget * n_runs:,}), above this server's limit of "
                       f"{limits.max_budget:,}: choose a budget of at most "
                       f"{limits.max_budget // n_runs:,}")
    done = [0]

    def on_progress(fraction: float, message: str) -> None:
        if should_stop():
            raise Cancelled()
        if progress is not None:
            prefix = f"{'first' if done[0] == 0 else 'second'} model: " if n_runs == 2 else ""
            progress(0.9 * (done[0] + fraction) / n_runs, prefix + message)

    def queries(base: int):
        return None if on_queries is None else (lambda n: on_queries(base + n))

    exp, seconds = _explain(audio_path, model_id, labels_view, start, duration, budget, seed,
                            stft, contrast, limits, should_stop, on_progress, queries(0),
                            partial)
    other, notes = None, {}
    if compare_model:
        done[0] = 1
        other_views = model_views(compare_model)
        view = labels_view if labels_view in other_views else (
            "genres" if "genres" in other_views else other_views[0])
        other_model = load_model_cached(compare_model, view)
        foil = contrast if contrast in other_model.labels else None
        if contrast and foil is None:
            notes["compare_contrast"] = (f"{compare_model} has no label {contrast!r}: it is "
                                         "explained without a foil")
        try:
            other, _ = _explain(audio_path, compare_model, view, start, duration, budget, seed,
                                stft, foil, limits, should_stop, on_progress,
                                queries(exp.queries))
        except JobError as exc:
            if "already hears" not in str(exc):
                raise
            notes["compare_contrast"] = f"{compare_model}: {exc}; explained without a foil"
            other, _ = _explain(audio_path, compare_model, view, start, duration, budget, seed,
                                stft, None, limits, should_stop, on_progress,
                                queries(exp.queries))
    t_tail = time.perf_counter()
    if progress is not None:
        progress(0.92, "drawing the figures and writing the sounds")
    folder = partial_job_dir(limits)
    try:
        compare = None
        if other is not None:
            compare = prepare_job(other, folder / COMPARE_DIR, model_id=compare_model,
                                  cancelled=should_stop, zip_it=False)
        job = prepare_job(exp, folder, model_id=model_id, cancelled=should_stop,
                          compare=compare)
        job.notes.update(notes)
        job = publish(job)
    except BaseException:  # cancelled, or the disk failed: nothing half-written stays
        shutil.rmtree(folder, ignore_errors=True)
        raise
    job.wall_seconds = time.perf_counter() - t0
    for e, mid in ((exp, model_id), (other, compare_model)):
        if e is not None:
            SPEED.record_run(mid, e.audio.duration, queries=e.queries, budget=budget,
                             predict_seconds=e.predict_seconds, seconds=e.seconds)
    SPEED.record_tail(exp.audio.duration, time.perf_counter() - t_tail)
    return job


def small_job(model, model_id: str, duration: float, limits: Limits, budget: int = 50) -> None:
    """A small real job on noise (``budget`` model calls, every output written to a temporary
    folder and deleted): measures this server's engine and files for the estimates."""
    import tempfile

    import numpy as np

    from ..audio import Audio
    from ..engine import explain

    rng = np.random.default_rng(0)
    sr = int(model.sample_rate)
    audio = Audio(samples=(0.1 * rng.standard_normal(int(duration * sr))).astype(np.float32),
                  sample_rate=sr)
    exp = explain(audio, model, budget=budget, seed=0, stft=True)
    SPEED.record_run(model_id, exp.audio.duration, queries=exp.queries, budget=None,
                     predict_seconds=exp.predict_seconds, seconds=exp.seconds)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=limits.cache) as tmp:
        prepare_job(exp, Path(tmp), model_id=model_id)
    SPEED.record_tail(exp.audio.duration, time.perf_counter() - t0)


def _explain(audio_path, model_id, labels_view, start, duration, budget, seed, stft, contrast,
             limits, should_stop, on_progress, on_queries, partial=None):
    """One explanation of the excerpt by one model (and the seconds it took)."""
    from ..engine import explain
    from ..engine.oracle import ModelError

    t0 = time.perf_counter()
    model = load_model_cached(model_id, labels_view)
    if contrast is not None and contrast not in model.labels:
        raise JobError(f"{short(repr(contrast), 60)} is not a label of {model_id} in the "
                       f"{labels_view} view; "
                       "choose a foil from its labels")
    audio = load_excerpt(audio_path, model.sample_rate, start, duration, limits)
    guarded = GuardedModel(model, should_stop, on_queries=on_queries,
                           seconds_per_wave=SPEED.seconds_per_wave(model_id, audio.duration))
    if should_stop():
        raise Cancelled()
    try:
        exp = explain(audio, guarded, budget=budget, seed=seed, stft=bool(stft),
                      contrast=contrast, progress=on_progress, partial=partial)
    except ModelError as exc:
        raise JobError(f"the model failed: {one_line(exc)}") from exc
    except ValueError as exc:
        raise JobError(one_line(exc)) from exc
    return exp, time.perf_counter() - t0
