"""One gradient pass of the least audible flips against one model call, per built-in model.

A gradient pass is ``engine.gradient.margin_gradient`` (``predict_torch`` forward and backward
through the space's reconstruction) on the rfft bins and on the STFT cells of a 10 s excerpt;
a model call is ``predict`` on the same excerpt. The two alternate, ``--repeats`` times each,
so their ratio comes from one run. ``--tree`` times another source tree of the engine (for
example an earlier commit from ``git archive``) in the same way.

    FREQREX_THREADS=1 python benchmarks/gradient_pass.py
    git archive e7107ac | (mkdir -p /tmp/e7107ac && tar -x -C /tmp/e7107ac)
    FREQREX_THREADS=1 python benchmarks/gradient_pass.py --tree /tmp/e7107ac
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree of the engine to time")
    ap.add_argument("--audio", type=Path, default=ROOT / "assets" / "examples")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.tree.resolve()))
    import numpy as np

    import freqrex_app as fx
    assert fx.__file__.startswith(str(args.tree.resolve())), fx.__file__
    from freqrex_app.engine.decision import Decision
    from freqrex_app.engine.spaces import FrequencySpace, StftSpace
    gradient = importlib.import_module("freqrex_app.engine.gradient")

    clip = args.audio if args.audio.is_file() else sorted(args.audio.glob("*.*"))[0]
    print(f"{args.tree.resolve()}, {clip.name}, 10 s")
    print("| model | gradient pass, bins, s | gradient pass, STFT, s | model call, s | pass / call |")
    print("|---|---|---|---|---|")
    for model_id in MODELS:
        model = fx.load_model(model_id)
        x = fx.load_audio(clip, sample_rate=model.sample_rate, duration=10.0).samples
        decision = Decision(int(np.argmax(model.predict(x[None])[0])), None)
        masked = [gradient.MaskedWave(s) for s in (FrequencySpace(x, model.sample_rate),
                                                   StftSpace(x, model.sample_rate, 1024, 256))]
        times: dict[str, list[float]] = {"bins": [], "stft": [], "call": []}
        for i in range(args.repeats + 1):  # the first round warms up
            for name, run in (("bins", lambda: gradient.margin_gradient(model, masked[0], decision)),
                              ("stft", lambda: gradient.margin_gradient(model, masked[1], decision)),
                              ("call", lambda: model.predict(x[None]))):
                c0 = time.process_time()
                run()
                if i:
                    times[name].append(time.process_time() - c0)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {model_id} | {med['bins']:.3f} | {med['stft']:.3f} | {med['call']:.3f} | "
              f"{(med['bins'] + med['stft']) / 2 / med['call']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
