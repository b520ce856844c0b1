"""Why FreqReX flips or does not (issue 5, item 4): numbers from ``freqrex evaluate`` outputs.

    python research/analyse.py OUT_DIR [OUT_DIR ...] [--removal DIR] > analysis.md

For each evaluation folder: flip@k per method, the search's resolution (finest part width and
depth reached by the frequency and STFT searches, from each explanation.json), the queries
left for each stage, the top-1 margins, |SN| as a count of bins, and the STFT flip's SNR.
When several folders share clips, the paired comparison on the shared clips is printed
(e.g. ``--fill 0.5`` against the default). ``--removal`` adds the rows of
``removal_search.py``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

KS = range(1, 6)


def load(out: Path) -> dict[str, dict]:
    rows = {}
    for p in sorted(out.glob("runs/*/*/row.json")):
        r = json.loads(p.read_text())
        e = json.loads((p.parent / "explanation.json").read_text())
        r["_search"] = e.get("search", {})
        rows[f"{r['model']}/{r['clip']}"] = r
    return rows


def med(xs):
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else float("nan")


def describe(name: str, rows: dict[str, dict]) -> list[str]:
    rs = list(rows.values())
    n = len(rs)
    out = [f"### {name} ({n} clips; settings {json.dumps(rs[0]['settings']) if rs else ''})", ""]
    if not rs:
        return out
    out.append("| method | " + " | ".join(f"flip@{k}" for k in KS) + " |")
    out.append("|---|" + "---|" * 5)
    for m in ("freqrex", "random", "loudest", "occlusion"):
        out.append(f"| {m} | " + " | ".join(f"{sum(bool(r[f'{m}_flip_{k}']) for r in rs)}/{n}" for k in KS) + " |")
    fs = [r["_search"].get("frequency", {}) for r in rs]
    ss = [r["_search"].get("stft", {}) for r in rs]
    out += ["",
            f"- frequency search: median {med([f.get('queries') for f in fs]):.0f} queries, finest part "
            f"{med([f.get('finest_width') for f in fs]):.0f} bins (min {min(f.get('finest_width', 0) for f in fs)}),"
            f" depth {med([f.get('max_depth') for f in fs]):.0f}, {med([f.get('nodes') for f in fs]):.0f} nodes,"
            f" {med([f.get('iterations') for f in fs]):.0f} iterations, of F = {rs[0]['n_bins']} bins",
            f"- STFT search: median {med([s.get('queries') for s in ss]):.0f} queries, finest "
            f"{med([s.get('finest_width') for s in ss]):.0f} cells; STFT flip on "
            f"{sum(bool(r['stft_flip']) for r in rs)}/{n}, median {med([r['stft_cells'] for r in rs]):.0f} "
            f"cells, median SNR {med([r['stft_snr'] for r in rs]):.1f} dB",
            f"- top-1 margin: median {med([r['margin'] for r in rs]):.3f} "
            f"(min {min(r['margin'] for r in rs):.3f}, max {max(r['margin'] for r in rs):.3f})",
            f"- |S| median {med([r['S_bins'] for r in rs]):.0f} bins; |SN| median "
            f"{med([r['SN_bins'] for r in rs]):.0f} bins (found on {sum(bool(r['SN_found']) for r in rs)}/{n}); "
            f"budget exhausted on {sum(bool(r['budget_exhausted']) for r in rs)}/{n}",
            f"- SNR of removing the top-1 bin: FreqReX {med([r['freqrex_snr_1'] for r in rs]):.1f} dB, "
            f"random {med([r['random_snr_1'] for r in rs]):.1f}, loudest {med([r['loudest_snr_1'] for r in rs]):.1f}, "
            f"occlusion {med([r['occlusion_snr_1'] for r in rs]):.1f}",
            f"- single-band occlusion: removing the most important band (1/{rs[0]['settings'].get('bands')} of the "
            f"spectrum) flips on {sum(bool(r['occlusion_band_flipped']) for r in rs)}/{n}", ""]
    flipped = [r for r in rs if any(r[f"{m}_flip_{k}"] for m in ("freqrex", "random", "loudest", "occlusion") for k in KS)]
    if flipped:
        out.append("- clips where some method flips at k <= 5: " + ", ".join(
            f"{r['clip'][:24]} (margin {r['margin']:.3f}: " + " ".join(
                m for m in ("freqrex", "random", "loudest", "occlusion") if any(r[f"{m}_flip_{k}"] for k in KS)) + ")"
            for r in flipped))
        out.append("")
    return out


def paired(a_name, a, b_name, b) -> list[str]:
    shared = sorted(set(a) & set(b))
    if not shared:
        return []
    out = [f"### paired: {a_name} vs {b_name} on {len(shared)} shared clips", "",
           "| measure | " + a_name + " | " + b_name + " |", "|---|---|---|"]
    for k in KS:
        out.append(f"| FreqReX flip@{k} | {sum(bool(a[c][f'freqrex_flip_{k}']) for c in shared)} "
                   f"| {sum(bool(b[c][f'freqrex_flip_{k}']) for c in shared)} |")
    for key, fmt in (("S_bins", ".0f"), ("SN_bins", ".0f"), ("stft_cells", ".0f"), ("stft_snr", ".1f"),
                     ("freqrex_snr_1", ".1f"), ("queries", ".0f"), ("seconds", ".0f")):
        out.append(f"| median {key} | {format(med([a[c][key] for c in shared]), fmt)} "
                   f"| {format(med([b[c][key] for c in shared]), fmt)} |")
    out.append(f"| SN found | {sum(bool(a[c]['SN_found']) for c in shared)} "
               f"| {sum(bool(b[c]['SN_found']) for c in shared)} |")
    fa = [a[c]["_search"].get("frequency", {}).get("finest_width") for c in shared]
    fb = [b[c]["_search"].get("frequency", {}).get("finest_width") for c in shared]
    out.append(f"| median finest part (bins) | {med(fa):.0f} | {med(fb):.0f} |")
    out.append("")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("outs", nargs="+")
    ap.add_argument("--removal", default=None)
    a = ap.parse_args()
    sets = [(Path(o).name, load(Path(o))) for o in a.outs]
    lines = ["## Analysis", ""]
    for name, rows in sets:
        lines += describe(name, rows)
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            lines += paired(*sets[i], *sets[j])
    if a.removal:
        rows = json.loads((Path(a.removal) / "rows.json").read_text())
        n = len(rows)
        lines += [f"### removal-direction search ({Path(a.removal).name}, {n} clips)", "",
                  "flip@1..5: " + ", ".join(f"{sum(r[f'flip_{k}'] for r in rows)}/{n}" for k in KS),
                  f"; median search queries {med([r['search_queries'] for r in rows]):.0f}, finest part "
                  f"{med([r.get('finest_width') for r in rows]):.0f} bins, depth "
                  f"{med([r.get('max_depth') for r in rows]):.0f}; median SNR of the top-1 removal "
                  f"{med([r['snr_1'] for r in rows]):.1f} dB", ""]
        if n and sets:
            base = sets[0][1]
            shared = [r for r in rows if any(k.endswith("/" + r["clip"]) for k in base)]
            if shared:
                lines.append(f"On the same {len(shared)} clips the default search (first folder) flips "
                             + ", ".join(f"{sum(bool(v[f'freqrex_flip_{k}']) for key, v in base.items() if any(key.endswith('/' + r['clip']) for r in shared))}/{len(shared)}"
                                         for k in KS) + " at k = 1..5.")
                lines.append("")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
