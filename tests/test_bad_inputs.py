"""Hardening (issue 6): a corpus of bad and unusual inputs, generated here (nothing large is
committed), thrown at the three ways in:

- the API: a fresh server *process* (the real app, its launch options and limits from the
  environment, its own TMPDIR and Gradio upload folder), called with the Gradio client and raw
  HTTP on 127.0.0.1; its memory (/proc) and its temporary folder are watched;
- the command line: ``freqrex explain`` in subprocesses, as a user runs it;
- the UI: the very handlers the page calls on upload and on Explain (``on_upload`` shows a
  toast, ``explain_ui`` an error box), in this process.

Every bad input must end in one clear line, the server must keep serving and nothing may be
left behind; unusual but valid audio (8 channels, 8 kHz 8-bit, 192 kHz 24-bit, a two-hour
file) must be downmixed, resampled and explained. Also: the hosting security settings, and a
failing rendering never loses the rest of a result.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from freqrex_app.web.limits import Limits
from server_process import ROOT, Server, rss_mb

TESTS = ROOT / "tests"
MUSIC = ROOT / "assets" / "examples" / "electronic.ogg"
MODEL = "msd-musicnn"
UPLOAD_MB = 2            # the test server's upload limit
MAX_SOURCE_S = 600       # the app's default longest source (10 min)
SERVER_ENV = {
    "FREQREX_MAX_UPLOAD_MB": str(UPLOAD_MB),
    "FREQREX_MAX_SOURCE_S": str(MAX_SOURCE_S),
    "FREQREX_MAX_EXCERPT_S": "5",
    "FREQREX_DEFAULT_EXCERPT_S": "3",
    "FREQREX_MAX_BUDGET": "300",
    "FREQREX_QUEUE_SIZE": "8",
}

# ------------------------------------------------------------------------------ the corpus

#: bad input -> what its one-line message must say (regex, case-insensitive)
BAD = {
    "zero.wav": r"empty",
    "truncated.wav": r"too short",
    "truncated.flac": r"corrupt or truncated",
    "truncated.ogg": r"corrupt",
    "truncated.mp3": r"too short.*truncated",
    "corrupt_header.wav": r"corrupt or not audio",
    "corrupt.flac": r"corrupt",
    "corrupt.ogg": r"corrupt or not audio",
    "corrupt.mp3": r"corrupt or not audio",
    "text.wav": r"corrupt or not audio",
    "nan.wav": r"non-finite",
    "inf.wav": r"non-finite",
    "silence.flac": r"silent",
    "short.wav": r"too short",
    "two_hours.wav": rf"longer than the {MAX_SOURCE_S} s limit",
}
#: unusual but valid: name -> (rate of the file, channels)
VALID = {"eight_channels.wav": (22050, 8), "8k_8bit.wav": (8000, 1),
         "192k_24bit.flac": (192000, 2)}
OVER_LIMIT = "over_limit.wav"


def _music(rate: int, seconds: float = 3.0) -> np.ndarray:
    from freqrex_app import load_audio

    return load_audio(MUSIC, sample_rate=rate, start=4.0, duration=seconds).samples


def _encode(x: np.ndarray, rate: int, **kw) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, **kw)
    return buf.getvalue()


def _two_hour_wav(path: Path) -> None:
    """Two hours of sound, cheaply: 8-bit PCM at 200 Hz (1.44 MB), written block by block."""
    rate, block = 200, 200 * 600
    t = np.arange(block) / rate
    x = (0.4 * np.sin(2 * np.pi * 31.0 * t)).astype(np.float32)
    with sf.SoundFile(str(path), "w", rate, 1, format="WAV", subtype="PCM_U8") as f:
        for _ in range(12):
            f.write(x)


def build_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(6)
    x = _music(22050)
    raw = {ext: _encode(x, 22050, **kw) for ext, kw in {
        "wav": dict(format="WAV", subtype="PCM_16"), "flac": dict(format="FLAC", subtype="PCM_16"),
        "ogg": dict(format="OGG", subtype="VORBIS"),
        "mp3": dict(format="MP3", subtype="MPEG_LAYER_III")}.items()}
    data: dict[str, bytes] = {
        "zero.wav": b"",
        "truncated.wav": raw["wav"][: len(raw["wav"]) // 10],
        "truncated.flac": raw["flac"][: len(raw["flac"]) // 2],
        "truncated.ogg": raw["ogg"][: len(raw["ogg"]) // 10],
        "truncated.mp3": raw["mp3"][: len(raw["mp3"]) // 10],
        "text.wav": b"these are my notes, not a sound\n" * 200,
        "corrupt.mp3": b"ID3\x03\x00\x00\x00\x00\x00\x00" + rng.bytes(20_000),
    }
    for name, ext in (("corrupt_header.wav", "wav"), ("corrupt.ogg", "ogg")):
        b = bytearray(raw[ext])
        b[4:64] = b"\xff" * 60  # the header
        data[name] = bytes(b)
    b = bytearray(raw["flac"])  # a quarter of the frames' bytes overwritten
    for i in rng.integers(len(b) // 4, len(b), size=len(b) // 4):
        b[i] = rng.integers(0, 256)
    data["corrupt.flac"] = bytes(b)
    for name, value in (("nan.wav", np.nan), ("inf.wav", np.inf)):
        y = x.copy()
        y[1000:1010] = value
        data[name] = _encode(y, 22050, format="WAV", subtype="FLOAT")
    data["silence.flac"] = _encode(np.zeros(22050 * 3, np.float32), 22050, format="FLAC")
    data["short.wav"] = _encode(x[: 22050 // 5], 22050, format="WAV", subtype="PCM_16")
    # unusual but valid
    y = _music(22050, 2.6)
    gains = np.linspace(0.2, 1.0, 8, dtype=np.float32)
    data["eight_channels.wav"] = _encode(y[:, None] * gains[None, :], 22050, format="WAV",
                                         subtype="PCM_16")
    data["8k_8bit.wav"] = _encode(_music(8000, 2.6), 8000, format="WAV", subtype="PCM_U8")
    y = _music(192000, 2.6)
    data["192k_24bit.flac"] = _encode(np.stack([y, 0.5 * y], 1), 192000, format="FLAC",
                                      subtype="PCM_24")
    # over the upload limit: valid audio (noise), 2.4 MB
    data[OVER_LIMIT] = _encode((0.1 * rng.standard_normal(600_000)).astype(np.float32), 16000,
                               format="WAV", subtype="FLOAT")
    out = {}
    for name, content in data.items():
        (folder / name).write_bytes(content)
        out[name] = folder / name
    _two_hour_wav(folder / "two_hours.wav")
    out["two_hours.wav"] = folder / "two_hours.wav"
    assert set(BAD) | set(VALID) | {OVER_LIMIT} == set(out)
    assert (folder / OVER_LIMIT).stat().st_size > UPLOAD_MB * 1024 * 1024
    assert all((folder / n).stat().st_size < UPLOAD_MB * 1024 * 1024 for n in out if n != OVER_LIMIT)
    assert sf.info(str(folder / "two_hours.wav")).duration == pytest.approx(7200.0)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def _one_line(message: str, pattern: str, where: str) -> None:
    assert message and "\n" not in message.strip(), f"{where}: {message!r}"
    assert "Traceback" not in message, f"{where}: {message!r}"
    assert re.search(pattern, message, re.I), f"{where}: {message!r} should match {pattern!r}"


# ------------------------------------------------------------------------------ the server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server"), SERVER_ENV)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


def _api_refuses(client, path: Path, pattern: str, where: str, **kw) -> None:
    """The API refuses ``path`` with one line that matches ``pattern``."""
    from gradio_client import handle_file

    kw = {"model": MODEL, "duration": 3.0, "budget": 50, "stft": False, **kw}
    with pytest.raises(Exception, match=re.compile(pattern, re.I)) as info:
        client.predict(handle_file(str(path)), api_name="/explain", **kw)
    _one_line(str(info.value), pattern, where)


# ------------------------------------------------------------------------------ API


def test_security_settings_of_the_served_app(server, client):
    import httpx

    get = lambda path: httpx.get(server.url + path, timeout=30)  # noqa: E731
    # monitoring endpoints off (Gradio's default exposes /monitoring/summary)
    for path in ("monitoring", "monitoring/summary", "gradio_api/monitoring/summary"):
        assert get(path).status_code in (403, 404), path
    # no file outside the app's own folders
    secret = server.tmp / "secret.txt"  # the server's own temp folder, outside its cache
    secret.write_text("not for you")
    for path in ("/etc/passwd", str(ROOT / "pyproject.toml"), str(ROOT / "README.md"),
                 str(secret), str(server.tmp / "freqrex-app" / ".." / "secret.txt"),
                 str(ROOT / "pretrained")):
        r = get(f"gradio_api/file={path}")
        assert r.status_code in (403, 404), (path, r.status_code)
        assert "not for you" not in r.text
    assert get(f"gradio_api/file={ROOT / 'assets' / 'examples' / 'examples.json'}"
               ).status_code == 200  # the app's own assets are served
    # the upload limit holds on the server, not only in the page and the client
    over = b"RIFF" + bytes(UPLOAD_MB * 1024 * 1024 + 10)
    r = httpx.post(server.url + "gradio_api/upload", files={"files": ("big.wav", over)},
                   timeout=60)
    assert r.status_code == 413 and "exceeded" in r.text.lower()
    # a path on the server is not an input: only uploads are read
    r = httpx.post(server.url + "gradio_api/call/explain", timeout=30, json={"data": [
        {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, MODEL, "auto", 0, 3,
        50, 0, False, "", ""]})  # every input, as raw HTTP needs (contrast, compare_model: none)
    # (refused before it queues: the endpoint's validator reads its inputs as the job would)
    assert r.status_code == 400 and "not uploaded by a user" in r.text, r.text
    assert "root:" not in r.text
    # a Hugging Face id never reaches a file on the server or outside the model path
    for model, message in (("hf:pretrained", "never its own files"),
                           ("hf:tests/data", "never its own files"),
                           ("hf:../../etc", "not a hugging face model id"),
                           ("hf:/etc/passwd", "not a hugging face model id"),
                           ("freqrex_app.models:load_model", "unknown model")):
        _api_refuses(client, MUSIC, message, model, model=model)
    assert server.alive()


def test_bad_inputs_through_the_api_and_the_server_keeps_serving(server, client, corpus):
    jobs_before = len(server.jobs)
    for name, pattern in BAD.items():
        _api_refuses(client, corpus[name], pattern, f"API {name}")
        assert server.alive(), name
    # over the upload limit: refused before upload, with the limit in the message
    from gradio_client import handle_file

    with pytest.raises(Exception, match="(?i)maximum file size"):
        client.predict(handle_file(str(corpus[OVER_LIMIT])), model=MODEL, duration=3.0,
                       budget=50, stft=False, api_name="/explain")
    # failed jobs leave no job folder, and the server's temp folder holds only its caches
    assert len(server.jobs) == jobs_before
    assert {p.name for p in server.tmp.iterdir()} <= {"gradio", "freqrex-app", "secret.txt"}
    assert rss_mb(server.proc.pid) < server.rss_start + 600
    # still serving: an ordinary clip is explained
    from gradio_client import handle_file

    exp, files, _ = client.predict(handle_file(str(MUSIC)), MODEL, duration=2.0, budget=50,
                                   stft=False, api_name="/explain")
    assert exp["queries"] <= 50 and len(server.jobs) == jobs_before + 1


@pytest.mark.slow
def test_unusual_valid_audio_is_downmixed_resampled_and_explained_by_the_api(server, client,
                                                                           corpus):
    from gradio_client import handle_file

    for name in VALID:
        exp, files, zip_path = client.predict(handle_file(str(corpus[name])), MODEL,
                                              start=0.5, duration=2.0, budget=50, stft=False,
                                              api_name="/explain")
        assert exp["sample_rate"] == 16000 and exp["n_samples"] == 32000, name
        assert exp["duration"] == pytest.approx(2.0) and exp["label"], name
        original = next(Path(f) for f in files if Path(f).name == "original.wav")
        info = sf.info(str(original))
        assert (info.channels, info.samplerate) == (1, 16000), name
        assert zip_path and Path(zip_path).stat().st_size > 0
    assert server.alive()
    rss = rss_mb(server.proc.pid)
    print(f"server RSS: {server.rss_start:.0f} MB at start, {rss:.0f} MB after the corpus")
    assert rss < 3000


# ------------------------------------------------------------------------------ command line


def _freqrex(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(TESTS), "TMPDIR": str(tmp)}
    return subprocess.run([str(Path(sys.executable).parent / "freqrex"), *args], cwd=TESTS,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_bad_inputs_through_the_cli(corpus, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    names = list(BAD)
    names.remove("two_hours.wav")  # the command line takes up to 4 hours (next test)

    def run(name):
        return name, _freqrex("explain", str(corpus[name]), "--model", "planted:tone",
                              "--budget", "60", "--out", str(tmp_path / f"out-{name}"), tmp=tmp)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, names))
    for name, r in results:
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("freqrex: error: "), (name, r.stderr)
        _one_line(lines[0], BAD[name], f"CLI {name}")
        assert not (tmp_path / f"out-{name}").exists(), name  # nothing written
    assert list(tmp.iterdir()) == []  # no temporary file left behind


@pytest.mark.slow
def test_unusual_and_two_hour_audio_through_the_cli(corpus, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cases = {name: ["--start", "0.5", "--duration", "2"] for name in VALID}
    cases["two_hours.wav"] = ["--start", "3600", "--duration", "3"]  # only the excerpt is read

    def run(name):
        t0 = time.perf_counter()
        r = _freqrex("explain", str(corpus[name]), "--model", "planted:tone", *cases[name],
                     "--budget", "60", "--no-stft", "--no-figures",
                     "--out", str(tmp_path / name), tmp=tmp)
        return name, r, time.perf_counter() - t0

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, cases))
    for name, r, seconds in results:
        assert r.returncode == 0, (name, r.stderr)
        d = json.loads((tmp_path / name / "explanation.json").read_text())
        seconds_wanted = float(cases[name][3])
        assert d["sample_rate"] == 16000, name
        assert d["n_samples"] == int(seconds_wanted * 16000), name
        assert d["start"] == pytest.approx(float(cases[name][1])), name
        assert sf.info(str(tmp_path / name / "original.wav")).channels == 1
    assert list(tmp.iterdir()) == []


# ------------------------------------------------------------------------------ UI handlers


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The page's own handlers (the functions the Blocks call), without a browser."""
    from freqrex_app.web.ui import build_app

    cache = tmp_path_factory.mktemp("ui-cache")
    limits = Limits(max_upload_mb=UPLOAD_MB, max_source_s=MAX_SOURCE_S, max_excerpt_s=5.0,
                    default_excerpt_s=3.0, max_budget=300, cache=cache)
    demo = build_app(limits, warm=False)
    fns = {}
    for block_fn in demo.fns.values():
        fns.setdefault(getattr(block_fn, "name", None), block_fn.fn)
    yield fns, cache
    demo.close()


