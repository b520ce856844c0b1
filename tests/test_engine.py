"""The engine on classifiers with planted causes (tests/planted.py): it must find them."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import freqrex_app as fx
from freqrex_app.engine.decision import Decision
from freqrex_app.engine.oracle import Oracle
from freqrex_app.engine.prefix import shortest_prefix
from freqrex_app.engine.search import part_responsibility
from freqrex_app.engine.sets import find_necessary
from freqrex_app.engine.spaces import FrequencySpace, StftSpace
from planted import BEDS, SEEDS, SR, Burst, Planted, bed, hz_to_bin, tone_clip

N = SR  # 1 s clips: 8001 bins


def bins(*hz):
    return {hz_to_bin(h, N) for h in hz}


# -- exact responsibility at one split -----------------------------------------------------------

def _passes(rule, n_parts=4):
    return np.array([rule(s) for s in range(1 << n_parts)])


def test_part_responsibility_single_cause():
    r = part_responsibility(_passes(lambda s: bool(s & 1)), 4)
    assert r.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_part_responsibility_disjunction_and_conjunction():
    either = part_responsibility(_passes(lambda s: bool(s & 0b11)), 4)
    assert either.tolist() == [0.5, 0.5, 0.0, 0.0]  # one other part must go first
    both = part_responsibility(_passes(lambda s: s & 0b11 == 0b11), 4)
    assert both.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_shortest_prefix_gallops_and_bisects_each_value_once():
    calls = []
    k = shortest_prefix(lambda k: calls.append(k) or k >= 37, 1, 1000)
    assert k == 37 and len(calls) == len(set(calls)) and len(calls) <= 2 * 10 + 2
    assert shortest_prefix(lambda k: False, 1, 50) is None
    assert shortest_prefix(lambda k: k >= 0, 0, 5) == 0


# -- the spaces reconstruct exactly ----------------------------------------------------------------

def test_spaces_keep_everything_is_the_clip_and_regions_add_up():
    x = tone_clip(0.5)
    for space in (FrequencySpace(x, SR), StftSpace(x, SR, 256, 64)):
        full = space.keep(np.arange(space.n_features))
        assert np.max(np.abs(full - x)) < 1e-5
        rng = np.random.default_rng(0)
        parts = space.split(space.root, rng, 1)
        assert sum(space.size(p) for p in parts) == space.n_features
        summed = sum(space.regions_wave([p]) for p in parts)
        assert np.max(np.abs(summed - x)) < 1e-4


# -- planted causes --------------------------------------------------------------------------------

def _check_sets(exp, model, x):
    """The definitions hold: keep(S), keep(SN) -> label; remove(SN) -> another; waves verified."""
    space = FrequencySpace(x, SR)
    target = exp.label_index
    for s in (exp.sufficient, exp.necessary):
        assert s is not None
    assert model.predict(space.keep(exp.sufficient.index)[None]).argmax() == target
    assert model.predict(space.keep(exp.necessary.index)[None]).argmax() == target
    assert model.predict(space.remove(exp.necessary.index)[None]).argmax() != target
    assert set(exp.sufficient.index) <= set(exp.necessary.index)  # S is a prefix of SN


def test_one_tone_is_found_flipped_and_is_the_sufficient_necessary_set():
    x, model = tone_clip(), Planted("one", (440.0,))
    exp = fx.explain(x, model, budget=600, seed=0)
    assert exp.label == "yes"
    assert int(exp.ranking[0]) in bins(440)
    assert exp.flips[0].flipped and set(exp.flips[0].index) == bins(440)
    assert set(exp.sufficient.index) == bins(440) and set(exp.necessary.index) == bins(440)
    _check_sets(exp, model, x)
    assert exp.stft_flip is not None and exp.stft_flip.flipped


def test_the_quiet_flip_is_never_louder_than_a_flip_k_that_flipped():
    """A flip-k that flips is a set of bins too: the quiet flip is at least as inaudible to
    the model of hearing (Zimtohrli, recomputed here), and it is the exact wave that was
    classified."""
    from freqrex_app.audio.hearing import Hearing

    x, model = tone_clip(), Planted("one", (440.0,))
    exp = fx.explain(x, model, budget=400, seed=0, quiet_share=0.05)
    flipped = [f for f in exp.flips if f.flipped]
    assert flipped and exp.quiet_flip is not None and exp.quiet_flip.flipped
    hearing = Hearing(x, model.sample_rate)
    assert hearing.judge(exp.quiet_flip.wave).key() <= min(hearing.judge(f.wave).key()
                                                           for f in flipped)
    assert int(np.argmax(model.predict(exp.quiet_flip.wave[None])[0])) != exp.label_index


def test_either_of_two_tones_suffices():
    x, model = tone_clip(tones=((440, 0.2), (1000, 0.3), (2500, 0.3))), Planted("any", (440.0, 1000.0))
    exp = fx.explain(x, model, budget=1000, seed=0, stft=False)
    assert set(exp.ranking[:2].tolist()) == bins(440, 1000)
    assert not exp.flips[0].flipped and exp.flips[1].flipped  # one alone is not a cause
    assert set(exp.sufficient.index) < bins(440, 1000)        # one of them keeps the label
    assert set(exp.necessary.index) == bins(440, 1000)
    _check_sets(exp, model, x)


def test_both_tones_are_required():
    x, model = tone_clip(tones=((440, 0.2), (1000, 0.3), (2500, 0.3))), Planted("all", (440.0, 1000.0))
    exp = fx.explain(x, model, budget=1000, seed=0, stft=False)
    assert set(exp.ranking[:2].tolist()) == bins(440, 1000)
    assert exp.flips[0].flipped                                 # either alone is a cause
    assert set(exp.sufficient.index) == bins(440, 1000)
    _check_sets(exp, model, x)


def test_a_band_below_20_hz():
    x = tone_clip(2.0, tones=((12, 0.05), (15, 0.05), (440, 0.3)))
    model = Planted("band", band=(0.0, 20.0), threshold=0.06)
    exp = fx.explain(x, model, budget=1000, seed=0, stft=False)
    assert exp.label == "yes"
    top_hz = exp.hz(exp.ranking[:2])
    assert np.all(top_hz < 20.0), top_hz
    flipped = [f for f in exp.flips if f.flipped]
    assert flipped and np.all(exp.hz(flipped[0].index) < 20.0)
    assert np.all(exp.hz(exp.necessary.index) < 20.0)


def test_single_bin_check_puts_a_counterfactual_bin_on_top_when_the_search_is_short():
    x = tone_clip(tones=((440, 0.2), (1000, 0.3), (2500, 0.3)))
    # at 40 queries the binary search alone reaches the tone; at 30 it does not
    short = fx.explain(x, Planted("one", (440.0,)), budget=30, seed=0, stft=False, verify=0)
    checked = fx.explain(x, Planted("one", (440.0,)), budget=30, seed=0, stft=False)
    assert short.search["frequency"]["finest_width"] > 1  # the search never reached single bins
    assert not short.flips[0].flipped                      # so loudness decided the top
    assert int(checked.ranking[0]) in bins(440)
    assert checked.responsibility[checked.ranking[0]] >= 1.0  # exact: removing it alone flips
    assert checked.flips[0].flipped
    assert checked.queries <= 30


@pytest.mark.parametrize("budget", [100, 300])
def test_the_greedy_chain_measures_the_pair_whose_joint_removal_flips(budget):
    # 'yes' while sqrt(a440 * a1000) + a1500 + a2000 > 0.25. Removing 440 or 1000 Hz has the
    # largest single effect, but the two carry one cue: removing both does no more than one.
    # Two bins flip the label only if the second is 1500 or 2000 Hz, and then each has degree
    # 1/2 (the other removed first). A louder tone at 3 kHz is ignored by the classifier.
    x = tone_clip(tones=((440, 0.3), (1000, 0.3), (1500, 0.2), (2000, 0.2), (3000, 0.5)))
    model = Planted("pair+sum", (440.0, 1000.0, 1500.0, 2000.0), threshold=0.25)
    greedy = fx.explain(x, model, budget=budget, seed=0, stft=False)
    assert not greedy.flips[0].flipped            # one tone is never enough
    assert greedy.flips[1].flipped
    first, second = (int(round(h)) for h in greedy.hz(greedy.flips[1].index))
    assert first in (440, 1000) and second in (1500, 2000)
    np.testing.assert_allclose(greedy.responsibility[greedy.flips[1].index], 0.5)
    assert greedy.queries <= budget


def test_the_stft_flip_takes_out_a_quiet_cue_and_little_else():
    """The label needs a quiet 3.5 kHz tone (28 dB below a loud 440 Hz one). Over four seeds
    the STFT flip changes little more than that tone: always above 25 dB SNR, verified on the
    saved wave."""
    clip = tone_clip(1.0, tones=((440, 0.5), (3500, 0.02)), noise=0.002)
    for seed in range(4):
        model = Planted("one", (3500.0,), threshold=0.01)
        exp = fx.explain(clip, model, budget=300, seed=seed, stft=True)
        assert exp.label == "yes" and exp.stft_flip is not None and exp.stft_flip.flipped
        assert model.predict(exp.stft_flip.wave[None])[0].argmax() == 0  # the saved wave
        assert exp.stft_flip.snr_db >= 25.0, (seed, exp.stft_flip.snr_db)
        assert exp.quiet_flip is not None and exp.quiet_flip.snr_db >= 25.0


def test_the_stft_flip_removes_a_quiet_burst_under_louder_music():
    """A half-second 3.5 kHz burst, 30 dB below chords and noise, decides the label. The STFT
    flip changes about the burst's cells: nearly all the energy it takes is the burst's, at an
    SNR within 3 dB of removing the burst alone (or better, with a gain)."""
    n = 2 * SR
    t = np.arange(n) / SR
    rng = np.random.default_rng(1)
    music = sum(a * np.sin(2 * np.pi * f * t) for f, a in ((220, 0.2), (277, 0.15), (330, 0.15),
                                                          (880, 0.05), (1320, 0.03)))
    music = music + 0.003 * rng.standard_normal(n)
    burst = np.zeros(n)
    on = slice(int(0.8 * SR), int(1.3 * SR))
    burst[on] = 0.012 * np.sin(2 * np.pi * 3500 * t[on]) * np.hanning(on.stop - on.start)
    x = (music + burst).astype(np.float32)
    model = Burst(threshold=0.5 * Burst(1.0).band_level(burst[None])[0])
    assert model.predict(x[None])[0].argmax() == 1
    assert model.predict(music[None].astype(np.float32))[0].argmax() == 0
    alone = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(burst ** 2))
    exp = fx.explain(x, model, budget=1000, seed=0, stft=True)  # the standard budget
    f = exp.stft_flip
    assert f is not None and model.predict(f.wave[None])[0].argmax() == 0
    assert f.snr_db >= alone - 3.0, (f.snr_db, alone)
    change = x.astype(np.float64) - f.wave
    in_burst = np.sum(change[int(0.7 * SR):int(1.4 * SR)] ** 2) / np.sum(change ** 2)
    assert in_burst > 0.8, (in_burst, f.snr_db, alone, f.gain, f.k)  # where the burst is
    power = np.abs(np.fft.rfft(change)) ** 2
    assert power[int(3300 * n / SR):int(3700 * n / SR)].sum() / power.sum() > 0.8


@pytest.mark.parametrize("kind", BEDS)
def test_the_necessary_set_classifies_the_kept_sound_only_where_the_removal_changed(kind):
    """The short-circuited test finds the same set as testing both sounds every time, in
    fewer calls, on generated beds under three planted tones that two of them carry."""
    saved = []
    for seed in SEEDS:
        t = np.arange(SR) / SR
        x = (bed(kind, seed) + sum(a * np.sin(2 * np.pi * f * t)
                                   for f, a in ((440, 0.2), (1000, 0.3), (2500, 0.25)))).astype(np.float32)
        model = Planted("sum", (440.0, 1000.0, 2500.0), threshold=0.4)
        space = FrequencySpace(x, SR)
        ranking = np.argsort(-space.magnitude, kind="stable")
        decision = Decision(int(np.argmax(model.predict(x[None])[0])), None)
        both = Oracle(model)

        def test(k):  # keep and remove, both classified: the definition
            out = both.classify(np.stack([space.keep(ranking[:k]), space.remove(ranking[:k])]))
            return bool(decision.holds(out.scores[0])[0] and decision.changed(out.scores[1])[0])

        k = shortest_prefix(test, 1, space.n_features)
        oracle = Oracle(model)
        found = find_necessary(space, oracle, ranking, decision)
        assert k is not None and found is not None and found.index.tolist() == ranking[:k].tolist()
        assert len(set(found.index.tolist()) & bins(440, 1000, 2500)) >= 2
        assert oracle.queries - 2 <= both.queries  # less the two confirmations
        saved.append(both.queries - (oracle.queries - 2))
    assert max(saved) > 0, saved


def test_complete_restores_the_confidence():
    x, model = tone_clip(), Planted("one", (440.0,))
    exp = fx.explain(x, model, budget=600, seed=0, stft=False)
    assert exp.complete is not None
    assert abs(exp.complete.confidence - exp.confidence) <= 0.01
    assert set(exp.necessary.index) <= set(exp.complete.index)


# -- saved outputs ---------------------------------------------------------------------------------

def test_saved_outputs_reclassify_as_the_json_says(tmp_path):
    x, model = tone_clip(), Planted("all", (440.0, 1000.0))
    exp = fx.explain(x, model, budget=800, seed=3)
    exp.save(tmp_path)
    d = json.loads((tmp_path / "explanation.json").read_text())
    for key in ("model", "labels_view", "sample_rate", "start", "duration", "n_samples", "n_bins",
                "label", "confidence", "seed", "budget", "queries", "seconds", "budget_exhausted",
                "responsibility_top", "sufficient", "necessary", "complete", "flips", "stft_flip"):
        assert key in d
    assert d["n_bins"] == N // 2 + 1 and len(d["responsibility_top"]) == 100
    arrays = np.load(tmp_path / "sets.npz")
    assert arrays["responsibility"].dtype == np.float32 and arrays["ranking"].dtype == np.int64
    assert sorted(arrays["ranking"].tolist()) == list(range(N // 2 + 1))

    def label_of(file):
        wave, sr = sf.read(tmp_path / file, dtype="float32")
        assert sr == SR and sf.info(str(tmp_path / file)).subtype == "FLOAT"
        return model.labels[int(model.predict(wave[None]).argmax())]

    assert label_of(d["sufficient"]["audio"]) == d["sufficient"]["label"] == d["label"]
    assert label_of(d["necessary"]["audio_kept"]) == d["necessary"]["label_kept"] == d["label"]
    assert label_of(d["necessary"]["audio_removed"]) == d["necessary"]["label_removed"] != d["label"]
    assert label_of(d["complete"]["audio"]) == d["complete"]["label"]
    for f in d["flips"]:
        assert label_of(f["audio"]) == f["label"] and f["flipped"] == (f["label"] != d["label"])
    assert label_of(d["stft_flip"]["audio"]) == d["stft_flip"]["label"] != d["label"]
    np.testing.assert_array_equal(np.sort(arrays["necessary"]),
                                  np.sort(exp.necessary.index))
    again = fx.load_explanation(tmp_path)
    for name, wave in exp.waves().items():
        np.testing.assert_array_equal(wave, again.waves()[name])


# -- seeds and budget ------------------------------------------------------------------------------

def test_seeds_reproduce_and_differ():
    x = tone_clip(tones=((440, 0.2), (1000, 0.3), (2500, 0.3)))
    a = fx.explain(x, Planted("any", (440.0, 1000.0)), budget=300, seed=7)
    b = fx.explain(x, Planted("any", (440.0, 1000.0)), budget=300, seed=7)
    c = fx.explain(x, Planted("any", (440.0, 1000.0)), budget=300, seed=8)
    np.testing.assert_array_equal(a.responsibility, b.responsibility)
    np.testing.assert_array_equal(a.stft_margin_drop, b.stft_margin_drop)
    assert a.to_dict()["flips"] == b.to_dict()["flips"]
    assert not np.array_equal(a.responsibility, c.responsibility)


@pytest.mark.parametrize("budget", [1, 20, 77, 250])
def test_budget_is_never_exceeded(budget):
    model = Planted("all", (440.0, 1000.0))
    exp = fx.explain(tone_clip(), model, budget=budget, seed=0)
    assert model.waves == exp.queries <= budget  # counted by the model itself
    assert exp.budget_exhausted
    d = exp.to_dict()
    json.dumps(d, allow_nan=False)
    for key in ("sufficient", "necessary", "complete"):
        assert d[key] is not None or key in d["notes"]


@pytest.mark.parametrize("budget", [30, 45, 60, 90])
def test_a_small_budget_still_pays_for_the_five_flips(budget):
    """The single-bin check and the greedy refinement leave the flips and sets their reserve:
    at budget 60 they once spent all but 3 queries, and flip-1..5 were not computed."""
    model = Planted("all", (440.0, 1000.0))
    exp = fx.explain(tone_clip(), model, budget=budget, seed=0, stft=False)
    assert model.waves == exp.queries <= budget
    assert [f.k for f in exp.flips] == [1, 2, 3, 4, 5], exp.notes
    assert "flips" not in exp.notes


def test_mutants_are_batched_across_nodes_and_iterations():
    model = Planted("all", (440.0, 1000.0))
    exp = fx.explain(tone_clip(), model, budget=2000, seed=0, stft=False, batch_size=32)
    assert exp.search["frequency"]["iterations"] >= 2
    assert max(model.batch_sizes) <= 32
    assert model.batch_sizes[1] == 6  # the first call: the roots of two iterations (3 each)
    assert sum(model.batch_sizes[1:]) == exp.queries - 1
    # the nodes of both causes (two paths per iteration) share calls
    search_calls = model.batch_sizes[1:1 + exp.search["frequency"]["nodes"]]
    assert len(search_calls) and max(search_calls) >= 12


def test_progress_is_monotone_and_can_cancel():
    seen = []
    fx.explain(tone_clip(), Planted("one"), budget=200, progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0

    class Stop(Exception):
        pass

    def cancel(fraction, message):
        if fraction > 0.2:
            raise Stop("stopped by the progress callback")
    model = Planted("one")
    with pytest.raises(Stop, match="stopped by the progress callback"):
        fx.explain(tone_clip(), model, budget=400, progress=cancel)
    assert model.waves < 400


def test_partial_shows_the_map_growing_then_each_stage_and_spends_no_query():
    x = tone_clip(tones=((440, 0.2), (1000, 0.3), (2500, 0.3)))
    seen, calls = [], []
    model = Planted("any", (440.0, 1000.0))

    def partial(exp):
        seen.append(exp)
        calls.append(model.waves)

    exp = fx.explain(x, model, budget=1000, seed=7, partial=partial)
    plain_model = Planted("any", (440.0, 1000.0))
    plain = fx.explain(x, plain_model, budget=1000, seed=7)
    # it spends no model call and changes nothing
    assert model.waves == plain_model.waves == exp.queries == plain.queries
    np.testing.assert_array_equal(exp.responsibility, plain.responsibility)
    np.testing.assert_array_equal(exp.ranking, plain.ranking)
    timing = ("seconds", "predict_seconds")
    assert ({k: v for k, v in exp.to_dict().items() if k not in timing}
            == {k: v for k, v in plain.to_dict().items() if k not in timing})

    # first the verdict alone, after the one call that classifies the clip (an empty map)
    verdict, *searching = [p for p in seen if not p.flips]
    assert verdict is seen[0] and calls[0] == verdict.queries == 1
    assert verdict.label == exp.label and float(verdict.responsibility.sum()) == 0.0
    # during the search: the map as it stands, refined call by call (finer parts replace the
    # coarse ones they were cut from), before the flips and the sets
    assert len(searching) >= 3 and all(a is b for a, b in zip(seen[1:], searching))
    assert all(0.0 <= p.responsibility.min() and p.responsibility.max() <= 1.0 for p in searching)
    assert searching[0].responsibility.max() > 0
    changed = [not np.array_equal(a.responsibility, b.responsibility)
               for a, b in zip(searching, searching[1:])]
    assert sum(changed) >= 3, changed
    assert all(p.quiet_flip is None and p.stft_flip is None and p.sufficient is None
               for p in searching)
    assert all(p.ranking.shape == p.responsibility.shape == exp.responsibility.shape
               for p in searching)
    assert searching[0].queries < exp.queries
    # what each saw is what the model had been asked so far
    assert [p.queries for p in seen] == calls == sorted(calls)

    # then one call after each later stage: flip-k, the quiet flip, the STFT flip, the sets
    later = seen[1 + len(searching):]
    assert len(later) == 4
    assert [f.k for f in later[0].flips] == [1, 2, 3, 4, 5] and later[0].quiet_flip is None
    assert later[1].quiet_flip is not None and later[1].stft_margin_drop is None
    assert later[2].stft_margin_drop is not None and later[2].sufficient is None
    np.testing.assert_array_equal(later[3].sufficient.index, exp.sufficient.index)
    assert later[3].to_dict()["flips"] == exp.to_dict()["flips"]


@pytest.mark.parametrize("when", ["searching", "flipped"])
def test_partial_may_raise_to_cancel(when):
    class Stop(Exception):
        pass

    def partial(exp):
        if when == "searching" and exp.queries > 60 or when == "flipped" and exp.flips:
            raise Stop(f"stopped by the partial callback ({when})")

    model = Planted("one")
    with pytest.raises(Stop, match=rf"stopped by the partial callback \({when}\)"):
        fx.explain(tone_clip(), model, budget=400, partial=partial)
    assert 60 < model.waves < 400


# -- bad input -------------------------------------------------------------------------------------

def test_bad_inputs_give_clear_errors():
    model = Planted("one")
    with pytest.raises(ValueError, match="non-finite"):
        fx.explain(np.full(1000, np.nan, dtype=np.float32), model)
    with pytest.raises(TypeError, match="audio must be"):
        fx.explain([0.0] * 100, model)
    with pytest.raises(TypeError, match="not a classifier"):
        fx.explain(tone_clip(), object())
    with pytest.raises(ValueError, match="budget"):
        fx.explain(tone_clip(), model, budget=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'descend'"):
        fx.explain(tone_clip(), model, descend="both")  # the descent modes are gone
    with pytest.raises(ValueError, match="quiet_share"):
        fx.explain(tone_clip(), model, quiet_share=1.5)
    with pytest.raises(ValueError, match="contrast"):
        fx.explain(tone_clip(), model, contrast="maybe")
    assert model.waves == 0  # every bad setting is refused before a model query is spent


def test_resamples_audio_at_another_rate():
    x = tone_clip()
    audio = fx.Audio(np.interp(np.arange(0, N, 0.5), np.arange(N), x).astype(np.float32), 2 * SR)
    exp = fx.explain(audio, Planted("one"), budget=300, stft=False)
    assert exp.sample_rate == SR and exp.label == "yes"
