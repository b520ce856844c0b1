"""Per-model measures (SPEC section 8) from the per-clip rows: CSV, JSON, Markdown, PNG."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["summarise", "write_report", "wilson", "PAPER", "LEVELS", "QUIET"]

KS = (1, 2, 3, 4, 5)
METHODS = ("freqrex", "random", "loudest", "occlusion", "saliency", "whitebox")
NAMES = {"freqrex": "FreqReX (top-k responsibility)", "random": "random bins",
         "loudest": "loudest bins", "occlusion": "single-band occlusion",
         "saliency": "gradient saliency (abs(gradient x input))",
         "whitebox": "white-box (margin gradient; estimate of what the model allows)"}
#: Kelly and Chockler (arXiv 2601.16675), over 8 models: flip@1, flip@5, STFT flip.
PAPER = {"flip@1": 0.58, "flip@5": 0.78, "stft_flip": 0.62}
LEVELS = (30.0, 35.0, 40.0)  #: SNR levels of SPEC section 8 (dB)
#: The least audible flips: row prefix -> (what it is, domain, name of its size column).
QUIET = {
    "quiet": ("FreqReX quiet flip", "bins", "bins"),
    "stft": ("FreqReX STFT flip", "STFT cells", "cells"),
    "quietest_stft": ("quietest cells (noise gate)", "STFT cells", "cells"),
    "whitebox_quiet": ("white-box quiet flip", "bins", "bins"),
    "whitebox_stft": ("white-box STFT flip", "STFT cells", "cells"),
}


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _vals(rows, key) -> list:
    return [r[key] for r in rows if r.get(key) is not None]


def _median(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None


def _flip_measures(rows: list[dict], name: str, size: str) -> dict[str, Any]:
    """Share of clips that flip, median SNR of the flips, share flipping at >= each of
    ``LEVELS`` dB, median features changed and gain, over the rows where it was computed."""
    rs = [r for r in rows if r.get(f"{name}_flip") is not None]
    flipped = [r for r in rs if r[f"{name}_flip"]]
    out: dict[str, Any] = {f"{name}_computed": len(rs),
                           f"{name}_flip": float(np.mean([bool(r[f"{name}_flip"]) for r in rs]))
                           if rs else None,
                           f"{name}_snr_median": _median([r.get(f"{name}_snr") for r in flipped]),
                           f"{name}_{size}_median": _median([r.get(f"{name}_{size}") for r in flipped]),
                           f"{name}_gain_median": _median([r.get(f"{name}_gain") for r in flipped])}
    for level in LEVELS:
        out[f"{name}_at_{level:.0f}"] = (float(np.mean([(r.get(f"{name}_snr") or -math.inf) >= level
                                                        for r in flipped] + [False] * (len(rs) - len(flipped))))
                                         if rs else None)
    return out


def summarise(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """Per model: the section 8 measures and the flip rate against k for every method."""
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({r["model"] for r in rows}):
        rs = [r for r in rows if r["model"] == model]
        n = len(rs)
        m: dict[str, Any] = {"clips": n, "labels_view": rs[0].get("labels_view"),
                             "duration": _median(_vals(rs, "duration")),
                             "budget": rs[0].get("budget")}
        for method in METHODS:
            rates, cis = [], []
            for k in KS:
                v = [float(x) for x in _vals(rs, f"{method}_flip_{k}")]
                rates.append(float(np.mean(v)) if v else None)
                cis.append(wilson(sum(v), len(v)) if v else None)
            m[f"{method}_rate"] = rates
            m[f"{method}_ci"] = cis
        # paired comparison at each k: clips where FreqReX flips and the baseline does not, and v.v.
        for method in METHODS[1:]:
            both = [r for r in rs if r.get(f"{method}_flip_{1}") is not None]
            m[f"wins_vs_{method}"] = [
                [sum(1 for r in both if r.get(f"freqrex_flip_{k}") and not r.get(f"{method}_flip_{k}")),
                 sum(1 for r in both if not r.get(f"freqrex_flip_{k}") and r.get(f"{method}_flip_{k}"))]
                for k in KS] if both else None
        m["flip@1"] = m["freqrex_rate"][0]
        m["flip@5"] = m["freqrex_rate"][4]
        anyk = [any(r.get(f"freqrex_flip_{k}") for k in KS) for r in rs]
        m["flip@any<=5"] = float(np.mean(anyk)) if rs else None
        # the least audible flips: FreqReX's, the noise gate's, the white-box reference's
        for name, (_, _, size) in QUIET.items():
            m.update(_flip_measures(rs, name, size))
        both = [(r["stft_snr"], r["quietest_stft_snr"]) for r in rs if r.get("stft_flip")
                and r.get("quietest_stft_flip") and r.get("stft_snr") is not None
                and r.get("quietest_stft_snr") is not None]
        m["stft_quieter_than_gate"] = [sum(a > b for a, b in both), sum(a < b for a, b in both)]
        for name in ("S", "SN"):
            m[f"{name}_found"] = float(np.mean([bool(r.get(f"{name}_found")) for r in rs]))
            m[f"{name}_fraction_median"] = _median(_vals(rs, f"{name}_fraction"))
            m[f"{name}_bins_median"] = _median(_vals(rs, f"{name}_bins"))
        for method in METHODS:
            snrs = [r[f"{method}_snr_{k}"] for r in rs for k in KS
                    if r.get(f"{method}_flip_{k}") and r.get(f"{method}_snr_{k}") is not None]
            m[f"{method}_flip_snr_median"] = _median(snrs)
        m["whitebox_queries_median"] = _median(_vals(rs, "whitebox_queries"))
        m["whitebox_seconds_median"] = _median(_vals(rs, "whitebox_seconds"))
        m["queries_median"] = _median(_vals(rs, "queries"))
        m["seconds_median"] = _median(_vals(rs, "seconds"))
        m["baseline_queries_median"] = _median(_vals(rs, "baseline_queries"))
        m["baseline_seconds_median"] = _median(_vals(rs, "baseline_seconds"))
        m["budget_exhausted"] = float(np.mean([bool(r.get("budget_exhausted")) for r in rs]))
        m["margin_median"] = _median(_vals(rs, "margin"))
        out[model] = m
    return out


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _pct_ci(rate, ci) -> str:
    if rate is None:
        return "-"
    return f"{100 * rate:.0f}% [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"


def _fmt(x, spec=".1f") -> str:
    return "-" if x is None else format(x, spec)


def write_rows(rows: list[dict], out: Path) -> None:
    flat = [{k: v for k, v in r.items() if k != "settings"} for r in rows]
    (out / "rows.json").write_text(json.dumps(rows, indent=1, allow_nan=False))
    if not flat:
        (out / "rows.csv").write_text("")
        return
    keys: list[str] = []
    for r in flat:
        keys += [k for k in r if k not in keys]
    with open(out / "rows.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(flat)


def _flip_cell(m: dict, name: str, level: float) -> str:
    """'share, median SNR, share at >= level' of one least-audible flip."""
    if m.get(f"{name}_flip") is None:
        return "-"
    return (f"{_pct(m[f'{name}_flip'])}, {_fmt(m[f'{name}_snr_median'])} dB, "
            f"{_pct(m[f'{name}_at_{level:.0f}'])}")


def table(summary: dict, include_paper: bool = True) -> str:
    """The headline Markdown table (one line per model, the paper's figures first)."""
    lines = ["| | clips | flip@1 | flip@5 | quiet flip: flips, median SNR, >= 30 dB "
             "| STFT flip: flips, median SNR, >= 35 dB | white-box quiet flip (>= 30 dB) "
             "| white-box STFT flip (>= 35 dB) | quietest cells (>= 35 dB) "
             "| \\|S\\|/F (median) | \\|SN\\|/F (median) | SN found | queries/clip | s/clip |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    if include_paper:
        lines.append(f"| paper (8 models) | - | {_pct(PAPER['flip@1'])} | {_pct(PAPER['flip@5'])} "
                     f"| - | {_pct(PAPER['stft_flip'])} (\"practically inaudible\") | - | - | - "
                     "| - | - | - | - | - |")
    for model, m in summary.items():
        lines.append(
            f"| {model} [{m['labels_view']}], {_fmt(m['duration'], '.0f')} s, budget {m['budget']} "
            f"| {m['clips']} | {_pct_ci(m['freqrex_rate'][0], m['freqrex_ci'][0])} "
            f"| {_pct_ci(m['freqrex_rate'][4], m['freqrex_ci'][4])} "
            f"| {_flip_cell(m, 'quiet', 30)} | {_flip_cell(m, 'stft', 35)} "
            f"| {_flip_cell(m, 'whitebox_quiet', 30)} | {_flip_cell(m, 'whitebox_stft', 35)} "
            f"| {_flip_cell(m, 'quietest_stft', 35)} | {_fmt(m['S_fraction_median'], '.2e')} "
            f"| {_fmt(m['SN_fraction_median'], '.2e')} | {_pct(m['SN_found'])} "
            f"| {_fmt(m['queries_median'], '.0f')} (+{_fmt(m['baseline_queries_median'], '.0f')} baselines, "
            f"+{_fmt(m['whitebox_queries_median'], '.0f')} white-box) "
            f"| {_fmt(m['seconds_median'], '.0f')} |")
    return "\n".join(lines)


def quiet_table(m: dict) -> str:
    """The least audible flips of one model: share, median SNR, shares at >= 30 / 35 / 40 dB."""
    lines = ["| flip | changes | flips | median SNR (dB) | "
             + " | ".join(f">= {lv:.0f} dB" for lv in LEVELS)
             + " | median features changed | median gain |",
             "|---|---|---|---|" + "---|" * len(LEVELS) + "---|---|"]
    for name, (what, domain, size) in QUIET.items():
        if m.get(f"{name}_flip") is None:
            lines.append(f"| {what} | {domain} | not computed | - | " + "- | " * len(LEVELS) + "- | - |")
            continue
        lines.append(f"| {what} | {domain} | {_pct(m[f'{name}_flip'])} of {m[f'{name}_computed']} "
                     f"| {_fmt(m[f'{name}_snr_median'])} | "
                     + " | ".join(_pct(m[f"{name}_at_{lv:.0f}"]) for lv in LEVELS)
                     + f" | {_fmt(m[f'{name}_{size}_median'], '.0f')} "
                     f"| {_fmt(m[f'{name}_gain_median'], '.2f')} |")
    return "\n".join(lines)


def k_table(m: dict) -> str:
    lines = ["| method | " + " | ".join(f"k={k}" for k in KS) + " | median SNR of flips (dB) |",
             "|---|" + "---|" * (len(KS) + 1)]
    for method in METHODS:
        cells = [_pct_ci(r, c) for r, c in zip(m[f"{method}_rate"], m[f"{method}_ci"])]
        lines.append(f"| {NAMES[method]} | " + " | ".join(cells)
                     + f" | {_fmt(m[f'{method}_flip_snr_median'])} |")
    for method in METHODS[1:]:
        wl = m[f"wins_vs_{method}"]
        if wl is None:
            continue
        lines.append(f"| FreqReX-only / {method}-only flips | "
                     + " | ".join(f"{w}/{lo}" for w, lo in wl) + " | |")
    return "\n".join(lines)


def plots(rows: list[dict], summary: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    files = []
    models = list(summary)
    if not models:
        return files
    colors = {"freqrex": "C3", "random": "C7", "loudest": "C0", "occlusion": "C2",
              "saliency": "C1", "whitebox": "k"}
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False)
    for ax, model in zip(axes[0], models):
        m = summary[model]
        for method in METHODS:
            rates = [np.nan if r is None else r for r in m[f"{method}_rate"]]
            if all(np.isnan(rates)):
                continue
            ax.plot(KS, rates, "o-", color=colors[method], label=method)
        ax.axhline(PAPER["flip@1"], color="k", ls=":", lw=0.8)
        ax.axhline(PAPER["flip@5"], color="k", ls="--", lw=0.8)
        ax.set_title(f"{model} ({m['clips']} clips)", fontsize=9)
        ax.set_xlabel("k (bins removed)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xticks(KS)
    axes[0][0].set_ylabel("share of clips whose label flips")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "flip_rate_vs_k.png", dpi=110)
    plt.close(fig)
    files.append("flip_rate_vs_k.png")

    fig, ax = plt.subplots(figsize=(6, 3.4))
    data, labels = [], []
    for model in models:
        for name in ("S", "SN"):
            v = [r[f"{name}_fraction"] for r in rows if r["model"] == model and r.get(f"{name}_fraction")]
            data.append(np.log10(v) if v else [np.nan])
            labels.append(f"|{name}| {model}")
    ax.boxplot(data, orientation="horizontal", tick_labels=labels) if _mpl_new((3, 10)) \
        else ax.boxplot(data, vert=False, labels=labels)
    for i, d in enumerate(data):
        ax.plot(d, np.full(len(d), i + 1) + np.random.default_rng(i).uniform(-0.15, 0.15, len(d)),
                ".", color="C3", alpha=0.6, ms=4)
    ax.set_xlabel("log10(set size / F)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "set_sizes.png", dpi=110)
    plt.close(fig)
    files.append("set_sizes.png")

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, method in enumerate(METHODS):
        v = [r[f"{method}_snr_{k}"] for r in rows for k in KS
             if r.get(f"{method}_flip_{k}") and r.get(f"{method}_snr_{k}") is not None]
        ax.plot(v, np.full(len(v), i) + np.random.default_rng(i).uniform(-0.2, 0.2, len(v)), ".",
                color=colors[method], alpha=0.6)
    for j, name in enumerate(QUIET):
        v = [r[f"{name}_snr"] for r in rows if r.get(f"{name}_flip") and r.get(f"{name}_snr") is not None]
        y = len(METHODS) + j
        ax.plot(v, np.full(len(v), y) + np.random.default_rng(9 + j).uniform(-0.2, 0.2, len(v)),
                ".", color="C4" if not name.startswith("whitebox") else "k", alpha=0.6)
    ax.set_yticks(range(len(METHODS) + len(QUIET)),
                  [*(f"flip-k {m}" for m in METHODS), *(QUIET[n][0] for n in QUIET)], fontsize=7)
    for level in LEVELS:
        ax.axvline(level, color="k", ls=":", lw=0.6)
    ax.set_xlabel("SNR of each flip (dB; higher = smaller change)")
    fig.tight_layout()
    fig.savefig(out / "flip_snr.png", dpi=110)
    plt.close(fig)
    files.append("flip_snr.png")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
    for model in models:
        rs = [r for r in rows if r["model"] == model]
        a1.hist([r["queries"] for r in rs], bins=15, alpha=0.6, label=model)
        a2.hist([r["seconds"] for r in rs], bins=15, alpha=0.6, label=model)
    a1.set_xlabel("model queries per clip (FreqReX)")
    a2.set_xlabel("seconds per clip (FreqReX)")
    a1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "cost.png", dpi=110)
    plt.close(fig)
    files.append("cost.png")
    return files


def _mpl_new(version: tuple[int, int]) -> bool:
    import matplotlib
    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return (major, minor) >= version


def write_report(rows: list[dict], out: str | Path, command: str | None = None,
                 errors: list[dict] | None = None) -> dict:
    """Write rows.csv, rows.json, summary.json, report.md and the PNGs into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out)
    summary = summarise(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    figs = plots(rows, summary, out) if rows else []
    md = ["# FreqReX evaluation (SPEC section 8)", ""]
    if command:
        md += ["Command:", "", "```", command, "```", ""]
    md += ["flip@k: share of clips whose top-1 label changes when the top-k bins are removed "
           "(95% Wilson interval in brackets). Baselines remove the same number of bins: random "
           "bins (seeded), the loudest bins (largest |X|), and single-band occlusion (the k "
           "loudest bins of the band whose removal changes the label, or else lowers its score "
           "most; its band "
           "queries are counted under baseline queries), gradient saliency (the k bins of largest "
           "|gradient x input| of the label's score) and, for torch models, the white-box "
           "reference (the best k-bin removal the gradient of the label's margin guides). The "
           "quiet flip and the STFT flip are the least audible label changes found (SNR = "
           "10 log10(sum x^2 / sum (x - x')^2)); the white-box reference's are those the "
           "margin's gradient finds through the irfft / inverse-STFT mask, an estimate of what "
           "the model allows. S, SN: sufficient and sufficient-and-necessary sets as fractions "
           "of the F rfft bins.", "",
           table(summary), ""]
    for model, m in summary.items():
        md += [f"## {model}", "",
               f"{m['clips']} clips, labels view {m['labels_view']}, {_fmt(m['duration'], '.0f')} s, "
               f"budget {m['budget']}; budget exhausted on {_pct(m['budget_exhausted'])} of clips; "
               f"median top-1 margin (score of the label minus the runner-up) {_fmt(m['margin_median'], '.3f')}; "
               f"FreqReX flips at some k <= 5 on {_pct(m['flip@any<=5'])}.", "",
               k_table(m), "",
               "The least audible flips (share of clips that flip; median SNR of the flips; "
               "share of clips flipping at or above each SNR):", "",
               quiet_table(m), "",
               f"Median |S| = {_fmt(m['S_bins_median'], '.0f')} bins, |SN| = "
               f"{_fmt(m['SN_bins_median'], '.0f')} bins; S found on {_pct(m['S_found'])}, SN on "
               f"{_pct(m['SN_found'])}. Where both the STFT flip and the quietest cells flip, "
               f"FreqReX's change is the quieter on {m['stft_quieter_than_gate'][0]} clips and the "
               f"gate's on {m['stft_quieter_than_gate'][1]}. "
               f"Median FreqReX queries {_fmt(m['queries_median'], '.0f')}, {_fmt(m['seconds_median'], '.0f')} s "
               f"per clip; baselines {_fmt(m['baseline_queries_median'], '.0f')} queries, "
               f"{_fmt(m['baseline_seconds_median'], '.0f')} s; white-box reference "
               f"{_fmt(m['whitebox_queries_median'], '.0f')} queries, "
               f"{_fmt(m['whitebox_seconds_median'], '.0f')} s.", ""]
    if errors:
        md += ["## Failed jobs (retried on the next run)", ""]
        md += [f"- {e['model']} / {e['clip']}: {e['error']}" for e in errors] + [""]
    md += [f"![{f}]({f})" for f in figs] + [""]
    md += ["Per-clip rows: `rows.csv`, `rows.json`; per-clip outputs (explanation.json, WAVs of "
           "every removal, baselines.json) under `runs/<model>/<clip>/`.", ""]
    (out / "report.md").write_text("\n".join(md))
    return summary
