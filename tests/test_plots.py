"""The figures of an explanation: each returns a Figure quickly, draws every perturbation,
and handles missing parts (no STFT variant, sets not found)."""
from __future__ import annotations


import numpy as np
import pytest
from matplotlib.figure import Figure

from freqrex_app import plots
from freqrex_app.audio import Audio
from freqrex_app.engine import explain
from freqrex_app.engine.perturbation import KINDS


class BandsModel:
    """A tiny deterministic classifier over band energies (bass / mid / treble)."""

    name = "toy-bands"
    sample_rate = 16000
    labels = ["bass", "mid", "treble"]
    _edges = [(20, 300), (300, 2000), (2000, 8000)]

    def predict(self, waves: np.ndarray) -> np.ndarray:
        waves = np.atleast_2d(np.asarray(waves, dtype=np.float64))
        power = np.abs(np.fft.rfft(waves, axis=1)) ** 2
        hz = np.fft.rfftfreq(waves.shape[1], 1 / self.sample_rate)
        energy = np.stack([power[:, (hz >= a) & (hz < b)].sum(1) for a, b in self._edges], 1)
        z = np.log10(energy + 1e-9) * np.array([1.0, 1.1, 1.3])
        p = np.exp(3 * (z - z.max(1, keepdims=True)))
        return (p / p.sum(1, keepdims=True)).astype(np.float32)


def _clip(seconds: float, sr: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 110 * t)
         + 0.2 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2
         + 0.1 * np.sin(2 * np.pi * 1320 * t) + 0.01 * rng.standard_normal(t.size))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def exp():
    audio = Audio(_clip(30.0), 16000, start=5.0, source="/somewhere/clip.wav")
    return explain(audio, BandsModel(), budget=300, seed=0)


@pytest.mark.parametrize("name", ["waveform", "responsibility", "spectrum_sets",
                                  "responsibility_spectrogram"])
def test_figures_render(exp, name, tmp_path):
    fig = getattr(plots, name)(exp)  # their time is measured by benchmarks/first_picture.py
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / f"{name}.png", dpi=110)
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_every_found_perturbation_is_drawn(exp, tmp_path):
    waves = exp.waves()
    drawn = 0
    for name in (k.name for k in KINDS):
        if name not in waves:
            with pytest.raises(KeyError, match=f"{name} was not found for this explanation"):
                plots.perturbation(exp, name)
            continue
        fig = plots.perturbation(exp, name)
        fig.savefig(tmp_path / f"{name}.png", dpi=80)
        drawn += 1
    assert drawn >= 6  # the five flips and the STFT flip at least
    with pytest.raises(KeyError, match="nonsense was not found for this explanation"):
        plots.perturbation(exp, "nonsense")


def test_no_stft_means_no_responsibility_spectrogram():
    audio = Audio(_clip(3.0), 16000)
    exp = explain(audio, BandsModel(), budget=120, seed=1, stft=False)
    assert plots.responsibility_spectrogram(exp) is None
    for name in ("waveform", "responsibility", "spectrum_sets"):
        assert isinstance(getattr(plots, name)(exp), Figure)


def test_save_writes_the_figures(exp, tmp_path):
    written = exp.save(tmp_path)
    for key in ("waveform", "responsibility", "spectrum_sets", "responsibility_spectrogram"):
        assert written[f"figure_{key}"].stat().st_size > 10_000
    assert not any(k.startswith("figure_") for k in exp.notes)


def test_note_names():
    assert plots.hz_to_note(440.0) == "A4"
    assert plots.hz_to_note(261.63) == "C4"
    assert plots.hz_to_note(27.5) == "A0"
    assert plots.hz_to_note(452.0, cents=True) == "A4 +47c"
    assert plots.hz_to_note(0.0) == "-"
    assert [n for _, n in plots.note_ticks(100, 1000)] == ["A2", "A3", "A4", "A5"]
