"""Where jobs live: each in a folder of the app's cache that appears only complete (written
under a partial name, then renamed), old ones deleted, a few finished jobs kept in memory and
any other rebuilt from its folder without a model call."""
from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from .limits import Limits
from .lru import BoundedLRU
from .outputs import COMPARE_DIR, Job

__all__ = ["partial_job_dir", "publish", "cleanup_jobs", "remember", "recall",
           "job_from_folder"]


_PARTIAL = ".partial-"  # a job being written; renamed to its final name when complete
_ORPHAN_S = 3600.0  # a partial folder this old was left by a crash


def partial_job_dir(limits: Limits) -> Path:
    """A fresh folder for a job being written (not yet a job: nobody serves it)."""
    root = limits.cache / "jobs"
    root.mkdir(parents=True, exist_ok=True)
    cleanup_jobs(limits)
    # the name is unguessable (128 random bits): a job's files are served to whoever has it
    path = root / f"{_PARTIAL}{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex}"
    path.mkdir()
    return path


def publish(job: Job) -> Job:
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


# Finished jobs by folder: a few kept in memory; the session state holds only the folder, and a
# job evicted here is rebuilt from its folder without any model call.
_RECENT: BoundedLRU[str, Job] = BoundedLRU(6)


def remember(job: Job) -> str:
    """Keep ``job`` for the session; returns the key to store in the session state."""
    key = str(job.folder)
    _RECENT.put(key, job)
    return key


def recall(key: str | None) -> Job | None:
    """The job stored under ``key`` (rebuilt from its folder when needed; None if gone)."""
    if not key:
        return None
    job = _RECENT.get(key)
    if job is not None:
        return job
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
