"""FreqReX app: causal explanations of audio classifiers over the frequency space.

>>> import freqrex_app as fx
>>> model = fx.load_model("msd-musicnn", labels_view="genres")
>>> audio = fx.load_audio("track.mp3", sample_rate=model.sample_rate, duration=30.0)
>>> exp = fx.explain(audio, model, budget=2000, seed=0)
>>> exp.save("out/")
"""
from __future__ import annotations

__version__ = "0.1.0"
