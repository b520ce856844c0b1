"""The least audible flips: the gradient search where the model is differentiable, the
black-box search elsewhere, and every sound judged by a model of hearing (Zimtohrli),
re-verified from the files written."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import zimtohrli

import freqrex_app as fx
from freqrex_app.audio.hearing import INAUDIBLE_MOS, Hearing, snr_db, words
from freqrex_app.engine.explanation import sound_entries
from planted import SR, Planted, hz_to_bin, tone_clip
from planted_torch import CUE_HZ, FaintTone, SteppedTone, faint_tone_clip

ROOT = Path(__file__).resolve().parents[1]


def zimtohrli_of(original: np.ndarray, changed: np.ndarray, rate: int) -> float:
    """The Zimtohrli distance computed here, independently of the product."""
    up = [soxr.resample(np.asarray(w, np.float32), rate, 48000) for w in (original, changed)]
    return float(zimtohrli.Pyohrli().distance(*up))


def check_saved(out: Path, model) -> int:
    """Every saved sound: re-classified, its SNR and Zimtohrli distance recomputed; returns how
    many sounds were checked."""
    d = json.loads((out / "explanation.json").read_text())
    x, rate = sf.read(out / "original.wav", dtype="float32")
    checked = 0
    for name, (e, sfx) in sound_entries(d).items():
        audio = e.get(f"audio{sfx}") or e["audio"]
        y, _ = sf.read(out / audio, dtype="float32")
        scores = model.predict(y[None])[0]
        label = e.get("label" + sfx) or e["label"]
        assert model.labels[int(np.argmax(scores))] == label, name
        assert abs(snr_db(x, y) - e[f"snr_db{sfx}"]) < 1e-3, name
        z = zimtohrli_of(x, y, rate)
        assert abs(z - e[f"zimtohrli{sfx}"]) <= 1e-6 + 1e-3 * z, (name, z, e[f"zimtohrli{sfx}"])
        assert abs(zimtohrli.mos_from_zimtohrli(z) - e[f"mos{sfx}"]) < 1e-3, name
        checked += 1
    return checked


@pytest.mark.parametrize("track", ["electronic.ogg", "metal.ogg"])
def test_hearing_scores_match_zimtohrli_and_rank_one_bin_below_many(track):
    """On real music, one removed bin is less audible than many attenuated bins at the same
    SNR (the finding that made hearing the judge); the scores are Zimtohrli's own."""
    x = fx.load_audio(ROOT / "assets" / "examples" / track, sample_rate=SR, duration=10.0).samples
    spectrum = np.fft.rfft(x.astype(np.float64))
    hearing = Hearing(x, SR)
    for rank in (0, 5):
        one = spectrum.copy()
        one[np.argsort(-np.abs(spectrum))[rank]] = 0  # a loud bin removed
        y_one = np.fft.irfft(one, n=x.size).astype(np.float32)
        target = snr_db(x, y_one)
        many = spectrum.copy()  # every third bin attenuated, scaled to the same SNR
        many[np.arange(50, spectrum.size - 1, 3)] *= 0.5
        delta = np.fft.irfft(many - spectrum, n=x.size)
        scale = np.sqrt(np.sum(x.astype(np.float64) ** 2) / np.sum(delta ** 2)
                        / 10 ** (target / 10))
        y_many = (x + scale * delta).astype(np.float32)
        a_one, a_many = hearing.judge(y_one), hearing.judge(y_many)
        assert abs(a_one.snr_db - a_many.snr_db) < 0.01 and a_one.snr_db < 20
        assert a_one.zimtohrli < a_many.zimtohrli and a_one.mos > a_many.mos
        assert a_one.zimtohrli == pytest.approx(zimtohrli_of(x, y_one, SR), rel=1e-4)
    assert hearing.judge(x).mos == pytest.approx(5.0) and hearing.judge(x).zimtohrli == 0.0
    assert words(hearing.judge(x)) == "you will not hear it" and hearing.judge(x).mos >= INAUDIBLE_MOS


def test_changes_the_hearing_model_calls_inaudible_tie_and_the_least_energy_wins():
    """"Least audible": below the point where the model of hearing says a person hears nothing
    (MOS >= INAUDIBLE_MOS), its distance no longer orders changes, and the SNR does; an
    audible change ranks after every inaudible one whatever its SNR. Real music, real scores."""
    x = fx.load_audio(ROOT / "assets" / "examples" / "electronic.ogg", sample_rate=SR,
                      duration=10.0).samples
    hearing = Hearing(x, SR)
    spectrum = np.fft.rfft(x.astype(np.float64))
    loud = np.argsort(-np.abs(spectrum))

    def without(rank: int) -> np.ndarray:
        s = spectrum.copy()
        s[loud[rank]] = 0
        return np.fft.irfft(s, n=x.size).astype(np.float32)

    def noise(snr: float) -> np.ndarray:
        n = np.random.default_rng(0).normal(0.0, float(np.std(x)) * 10 ** (-snr / 20), x.size)
        return (x + n).astype(np.float32)

    faint_bin, faint_noise = hearing.judge(without(200)), hearing.judge(noise(50.0))
    loud_bin, audible = hearing.judge(without(0)), hearing.judge(noise(40.0))
    # measured: all but the 40 dB noise inaudible; the 200th bin nearer by distance, the noise
    # quieter by SNR; the 40 dB noise quieter than the loudest bin by SNR, but heard
    assert min(faint_bin.mos, faint_noise.mos, loud_bin.mos) >= INAUDIBLE_MOS > audible.mos
    assert faint_bin.zimtohrli < faint_noise.zimtohrli and faint_bin.snr_db < faint_noise.snr_db
    assert audible.snr_db > loud_bin.snr_db
    ranked = sorted([audible, loud_bin, faint_bin, faint_noise], key=lambda a: a.key())
    assert ranked == [faint_noise, faint_bin, loud_bin, audible]


