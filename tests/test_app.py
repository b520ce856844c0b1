"""The app end to end: the real server (in this process, on a free port), the real built-in
model, the Gradio Python client. No mocks of the engine or the models."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

from freqrex_app.web.limits import Limits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "examples" / "electronic.ogg"
EDGE, EDGE_START = ROOT / "assets" / "examples" / "edge-electronic.ogg", 0.0  # a torn verdict
MODEL = "msd-musicnn"

SPEC_KEYS = {"model", "labels_view", "sample_rate", "start", "duration", "n_samples", "n_bins",
             "label", "confidence", "seed", "budget", "queries", "seconds", "budget_exhausted",
             "responsibility_top", "sufficient", "necessary", "complete", "flips", "stft_flip",
             "notes"}


@pytest.fixture(scope="module")
def app_limits(tmp_path_factory) -> Limits:
    return Limits(max_source_s=40.0, max_excerpt_s=10.0, default_excerpt_s=5.0,
                  max_budget=400, max_upload_mb=3.0, concurrency=1, queue_size=8,
                  cache=tmp_path_factory.mktemp("app-cache"))


@pytest.fixture(scope="module")
def model():
    from freqrex_app import load_model

    return load_model(MODEL, labels_view="genres")


def test_the_explain_endpoint_is_named_and_documented(client):
    api = client.view_api(return_format="dict", print_info=False)
    endpoint = api["named_endpoints"]["/explain"]
    params = endpoint["parameters"]
    assert [p["parameter_name"] for p in params[:2]] == ["audio", "model"]
    assert not params[0]["parameter_has_default"]
    assert all(p["parameter_has_default"] for p in params[1:])
    assert [p["parameter_name"] for p in params] == [
        "audio", "model", "labels_view", "start", "duration", "budget", "seed", "stft",
        "contrast", "compare_model"]
    assert len(endpoint["returns"]) == 3
    # the UI's own events are not part of the public API
    assert list(api["named_endpoints"]) == ["/explain"]


@pytest.mark.slow
def test_explain_real_music_and_the_audio_reclassifies_as_reported(client, model, tmp_path):
    """A clip where the model is torn (the edge example), so that at this small budget every
    kind of sound is found: flips, the quiet and STFT flips, the sufficient and necessary sets.
    Each is re-classified from its WAV."""
    explanation, files, zip_path = client.predict(
        handle_file(str(EDGE)), MODEL, start=EDGE_START, duration=5.0, budget=120, seed=0,
        api_name="/explain")

    # the JSON (SPEC section 5)
    assert isinstance(explanation, dict)
    assert SPEC_KEYS <= set(explanation)
    assert explanation["model"] == MODEL and explanation["labels_view"] == "genres"
    assert explanation["sample_rate"] == model.sample_rate
    assert explanation["start"] == pytest.approx(EDGE_START)
    assert explanation["duration"] == pytest.approx(5.0)
    assert explanation["n_bins"] == explanation["n_samples"] // 2 + 1
    assert 0 < explanation["queries"] <= 120
    assert explanation["label"] in model.labels
    assert len(explanation["responsibility_top"]) == 100
    assert [f["k"] for f in explanation["flips"]] == [1, 2, 3, 4, 5]
    assert explanation["stft_flip"]["n_fft"] == 1024

    by_name = {Path(f).name: Path(f) for f in files}
    assert "explanation.json" in by_name and "original.wav" in by_name
    assert json.loads(by_name["explanation.json"].read_text())["label"] == explanation["label"]

    # the original is the excerpt the model heard
    from freqrex_app import load_audio

    original, rate = sf.read(by_name["original.wav"], dtype="float32")
    assert rate == model.sample_rate
    excerpt = load_audio(EDGE, sample_rate=model.sample_rate, start=EDGE_START, duration=5.0)
    np.testing.assert_array_equal(original, excerpt.samples)

    def classify(name: str) -> tuple[str, float]:
        wave, sr = sf.read(by_name[name], dtype="float32")
        assert sr == model.sample_rate and wave.ndim == 1
        scores = np.asarray(model.predict(wave[None]))[0]
        return model.labels[int(scores.argmax())], float(scores.max())

    label, conf = classify("original.wav")
    assert label == explanation["label"]
    assert conf == pytest.approx(explanation["confidence"], abs=1e-4)

    for flip in explanation["flips"]:
        label, conf = classify(flip["audio"])
        assert label == flip["label"], flip
        assert conf == pytest.approx(flip["confidence"], abs=1e-4)
        assert flip["flipped"] == (label != explanation["label"])
    assert any(f["flipped"] for f in explanation["flips"])
    for name in ("quiet_flip", "stft_flip"):
        assert explanation[name], f"no {name} in this case"
        label, _ = classify(explanation[name]["audio"])
        assert label == explanation[name]["label"] != explanation["label"]
    assert explanation["sufficient"] and explanation["necessary"], "this case finds both sets"
    assert classify(explanation["sufficient"]["audio"])[0] == explanation["label"]
    n = explanation["necessary"]
    assert classify(n["audio_kept"])[0] == n["label_kept"] == explanation["label"]
    assert classify(n["audio_removed"])[0] == n["label_removed"] != explanation["label"]

    # the zip holds everything
    with zipfile.ZipFile(zip_path) as zf:
        names = {Path(n).name for n in zf.namelist()}
    assert {"explanation.json", "sets.npz", "original.wav", "waveform.png",
            "responsibility.png", "spectrum_sets.png"} <= names
    assert {f["audio"] for f in explanation["flips"]} <= names
    assert any(n.startswith("perturbation_") for n in names)


def _expect_error(client, path, match: str, **kwargs):
    import re

    kwargs = {"model": MODEL, "budget": 60, **kwargs}
    with pytest.raises(Exception, match=f"(?i){re.escape(match)}") as info:
        client.predict(handle_file(str(path)), api_name="/explain", **kwargs)
    return str(info.value)


def test_bad_uploads_give_a_message_and_the_server_keeps_serving(client, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all\n" * 50)
    _expect_error(client, text, "format")

    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    _expect_error(client, empty, "empty")

    long_clip = tmp_path / "long.wav"  # 45 s source; this server accepts at most 40 s
    rng = np.random.default_rng(0)
    sf.write(long_clip, (0.1 * rng.standard_normal(45 * 8000)).astype(np.float32), 8000)
    _expect_error(client, long_clip, "limit")

    _expect_error(client, CLIP, "at most 10 s", duration=20.0)  # excerpt over the limit
    _expect_error(client, CLIP, "budget", budget=100_000)      # over the per-job budget
    _expect_error(client, CLIP, "unknown model", model="no-such-model")
    _expect_error(client, CLIP, "unknown model", model="os:system")  # no factories from the web
    _expect_error(client, CLIP, "past the end", start=30.0)

    big = tmp_path / "big.wav"  # over the 3 MB upload limit of this server
    sf.write(big, np.zeros(1_000_000, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(Exception, match="(?i)maximum file size"):
        client.predict(handle_file(str(big)), MODEL, budget=60, api_name="/explain")

    # still serving: a real (tiny) explanation goes through
    explanation, files, _ = client.predict(handle_file(str(CLIP)), MODEL, duration=1.0,
                                           budget=60, stft=False, api_name="/explain")
    assert explanation["queries"] <= 60 and explanation["stft_flip"] is None
    assert any(Path(f).name == "flip_1.wav" for f in files)


def _wav(folder: Path, name: str) -> np.ndarray:
    wave, _ = sf.read(folder / name, dtype="float32")
    return wave


@pytest.mark.slow
def test_a_foil_and_a_second_model_through_the_api_and_the_page_matches_the_zip(client, model,
                                                                               tmp_path):
    """"Why X and not Y", with a second model on the same 3 s excerpt: the page's headline
    (rendered from the zip alone) names a label and an SNR that the zip's WAVs give again."""
    import re

    from freqrex_app import load_model
    from freqrex_app.web.store import job_from_folder
    from freqrex_app.web.listening import read_audible
    from freqrex_app.web.compare import top_bands
    from freqrex_app.web.render import compare_values
    from freqrex_app.web.sentences import lead_md, sufficient_md
    from freqrex_app.engine.manipulations import snr_db

    first, _, _ = client.predict(handle_file(str(CLIP)), MODEL, start=2.0, duration=3.0,
                                 budget=60, stft=False, api_name="/explain")
    runner_up = next(lab for lab, _ in sorted(
        ((lab, sc) for lab, sc in zip(model.labels, model.predict(
            _excerpt(model)[None])[0])), key=lambda t: -t[1]) if lab != first["label"])
    explanation, files, zip_path = client.predict(
        handle_file(str(CLIP)), MODEL, start=2.0, duration=3.0, budget=150, seed=0,
        contrast=runner_up, compare_model="msd-vgg", api_name="/explain")
    assert explanation["contrast"] == runner_up
    other = explanation["comparison"]
    assert other["model"] == "msd-vgg" and other["duration"] == pytest.approx(3.0)
    for d in (explanation, other):  # a flip counts only when the foil becomes the label
        assert d["contrast"] == runner_up
        flipped = [f for f in d["flips"] + [d["quiet_flip"], d["stft_flip"]] if f and f["flipped"]]
        assert flipped, f"nothing flipped for {d['model']}: the foil checks below would not run"
        assert all(f["label"] == runner_up for f in flipped), flipped

    out = tmp_path / "zip"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(out)
    [folder] = list(out.iterdir())
    assert (folder / "compare" / "explanation.json").is_file()
    job = job_from_folder(folder)
    assert job.compare is not None and job.compare.exp.model == "msd-vgg"
    # two columns with their headings, one colour scale, where they agree and differ
    cv = compare_values(job)
    assert cv["compare_head_a"] == f"### First model: `{MODEL}`"
    assert cv["compare_head"] == "### Second model: `msd-vgg`"
    lines = cv["compare_summary"].splitlines()
    same = job.exp.label == job.compare.exp.label
    assert ("they agree" if same else "they differ") in lines[0], lines[0]
    assert job.exp.label in lines[0] and job.compare.exp.label in lines[0]
    za, zb = (cv[k].data[1].zmax for k in ("compare_plot_a", "compare_plot"))
    assert za == zb and cv["compare_plot"].data[1].name == "responsibility"
    for e in (job.exp, job.compare.exp):  # the bands named hold the most responsibility
        if not np.clip(e.responsibility, 0, None).sum():  # no part's removal changed it
            assert top_bands(e) == [] and f"`{e.model}`: none" in lines[2], lines[2]
            continue
        top = _check_top_band(e)
        assert f"{top.name} {top.share:.0%}" in lines[2], lines[2]
    models_by_id = {MODEL: model, "msd-vgg": load_model("msd-vgg", labels_view="genres")}
    leads = 0
    for j in (job, job.compare):
        m = models_by_id[j.exp.model]
        text = lead_md(j)
        original = _wav(j.folder, "original.wav")
        found = re.search(r"A change \*\*(\d+) dB below the music\*\* makes the model hear "
                          r"\*\*([^*]+)\*\*.*?`(\w+)\.wav`.*?SNR ([\d.]+) dB", text, re.S)
        if found is None:
            assert "Nothing this budget tried" in text
            continue
        leads += 1
        snr_round, label, name, snr = found.groups()
        changed = _wav(j.folder, f"{name}.wav")
        scores = np.asarray(m.predict(changed[None]))[0]
        assert m.labels[int(scores.argmax())] == label
        assert snr_db(original, changed) == pytest.approx(float(snr), abs=0.05)
        assert abs(float(snr) - int(snr_round)) <= 0.5
        # the third player: what was removed, amplified by the gain the page states
        removed = read_audible(j.folder)[f"removed_{name}"]
        gain_db = float(re.search(r"played at \*\*([+-]\d+) dB\*\*", text).group(1))
        assert 20 * np.log10(removed.gain) == pytest.approx(gain_db, abs=0.5)
        loud = _wav(j.folder, f"removed_{name}.wav")
        assert np.max(np.abs(loud)) == pytest.approx(0.5, abs=1e-4)
        np.testing.assert_allclose(loud / removed.gain, original - changed, atol=1e-5)
    assert leads == 2, "each model's headline should name a change that makes the foil win"
    assert "sufficient" in sufficient_md(job).lower()


