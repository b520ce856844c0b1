"""Least audible flips of one model in two ``freqrex evaluate`` folders, clip by clip.

    python benchmarks/evaluation/paired_snr.py benchmarks/evaluation/msd-30s-b1000 \
        benchmarks/evaluation/all4-10s-b1000 [--model msd-musicnn]

Prints a Markdown row per clip of A (label, A's STFT flip, quiet flip and quietest-cells gate,
calls, seconds, and B's STFT flip on the same clip), then, for each flip, the share of A's clips
that flip, the median SNR of the flips and the shares at 30 / 35 / 40 dB, in A and in B on the
same clips. Made for the 30 s run against the 10 s run (`docs/evaluation.md`, "The whole 30 s").
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FLIPS = (("stft", "STFT flip"), ("quiet", "quiet flip"), ("quietest_stft", "noise gate"))


def rows(out: Path, model: str) -> dict[str, dict]:
    """The folder's rows of ``model`` by clip: its ``rows.json``, or ``runs/`` while it runs."""
    if (out / "rows.json").exists():
        found = json.loads((out / "rows.json").read_text())
    else:
        found = [json.loads(p.read_text()) for p in (out / "runs" / model).glob("*/row.json")]
    return {r["clip"]: r for r in sorted(found, key=lambda r: r["clip"]) if r["model"] == model}


def snr(row: dict, key: str) -> float | None:
    return row[f"{key}_snr"] if row.get(f"{key}_flip") else None


def fmt(x: float | None) -> str:
    return "no flip" if x is None else f"{x:.1f} dB"


def shares(values: list[float | None]) -> str:
    flips = [x for x in values if x is not None]
    n = len(values)
    med = f"{np.median(flips):.1f} dB" if flips else "-"
    at = " / ".join(f"{100 * sum(x >= t for x in flips) / n:.0f}" for t in (30, 35, 40))
    return f"{100 * len(flips) / n:.0f}%, {med}, {at}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--model", default="msd-musicnn")
    args = ap.parse_args()
    a, b = rows(args.a, args.model), rows(args.b, args.model)
    shared = [c for c in a if c in b]
    print(f"| clip | label | STFT flip | quiet flip | noise gate | calls | s | STFT flip in "
          f"{args.b.name} |")
    print("|---|---|---|---|---|---|---|---|")
    for c in shared:
        r = a[c]
        print(f"| {c[:3]} {c.split('_')[1]} | {r['label']} ({r['confidence']:.2f}) | "
              + " | ".join(fmt(snr(r, k)) for k, _ in FLIPS)
              + f" | {r['queries']} | {r['seconds']:.0f} | {fmt(snr(b[c], 'stft'))} |")
    print(f"\n| {len(shared)} clips: flips, median, >= 30 / 35 / 40 dB | "
          + " | ".join(name for _, name in FLIPS) + " |")
    print("|---|---|---|---|")
    for name, rs in ((args.a.name, a), (args.b.name, b)):
        print(f"| {name} | " + " | ".join(shares([snr(rs[c], k) for c in shared]) for k, _ in FLIPS)
              + " |")


if __name__ == "__main__":
    main()
