"""What a tile-level search can reach: the STFT flip when every tile's linear drop is *known*.

    python research/tile_ceiling.py CLIP... [--model msd-musicnn]
        [--labels-view genres] [--duration 10] [--tilings 64x1 64x8 8x1 ...]

The engine's least audible flip is black-box: it measures the margin drop of removing groups
of STFT cells (tiles: mel bands x runs of frames) and removes the tiles with the largest drop
per unit of energy. This asks how much that design can give at best. For a torch model, the
margin's gradient through the inverse STFT (the white-box reference of SPEC section 4,
evaluation only) gives every cell's first-order drop; summed per tile, it is the drop a
perfect black-box measurement of that tile would see. Tiles are then removed in the order of
drop per energy and the shortest flipping prefix (gallop and bisection, removal, no
re-linearisation) is classified exactly by ``predict``. Reported per tiling: the SNR of that
flip and the cells it removes. The first row orders single cells (the white-box reference's
first step at gain 0). A row of "sign only" orders the tiles with a positive drop quietest
first: what knowing only the sign of each tile's effect gives.

It shows the resolution a search needs: with exact drops, tiles of 8 frames lose several dB
against single frames, and boxes that a budget of hundreds of calls can measure lose more.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "evaluation"))  # clip_args

import freqrex_app as fx  # noqa: E402
from freqrex_app.engine.decision import Decision  # noqa: E402
from freqrex_app.engine.manipulations import snr_db  # noqa: E402
from freqrex_app.engine.oracle import Oracle  # noqa: E402
from freqrex_app.engine.quiet import mel_edges  # noqa: E402
from freqrex_app.engine.spaces import StftSpace  # noqa: E402
from freqrex_app.engine import gradient as wb  # noqa: E402
from freqrex_app.models.base import differentiable  # noqa: E402
from freqrex_app.evaluation.runner import clip_id  # noqa: E402
from clip_args import clip_parser  # noqa: E402

#: (mel bands, frames per tile) by default; 64 x 8 is the engine's tiling.
TILINGS = ((64, 1), (96, 1), (64, 4), (64, 8), (32, 4), (16, 32))


def tiles(space: StftSpace, n_bands: int, frames: int) -> np.ndarray:
    """Flat tile index of every cell: mel band x run of ``frames`` frames."""
    n_freq, n_frames = space.shape
    edges = mel_edges(n_freq, space.sample_rate, space.sample_rate / space.n_fft, n_bands)
    band = np.repeat(np.arange(edges.size - 1), np.diff(edges))
    segment = np.arange(n_frames) // frames
    return (band[:, None] * (segment[-1] + 1) + segment[None, :]).ravel()


def shortest_flip(space, oracle: Oracle, decision: Decision, groups: list[np.ndarray]):
    """(SNR, cells) of the shortest flipping prefix of ``groups`` removed, or None."""
    index = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
    ends = np.cumsum([g.size for g in groups])
    seen: dict[int, tuple[bool, float]] = {}

    def test(k: int) -> bool:
        wave = space.remove(index[:ends[k - 1]])
        flipped = bool(decision.changed(oracle.classify_one(wave)[2])[0])
        seen[k] = (flipped, snr_db(space.wave, wave))
        return seen[k][0]

    n, fail, k = len(groups), 0, 1
    if n == 0:
        return None
    while not test(k):
        fail = k
        if k >= n:
            return None
        k = min(n, 2 * k)
    ok = k
    while ok - fail > max(1, int(0.02 * ok)):
        mid = (ok + fail) // 2
        ok, fail = (mid, fail) if test(mid) else (ok, mid)
    return seen[ok][1], int(ends[ok - 1])


def by_tile(tile_of: np.ndarray, score: np.ndarray) -> list[np.ndarray]:
    """Cells of the tiles with a positive score, tiles in descending score."""
    order = np.argsort(tile_of, kind="stable")
    starts = np.searchsorted(tile_of[order], np.arange(tile_of.max() + 2))
    chosen = np.flatnonzero(score > 0)
    chosen = chosen[np.argsort(-score[chosen], kind="stable")]
    return [order[starts[t]:starts[t + 1]] for t in chosen]


def white_box_model(args):
    """The model the arguments name, twice: it is its own differentiable forward (exits when
    it has none)."""
    model = fx.load_model(args.model, labels_view=args.labels_view)
    if not differentiable(model):
        raise SystemExit(f"{args.model} has no differentiable forward (predict_torch)")
    return model, model


@dataclass
class Clip:
    """One clip's STFT, the model's label and the gradient of its margin over the cells."""

    path: str
    space: StftSpace
    oracle: Oracle
    decision: Decision
    confidence: float
    scores: np.ndarray
    masked: wb.MaskedWave
    grad: np.ndarray

    @classmethod
    def load(cls, path: str, model, forward, duration: float) -> "Clip":
        x = fx.load_audio(path, sample_rate=model.sample_rate, duration=duration).samples
        space = StftSpace(x, model.sample_rate)
        oracle = Oracle(model)
        target, conf, scores = oracle.classify_one(x)
        masked = wb.MaskedWave(space)
        _, grad = wb.margin_gradient(forward, masked, Decision(target))
        return cls(path, space, oracle, Decision(target), conf, scores, masked, grad)

    def flip(self, groups: list[np.ndarray]):
        """``shortest_flip`` of ``groups`` on this clip."""
        return shortest_flip(self.space, self.oracle, self.decision, groups)

    def row(self, model, cells: list) -> str:
        """A table row: the clip, its label and each flip's SNR (cells changed)."""
        def cell(r) -> str:
            if isinstance(r, str):
                return r
            return "no flip" if r is None else f"{r[0]:.1f} dB ({r[1]:,})"

        return (f"| {clip_id(self.path)[:32]} | {model.labels[self.decision.target]} "
                f"({self.confidence:.2f}) | " + " | ".join(cell(r) for r in cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = clip_parser(__doc__)
    ap.add_argument("--tilings", nargs="+", metavar="BANDSxFRAMES",
                    default=[f"{b}x{f}" for b, f in TILINGS])
    args = ap.parse_args(argv)
    tilings = [tuple(map(int, t.split("x"))) for t in args.tilings]
    model, forward = white_box_model(args)
    print("| clip | label | cells (white-box step 0) | "
          + " | ".join(f"{b} x {f}" for b, f in tilings) + " | 64 x 1, sign only |")
    print("|---|---|---|" + "---|" * (len(tilings) + 1))
    for path in args.clips:
        clip = Clip.load(path, model, forward, args.duration)
        energy = clip.masked.energy()
        drop = -clip.grad
        order = wb.energy_order(clip.grad, energy)
        cells = [clip.flip([order[i:i + 64] for i in range(0, order.size, 64)])]
        rows = []
        for n_bands, frames in tilings:
            tile_of = tiles(clip.space, n_bands, frames)
            d, e = np.bincount(tile_of, drop), np.bincount(tile_of, energy)
            rows.append(clip.flip(by_tile(tile_of, d / np.maximum(e, 1e-30))))
        tile_of = tiles(clip.space, 64, 1)
        d, e = np.bincount(tile_of, drop), np.bincount(tile_of, energy)
        rows.append(clip.flip(by_tile(tile_of, np.where(d > 0, 1.0 / np.maximum(e, 1e-30), 0.0))))
        print(clip.row(model, cells + rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
