"""The built-in musicnn taggers: parity with the original TensorFlow models, the torch front-end,
the input pipeline (patches, padding, loud audio) and the registry."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from freqrex_app import models  # noqa: E402
from freqrex_app.models import LabelsView, load_model, model_info  # noqa: E402
from freqrex_app.models.melspec import MIN_SAMPLES, PATCH_FRAMES, LogMel, n_patches, to_patches  # noqa: E402
from freqrex_app.models.taggers import _load_network, pretrained_dir  # noqa: E402

IDS = ["msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg"]
REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"
# Reported test ROC-AUC (experiment.result in each musicnn checkpoint).
ROC_AUC = {"msd-musicnn": 0.8802, "mtt-musicnn": 0.9067, "msd-vgg": 0.8768, "mtt-vgg": 0.9030}
SR = 16000


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def music_like(seconds: float, seed: int, peak: float = 0.5) -> np.ndarray:
    """A deterministic, music-like test signal: a chord of harmonic tones with note changes,
    a plucked envelope and a noisy percussive pulse."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = np.zeros(n)
    beat = 60.0 / rng.uniform(80, 160)
    for start in np.arange(0, seconds, 4 * beat):
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        seg = (t >= start) & (t < start + 4 * beat)
        tt = t[seg] - start
        for ratio in (1, 1.26, 1.5):
            for h in range(1, 6):
                y[seg] += np.sin(2 * np.pi * root * ratio * h * tt + rng.uniform(0, 6)) / h * np.exp(-tt % beat * 2)
    pulse = np.exp(-((t % beat) * rng.uniform(20, 60)))
    y += rng.standard_normal(n) * pulse * rng.uniform(0.2, 1.0)
    return (y * peak / np.abs(y).max()).astype(np.float32)


def librosa_logmel(y: np.ndarray) -> np.ndarray:
    """musicnn's extractor with the log taken in float32 (the reference front-end)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=256, n_fft=512, n_mels=96).T
    return np.log10(np.float32(10000) * mel.astype(np.float32) + np.float32(1))


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("model_id", IDS)
def test_parity_with_tensorflow_on_real_music(reference, model_id):
    """Same float32 log-mel patches of real music (one loud) into the torch port and, when the
    reference was made, into musicnn's original TF graph: max |diff| of tag scores <= 1e-4."""
    patches = reference["patches"]  # [E, P, 187, 96]
    tf_scores = reference[f"scores_{model_id}"]  # [E, P, 50]
    net = _load_network(model_id, "cpu")
    with torch.inference_mode():
        scores = torch.sigmoid(net(torch.from_numpy(patches.reshape(-1, PATCH_FRAMES, 96)))).numpy()
    scores = scores.reshape(tf_scores.shape)
    assert np.abs(scores - tf_scores).max() <= 1e-4
    assert np.abs(scores.mean(1) - tf_scores.mean(1)).max() <= 1e-4
    # the excerpts are told apart: real, music-dependent scores
    assert np.abs(tf_scores.mean(1)[0] - tf_scores.mean(1)[2]).max() > 0.05


def test_reference_holds_a_loud_excerpt(reference):
    names = list(reference["names"])
    assert any("loud" in n for n in names) and len(names) >= 3
    loud = reference["patches"][names.index(next(n for n in names if "loud" in n))]
    # 10000 x overflows float16 (max 65504) where log10(10000 x + 1) > log10(65505)
    assert (loud > np.log10(65505.0)).any()


# ----------------------------------------------------------------------------- front-end
@pytest.mark.parametrize("peak", [0.3, 1.0])
def test_frontend_matches_musicnn_way_in_float32(peak):
    waves = np.stack([music_like(4.0, seed, peak) for seed in (1, 2)])
    ours = LogMel()(torch.from_numpy(waves)).numpy()
    for wave, got in zip(waves, ours):
        want = librosa_logmel(wave)
        assert got.shape == want.shape
        assert np.isfinite(got).all()
        assert np.abs(got - want).max() < 2e-5
    if peak == 1.0:  # loud: musicnn's float16 cast would overflow here
        import librosa

        mel = librosa.feature.melspectrogram(y=waves[0], sr=SR, hop_length=256, n_fft=512, n_mels=96)
        with np.errstate(over="ignore"):
            assert np.isinf(np.float16(10000) * mel.astype(np.float16)).any()


