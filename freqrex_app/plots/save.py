"""The figure loop: every PNG of an explanation's folder (SPEC section 5), each on its own."""
from __future__ import annotations

from pathlib import Path

from . import figures
from ._common import Explanation

__all__ = ["FIGURE_FILES", "save_figures"]

#: Figures written with an explanation: name (a function of :mod:`freqrex_app.plots`) -> file.
FIGURE_FILES = {
    "waveform": "waveform.png",
    "responsibility": "responsibility.png",
    "spectrum_sets": "spectrum_sets.png",
    "responsibility_spectrogram": "responsibility_spectrogram.png",
}


def save_figures(exp: Explanation, out_dir: str | Path) -> dict[str, Path]:
    """Write the PNG figures of ``exp`` into ``out_dir``; the paths by ``figure_<name>``. One
    that fails is noted in ``exp.notes`` and the others are still written."""
    written: dict[str, Path] = {}
    for name, file in FIGURE_FILES.items():
        try:
            fig = getattr(figures, name)(exp)
            if fig is None:
                continue
            fig.savefig(Path(out_dir) / file, dpi=110)
            written[f"figure_{name}"] = Path(out_dir) / file
        except Exception as exc:
            exp.notes[f"figure_{name}"] = f"could not draw {file}: {exc}"
    return written
