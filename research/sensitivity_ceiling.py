"""What a coarse map of the model's sensitivity gives, when each cell's energy is known exactly.

    python research/sensitivity_ceiling.py CLIP... [--model msd-musicnn]
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

import sys

import numpy as np

from tile_ceiling import Clip, by_tile, tiles, white_box_model  # puts clip_args on the path
from clip_args import clip_parser

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
    args = clip_parser(__doc__).parse_args(argv)
    model, forward = white_box_model(args)
    cols = [f"{b} x {f}, {kind}" for b, f in REGIONS for kind in ("exact", "measured")]
    print("| clip | label | 64 x 1, own drops | " + " | ".join(cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for path in args.clips:
        clip = Clip.load(path, model, forward, args.duration)
        base = float(clip.decision.margin(clip.scores)[0])
        tile_of = tiles(clip.space, 64, 1)
        n_frames = clip.space.shape[1]
        n_bands = int(tile_of.max()) // n_frames + 1
        drop = np.bincount(tile_of, -clip.grad, minlength=n_bands * n_frames)
        energy = np.maximum(np.bincount(tile_of, clip.masked.energy(), minlength=drop.size), 1e-30)
        rows = [clip.flip(by_tile(tile_of, drop / energy))]
        for rb, rf in REGIONS:
            region = regions(n_bands, n_frames, rb, rf)
            count = np.bincount(region)
            exact = np.bincount(region, drop) / count
            rows.append(clip.flip(by_tile(tile_of, exact[region] / energy)))
            if count.size > MEASURED:
                rows.append("-")
                continue
            cell_region = region[tile_of]
            waves = np.stack([clip.space.remove(np.flatnonzero(cell_region == r))
                              for r in range(count.size)])
            measured = (base - clip.decision.margin(clip.oracle.classify(waves).scores)) / count
            rows.append(clip.flip(by_tile(tile_of, measured[region] / energy)))
        print(clip.row(model, rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