def _ui_upload(fns, path: Path) -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        preview, _, _ = fns["on_upload"](str(path), 0.0, 3.0)
    # gr.Warning outside a request is a UserWarning; a ResourceWarning that the garbage
    # collector happens to emit meanwhile (an unclosed event loop of another test) is no toast
    return preview, [str(w.message) for w in caught if w.category is UserWarning
                     and "no_silent" not in str(w.message)]


def _ui_refuses(fns, path: Path | None, pattern: str, where: str, **kw) -> None:
    """The page's Explain handler refuses ``path`` with an error box of one line that
    matches ``pattern``."""
    import gradio as gr

    args = dict(audio=str(path) if path else None, model=MODEL, hf_id="", labels_view="genres", t0=0.0, dur=3.0,
                preset_name="quick", seed_v=0, stft_v=False)
    args.update(kw)
    with pytest.raises(gr.Error, match=re.compile(pattern, re.I)) as info:
        list(fns["explain_ui"](*args.values(), request=None))  # a generator: the page streams
    _one_line(info.value.message, pattern, where)


def test_bad_inputs_through_the_ui_handlers(ui, corpus):
    fns, cache = ui
    for name, pattern in BAD.items():
        # on upload: the preview stays hidden and a toast says why
        preview, toasts = _ui_upload(fns, corpus[name])
        assert preview.get("visible") is False, name
        assert len(toasts) == 1, (name, toasts)
        _one_line(toasts[0], pattern, f"UI upload {name}")
        # on Explain: an error box with the same reason
        _ui_refuses(fns, corpus[name], pattern, f"UI explain {name}")
    # a file over the limit that reaches the handler anyway (the page refuses it first)
    _ui_refuses(fns, corpus[OVER_LIMIT], f"larger than the {UPLOAD_MB} MB limit",
                "UI over limit")
    _ui_refuses(fns, None, "no audio", "UI nothing")
    _ui_refuses(fns, corpus["8k_8bit.wav"], "not a hugging face model id", "UI hf id",
                hf_id="../secrets")
    assert not (cache / "jobs").exists() or not any((cache / "jobs").iterdir())


