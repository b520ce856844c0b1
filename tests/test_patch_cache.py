"""The patch hook and the patch cache: exact spans of the musicnn front-end, cached scores
against full recomputation on real weights and real music, and the oracle's accounting."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import freqrex_app as fx  # noqa: E402
from freqrex_app.engine.oracle import BudgetExhausted, Oracle  # noqa: E402
from freqrex_app.models import PatchCache, has_patches, restrict_labels, without_patches  # noqa: E402
from freqrex_app.models.melspec import HOP, PATCH_FRAMES, LogMel, n_patches, patch_span, to_patches  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
IDS = ["msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg"]


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """20 s of real music (two example excerpts end to end): 6 patches and a dropped tail."""
    if not (EXAMPLES / "metal.ogg").is_file():
        pytest.skip("example music not present")
    parts = [fx.load_audio(EXAMPLES / f"{name}.ogg", sample_rate=16000).samples for name in ("metal", "electronic")]
    return np.concatenate(parts).astype(np.float32)


# ----------------------------------------------------------------------------- spans
def test_patch_spans_are_exactly_the_samples_each_patch_depends_on(music):
    """Against the whole clip's centred log-mel (musicnn's way, not the segment path): a change
    at a span's first or last sample changes that patch, one just outside it does not."""
    x = music[: 8 * 16000]  # 8 s: 2 patches, then a tail of dropped frames
    n = len(x)
    spans = [patch_span(p, n) for p in range(n_patches(n))]
    assert spans == [(0, 47872), (47617, 95744)]
    assert spans[0][1] - spans[1][0] == 255  # neighbours share 255 samples
    frontend = LogMel()

    def patches(wave):
        with torch.inference_mode():
            return to_patches(frontend(torch.from_numpy(wave[None])))[0]

    base = patches(x)
    lo, hi = spans[1]
    for at, changed in [(lo - 1, False), (lo, True), (hi - 1, True), (hi, False)]:
        y = x.copy()
        y[at] += 0.5
        assert bool((patches(y)[1] != base[1]).any()) is changed, (at, changed)
    y = x.copy()
    y[spans[1][1] + 1000] += 0.5  # the tail no patch holds
    assert torch.equal(patches(y), base)
    assert patch_span(0, 20000) == (0, 20000)  # a short clip: one patch over all of it


# ----------------------------------------------------------------------------- real models
def _mutants(x: np.ndarray, spans: list[tuple[int, int]]) -> tuple[np.ndarray, list[int]]:
    """Mutants of ``x`` and how many patches each changes (with no cache but ``x``'s)."""
    n, p = len(x), len(spans)
    local = x.copy()
    local[spans[2][0] + 4000 : spans[2][0] + 9000] = 0.0  # 0.3 s silenced inside patch 2 only
    edge = x.copy()
    edge[spans[3][0] + 10] *= -1.0  # one sample shared by patches 2 and 3
    tail = x.copy()
    tail[spans[-1][1]:] = 0.0  # only the dropped tail
    spec = np.fft.rfft(x.astype(np.float64))
    spec[[220, 4400, 31000]] = 0.0  # three rfft bins removed: every sample changes
    bins = np.fft.irfft(spec, n=n).astype(np.float32)
    quieter = (x * np.float32(0.5)).astype(np.float32)
    two_far = x.copy()
    two_far[spans[0][0] + 100 : spans[0][0] + 3000] *= 0.1  # patch 0 ...
    two_far[spans[5][0] + 20000 : spans[5][0] + 20500] = 0.0  # ... and patch 5
    waves = np.stack([local, edge, tail, bins, quieter, two_far, local])  # the last: a repeat
    return waves, [1, 2, 0, p, p, 2, 0]


@pytest.mark.slow
@pytest.mark.parametrize("model_id", IDS)
def test_cached_scores_equal_full_recompute_on_real_music(music, model_id):
    model = fx.load_model(model_id, device="cpu")
    assert has_patches(model)
    x = music
    spans = model.patch_spans(len(x))
    assert len(spans) == 6
    waves, changed = _mutants(x, spans)
    cache = PatchCache(model)
    np.testing.assert_allclose(cache.predict(x[None]), model.predict(x[None]), atol=1e-6, rtol=0)
    assert cache.evaluations == 6 and len(cache) == 6
    got = cache.predict(waves)
    want = model.predict(waves)  # full recompute, every patch of every wave
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-6
    assert cache.evaluations == 6 + sum(changed)
    assert cache.lookups == 6 * (1 + len(waves))
    # real, music-dependent changes: the scores of the local and the all-sample mutants differ
    assert np.abs(want[0] - want[3]).max() > 1e-4