def test_patching_follows_musicnn():
    assert n_patches(480_000) == 10  # 30 s -> 1876 frames -> 10 patches of 187
    assert n_patches(160_000) == 3  # 10 s
    assert n_patches(MIN_SAMPLES) == 1 and n_patches(1000) == 1
    x = torch.arange(2 * 400 * 3, dtype=torch.float32).reshape(2, 400, 3)
    p = to_patches(x)
    assert p.shape == (2, 2, PATCH_FRAMES, 3)
    assert torch.equal(p[1, 1], x[1, PATCH_FRAMES : 2 * PATCH_FRAMES])


# ----------------------------------------------------------------------------- predict
@pytest.fixture(scope="module")
def msd():
    return load_model("msd-musicnn", device="cpu")


def test_predict_is_patch_average_of_network(msd):
    wave = music_like(7.0, 3)
    logmel = librosa_logmel(wave)
    patches = logmel[: 2 * PATCH_FRAMES].reshape(2, PATCH_FRAMES, 96)
    with torch.inference_mode():
        want = torch.sigmoid(msd.net(torch.from_numpy(patches))).numpy().mean(0)
    got = msd.predict(wave[None])
    assert got.shape == (1, 50) and got.dtype == np.float32
    assert np.abs(got[0] - want).max() < 1e-4


def test_loud_audio_gives_finite_music_dependent_scores(msd):
    loud = np.stack([music_like(6.0, seed, peak=1.0) for seed in (4, 5)])
    louder = np.clip(loud * 4.0, -1.0, 1.0)  # clipped, mastered-loud
    scores = msd.predict(np.concatenate([loud, louder]))
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    assert np.abs(scores[0] - scores[1]).max() > 1e-2  # different music, different scores
    assert np.abs(scores[2] - scores[3]).max() > 1e-2


def test_short_waves_are_zero_padded_to_one_patch(msd):
    short = music_like(1.0, 6)
    padded = np.pad(short, (0, MIN_SAMPLES - len(short)))
    a, b = msd.predict(short[None]), msd.predict(padded[None])
    assert a.shape == (1, 50)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_predict_is_deterministic_and_batch_independent(msd):
    waves = np.stack([music_like(3.5, seed) for seed in (7, 8, 9)])
    first = msd.predict(waves)
    np.testing.assert_array_equal(first, msd.predict(waves))
    singles = np.concatenate([msd.predict(w[None]) for w in waves])
    np.testing.assert_allclose(first, singles, atol=1e-5)
    chunked = models.load_model("msd-musicnn", device="cpu")
    chunked.max_patches = 4  # several patches per network call (msd-musicnn on CPU: 1)
    np.testing.assert_allclose(chunked.predict(waves), first, atol=1e-5)


def test_bfloat16_runs_and_agrees(reference):
    bf = load_model("mtt-vgg", device="cpu", dtype="bfloat16")
    fp = load_model("mtt-vgg", device="cpu")
    waves = np.stack([music_like(3.2, seed) for seed in (10, 11)])
    a, b = fp.predict(waves), bf.predict(waves)
    assert b.dtype == np.float32 and np.abs(a - b).max() < 0.1
    with pytest.raises(ValueError, match="dtype"):
        load_model("mtt-vgg", dtype="float16")


# ----------------------------------------------------------------------------- registry
def test_list_models_and_default():
    ids = models.list_models()
    assert ids[:4] == IDS and models.DEFAULT_MODEL == "msd-musicnn" == ids[0]


