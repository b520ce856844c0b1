"""What the single-bin check (``verify``) and the greedy chain (``refine``) add on real music.

Each asset excerpt (``assets/examples``, 3 s cuts at several offsets) is explained by a
built-in tagger with the knobs on (the default), with the chain off, and with both off, at
the same budget and seed. Per setting: flip@1..5 (share of cuts whose label flips), the share
where the sufficient-and-necessary set was found, its median size, and seconds per cut.

    python benchmarks/knobs.py [--model msd-musicnn] [--budget 300] [--seconds 3] [--cuts 2]

``--music FILE ...`` takes one cut of each file instead (from ``--start`` seconds), for real
music that is not in the repository (``tools/fetch_music.py``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import freqrex_app as fx

ROOT = Path(__file__).resolve().parents[1] / "assets" / "examples"
SETTINGS = {"default": {}, "refine=0": {"refine": 0}, "verify=0 refine=0": {"verify": 0, "refine": 0}}


def cuts(model, seconds: float, n: int) -> list[tuple[str, np.ndarray]]:
    out = []
    for item in json.loads((ROOT / "examples.json").read_text()):
        for j in range(n):
            start = j * seconds  # the files are the excerpts themselves
            audio = fx.load_audio(ROOT / item["file"], sample_rate=model.sample_rate,
                                  start=start, duration=seconds)
            out.append((f"{item['file']}@{start:g}", audio))
    return out


def music_cuts(model, files: list[Path], start: float, seconds: float
               ) -> list[tuple[str, np.ndarray]]:
    return [(f"{f.name}@{start:g}", fx.load_audio(f, sample_rate=model.sample_rate, start=start,
                                                 duration=seconds)) for f in files]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--cuts", type=int, default=3, help="cuts per excerpt (files are 10 s)")
    ap.add_argument("--music", nargs="+", type=Path, help="one cut of each of these files")
    ap.add_argument("--start", type=float, default=30.0, help="where --music cuts start (s)")
    a = ap.parse_args()
    model = fx.load_model(a.model, labels_view=a.labels_view)
    clips = (music_cuts(model, a.music, a.start, a.seconds) if a.music
             else cuts(model, a.seconds, a.cuts))
    rows = {name: [] for name in SETTINGS}
    for clip, audio in clips:
        for name, settings in SETTINGS.items():
            t0 = time.perf_counter()
            exp = fx.explain(audio, model, budget=a.budget, seed=0, stft=False, **settings)
            row = {"clip": clip, "label": exp.label, "seconds": time.perf_counter() - t0,
                   "flips": [bool(f.flipped) for f in exp.flips],
                   "sn": None if exp.necessary is None else int(exp.necessary.index.size),
                   "top_r": [float(exp.responsibility[b]) for b in exp.ranking[:5]]}
            rows[name].append(row)
            print(name, json.dumps(row), flush=True)
    print(f"\n{a.model} ({a.labels_view}), {len(clips)} cuts of {a.seconds:g} s, budget {a.budget}")
    print("setting | flip@1 | flip@2 | flip@3 | flip@4 | flip@5 | SN found | median |SN| | s/cut")
    for name, rs in rows.items():
        flips = np.array([r["flips"] for r in rs], dtype=float)
        sn = [r["sn"] for r in rs if r["sn"] is not None]
        print(f"{name} | " + " | ".join(f"{100 * v:.0f}%" for v in flips.mean(axis=0))
              + f" | {100 * len(sn) / len(rs):.0f}% | {np.median(sn) if sn else float('nan'):.0f}"
              + f" | {np.mean([r['seconds'] for r in rs]):.1f}")


if __name__ == "__main__":
    main()
