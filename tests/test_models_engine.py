"""The engine explains real music with every built-in tagger (short excerpt, small budget)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import freqrex_app as fx  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "metal.ogg"


@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["msd-musicnn", "mtt-vgg"])  # both architectures, both tag sets
def test_engine_explains_real_music(model_id):
    if not EXAMPLE.is_file():
        pytest.skip("example music not present")
    model = fx.load_model(model_id, labels_view="genres", device="cpu")
    audio = fx.load_audio(EXAMPLE, sample_rate=model.sample_rate, start=2.0, duration=3.0)
    exp = fx.explain(audio, model, budget=48, seed=0, stft=False)
    assert exp.model == model_id and exp.labels_view == "genres"
    assert exp.label in model.labels and 0.0 < exp.confidence <= 1.0
    assert exp.queries <= 48 and np.isfinite(exp.responsibility).all()
    assert exp.responsibility.max() > 0