@pytest.mark.parametrize("model_id", IDS)
def test_model_info(model_id):
    info = model_info(model_id)
    assert info["sample_rate"] == SR and len(info["labels"]) == 50
    assert info["description"] and info["roc_auc"] == pytest.approx(ROC_AUC[model_id], abs=1e-4)
    assert set(info["views"]) == {"all", "genres"}
    genres = info["views"]["genres"]
    assert 10 <= len(genres) < 50 and set(genres) <= set(info["labels"])
    assert ("rock" in genres) and ("female vocalists" not in genres) and ("male" not in genres)


@pytest.mark.parametrize("model_id", IDS)
def test_load_model_views(model_id):
    base = load_model(model_id, device="cpu")
    assert base.name == model_id and base.labels_view == "all" and len(base.labels) == 50
    assert load_model(model_id, labels_view=None, device="cpu").labels_view == "all"
    view = load_model(model_id, labels_view="genres", device="cpu")
    assert isinstance(view, LabelsView) and view.labels_view == "genres" and view.name == model_id
    assert view.sample_rate == SR and view.labels == model_info(model_id)["views"]["genres"]
    models.check_classifier(view)


def test_view_scores_are_base_columns(msd):
    view = load_model("msd-musicnn", labels_view="genres", device="cpu")
    wave = music_like(3.1, 12)[None]
    cols = [msd.labels.index(label) for label in view.labels]
    np.testing.assert_array_equal(view.predict(wave), msd.predict(wave)[:, cols])


def test_unknown_ids_and_views_are_clear_errors():
    with pytest.raises(ValueError, match="msd-musicnn.*mtt-vgg"):
        load_model("no-such-model")
    with pytest.raises(ValueError, match="valid: all, genres"):
        load_model("msd-musicnn", labels_view="moods")
    with pytest.raises(ValueError, match="msd-musicnn"):
        model_info("nope")


