"""Engine overhead: wall time vs time inside the model's predict, and peak memory.

A 30 s, 16 kHz clip (240,001 bins) is explained by a classifier of fixed cost per clip
(it sleeps ``--cost`` seconds per waveform, so the engine's own work is all that is left),
and optionally by a real built-in model (``--model msd-musicnn``). Both ratios come from one
run, because these machines are noisy. The time the models take beside ``predict`` is shown
apart from the search's own: the model of hearing scoring the sounds (Zimtohrli,
``Explanation.hearing_seconds``) and the classifier's gradient passes for the least audible
flips (``Explanation.gradient_seconds``). The engine's own overhead is the wall time over the
time in all three.

    python benchmarks/engine.py [--budget 1000] [--cost 0.1] [--model msd-musicnn]

With a real model it also times the first ``partial`` explanation of a 10 s excerpt (what
the page shows first while the search runs).
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import freqrex_app as fx


class FixedCost:
    """Says 'loud' when the clip's RMS is above a threshold; costs ``cost`` seconds per clip."""

    name = "fixed-cost"
    sample_rate = 16000
    labels = ["quiet", "loud"]

    def __init__(self, cost: float):
        self.cost = cost

    def predict(self, waves: np.ndarray) -> np.ndarray:
        time.sleep(self.cost * waves.shape[0])
        rms = np.sqrt(np.mean(waves.astype(np.float64) ** 2, axis=1))
        p = 1.0 / (1.0 + np.exp(-(rms - 0.05) * 200.0))
        return np.stack([1 - p, p], axis=1)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def music_like(seconds: float = 30.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A deterministic stand-in for music: harmonic notes over noise, RMS about 0.07."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.01 * rng.standard_normal(t.size)
    for f0 in (110.0, 164.8, 220.0, 329.6):
        for h in range(1, 6):
            x += 0.02 / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    return x.astype(np.float32)


def run(model, x: np.ndarray, budget: int, stft: bool) -> dict:
    before = rss_mb()
    t0 = time.perf_counter()
    exp = fx.explain(x, model, budget=budget, seed=0, stft=stft)
    wall = time.perf_counter() - t0
    return {"model": model.name, "stft": stft, "queries": exp.queries, "wall_s": wall,
            "predict_s": exp.predict_seconds, "ratio": wall / exp.predict_seconds,
            "hearing_s": exp.hearing_seconds, "gradient_s": exp.gradient_seconds,
            "search_ratio": (wall - exp.hearing_seconds) / exp.predict_seconds,
            "engine_ratio": wall / (exp.predict_seconds + exp.gradient_seconds
                                    + exp.hearing_seconds),
            "per_query_overhead_ms": 1e3 * (wall - exp.predict_seconds - exp.hearing_seconds
                                            - exp.gradient_seconds) / exp.queries,
            "rss_before_mb": before,
            "label": exp.label, "flip1": exp.flips[0].flipped if exp.flips else None}


class _First(Exception):
    pass


def first_partial_s(model, x: np.ndarray, budget: int) -> float:
    """Seconds from ``explain`` to its first ``partial`` (what the page shows first)."""
    t0 = time.perf_counter()

    def partial(_exp) -> None:
        raise _First(time.perf_counter() - t0)

    try:
        fx.explain(x, model, budget=budget, seed=0, partial=partial)
    except _First as first:
        return float(first.args[0])
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--cost", type=float, default=0.1, help="seconds per clip of the fixed-cost model")
    ap.add_argument("--model", default=None, help="also a real model, e.g. msd-musicnn")
    ap.add_argument("--audio", default=None, help="30 s of real music for the real model")
    args = ap.parse_args()

    x = music_like()
    rows = [run(FixedCost(args.cost), x, args.budget, stft=False),
            run(FixedCost(args.cost), x, args.budget, stft=True)]
    if args.model:
        model = fx.load_model(args.model)
        clip = (fx.load_audio(args.audio, model.sample_rate, duration=30.0).samples
                if args.audio else x)
        rows.append(run(model, clip, args.budget, stft=True))
        ten = clip[: 10 * model.sample_rate]
        firsts = [first_partial_s(model, ten, args.budget) for _ in range(2)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"30 s clip at 16 kHz ({x.size // 2 + 1} bins), budget {args.budget}, "
          f"fixed cost {args.cost * 1e3:.0f} ms per clip\n")
    print("| model | STFT | queries | wall s | in predict s | gradient passes s "
          "| hearing model s | wall / predict | without the hearing model "
          "| wall / (predict + gradients + hearing) | engine ms/query |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {'yes' if r['stft'] else 'no'} | {r['queries']} | "
              f"{r['wall_s']:.1f} | {r['predict_s']:.1f} | {r['gradient_s']:.1f} | "
              f"{r['hearing_s']:.1f} | {r['ratio']:.3f} | {r['search_ratio']:.3f} | "
              f"{r['engine_ratio']:.3f} | {r['per_query_overhead_ms']:.1f} |")
    print(f"\npeak RSS of the whole process: {peak:.0f} MB (after imports: "
          f"{rows[0]['rss_before_mb']:.0f} MB)")
    if args.model:
        print(f"first partial explanation (the page's first picture) of the first 10 s with "
              f"{args.model}: " + ", ".join(f"{t:.2f} s" for t in firsts))


if __name__ == "__main__":
    main()
