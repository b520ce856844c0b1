"""The example clips (``assets/examples``) and their precomputed explanations
(``assets/precomputed/<stem>/explanation.json + sets.npz``), rebuilt without any model call.

The sounds and figures of a precomputed explanation are recomputed from its indices and the
clip (``load_explanation``), once per process, into the app's cache folder.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .limits import Limits
from .outputs import Job, prepare_job

log = logging.getLogger("freqrex.app")

__all__ = ["ASSETS", "EXAMPLES_DIR", "PRECOMPUTED_DIR", "Example", "list_examples",
           "example_job", "warm_examples"]

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
EXAMPLES_DIR = ASSETS / "examples"
PRECOMPUTED_DIR = ASSETS / "precomputed"


@dataclass(frozen=True)
class Example:
    index: int
    path: Path
    title: str
    author: str
    licence: str
    character: str
    meta: dict

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def precomputed(self) -> Path | None:
        folder = PRECOMPUTED_DIR / self.stem
        ok = (folder / "explanation.json").is_file() and (folder / "sets.npz").is_file()
        return folder if ok else None

    @property
    def button(self) -> str:
        kind = self.character.split("(")[0].strip() or self.stem
        return f"{kind.capitalize()} · {self.title}"

    def settings(self) -> dict:
        """Model, view, start and duration of the precomputed explanation (or defaults)."""
        folder = self.precomputed
        if folder is None:
            return {}
        meta = json.loads((folder / "explanation.json").read_text())
        return {"model": meta["model"], "labels_view": meta["labels_view"],
                "start": float(meta["start"]), "duration": float(meta["duration"]),
                "budget": meta.get("budget"), "seed": meta.get("seed", 0),
                "stft": meta.get("stft_flip") is not None or "stft" in meta.get("search", {}),
                "sample_rate": int(meta["sample_rate"])}


def list_examples() -> list[Example]:
    index = EXAMPLES_DIR / "examples.json"
    if not index.is_file():
        return []
    try:
        entries = json.loads(index.read_text())
    except (OSError, ValueError):
        log.warning("cannot read %s", index)
        return []
    out = []
    for i, e in enumerate(entries):
        path = EXAMPLES_DIR / e.get("file", "")
        if path.is_file():
            out.append(Example(len(out), path, e.get("title", path.stem), e.get("author", ""),
                               e.get("licence", ""), e.get("character", ""), e))
    return out


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()


def example_job(example: Example, limits: Limits) -> Job | None:
    """The precomputed explanation of ``example`` with all its files (None if there is none)."""
    from ..audio import load_audio
    from ..engine import load_explanation

    with _LOCK:
        if example.stem in _JOBS and _JOBS[example.stem].folder.exists():
            return _JOBS[example.stem]
        folder = example.precomputed
        if folder is None:
            return None
        s = example.settings()
        audio = load_audio(example.path, sample_rate=s["sample_rate"], start=s["start"],
                           duration=s["duration"])
        exp = load_explanation(folder, audio)
        out = limits.cache / "examples" / example.stem
        out.mkdir(parents=True, exist_ok=True)
        job = prepare_job(exp, out, model_id=exp.model, stem=example.stem)
        job.precomputed = True
        _JOBS[example.stem] = job
        return job


def warm_examples(limits: Limits, stop: threading.Event | None = None) -> threading.Thread:
    """Rebuild every precomputed example in the background, so that a click is instant.
    Set ``stop`` (and join the thread) to end it early, e.g. before the process exits."""
    def work():
        for ex in list_examples():
            if stop is not None and stop.is_set():
                return
            try:
                example_job(ex, limits)
            except Exception:  # an example that fails is loaded (and reported) on click
                log.exception("precomputed example %s failed to load", ex.stem)

    thread = threading.Thread(target=work, name="freqrex-warm-examples", daemon=True)
    thread.start()
    return thread