def test_unusual_audio_previews_in_the_ui_with_bounded_memory(ui, corpus, tmp_path):
    import tracemalloc

    fns, _ = ui
    for name in VALID:
        preview, toasts = _ui_upload(fns, corpus[name])
        assert preview.get("visible") is True and Path(preview["value"]).is_file(), name
        assert not toasts, (name, toasts)
    # 3 minutes at 192 kHz (a 4 MB FLAC): decoded whole, 35 M samples would take ~0.5 GB
    long = tmp_path / "long_192k.flac"
    block = np.full(192000 * 10, 0.01, np.float32)
    block[::4801] = 0.2
    with sf.SoundFile(str(long), "w", 192000, 1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(18):
            f.write(block)
    tracemalloc.start()
    try:
        preview, toasts = _ui_upload(fns, long)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert preview.get("visible") is True and not toasts, toasts
    assert peak < 250, f"the preview took {peak:.0f} MB"


# ------------------------------------------------------------------------------ renderings


def test_a_failing_rendering_keeps_the_rest_of_the_result(tmp_path, monkeypatch):
    """One figure, one perturbation figure and one sound fail: the explanation, the other
    files, the zip and the page still come, and the notes say what failed."""
    from freqrex_app import plots
    from freqrex_app.web import sentences as H
    from freqrex_app.plots import figures
    from freqrex_app.web.examples import list_examples
    from freqrex_app.web.outputs import prepare_job
    from freqrex_app.web.tables import perturbation_rows
    from freqrex_app.audio import io as audio_io
    from freqrex_app.audio import load_audio
    from freqrex_app.engine import load_explanation

    ex = next((e for e in list_examples() if e.precomputed is not None), None)
    if ex is None:
        pytest.skip("no precomputed example")
    s = ex.settings()
    audio = load_audio(ex.path, sample_rate=s["sample_rate"], start=s["start"],
                       duration=s["duration"])
    exp = load_explanation(ex.precomputed, audio)

    def broken(*a, **k):
        raise RuntimeError("the renderer broke")

    real_write, real_pert = audio_io.write_wav, plots.perturbation
    monkeypatch.setattr(figures, "spectrum_sets", broken)  # the figure loop reads them here
    monkeypatch.setattr(plots, "perturbation",
                        lambda e, name: broken() if name == "flip_2" else real_pert(e, name))
    monkeypatch.setattr(audio_io, "write_wav", lambda path, *a, **k: broken()
                        if Path(path).name == "flip_3.wav" else real_write(path, *a, **k))
    job = prepare_job(exp, tmp_path / "job")
    notes = job.all_notes()
    assert "the renderer broke" in notes["figure_spectrum_sets"]
    assert "the renderer broke" in notes["figure_perturbation_flip_2"]
    assert "flip_3.wav" in notes["audio_flip_3"]
    assert (tmp_path / "job" / "explanation.json").is_file()
    d = json.loads((tmp_path / "job" / "explanation.json").read_text())
    assert "audio_flip_3" in d["notes"] and "figure_spectrum_sets" in d["notes"]
    for name in ("original", "flip_1", "flip_2", "figure_waveform", "figure_responsibility",
                 "perturbation_flip_1"):
        assert job.files[name].is_file(), name
    assert "flip_3" not in job.files and "perturbation_flip_2" not in job.files
    assert job.zip_path is not None and job.zip_path.stat().st_size > 0
    # the page's text for this job still renders and lists what failed
    assert "Flip-2" in str(perturbation_rows(exp)) and H.facts_md(job)
    assert "figure_perturbation_flip_2" in H.notes_md(job)


# ------------------------------------------------------------------------------ the page itself


@pytest.fixture(scope="module")
def app_limits(tmp_path_factory) -> Limits:
    """The in-process server of the page test (conftest's ``served``): this module's limits."""
    return Limits(max_upload_mb=UPLOAD_MB, max_source_s=MAX_SOURCE_S, max_excerpt_s=5.0,
                  default_excerpt_s=3.0, max_budget=120,
                  cache=tmp_path_factory.mktemp("page-cache"))


@pytest.mark.browser
def test_bad_files_in_the_page_show_a_message(corpus, served, browser, app_limits):
    """Headless chromium: a few corpus files uploaded in the page each give a toast with the
    reason; a file over the upload limit is stopped by the page; the page keeps working."""
    from page import open_page, toast_text, upload

    for name in ("nan.wav", "truncated.mp3", "two_hours.wav"):
        open_page(browser, served.url)
        upload(browser, corpus[name])
        toast = toast_text(browser).strip().splitlines()  # title, close button, text
        _one_line(toast[-1], BAD[name], f"page {name}")
    open_page(browser, served.url)
    upload(browser, corpus[OVER_LIMIT])
    message = toast_text(browser).lower()
    print("page, over the limit:", " | ".join(message.splitlines()))
    assert f"exceed the maximum allowed size of {float(UPLOAD_MB)} mb" in message, message
    jobs = app_limits.cache / "jobs"
    assert not jobs.exists() or not any(jobs.iterdir())
