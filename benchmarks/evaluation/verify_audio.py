"""Re-classify saved WAVs of a ``freqrex evaluate`` run and compare with the rows.

    python benchmarks/evaluation/verify_audio.py OUT_DIR CLIP [CLIP ...]   (model msd-musicnn, genres)
"""
import json
import sys
from pathlib import Path

import freqrex_app as fx

out, clips = Path(sys.argv[1]), sys.argv[2:]
m = fx.load_model("msd-musicnn", labels_view="genres")
bad = n = 0
for clip in clips:
    d = out / "runs" / "msd-musicnn" / clip
    r = json.loads((d / "row.json").read_text())
    checks = [(f"flip_{k}", f"freqrex_flip_{k}") for k in (1, 3, 5)]
    checks += [(f"baseline_{b}_{k}", f"{b}_flip_{k}") for b in ("loudest", "occlusion", "random") for k in (1, 3)]
    for stem, key in checks:
        w = fx.load_audio(d / f"{stem}.wav", sample_rate=m.sample_rate).samples
        label = m.labels[int(m.predict(w[None]).argmax())]
        n += 1
        if (label != r["label"]) != bool(r[key]):
            bad += 1
            print("MISMATCH", clip, stem, label, r[key])
print(f"{n} saved WAVs re-classified, {bad} mismatches")
