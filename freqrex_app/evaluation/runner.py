"""Jobs of the evaluation: one clip x one model, resumable, in a process pool or on Ray.

Layout of the output folder::

    OUT/runs/<model>/<clip>/explanation.json ...   the engine's outputs (SPEC section 5)
    OUT/runs/<model>/<clip>/baseline_<method>_<k>.wav   the baselines' removals (float32 WAV)
    OUT/runs/<model>/<clip>/whitebox_*.wav         the white-box reference's flips
    OUT/runs/<model>/<clip>/baselines.json         every baseline and the white-box reference
    OUT/runs/<model>/<clip>/row.json               the per-clip row; its presence = done

A job whose ``row.json`` exists with the same settings is skipped on a rerun; one with other
settings (budget, duration, engine options...) is recomputed. A job that fails writes an
``error.json`` (not a row) and is retried on the next run.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field, asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["Settings", "Job", "make_jobs", "run_job", "run_jobs", "load_rows", "clip_id"]

KS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Settings:
    """Everything that determines a row (compared on resume)."""

    labels_view: str | None = None
    budget: int | None = 300
    duration: float = 30.0
    start: float = 0.0
    seed: int = 0
    stft: bool = True
    draws: int = 1
    bands: int = 64
    save_audio: bool = True
    whitebox: bool = True  # the white-box reference (torch models only; see whitebox.py)
    engine: dict = field(default_factory=dict)  # EngineConfig overrides (fill, min_width, ...)

    def key(self) -> dict:
        d = asdict(self)
        d.pop("save_audio")
        return d


@dataclass(frozen=True)
class Job:
    clip: str
    model: str
    settings: Settings
    out: str

    @property
    def folder(self) -> Path:
        return Path(self.out) / "runs" / _safe(self.model) / clip_id(self.clip)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"


def clip_id(path: str) -> str:
    return _safe(Path(path).stem)


def make_jobs(clips: Iterable[str], models: Iterable[str], settings: Settings, out: str) -> list[Job]:
    """Clip-major order within each model, so partial runs cover whole models first."""
    clips = list(clips)
    ids = [clip_id(c) for c in clips]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"clips with the same name: {', '.join(sorted(dup))}")
    return [Job(str(c), m, settings, str(out)) for m in models for c in clips]


def is_done(job: Job) -> bool:
    row = job.folder / "row.json"
    if not row.exists():
        return False
    try:
        return json.loads(row.read_text()).get("settings") == _jsonable(job.settings.key())
    except (OSError, ValueError):
        return False


def _jsonable(d: Any) -> Any:
    return json.loads(json.dumps(d, default=str))


# -- one job -----------------------------------------------------------------------------------
_MODELS: dict[tuple, Any] = {}


def _model(model_id: str, labels_view: str | None):
    key = (model_id, labels_view)
    if key not in _MODELS:
        from ..models import resolve_model
        _MODELS[key] = resolve_model(model_id, labels_view)
    return _MODELS[key]


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def run_job(job: Job, progress: Callable[[float, str], None] | None = None) -> dict:
    """Explain ``job.clip`` with ``job.model``, run the baselines, write the folder; the row."""
    from ..audio.io import load_audio, write_wav
    from ..engine import explain
    from ..engine.oracle import Oracle
    from ..engine.spaces import FrequencySpace, StftSpace
    from .baselines import run_baselines
    from .whitebox import run_whitebox

    s = job.settings
    folder = job.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error.json").unlink(missing_ok=True)
    model = _model(job.model, s.labels_view)
    audio = load_audio(job.clip, sample_rate=model.sample_rate, start=s.start, duration=s.duration)
    exp = explain(audio, model, budget=s.budget, seed=s.seed, stft=s.stft, progress=progress,
                  **s.engine)
    fill = float(s.engine.get("fill", 0.0))
    space = FrequencySpace(audio.samples, model.sample_rate, fill)
    oracle = Oracle(model, None, int(s.engine.get("batch_size", 32)))
    stft_space = (StftSpace(audio.samples, model.sample_rate, exp.config["n_fft"],
                            exp.config["hop"], fill) if s.stft and exp.stft is not None else None)
    base = run_baselines(space, oracle, exp.label_index, exp.confidence, ks=KS, seed=s.seed,
                         draws=s.draws, bands=s.bands, stft_space=stft_space)
    wb = (run_whitebox(model, space, stft_space, exp.label_index,
                       oracle=Oracle(model, None, int(s.engine.get("batch_size", 32))))
          if s.whitebox else "not run (--no-whitebox)")
    exp.save(folder, figures=False) if s.save_audio else None
    if not s.save_audio:
        (folder / "explanation.json").write_text(exp.to_json())
    if s.save_audio:
        for f in base.flips:
            suffix = f"_d{f.draw}" if f.draw else ""
            write_wav(folder / f"baseline_{f.method}_{f.k}{suffix}.wav", f.wave, model.sample_rate)
        if base.quietest_stft is not None:
            write_wav(folder / "baseline_quietest_stft.wav", base.quietest_stft.wave,
                      model.sample_rate)
        if not isinstance(wb, str):
            for stem, f in _whitebox_waves(wb).items():
                write_wav(folder / f"{stem}.wav", f.wave, model.sample_rate)
    row = make_row(job, exp, base, model, wb)
    (folder / "baselines.json").write_text(json.dumps(_baselines_doc(exp, base, wb), indent=1,
                                                      allow_nan=False))
    (folder / "row.json").write_text(json.dumps(row, indent=1, allow_nan=False))
    return row


def _whitebox_waves(wb) -> dict:
    """WAV stem -> white-box flip, for every white-box flip and saliency removal."""
    out = {f"baseline_saliency_{f.n}": f for f in wb.saliency}
    out.update({f"whitebox_flip_{f.n}": f for f in wb.flips})
    if wb.quiet is not None:
        out["whitebox_quiet"] = wb.quiet
    if wb.stft is not None:
        out["whitebox_stft"] = wb.stft
    return out


def _whitebox_doc(exp, wb) -> dict:
    if isinstance(wb, str):
        return {"skipped": wb}
    hz = exp.sample_rate / exp.n_samples

    def one(f, stem):
        if f is None:
            return None
        d = {"method": f.method, "n": f.n, "gain": f.gain, "label": exp.labels[f.label],
             "confidence": float(f.confidence), "flipped": bool(f.flipped),
             "snr_db": _num(f.snr_db), "audio": f"{stem}.wav"}
        if f.domain == "freq" and f.n <= 100:
            d["bins"] = [int(b) for b in f.index]
            d["hz"] = [float(b * hz) for b in f.index]
        return d

    return {"quiet": one(wb.quiet, "whitebox_quiet"), "stft": one(wb.stft, "whitebox_stft"),
            "flips": [one(f, f"whitebox_flip_{f.n}") for f in wb.flips],
            "saliency": [one(f, f"baseline_saliency_{f.n}") for f in wb.saliency],
            "queries": wb.queries, "gradients": wb.gradients, "seconds": wb.seconds,
            "notes": wb.notes,
            "trace": [{**t, "snr_db": _num(t["snr_db"])} for t in wb.trace]}


def _baselines_doc(exp, base, wb) -> dict:
    hz = exp.sample_rate / exp.n_samples
    gate = base.quietest_stft
    return {
        "whitebox": _whitebox_doc(exp, wb),
        "quietest_stft": None if gate is None else {
            "n_cells": int(gate.index.shape[0]), "label": exp.labels[gate.label],
            "confidence": float(gate.confidence), "flipped": bool(gate.flipped),
            "snr_db": _num(gate.snr_db), "audio": "baseline_quietest_stft.wav"},
        "occlusion_band": list(base.occlusion_band),
        "occlusion_band_hz": [base.occlusion_band[0] * hz, base.occlusion_band[1] * hz],
        "occlusion_band_flipped": base.occlusion_band_flipped,
        "occlusion_drops": [float(d) for d in base.occlusion_drops],
        "queries": base.queries, "occlusion_queries": base.occlusion_queries,
        "seconds": base.seconds,
        "flips": [{"method": f.method, "k": f.k, "draw": f.draw, "bins": [int(b) for b in f.bins],
                   "hz": [float(b * hz) for b in f.bins], "label": exp.labels[f.label],
                   "confidence": float(f.confidence), "flipped": bool(f.flipped),
                   "snr_db": _num(f.snr_db),
                   "audio": f"baseline_{f.method}_{f.k}{f'_d{f.draw}' if f.draw else ''}.wav"}
                  for f in base.flips],
    }


def _flip_cols(row: dict, name: str, flip, computed: bool, size: str) -> None:
    """``<name>_flip``, ``_snr``, ``_<size>``, ``_gain`` of one least-audible flip (None when
    not computed; not flipped when computed and not found)."""
    found = flip is not None and bool(flip.flipped)
    row[f"{name}_flip"] = found if computed else None
    row[f"{name}_snr"] = _num(flip.snr_db) if found else None
    n = getattr(flip, "k", None)
    row[f"{name}_{size}"] = (int(n) if n is not None else int(flip.n)) if found else None
    row[f"{name}_gain"] = float(getattr(flip, "gain", 0.0)) if found else None


_MISSING = object()


def make_row(job: Job, exp, base, model, wb=None) -> dict:
    """The flat per-clip row (CSV columns; the JSON keeps the same keys)."""
    gate = base.quietest_stft
    d = exp.to_dict()
    scores = np.asarray(exp.scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    row: dict[str, Any] = {
        "clip": clip_id(job.clip), "file": Path(job.clip).name, "model": job.model,
        "labels_view": d["labels_view"], "duration": d["duration"], "n_samples": d["n_samples"],
        "n_bins": d["n_bins"], "label": d["label"], "confidence": float(exp.confidence),
        "runner_up": exp.labels[int(order[1])] if len(order) > 1 else None,
        "margin": float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else None,
        "budget": d["budget"], "queries": d["queries"], "seconds": d["seconds"],
        "budget_exhausted": d["budget_exhausted"],
        "baseline_queries": base.queries, "occlusion_queries": base.occlusion_queries,
        "baseline_seconds": base.seconds,
    }
    flips = {f["k"]: f for f in d["flips"]}
    for k in KS:
        f = flips.get(k)
        row[f"freqrex_flip_{k}"] = None if f is None else bool(f["flipped"])
        row[f"freqrex_label_{k}"] = None if f is None else f["label"]
        row[f"freqrex_snr_{k}"] = None if f is None else f["snr_db"]
    for method in ("random", "loudest", "occlusion"):
        for k in KS:
            fs = [f for f in base.flips if f.method == method and f.k == k]
            row[f"{method}_flip_{k}"] = float(np.mean([f.flipped for f in fs])) if method == "random" \
                and len(fs) > 1 else bool(fs[0].flipped)
            row[f"{method}_snr_{k}"] = _num(np.mean([f.snr_db for f in fs]))
    hz = exp.sample_rate / exp.n_samples
    row["occlusion_band_hz_lo"] = base.occlusion_band[0] * hz
    row["occlusion_band_hz_hi"] = base.occlusion_band[1] * hz
    row["occlusion_band_flipped"] = base.occlusion_band_flipped
    done = wb is not None and not isinstance(wb, str)
    for k in KS:
        for name, flips in (("saliency", wb.saliency if done else []),
                            ("whitebox", wb.flips if done else [])):
            f = next((f for f in flips if f.n == k), None)
            row[f"{name}_flip_{k}"] = None if f is None else bool(f.flipped)
            row[f"{name}_snr_{k}"] = None if f is None else _num(f.snr_db)
    _flip_cols(row, "whitebox_quiet", wb.quiet if done else None, done, "bins")
    _flip_cols(row, "whitebox_stft", wb.stft if done else None, done and job.settings.stft, "cells")
    row["whitebox_queries"] = wb.queries if done else None
    row["whitebox_seconds"] = wb.seconds if done else None
    # the engine's least audible flips (an engine without quiet_flip: not computed)
    quiet = getattr(exp, "quiet_flip", _MISSING)
    _flip_cols(row, "quiet", None if quiet is _MISSING else quiet, quiet is not _MISSING, "bins")
    _flip_cols(row, "stft", exp.stft_flip, bool(job.settings.stft), "cells")
    row["quietest_stft_flip"] = bool(gate is not None and gate.flipped) if job.settings.stft else None
    row["quietest_stft_cells"] = int(gate.index.shape[0]) if gate is not None else None
    row["quietest_stft_snr"] = _num(gate.snr_db) if gate is not None else None
    for key, name in (("sufficient", "S"), ("necessary", "SN"), ("complete", "complete")):
        s = d[key]
        row[f"{name}_found"] = s is not None
        row[f"{name}_bins"] = s["n_bins"] if s else None
        row[f"{name}_fraction"] = s["fraction"] if s else None
        row[f"{name}_energy"] = s["energy_fraction"] if s else None
    notes = dict(d["notes"])
    if isinstance(wb, str):
        notes["whitebox"] = wb
    elif done:
        notes.update({f"whitebox {k}": v for k, v in wb.notes.items()})
    row["notes"] = "; ".join(f"{k}: {v}" for k, v in notes.items())
    row["settings"] = _jsonable(job.settings.key())
    return row


# -- many jobs ---------------------------------------------------------------------------------
def _worker_init(threads: int) -> None:
    try:
        import torch
        torch.set_num_threads(max(1, threads))
    except Exception:  # pragma: no cover
        pass


def _pool_job(job: Job) -> dict:
    if is_done(job):  # another process sharing this folder finished it meanwhile
        return json.loads((job.folder / "row.json").read_text())
    try:
        return run_job(job)
    except Exception as exc:
        return _failed(job, exc)


def _failed(job: Job, exc: BaseException) -> dict:
    err = {"clip": clip_id(job.clip), "model": job.model, "error": f"{type(exc).__name__}: {exc}",
           "traceback": traceback.format_exc()}
    try:
        job.folder.mkdir(parents=True, exist_ok=True)
        (job.folder / "error.json").write_text(json.dumps(err, indent=1))
    except OSError:
        pass
    return err


def run_jobs(jobs: list[Job], workers: int = 1, ray_address: str | None = None,
             on_done: Callable[[dict, bool], None] | None = None,
             on_progress: Callable[[float, str], None] | None = None) -> list[dict]:
    """Run the jobs not done yet; ``on_done(row_or_error, skipped)`` after each.

    ``workers == 1`` runs here (with fine-grained ``on_progress``); more use a local process
    pool (spawn); ``ray_address`` sends each job to a Ray cluster ("local" starts one here).
    """
    results: list[dict] = []
    todo = []
    for job in jobs:
        if is_done(job):
            row = json.loads((job.folder / "row.json").read_text())
            results.append(row)
            if on_done:
                on_done(row, True)
        else:
            todo.append(job)
    if not todo:
        return results
    if ray_address:
        results += _run_ray(todo, ray_address, on_done)
    elif workers <= 1:
        for job in todo:
            if is_done(job):  # another process sharing this folder finished it meanwhile
                row = json.loads((job.folder / "row.json").read_text())
                results.append(row)
                if on_done:
                    on_done(row, True)
                continue
            try:
                row = run_job(job, on_progress)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                row = _failed(job, exc)
            results.append(row)
            if on_done:
                on_done(row, False)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp
        threads = max(1, (os.cpu_count() or 1) // workers)
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                    initializer=_worker_init, initargs=(threads,)) as pool:
            futures = {pool.submit(_pool_job, job): job for job in todo}
            for fut in cf.as_completed(futures):
                try:
                    row = fut.result()
                except Exception as exc:  # a worker died
                    row = _failed(futures[fut], exc)
                results.append(row)
                if on_done:
                    on_done(row, False)
    return results


# -- Ray ---------------------------------------------------------------------------------------
def _ray_task(job_doc: dict, clip_bytes: bytes) -> tuple[dict, bytes]:
    """Runs on a Ray worker: the clip travels as bytes, the output folder comes back zipped."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / job_doc["clip_name"]
        clip.write_bytes(clip_bytes)
        settings = Settings(**job_doc["settings"])
        job = Job(str(clip), job_doc["model"], settings, str(Path(tmp) / "out"))
        try:
            row = run_job(job)
        except Exception as exc:
            row = _failed(job, exc)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in job.folder.rglob("*"):
                if p.is_file():
                    z.write(p, p.relative_to(job.folder))
        return row, buf.getvalue()


