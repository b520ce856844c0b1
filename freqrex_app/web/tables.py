"""The page's tables of an explanation (its perturbations, its sets) and the JSON it shows."""
from __future__ import annotations

from typing import Any

from .format import fmt_snr, pct
from .perturbations import PERTURBATION_NAMES, perturbation_info

__all__ = ["perturbation_rows", "sets_rows", "json_for_view"]


def perturbation_rows(exp) -> list[list[Any]]:
    rows = []
    for name, title in PERTURBATION_NAMES.items():
        info = perturbation_info(exp, name)
        if info is None:
            reason = exp.notes.get(name.split("_")[0] if name.startswith("necessary") else
                                   ("flips" if name.startswith("flip_") else name), "not found")
            rows.append([title, "-", "-", "-", "-", "-", reason])
            continue
        rows.append([title, f"{info['size']:,} {info['unit']}", info["label"],
                     f"{info['confidence']:.3f}", fmt_snr(info["snr_db"]),
                     "-" if info["mos"] is None else f"{info['mos']:.3f}", info["outcome"]])
    return rows


def sets_rows(exp) -> list[list[Any]]:
    rows = []
    for key, title, found in (("sufficient", "S  sufficient", exp.sufficient),
                              ("necessary", "SN  sufficient + necessary", exp.necessary),
                              ("complete", "complete (SN + A)", exp.complete)):
        if found is None:
            rows.append([title, "-", "-", "-", exp.notes.get(key, "not found")])
            continue
        idx = found.index
        rows.append([title, f"{len(idx):,}", pct(len(idx) / exp.n_bins),
                     pct(exp.energy_fraction(idx)), ""])
    if exp.adjustment is not None and exp.complete is not None:
        a = exp.adjustment
        rows.append(["A  adjustment", f"{len(a):,}", pct(len(a) / exp.n_bins),
                     pct(exp.energy_fraction(a)), ""])
    return rows


def json_for_view(d: dict, limit: int = 100) -> dict:
    """The explanation JSON for the page: long lists cut (the file has them all)."""
    sf = d.get("stft_flip")
    if isinstance(sf, dict) and len(sf.get("cells") or []) > limit:
        sf = dict(sf)
        n = len(sf["cells"])
        sf["cells"] = sf["cells"][:limit] + [f"... {n - limit:,} more in explanation.json"]
        d = {**d, "stft_flip": sf}
    return d
