"""The optional Hugging Face path: tiny models built from a config, saved locally, no network."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import freqrex_app as fx  # noqa: E402
from freqrex_app.models import LabelsView, load_model, model_info  # noqa: E402

LABELS = ["rock", "jazz", "classical"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _labels(cfg_kwargs: dict) -> dict:
    return {**cfg_kwargs, "id2label": dict(enumerate(LABELS)), "label2id": {l: i for i, l in enumerate(LABELS)}}


@pytest.fixture(scope="module")
def tiny_ast(tmp_path_factory):
    """A 2-layer, width-32 Audio Spectrogram Transformer (single label: softmax)."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_ast")
    cfg = ASTConfig(**_labels(dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64, num_mel_bins=32, max_length=100)))
    ASTForAudioClassification(cfg).save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=32, max_length=100).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    """A tiny Wav2Vec2 sequence classifier configured as multi-label (sigmoid)."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_w2v2")
    cfg = Wav2Vec2Config(**_labels(dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        problem_type="multi_label_classification")))
    Wav2Vec2ForSequenceClassification(cfg).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                             do_normalize=True, return_attention_mask=False).save_pretrained(folder)
    return folder


def waves(n: int = 3, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * seconds)) / 16000
    return np.stack([np.sin(2 * np.pi * f * t) * 0.3 + 0.05 * rng.standard_normal(t.size)
                     for f in rng.uniform(100, 2000, n)]).astype(np.float32)


def test_ast_softmax_batched(tiny_ast):
    model = load_model(f"hf:{tiny_ast}", device="cpu")
    assert model.name == f"hf:{tiny_ast}" and model.labels == LABELS and model.sample_rate == 16000
    assert model.labels_view == "all" and not model.multi_label
    fx.check_classifier(model)
    x = waves(5)
    model.batch_size = 2  # three model calls
    scores = model.predict(x)
    assert scores.shape == (5, 3) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(scores, model.predict(x), atol=0)  # deterministic
    np.testing.assert_allclose(scores[1:2], model.predict(x[1:2]), atol=1e-5)


def test_wav2vec2_sigmoid_when_multi_label(tiny_wav2vec2):
    model = load_model(f"hf:{tiny_wav2vec2}", device="cpu")
    assert model.multi_label
    scores = model.predict(waves(2))
    assert scores.shape == (2, 3) and ((scores > 0) & (scores < 1)).all()
    assert not np.allclose(scores.sum(1), 1.0)


def test_hf_views_info_and_errors(tiny_ast):
    info = model_info(f"hf:{tiny_ast}")
    assert info["labels"] == LABELS and info["views"] == {"all": LABELS} and info["sample_rate"] == 16000
    with pytest.raises(ValueError, match="valid: all"):
        load_model(f"hf:{tiny_ast}", labels_view="genres")
    with pytest.raises(ValueError, match="local Hugging Face cache only"):
        load_model("hf:freqrex-test/not-a-cached-model")
    with pytest.raises(ValueError, match="expected 'hf:<model id or local folder>'"):
        load_model("hf:")


def test_tiny_hf_model_is_explainable(tiny_ast):
    """The engine explains a short clip with the tiny HF model at a small budget."""
    model = load_model(f"hf:{tiny_ast}", device="cpu")
    view = fx.restrict_labels(model, ["rock", "jazz"], "two")
    assert isinstance(view, LabelsView)
    audio = fx.Audio(waves(1, 1.0)[0], 16000)
    exp = fx.explain(audio, model, budget=150, seed=0, stft=False)
    assert exp.model == model.name and exp.label in LABELS
    assert exp.queries <= 150 and exp.responsibility.shape[0] == audio.n_samples // 2 + 1
    assert np.isfinite(exp.responsibility).all()


def test_missing_transformers_is_a_clear_error(monkeypatch, tiny_ast):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    with pytest.raises(ValueError, match=r"freqrex-app\[hf\]"):
        load_model(f"hf:{tiny_ast}")


def test_pickle_weights_are_refused(tiny_ast, tmp_path):
    """The same tiny model saved only as pytorch_model.bin (pickle) is refused: safetensors only."""
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_ast, folder)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    assert load_model(f"hf:{tiny_ast}").predict(waves(1)).shape == (1, len(LABELS))
    with pytest.raises(ValueError, match="cannot load a Hugging Face audio classifier from folder"):
        load_model(f"hf:{folder}")


def test_raw_waveform_models_are_differentiable_and_spectrogram_ones_are_not(tiny_wav2vec2,
                                                                             tiny_ast):
    """Wav2Vec2-style checkpoints get ``predict_torch`` (predict within 1e-5, gradients to the
    wave) and the gradient flips; AST's numpy filterbank has none: black-box flips."""
    import torch

    w2v = load_model(f"hf:{tiny_wav2vec2}", device="cpu")
    assert fx.models.differentiable(w2v)
    x = waves(2)
    wave = torch.from_numpy(x).requires_grad_(True)
    scores = w2v.predict_torch(wave)
    assert np.abs(scores.detach().numpy() - w2v.predict(x)).max() < 1e-5
    scores[0, 0].backward()
    assert wave.grad[0].abs().sum() > 0
    exp = fx.explain(fx.Audio(x[0], 16000), w2v, budget=200, seed=0, stft=False)
    assert exp.flip_search == "gradient" and exp.gradients >= 1

    ast = load_model(f"hf:{tiny_ast}", device="cpu")
    assert not fx.models.differentiable(ast)
    with pytest.raises(ValueError, match="needs a differentiable model"):
        fx.explain(fx.Audio(x[0], 16000), ast, budget=100, flip_search="gradient")
