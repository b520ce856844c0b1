"""Overdetermined causes over generated beds and seeds: the ranking is the responsibility.

Each case plants tones whose roles are known exactly (either of two, either of three, (A and
B) or C) under a generated bed (noise, a harmonic note, a chord) with a louder distractor
tone the classifier ignores. By definition (Chockler-Halpern) each planted tone has degree
1/(k+1), k the fewest other tones that must go before removing it changes the label, and
every other bin 0. The planted bins must head the ranking with that degree, and flip-k must
first flip when every tone that has to go is gone.
"""
from __future__ import annotations

import numpy as np
import pytest

import freqrex_app as fx
from planted import BEDS, SEEDS, SR, Planted, bed, hz_to_bin

N = SR  # 1 s clips: 8001 bins, 1 Hz apart
DISTRACTOR = 0.5  # louder than any planted tone (0.2-0.3)


def planted_case(rule: str, kind: str, seed: int) -> tuple[np.ndarray, Planted, list[int]]:
    """The clip (bed + planted tones + a louder distractor), the classifier and the planted
    bins. Frequencies are drawn from the seed, at whole Hz, far from each other."""
    rng = np.random.default_rng(seed)
    n_tones = 2 if rule == "any2" else 3
    while True:
        hz = np.sort(rng.integers(300, 4000, size=n_tones + 1))
        if np.min(np.diff(hz)) > 150:
            break
    freqs, distractor = [float(h) for h in rng.permutation(hz[:-1])], float(hz[-1])
    x = bed(kind, seed)
    t = np.arange(N) / SR
    for f in freqs:
        x = x + rng.uniform(0.2, 0.3) * np.sin(2 * np.pi * f * t)
    x = (x + DISTRACTOR * np.sin(2 * np.pi * distractor * t)).astype(np.float32)
    model = Planted("any" if rule.startswith("any") else "ab|c", tuple(freqs), threshold=0.1)
    # the bed alone is far below the threshold at the planted bins: the tones are the causes
    amps = model.amplitudes(bed(kind, seed).astype(np.float32)[None])[0]
    assert np.all(amps < model.threshold / 2), amps
    return x, model, [hz_to_bin(f, N) for f in freqs]



def first_flip(exp) -> int | None:
    return next((f.k for f in exp.flips if f.flipped), None)


def check_saved_flips(exp, model) -> None:
    """Every flip-k's wave re-classifies as reported."""
    assert [f.k for f in exp.flips] == [1, 2, 3, 4, 5]
    for f in exp.flips:
        assert int(model.predict(f.wave[None])[0].argmax()) == f.label
        assert set(f.index.tolist()) == set(exp.ranking[:f.k].tolist())  # the top k, removed


@pytest.mark.parametrize("kind", BEDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_either_of_two_tones_each_half_responsible(kind, seed):
    x, model, planted = planted_case("any2", kind, seed)
    exp = fx.explain(x, model, budget=1000, seed=seed, stft=False)
    assert exp.label == "yes"
    assert set(exp.ranking[:2].tolist()) == set(planted), exp.hz(exp.ranking[:6])
    np.testing.assert_allclose(exp.responsibility[planted], 0.5)
    assert exp.responsibility[exp.ranking[2]] < 0.5  # nothing else shares their degree
    assert first_flip(exp) == 2  # both must go; one alone never flips
    check_saved_flips(exp, model)


@pytest.mark.parametrize("kind", BEDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_either_of_three_tones_each_a_third_responsible(kind, seed):
    x, model, planted = planted_case("any3", kind, seed)
    exp = fx.explain(x, model, budget=1000, seed=seed, stft=False)
    assert exp.label == "yes"
    assert set(exp.ranking[:3].tolist()) == set(planted), exp.hz(exp.ranking[:6])
    np.testing.assert_allclose(exp.responsibility[planted], 1 / 3)
    assert exp.responsibility[exp.ranking[3]] < 1 / 3
    assert first_flip(exp) == 3
    check_saved_flips(exp, model)


@pytest.mark.parametrize("kind", BEDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_a_and_b_or_c_each_half_responsible(kind, seed):
    """(A and B) or C: A goes once C has gone (k = 1), B likewise, C once A or B has: 1/2 each.
    Two tones flip it (C and one of A, B), so flip-k first flips at 2, at most 3."""
    x, model, planted = planted_case("ab|c", kind, seed)
    exp = fx.explain(x, model, budget=1000, seed=seed, stft=False)
    assert exp.label == "yes"
    assert set(exp.ranking[:3].tolist()) == set(planted), exp.hz(exp.ranking[:6])
    np.testing.assert_allclose(exp.responsibility[planted], 0.5)
    assert exp.responsibility[exp.ranking[3]] < 0.5
    assert first_flip(exp) in (2, 3)
    check_saved_flips(exp, model)
