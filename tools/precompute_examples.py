"""Precompute the explanations of the example clips shipped with the app.

    python tools/precompute_examples.py [--model msd-musicnn] [--labels-view genres]
                                        [--budget 1000] [--seed 0] [--only STEM ...]

For each clip in ``assets/examples/examples.json`` it runs the engine on the whole clip and
keeps only ``explanation.json`` and ``sets.npz`` in ``assets/precomputed/<stem>/``: the app
rebuilds the sounds and figures from them (no model call), so the examples are instant and
work offline. The STFT map (the gradient's predicted drop per cell, dense) is kept to 3
significant digits and zero below a thousandth of its peak, invisible on the page's colour
scale, which halves the files (``--compact-only`` does just that to the files already there).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from freqrex_app import explain, load_audio, load_model  # noqa: E402
from freqrex_app.web.examples import PRECOMPUTED_DIR, list_examples  # noqa: E402


def compact(folder: Path) -> None:
    """Rewrite ``folder/sets.npz`` with its STFT map to 3 significant digits, zero below a
    thousandth of its peak (the other arrays as they are)."""
    import numpy as np

    arrays = dict(np.load(folder / "sets.npz"))
    m = arrays.get("stft_responsibility")
    if m is None or not m.size or float(m.max()) <= 0:
        return
    m = np.where(m >= float(m.max()) * 1e-3, m, 0).astype(np.float64)
    nz = m > 0
    scale = 10.0 ** (np.floor(np.log10(m[nz])) - 2)
    m[nz] = np.round(m[nz] / scale) * scale
    arrays["stft_responsibility"] = m.astype(np.float32)
    np.savez_compressed(folder / "sets.npz", **arrays)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None, help="stems of the clips to redo")
    ap.add_argument("--out", type=Path, default=PRECOMPUTED_DIR,
                    help="folder of the results (default: assets/precomputed)")
    ap.add_argument("--compact-only", action="store_true",
                    help="only compact the STFT maps of the results already in --out")
    args = ap.parse_args(argv)
    if args.compact_only:
        for folder in sorted(p for p in args.out.iterdir() if (p / "sets.npz").is_file()):
            compact(folder)
        return 0

    model = load_model(args.model, labels_view=args.labels_view)
    for ex in list_examples():
        if args.only and ex.stem not in args.only:
            continue
        audio = load_audio(ex.path, sample_rate=model.sample_rate)
        t0 = time.perf_counter()
        exp = explain(audio, model, budget=args.budget, seed=args.seed, stft=True)
        out = args.out / ex.stem
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            exp.save(tmp, figures=False)
            shutil.copyfile(Path(tmp) / "sets.npz", out / "sets.npz")
            # compact JSON: the STFT flip's cell list can be long
            meta = json.loads((Path(tmp) / "explanation.json").read_text())
            (out / "explanation.json").write_text(json.dumps(meta, separators=(",", ":")))
        compact(out)
        flips = " ".join(f"{f.k}:{'Y' if f.flipped else 'n'}" for f in exp.flips)
        print(f"{ex.stem}: {exp.label} ({exp.confidence:.2f}), {exp.queries} calls, "
              f"{time.perf_counter() - t0:.0f} s, flips {flips}, "
              f"stft {'Y' if exp.stft_flip else 'n'}, notes {exp.notes}", flush=True)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