def _excerpt(model):
    from freqrex_app import load_audio

    return np.asarray(load_audio(CLIP, sample_rate=model.sample_rate, start=2.0, duration=3.0))


def test_an_unknown_foil_is_one_line(client):
    _expect_error(client, CLIP, "not a label", contrast="polka-not-a-genre", duration=1.0)


# -- the page streams: the picture while the search runs, then the result -----------------------


def _page_explain(url: str, demo, clip: Path, **inputs) -> list[tuple[str, list]]:
    """Call the page's Explain handler as the page does (Gradio's queue over HTTP: upload,
    join, the event stream); returns each update ("generating" or "completed") with the full
    values of every output (Gradio sends the updates after the first as diffs)."""
    import uuid

    import httpx
    from gradio_client.utils import apply_diff

    fn = next(i for i, f in demo.fns.items() if getattr(f.fn, "__name__", "") == "explain_ui")
    api, session = url + "gradio_api/", uuid.uuid4().hex[:11]
    updates: list[tuple[str, list]] = []
    with httpx.Client(timeout=60) as http:
        up = http.post(api + "upload", files={"files": (clip.name, clip.read_bytes())})
        up.raise_for_status()
        audio = {"path": up.json()[0], "orig_name": clip.name, "meta": {"_type": "gradio.FileData"}}
        data = [audio, inputs.get("model", MODEL), "", "genres", inputs["start"],
                inputs["duration"], inputs["preset"], inputs["seed"], inputs["stft"],
                inputs.get("foil", ""), ""]
        with http.stream("GET", api + f"heartbeat/{session}"):
            r = http.post(api + "queue/join", json={"data": data, "fn_index": fn,
                                                     "session_hash": session,
                                                     "event_data": None, "trigger_id": None})
            r.raise_for_status()
            values = None
            with http.stream("GET", api + "queue/data", params={"session_hash": session},
                             timeout=httpx.Timeout(10, read=300)) as events:
                for line in events.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_generating":
                        out = msg["output"]["data"]
                        values = out if values is None else [
                            apply_diff(v, d) for v, d in zip(values, out)]
                        updates.append(("generating", values))
                    elif msg.get("msg") == "process_completed":
                        assert msg.get("success"), msg
                        updates.append(("completed", msg["output"]["data"]))
                        break
    return updates


