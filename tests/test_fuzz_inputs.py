"""Fuzzing the ways in (issue 6), bounded to run within the suite's time (< 1 min):

- ``load_audio`` on WAV files with structurally plausible but lying headers (format tag,
  channels, rate, bit depth, block alignment, chunk sizes), and on arrays as a microphone
  sends them (any dtype, layout, rate, NaN/inf);
- the app's input handling: the ``explain`` API handler and the page's Explain handler with
  arbitrary parameter values and files, and the model-id policy. The engine is replaced by a
  probe that records what would be explained: only an ``explain`` call that respects the
  playground's limits may get through; everything else is one clear line (``gr.Error``).

test_audio.py already fuzzes truncated and bit-flipped real files and random bytes; these
tests add what it does not cover.
"""
from __future__ import annotations

import atexit
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from freqrex_app.audio import Audio, AudioError, load_audio

ROOT = Path(__file__).resolve().parents[1]
MUSIC = ROOT / "assets" / "examples" / "electronic.ogg"
SR = 16000
FUZZ_DIR = Path(tempfile.mkdtemp(prefix="freqrex_fuzz_app_"))  # hypothesis and tmp_path don't mix
atexit.register(shutil.rmtree, FUZZ_DIR, ignore_errors=True)
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check_result(call) -> Audio | None:
    try:
        a = call()
    except AudioError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    assert isinstance(a, Audio) and a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert a.n_samples > 0 and np.all(np.isfinite(a.samples))
    return a


# ------------------------------------------------------------------------------ load_audio


def _wav(fmt_tag, channels, rate, bits, block_align, riff_size, data_size, payload,
         extra_chunk) -> bytes:
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate,
                      (rate * block_align) & 0xFFFFFFFF, block_align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if extra_chunk:
        body += b"LIST" + struct.pack("<I", 4) + b"INFO"
    body += b"data" + struct.pack("<I", data_size) + payload
    return b"RIFF" + struct.pack("<I", riff_size if riff_size is not None else len(body)) + body


@FAST
@given(
    fmt_tag=st.sampled_from([1, 3, 0xFFFE, 0, 2, 0x55]) | st.integers(0, 0xFFFF),
    channels=st.sampled_from([0, 1, 2, 8, 255]) | st.integers(0, 0xFFFF),
    rate=st.sampled_from([0, 1, 8000, 44100, 192000, 1_536_000, 2**31]) | st.integers(0, 2**32 - 1),
    bits=st.sampled_from([0, 8, 16, 24, 32, 64, 7]),
    block_align=st.integers(0, 64),
    riff_size=st.none() | st.sampled_from([0, 36, 0xFFFFFFFF]),
    data_size=st.sampled_from([0, 1, 4096, 0x7FFFFFFF, 0xFFFFFFFF]) | st.integers(0, 2**32 - 1),
    payload=st.binary(min_size=0, max_size=8192),
    extra_chunk=st.booleans(),
    duration=st.sampled_from([None, 1.0, 30.0]),
)
def test_fuzz_lying_wav_headers(fmt_tag, channels, rate, bits, block_align, riff_size,
                                data_size, payload, extra_chunk, duration):
    path = FUZZ_DIR / "lying.wav"
    path.write_bytes(_wav(fmt_tag, channels, rate, bits, block_align, riff_size, data_size,
                          payload, extra_chunk))
    _check_result(lambda: load_audio(path, SR, duration=duration, min_seconds=0.0))


@st.composite
def mic_arrays(draw):
    """Arrays as a microphone or a client may send them: any dtype and layout, lengths up to
    3 s at 16 kHz, values from silence to full scale and beyond, NaN/inf sprinkled in."""
    dtype = draw(st.sampled_from([np.int8, np.int16, np.int32, np.uint8, np.float32,
                                  np.float64, np.bool_, np.complex64, np.object_]))
    n = draw(st.sampled_from([0, 1, 7, 4000, 8000, 48000]) | st.integers(0, 48000))
    layout = draw(st.sampled_from(["1d", "samples_channels", "channels_samples", "3d"]))
    channels = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.0, 1e-7, 1e-3, 0.5, 1.0, 40.0]))
    x = scale * rng.standard_normal((n, channels))
    bad = draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=3))
    for value in bad:
        if n:
            x[rng.integers(0, n), rng.integers(0, channels)] = value
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        x = np.clip(np.nan_to_num(x * info.max), info.min, info.max)
    x = x.astype(dtype)
    if layout == "1d":
        x = x[:, 0]
    elif layout == "channels_samples":
        x = x.T
    elif layout == "3d":
        x = x[None]
    return x


