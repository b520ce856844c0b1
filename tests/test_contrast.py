"""A contrast has one meaning: "why X and not Y?". Every sentence the page writes about it is
checked against the saved result (explanation.json and the WAVs, re-classified).

The planted classifier has three labels: x (tone A), y (tone B) and z (high while a loud
tone D is absent). Kept alone, A keeps x ahead of the foil y while z, a third label, tops
the kept sound; removing A lets y win.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf

import freqrex_app as fx
from freqrex_app.web.outputs import prepare_job
from freqrex_app.web.perturbations import perturbation_info
from freqrex_app.web.store import job_from_folder
from freqrex_app.web.listening import lead_candidates, outcome
from freqrex_app.web.sentences import facts_md, lead_md, sufficient_md
from freqrex_app.web.tables import perturbation_rows
from freqrex_app.engine.manipulations import snr_db
from planted import ThreeLabels, three_labels_clip

@pytest.fixture(scope="module", params=[0, 1])
def saved(request, tmp_path_factory):
    model = ThreeLabels()
    x = three_labels_clip(request.param)
    assert model.labels[int(model.predict(x[None])[0].argmax())] == "x"
    exp = fx.explain(x, model, budget=400, seed=request.param, stft=False, contrast="y")
    folder = tmp_path_factory.mktemp(f"contrast{request.param}")
    prepare_job(exp, folder, model_id=model.name, zip_it=False)
    return model, job_from_folder(folder), json.loads((folder / "explanation.json").read_text())


def label_of(model, path) -> tuple[str, np.ndarray]:
    wave, _ = sf.read(path, dtype="float32")
    scores = model.predict(wave[None])[0]
    return model.labels[int(scores.argmax())], scores


def test_the_sufficient_set_keeps_x_ahead_of_the_foil_and_says_its_top_is_a_third_label(saved):
    model, job, d = saved
    text = sufficient_md(job)
    top, scores = label_of(model, job.folder / d["sufficient"]["audio"])
    assert top == d["sufficient"]["label"] == "z"  # the kept sound's top-1 is a third label
    assert scores[0] > scores[1]                   # and x is still ahead of the foil y
    assert "still prefer x over y" in text and "keeps x ahead of y" in text
    assert "its top label is z, a third label" in text
    assert "still hear z" not in text


def test_the_necessary_set_removed_lets_the_foil_win(saved):
    model, job, d = saved
    kept, _ = label_of(model, job.folder / d["necessary"]["audio_kept"])
    removed, _ = label_of(model, job.folder / d["necessary"]["audio_removed"])
    assert removed == d["necessary"]["label_removed"] == "y"
    assert kept == d["necessary"]["label_kept"]
    info = perturbation_info(job.exp, "necessary_removed")
    assert info["changed"] and info["outcome"] == "changed: y wins"


def test_every_row_of_the_table_answers_why_x_and_not_y(saved):
    model, job, d = saved
    rows = {r[0]: r for r in perturbation_rows(job.exp)}
    seen = set()
    for name, title, wav in (("sufficient", "Sufficient", d["sufficient"]["audio"]),
                             ("necessary_kept", "Necessary kept", d["necessary"]["audio_kept"]),
                             ("necessary_removed", "Necessary removed",
                              d["necessary"]["audio_removed"]),
                             *((f"flip_{f['k']}", f"Flip-{f['k']}", f["audio"])
                               for f in d["flips"])):
        label, scores = label_of(model, job.folder / wav)
        row = rows[title]
        assert row[2] == label
        if name in ("sufficient", "necessary_kept"):  # kept: x stays ahead of y
            assert scores[0] > scores[1]
            assert row[6] == ("same" if label == "x" else "x still ahead of y")
        elif label == "y":
            assert row[6] == "changed: y wins"
            seen.add("foil wins")
        else:
            assert row[6] == ("same" if label == "x" else "y does not win")
            seen.add("foil does not win")
    assert "foil wins" in seen  # the rows that answer with the foil were checked


def test_the_headline_takes_the_least_audible_change_including_the_sets_sounds(saved):
    model, job, d = saved
    original, _ = sf.read(job.folder / "original.wav", dtype="float32")
    # every sound that makes the foil win, from the files
    wins = {}
    for name, wav in [("necessary_removed", d["necessary"]["audio_removed"])] + [
            (f"flip_{f['k']}", f["audio"]) for f in d["flips"]] + [
            ("quiet_flip", (d["quiet_flip"] or {}).get("audio"))]:
        if wav is None:
            continue
        changed, _ = sf.read(job.folder / wav, dtype="float32")
        if label_of(model, job.folder / wav)[0] == "y":
            wins[name] = snr_db(original, changed)
    assert "necessary_removed" in wins  # the set's sound is one of them
    assert {c.name for c in lead_candidates(job.exp)} == set(wins)
    text = lead_md(job)
    found = re.search(r"A change \*\*(\d+) dB below the music\*\* makes the model hear "
                      r"\*\*([^*]+)\*\* and not x\n.*?`(\w+)\.wav`.*?SNR ([\d.]+) dB", text, re.S)
    assert found, text
    _, label, name, snr = found.groups()
    assert label == "y" and name in wins
    assert float(snr) == pytest.approx(max(wins.values()), abs=0.05)


def test_the_facts_name_the_foil_for_the_first_flip(saved):
    model, job, d = saved
    text = facts_md(job)
    first = next(f for f in d["flips"] if f["flipped"])
    assert f"Removing the top **{first['k']}** frequenc" in text
    assert "makes the model hear **y** over x" in text
    assert label_of(model, job.folder / first["audio"])[0] == "y"
    assert all(f["label"] == "y" for f in d["flips"] if f["flipped"])


def test_without_a_change_the_headline_agrees_with_the_table(tmp_path):
    """A foil nothing can bring on top (w): the headline says so, and no row says it wins."""
    model = ThreeLabels()
    exp = fx.explain(three_labels_clip(0), model, budget=200, seed=0, stft=False, contrast="w")
    job = job_from_folder(prepare_job(exp, tmp_path / "w", model_id=model.name,
                                      zip_it=False).folder)
    rows = perturbation_rows(job.exp)
    assert not any(r[6].startswith("changed") for r in rows)
    # removing A puts y, not the foil w, on top: reported as y, and not as a change
    third = [r for r in rows if r[0].startswith("Flip-") and r[2] == "y"]
    assert third and all(r[6] == "w does not win" for r in third)
    assert not lead_candidates(job.exp)
    assert not any(outcome(job.exp, f"flip_{f.k}", model.labels[f.label])[0]
                   for f in job.exp.flips)
    text = lead_md(job)
    assert text.startswith("### Nothing this budget tried makes the model hear w over x")


def test_the_command_line_summary_agrees(saved, tmp_path):
    from freqrex_app.cli.main import _summary

    model, job, d = saved
    text = _summary(job.exp, job.folder / "explanation.json")
    lead = lead_candidates(job.exp)[0]
    assert "makes the model hear y" in text and f"[{lead.name.replace('_', ' ')}, found by" in text
    assert "sufficient:" in text and "keeps x ahead of y (top-1: z)" in text