def _run_ray(jobs: list[Job], address: str, on_done) -> list[dict]:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--ray needs Ray: pip install 'freqrex-app[ray]'") from exc
    started = False
    if not ray.is_initialized():
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
        started = True
    try:
        task = ray.remote(num_cpus=1)(_ray_task)
        pending = {}
        for job in jobs:
            doc = {"clip_name": Path(job.clip).name, "model": job.model,
                   "settings": asdict(job.settings)}
            ref = task.remote(doc, Path(job.clip).read_bytes())
            pending[ref] = job
        results = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            job = pending.pop(ref)
            try:
                row, archive = ray.get(ref)
                if job.folder.exists():
                    shutil.rmtree(job.folder)
                job.folder.mkdir(parents=True)
                with zipfile.ZipFile(io.BytesIO(archive)) as z:
                    z.extractall(job.folder)
            except Exception as exc:
                row = _failed(job, exc)
            results.append(row)
            if on_done:
                on_done(row, False)
        return results
    finally:
        if started:
            ray.shutdown()


def load_rows(out: str | Path) -> list[dict]:
    """Every row.json under ``OUT/runs`` (sorted by model, clip)."""
    rows = [json.loads(p.read_text()) for p in sorted(Path(out).glob("runs/*/*/row.json"))]
    return sorted(rows, key=lambda r: (r["model"], r["clip"]))
