"""The page's words and figures say what is true of the explanation they show: real precomputed
explanations of the example clips (rebuilt from their files, without a model call)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from freqrex_app.web.examples import example_job, list_examples
from freqrex_app.web.format import count, fmt_seconds
from freqrex_app.web.limits import Limits
from freqrex_app.web.sentences import TORN, facts_md, headline_html, sufficient_md, torn_between


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    limits = Limits(cache=tmp_path_factory.mktemp("words-cache"))
    found = {ex.stem: example_job(ex, limits) for ex in list_examples()
             if ex.stem in ("edge-electronic", "electronic")}  # one torn verdict, one clear
    return {stem: job for stem, job in found.items() if job is not None}


def test_numbers_and_their_words_agree():
    assert [count(1, "bin"), count(2, "bin"), count(1_024, "STFT cell")] == [
        "1 bin", "2 bins", "1,024 STFT cells"]
    assert fmt_seconds(0.4) == "0.4 s" and fmt_seconds(42) == "42 s"
    assert fmt_seconds(150) == "2.5 min"
    assert "under a second" not in fmt_seconds(0.01)


def test_the_headline_says_when_the_model_is_torn(jobs):
    torn = [job for job in jobs.values() if torn_between(job.exp)]
    clear = [job for job in jobs.values() if not torn_between(job.exp)]
    assert torn and clear, "the examples should hold a torn verdict and a clear one"
    for job in torn:
        (a, sa), (b, sb) = job.exp.top_scores(2)
        assert sb >= TORN * sa
        text = headline_html(job)
        assert f"torn</b> between {a} ({sa:.1%}) and {b} ({sb:.1%})" in text, text
    for job in clear:
        (_, sa), (_, sb) = job.exp.top_scores(2)
        assert sb < TORN * sa and "torn" not in headline_html(job)


def test_one_tone_and_one_bin_are_singular(jobs):
    job = next(iter(jobs.values()))
    exp = job.exp
    one = dataclasses.replace(exp, sufficient=dataclasses.replace(
        exp.sufficient, index=np.asarray(exp.sufficient.index)[:1]))
    text = sufficient_md(dataclasses.replace(job, exp=one))
    assert "this one tone:" in text and "these 1" not in text, text
    facts = facts_md(dataclasses.replace(job, exp=one))
    assert "**1 bin**" in facts and "1 bins" not in facts, facts


def test_an_attenuated_stft_flip_is_not_called_removed(jobs):
    from freqrex_app import plots

    job = next(j for j in jobs.values() if j.exp.stft_flip is not None)
    exp = dataclasses.replace(job.exp, stft_flip=dataclasses.replace(job.exp.stft_flip,
                                                                      gain=0.8))
    fig = plots.perturbation(exp, "stft_flip")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("cells attenuated (× 0.8)" in t for t in texts), texts
    assert not any("removed" in t for t in texts), texts


def test_top_bins_close_together_share_one_label():
    from freqrex_app.plots.interactive import _rank_labels

    hz = np.array([55.0, 7040.0, 27.5, 40.0, 7050.0])
    labels = _rank_labels(hz, np.array([13.0, 12.5, 11.5, 10.5, 9.5]))
    assert labels == ["#1", "#2 #5", "#3", "#4", ""]