@pytest.mark.slow
def test_the_page_shows_the_picture_while_it_runs_then_the_same_result(served, client):
    from freqrex_app.web.perturbations import PERTURBATION_NAMES
    from freqrex_app.web.render import RESULT_KEYS

    url, demo = served.url, served.demo
    keys = [*RESULT_KEYS, *PERTURBATION_NAMES, "estimate"]
    updates = _page_explain(url, demo, CLIP, start=2.0, duration=3.0, preset="quick", seed=0,
                            stft=True)
    assert updates[-1][0] == "completed"
    generating = [dict(zip(keys, v)) for kind, v in updates if kind == "generating"]
    # intermediate updates came before the final one (the last "generating" is the final values)
    assert len(generating) >= 2
    final = dict(zip(keys, updates[-1][1]))
    assert generating[-1] == final
    live = generating[:-1]

    # the first already shows the verdict and a responsibility figure, marked provisional
    first = live[0]
    assert first["placeholder"]["visible"] is False and first["results"]["visible"] is True
    assert isinstance(first["freq_plot"], dict) and first["freq_plot"].get("plot")
    assert "so far" in first["headline"] and MODEL in first["headline"]
    assert "So far" in first["lead_md"]
    assert first["zip_file"] is None and first["json_file"] is None  # nothing to download yet
    # the perturbation buttons wait for the result (the session's job is still the last one);
    # an update that only moves the count of model calls on leaves them as they are
    assert all(first[n]["interactive"] is False for n in PERTURBATION_NAMES)
    for u in live:
        assert all(u[n].get("interactive", False) is False for n in PERTURBATION_NAMES)
    # the headline's count of model calls is the job's one counter: it never goes back
    import re

    counts = [int(re.search(r"working: ([\d,]+) model call", u["headline"]).group(1)
                  .replace(",", "")) for u in live]
    assert counts == sorted(counts) and counts[-1] <= final["json_view"]["queries"], counts
    print(f"{len(live)} updates before the result:",
          [(u["freq_plot"] is not None, u["spectro_plot"] is not None, str(u["lead_md"])[:60])
           for u in live], "counts", counts)

    # the result: as the page gave it before streaming, and as a run without streaming gives
    assert "so far" not in final["headline"] and final["zip_file"] and final["json_file"]
    assert final["placeholder"]["visible"] is False and final["results"]["visible"] is True
    page = final["json_view"]
    api, _, _ = client.predict(handle_file(str(CLIP)), MODEL, start=2.0, duration=3.0,
                               budget=300, seed=0, stft=True, api_name="/explain")
    timing = {"seconds", "predict_seconds"}
    assert page["queries"] == api["queries"] <= 300 and page["budget"] == 300
    assert page["search"]["audibility"]["sounds"] >= 5
    _same({k: v for k, v in page.items() if k not in timing},
          {k: v for k, v in api.items() if k not in timing})


