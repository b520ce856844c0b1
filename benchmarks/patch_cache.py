#!/usr/bin/env python
"""The patch cache (``models.patches``): what it recomputes and what it saves, against the
full-recompute path (``without_patches``: every patch of every waveform), side by side in
one run.

    python benchmarks/patch_cache.py                                  # msd-musicnn, 10 s and 30 s
    python benchmarks/patch_cache.py --models msd-musicnn msd-vgg --durations 10 --budget 300
    python benchmarks/patch_cache.py --skip-explain                   # only the mutant workloads

1. **Workloads** (the model alone, no search): batches of ``--batch`` mutants of a real excerpt,
   classified with the cache (starting, as the engine does, from the clip itself) and by full
   recomputation, batch by batch in turn (so both see the same machine load): *time-local STFT removals* (a random block of STFT cells, 1 to 64 frames
   = 16 ms to 1 s, through the engine's ``StftSpace.remove``) and *rfft band removals* (every
   sample changes: nothing to reuse, so this measures the cache's own cost). Reported: patch
   evaluations per query, wall and process-CPU seconds of each path, and the largest score
   difference (must be <= 1e-6).
2. **Explanations** (``fx.explain``, the standard budget 1000, STFT on, same seed): cached and
   full-recompute, each stage's queries and patch evaluations (the stage is the one the
   progress callback names), wall and in-predict seconds, and whether the label, the ranking,
   flip-1..5 and the STFT flip are identical.

Excerpts: 10 s is ``assets/examples/metal.ogg``; 30 s is ``--long`` (default: metal,
electronic and orchestral end to end, 30 s of real music). Prints Markdown tables; rerun it
unchanged after an engine change.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import freqrex_app as fx  # noqa: E402
from freqrex_app.models import PatchCache, without_patches  # noqa: E402

EXAMPLES = ROOT / "assets" / "examples"


def excerpt(seconds: float, long: Path | None) -> np.ndarray:
    """``seconds`` of real music at 16 kHz (see the module docstring)."""
    if seconds <= 10 and long is None:
        return fx.load_audio(EXAMPLES / "metal.ogg", 16000, duration=seconds).samples
    if long is not None:
        return fx.load_audio(long, 16000, duration=seconds).samples
    parts = [fx.load_audio(EXAMPLES / f"{n}.ogg", 16000).samples for n in ("metal", "electronic", "orchestral")]
    return np.concatenate(parts)[: int(seconds * 16000)].astype(np.float32)


class Counted:
    """A model's hook and ``predict``, counting the patches each computes (for the stages)."""

    def __init__(self, model, hook: bool):
        self.model, self.evaluations = model, 0
        self.name, self.sample_rate, self.labels = model.name, model.sample_rate, model.labels
        self.labels_view = getattr(model, "labels_view", "all")
        self._per_wave = lambda n: len(model.patch_spans(n))
        if hook:
            self.patch_spans = model.patch_spans
            self.predict_patches = self._predict_patches

    def _predict_patches(self, waves, which):
        self.evaluations += len(which)
        return self.model.predict_patches(waves, which)

    def predict(self, waves):
        self.evaluations += waves.shape[0] * self._per_wave(waves.shape[1])
        return self.model.predict(waves)


