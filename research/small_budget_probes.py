"""One probe against two at the quick budgets' STFT shares (49 calls at budget 300, 82 at 500).

Real music: the black-box STFT search alone on each clip (msd-musicnn, genres, 10 s), two
probes (removal, then attenuation to half) against removal only, each flip scored by
Zimtohrli. Planted: ``--planted`` runs the time-frequency cue cases of
``tests/test_stft_cue.py`` (3 beds x 3 seeds) at budgets 300, 500 and 1000 with one probe and
prints how many pass the test's map criteria (peak on the burst, >= 90% of the mass on it,
<= 1% on the distractor).

    FREQREX_THREADS=1 python research/small_budget_probes.py $(head -12 clips.txt)
    FREQREX_THREADS=1 python research/small_budget_probes.py --planted
"""
import json
import sys
from pathlib import Path

import numpy as np

import freqrex_app as fx
from freqrex_app.audio.hearing import Hearing
from freqrex_app.engine.decision import Decision
from freqrex_app.engine.oracle import Oracle
from freqrex_app.engine.quiet import quiet_search
from freqrex_app.engine.spaces import StftSpace


def planted() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import freqrex_app.engine.least_audible as la
    from planted import BEDS, SEEDS
    from test_stft_cue import burst_case, cells_near

    def one_probe(space, oracle, decision, **kw):
        if space.ndim == 2:
            kw["probes"] = (0.0,)
        return quiet_search(space, oracle, decision, **kw)

    la.quiet_search = one_probe
    for budget in (300, 500, 1000):
        ok = 0
        for kind in BEDS:
            for seed in SEEDS:
                x, model, hz, distractor, on = burst_case(kind, seed)
                exp = fx.explain(x, model, budget=budget, seed=seed, stft=True)
                shape, n_fft, hop = tuple(exp.stft["shape"]), exp.stft["n_fft"], exp.stft["hop"]
                cue = cells_near(shape, hop, n_fft, hz, on)
                loud = cells_near(shape, hop, n_fft, distractor)
                d = exp.stft_margin_drop
                peak = np.unravel_index(int(np.argmax(d)), shape)
                total = max(float(d.sum()), 1e-30)
                ok += bool(cue[peak] and d[cue].sum() / total >= 0.9
                           and d[loud].sum() / total <= 0.01)
        print(f"one probe, budget {budget}: {ok} of {len(BEDS) * len(SEEDS)} pass", flush=True)


def real(clips: list[str]) -> None:
    model = fx.load_model("msd-musicnn", labels_view="genres")
    for clip in clips:
        x = np.asarray(fx.load_audio(clip, sample_rate=model.sample_rate, duration=10.0),
                       dtype=np.float32)
        space = StftSpace(x, model.sample_rate, 1024, 256, 0.0)
        scores = model.predict(x[None])[0]
        hearing = Hearing(x, model.sample_rate)
        row = {"clip": Path(clip).name[:3]}
        for budget in (49, 82):
            for name, probes in (("two", (0.0, 0.5)), ("one", (0.0,))):
                r = quiet_search(space, Oracle(model, budget=100000),
                                 Decision(int(np.argmax(scores))), budget=budget,
                                 probes=probes, clip_scores=scores)
                a = None if r.index is None else hearing.judge(r.wave)
                row[f"{name}{budget}"] = None if a is None else [a.snr_db, a.mos, r.gain]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    planted() if sys.argv[1:] == ["--planted"] else real(sys.argv[1:])