def test_a_labels_view_keeps_the_hook_with_its_columns(music):
    model = fx.load_model("msd-vgg", labels_view="genres", device="cpu")
    assert has_patches(model) and has_patches(model.base)
    x = music[: 6 * 16000]
    got = model.predict_patches(x[None], np.array([[0, 0]]))
    full = model.base.predict_patches(x[None], np.array([[0, 0]]))
    np.testing.assert_array_equal(got, full[:, model._columns])
    np.testing.assert_allclose(PatchCache(model).predict(x[None]), model.predict(x[None]), atol=1e-6, rtol=0)
    assert not has_patches(without_patches(model))
    assert without_patches(model).labels == model.labels


# ----------------------------------------------------------------------------- a cheap patch model
class Windows:
    """Patch-scored toy: non-overlapping 1,000-sample windows (a tail is dropped), each scored by
    the share of its energy in its first half; ``predict`` averages them."""

    name, sample_rate, labels = "windows", 8000, ["late", "early"]

    def __init__(self):
        self.patch_calls = 0
        self.predict_calls = 0

    def patch_spans(self, n_samples):
        return [(i * 1000, (i + 1) * 1000) for i in range(max(1, n_samples // 1000))]

    def predict_patches(self, waves, which):
        self.patch_calls += 1
        seg = np.stack([waves[b, lo:hi] for b, i in which for lo, hi in [self.patch_spans(waves.shape[1])[i]]])
        e = seg.astype(np.float64) ** 2
        early = (e[:, :500].sum(1) + 1e-9) / (e.sum(1) + 2e-9)
        return np.stack([1 - early, early], axis=1)

    def predict(self, waves):
        self.predict_calls += 1
        p = len(self.patch_spans(waves.shape[1]))
        which = np.array([(b, i) for b in range(len(waves)) for i in range(p)])
        return self.predict_patches(waves, which).reshape(len(waves), p, 2).mean(1, dtype=np.float32)


def _toy_clip(seed=0, n=8500):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32) * 0.1
    x[:4000] *= np.linspace(2.0, 0.5, 4000, dtype=np.float32)
    return x


def test_the_oracle_counts_a_query_per_waveform_even_when_every_patch_is_cached(monkeypatch):
    model = Windows()
    oracle = Oracle(model, budget=5, batch_size=2)
    assert oracle.patches is not None
    x = _toy_clip()
    oracle.classify(np.stack([x, x, x]))  # 3 queries in 2 calls; 8 patches computed once
    assert (oracle.queries, oracle.calls) == (3, 2)
    assert oracle.patches.evaluations == 8 and oracle.patches.lookups == 24
    assert model.predict_calls == 0 and oracle.predict_seconds > 0
    oracle.classify_one(x)
    assert oracle.queries == 4 and oracle.patches.evaluations == 8
    with pytest.raises(BudgetExhausted, match="budget of 5 model queries spent"):
        oracle.classify(np.stack([x, x]))
    assert Oracle(model, patch_cache=False).patches is None
    assert Oracle(without_patches(model)).patches is None
    monkeypatch.setenv("FREQREX_PATCH_CACHE", "0")
    assert Oracle(model).patches is None


def test_the_engine_gives_the_same_explanation_with_and_without_the_cache():
    x = _toy_clip(1)
    cached_model, plain_model = Windows(), Windows()
    cached = fx.explain(x, cached_model, budget=120, seed=3, stft=True)
    plain = fx.explain(x, without_patches(plain_model), budget=120, seed=3, stft=True)
    assert cached_model.predict_calls == 0 and plain_model.predict_calls > 0
    assert cached.queries == plain.queries and cached.label == plain.label
    np.testing.assert_array_equal(cached.ranking, plain.ranking)
    np.testing.assert_array_equal(cached.responsibility, plain.responsibility)
    assert [f.flipped for f in cached.flips] == [f.flipped for f in plain.flips]
    assert (cached.stft_flip is None) == (plain.stft_flip is None)
    if cached.stft_flip is not None:
        assert cached.stft_flip.flipped == plain.stft_flip.flipped


def test_the_cache_is_bounded_and_stays_right_after_evictions():
    model = Windows()
    cache = PatchCache(model, max_entries=5)
    clips = np.stack([_toy_clip(seed) for seed in range(3)])
    for _ in range(2):
        got = cache.predict(clips)
        assert len(cache) <= 5
        np.testing.assert_array_equal(got, model.predict(clips))
    cache.clear()
    assert len(cache) == 0


def test_bad_spans_and_models_without_the_hook_are_clear_errors():
    class Bad(Windows):
        def patch_spans(self, n_samples):
            return [(0, n_samples + 1)]

    with pytest.raises(ValueError, match="patch_spans"):
        PatchCache(Bad()).predict(_toy_clip()[None])
    with pytest.raises(TypeError, match="patch_spans"):
        PatchCache(without_patches(Windows()))
    assert not has_patches(restrict_labels(without_patches(Windows()), ["late", "early"]))
