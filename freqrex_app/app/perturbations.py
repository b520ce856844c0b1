"""The perturbations of an explanation as the app names and describes them: display names in
the order of the buttons, and what each did (label, confidence, SNR, size, outcome)."""
from __future__ import annotations

from typing import Any

from .listening import outcome

__all__ = ["PERTURBATION_NAMES", "perturbation_info"]

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
