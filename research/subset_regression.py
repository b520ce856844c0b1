"""Can random subsets teach a black-box search the drops of single-frame tiles?

    python research/subset_regression.py CLIP... [--calls 800] [--pool-db 30]
        [--rounds 1] [--model msd-musicnn] [--labels-view genres] [--duration 10]

`tile_ceiling.py` shows that a flip at 35 dB or more needs the drop (or at least the sign) of
single-frame tiles (64 mel bands x 1 frame). This measures the standard way a black-box attack
estimates many such effects at once: the faintest tiles whose total energy is ``--pool-db``
below the clip form a pool; each model call removes a random half of the pool; the drop of each
tile is estimated from the ``--calls`` margins by regression (the NES / SPSA estimator:
the covariance of the margin drop with the tile's membership). With ``--rounds`` above 1 the
calls are split, and each round keeps the half of the pool with the larger estimates. The
tiles are then removed in the order of estimated drop per energy and the shortest flipping
prefix is classified exactly by ``predict`` (same search as ``tile_ceiling.py``).

Beside it, from the white-box gradient (evaluation only): the correlation of the estimates
with each tile's first-order drop, the share of tiles whose sign is right, and the flip that
the exact drops give in the same pool and over all tiles.
"""
from __future__ import annotations

import sys

import numpy as np

from tile_ceiling import Clip, by_tile, tiles, white_box_model  # puts clip_args on the path
from clip_args import clip_parser


def estimate(clip: Clip, cells_of, pool: np.ndarray, calls: int, rounds: int,
             rng: np.random.Generator) -> np.ndarray:
    """Each pool tile's margin drop, estimated from random half-subsets removed (``calls``
    model calls in ``rounds``; each round keeps the upper half of the estimates)."""
    base = float(clip.decision.margin(clip.scores)[0])
    est = np.zeros(pool.max() + 1)
    active = pool
    for r in range(rounds):
        n = calls // rounds
        member = rng.random((n, active.size)) < 0.5
        waves = np.stack([clip.space.remove(np.concatenate([cells_of(t) for t in active[m]]))
                          for m in member])
        drop = base - clip.decision.margin(clip.oracle.classify(waves).scores)
        est[active] = (member - 0.5).T @ (drop - drop.mean()) / (n * 0.25)
        if r + 1 < rounds:
            active = active[est[active] > np.median(est[active])]
    return est[pool]


def main(argv: list[str] | None = None) -> int:
    ap = clip_parser(__doc__)
    ap.add_argument("--calls", type=int, default=800)
    ap.add_argument("--pool-db", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    model, forward = white_box_model(args)
    print("| clip | label | pool (tiles) | correlation | right sign | black-box estimates "
          "| exact drops, pool | exact drops, all tiles |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.clips:
        clip = Clip.load(path, model, forward, args.duration)
        energy = clip.masked.energy()
        tile_of = tiles(clip.space, 64, 1)
        order = np.argsort(tile_of, kind="stable")
        starts = np.searchsorted(tile_of[order], np.arange(tile_of.max() + 2))
        share = np.bincount(tile_of, energy) / energy.sum()
        exact = np.bincount(tile_of, -clip.grad)
        faint = np.argsort(share, kind="stable")
        pool = faint[:int(np.searchsorted(np.cumsum(share[faint]), 10 ** (-args.pool_db / 10)))]
        est = estimate(clip, lambda t: order[starts[t]:starts[t + 1]], pool, args.calls,
                       args.rounds, np.random.default_rng(args.seed))

        def in_pool(drop: np.ndarray) -> np.ndarray:
            ratio = np.zeros(share.size)
            ratio[pool] = drop / np.maximum(share[pool], 1e-30)
            return ratio

        corr = float(np.corrcoef(est, exact[pool])[0, 1])
        sign = float(np.mean((est > 0) == (exact[pool] > 0)))
        flips = [clip.flip(by_tile(tile_of, in_pool(est))),
                 clip.flip(by_tile(tile_of, in_pool(exact[pool]))),
                 clip.flip(by_tile(tile_of, exact / np.maximum(share, 1e-30)))]
        print(clip.row(model, [f"{pool.size:,}", f"{corr:.2f}", f"{sign:.0%}"] + flips), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
