"""The planted overdetermined cases of tests/test_responsibility.py over more seeds.

Either of two, either of three and (A and B) or C, each over the three generated beds and the
seeds given: the planted bins must head the ranking with the degree the definition gives, the
next bin below it, and flip-k first flip when every tone that must go is gone. ``--parts 4``
runs the search with the former 4-way split instead of the binary one, for comparison.

    python benchmarks/planted_sweep.py [--seeds 3-10] [--budget 1000] [--parts 2]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import freqrex_app as fx  # noqa: E402
from freqrex_app.engine import spaces  # noqa: E402
from test_responsibility import BEDS, first_flip, planted_case  # noqa: E402

#: rule -> (degree of each planted bin, how many, the k at which flip-k may first flip)
WANT = {"any2": (0.5, 2, (2,)), "any3": (1 / 3, 3, (3,)), "ab|c": (0.5, 3, (2, 3))}


def split_in(parts: int):
    def split(self, region, rng, min_width):
        lo, hi = region
        out, at = [], lo
        for w in spaces.split_widths(hi - lo, rng, min_width, parts=parts):
            out.append((at, at + w))
            at += w
        return out
    return split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="3-10", help="first-last (default 3-10)")
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--parts", type=int, default=2, help="parts per split (default 2)")
    a = ap.parse_args()
    lo, hi = (int(v) for v in a.seeds.split("-"))
    spaces.FrequencySpace.split = split_in(a.parts)
    passed = {rule: 0 for rule in WANT}
    runs = {rule: 0 for rule in WANT}
    for rule, kind, seed in itertools.product(WANT, BEDS, range(lo, hi + 1)):
        degree, n, ks = WANT[rule]
        x, model, planted = planted_case(rule, kind, seed)
        exp = fx.explain(x, model, budget=a.budget, seed=seed, stft=False)
        ok = (set(exp.ranking[:n].tolist()) == set(planted)
              and np.allclose(exp.responsibility[planted], degree)
              and exp.responsibility[exp.ranking[n]] < degree and first_flip(exp) in ks)
        runs[rule] += 1
        passed[rule] += ok
        if not ok:
            top = exp.ranking[:5]
            print(f"miss {rule} {kind} seed {seed}: planted {planted}, top {top.tolist()} "
                  f"R {np.round(exp.responsibility[top], 3).tolist()}, "
                  f"first flip {first_flip(exp)}", flush=True)
    print(f"{a.parts}-way split, budget {a.budget}, seeds {a.seeds}: "
          + ", ".join(f"{rule} {passed[rule]}/{runs[rule]}" for rule in WANT))


if __name__ == "__main__":
    main()