def test_register_model_and_factory_path(tmp_path, monkeypatch):
    module = tmp_path / "my_freqrex_plugin.py"
    module.write_text(textwrap.dedent("""
        import numpy as np

        class Dummy:
            name = "dummy"
            sample_rate = 8000
            labels = ["a", "b", "c"]
            views = {"ab": ["a", "b"]}

            def predict(self, waves):
                e = np.abs(np.asarray(waves)).mean(axis=1, keepdims=True)
                return np.concatenate([e, 1 - e, 0 * e], axis=1).astype(np.float32)

        def make(device=None):
            return Dummy()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = load_model("my_freqrex_plugin:make")
    assert model.name == "dummy" and model.labels_view == "all"
    view = load_model("my_freqrex_plugin:make", labels_view="ab")
    assert view.labels == ["a", "b"]
    from my_freqrex_plugin import make

    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))
    models.register_model("dummy", make, "a test model")
    assert "dummy" in models.list_models()
    info = model_info("dummy")
    assert info["description"] == "a test model" and info["views"]["ab"] == ["a", "b"]
    assert load_model("dummy").predict(np.zeros((2, 100), np.float32)).shape == (2, 3)
    with pytest.raises(ValueError, match="invalid model id 'bad:id'"):
        models.register_model("bad:id", make)


def test_weights_are_safetensors_with_licence():
    folder = pretrained_dir()
    assert sorted(p.name for p in folder.glob("*.safetensors")) == sorted(f"{i}.safetensors" for i in IDS)
    assert not [p for p in folder.iterdir() if p.suffix in {".pt", ".pth", ".pkl", ".bin", ".ckpt"}]
    assert "Music Technology Group" in (folder / "LICENSE.musicnn").read_text()


def test_fx_level_api():
    import freqrex_app as fx

    assert fx.list_models()[0] == "msd-musicnn"
    assert fx.model_info("mtt-musicnn")["views"]["genres"][0] == "classical"



def test_device_selection():
    model = load_model("msd-vgg", device="cpu")
    assert str(model.device) == "cpu"
    if not torch.cuda.is_available():
        assert str(load_model("msd-vgg").device) == "cpu"  # default: CUDA only when present
        with pytest.raises(ValueError, match="CUDA is not available"):
            load_model("msd-vgg", device="cuda")


def test_pooled_bn_shortcut_equals_plain_layers():
    """conv_relu_bn_pool == pool(bn(relu(conv(x)))) also for negative BN scales."""
    import torch.nn.functional as F

    from freqrex_app.models.musicnn import _pool_square, _pool_time4_stride2, conv_relu_bn_pool

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    bn = torch.nn.BatchNorm2d(8, eps=1e-3).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(8))  # about half negative
        bn.bias.copy_(torch.randn(8))
        bn.running_mean.copy_(torch.randn(8))
        bn.running_var.copy_(torch.rand(8) + 0.1)
    x = torch.randn(2, 3, 21, 12)
    with torch.inference_mode():
        plain = bn(F.relu(conv(x)))
        for pool, want in [
            (lambda z: z.amax(dim=3), plain.amax(dim=3)),
            (_pool_square(2), F.max_pool2d(plain, 2, 2)),
            (_pool_time4_stride2, F.max_pool2d(plain, (4, 1), (2, 1))),
        ]:
            torch.testing.assert_close(conv_relu_bn_pool(x, conv, bn, pool), want, atol=1e-5, rtol=1e-5)
        strided = conv_relu_bn_pool(x, conv, bn, _pool_time4_stride2, stride=(1, 2))
        torch.testing.assert_close(strided, F.max_pool2d(plain, (4, 1), (2, 2)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_id", IDS)
def test_predict_torch_equals_predict_and_has_gradients(model_id):
    """The differentiable forward (SPEC section 6): predict's scores within 1e-5, on a clip of
    several patches, a short one (padded) and through a labels view; gradients reach the wave."""
    import torch

    model = load_model(model_id, labels_view="genres")
    assert models.differentiable(model) and models.differentiable(model.base)
    for seconds in (7.3, 1.0):
        x = np.stack([music_like(seconds, seed) for seed in (0, 1)])
        wave = torch.from_numpy(x).requires_grad_(True)
        scores = model.predict_torch(wave)
        assert scores.shape == (2, len(model.labels)) and scores.requires_grad
        assert np.abs(scores.detach().numpy() - model.predict(x)).max() < 1e-5
        scores[0, int(scores[0].argmax())].backward()
        assert torch.isfinite(wave.grad).all() and wave.grad[0].abs().sum() > 0
        assert wave.grad[1].abs().sum() == 0  # the rows are independent


def test_the_temporal_filters_of_a_gradient_pass_are_the_same_convolution():
    """musicnn's (k, 1) filters, run as a 1-D convolution along time when gradients are
    wanted: the same values and the same gradient as conv2d's, within rounding."""
    import torch
    import torch.nn.functional as F

    from freqrex_app.models.musicnn import _conv_along_time

    g = torch.Generator().manual_seed(0)
    for k in (128, 64, 32):
        x = torch.randn(2, 1, 187 + k - 1, 96, generator=g)
        w, b = torch.randn(51, 1, k, 1, generator=g), torch.randn(51, generator=g)
        grads = []
        for conv in (lambda v: F.conv2d(v, w, b), lambda v: _conv_along_time(v, w, b)):
            v = x.clone().requires_grad_(True)
            y = conv(v)
            (grad,) = torch.autograd.grad(y.amax(dim=3).square().sum(), v)
            grads.append((y.detach(), grad))
        assert (grads[0][0] - grads[1][0]).abs().max() <= 1e-6 * grads[0][0].abs().max()
        assert (grads[0][1] - grads[1][1]).abs().max() <= 1e-5 * grads[0][1].abs().max()


def test_a_plain_predict_model_is_not_differentiable():
    class Plain:
        name, sample_rate, labels = "plain", 16000, ["a", "b"]

        def predict(self, waves):
            return np.full((len(waves), 2), 0.5, dtype=np.float32)

    assert not models.differentiable(Plain())
    assert not models.differentiable(models.restrict_labels(Plain(), ["a", "b"]))