@FAST
@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.filterwarnings("ignore:overflow encountered")
@given(
    data=mic_arrays(),
    rate=st.sampled_from([0, -8000, 1, 8000, 44100, 192000, 10**9, 22050.5, float("nan")]),
    as_tuple=st.booleans(),
    start=st.sampled_from([0.0, 0.01, 1.0]),
)
def test_fuzz_microphone_arrays(data, rate, as_tuple, start):
    if as_tuple and isinstance(rate, int):  # Gradio's numpy value: (rate, data)
        call = lambda: load_audio((rate, data), SR, start=start, min_seconds=0.0)  # noqa: E731
    else:
        call = lambda: load_audio(data, SR, source_rate=rate, start=start,  # noqa: E731
                                  min_seconds=0.0)
    _check_result(call)


# ------------------------------------------------------------------------------ the app


@pytest.fixture(scope="module")
def app_handlers(tmp_path_factory):
    from freqrex_app.web.limits import Limits
    from freqrex_app.web.ui import build_app

    limits = Limits(max_upload_mb=2, max_source_s=60, max_excerpt_s=5.0, default_excerpt_s=3.0,
                    max_budget=300, cache=tmp_path_factory.mktemp("fuzz-cache"))
    demo = build_app(limits, warm=False)
    fns = {}
    for block_fn in demo.fns.values():
        fns.setdefault(getattr(block_fn, "name", None), block_fn.fn)
    folder = tmp_path_factory.mktemp("fuzz-files")
    files = {"music": str(MUSIC)}
    x = load_audio(MUSIC, sample_rate=22050, duration=2.0).samples
    for name, data, kw in (("stereo.flac", np.stack([x, x], 1), {}),
                           ("nan.wav", np.where(np.arange(x.size) == 5, np.nan, x), {"subtype": "FLOAT"}),
                           ("silent.wav", np.zeros_like(x), {})):
        sf.write(folder / name, data, 22050, **kw)
        files[name] = str(folder / name)
    (folder / "text.mp3").write_text("not audio " * 100)
    files["text.mp3"] = str(folder / "text.mp3")
    yield fns, limits, files
    demo.close()


class Reached(Exception):
    """The inputs passed every check and reached the engine."""


def _probe_engine(limits, seen):
    def explain(audio, model, *, budget=None, seed=0, stft=True, progress=None, **kw):
        assert isinstance(audio, Audio) and audio.sample_rate == model.sample_rate
        assert audio.samples.dtype == np.float32 and np.all(np.isfinite(audio.samples))
        assert 0.5 - 1e-9 <= audio.duration <= limits.max_excerpt_s + 1e-6
        assert isinstance(budget, int) and 50 <= budget <= limits.max_budget
        assert isinstance(seed, int) and 0 <= seed < 2**63
        seen.append((audio.duration, budget, seed))
        raise Reached("probe")
    return explain


def _one_line_error(call) -> str:
    import gradio as gr

    # whatever the fuzzed input, the refusal is a reason of one line (checked again below)
    with pytest.raises(gr.Error, match=r"\A[^\n]*\S[^\n]*\Z") as info:
        call()
    message = info.value.message
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


numbers = (st.none() | st.floats(allow_nan=True, allow_infinity=True)
           | st.integers(-10**20, 10**20) | st.sampled_from([0, 0.5, 1.0, 2.0, 4.9, 5.0, 30.0]))
texts = st.text(max_size=24)


