"""A finished job and its files: :class:`Job`, and :func:`prepare_job`, which writes an
explanation's outputs into a folder (JSON, sets, WAVs, the amplified sounds, the perturbation
figures) and zips them."""
from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import Cancelled
from .format import one_line
from .perturbations import PERTURBATION_NAMES

log = logging.getLogger("freqrex.app")

__all__ = ["Job", "prepare_job", "COMPARE_DIR"]

#: The subfolder of a job that holds the explanation of the model it is compared with.
COMPARE_DIR = "compare"


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


def prepare_job(exp, folder: Path, *, model_id: str = "", stem: str | None = None,
                cancelled: Callable[[], bool] | None = None, compare: "Job | None" = None,
                zip_it: bool = True) -> Job:
    """Write ``exp`` into ``folder`` (JSON, sets, WAVs, figures), the amplified sounds
    (:func:`~freqrex_app.web.listening.write_audible`), draw each perturbation and zip it all,
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
