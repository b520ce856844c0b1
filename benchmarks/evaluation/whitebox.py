"""The white-box reference on real clips: quiet flip (bins), STFT flip (cells), flip@1..5.

    python benchmarks/evaluation/whitebox.py CLIP... [--model msd-musicnn] [--labels-view genres]
        [--duration 10] [--steps 3] --out DIR

For each clip: the label, the white-box quiet flip and STFT flip (SNR, features changed, gain,
queries), every prefix search (the trace: domain, re-linearisation step, gain, SNR), the
white-box and gradient-saliency flip-1..5, written to ``DIR/whitebox.json`` with every flip's
WAV under ``DIR/<clip>/``; each WAV is re-classified from disk and its SNR recomputed (a
mismatch is printed and makes the exit status 1). The engine is not run.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import freqrex_app as fx
from freqrex_app.audio.io import load_audio, write_wav
from freqrex_app.engine.manipulations import snr_db
from freqrex_app.engine.oracle import Oracle
from freqrex_app.engine.spaces import FrequencySpace, StftSpace
from freqrex_app.engine.gradient import GAINS, STEPS
from freqrex_app.evaluation import whitebox as wb
from freqrex_app.evaluation.runner import clip_id

from clip_args import clip_parser


def _doc(f, labels) -> dict | None:
    if f is None:
        return None
    return {"method": f.method, "n": f.n, "gain": f.gain, "label": labels[f.label],
            "flipped": bool(f.flipped), "snr_db": f.snr_db, "margin": f.margin}


def main(argv: list[str] | None = None) -> int:
    ap = clip_parser(__doc__)
    ap.add_argument("--start", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--gains", type=float, nargs="+", default=list(GAINS))
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = fx.load_model(args.model, labels_view=args.labels_view)
    docs, bad = [], 0
    for clip in args.clips:
        x = load_audio(clip, sample_rate=model.sample_rate, start=args.start,
                       duration=args.duration).samples
        oracle = Oracle(model)
        target, conf, _ = oracle.classify_one(x)
        t0 = time.perf_counter()
        res = wb.run_whitebox(model, FrequencySpace(x, model.sample_rate),
                              StftSpace(x, model.sample_rate), target, gains=args.gains,
                              steps=args.steps, oracle=oracle)
        if isinstance(res, str):
            raise SystemExit(res)
        folder = out / clip_id(clip)
        folder.mkdir(exist_ok=True)
        write_wav(folder / "original.wav", x, model.sample_rate)
        named = {"quiet": res.quiet, "stft": res.stft,
                 **{f"flip_{f.n}": f for f in res.flips},
                 **{f"saliency_{f.n}": f for f in res.saliency}}
        for stem, f in named.items():
            if f is None:
                continue
            write_wav(folder / f"{stem}.wav", f.wave, model.sample_rate)
            w = load_audio(folder / f"{stem}.wav", sample_rate=model.sample_rate).samples
            label = int(np.argmax(model.predict(w[None])[0]))
            if (label != target) != f.flipped or abs(snr_db(x, w) - f.snr_db) > 0.01:
                bad += 1
                print(f"MISMATCH {clip_id(clip)} {stem}", file=sys.stderr)
        doc = {"clip": clip_id(clip), "label": model.labels[target], "confidence": conf,
               "seconds": time.perf_counter() - t0, "queries": res.queries,
               "gradients": res.gradients, "notes": res.notes,
               **{k: _doc(f, model.labels) for k, f in (("quiet", res.quiet), ("stft", res.stft))},
               "flips": [_doc(f, model.labels) for f in res.flips],
               "saliency": [_doc(f, model.labels) for f in res.saliency],
               "trace": [{k: v for k, v in t.items() if k != "tests"} | {"tested": len(t["tests"])}
                         for t in res.trace]}
        docs.append(doc)
        q, s = res.quiet, res.stft
        print(f"{doc['clip'][:40]:40s} {doc['label']:12s} quiet "
              f"{'-' if q is None else f'{q.snr_db:.1f} dB ({q.n} bins, g {q.gain})'}; STFT "
              f"{'-' if s is None else f'{s.snr_db:.1f} dB ({s.n} cells, g {s.gain})'}; flip@1..5 "
              + "".join("x" if f.flipped else "." for f in res.flips) + "; saliency "
              + "".join("x" if f.flipped else "." for f in res.saliency)
              + f"; {res.queries} queries, {doc['seconds']:.0f} s", flush=True)
        (out / "whitebox.json").write_text(json.dumps({"args": vars(args), "clips": docs}, indent=1))
    print(f"{bad} mismatches in the saved WAVs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
