"""A standard explanation's time on two versions of the engine, paired clip by clip.

Each clip gets one standard explanation (budget 1000, STFT on, seed 0, the default settings of
each version) from the engine in ``--before`` (a source tree of an earlier commit) and from this
one, each in a fresh process, in turn, the first of the pair alternating from clip to clip. The
ratio now / before of each clip's CPU seconds comes from one run on one machine.

    git archive 722d22e | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    FREQREX_THREADS=1 python benchmarks/before_after.py /tmp/freqrex_clips/*.flac \\
        --before /tmp/before --out /tmp/before_after

Resumable: a clip and engine already in ``--out`` is skipped. ``--report`` only re-reads the
folder and prints the table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter with the engine's tree first on the path; prints one JSON line.
TIME_ONE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import freqrex_app as fx
assert fx.__file__.startswith(sys.argv[1]), fx.__file__
clip, model_name, view, duration, budget = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
m = fx.load_model(model_name, labels_view=view)
a = fx.load_audio(clip, sample_rate=m.sample_rate, duration=duration)
m.predict(a.samples[None, :m.sample_rate * 3])
t0, c0 = time.perf_counter(), time.process_time()
e = fx.explain(a, m, budget=budget, seed=0)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                  "queries": e.queries, "gradients": getattr(e, "gradients", 0),
                  "predict_seconds": e.predict_seconds, "label": e.label}))
"""

ENGINES = ("before", "now")


def time_one(tree: Path, clip: Path, args) -> dict:
    out = subprocess.run([sys.executable, "-c", TIME_ONE, str(tree.resolve()), str(clip),
                          args.model, args.labels_view, str(args.duration), str(args.budget)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(rows: dict[str, dict[str, dict]]) -> str:
    pairs = {c: r for c, r in rows.items() if all(e in r for e in ENGINES)}
    if not pairs:
        return "no clip has both engines yet"
    lines = ["| clip | before, CPU s | now, CPU s | now / before | queries before / now |",
             "|---|---|---|---|---|"]
    ratios = []
    for clip, r in sorted(pairs.items()):
        ratio = r["now"]["cpu_seconds"] / r["before"]["cpu_seconds"]
        ratios.append(ratio)
        lines.append(f"| {clip[:3]} | {r['before']['cpu_seconds']:.1f} | {r['now']['cpu_seconds']:.1f} "
                     f"| {ratio:.2f} | {r['before']['queries']} / {r['now']['queries']} |")
    med = {e: statistics.median(r[e]["cpu_seconds"] for r in pairs.values()) for e in ENGINES}
    lines.append("")
    lines.append(f"{len(pairs)} clips. CPU now / before, paired by clip: median "
                 f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}); "
                 f"median CPU s {med['before']:.1f} before, {med['now']:.1f} now.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--before", type=Path, required=True, help="source tree of the earlier engine")
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--report", action="store_true", help="only print the table of --out")
    args = ap.parse_args(argv)
    trees = {"before": args.before, "now": ROOT}
    rows: dict[str, dict[str, dict]] = {}
    for i, clip in enumerate(args.clips):
        order = ENGINES if i % 2 == 0 else ENGINES[::-1]
        for engine in order:
            path = args.out / clip.stem / f"{engine}.json"
            if path.is_file():
                row = json.loads(path.read_text())
            elif args.report:
                continue
            else:
                row = time_one(trees[engine], clip, args)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(row))
                print(f"{clip.stem} {engine}: {row['cpu_seconds']:.1f} CPU s", flush=True)
            rows.setdefault(clip.stem, {})[engine] = row
    print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
