"""The least audible flips on real music: the gradient and the black-box searches side by side.

For each clip, a standard explanation (budget 1000, STFT on, seed 0) with ``flip_search``
"gradient" and then "black-box" on the same excerpt, in turn, so that the time ratio comes from
one run on one machine. Every saved sound is then re-verified from its WAV: re-classified, its
SNR and its Zimtohrli distance recomputed independently of the engine.

``--searches hopskipjump`` adds a peer black-box attack that someone else wrote, as a baseline
for the black-box path: HopSkipJump (adversarial-robustness-toolbox, the ``evaluation`` extra)
on the waveform, L2, at the same number of model calls as the budget.

    python tools/fetch_music.py --out /tmp/freqrex_clips
    python benchmarks/least_audible.py /tmp/freqrex_clips/*.flac --out /tmp/least_audible

Resumable: a clip and search already in ``--out`` is skipped. ``--report`` only re-reads the
folder and prints the table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

import freqrex_app as fx
from freqrex_app.engine.explanation import sound_entries

SEARCHES = ("gradient", "black-box", "hopskipjump")


def run(clip: Path, model, args, search: str, folder: Path) -> dict:
    audio = fx.load_audio(clip, sample_rate=model.sample_rate, start=args.start,
                          duration=args.duration)
    t0, c0 = time.perf_counter(), time.process_time()
    exp = fx.explain(audio, model, budget=args.budget, seed=0, flip_search=search,
                     flip_judge=args.flip_judge)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    exp.save(folder, figures=False)
    lead = exp.verified_flips()
    row = {"clip": clip.name, "search": search, "seconds": seconds, "cpu_seconds": cpu,
           "queries": exp.queries,
           "gradients": exp.gradients, "predict_seconds": exp.predict_seconds,
           "label": exp.label, "margin": float(np.sort(exp.scores)[-1] - np.sort(exp.scores)[-2]),
           "hearing": {**exp.search.get("audibility", {}), "seconds": exp.hearing_seconds},
           "lead": None if not lead else {"name": lead[0].name, "snr_db": lead[0].heard.snr_db,
                                          "mos": lead[0].mos, "search": lead[0].search}}
    for name in ("quiet_flip", "stft_flip"):
        f, a = getattr(exp, name), exp.audibility.get(name)
        row[name] = None if f is None else {"snr_db": a.snr_db, "mos": a.mos, "n": f.k,
                                            "gain": f.gain, "search": f.search}
    (folder / "row.json").write_text(json.dumps(row, indent=1, default=float))
    return row


def run_peer(clip: Path, model, args, folder: Path) -> dict:
    """HopSkipJump on the excerpt's waveform, ``args.budget`` model calls at most (the attack
    is run one iteration at a time from its last adversarial, counting the calls)."""
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import BlackBoxClassifier

    from freqrex_app.audio.hearing import Hearing

    audio = fx.load_audio(clip, sample_rate=model.sample_rate, start=args.start,
                          duration=args.duration)
    x = np.asarray(audio, dtype=np.float32)
    calls = [0]

    def predict(batch: np.ndarray) -> np.ndarray:
        calls[0] += len(batch)
        return model.predict(np.asarray(batch, dtype=np.float32))

    target = int(np.argmax(model.predict(x[None])[0]))
    clf = BlackBoxClassifier(predict, x.shape, len(model.labels), clip_values=(-1.0, 1.0))
    t0 = time.perf_counter()
    adv = None
    while calls[0] < args.budget:
        attack = HopSkipJump(clf, max_iter=1, max_eval=100, init_eval=20, init_size=20,
                             verbose=False)
        step = attack.generate(x[None], x_adv_init=None if adv is None else adv)
        if int(np.argmax(model.predict(step)[0])) == target:
            break  # no adversarial found
        adv = step
    seconds = time.perf_counter() - t0
    row = {"clip": clip.name, "search": "hopskipjump", "seconds": seconds, "queries": calls[0],
           "gradients": 0, "label": model.labels[target], "stft_flip": None, "quiet_flip": None,
           "lead": None}
    folder.mkdir(parents=True, exist_ok=True)
    if adv is not None:
        fx.write_wav(folder / "peer.wav", adv[0].astype(np.float32), model.sample_rate)
        wave, _ = sf.read(folder / "peer.wav", dtype="float32")  # judged as written
        scores = model.predict(wave[None])[0]
        a = Hearing(x, model.sample_rate).judge(wave)
        row["lead"] = {"name": "peer", "snr_db": a.snr_db, "mos": a.mos, "search": "hopskipjump",
                       "label": model.labels[int(np.argmax(scores))],
                       "flipped": int(np.argmax(scores)) != target}
    (folder / "row.json").write_text(json.dumps(row, indent=1, default=float))
    return row


def verify(folder: Path, model) -> int:
    """Re-classify every saved sound, recompute its SNR and Zimtohrli distance; mismatches."""
    import zimtohrli

    d = json.loads((folder / "explanation.json").read_text())
    x, rate = sf.read(folder / "original.wav", dtype="float32")
    ref = soxr.resample(x, rate, 48000)
    entries = sound_entries(d)
    bad = 0
    for name, (e, sfx) in entries.items():
        y, _ = sf.read(folder / (e.get(f"audio{sfx}") or e["audio"]), dtype="float32")
        label = model.labels[int(np.argmax(model.predict(y[None])[0]))]
        snr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2)
                            / max(np.sum((x.astype(np.float64) - y) ** 2), 1e-300))
        z = zimtohrli.Pyohrli().distance(ref, soxr.resample(y, rate, 48000))
        ok = (label == (e.get(f"label{sfx}") or e["label"])
              and abs(snr - e[f"snr_db{sfx}"]) < 1e-3 and abs(z - e[f"zimtohrli{sfx}"]) <= 1e-6 + 1e-3 * z)
        bad += not ok
        if not ok:
            print(f"MISMATCH {folder} {name}: {label} {snr:.3f} {z:.6f} vs {e}", file=sys.stderr)
    return bad


def _share(values, at) -> str:
    return f"{100 * sum(v is not None and v >= at for v in values) / max(1, len(values)):.0f}%"


def report(rows: list[dict]) -> str:
    med = lambda v: statistics.median([x for x in v if x is not None]) if any(x is not None for x in v) else float("nan")  # noqa: E731
    fallback = lambda rs, key: sum(bool(r[key]) and r[key].get("search") == "black-box" for r in rs)  # noqa: E731
    out = ["| search | flip | clips | flipped | median SNR | >= 30 / 35 / 40 dB | MOS >= 4.5 / 4.9 / 4.99 | found black-box (fallback) |",
           "|---|---|---|---|---|---|---|---|"]
    by_search = {search: [r for r in rows if r["search"] == search] for search in SEARCHES[:2]}
    for search, rs in by_search.items():
        for key, flip in (("stft_flip", "STFT"), ("quiet_flip", "quiet")):
            snr = [r[key]["snr_db"] if r[key] else None for r in rs]
            mos = [r[key]["mos"] if r[key] else None for r in rs]
            if rs:
                out.append(
                    f"| {search} | {flip} | {len(rs)} | {_share([s is not None for s in snr], True)} | "
                    f"{med(snr):.1f} dB | {' / '.join(_share(snr, t) for t in (30, 35, 40))} | "
                    f"{' / '.join(_share(mos, t) for t in (4.5, 4.9, 4.99))} | "
                    f"{fallback(rs, key) if search == 'gradient' else '–'} |")
    out += ["", "| search | clips | headline MOS >= 4.5 / 4.9 / 4.95 / 4.99 | median s | queries | gradients |",
            "|---|---|---|---|---|---|"]
    for search, rs in by_search.items():
        lead = [r["lead"]["mos"] if r["lead"] and r["lead"].get("flipped", True) else None
                for r in rs]
        if rs:
            out.append(
                f"| {search} | {len(rs)} | {' / '.join(_share(lead, t) for t in (4.5, 4.9, 4.95, 4.99))} | "
                f"{med([r['seconds'] for r in rs]):.1f} | {med([r['queries'] for r in rs]):.0f} | "
                f"{med([r['gradients'] for r in rs]):.0f} |")
    both = {}
    for r in rows:
        both.setdefault(r["clip"], {})[r["search"]] = r
    peer = [r for r in rows if r["search"] == "hopskipjump"]
    if peer:
        snr = [r["lead"]["snr_db"] if r["lead"] and r["lead"]["flipped"] else None for r in peer]
        mos = [r["lead"]["mos"] if r["lead"] and r["lead"]["flipped"] else None for r in peer]
        got = [v for v in snr if v is not None]
        out.append(f"\nHopSkipJump (ART; the waveform, L2, {statistics.median(r['queries'] for r in peer):.0f} "
                   f"model calls): flipped {len(got)} of {len(peer)} clips, median SNR "
                   f"{statistics.median(got) if got else float('nan'):.1f} dB, >= 30 / 35 / 40 dB: "
                   f"{' / '.join(_share(snr, t) for t in (30, 35, 40))}, MOS >= 4.5 / 4.9 / 4.95: "
                   f"{' / '.join(_share(mos, t) for t in (4.5, 4.9, 4.95))}.")
    out += ["", "| clip | STFT flip, gradient | STFT flip, black-box | headline MOS, gradient "
            "| headline MOS, black-box | peer attack |", "|---|---|---|---|---|---|"]
    fmt = lambda r, key, unit: (f"{r[key]['snr_db']:.1f} dB" if unit == "dB" else  # noqa: E731
                                f"{r[key]['mos']:.3f}") if r and r.get(key) else "–"
    for clip, b in sorted(both.items()):
        g, k, h = b.get("gradient"), b.get("black-box"), b.get("hopskipjump")
        peer = (f"{h['lead']['snr_db']:.1f} dB, MOS {h['lead']['mos']:.3f}"
                if h and h.get("lead") else ("no flip" if h else "–"))
        out.append(f"| {clip[:3]} | {fmt(g, 'stft_flip', 'dB')} | {fmt(k, 'stft_flip', 'dB')} | "
                   f"{fmt(g, 'lead', 'mos')} | {fmt(k, 'lead', 'mos')} | {peer} |")
    t = lambda r: r.get("cpu_seconds", r["seconds"])  # noqa: E731  CPU time where recorded
    ratios = [t(b["gradient"]) / t(b["black-box"]) for b in both.values()
              if "gradient" in b and "black-box" in b]
    hear = {search: [100 * r["hearing"].get("seconds", 0) / r["seconds"] for r in rs
                     if r.get("hearing")] for search, rs in by_search.items()}
    if ratios:
        out.append(f"\nCPU time, gradient / black-box, paired by clip: median {statistics.median(ratios):.2f} "
                   f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {len(ratios)} clips). "
                   "Zimtohrli scoring, share of an explanation's time: " + "; ".join(
                       f"{search} median {statistics.median(h):.1f}% ({min(h):.1f}-{max(h):.1f}%)"
                       for search, h in hear.items() if h) + ".")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--start", type=float, default=0.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--searches", nargs="+", choices=SEARCHES, default=list(SEARCHES[:2]))
    ap.add_argument("--flip-judge", choices=("snr", "hearing"), default="hearing",
                    help="which gradient flip candidate wins: the highest SNR, or the least "
                         "audible by Zimtohrli")
    ap.add_argument("--report", action="store_true", help="only print the table of --out")
    args = ap.parse_args(argv)
    model = fx.load_model(args.model, labels_view=args.labels_view)
    rows, bad, checked = [], 0, 0
    for clip in args.clips:
        for search in args.searches:
            folder = args.out / clip.stem / search
            if (folder / "row.json").is_file():
                rows.append(json.loads((folder / "row.json").read_text()))
                continue
            if args.report:
                continue
            if search == "hopskipjump":
                row = run_peer(clip, model, args, folder)
            else:
                row = run(clip, model, args, search, folder)
                bad += verify(folder, model)
                checked += 1
            rows.append(row)
            print(f"{clip.stem} {search}: {row['seconds']:.0f} s, STFT "
                  f"{row['stft_flip'] and round(row['stft_flip']['snr_db'], 1)} dB, lead MOS "
                  f"{row['lead'] and row['lead']['mos']}", flush=True)
    table = report(rows)
    print(table)
    if not args.report:
        (args.out / "report.md").write_text(table + "\n")
        print(f"{checked} explanations verified from their WAVs, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
