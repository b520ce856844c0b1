"""Experiment (issue 5, item 4): rank bins by responsibility for *flipping under removal*.

The engine's search (SPEC section 2) measures responsibility in "keep" mutants: all but the
kept parts are removed, and a part is responsible when keeping it is needed to keep the
label. Flip-k asks the opposite question: which bins, *removed from the full spectrum*,
change the label. This script runs the engine's own ``responsibility_search`` unchanged on a
wrapped model that hears ``x - w`` instead of ``w`` (the search's mutants are linear in the
kept parts, so ``x - keep(K)`` is exactly the full clip with K removed) and answers
"flipped" / "not flipped". The search then finds the smallest sets of parts whose *removal*
flips the label, refining down to single bins, and its ranking drives flip-k on the real
model (each flip classified on its own, as the engine does).

    python research/removal_search.py /tmp/freqrex_clips --limit 8 \
        --duration 3 --budget 150 --out /tmp/freqrex_eval/removal

Writes ``rows.json`` (per clip: label, flips at k=1..5 with SNR, queries, finest width).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import freqrex_app as fx
from freqrex_app.engine.explain import rank
from freqrex_app.engine.manipulations import flip_k
from freqrex_app.engine.oracle import Oracle
from freqrex_app.engine.search import responsibility_search
from freqrex_app.engine.spaces import FrequencySpace
from freqrex_app.evaluation.cli import collect_clips


class Removed:
    """Hears ``x - w`` (w = the search's keep-mutant): label 1 ('flipped') when the model's
    top-1 on the clip with those parts removed is not ``target``."""

    def __init__(self, model, x: np.ndarray, target: int):
        self.model, self.x, self.target = model, x.astype(np.float32), target
        self.name = f"removed({model.name})"
        self.sample_rate = model.sample_rate
        self.labels = ["kept", "flipped"]

    def predict(self, waves: np.ndarray) -> np.ndarray:
        s = np.asarray(self.model.predict(np.ascontiguousarray(self.x[None] - waves)), dtype=np.float64)
        t = s[:, self.target]
        other = np.delete(s, self.target, axis=1).max(axis=1)
        return np.stack([t, other], axis=1).astype(np.float32)  # argmax 1 <=> another label wins


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--budget", type=int, default=150, help="queries of the search")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = fx.load_model(a.model, labels_view=a.labels_view)
    rows_path = out / "rows.json"
    rows = json.loads(rows_path.read_text()) if rows_path.exists() else []
    done = {r["clip"] for r in rows}
    for clip in collect_clips(a.clips)[: a.limit]:
        name = Path(clip).stem
        if name in done:
            continue
        t0 = time.perf_counter()
        audio = fx.load_audio(clip, sample_rate=model.sample_rate, duration=a.duration)
        x = audio.samples
        real = Oracle(model)
        target, conf, _ = real.classify_one(x)
        wrapped = Removed(model, x, target)
        space = FrequencySpace(x, model.sample_rate)
        oracle = Oracle(wrapped, a.budget)
        row = {"clip": name, "label": model.labels[target], "confidence": conf,
               "budget": a.budget, "duration": a.duration}
        if wrapped.predict(x[None])[0].argmax() != 1:  # x - x: everything removed
            row["note"] = "removing everything keeps the label: no removal search"
            ranking = rank(np.zeros(space.n_features), space.magnitude)
            found = None
        else:
            found = responsibility_search(space, oracle, 1, seed=a.seed, budget=a.budget,
                                          iterations=1, extend=True)
            ranking = rank(found.responsibility, space.magnitude)
        flips = flip_k(space, real, ranking, target)
        for f in flips:
            row[f"flip_{f.k}"] = bool(f.flipped)
            row[f"snr_{f.k}"] = float(f.snr_db)
            row[f"label_{f.k}"] = model.labels[f.label]
            row[f"bins_{f.k}"] = [int(b) for b in f.index]
            fx.write_wav(out / name / f"flip_{f.k}.wav", f.wave, model.sample_rate)
        row["search_queries"] = oracle.queries
        row["flip_queries"] = real.queries - 1
        if found is not None:
            row["finest_width"] = found.finest_width
            row["max_depth"] = found.max_depth
            row["iterations"] = found.iterations
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        rows_path.write_text(json.dumps(rows, indent=1))
        print(name, row["label"], "".join("x" if row[f"flip_{k}"] else "." for k in range(1, 6)),
              f"{row['seconds']:.0f}s", flush=True)
    n = len(rows)
    for k in range(1, 6):
        print(f"flip@{k}: {sum(r[f'flip_{k}'] for r in rows)}/{n}")


if __name__ == "__main__":
    main()
