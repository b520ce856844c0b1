"""The perturbations of an explanation as the page names and describes them: the titles in
the order of the buttons (the engine's registry, :data:`~freqrex_app.engine.perturbation.KINDS`),
and what each did (label, confidence, SNR, size, outcome)."""
from __future__ import annotations

from typing import Any

from ..engine.perturbation import KINDS
from .listening import outcome

__all__ = ["PERTURBATION_NAMES", "perturbation_info"]

#: Display names of the perturbations, in the order of the buttons.
PERTURBATION_NAMES: dict[str, str] = {k.name: k.title for k in KINDS}


def perturbation_info(exp, name: str) -> dict[str, Any] | None:
    """Label, confidence, SNR (dB), size and whether the label changed, for one perturbation;
    None when it was not found."""
    p = exp.perturbations().get(name)
    if p is None:
        return None
    changed, outcome_words = outcome(exp, name, p.label)
    return {"name": name, "title": p.title, "label": p.label, "confidence": p.confidence,
            "snr_db": p.snr_db, "size": p.k, "unit": p.unit,
            "changed": changed, "outcome": outcome_words, "mos": p.mos,
            "zimtohrli": p.zimtohrli}