def _same(a, b, path="") -> None:
    """Equal, floats within 1e-4 (the model may batch its calls differently)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        # the page's JSON view cuts the STFT flip's cells to 100 (the file has them all)
        if isinstance(b, list) and len(a) == 101 and isinstance(a[-1], str):
            a, b = a[:100], b[:100]
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-4), path
    else:
        assert a == b, path


def test_the_newest_partial_is_shown_and_one_that_fails_to_render_is_skipped():
    """The page's stream without a server: real partial explanations (the engine's hook, a
    planted model), a broken object among them; the stream ends with the job."""
    import threading
    import time

    from freqrex_app import explain
    from freqrex_app.web.callbacks import _Live, live_values
    from freqrex_app.web.render import RESULT_KEYS
    import freqrex_app as fx
    from planted import Planted, tone_clip

    partials: list = []
    explain(tone_clip(), Planted("one"), budget=200, partial=partials.append)
    assert len(partials) >= 3

    def until(condition) -> None:
        deadline = time.time() + 30
        while not condition():
            assert time.time() < deadline
            time.sleep(0.01)

    live, shown = _Live(), []

    def page() -> None:
        for values in live_values(live, every=0.0):
            shown.append(values)

    runner = threading.Thread(target=page)
    live.put(object())  # cannot be rendered
    runner.start()
    until(lambda: live._latest is None)  # taken, and skipped without raising
    live.put(partials[0])
    until(lambda: len(shown) == 1)
    live.put(partials[-1])
    until(lambda: len(shown) == 2)
    live.finish()
    runner.join(30)
    assert not runner.is_alive() and len(shown) == 2
    for values in shown:
        assert set(RESULT_KEYS) - set(values) == {"job_state"}  # the session's job stays
        assert values["placeholder"]["visible"] is False and values["results"]["visible"] is True


def _file(value) -> Path:
    return Path(value["path"] if isinstance(value, dict) else value)


def _table(value) -> list[list]:
    return value["data"] if isinstance(value, dict) else value


@pytest.mark.slow
def test_with_a_foil_every_sentence_of_the_page_agrees_with_the_zip(served, model, tmp_path):
    """Why electronic and not chillout, at the quick budget, driven through the page: the
    headline, the sufficient set's words, the facts and every row of the table are checked
    against the zip the page offers (its JSON, and its WAVs re-classified)."""
    from freqrex_app.web.perturbations import PERTURBATION_NAMES
    from freqrex_app.web.render import RESULT_KEYS
    from freqrex_app.engine.manipulations import snr_db

    url, demo = served.url, served.demo
    foil = "chillout"
    updates = _page_explain(url, demo, CLIP, start=2.0, duration=3.0, preset="quick", seed=0,
                            stft=False, foil=foil)
    assert updates[-1][0] == "completed"
    page = dict(zip([*RESULT_KEYS, *PERTURBATION_NAMES, "estimate"], updates[-1][1]))
    with zipfile.ZipFile(_file(page["zip_file"])) as zf:
        zf.extractall(tmp_path)
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]
    d = json.loads((folder / "explanation.json").read_text())
    label = d["label"]
    assert d["contrast"] == foil and label != foil
    li, fi = model.labels.index(label), model.labels.index(foil)

    def heard(wav: str) -> np.ndarray:
        return np.asarray(model.predict(_wav(folder, wav)[None]))[0]

    original = _wav(folder, "original.wav")
    # every sound in the zip that makes the foil win: the headline takes the least audible
    sounds = {"necessary_removed": (d["necessary"] or {}).get("audio_removed"),
              "quiet_flip": (d["quiet_flip"] or {}).get("audio"),
              **{f"flip_{f['k']}": f["audio"] for f in d["flips"]}}
    wins = {n: snr_db(original, _wav(folder, w)) for n, w in sounds.items()
            if w and int(heard(w).argmax()) == fi}
    lead = page["lead_md"]
    expected = (f"makes the model hear **{foil}** and not {label}" if wins else
                f"Nothing this budget tried makes the model hear {foil} over {label}")
    assert expected in lead, lead
    assert wins, "this case is chosen for a sound that makes the foil win (the quiet flip)"
    assert f"SNR {max(wins.values()):.1f} dB" in lead

    # the sufficient set keeps the label ahead of the foil, and names the kept sound's top-1
    scores = heard(d["sufficient"]["audio"])
    top = model.labels[int(scores.argmax())]
    assert scores[li] > scores[fi] and top == d["sufficient"]["label"]
    words = page["suff_md"]
    assert f"still prefer {label} over {foil}" in words and f"keeps {label} ahead of {foil}" in words
    assert (f"its top label is {top}" + (" too" if top == label else ", a third label")) in words

    # the facts: no flip-k makes the foil win here (each is re-classified below, with the
    # table), so the facts name none; tests/test_contrast.py checks the sentence that names one
    assert not any(f["flipped"] for f in d["flips"])
    assert "Removing the top" not in page["facts"]

    # every row of the table answers "why label and not foil"
    kept = {"Sufficient": d["sufficient"]["audio"],
            "Necessary kept": (d["necessary"] or {}).get("audio_kept"),
            "Complete": (d["complete"] or {}).get("audio")}
    changed = {"Necessary removed": sounds["necessary_removed"],
               "Quiet flip": sounds["quiet_flip"],
               **{f"Flip-{f['k']}": f["audio"] for f in d["flips"]}}
    rows = {r[0]: r for r in _table(page["pert_df"])}
    checked: dict[str, str] = {}
    for title, wav in {**kept, **changed}.items():
        if not wav:
            assert rows[title][5] not in ("same",) and rows[title][2] == "-"
            continue
        s = heard(wav)
        got = model.labels[int(s.argmax())]
        assert rows[title][2] == got
        if title in kept:
            assert s[li] > s[fi]
            want = "same" if got == label else f"{label} still ahead of {foil}"
        else:
            want = ("changed: " + foil + " wins" if got == foil else
                    "same" if got == label else f"{foil} does not win")
        assert rows[title][6] == want, (title, rows[title])
        checked[title] = want
    # the rows of the sufficient set, flip-1..5 and the quiet flip were checked, and one of
    # them is a sound that makes the foil win
    assert {"Sufficient", "Quiet flip", *(f"Flip-{k}" for k in range(1, 6))} <= set(checked)
    assert f"changed: {foil} wins" in checked.values(), checked
    print(lead, words, sep="\n")


def _check_top_band(e):
    """The first band ``top_bands`` names holds the largest share of the responsibility."""
    from freqrex_app.web.compare import top_bands

    r = np.clip(e.responsibility, 0, None)
    hz = e.hz(np.arange(e.n_bins))
    [top, *_] = top_bands(e)
    inside = (hz >= top.lo_hz) & (hz < top.hi_hz)
    assert r[inside].sum() / r.sum() == pytest.approx(top.share, rel=1e-6)
    for k in range(11):  # no other A-to-A octave holds more
        octave = (hz >= 27.5 * 2 ** k) & (hz < 27.5 * 2 ** (k + 1))
        assert r[octave].sum() <= r[inside].sum() + 1e-9
    return top


def test_the_comparison_names_the_octaves_that_hold_most_responsibility():
    """On a planted tone the map is never empty: the band named first holds the most."""
    import freqrex_app as fx
    from planted import Planted, tone_clip

    x = tone_clip(1.0, tones=((440, 0.2), (1000, 0.3), (3000, 0.2)))
    exp = fx.explain(fx.Audio(x, 16000), Planted("one", (440.0,)), budget=200, seed=0,
                     stft=False)
    assert exp.responsibility.max() > 0
    _check_top_band(exp)

