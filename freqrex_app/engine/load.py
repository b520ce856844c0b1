"""Rebuild a saved :class:`Explanation` from its folder, without calling the model.

Every waveform is recomputed from the saved indices and the original audio, with the same
transforms that produced it, so a precomputed explanation can be shown and played at once.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..audio.clip import Audio
from ..audio.hearing import Audibility
from .explain import EngineConfig
from .explanation import AUDIO_FILES, Explanation, sound_entries
from .manipulations import Flip, snr_db
from .sets import NecessaryResult, SetResult
from .spaces import FrequencySpace, StftSpace

__all__ = ["load_explanation"]


def load_explanation(folder: str | Path, audio: Audio | None = None) -> Explanation:
    """Load ``explanation.json`` + ``sets.npz`` from ``folder``; ``audio`` defaults to its
    ``original.wav``."""
    folder = Path(folder)
    meta = json.loads((folder / "explanation.json").read_text())
    arrays = np.load(folder / "sets.npz")
    if audio is None:
        from ..audio.io import load_audio
        audio = load_audio(folder / AUDIO_FILES["original"], sample_rate=meta["sample_rate"])
    if audio.n_samples != meta["n_samples"] or audio.sample_rate != meta["sample_rate"]:
        raise ValueError(f"audio does not match the explanation in {folder} "
                         f"({audio.n_samples} samples at {audio.sample_rate} Hz, expected "
                         f"{meta['n_samples']} at {meta['sample_rate']} Hz)")
    labels = list(meta["scores"])
    idx = {lab: i for i, lab in enumerate(labels)}
    cfg = EngineConfig(**{k: v for k, v in meta.get("config", {}).items()
                          if k in EngineConfig.__dataclass_fields__})
    space = FrequencySpace(audio.samples, audio.sample_rate, cfg.fill)
    exp = Explanation(
        model=meta["model"], labels_view=meta["labels_view"], labels=labels, audio=audio,
        label=meta["label"], label_index=idx[meta["label"]], confidence=meta["confidence"],
        scores=np.array([meta["scores"][lab] for lab in labels], dtype=np.float32),
        seed=meta["seed"], budget=meta["budget"], queries=meta["queries"],
        seconds=meta["seconds"], predict_seconds=meta.get("predict_seconds", 0.0),
        budget_exhausted=meta["budget_exhausted"], responsibility=arrays["responsibility"],
        ranking=arrays["ranking"], magnitude=space.magnitude, power=space.power,
        search=meta.get("search", {}), config=meta.get("config", {}), notes=meta.get("notes", {}),
        contrast=meta.get("contrast"), flip_search=meta.get("flip_search", "black-box"),
        gradients=meta.get("gradients", 0))
    if meta["sufficient"]:
        s, index = meta["sufficient"], arrays["sufficient"]
        exp.sufficient = SetResult(index, idx[s["label"]], s["confidence"], space.keep(index))
    if meta["necessary"]:
        n, index = meta["necessary"], arrays["necessary"]
        exp.necessary = NecessaryResult(index, idx[n["label_kept"]], n["confidence_kept"],
                                        idx[n["label_removed"]], n["confidence_removed"],
                                        space.keep(index), space.remove(index))
    if meta["complete"] and exp.necessary is not None:
        c = meta["complete"]
        exp.adjustment = arrays["adjustment"]
        index = np.concatenate([exp.necessary.index, exp.adjustment])
        exp.complete = SetResult(index, idx[c["label"]], c["confidence"], space.keep(index))
    for f in meta["flips"]:
        index = np.asarray(f["bins"], dtype=np.int64)
        wave = space.remove(index)
        exp.flips.append(Flip(f["k"], index, idx[f["label"]], f["confidence"], f["flipped"],
                              snr_db(audio.samples, wave), wave))
    if meta.get("quiet_flip"):
        f, index = meta["quiet_flip"], arrays["quiet_flip"]
        wave = space.attenuate(index, f["gain"])
        exp.quiet_flip = Flip(int(index.shape[0]), index, idx[f["label"]], f["confidence"],
                              f["flipped"], snr_db(audio.samples, wave), wave, f["gain"],
                              f.get("search", "black-box"))
    if "stft_responsibility" in arrays:
        exp.stft_margin_drop = arrays["stft_responsibility"]
        exp.stft = {"n_fft": cfg.n_fft, "hop": cfg.hop,
                    "shape": list(exp.stft_margin_drop.shape)}
    if meta["stft_flip"]:
        f = meta["stft_flip"]
        stft_space = StftSpace(audio.samples, audio.sample_rate, f["n_fft"], f["hop"], cfg.fill)
        index = arrays["stft_flip_cells"]  # all of them (the JSON lists at most 10,000)
        gain = f.get("gain", 0.0)
        wave = stft_space.attenuate(index, gain)
        exp.stft_flip = Flip(f["n_cells"], index, idx[f["label"]], f["confidence"], f["flipped"],
                             snr_db(audio.samples, wave), wave, gain, f.get("search", "black-box"))
    exp.audibility = _audibility(meta, exp)
    return exp


def _audibility(meta: dict, exp: Explanation) -> dict[str, Audibility]:
    """The saved Zimtohrli scores (not recomputed: no model of hearing runs on load), with
    each sound's SNR recomputed from its wave."""
    saved = sound_entries(meta)
    waves = exp.waves()
    return {name: Audibility(snr_db(exp.audio.samples, waves[name]),
                             d.get(f"zimtohrli{sfx}"), d.get(f"mos{sfx}"))
            for name, (d, sfx) in saved.items() if name in waves}
