"""The command line, run as a user runs it: real subprocesses, real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from planted import SR, A, D, ThreeLabels, three_labels_clip, tone_clip

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def freqrex(*args, cwd=TESTS, module=False):
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    cmd = [sys.executable, "-m", "freqrex_app"] if module else [str(Path(sys.executable).parent / "freqrex")]
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "tone.flac"
    sf.write(path, tone_clip(2.0), SR)
    return path


def test_explain_with_a_model_from_a_factory(clip, tmp_path):
    out = tmp_path / "out"
    r = freqrex("explain", str(clip), "--model", "planted:tone", "--budget", "300",
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "flip-1" in r.stdout and "FLIPPED" in r.stdout
    d = json.loads((out / "explanation.json").read_text())
    assert d["model"] == "planted-one" and d["budget"] == 300 and d["queries"] <= 300
    assert d["flips"][0]["flipped"] and abs(d["flips"][0]["hz"][0] - 440.0) < 1.0
    for name in ("sets.npz", "original.wav", "flip_1.wav", "stft_flip.wav", "responsibility.png"):
        assert (out / name).exists(), name
    assert "explaining" in r.stderr  # the tqdm bar


@pytest.fixture(scope="module")
def xyz_clip(tmp_path_factory):
    """A clip that ``planted:three`` labels x, with y, z and w as possible foils."""
    path = tmp_path_factory.mktemp("xyz") / "xyz.flac"
    sf.write(path, three_labels_clip(0), SR)
    return path


@pytest.mark.parametrize("foil, tone_hz", [("y", A), ("z", D)])
def test_the_foil_decides_which_change_counts_and_the_summary_leads_with_it(xyz_clip, tmp_path,
                                                                          foil, tone_hz):
    """Four labels: x on top; removing tone A lets y win, removing tone D lets z win. Asked
    "why x and not <foil>", every flip reported removes that foil's tone and the foil wins in
    the WAV written."""
    out = tmp_path / "out"
    r = freqrex("explain", str(xyz_clip), "--model", "planted:three", "--budget", "300",
                "--contrast", foil, "--no-stft", "--no-figures", "--out", str(out))
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "explanation.json").read_text())
    assert d["contrast"] == foil and d["label"] == "x"
    first = r.stdout.splitlines()
    assert f"and not {foil}" in first[0] and "least audible change" in first[1]
    assert f"makes the model hear {foil}" in first[1]
    model = ThreeLabels()
    for f in [*d["flips"], d["quiet_flip"]]:  # each counts only when the foil wins
        assert f["flipped"] and f["label"] == foil, f
        wave, _ = sf.read(out / f["audio"], dtype="float32")
        assert model.labels[int(model.predict(wave[None])[0].argmax())] == foil
    assert abs(d["flips"][0]["hz"][0] - tone_hz) < 20  # the foil's own tone went first


def test_a_foil_that_nothing_brings_on_top_is_never_reported_as_a_flip(xyz_clip, tmp_path):
    """Removing tone A changes the top label to y, but the question was "and not w": no flip."""
    out = tmp_path / "out"
    r = freqrex("explain", str(xyz_clip), "--model", "planted:three", "--budget", "300",
                "--contrast", "w", "--no-stft", "--no-figures", "--out", str(out))
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "explanation.json").read_text())
    assert d["contrast"] == "w" and d["label"] == "x"
    assert [f["label"] for f in d["flips"]] == ["y"] * 5  # the top label did change ...
    assert not any(f["flipped"] for f in d["flips"]) and d["quiet_flip"] is None  # ... to y
    assert "no change tried made the model hear w over x" in r.stdout
    assert "FLIPPED" not in r.stdout
    bad = freqrex("explain", str(xyz_clip), "--model", "planted:three", "--contrast", "maybe",
                  "--out", str(tmp_path / "o2"))
    assert bad.returncode == 2 and "contrast label 'maybe'" in bad.stderr


def _claims(d: dict) -> dict[str, str]:
    """Every sound an explanation.json names, with the label it says the model gives it."""
    claims: dict[str, str] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            for suffix in ("", "_kept", "_removed"):
                if isinstance(node.get(f"audio{suffix}"), str):
                    claims[node[f"audio{suffix}"]] = node[f"label{suffix}"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(d)
    return claims


@pytest.mark.slow
def test_explain_with_a_built_in_model_on_a_shipped_clip(tmp_path):
    """msd-musicnn (its weights in pretrained/) on 3 s of a shipped example at a small budget:
    the JSON's label is the model's own top-1 on that excerpt, and every WAV written exists and
    is classified as the JSON says."""
    from freqrex_app import load_audio, load_model

    clip = ROOT / "assets" / "examples" / "metal.ogg"
    out = tmp_path / "out"
    r = freqrex("explain", str(clip), "--model", "msd-musicnn", "--start", "4", "--duration",
                "3", "--budget", "60", "--no-figures", "--out", str(out))
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "explanation.json").read_text())
    assert d["model"] == "msd-musicnn" and d["queries"] <= 60
    model = load_model("msd-musicnn", labels_view=d["labels_view"])
    excerpt = load_audio(clip, sample_rate=model.sample_rate, start=4.0, duration=3.0)
    scores = np.asarray(model.predict(excerpt.samples[None]))[0]
    assert d["label"] == model.labels[int(scores.argmax())]
    assert d["confidence"] == pytest.approx(float(scores.max()), abs=1e-4)

    claims = {"original.wav": d["label"], **_claims(d)}
    assert {"original.wav", *(f"flip_{k}.wav" for k in range(1, 6))} <= set(claims)
    assert {p.name for p in out.glob("*.wav")} == set(claims)  # no WAV without its claim
    names = sorted(claims)
    waves = []
    for name in names:
        wave, rate = sf.read(out / name, dtype="float32")
        assert rate == model.sample_rate and wave.shape == excerpt.samples.shape, name
        waves.append(wave)
    heard = np.asarray(model.predict(np.stack(waves))).argmax(axis=1)
    assert {n: model.labels[i] for n, i in zip(names, heard)} == {n: claims[n] for n in names}


def test_python_m_is_the_same_command(clip, tmp_path):
    r = freqrex("explain", str(clip), "--model", "planted:tone", "--budget", "100", "--no-stft",
                "--no-figures", "--out", str(tmp_path), module=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "explanation.json").read_text())["stft_flip"] is None


def test_models_lists_the_builtin_taggers():
    r = freqrex("models")
    assert r.returncode == 0, r.stderr
    for model_id in ("msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg"):
        assert model_id in r.stdout
    assert "(default)" in r.stdout


@pytest.mark.parametrize("case", ["missing", "not_audio", "empty", "silent", "bad_model",
                                  "bad_factory", "bad_budget"])
def test_errors_are_one_clear_line(case, clip, tmp_path):
    audio, model, extra = str(clip), "planted:tone", []
    if case == "missing":
        audio = str(tmp_path / "nope.wav")
    elif case == "not_audio":
        (tmp_path / "text.wav").write_text("this is not a wav file\n" * 50)
        audio = str(tmp_path / "text.wav")
    elif case == "empty":
        (tmp_path / "empty.mp3").write_bytes(b"")
        audio = str(tmp_path / "empty.mp3")
    elif case == "silent":
        sf.write(tmp_path / "silent.wav", np.zeros(SR * 2, dtype=np.float32), SR)
        audio = str(tmp_path / "silent.wav")
    elif case == "bad_model":
        model = "no-such-model"
    elif case == "bad_factory":
        model = "planted:nothing_here"
    elif case == "bad_budget":
        extra = ["--budget", "0"]
    r = freqrex("explain", audio, "--model", model, *extra, "--out", str(tmp_path / "o"))
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip() and "explaining" not in line]
    assert len(lines) == 1 and lines[0].startswith("freqrex: error: "), r.stderr
    assert "Traceback" not in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = freqrex("--debug", "explain", str(tmp_path / "nope.wav"), "--model", "planted:tone",
                "--out", str(tmp_path))
    assert r.returncode != 0 and "Traceback" in r.stderr
