"""What a visitor hears first: the least audible verified flip and the sufficient set, each
with a version loud enough to hear. No Gradio.

The *removed* part of a flip (original minus changed) and the sufficient set's sound are
written amplified by a stated gain (peak :data:`PEAK`), and the gains go to
``listening.json`` beside them, so that every number the page shows can be checked against
the files: ``removed_<name>.wav / gain == original - <name>.wav``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.perturbation import KINDS, Perturbation

__all__ = ["PEAK", "LISTENING_FILE", "Audible", "lead_flip", "lead_candidates",
           "write_audible", "read_audible", "FEW_TONES", "KEPT", "outcome"]

#: Peak of an amplified sound (full scale is 1).
PEAK = 0.5
#: The sidecar with the gain of every amplified sound.
LISTENING_FILE = "listening.json"
#: A sufficient set at most this many bins is named tone by tone.
FEW_TONES = 12


#: The outputs that keep a set of bins (the decision holds on them); the others remove or change.
KEPT = tuple(k.name for k in KINDS if k.kept)


def outcome(exp, name: str, label: str) -> tuple[bool, str]:
    """Whether the sound ``name`` (classified as ``label``) changes the decision, and the word
    for the table. Without a foil: another top-1 label is a change. With a foil the question
    is "why X and not Y?": a change is Y on top; a kept set is verified to keep X ahead of Y,
    whatever its top-1 (a third label is reported as such, never as a change)."""
    foil = exp.contrast
    if foil is None:
        return (label != exp.label), ("changed" if label != exp.label else "same")
    if label == exp.label:
        return False, "same"
    if name in KEPT:
        return False, f"{exp.label} still ahead of {foil}"
    if label == foil:
        return True, f"changed: {foil} wins"
    return False, f"{foil} does not win"


@dataclass(frozen=True)
class Audible:
    """An amplified sound: its file and the gain it was written with (linear and dB)."""

    name: str
    file: str
    gain: float

    @property
    def gain_db(self) -> float:
        return 20.0 * math.log10(self.gain) if self.gain > 0 else 0.0


def lead_candidates(exp) -> list[Perturbation]:
    """Every verified change of the decision in ``exp`` (the flips, and the removal of the
    sufficient-and-necessary set), the least audible first (``Explanation.verified_flips``)."""
    return exp.verified_flips()


def lead_flip(exp) -> Perturbation | None:
    """The least audible verified flip, by the model of hearing; None when nothing flipped."""
    found = lead_candidates(exp)
    return found[0] if found else None


def _amplified(wave: np.ndarray) -> tuple[np.ndarray, float]:
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    gain = PEAK / peak if peak > 0 else 1.0
    return (wave.astype(np.float64) * gain).astype(np.float32), gain


def write_audible(exp, folder: Path) -> dict[str, Path]:
    """Write ``removed_<name>.wav`` for every verified flip and ``sufficient_loud.wav`` for the
    sufficient set, amplified to a peak of :data:`PEAK`, and ``listening.json`` with their
    gains. Returns the files by name (``removed_quiet_flip``, ..., ``listening``)."""
    import soundfile as sf

    folder = Path(folder)
    x = np.asarray(exp.audio.samples, dtype=np.float64)
    waves = exp.waves()
    sounds: dict[str, np.ndarray] = {}
    for c in lead_candidates(exp):
        sounds[f"removed_{c.name}"] = x - waves[c.name].astype(np.float64)
    if "sufficient" in waves:
        sounds["sufficient_loud"] = waves["sufficient"].astype(np.float64)
    files: dict[str, Path] = {}
    meta: dict[str, Any] = {"peak": PEAK, "sounds": {}}
    for name, wave in sounds.items():
        loud, gain = _amplified(wave)
        path = folder / f"{name}.wav"
        sf.write(path, loud, exp.sample_rate, subtype="FLOAT")
        files[name] = path
        meta["sounds"][name] = {"file": path.name, "gain": gain,
                                "gain_db": 20.0 * math.log10(gain)}
    lead = lead_flip(exp)
    meta["lead"] = None if lead is None else {
        "name": lead.name, "label": lead.label, "confidence": lead.confidence,
        "snr_db": lead.snr_db, "zimtohrli": lead.zimtohrli, "mos": lead.mos,
        "search": lead.search, "audio": f"{lead.name}.wav",
        "removed": f"removed_{lead.name}.wav"}
    path = folder / LISTENING_FILE
    path.write_text(json.dumps(meta, indent=1))
    files["listening"] = path
    return files


def read_audible(folder: Path) -> dict[str, Audible]:
    """The amplified sounds recorded in ``folder/listening.json`` (empty when there is none)."""
    path = Path(folder) / LISTENING_FILE
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text())
    return {name: Audible(name, str(Path(folder) / d["file"]), float(d["gain"]))
            for name, d in meta.get("sounds", {}).items()}
