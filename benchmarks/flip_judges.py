"""Which gradient flip wins: the STFT flip of each clip chosen by SNR and by the model of hearing
(``flip_judge`` "snr" and "hearing"), the SNR and the Zimtohrli MOS of each, one JSON line a clip.

The search alone (the standard 120 model calls of one gradient flip), msd-musicnn, genres,
10 s from the start:

    FREQREX_THREADS=1 python benchmarks/flip_judges.py /tmp/freqrex_clips/*.flac > judges.jsonl
    python benchmarks/flip_judges.py --report judges.jsonl
"""
import sys, json, time, numpy as np
import freqrex_app as fx
from freqrex_app.engine.spaces import StftSpace
from freqrex_app.engine.oracle import Oracle
from freqrex_app.engine.decision import Decision
from freqrex_app.engine.gradient import gradient_flip
from freqrex_app.audio.hearing import Hearing


def report(path: str) -> None:
    import statistics as st
    rows = [json.loads(line) for line in open(path)]
    print("| judge | clips | flips | median SNR | >= 35 dB | MOS >= 4.95 |\n|---|---|---|---|---|---|")
    for j in ("snr", "hearing"):
        v = [r[j]["snr_db"] for r in rows if r[j]]
        m = [r[j]["mos"] for r in rows if r[j]]
        print(f"| {j} | {len(rows)} | {len(v)} | {st.median(v):.1f} dB | {sum(x >= 35 for x in v)} "
              f"| {sum(x >= 4.95 for x in m)} |")


if sys.argv[1] == "--report":
    report(sys.argv[2])
    raise SystemExit(0)
model = fx.load_model("msd-musicnn", labels_view="genres")
for clip in sys.argv[1:]:
    a = fx.load_audio(clip, sample_rate=model.sample_rate, duration=10.0)
    x = np.asarray(a, dtype=np.float32)
    space = StftSpace(x, model.sample_rate, 1024, 256, 0.0)
    target = int(np.argmax(model.predict(x[None])[0]))
    h = Hearing(x, model.sample_rate)
    row = {"clip": clip.split("/")[-1][:3]}
    for name, judge in (("snr", None), ("hearing", h.less_audible)):
        oracle = Oracle(model, budget=100000)
        r = gradient_flip(space, model, oracle, Decision(target), budget=120,
                          less_audible=judge)
        f = r.flip
        row[name] = None if f is None else {"snr_db": f.snr_db, "gain": f.gain, "k": f.k,
                                            "mos": h.judge(f.wave).mos, "queries": r.queries}
    print(json.dumps(row), flush=True)
