"""The Space's allow-list ($FREQREX_HF_MODELS): tiny models built from a config and placed in a
temporary Hugging Face cache in the Hub's own layout; nothing touches the network."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from freqrex_app import models  # noqa: E402
from freqrex_app.models import hf  # noqa: E402

LABELS = ["happy", "sad", "angry"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No request can leave: the hub library's own offline switch, read at call time."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv(hf.HUB_MODELS_ENV, raising=False)


@pytest.fixture(autouse=True)
def clean_registry():
    before = dict(models._REGISTRY)
    yield
    models._REGISTRY.clear()
    models._REGISTRY.update(before)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A 2-layer AST saved as safetensors with its feature extractor."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_ast")
    cfg = ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, num_mel_bins=32, max_length=100,
                    id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    ASTForAudioClassification(cfg).save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=32, max_length=100).save_pretrained(folder)
    return folder


def put_in_cache(cache: Path, model_id: str, folder: Path, patterns=hf.HUB_FILES) -> Path:
    """Copy ``folder``'s files matching ``patterns`` into ``cache`` as the Hub client would."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{model_id.replace('/', '--')}"
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        if any(f.match(p) for p in patterns):
            shutil.copy(f, snap / f.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snap


def waves(n: int = 2) -> np.ndarray:
    t = np.arange(16000) / 16000
    return np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in (220, 880)[:n]]).astype(np.float32)


def test_the_allow_list_is_parsed_in_order_without_repeats():
    assert hf.allowed_hub_models(" org/a, org/b\norg/a  org/c,") == ["org/a", "org/b", "org/c"]
    assert hf.allowed_hub_models("") == []


def test_nothing_happens_without_the_variable(tmp_path):
    calls = []
    assert hf.register_hub_models(fetch=calls.append, cache_dir=tmp_path) == []
    assert calls == [] and models.list_models() == list(models._REGISTRY)
    assert "org/model" not in models.list_models()


def test_a_cached_allow_listed_model_is_registered_without_a_download(tmp_path, tiny_folder,
                                                                      monkeypatch):
    put_in_cache(tmp_path, "freqrex-test/tiny-emotion", tiny_folder)
    monkeypatch.setenv(hf.HUB_MODELS_ENV, "freqrex-test/tiny-emotion")
    calls = []
    [status] = hf.register_hub_models(fetch=calls.append, cache_dir=tmp_path, device="cpu")
    assert status.loaded and status.model_id == "freqrex-test/tiny-emotion", status.message
    assert calls == []  # it was in the cache
    assert "freqrex-test/tiny-emotion" in models.list_models()
    model = models.load_model("freqrex-test/tiny-emotion")
    assert model.labels == LABELS and model.sample_rate == 16000
    scores = model.predict(waves())
    assert scores.shape == (2, 3)
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-5)
    info = models.model_info("freqrex-test/tiny-emotion")
    assert info["labels"] == LABELS and "allow-listed" in info["description"]


def test_only_allow_listed_ids_are_fetched_and_bad_ones_get_one_line(tmp_path, tiny_folder,
                                                                     caplog):
    fetched = []

    def fetch(model_id: str) -> None:  # stands in for the Hub: puts the files in the cache
        fetched.append(model_id)
        if model_id == "freqrex-test/fetched":
            put_in_cache(tmp_path, model_id, tiny_folder)
        elif model_id == "freqrex-test/pickled":  # a repo with pickle weights only
            snap = put_in_cache(tmp_path, model_id, tiny_folder, patterns=("*.json",))
            import torch
            from safetensors.torch import load_file

            torch.save(load_file(tiny_folder / "model.safetensors"), snap / "pytorch_model.bin")
        else:
            raise ConnectionError("no route to the Hub\nsecond line")

    caplog.set_level("INFO", logger="freqrex.models")
    statuses = hf.register_hub_models(
        "freqrex-test/fetched, ../etc/passwd, freqrex-test/missing, freqrex-test/pickled",
        fetch=fetch, cache_dir=tmp_path, device="cpu")
    by_id = {s.model_id: s for s in statuses}
    assert fetched == ["freqrex-test/fetched", "freqrex-test/missing", "freqrex-test/pickled"]
    assert by_id["freqrex-test/fetched"].loaded
    assert not by_id["../etc/passwd"].loaded and "not a Hugging Face model id" in by_id["../etc/passwd"].message
    assert "download failed (ConnectionError: no route to the Hub)" in by_id["freqrex-test/missing"].message
    assert "does not load as a safetensors audio classifier" in by_id["freqrex-test/pickled"].message
    assert "model.safetensors" in by_id["freqrex-test/pickled"].message
    for s in statuses:
        assert "\n" not in s.message
        assert any(r.getMessage() == s.message and r.levelname == ("INFO" if s.loaded else "WARNING")
                   for r in caplog.records)
    listed = models.list_models()
    assert "freqrex-test/fetched" in listed
    assert not {"freqrex-test/missing", "freqrex-test/pickled", "../etc/passwd"} & set(listed)
    assert models.load_model("freqrex-test/fetched").predict(waves(1)).shape == (1, 3)


def test_the_real_download_is_refused_offline_with_one_line(tmp_path):
    """The default fetch goes through huggingface_hub, which refuses while offline."""
    [status] = hf.register_hub_models("freqrex-test/not-on-this-machine", cache_dir=tmp_path)
    assert not status.loaded and "\n" not in status.message
    assert status.message.startswith("cannot load freqrex-test/not-on-this-machine: not in the "
                                     "local cache and the download failed")
    assert "freqrex-test/not-on-this-machine" not in models.list_models()
    with pytest.raises(ValueError, match="not a Hugging Face model id"):
        hf.download_hub_model("/etc/passwd")