def cpu_wall(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def warm_up(model, x: np.ndarray) -> None:
    """Run every chunk shape the network will see (1 .. max_patches patches) twice, so that
    neither path pays the one-off cost of a new shape inside its timing."""
    chunk = int(getattr(model, "max_patches", 4))
    for _ in range(2):
        for k in range(1, chunk + 1):
            model.predict_patches(x[None], np.array([(0, i % len(model.patch_spans(len(x)))) for i in range(k)]))
        model.predict(x[None])


# ----------------------------------------------------------------------------- workloads
def stft_removals(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    from freqrex_app.engine.spaces import StftSpace

    space = StftSpace(x, 16000, 1024, 256)
    n_freq, n_frames = space.shape
    waves = []
    for _ in range(count):
        width = int(rng.integers(1, 65))
        t0 = int(rng.integers(0, n_frames - width))
        f0 = int(rng.integers(0, n_freq - 8))
        f1 = int(rng.integers(f0 + 8, n_freq + 1))
        f, t = np.meshgrid(np.arange(f0, f1), np.arange(t0, t0 + width), indexing="ij")
        waves.append(space.remove((f * n_frames + t).ravel()))
    return np.stack(waves)


def band_removals(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(x.astype(np.float64))
    waves = []
    for _ in range(count):
        s = spec.copy()
        lo = int(rng.integers(0, len(s) - 10))
        s[lo:lo + int(rng.integers(1, min(5000, len(s) - lo)))] = 0
        waves.append(np.fft.irfft(s, n=len(x)).astype(np.float32))
    return np.stack(waves)


def workload(model, x: np.ndarray, waves: np.ndarray, batch: int) -> dict:
    per_wave = len(model.patch_spans(len(x)))
    cache = PatchCache(model)

    clocks = {"cached": [0.0, 0.0], "full": [0.0, 0.0]}
    out: dict[str, list[np.ndarray]] = {"cached": [], "full": []}

    def timed(path, fn, w):
        t0, c0 = time.perf_counter(), time.process_time()
        out[path].append(fn(w))
        clocks[path][0] += time.perf_counter() - t0
        clocks[path][1] += time.process_time() - c0

    timed("cached", cache.predict, x[None])
    timed("full", model.predict, x[None])
    for i in range(0, len(waves), batch):  # interleaved, batch by batch: the same machine load
        timed("cached", cache.predict, waves[i:i + batch])
        timed("full", model.predict, waves[i:i + batch])
    a, b = np.concatenate(out["cached"]), np.concatenate(out["full"])
    (wall_c, cpu_c), (wall_f, cpu_f) = clocks["cached"], clocks["full"]
    queries = len(waves) + 1
    return {"queries": queries, "per_wave": per_wave, "evals_per_query": cache.evaluations / queries,
            "wall_c": wall_c, "wall_f": wall_f, "cpu_c": cpu_c, "cpu_f": cpu_f,
            "maxdiff": float(np.abs(a - b).max())}


# ----------------------------------------------------------------------------- explanations
def explain(model, x: np.ndarray, budget: int, seed: int, hook: bool) -> dict:
    counted = Counted(model, hook)
    stages: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # stage -> [queries, evaluations]
    seen = {"queries": 0, "evals": 0}

    def progress(_frac, message):
        stage, _, rest = message.rpartition(" (")
        queries = int(rest.split()[0])
        if queries > seen["queries"]:
            stages[stage][0] += queries - seen["queries"]
            stages[stage][1] += counted.evaluations - seen["evals"]
            seen.update(queries=queries, evals=counted.evaluations)

    t0, c0 = time.perf_counter(), time.process_time()
    exp = fx.explain(x, counted if hook else without_patches(counted), budget=budget, seed=seed,
                     stft=True, progress=progress)
    return {"exp": exp, "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "predict": exp.predict_seconds, "stages": dict(stages), "evaluations": counted.evaluations,
            "per_wave": len(model.patch_spans(len(x)))}


def same(a, b) -> bool:
    fa, fb = a.flips, b.flips
    sa, sb = a.stft_flip, b.stft_flip
    return (a.label == b.label and np.array_equal(a.ranking, b.ranking)
            and [f.flipped for f in fa] == [f.flipped for f in fb]
            and [f.label for f in fa] == [f.label for f in fb]
            and (sa is None) == (sb is None)
            and (sa is None or (sa.flipped == sb.flipped and np.array_equal(sa.index, sb.index))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=["msd-musicnn"])
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--durations", nargs="*", type=float, default=[10.0, 30.0])
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mutants", type=int, default=96, help="mutants per workload")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--long", type=Path, default=None, help="audio file for excerpts longer than 10 s")
    ap.add_argument("--skip-explain", action="store_true")
    ap.add_argument("--skip-workloads", action="store_true")
    args = ap.parse_args(argv)

    import torch

    load0 = os.getloadavg()[0]
    work_rows, exp_rows = [], []
    for model_id in args.models:
        model = fx.load_model(model_id, labels_view=args.labels_view, device="cpu")
        for d in args.durations:
            x = excerpt(d, args.long)
            warm_up(model, x)
            if not args.skip_workloads:
                rng = np.random.default_rng(args.seed)
                for name, make in (("time-local STFT removals", stft_removals), ("rfft band removals", band_removals)):
                    r = workload(model, x, make(x, args.mutants, rng), args.batch)
                    work_rows.append((model_id, d, name, r))
                    print(f"{model_id} {d:.0f}s {name}: {r}", file=sys.stderr, flush=True)
            if not args.skip_explain:
                full = explain(model, x, args.budget, args.seed, hook=False)
                cached = explain(model, x, args.budget, args.seed, hook=True)
                exp_rows.append((model_id, d, cached, full, same(cached["exp"], full["exp"])))
                print(f"{model_id} {d:.0f}s explain: cached {cached['wall']:.1f} s "
                      f"({cached['predict']:.1f} in predict), full {full['wall']:.1f} s ({full['predict']:.1f}); "
                      f"identical: {exp_rows[-1][4]}; cached stages (queries, patch evaluations): "
                      f"{cached['stages']}", file=sys.stderr, flush=True)

    print(f"\n{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; view "
          f"{args.labels_view}, seed {args.seed}\n")
    if work_rows:
        print(f"Workloads ({args.mutants} mutants + the clip, batches of {args.batch}):\n")
        print("| model | excerpt | mutants | patches per wave | patch evaluations per query | "
              "cached wall s (CPU s) | full wall s (CPU s) | cached / full (wall) | max abs score diff |")
        print("|---|---|---|---|---|---|---|---|---|")
        for model_id, d, name, r in work_rows:
            print(f"| {model_id} | {d:.0f} s | {name} | {r['per_wave']} | {r['evals_per_query']:.2f} | "
                  f"{r['wall_c']:.1f} ({r['cpu_c']:.1f}) | {r['wall_f']:.1f} ({r['cpu_f']:.1f}) | "
                  f"{r['wall_c'] / r['wall_f']:.2f} | {r['maxdiff']:.1e} |")
    if exp_rows:
        print(f"\nExplanations (budget {args.budget}, STFT on), cached vs full recompute:\n")
        print("| model | excerpt | path | wall s | in predict s | CPU s | patch evaluations per query | "
              "cached / full (wall) | same label, ranking and flips |")
        print("|---|---|---|---|---|---|---|---|---|")
        for model_id, d, c, f, ok in exp_rows:
            for name, r in (("full", f), ("cached", c)):
                q = r["exp"].queries
                print(f"| {model_id} | {d:.0f} s | {name} | {r['wall']:.1f} | {r['predict']:.1f} | {r['cpu']:.1f} | "
                      f"{r['evaluations'] / q:.2f} of {r['per_wave']} | "
                      f"{c['wall'] / f['wall']:.2f} | {'yes' if ok else 'NO'} |")
        print("\nPer stage (cached path): queries, patch evaluations, evaluations per query\n")
        print("| model | excerpt | stage | queries | patch evaluations | per query |")
        print("|---|---|---|---|---|---|")
        for model_id, d, c, _f, _ok in exp_rows:
            for stage, (q, e) in c["stages"].items():
                print(f"| {model_id} | {d:.0f} s | {stage} | {q} | {e} | {e / max(q, 1):.2f} of {c['per_wave']} |")
    bad = [r for r in exp_rows if not r[4]] + [r for r in work_rows if r[3]["maxdiff"] > 1e-6]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