@FAST
@given(
    audio=st.sampled_from(["music", "stereo.flac", "nan.wav", "silent.wav", "text.mp3", None, "",
                           "/etc/passwd", "/no/such/file.wav"]),
    model=st.none() | st.sampled_from(["", "msd-musicnn", "nope", "hf:../../x", "hf:pretrained",
                                       "os:system", "hf:org/name/extra"]) | texts,
    labels_view=st.none() | st.sampled_from(["auto", "genres", "all", "moods", ""]) | texts,
    start=numbers, duration=numbers,
    budget=st.none() | st.integers(-10, 10**9) | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([50, 120, 300, 301]),
    seed=st.none() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True),
    stft=st.none() | st.booleans(),
)
@example(audio="music", model=None, labels_view=None, start=None, duration=2.0,
         budget=float("inf"), seed=None, stft=None)  # found: OverflowError, "went wrong"
@example(audio="music", model=None, labels_view=None, start=None, duration=2.0,
         budget=None, seed=-5, stft=None)  # found: a negative seed reached the engine
@example(audio="music", model="msd-musicnn", labels_view="auto", start=0.0, duration=2.0,
         budget=50, seed=0, stft=False)  # accepted: reaches the engine
def test_fuzz_the_explain_api_handler(app_handlers, audio, model, labels_view, start, duration,
                                      budget, seed, stft):
    import freqrex_app.engine as engine

    fns, limits, files = app_handlers
    path = files.get(audio, audio)
    seen: list = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "explain", _probe_engine(limits, seen))
        message = _one_line_error(lambda: fns["explain_api"](
            path, model, labels_view, start, duration, budget, seed, stft, request=None))
    if seen:  # accepted: only the probe stopped it
        assert "probe" in message
    else:
        assert "Something went wrong" not in message, message  # a reason, not a crash


@FAST
@given(
    audio=st.sampled_from(["music", "stereo.flac", "nan.wav", "text.mp3", None]),
    model=st.sampled_from(["msd-musicnn", "mtt-vgg", "nope", ""]) | texts,
    hf_id=st.sampled_from(["", " ", "org/name", "../etc", "/abs", "pretrained", "a/b/c"]) | texts,
    labels_view=st.sampled_from(["genres", "all", "nope"]) | texts,
    t0=numbers, dur=numbers,
    preset=st.sampled_from(["quick", "standard", "thorough", "bogus", ""]),
    seed=st.none() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True),
    stft=st.booleans(),
)
@example(audio="music", model="msd-musicnn", hf_id="", labels_view="genres", t0=0.0, dur=2.0,
         preset="quick", seed=float("inf"), stft=False)  # found: OverflowError in the page
@example(audio="music", model="msd-musicnn", hf_id="", labels_view="genres", t0=0.0, dur=2.0,
         preset="quick", seed=-3, stft=False)
def test_fuzz_the_page_explain_handler(app_handlers, audio, model, hf_id, labels_view, t0, dur,
                                       preset, seed, stft):
    import freqrex_app.engine as engine

    fns, limits, files = app_handlers
    seen: list = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "explain", _probe_engine(limits, seen))
        message = _one_line_error(lambda: list(fns["explain_ui"](  # a generator: it streams
            files.get(audio, audio), model, hf_id, labels_view, t0, dur, preset, seed, stft,
            request=None)))
    if seen:
        assert "probe" in message
    else:
        assert "Something went wrong" not in message, message


@settings(max_examples=50, deadline=None)
@given(model=st.none() | texts, hf_id=st.none() | texts | st.sampled_from(
    ["org/name", "name", "hf:org/name", "../x", "tests", "pretrained", "org/../x", "a b/c"]))
def test_fuzz_model_id_policy(model, hf_id):
    import re

    from freqrex_app import models
    from freqrex_app.web.errors import JobError
    from freqrex_app.web.model_cache import resolve_model_id

    try:
        got = resolve_model_id(model, hf_id)
    except JobError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    if got.startswith("hf:"):
        source = got[3:]
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?", source)
        assert ".." not in source and not Path(source).exists()
    else:
        assert got in models.list_models()
