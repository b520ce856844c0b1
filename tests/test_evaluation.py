"""``freqrex evaluate``: baselines, rows, resume, process pool, Ray, report, one real run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import freqrex_app as fx
from freqrex_app.engine.oracle import Oracle
from freqrex_app.engine.spaces import FrequencySpace
from freqrex_app.engine.manipulations import snr_db
from freqrex_app.evaluation import baselines as bl
from freqrex_app.engine.gradient import GAINS
from freqrex_app.evaluation import whitebox as wb
from freqrex_app.evaluation.report import summarise, wilson, write_report
from freqrex_app.evaluation.runner import Job, Settings, is_done, load_rows, make_jobs, run_jobs

from planted import SR, Planted, hz_to_bin, tone_clip
from planted_torch import CUE_AMP, CUE_HZ, THRESHOLD, FaintTone, faint_tone_clip

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "tests.planted:tone"  # 'yes' while the 440 Hz bin is present
PLANTED_TORCH = "tests.planted_torch:faint_tone"  # 'yes' while a faint 440 Hz tone is present


@pytest.fixture()
def clips(tmp_path):
    folder = tmp_path / "clips"
    for i in range(3):
        fx.write_wav(folder / f"c{i}.wav", tone_clip(1.0, seed=i), SR)
    return folder


# -- baselines ---------------------------------------------------------------------------------
def test_random_bins_nested_and_seeded():
    a = bl.random_bins(1000, 5, seed=3)
    assert len(set(a.tolist())) == 5
    assert np.array_equal(bl.random_bins(1000, 2, seed=3), a[:2])  # nested over k
    assert np.array_equal(bl.random_bins(1000, 5, seed=3), a)
    assert not np.array_equal(bl.random_bins(1000, 5, seed=3, draw=1), a)


def test_loudest_and_bands():
    mag = np.array([1.0, 5.0, 3.0, 5.0, 0.5, 9.0])
    assert bl.loudest_bins(mag, 3).tolist() == [5, 1, 3]  # ties by index
    assert bl.loudest_bins(mag, 2, within=(0, 4)).tolist() == [1, 3]
    edges = bl.band_edges(8001, 64)
    assert edges[0] == 0 and edges[-1] == 8001 and len(edges) == 65
    assert np.all(np.diff(edges) >= 125)


def test_occlusion_finds_the_planted_band_and_counts_queries():
    x = tone_clip(1.0)
    model = Planted("one", (440.0,))
    space = FrequencySpace(x, SR)
    oracle = Oracle(model)
    target, conf, _ = oracle.classify_one(x)
    res = bl.run_baselines(space, oracle, target, conf, bands=16, draws=2)
    lo, hi = res.occlusion_band
    assert lo <= hz_to_bin(440, x.size) < hi and res.occlusion_band_flipped
    assert res.occlusion_queries == 16
    assert res.queries == 16 + 5 * 4  # 2 random draws, loudest, occlusion
    occ = [f for f in res.flips if f.method == "occlusion"]
    assert occ[0].bins.tolist() == [hz_to_bin(440, x.size)] and all(f.flipped for f in occ)
    loud = [f for f in res.flips if f.method == "loudest"]
    assert loud[0].bins.tolist() == [hz_to_bin(1000, x.size)] and not loud[0].flipped  # louder tone
    assert loud[1].flipped  # 1000 and 440 Hz
    assert not any(f.flipped for f in res.flips if f.method == "random")
    for f in res.flips:  # the exact wave, its SNR
        assert f.wave.dtype == np.float32 and f.snr_db > 0


# -- the white-box reference -------------------------------------------------------------------
@pytest.fixture(scope="module")
def msd_excerpt():
    model = fx.load_model("msd-musicnn", labels_view="genres")
    audio = fx.load_audio(ROOT / "assets" / "examples" / "electronic.ogg",
                          sample_rate=model.sample_rate, duration=3.0)
    return model, audio.samples


def test_gradient_matches_finite_differences(msd_excerpt):
    """The differentiable path is the engine's reconstruction and the model's predict."""
    import torch
    from freqrex_app.engine.decision import Decision
    from freqrex_app.engine.gradient import MaskedWave, margin_gradient
    from freqrex_app.engine.spaces import StftSpace

    model, x = msd_excerpt
    with torch.no_grad():
        assert np.abs(model.predict_torch(torch.from_numpy(x[None])).numpy()
                      - model.predict(x[None])).max() < 1e-5
    decision = Decision(int(model.predict(x[None])[0].argmax()))
    for space in (FrequencySpace(x, SR), StftSpace(x, SR)):
        masked = MaskedWave(space)
        idx = np.arange(50, space.n_features, 9)
        mask = np.zeros(space.n_features)
        mask[idx] = 1.0
        with torch.no_grad():
            wave = masked(torch.from_numpy(mask.reshape(space.shape))).numpy()
        assert np.abs(wave - space.remove(idx)).max() < 1e-5  # the engine's removal
        _, grad = margin_gradient(model, masked, decision)
        for k in np.argsort(-np.abs(grad))[:3]:
            eps, up, down = 0.01, np.zeros(space.n_features), np.zeros(space.n_features)
            up[k], down[k] = eps, -eps
            fd = (margin_gradient(model, masked, decision, mask=up)[0]
                  - margin_gradient(model, masked, decision, mask=down)[0]) / (2 * eps)
            assert abs(fd - grad[k]) <= 0.05 * abs(grad[k]), (space.ndim, k, fd, grad[k])


def test_whitebox_flips_are_verified_from_saved_wavs(msd_excerpt, tmp_path):
    from freqrex_app.audio.io import load_audio, write_wav
    from freqrex_app.engine.spaces import StftSpace

    model, x = msd_excerpt
    oracle = Oracle(model)
    target = oracle.classify_one(x)[0]
    res = wb.run_whitebox(model, FrequencySpace(x, SR), StftSpace(x, SR), target,
                          gains=(0.0, 0.7), steps=1, oracle=oracle)
    assert not isinstance(res, str)
    assert res.queries == oracle.queries - 1 and res.stft is not None and res.stft.flipped
    assert [f.n for f in res.flips] == [1, 2, 3, 4, 5] and [f.n for f in res.saliency] == [1, 2, 3, 4, 5]
    changes = [f for f in (res.quiet, res.stft, *res.flips, *res.saliency) if f is not None]
    for i, f in enumerate(changes):
        write_wav(tmp_path / f"{i}.wav", f.wave, SR)
        wave = load_audio(tmp_path / f"{i}.wav", sample_rate=SR).samples
        label = int(model.predict(wave[None])[0].argmax())
        assert (label != target) == f.flipped and label == f.label, (f.method, f.n)
        assert abs(snr_db(x, wave) - f.snr_db) < 1e-3
    # the flip-k candidates include the top-k by predicted drop: the best of them is reported
    assert all(f.domain == "freq" and f.gain == 0.0 for f in res.flips)


def test_whitebox_quiet_flip_finds_the_planted_faint_cue():
    from freqrex_app.engine.spaces import StftSpace

    x = faint_tone_clip()
    model = FaintTone()
    oracle = Oracle(model)
    target = oracle.classify_one(x)[0]
    assert model.labels[target] == "yes"
    space = FrequencySpace(x, SR)
    cue = hz_to_bin(CUE_HZ, x.size)
    alone = snr_db(x, space.remove(np.array([cue])))  # removing the cue alone
    res = wb.run_whitebox(model, space, StftSpace(x, SR), target, oracle=oracle)
    q = res.quiet
    # the cue's bin alone, attenuated by the largest gain tried that takes its amplitude
    # below the threshold: the change is (1 - g) of the cue's, 20 log10(1 / (1 - g)) dB quieter
    amp = space.magnitude[cue] / (x.size / 2)
    assert amp == pytest.approx(CUE_AMP, rel=0.2)
    gain = max(g for g in GAINS if g * amp < THRESHOLD)
    assert gain > 0 and q.flipped and q.index.tolist() == [cue] and q.gain == gain
    assert q.snr_db == pytest.approx(alone - 20 * np.log10(1 - gain), abs=0.05)
    # the STFT flip takes the cue's cells, about as quietly as removing the cue
    s = res.stft
    assert s.flipped and s.snr_db >= alone - 3.0
    st = StftSpace(x, SR)
    energy = st.magnitude.ravel()[s.index].astype(np.float64) ** 2
    near = np.isin(s.index // st.shape[1], np.arange(24, 34))  # 440 Hz is STFT bin 28.2
    assert energy[near].sum() >= 0.99 * energy.sum()
    # flip-1 removes the cue; gradient saliency of the score finds it too
    assert res.flips[0].flipped and res.flips[0].index.tolist() == [cue]
    assert res.saliency[0].index.tolist() == [cue] and res.saliency[0].flipped


def test_whitebox_skips_models_without_a_torch_forward():
    res = wb.run_whitebox(Planted("one"), FrequencySpace(tone_clip(), SR), None, 1)
    assert isinstance(res, str) and "no differentiable forward" in res


# -- runner: rows, resume, pool ----------------------------------------------------------------
def test_rows_resume_and_settings_change(clips, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    out = tmp_path / "out"
    s = Settings(budget=150, duration=1.0, bands=16)
    jobs = make_jobs(sorted(str(p) for p in clips.iterdir()), [PLANTED], s, str(out))
    rows = run_jobs(jobs)
    assert len(rows) == 3 and all("error" not in r for r in rows)
    r = rows[0]
    for key in ("freqrex_flip_1", "random_flip_5", "loudest_snr_2", "occlusion_flip_3", "S_fraction",
                "SN_found", "stft_flip", "queries", "seconds", "baseline_queries", "margin"):
        assert key in r
    assert r["label"] == "yes" and r["queries"] <= 150 and r["occlusion_queries"] == 16
    assert r["freqrex_flip_5"] and r["occlusion_flip_1"] and not r["random_flip_1"]
    folder = jobs[0].folder
    for name in ("explanation.json", "row.json", "baselines.json", "flip_1.wav",
                 "baseline_occlusion_1.wav", "baseline_random_5.wav"):
        assert (folder / name).exists(), name
    # the saved audio gives the reported label
    from freqrex_app.audio.io import load_audio
    model = Planted("one", (440.0,))
    for k in (1, 5):
        for stem, key in ((f"flip_{k}", f"freqrex_flip_{k}"), (f"baseline_loudest_{k}", f"loudest_flip_{k}")):
            wave = load_audio(folder / f"{stem}.wav", sample_rate=SR).samples
            flipped = model.predict(wave[None]).argmax(1)[0] != 1
            assert flipped == r[key], stem
    # the STFT flip's baseline (the quietest cells): its saved audio flips, as its row says
    assert r["quietest_stft_flip"] and r["quietest_stft_cells"] > 0
    wave = load_audio(folder / "baseline_quietest_stft.wav", sample_rate=SR).samples
    assert model.predict(wave[None]).argmax(1)[0] != 1
    gate = json.loads((folder / "baselines.json").read_text())["quietest_stft"]
    assert gate["flipped"] and gate["n_cells"] == r["quietest_stft_cells"]
    # the white-box reference needs a torch model: skipped, with the reason
    assert r["whitebox_flip_1"] is None and r["whitebox_quiet_flip"] is None
    assert "whitebox: " in r["notes"] and "no differentiable forward" in r["notes"]
    # resume: nothing recomputed
    mtimes = [(j.folder / "row.json").stat().st_mtime_ns for j in jobs]
    done = []
    run_jobs(jobs, on_done=lambda row, skipped: done.append(skipped))
    assert done == [True] * 3
    assert mtimes == [(j.folder / "row.json").stat().st_mtime_ns for j in jobs]
    # other settings: recomputed
    jobs2 = make_jobs([jobs[0].clip], [PLANTED], Settings(budget=100, duration=1.0, bands=16), str(out))
    assert not is_done(jobs2[0])
    done.clear()
    run_jobs(jobs2, on_done=lambda row, skipped: done.append(skipped))
    assert done == [False] and json.loads((folder / "row.json").read_text())["budget"] == 100


def test_whitebox_rows_wavs_and_verify_audio(tmp_path, monkeypatch):
    """A torch classifier: the white-box columns, baselines.json, and every saved WAV
    re-classified by benchmarks/evaluation/verify_audio.py."""
    import importlib.util

    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    clip = tmp_path / "faint.wav"
    fx.write_wav(clip, faint_tone_clip(), SR)
    out = tmp_path / "out"
    jobs = make_jobs([str(clip)], [PLANTED_TORCH], Settings(budget=150, duration=1.0, bands=16),
                     str(out))
    (r,) = run_jobs(jobs)
    assert "error" not in r, r
    assert r["whitebox_quiet_flip"] and r["whitebox_quiet_bins"] == 1 and r["whitebox_quiet_gain"] > 0
    assert r["whitebox_stft_flip"] and r["whitebox_stft_snr"] > 30
    assert r["whitebox_flip_1"] and r["saliency_flip_1"] and r["whitebox_queries"] > 0
    assert r["quiet_flip"] is None or isinstance(r["quiet_flip"], bool)  # engine's, if computed
    doc = json.loads((jobs[0].folder / "baselines.json").read_text())["whitebox"]
    assert doc["quiet"]["bins"] == [hz_to_bin(CUE_HZ, SR)] and doc["quiet"]["audio"] == "whitebox_quiet.wav"
    for name in ("whitebox_quiet.wav", "whitebox_stft.wav", "whitebox_flip_1.wav",
                 "baseline_saliency_5.wav"):
        assert (jobs[0].folder / name).exists(), name
    spec = importlib.util.spec_from_file_location("verify_audio",
                                                  ROOT / "benchmarks" / "evaluation" / "verify_audio.py")
    verify = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verify)
    stems = [c[0] for c in verify.checks(r)]
    assert {"whitebox_quiet", "whitebox_stft", "whitebox_flip_1", "baseline_saliency_1"} <= set(stems)
    assert verify.main([str(out)]) == 0
    # a WAV that no longer gives the reported label is caught
    fx.write_wav(jobs[0].folder / "whitebox_quiet.wav", faint_tone_clip(), SR)
    assert verify.main([str(out)]) == 1
    write_report(load_rows(out), tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "white-box STFT flip" in md and "gradient saliency" in md


def test_failed_job_is_recorded_and_retried(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    jobs = make_jobs([str(bad)], [PLANTED], Settings(duration=1.0), str(tmp_path / "out"))
    rows = run_jobs(jobs)
    assert "error" in rows[0] and (jobs[0].folder / "error.json").exists()
    assert not is_done(jobs[0])


def test_duplicate_clip_names_refused(tmp_path):
    with pytest.raises(ValueError, match="same name"):
        make_jobs(["a/x.wav", "b/x.wav"], [PLANTED], Settings(), str(tmp_path))


@pytest.mark.slow
def test_process_pool_matches_in_process(clips, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    files = sorted(str(p) for p in clips.iterdir())[:2]
    s = Settings(budget=80, duration=1.0, bands=8, stft=False, save_audio=False)
    one = run_jobs(make_jobs(files, [PLANTED], s, str(tmp_path / "a")))
    two = run_jobs(make_jobs(files, [PLANTED], s, str(tmp_path / "b")), workers=2)
    strip = lambda rows: sorted(({k: v for k, v in r.items() if "seconds" not in k} for r in rows),
                                key=lambda r: r["clip"])
    assert strip(one) == strip(two)


# -- report ------------------------------------------------------------------------------------
def test_wilson_and_summary(tmp_path):
    lo, hi = wilson(15, 30)
    assert lo < 0.5 < hi and 0.3 < lo and hi < 0.7
    rows = []
    for i in range(4):
        r = {"model": "m", "clip": f"c{i}", "labels_view": "all", "duration": 1.0, "budget": 10,
             "queries": 10, "seconds": 1.0, "baseline_queries": 5, "baseline_seconds": 0.1,
             "stft_flip": i < 2, "stft_snr": 30.0 - 15 * i, "stft_cells": 3, "margin": 0.1,
             "S_found": True, "S_fraction": 1e-4, "S_bins": 2, "SN_found": i < 3,
             "SN_fraction": 2e-4 if i < 3 else None, "SN_bins": 4 if i < 3 else None,
             "budget_exhausted": False, "whitebox_quiet_flip": i % 2 == 0,
             "whitebox_quiet_snr": 42.0 - 2 * i if i % 2 == 0 else None,
             "whitebox_quiet_bins": 100 * (i + 1) if i % 2 == 0 else None}
        for k in range(1, 6):
            for m in ("freqrex", "random", "loudest", "occlusion"):
                r[f"{m}_flip_{k}"] = (m == "freqrex" and i < 3) or (m == "loudest" and i == 0)
                r[f"{m}_snr_{k}"] = 40.0
        rows.append(r)
    s = summarise(rows)["m"]
    assert s["flip@1"] == 0.75 and s["stft_flip"] == 0.5 and s["SN_found"] == 0.75
    assert s["stft_at_30"] == 0.25 and s["stft_at_35"] == 0.0  # clip 0 flips at 30 dB, clip 1 at 15
    assert s["stft_snr_median"] == 22.5 and s["quiet_flip"] is None  # no quiet flip in these rows
    assert s["whitebox_quiet_flip"] == 0.5 and s["whitebox_quiet_at_40"] == 0.25
    assert s["whitebox_quiet_snr_median"] == 40.0 and s["whitebox_quiet_bins_median"] == 200
    assert s["random_rate"] == [0.0] * 5 and s["loudest_rate"][0] == 0.25
    assert s["wins_vs_loudest"][0] == [2, 0]
    write_report(rows, tmp_path, command="freqrex evaluate x --out y")
    md = (tmp_path / "report.md").read_text()
    assert "75%" in md and "paper" in md and "freqrex evaluate x" in md
    assert "white-box quiet flip" in md and ">= 40 dB" in md and "not computed" in md
    for f in ("rows.csv", "rows.json", "summary.json", "flip_rate_vs_k.png", "set_sizes.png",
              "flip_snr.png", "cost.png"):
        assert (tmp_path / f).stat().st_size > 0


# -- Ray ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ray_local(clips, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'freqrex-app[ray]'")
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    files = sorted(str(p) for p in clips.iterdir())[:2]
    s = Settings(budget=80, duration=1.0, bands=8, stft=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        jobs = make_jobs(files, [PLANTED], s, str(tmp_path / "ray"))
        rows = run_jobs(jobs, ray_address="local")
    finally:
        ray.shutdown()
    ref = run_jobs(make_jobs(files, [PLANTED], s, str(tmp_path / "here")))
    assert len(rows) == 2 and all("error" not in r for r in rows), rows
    assert all(is_done(j) and (j.folder / "flip_1.wav").exists() for j in jobs)
    key = lambda r: (r["clip"], r["freqrex_flip_1"], r["freqrex_flip_5"], r["occlusion_flip_1"], r["label"])
    assert sorted(map(key, rows)) == sorted(map(key, ref))


# -- the command, end to end, on real music ----------------------------------------------------
@pytest.mark.slow
def test_cli_real_clip_workers_and_resume(tmp_path):
    clip = ROOT / "assets" / "examples" / "electronic.ogg"
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "freqrex_app", "evaluate", str(clip), "--models", "msd-musicnn",
           "--labels-view", "genres", "--budget", "60", "--duration", "3", "--occlusion-bands", "8",
           "--no-stft", "--no-audio", "--no-whitebox", "--workers", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "0 already done" in first.stdout and "1 run now" in first.stdout
    rows = json.loads((out / "rows.json").read_text())
    assert len(rows) == 1 and rows[0]["model"] == "msd-musicnn" and rows[0]["queries"] <= 60
    assert rows[0]["labels_view"] == "genres" and rows[0]["occlusion_queries"] == 8
    assert rows[0]["whitebox_flip_1"] is None and "whitebox: not run (--no-whitebox)" in rows[0]["notes"]
    header = (out / "rows.csv").read_text().splitlines()[0].split(",")
    assert "freqrex_flip_1" in header and "occlusion_flip_5" in header
    md = (out / "report.md").read_text()
    assert "msd-musicnn" in md and "flip@1" in md and "--budget 60" in md
    assert (out / "flip_rate_vs_k.png").exists()
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "1 already done (skipped)" in second.stdout
