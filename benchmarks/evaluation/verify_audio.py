"""Re-classify the saved WAVs of a ``freqrex evaluate`` run and check them against the rows.

    python benchmarks/evaluation/verify_audio.py OUT_DIR [--models ID ...] [--clips CLIP ...]

For every clip of every model under ``OUT_DIR/runs`` (or the ones named), each change the row
reports (FreqReX flip-1..5, its quiet flip and STFT flip, the random / loudest / occlusion /
gradient-saliency baselines at k = 1..5, the quietest-cells STFT baseline, and the white-box
reference's flip-1..5, quiet flip and STFT flip) is loaded from its WAV, classified on its own,
and its SNR is recomputed against ``original.wav``. A label that disagrees with the row's
"flipped", or an SNR more than 0.01 dB off, is printed; the exit status is 1 if any is. A
reported flip whose WAV is missing counts as a mismatch too.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

import freqrex_app as fx
from freqrex_app.engine.manipulations import snr_db
from freqrex_app.evaluation.baselines import METHODS
from freqrex_app.evaluation.runner import KS


def checks(row: dict, quiet_stem: str = "quiet_flip") -> list[tuple[str, str, str]]:
    """(WAV stem, row key of 'flipped', row key of the SNR) for every change in the row."""
    out = [(f"flip_{k}", f"freqrex_flip_{k}", f"freqrex_snr_{k}") for k in KS]
    out += [(f"baseline_{b}_{k}", f"{b}_flip_{k}", f"{b}_snr_{k}")
            for b in (*METHODS, "saliency") for k in KS if row.get(f"{b}_flip_{k}") is not None]
    out += [(f"whitebox_flip_{k}", f"whitebox_flip_{k}", f"whitebox_snr_{k}")
            for k in KS if row.get(f"whitebox_flip_{k}") is not None]
    for stem, key in ((quiet_stem, "quiet"), ("stft_flip", "stft"),
                      ("baseline_quietest_stft", "quietest_stft"),
                      ("whitebox_quiet", "whitebox_quiet"), ("whitebox_stft", "whitebox_stft")):
        if row.get(f"{key}_flip"):
            out.append((stem, f"{key}_flip", f"{key}_snr"))
    return out


def _quiet_stem(folder: Path) -> str:
    """The quiet flip's WAV, as the explanation names it."""
    try:
        doc = json.loads((folder / "explanation.json").read_text()).get("quiet_flip") or {}
    except (OSError, ValueError):
        doc = {}
    return Path(doc.get("audio") or "quiet_flip.wav").stem


def _read(path: Path, sample_rate: int) -> np.ndarray:
    """The WAV exactly as written (float32 at the model's rate; a silent one too)."""
    wave, rate = sf.read(str(path), dtype="float32")
    if rate != sample_rate or wave.ndim != 1:
        raise ValueError(f"{path} is not mono at {sample_rate} Hz")
    return wave


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--clips", nargs="*", default=None)
    args = ap.parse_args(argv)
    runs = Path(args.out) / "runs"
    bad = n = 0
    for model_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
        rows = [json.loads(p.read_text()) for p in sorted(model_dir.glob("*/row.json"))]
        rows = [r for r in rows if not args.clips or r["clip"] in args.clips]
        if not rows or (args.models and rows[0]["model"] not in args.models):
            continue
        model = fx.load_model(rows[0]["model"], labels_view=rows[0]["labels_view"])
        for r in rows:
            folder = model_dir / r["clip"]
            x = _read(folder / "original.wav", model.sample_rate)
            for stem, flip_key, snr_key in checks(r, _quiet_stem(folder)):
                path = folder / f"{stem}.wav"
                if not path.exists():
                    if r[flip_key]:  # a flip claimed without its audio
                        bad += 1
                        print(f"MISSING {r['model']} {r['clip']} {stem}.wav (row: flipped)")
                    continue
                w = _read(path, model.sample_rate)
                label = model.labels[int(np.argmax(model.predict(w[None])[0]))]
                snr, want = snr_db(x, w), r.get(snr_key)
                n += 1
                if (label != r["label"]) != bool(r[flip_key]) or (
                        want is not None and abs(snr - want) > 0.01):
                    bad += 1
                    print(f"MISMATCH {r['model']} {r['clip']} {stem}: label {label} "
                          f"(row: {r['label']}, flipped {r[flip_key]}), SNR {snr:.3f} (row: {want})")
    print(f"{n} saved WAVs re-classified, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
