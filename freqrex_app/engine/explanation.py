"""The result of an explanation: the maps, the sets, the manipulations, and how to save them."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.clip import Audio
from ..audio.hearing import Audibility
from .manipulations import Flip, snr_db
from .perturbation import AUDIO_FILES, FLIP_ORDER, KIND, KINDS, Perturbation
from .sets import NecessaryResult, SetResult

__all__ = ["Explanation", "AUDIO_FILES", "MAX_JSON_CELLS", "sound_entries"]

#: Cells listed in the JSON's ``stft_flip.cells`` at most (all of them are in ``sets.npz``).
MAX_JSON_CELLS = 10_000


def sound_entries(d: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """Each output sound of an ``explanation.json`` document (but the original): its entry
    and the suffix of its keys there (``"_kept"`` / ``"_removed"`` for the necessary set's two
    sounds, else ``""``), by name."""
    out = {f"flip_{f['k']}": (f, "") for f in d["flips"]}
    out.update({k: (d[k], "") for k in ("quiet_flip", "stft_flip", "sufficient", "complete")
                if d.get(k)})
    if d.get("necessary"):
        out["necessary_kept"] = (d["necessary"], "_kept")
        out["necessary_removed"] = (d["necessary"], "_removed")
    return out


def _num(value: float | None) -> float | None:
    """A JSON-safe float: non-finite values become None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class Explanation:
    """Why ``model`` gave ``label`` to ``audio``: responsibility over the rfft bins and its sets.

    ``responsibility`` and ``ranking`` cover all ``n_bins`` bins; sets and flips are None when
    not found (the reason is in ``notes``).
    """

    model: str
    labels_view: str
    labels: list[str]
    audio: Audio
    label: str
    label_index: int
    confidence: float
    scores: np.ndarray
    seed: int
    budget: int | None
    queries: int
    seconds: float
    predict_seconds: float
    budget_exhausted: bool
    responsibility: np.ndarray
    ranking: np.ndarray
    magnitude: np.ndarray
    power: np.ndarray
    sufficient: SetResult | None = None
    necessary: NecessaryResult | None = None
    complete: SetResult | None = None
    adjustment: np.ndarray | None = None
    flips: list[Flip] = field(default_factory=list)
    quiet_flip: Flip | None = None
    stft_flip: Flip | None = None
    #: the drop of the decision's margin per STFT cell that the STFT flip's search measured
    #: (black-box) or predicted (gradient): a map of sensitivity, not a degree of
    #: responsibility; saved as ``stft_responsibility`` (SPEC section 5)
    stft_margin_drop: np.ndarray | None = None
    stft: dict | None = None
    search: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    contrast: str | None = None
    #: how the least audible flips were searched: "gradient" or "black-box"
    flip_search: str = "black-box"
    #: gradient passes spent (0 for a black-box search), beside ``queries``
    gradients: int = 0
    #: how audible each output sound is, by name (keys of :data:`AUDIO_FILES` but "original")
    audibility: dict[str, Audibility] = field(default_factory=dict)
    #: seconds the model of hearing took (not in the JSON: a time, measured by the benchmarks)
    hearing_seconds: float = 0.0
    #: seconds the gradient passes took (not in the JSON, as above)
    gradient_seconds: float = 0.0

    # -- basic facts -------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @property
    def n_samples(self) -> int:
        return self.audio.n_samples

    @property
    def n_bins(self) -> int:
        return int(self.responsibility.shape[0])

    def hz(self, bins: np.ndarray | int) -> np.ndarray:
        """Frequency in Hz of rfft bin(s)."""
        return np.asarray(bins) * self.sample_rate / self.n_samples

    def top_scores(self, n: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.scores, kind="stable")[:n]
        return [(self.labels[i], float(self.scores[i])) for i in order]

    def energy_fraction(self, index: np.ndarray) -> float:
        return float(self.power[index].sum() / max(self.power.sum(), 1e-30))

    def perturbations(self) -> dict[str, Perturbation]:
        """Every perturbation that was found, by name, in the order of :data:`KINDS`: the one
        registry the JSON, the figures, the page and the command line read."""
        found: dict[str, Perturbation] = {}

        def add(name: str, index, label: int, confidence: float, wave, flipped: bool = False,
                gain: float = 0.0, search: str = "black-box", snr: float | None = None) -> None:
            found[name] = Perturbation(
                KIND[name], np.asarray(index), self.labels[label], int(label), float(confidence),
                wave, snr_db(self.audio.samples, wave) if snr is None else float(snr),
                bool(flipped), float(gain), search, self.audibility.get(name))

        if self.sufficient is not None:
            s = self.sufficient
            add("sufficient", s.index, s.label, s.confidence, s.wave)
        if self.necessary is not None:
            n = self.necessary
            add("necessary_kept", n.index, n.label_kept, n.confidence_kept, n.wave_kept)
            add("necessary_removed", n.index, n.label_removed, n.confidence_removed,
                n.wave_removed, flipped=self.decision_changed(n.label_removed))
        if self.complete is not None:
            c = self.complete
            add("complete", c.index, c.label, c.confidence, c.wave)
        for name, f in [*((f"flip_{f.k}", f) for f in self.flips),
                        ("quiet_flip", self.quiet_flip), ("stft_flip", self.stft_flip)]:
            if f is not None:
                add(name, f.index, f.label, f.confidence, f.wave, f.flipped, f.gain, f.search,
                    f.snr_db)
        return {k.name: found[k.name] for k in KINDS if k.name in found}

    def decision_changed(self, label: int) -> bool:
        """Whether a sound the model labels ``label`` changes the decision: another label on
        top, or, with a contrast, the foil on top."""
        return (self.labels[label] == self.contrast if self.contrast
                else label != self.label_index)

    def waves(self) -> dict[str, np.ndarray]:
        """Every audio output by name (keys of :data:`AUDIO_FILES`) that was found."""
        return {"original": self.audio.samples,
                **{name: p.wave for name, p in self.perturbations().items()}}

    def verified_flips(self) -> list[Perturbation]:
        """Every verified change of the decision (the changed wave classifies as another label,
        or as the foil with a contrast): the flips, and the removal of the sufficient-and-
        necessary set, whose sound is a flip too; the least audible first (by the model of
        hearing, SNR breaking ties, then :data:`FLIP_ORDER`). The headline is the first."""
        found = self.perturbations()
        out = [found[n] for n in FLIP_ORDER if n in found and found[n].verified_flip]
        return sorted(out, key=lambda p: p.heard.key())

    # -- JSON --------------------------------------------------------------------------------
    def _set_common(self, index: np.ndarray) -> dict[str, Any]:
        return {"n_bins": int(index.shape[0]), "fraction": index.shape[0] / self.n_bins,
                "energy_fraction": self.energy_fraction(index)}

    def heard(self, name: str, suffix: str = "") -> dict[str, Any]:
        """``snr_db``, ``zimtohrli`` and ``mos`` of the sound ``name`` (keys + ``suffix``)."""
        a = self.audibility.get(name)
        if a is None:
            return {}
        return {f"snr_db{suffix}": _num(a.snr_db), f"zimtohrli{suffix}": _num(a.zimtohrli),
                f"mos{suffix}": _num(a.mos)}

    def _flip_dict(self, flip: Flip) -> dict[str, Any]:
        name = f"flip_{flip.k}"
        return {"k": flip.k, "bins": [int(b) for b in flip.index],
                "hz": [float(h) for h in self.hz(flip.index)], "label": self.labels[flip.label],
                "confidence": flip.confidence, "flipped": flip.flipped,
                "snr_db": _num(flip.snr_db), "zimtohrli": None, "mos": None,
                **self.heard(name), "audio": AUDIO_FILES[name]}

    def to_dict(self) -> dict[str, Any]:
        """The ``explanation.json`` document (SPEC section 5)."""
        top = self.ranking[:100]
        d: dict[str, Any] = {
            "model": self.model, "labels_view": self.labels_view,
            "sample_rate": self.sample_rate, "start": self.audio.start,
            "duration": self.audio.duration, "n_samples": self.n_samples, "n_bins": self.n_bins,
            "source": Path(self.audio.source).name if self.audio.source else None,
            "label": self.label, "confidence": self.confidence,
            "top_scores": [{"label": lab, "score": s} for lab, s in self.top_scores(5)],
            "seed": self.seed, "budget": self.budget, "queries": self.queries,
            "gradients": self.gradients, "flip_search": self.flip_search,
            "seconds": self.seconds, "predict_seconds": self.predict_seconds,
            "budget_exhausted": self.budget_exhausted,
            "responsibility_top": [{"bin": int(b), "hz": float(self.hz(b)),
                                    "responsibility": float(self.responsibility[b])} for b in top],
            "sufficient": None, "necessary": None, "complete": None,
            "flips": [self._flip_dict(f) for f in self.flips], "quiet_flip": None,
            "stft_flip": None, "contrast": self.contrast,
            "scores": {lab: float(v) for lab, v in zip(self.labels, self.scores)},
            "search": self.search, "config": self.config, "notes": dict(self.notes),
        }
        if self.sufficient is not None:
            s = self.sufficient
            d["sufficient"] = {**self._set_common(s.index), "label": self.labels[s.label],
                               "confidence": s.confidence, **self.heard("sufficient"),
                               "audio": AUDIO_FILES["sufficient"]}
        if self.necessary is not None:
            n = self.necessary
            d["necessary"] = {**self._set_common(n.index),
                              "label_kept": self.labels[n.label_kept],
                              "confidence_kept": n.confidence_kept,
                              "label_removed": self.labels[n.label_removed],
                              "confidence_removed": n.confidence_removed,
                              **self.heard("necessary_kept", "_kept"),
                              **self.heard("necessary_removed", "_removed"),
                              "audio_kept": AUDIO_FILES["necessary_kept"],
                              "audio_removed": AUDIO_FILES["necessary_removed"]}
        if self.complete is not None:
            c = self.complete
            d["complete"] = {"n_bins": int(c.index.shape[0]),
                             "fraction": c.index.shape[0] / self.n_bins,
                             "energy_fraction": self.energy_fraction(c.index),
                             "adjustment_n_bins": int(0 if self.adjustment is None
                                                      else self.adjustment.shape[0]),
                             "label": self.labels[c.label], "confidence": c.confidence,
                             **self.heard("complete"), "audio": AUDIO_FILES["complete"]}
        if self.quiet_flip is not None:
            f = self.quiet_flip
            d["quiet_flip"] = {**self._set_common(f.index),  # index: the loudest bins first
                               "hz": [float(h) for h in self.hz(f.index[:100])], "gain": f.gain,
                               "label": self.labels[f.label], "confidence": f.confidence,
                               "flipped": f.flipped, "snr_db": _num(f.snr_db),
                               "zimtohrli": None, "mos": None, **self.heard("quiet_flip"),
                               "search": f.search, "audio": AUDIO_FILES["quiet_flip"]}
        if self.stft_flip is not None and self.stft is not None:
            f = self.stft_flip
            n_freq, n_frames = self.stft["shape"]
            cells = f.index  # the loudest cells first
            d["stft_flip"] = {"n_fft": self.stft["n_fft"], "hop": self.stft["hop"],
                              "n_cells": f.k, "fraction": f.k / (n_freq * n_frames),
                              "gain": f.gain,
                              "cells": [[int(c // n_frames), int(c % n_frames)]
                                        for c in cells[:MAX_JSON_CELLS]],
                              "label": self.labels[f.label], "confidence": f.confidence,
                              "flipped": f.flipped, "snr_db": _num(f.snr_db),
                              "zimtohrli": None, "mos": None, **self.heard("stft_flip"),
                              "search": f.search, "audio": AUDIO_FILES["stft_flip"]}
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    # -- files -------------------------------------------------------------------------------
    def save(self, out_dir: str | Path, figures: bool = True) -> dict[str, Path]:
        """Write ``explanation.json``, ``sets.npz``, the WAVs and the PNGs into ``out_dir``.

        A failure in one rendering (a figure, a sound file) is recorded under ``notes`` and in
        the JSON; everything else is still written. Returns the paths written, by name.
        """
        from ..audio.io import write_wav  # audio I/O lives in its own stage

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        arrays = {"responsibility": self.responsibility.astype(np.float32),
                  "ranking": self.ranking.astype(np.int64),
                  "sufficient": _index(self.sufficient and self.sufficient.index),
                  "necessary": _index(self.necessary and self.necessary.index),
                  "adjustment": _index(self.adjustment)}
        if self.stft_margin_drop is not None:
            arrays["stft_responsibility"] = self.stft_margin_drop.astype(np.float32)
        arrays["quiet_flip"] = _index(self.quiet_flip and self.quiet_flip.index)
        if self.stft_flip is not None:  # flat cell indices (freq * frames + frame)
            arrays["stft_flip_cells"] = _index(self.stft_flip.index)
        np.savez_compressed(out / "sets.npz", **arrays)
        written["sets"] = out / "sets.npz"
        for name, wave in self.waves().items():
            path = out / AUDIO_FILES[name]
            try:
                write_wav(path, wave, self.sample_rate)
                written[name] = path
            except Exception as exc:  # keep the rest of the explanation usable
                self.notes[f"audio_{name}"] = f"could not write {path.name}: {exc}"
        if figures:  # drawing is the plots' stage, which never imports the engine
            try:
                from ..plots.save import save_figures
            except Exception as exc:
                self.notes["figures"] = f"could not draw the figures: {exc}"
            else:
                written.update(save_figures(self, out))
        (out / "explanation.json").write_text(self.to_json(indent=None if self._big() else 2))
        written["explanation"] = out / "explanation.json"
        return written

    def _big(self) -> bool:
        """Many listed cells or bins: compact JSON (a tenth the size of the indented one)."""
        return self.stft_flip is not None and self.stft_flip.k > 2000


def _index(index: np.ndarray | None) -> np.ndarray:
    return np.zeros(0, dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
