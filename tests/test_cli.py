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

from planted import SR, tone_clip

TESTS = Path(__file__).parent


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


def test_contrast_names_the_foil_and_the_summary_leads_with_the_least_audible_change(clip, tmp_path):
    out = tmp_path / "out"
    r = freqrex("explain", str(clip), "--model", "planted:tone", "--budget", "300",
                "--contrast", "no", "--no-figures", "--out", str(out))
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "explanation.json").read_text())
    assert d["contrast"] == "no" and d["label"] == "yes"
    first = r.stdout.splitlines()
    assert "and not no" in first[0] and "least audible change" in first[1]
    for key in ("quiet_flip", "stft_flip"):  # each flip counts only when the foil wins
        assert d[key] is None or d[key]["label"] == "no"
    bad = freqrex("explain", str(clip), "--model", "planted:tone", "--contrast", "maybe",
                  "--out", str(tmp_path / "o2"))
    assert bad.returncode == 2 and "contrast label 'maybe'" in bad.stderr


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
