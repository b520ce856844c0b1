"""FreqReX app: causal explanations of audio classifiers over the frequency space.

>>> import freqrex_app as fx
>>> model = fx.load_model("msd-musicnn", labels_view="genres")
>>> audio = fx.load_audio("track.mp3", sample_rate=model.sample_rate, duration=30.0)
>>> exp = fx.explain(audio, model, budget=2000, seed=0)
>>> exp.save("out/")
"""
from __future__ import annotations

from typing import Any

from .audio import Audio, AudioError, load_audio, write_wav
from .engine import EngineConfig, Explanation, FreqReX, Perturbation, explain, load_explanation
from .errors import FreqReXError
from .models.base import Classifier, check_classifier, restrict_labels

__version__ = "0.1.0"

__all__ = [
    "Audio", "AudioError", "Classifier", "EngineConfig", "Explanation", "FreqReX", "FreqReXError",
    "Perturbation",
    "check_classifier", "explain", "list_models", "load_audio", "load_explanation",
    "load_model", "model_info", "restrict_labels", "write_wav",
]

_MODEL_API = {"list_models", "load_model", "model_info", "register_model", "DEFAULT_MODEL"}


def __getattr__(name: str) -> Any:  # the model registry loads on first use (it imports torch)
    if name in _MODEL_API:
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module 'freqrex_app' has no attribute {name!r}")
