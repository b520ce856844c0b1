"""A time-frequency cue over generated beds and seeds: the STFT map and flip find it.

The planted classifier (``planted.Burst``) says "yes" while a tone at a known frequency is
heard for a while. Each case hides a 0.3 s burst of that tone (frequency and start from the
seed) in a generated 1 s bed (``planted.bed``: pink noise, a harmonic note, a chord) under a
louder steady distractor tone the classifier ignores. The bed and the
distractor alone are checked to stay below half the threshold, so the burst's cells are the
cause: the STFT map (the measured drop of the margin per cell) must sit on them and not on the
distractor, and the STFT flip must change them and little else, verified from its saved WAV.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import freqrex_app as fx
from planted import BEDS, SEEDS, SR, Burst, bed

N = SR                # 1 s clips
BURST_AMP = 0.2       # peak of the Hann-shaped burst
BURST_SECONDS = 0.3
DISTRACTOR = 0.5      # steady over the whole clip: louder than the burst
NEAR_HZ = 250.0       # "near the cue": the classifier's band (+-125 Hz) and a tile of the map


def burst_case(kind: str, seed: int):
    """The clip, the classifier, the cue's and the distractor's frequency (Hz) and the
    burst's span (samples). The bed is the same generated bed as the responsibility tests'."""
    rng = np.random.default_rng([seed, 23])
    hz = float(rng.integers(2000, 5000))
    while True:
        distractor = float(rng.integers(500, 4500))
        if abs(distractor - hz) > 600:
            break
    start = int(rng.uniform(0.15, 0.5) * SR)
    on = slice(start, start + int(BURST_SECONDS * SR))
    t = np.arange(N) / SR
    burst = np.zeros(N)
    burst[on] = BURST_AMP * np.sin(2 * np.pi * hz * t[on]) * np.hanning(on.stop - on.start)
    rest = bed(kind, seed) + DISTRACTOR * np.sin(2 * np.pi * distractor * t)
    model = Burst(threshold=0.5 * Burst(1.0, hz).band_level(burst[None])[0], hz=hz)
    # without the burst, the band stays far below the threshold: the burst is the cause
    level = model.band_level(rest[None])[0]
    assert level < model.threshold / 2, (level, model.threshold)
    x = (rest + burst).astype(np.float32)
    assert model.predict(x[None])[0].argmax() == 1
    return x, model, hz, distractor, on


def cells_near(shape, hop: int, n_fft: int, hz: float, frames=None) -> np.ndarray:
    """A boolean [freq, frames] mask: rows within NEAR_HZ of ``hz``, and (if given) frames whose
    window overlaps the sample span ``frames`` (a centred window reaches n_fft / 2 out)."""
    n_freq, n_frames = shape
    rows = np.abs(np.arange(n_freq) * SR / n_fft - hz) <= NEAR_HZ
    cols = np.ones(n_frames, dtype=bool)
    if frames is not None:
        centre = np.arange(n_frames) * hop
        cols = (centre + n_fft // 2 > frames.start) & (centre - n_fft // 2 < frames.stop)
    return rows[:, None] & cols[None, :]


@pytest.mark.parametrize("kind", BEDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_stft_map_and_flip_sit_on_a_burst_not_on_a_louder_distractor(kind, seed, tmp_path):
    x, model, hz, distractor, on = burst_case(kind, seed)
    exp = fx.explain(x, model, budget=1000, seed=seed, stft=True)  # the standard budget
    assert exp.label == "yes" and exp.flip_search == "black-box"  # Burst has no predict_torch
    shape, n_fft, hop = tuple(exp.stft["shape"]), exp.stft["n_fft"], exp.stft["hop"]
    cue = cells_near(shape, hop, n_fft, hz, on)
    loud = cells_near(shape, hop, n_fft, distractor)
    assert cue.sum() > 0 and loud.sum() > 0 and not (cue & loud).any()

    # (a) the map: its peak and nearly all its mass on the burst's cells, none on the distractor
    drop = exp.stft_margin_drop
    assert drop.shape == shape and drop.min() >= 0.0 and drop.sum() > 0.0
    peak = np.unravel_index(int(np.argmax(drop)), shape)
    assert cue[peak], (peak, hz, on)
    share = drop[cue].sum() / drop.sum()
    assert share >= 0.9, (share, drop[loud].sum() / drop.sum())
    assert drop[loud].sum() / drop.sum() <= 0.01

    # (b) the flip: the energy it takes is the burst's cells' ...
    f = exp.stft_flip
    assert f is not None and f.flipped and f.search == "black-box"
    removed = (1.0 - f.gain) ** 2 * np.abs(np.fft.rfft(
        np.lib.stride_tricks.sliding_window_view(np.pad(x, n_fft // 2, mode="reflect"),
                                                 n_fft)[::hop] * np.hanning(n_fft + 1)[:-1],
        axis=-1).T) ** 2  # |STFT|^2 per cell, as the engine's (Hann, centred)
    assert removed.shape == shape
    changed = np.zeros(shape, dtype=bool)
    changed.ravel()[f.index] = True
    taken = removed[changed]
    assert taken.sum() > 0.0
    on_cue = removed[changed & cue].sum() / taken.sum()
    assert on_cue >= 0.9, (on_cue, f.k, f.gain, f.snr_db)
    assert removed[changed & loud].sum() / taken.sum() <= 0.01

    # ... and it is a flip as saved: the WAV re-classified says "no", as the JSON does
    exp.save(tmp_path, figures=False)
    d = json.loads((tmp_path / "explanation.json").read_text())
    wave, sr = sf.read(tmp_path / d["stft_flip"]["audio"], dtype="float32")
    assert sr == SR and wave.shape == x.shape
    assert model.labels[int(model.predict(wave[None])[0].argmax())] == "no" == d["stft_flip"]["label"]
    saved = np.load(tmp_path / "sets.npz")
    assert sorted(saved["stft_flip_cells"].tolist()) == sorted(f.index.tolist())
    np.testing.assert_allclose(saved["stft_responsibility"], drop, rtol=1e-6)
