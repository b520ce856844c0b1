"""One explanation job: load the excerpt, run the engine, write every output into the job's
folder, draw the perturbation figures and zip it all. Shared by the UI and the API endpoint.

Nothing here knows about Gradio: errors are :class:`JobError` (one line for a person) and
cancellation is a callable that returns True when the job should stop.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .format import one_line, short
from ..models.patches import has_patches
from .limits import Limits
from .listening import outcome
from .speed import SPEED

log = logging.getLogger("freqrex.app")

__all__ = ["JobError", "Cancelled", "Job", "run_job", "prepare_job", "load_model_cached",
           "resolve_model_id", "PERTURBATION_NAMES", "perturbation_info", "load_excerpt",
           "cleanup_jobs", "hf_available", "model_views", "GuardedModel", "small_job",
           "remember", "recall", "job_from_folder", "COMPARE_DIR"]

#: Display names of the perturbations, in the order of the buttons.
PERTURBATION_NAMES: dict[str, str] = {
    "sufficient": "Sufficient",
    "necessary_kept": "Necessary kept",
    "necessary_removed": "Necessary removed",
    "complete": "Complete",
    **{f"flip_{k}": f"Flip-{k}" for k in range(1, 6)},
    "quiet_flip": "Quiet flip",
    "stft_flip": "STFT flip",
}
#: The subfolder of a job that holds the explanation of the model it is compared with.
COMPARE_DIR = "compare"


class JobError(Exception):
    """A problem with the input or the model, in one line meant for a person."""


class Cancelled(Exception):
    """The user pressed Cancel."""


def hf_available() -> bool:
    return importlib.util.find_spec("transformers") is not None


# -------------------------------------------------------------------------------------------
# models


# a Hugging Face repo id: 'name' or 'org/name', letters, digits, '-', '_', '.'
_HF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?")
_MODELS: OrderedDict[tuple[str, str], Any] = OrderedDict()
_MODELS_LOCK = threading.Lock()
_MAX_MODELS = 4


def resolve_model_id(model: str | None, hf_id: str | None = None) -> str:
    """The model id to load: the Hugging Face field wins when filled. Only built-in ids and
    Hugging Face ids are accepted (never local paths or Python factories in a public app)."""
    from .. import models

    hf_id = (hf_id or "").strip()
    if hf_id:
        source = hf_id[3:] if hf_id.startswith("hf:") else hf_id
        if not hf_available():
            raise JobError("Hugging Face models need the optional extra: pip install 'freqrex-app[hf]'")
        if not _HF_ID.fullmatch(source) or ".." in source:
            raise JobError(f"not a Hugging Face model id: {short(repr(hf_id), 60)} "
                           "(expected 'org/name')")
        if Path(source).exists():  # the loader would read it as a folder on this server
            raise JobError(f"not a Hugging Face model id: {short(repr(hf_id), 60)} (this server "
                           "loads model ids from its Hugging Face cache, never its own files)")
        return f"hf:{source}"
    model = (model or "").strip()
    if not model:
        raise JobError("choose a model")
    if model.startswith("hf:"):
        return resolve_model_id(None, model)
    if model not in models.list_models():
        raise JobError(f"unknown model {short(repr(model), 60)}; available: "
                       f"{', '.join(models.list_models())}")
    return model


def model_views(model_id: str) -> list[str]:
    """Labels views of a model (built-in: without loading weights)."""
    from .. import models

    if model_id in models.list_models():
        return list(models.model_info(model_id)["views"])
    return ["all"]


def load_model_cached(model_id: str, labels_view: str):
    """A loaded classifier, kept for the next job (a few at most)."""
    from .. import models

    key = (model_id, labels_view)
    with _MODELS_LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        try:
            model = models.load_model(model_id, labels_view=labels_view)
        except (ValueError, ImportError, OSError) as exc:
            raise JobError(one_line(exc)) from exc
        _MODELS[key] = model
        while len(_MODELS) > _MAX_MODELS:
            _MODELS.popitem(last=False)
        return model


class GuardedModel:
    """A classifier that classifies in pieces small enough that one model call takes about
    ``target_s`` seconds, and asks ``should_stop`` before each piece (raising
    :class:`Cancelled`): abandoned work stops within about that long, whatever batch the engine
    asks for. The engine's own batching, hence its search, is unchanged; the scores are the
    model's. ``on_queries`` is told the running count of waveforms classified."""

    def __init__(self, model, should_stop: Callable[[], bool], *, seconds_per_wave: float | None,
                 target_s: float = 0.5, max_piece: int = 64,
                 on_queries: Callable[[int], None] | None = None):
        self._model = model
        self._should_stop = should_stop
        self._on_queries = on_queries
        self._measured = False  # until a call is timed, pieces are small (a cold model is slow)
        self.target_s = float(target_s)
        # never measured here: one waveform at a time until the first call is timed
        self._per_wave = max(float(seconds_per_wave or self.target_s), 1e-6)
        self.max_piece = int(max_piece)
        self.queries = 0
        self.name, self.sample_rate, self.labels = model.name, model.sample_rate, model.labels
        if has_patches(model):  # the engine's patch cache calls these: guard them too
            self.patch_spans = model.patch_spans
            self.predict_patches = self._predict_patches

    def __getattr__(self, name: str):  # everything else is the model's
        return getattr(self._model, name)

    @property
    def piece(self) -> int:
        """Waveforms per model call now (from the measured time per waveform; at most 4
        before the first call is timed)."""
        most = self.max_piece if self._measured else min(4, self.max_piece)
        return int(max(1, min(most, self.target_s // self._per_wave)))

    def _predict_patches(self, waves, which):
        """The model's ``predict_patches`` in pieces, asking ``should_stop`` before each; the
        waveforms of ``which`` count as classified once their patches are computed."""
        import numpy as np

        which = np.asarray(which)
        if len(which) == 0:
            return self._model.predict_patches(waves, which)
        out, lo, seen = [], 0, set()
        step = max(1, self.piece)  # a patch costs at most a waveform
        while lo < len(which):
            if self._should_stop():
                raise Cancelled()
            part = which[lo:lo + step]
            out.append(np.asarray(self._model.predict_patches(waves, part)))
            self._measured = True  # the model is warm: pieces of the measured size from now
            step = max(1, self.piece)
            lo += len(part)
            fresh = set(part[:, 0].tolist()) - seen
            seen |= fresh
            self.queries += len(fresh)
            if fresh and self._on_queries is not None:
                self._on_queries(self.queries)
        return out[0] if len(out) == 1 else np.concatenate(out, axis=0)

    def predict(self, waves):
        import numpy as np

        waves = np.asarray(waves)
        if len(waves) == 0:
            return self._model.predict(waves)
        out, lo = [], 0
        while lo < len(waves):
            if self._should_stop():
                raise Cancelled()
            piece = waves[lo:lo + self.piece]
            t0 = time.perf_counter()
            out.append(np.asarray(self._model.predict(piece)))
            took = (time.perf_counter() - t0) / len(piece)
            self._per_wave = took if not self._measured else 0.5 * self._per_wave + 0.5 * took
            self._measured = True
            lo += len(piece)
            self.queries += len(piece)
            if self._on_queries is not None:
                self._on_queries(self.queries)
        return out[0] if len(out) == 1 else np.concatenate(out, axis=0)


# -------------------------------------------------------------------------------------------
# job folders


_PARTIAL = ".partial-"  # a job being written; renamed to its final name when complete
_ORPHAN_S = 3600.0  # a partial folder this old was left by a crash


def _partial_job_dir(limits: Limits) -> Path:
    """A fresh folder for a job being written (not yet a job: nobody serves it)."""
    root = limits.cache / "jobs"
    root.mkdir(parents=True, exist_ok=True)
    cleanup_jobs(limits)
    # the name is unguessable (128 random bits): a job's files are served to whoever has it
    path = root / f"{_PARTIAL}{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex}"
    path.mkdir()
    return path


def _publish(job: Job) -> Job:
    """Rename a complete job's partial folder to its final name (atomic on one disk)."""
    final = job.folder.with_name(job.folder.name[len(_PARTIAL):])
    os.replace(job.folder, final)

    def moved(path: Path | None) -> Path | None:
        return None if path is None else final / Path(path).name

    job.files = {k: moved(v) for k, v in job.files.items()}
    job.zip_path = moved(job.zip_path)
    job.folder = final
    if job.compare is not None:
        sub = final / COMPARE_DIR
        job.compare.files = {k: None if v is None else sub / Path(v).name
                             for k, v in job.compare.files.items()}
        job.compare.zip_path = None
        job.compare.folder = sub
    return job


def cleanup_jobs(limits: Limits) -> int:
    """Delete job folders older than the TTL, and the oldest beyond ``max_jobs``; and partial
    folders a crashed process left behind."""
    root = limits.cache / "jobs"
    if not root.is_dir():
        return 0
    now = time.time()
    dirs, doomed = [], []
    for p in root.iterdir():
        if not p.is_dir():
            continue
        if not p.name.startswith(_PARTIAL):
            dirs.append(p)
        elif now - p.stat().st_mtime > _ORPHAN_S:
            doomed.append(p)
    dirs.sort(key=lambda p: p.stat().st_mtime)
    old = [p for p in dirs if now - p.stat().st_mtime > limits.job_ttl_s]
    rest = [p for p in dirs if p not in old]
    doomed += old + rest[: max(0, len(rest) - limits.max_jobs + 1)]
    for p in doomed:
        shutil.rmtree(p, ignore_errors=True)
    return len(doomed)


# -------------------------------------------------------------------------------------------
# the job


@dataclass
class Job:
    """A finished explanation and its files."""

    exp: Any
    folder: Path
    files: dict[str, Path]
    zip_path: Path | None
    notes: dict[str, str] = field(default_factory=dict)
    model_id: str = ""
    wall_seconds: float = 0.0
    precomputed: bool = False
    #: the same excerpt explained by a second model (its folder: ``folder / COMPARE_DIR``)
    compare: "Job | None" = None

    def perturbation_png(self, name: str) -> Path | None:
        p = self.files.get(f"perturbation_{name}")
        return p if p is not None and p.exists() else None

    def all_notes(self) -> dict[str, str]:
        return {**dict(self.exp.notes), **self.notes}


# Finished jobs by folder: a few kept in memory; the session state holds only the folder, and a
# job evicted here is rebuilt from its folder without any model call.
_RECENT: OrderedDict[str, Job] = OrderedDict()
_RECENT_LOCK = threading.Lock()
_MAX_RECENT = 6


def remember(job: Job) -> str:
    """Keep ``job`` for the session; returns the key to store in the session state."""
    key = str(job.folder)
    with _RECENT_LOCK:
        _RECENT[key] = job
        _RECENT.move_to_end(key)
        while len(_RECENT) > _MAX_RECENT:
            _RECENT.popitem(last=False)
    return key


def recall(key: str | None) -> Job | None:
    """The job stored under ``key`` (rebuilt from its folder when needed; None if gone)."""
    if not key:
        return None
    with _RECENT_LOCK:
        if key in _RECENT:
            _RECENT.move_to_end(key)
            return _RECENT[key]
    folder = Path(key)
    if not (folder / "explanation.json").is_file():
        return None
    job = job_from_folder(folder)
    remember(job)
    return job


def job_from_folder(folder: Path) -> Job:
    """A job rebuilt from the files it wrote (the explanation via ``load_explanation``)."""
    from ..engine import load_explanation
    from ..engine.explanation import AUDIO_FILES
    from ..plots.save import FIGURE_FILES

    exp = load_explanation(folder)
    files: dict[str, Path] = {"explanation": folder / "explanation.json",
                              "sets": folder / "sets.npz"}
    files.update({n: folder / f for n, f in AUDIO_FILES.items() if (folder / f).is_file()})
    files.update({f"figure_{n}": folder / f for n, f in FIGURE_FILES.items()
                  if (folder / f).is_file()})
    files.update({p.stem: p for p in folder.glob("perturbation_*.png")})
    files.update({p.stem: p for p in folder.glob("removed_*.wav")})
    for name in ("sufficient_loud", "listening"):
        found = [p for p in folder.glob(f"{name}.*") if p.suffix in (".wav", ".json")]
        if found:
            files[name] = found[0]
    zips = sorted(folder.glob("*.zip"))
    other = folder / COMPARE_DIR
    compare = job_from_folder(other) if (other / "explanation.json").is_file() else None
    return Job(exp=exp, folder=folder, files=files, zip_path=zips[0] if zips else None,
               model_id=exp.model, compare=compare)


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
    folder = _partial_job_dir(limits)
    try:
        compare = None
        if other is not None:
            compare = prepare_job(other, folder / COMPARE_DIR, model_id=compare_model,
                                  cancelled=should_stop, zip_it=False)
        job = prepare_job(exp, folder, model_id=model_id, cancelled=should_stop,
                          compare=compare)
        job.notes.update(notes)
        job = _publish(job)
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


def prepare_job(exp, folder: Path, *, model_id: str = "", stem: str | None = None,
                cancelled: Callable[[], bool] | None = None, compare: "Job | None" = None,
                zip_it: bool = True) -> Job:
    """Write ``exp`` into ``folder`` (JSON, sets, WAVs, figures), the amplified sounds
    (:func:`~freqrex_app.app.listening.write_audible`), draw each perturbation and zip it all,
    with ``compare``'s folder (a subfolder) inside. A rendering that fails is noted; the rest
    is kept. ``cancelled`` is asked between the steps (:class:`Cancelled`; the caller removes
    the folder)."""
    from .. import plots
    from .listening import write_audible

    def check() -> None:
        if cancelled is not None and cancelled():
            raise Cancelled()

    folder = Path(folder)
    notes: dict[str, str] = {}
    check()
    try:
        files = dict(exp.save(folder))
    except Exception as exc:  # keep whatever was written
        log.exception("saving the explanation failed")
        notes["save"] = f"some outputs could not be written: {one_line(exc)}"
        files = {p.stem: p for p in folder.iterdir() if p.is_file()}
    check()
    try:
        files.update(write_audible(exp, folder))
    except Exception as exc:
        log.exception("writing the amplified sounds failed")
        notes["audible"] = f"could not write the amplified sounds: {one_line(exc)}"
    waves = exp.waves()
    for name in PERTURBATION_NAMES:
        if name not in waves:
            continue
        check()
        path = folder / f"perturbation_{name}.png"
        try:
            fig = plots.perturbation(exp, name)
            fig.savefig(path, dpi=100)
            files[f"perturbation_{name}"] = path
        except Exception as exc:
            log.exception("perturbation figure %s failed", name)
            notes[f"figure_perturbation_{name}"] = f"could not draw {path.name}: {one_line(exc)}"
    check()
    stem = stem or _stem(exp)
    zip_path = folder / f"freqrex-{stem}.zip" if zip_it else None
    try:
        if zip_path is not None:
            with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for p in sorted(folder.rglob("*")):
                    if p.is_file() and p.suffix != ".zip":
                        zf.write(p, arcname=f"freqrex-{stem}/{p.relative_to(folder).as_posix()}")
    except Exception as exc:
        log.exception("zip failed")
        notes["zip"] = f"could not write the zip: {one_line(exc)}"
        zip_path = None
    return Job(exp=exp, folder=folder, files=files, zip_path=zip_path, notes=notes,
               model_id=model_id or exp.model, compare=compare)


def _stem(exp) -> str:
    src = Path(exp.audio.source).stem if exp.audio.source else "clip"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in src)[:40] or "clip"
    return f"{safe}-{exp.label}".replace(" ", "-")


# -------------------------------------------------------------------------------------------
# what a perturbation did


def _snr(exp, wave) -> float:
    from ..engine.manipulations import snr_db

    return snr_db(exp.audio.samples, wave)


def perturbation_info(exp, name: str) -> dict[str, Any] | None:
    """Label, confidence, SNR (dB), size and whether the label changed, for one perturbation."""
    labels = exp.labels
    waves = exp.waves()
    if name not in waves:
        return None
    if name == "sufficient":
        s = exp.sufficient
        label, conf, size, unit = labels[s.label], s.confidence, len(s.index), "bins kept"
    elif name == "complete":
        c = exp.complete
        label, conf, size, unit = labels[c.label], c.confidence, len(c.index), "bins kept"
    elif name == "necessary_kept":
        n = exp.necessary
        label, conf, size, unit = labels[n.label_kept], n.confidence_kept, len(n.index), "bins kept"
    elif name == "necessary_removed":
        n = exp.necessary
        label, conf, size, unit = (labels[n.label_removed], n.confidence_removed, len(n.index),
                                   "bins removed")
    elif name.startswith("flip_"):
        k = int(name.split("_")[1])
        f = next(f for f in exp.flips if f.k == k)
        label, conf, size, unit = labels[f.label], f.confidence, len(f.index), "bins removed"
    elif name == "quiet_flip":
        f = exp.quiet_flip
        label, conf, size = labels[f.label], f.confidence, len(f.index)
        unit = f"bins {f.change}"
    else:
        f = exp.stft_flip
        label, conf, size = labels[f.label], f.confidence, len(f.index)
        unit = f"STFT cells {f.change}"
    if size == 1:
        unit = unit.replace("bins", "bin").replace("cells", "cell")
    heard = exp.audibility.get(name)
    changed, outcome_words = outcome(exp, name, label)
    return {"name": name, "title": PERTURBATION_NAMES[name], "label": label,
            "confidence": float(conf), "snr_db": _snr(exp, waves[name]), "size": int(size),
            "unit": unit, "changed": changed, "outcome": outcome_words,
            "mos": heard and heard.mos, "zimtohrli": heard and heard.zimtohrli}
