"""Does another model's gradient guide a black-box search? A transfer prior, measured.

    python research/transfer_prior.py CLIP... [--model msd-musicnn]
        [--labels-view genres] [--duration 10] [--surrogates mtt-musicnn msd-vgg mtt-vgg]

Black-box attacks on images often borrow a gradient from a surrogate model that is at hand
(transfer priors). Here the surrogates are the other built-in taggers under the same labels
view: each one's margin gradient for the target's label (matched by name; "-" when the
surrogate has no such label) orders the STFT cells by predicted drop per unit of energy, and
the shortest flipping prefix of 64-cell groups is removed and classified by the *target's*
``predict`` (the search of ``tile_ceiling.py``). The first column orders by the target's own
gradient (the white-box reference's first step); the last by the sum of the surrogates'
normalised gradients.
"""
from __future__ import annotations

import sys

import numpy as np

from tile_ceiling import Clip, white_box_model  # puts the repository and clip_args on the path
import freqrex_app as fx  # noqa: E402
from clip_args import clip_parser  # noqa: E402
from freqrex_app.engine import gradient as wb  # noqa: E402
from freqrex_app.engine.decision import Decision  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = clip_parser(__doc__)
    ap.add_argument("--surrogates", nargs="+", default=["mtt-musicnn", "msd-vgg", "mtt-vgg"])
    args = ap.parse_args(argv)
    model, forward = white_box_model(args)
    surrogates = {}
    for name in args.surrogates:
        s = fx.load_model(name, labels_view=args.labels_view)
        if s.sample_rate != model.sample_rate:
            raise SystemExit(f"{name} runs at {s.sample_rate} Hz, {args.model} at "
                             f"{model.sample_rate} Hz")
        surrogates[name] = (s, s)
    print("| clip | label | own gradient | " + " | ".join(surrogates) + " | sum of surrogates |")
    print("|---|---|---|" + "---|" * (len(surrogates) + 1))
    for path in args.clips:
        clip = Clip.load(path, model, forward, args.duration)
        energy = clip.masked.energy()

        def flip(grad: np.ndarray):
            order = wb.energy_order(grad, energy)
            return clip.flip([order[i:i + 64] for i in range(0, order.size, 64)])

        label = model.labels[clip.decision.target]
        cells, total = [flip(clip.grad)], 0.0
        for s, s_forward in surrogates.values():
            if label not in s.labels:
                cells.append("-")
                continue
            _, grad = wb.margin_gradient(s_forward, clip.masked, Decision(list(s.labels).index(label)))
            grad = grad / max(float(np.abs(grad).sum()), 1e-30)
            total = total + grad
            cells.append(flip(grad))
        cells.append(flip(total) if np.ndim(total) else "-")
        print(clip.row(model, cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
