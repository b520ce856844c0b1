"""The least audible flip's search alone, by removal only against removal then attenuation.

    python research/quiet_probes.py /tmp/freqrex_clips/0*.flac --budget 200
    python research/quiet_probes.py CLIPS --domain freq --budget 160
    python research/quiet_probes.py CLIPS --budget 200 --tilings 64x8 16x2 8x1
    python research/quiet_probes.py CLIPS --budget 200 --probes 0,0.5 0.8

For each clip (its first 10 s, msd-musicnn, genres view) it runs ``engine.quiet.quiet_search``
twice with the same budget: with ``probes=(0.0,)`` (removal only) and with the default
``PROBES`` (removal, then attenuation to half where removal finds no flip at ``GOOD_DB``). The
budgets are what the search gets inside a standard explanation of 10 s (about 200 calls for
the STFT flip, 160 for the quiet flip). Every flip is re-classified on its own waveform, and
its SNR is computed from it. Prints one row per clip and the medians and shares at 30, 35 and
40 dB. With ``--probes`` the variants are the probe sets given instead (comma-separated gains, the
first probe first), and with ``--tilings`` the STFT tilings (mel bands x frames per tile; the
engine's is 64 x 8), each with the default probes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from freqrex_app import load_audio, load_model  # noqa: E402
from freqrex_app.engine.decision import Decision  # noqa: E402
from freqrex_app.engine.manipulations import snr_db  # noqa: E402
from freqrex_app.engine.oracle import Oracle  # noqa: E402
from freqrex_app.engine.quiet import PROBES, quiet_search  # noqa: E402
from freqrex_app.engine.spaces import FrequencySpace, StftSpace  # noqa: E402

VARIANTS = {"removal only": (0.0,), "two probes": PROBES}


def run(model, x: np.ndarray, sr: int, domain: str, budget: int, settings: dict
        ) -> float | None:
    space = StftSpace(x, sr) if domain == "stft" else FrequencySpace(x, sr)
    oracle = Oracle(model, budget=budget + 1)
    target, _, scores = oracle.classify_one(x)
    decision = Decision(target)
    found = quiet_search(space, oracle, decision, budget=budget, clip_scores=scores,
                         **settings)
    if found.index is None:
        return None
    assert decision.changed(model.predict(found.wave[None]))[0], "the flip must re-classify"
    return snr_db(x, found.wave)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--domain", choices=("stft", "freq"), default="stft")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--probes", nargs="+", metavar="G[,G...]",
                    help="compare probe sets (e.g. 0,0.5 0.8) instead of the default two")
    ap.add_argument("--tilings", nargs="+", metavar="BANDSxFRAMES",
                    help="compare STFT tilings (e.g. 64x8 16x2) instead of the probes")
    args = ap.parse_args(argv)
    model = load_model("msd-musicnn", labels_view="genres")
    variants = {name: {"probes": probes} for name, probes in VARIANTS.items()}
    if args.probes:
        variants = {f"probes {p}": {"probes": tuple(map(float, p.split(",")))}
                    for p in args.probes}
    if args.tilings:
        variants = {f"{t} tiles": dict(zip(("n_bands", "cols"), map(int, t.split("x"))))
                    for t in args.tilings}
    results: dict[str, list[float]] = {name: [] for name in variants}
    print(f"| clip | label | {' | '.join(variants)} |\n|---|---|" + "---|" * len(variants))
    for clip in args.clips:
        x = np.asarray(load_audio(clip, sample_rate=model.sample_rate, duration=args.duration))
        label = model.labels[int(np.argmax(model.predict(x[None])[0]))]
        row = []
        for name, settings in variants.items():
            snr = run(model, x, model.sample_rate, args.domain, args.budget, settings)
            results[name].append(0.0 if snr is None else snr)  # no flip counts as 0 dB
            row.append("no flip" if snr is None else f"{snr:.1f} dB")
        print(f"| {Path(clip).stem[:32]} | {label} | {' | '.join(row)} |", flush=True)
    for name, snrs in results.items():
        s = np.array(snrs)
        shares = " / ".join(f"{np.mean(s >= t):.0%}" for t in (30, 35, 40))
        print(f"{name}: median {np.median(s):.1f} dB; >= 30 / 35 / 40 dB: {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
