"""What a coarse map of the model's sensitivity gives, when each cell's energy is known exactly.

    python benchmarks/evaluation/sensitivity_ceiling.py CLIP... [--model msd-musicnn]
        [--labels-view genres] [--duration 10]

A companion to ``tile_ceiling.py`` (same clips, same removal-only prefix search). A log-mel
tagger hears a change through the log of each mel band in each frame, so the drop of removing
a single-frame tile (mel band x 1 frame) is about its band's sensitivity times a factor that
depends on loudness, which is known without any model call. If the sensitivity were smooth, a
black-box search could measure it on a coarse grid of regions (one model call per region) and
take the loudness from the clip: that is the design tested here.

Each row orders the 64 x 1 tiles by (the mean drop per tile of the coarse region around the
tile) / (the tile's own energy). "exact" uses the white-box gradient (evaluation only) summed
per region; "measured" uses the model's exact margin drop when the whole region is removed
(one ``predict`` per region, as a black-box search would). The first column is the 64 x 1 tiles
with their own exact drops (``tile_ceiling.py``'s 64 x 1 column), the finest this design allows.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT / "evaluation"))

import freqrex_app as fx  # noqa: E402
from freqrex_app.engine.decision import Decision  # noqa: E402
from freqrex_app.engine.oracle import Oracle  # noqa: E402
from freqrex_app.engine.spaces import StftSpace  # noqa: E402
from freqrex_app.evaluation import whitebox as wb  # noqa: E402
from freqrex_app.evaluation.runner import clip_id  # noqa: E402
from freqrex_app.evaluation.torch_forward import torch_forward  # noqa: E402
from tile_ceiling import by_tile, shortest_flip, tiles  # noqa: E402

#: Coarse regions (bands, frames) over the 64 x 1 tiles; "measured" only up to MEASURED regions.
REGIONS = ((64, 16), (16, 16), (16, 64), (8, 64))
MEASURED = 200


def regions(n_bands: int, n_frames: int, rb: int, rf: int) -> np.ndarray:
    """Region of each 64 x 1 tile (flat ``band * n_frames + frame``): ``rb`` groups of bands x
    runs of ``rf`` frames."""
    band = np.arange(n_bands) * rb // n_bands
    seg = np.arange(n_frames) // rf
    return (band[:, None] * (seg[-1] + 1) + seg[None, :]).ravel()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args(argv)
    model = fx.load_model(args.model, labels_view=args.labels_view)
    forward, reason = torch_forward(model)
    if forward is None:
        raise SystemExit(reason)
    cols = [f"{b} x {f}, {kind}" for b, f in REGIONS for kind in ("exact", "measured")]
    print("| clip | label | 64 x 1, own drops | " + " | ".join(cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for clip in args.clips:
        x = fx.load_audio(clip, sample_rate=model.sample_rate, duration=args.duration).samples
        space = StftSpace(x, model.sample_rate)
        oracle = Oracle(model)
        target, conf, scores = oracle.classify_one(x)
        decision = Decision(target)
        base = float(decision.margin(scores)[0])
        masked = wb.MaskedWave(space)
        _, grad = wb.margin_gradient(forward, masked, target)
        tile_of = tiles(space, 64, 1)
        n_frames = space.shape[1]
        n_bands = int(tile_of.max()) // n_frames + 1
        drop = np.bincount(tile_of, -grad, minlength=n_bands * n_frames)
        energy = np.maximum(np.bincount(tile_of, masked.energy(), minlength=drop.size), 1e-30)
        rows = [shortest_flip(space, oracle, decision, by_tile(tile_of, drop / energy))]
        for rb, rf in REGIONS:
            region = regions(n_bands, n_frames, rb, rf)
            count = np.bincount(region)
            exact = np.bincount(region, drop) / count
            rows.append(shortest_flip(space, oracle, decision,
                                      by_tile(tile_of, exact[region] / energy)))
            if count.size > MEASURED:
                rows.append("-")
                continue
            cell_region = region[tile_of]
            waves = [space.remove(np.flatnonzero(cell_region == r)) for r in range(count.size)]
            drops = [base - decision.margin(oracle.classify(np.stack(waves[i:i + 32])).scores)
                     for i in range(0, len(waves), 32)]
            measured = np.concatenate(drops) / count
            rows.append(shortest_flip(space, oracle, decision,
                                      by_tile(tile_of, measured[region] / energy)))

        def cell(r) -> str:
            if isinstance(r, str):
                return r
            return "no flip" if r is None else f"{r[0]:.1f} dB ({r[1]:,})"

        print(f"| {clip_id(clip)[:32]} | {model.labels[target]} ({conf:.2f}) | "
              + " | ".join(cell(r) for r in rows) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