def test_where_the_gradient_finds_no_flip_the_black_box_search_does(tmp_path):
    """A model with ``predict_torch`` whose gradient is zero everywhere (rounded scores): the
    gradient search runs and finds nothing, the black-box search takes the rest of each flip's
    share and finds the planted cue, and every output says which search found it."""
    x, model = faint_tone_clip(), SteppedTone()
    exp = fx.explain(x, model, budget=600, seed=0)
    assert exp.label == "yes" and exp.flip_search == "gradient" and exp.gradients >= 2
    assert exp.quiet_flip.search == "black-box" and exp.quiet_flip.flipped
    assert exp.stft_flip.search == "black-box" and exp.stft_flip.flipped
    assert hz_to_bin(CUE_HZ, x.size) in exp.quiet_flip.index
    assert exp.queries <= 600
    exp.save(tmp_path)
    d = json.loads((tmp_path / "explanation.json").read_text())
    assert d["flip_search"] == "gradient" and d["gradients"] == exp.gradients
    assert d["quiet_flip"]["search"] == d["stft_flip"]["search"] == "black-box"
    assert check_saved(tmp_path, model) >= 2


def test_gradient_flips_on_a_differentiable_model(tmp_path):
    """``auto`` takes the gradient for a model with ``predict_torch``: both least audible flips
    find the planted faint cue, say so, count their gradient passes, and every sound's
    audibility holds when recomputed from the files."""
    x, model = faint_tone_clip(), FaintTone()
    exp = fx.explain(x, model, budget=600, seed=0)
    assert exp.flip_search == "gradient" and exp.gradients >= 2
    assert 0 < exp.gradient_seconds < exp.seconds - exp.predict_seconds  # timed apart
    cue = int(round(CUE_HZ * x.size / SR))
    assert exp.quiet_flip.search == "gradient" and cue in exp.quiet_flip.index
    assert exp.stft_flip.search == "gradient" and exp.stft_flip.flipped
    exp.save(tmp_path)
    d = json.loads((tmp_path / "explanation.json").read_text())
    assert d["flip_search"] == "gradient" and d["gradients"] == exp.gradients
    assert d["quiet_flip"]["search"] == d["stft_flip"]["search"] == "gradient"
    assert check_saved(tmp_path, model) == len(sound_entries(d)) >= 9
    again = fx.load_explanation(tmp_path)  # no model call, no hearing model: as saved
    assert again.flip_search == "gradient" and again.gradients == exp.gradients
    assert again.audibility["stft_flip"] == pytest.approx(exp.audibility["stft_flip"])


def test_black_box_flips_can_be_forced_and_plain_models_get_them(tmp_path):
    x, model = faint_tone_clip(), FaintTone()
    forced = fx.explain(x, model, budget=600, seed=0, flip_search="black-box")
    assert forced.flip_search == "black-box" and forced.gradients == 0
    assert forced.gradient_seconds == 0.0
    assert forced.stft_flip.search == "black-box"
    plain = Planted("one", (440.0,))
    exp = fx.explain(tone_clip(), plain, budget=300, seed=0)
    assert exp.flip_search == "black-box" and exp.gradients == 0
    with pytest.raises(ValueError, match="needs a differentiable model"):
        fx.explain(tone_clip(), plain, budget=300, flip_search="gradient")
    with pytest.raises(ValueError, match="flip_search must be one of"):
        fx.explain(tone_clip(), plain, budget=300, flip_search="white-box")


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory):
    """Three seconds of a real example track, written as a user's file."""
    model = fx.load_model("msd-musicnn", labels_view="genres")
    audio = fx.load_audio(ROOT / "assets" / "examples" / "electronic.ogg",
                          sample_rate=model.sample_rate, start=4.0, duration=3.0)
    path = tmp_path_factory.mktemp("excerpt") / "excerpt.wav"
    sf.write(path, audio.samples, model.sample_rate, subtype="FLOAT")
    return model, path


def test_gradient_flip_with_a_foil_makes_the_foil_win(excerpt, tmp_path):
    """With a contrast, the gradient aims at the foil: the flips make the foil the top-1."""
    model, path = excerpt
    x = fx.load_audio(path, sample_rate=model.sample_rate).samples
    order = np.argsort(-model.predict(x[None])[0])
    # the fourth label (chillout here): not the runner-up, so a flip to the runner-up would
    # not count (electronica, the third, is out of reach: no gain flips to it)
    foil = model.labels[int(order[3])]
    exp = fx.explain(x, model, budget=400, seed=0, contrast=foil)
    found = [f for f in exp.verified_flips() if f.search == "gradient"]
    assert found, exp.notes
    assert foil == "chillout"
    for f in found:
        assert model.labels[int(np.argmax(model.predict(f.wave[None])[0]))] == foil


def test_freqrex_explain_on_a_built_in_model(excerpt, tmp_path):
    """``freqrex explain`` as a user runs it, on a real built-in model: the summary names the
    search and the hearing model's verdict, and the files back every number."""
    model, path = excerpt
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    r = subprocess.run([sys.executable, "-m", "freqrex_app", "explain", str(path), "--model",
                        "msd-musicnn", "--labels-view", "genres", "--budget", "300",
                        "--no-figures", "--out", str(out)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "least audible flips searched by: gradient" in r.stdout
    d = json.loads((out / "explanation.json").read_text())
    assert d["flip_search"] == "gradient" and d["gradients"] >= 1 and d["queries"] <= 300
    assert "least audible change:" in r.stdout and "found by gradient search" in r.stdout
    assert "MOS" in r.stdout
    assert check_saved(out, model) >= 5
