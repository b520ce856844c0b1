"""Audio input stage: formats, downmix, resampling, exact cuts, every refusal, and a fuzz test.

All inputs are generated here (MP3 too: the bundled libsndfile writes MPEG Layer III).
"""
from __future__ import annotations

import atexit
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freqrex_app.audio import (
    MAX_FILE_SECONDS,
    SUPPORTED_FORMATS,
    Audio,
    AudioError,
    load_audio,
    write_wav,
)

SR = 16000


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def write(path: Path, data: np.ndarray, rate: int, **kw) -> Path:
    sf.write(str(path), data, rate, **kw)
    return path


def check_audio(a: Audio, rate: int = SR) -> None:
    assert isinstance(a, Audio)
    assert a.sample_rate == rate
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert np.all(np.isfinite(a.samples))


# ------------------------------------------------------------------------------------ formats

FORMATS = {
    "wav": dict(format="WAV", subtype="PCM_16"),
    "flac": dict(format="FLAC", subtype="PCM_16"),
    "ogg": dict(format="OGG", subtype="VORBIS"),
    "mp3": dict(format="MP3", subtype="MPEG_LAYER_III"),
}


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_round_trip_formats(tmp_path, ext):
    x = sine(440.0, SR, 2.0)
    path = write(tmp_path / f"tone.{ext}", x, SR, **FORMATS[ext])
    a = load_audio(path, SR)  # pathlib.Path accepted
    check_audio(a)
    assert a.source == str(path)
    assert a.info["format"] == FORMATS[ext]["format"]
    assert a.info["original_sample_rate"] == SR and a.info["channels"] == 1
    assert abs(peak_hz(a.samples, SR) - 440.0) < 2.0
    if ext in ("wav", "flac"):  # lossless: the samples come back to 16-bit precision
        assert a.n_samples == x.size
        assert np.max(np.abs(a.samples - x)) < 1e-4
    else:  # lossy codecs: same length give or take codec padding, same tone
        assert abs(a.duration - 2.0) < 0.1
        assert 0.3 < np.max(np.abs(a.samples)) < 0.7
    b = load_audio(str(path), SR, start=0.5, duration=1.0)  # str accepted, excerpt works too
    assert b.n_samples == SR and b.start == 0.5
    assert len(b) == SR and np.asarray(b).shape == (SR,)  # SPEC section 7: it is the array
    assert np.asarray(b).dtype == np.float32 and np.shares_memory(np.asarray(b), b.samples)
    assert np.asarray(b, dtype=np.float64).dtype == np.float64 and float(np.mean(b)) == float(b.samples.mean())


def test_mp3_seek_matches_full_decode(tmp_path):
    # libsndfile's MP3 decoder glitches for ~3800 samples after any seek: the excerpt (longer
    # than one read block) must still equal the same span of a full decode
    x = sine(523.0, 44100, 12.0) * np.linspace(0.2, 1.0, 12 * 44100, dtype=np.float32)
    path = write(tmp_path / "ramp.mp3", x, 44100, **FORMATS["mp3"])
    full, _ = sf.read(str(path), dtype="float32")
    part = load_audio(path, 44100, start=2.0, duration=8.0)
    assert part.n_samples == 8 * 44100
    np.testing.assert_allclose(part.samples, full[88200 : 88200 + 8 * 44100], atol=1e-6)
    part16 = load_audio(path, SR, start=2.0, duration=8.0)
    assert abs(peak_hz(part16.samples, SR) - 523.0) < 1.0


@pytest.mark.parametrize("fmt, subtype, rate", [("FLAC", "PCM_16", 44100), ("OGG", "VORBIS", 44100), ("OGG", "OPUS", 48000)])
def test_multi_block_excerpt_matches_full_decode(tmp_path, fmt, subtype, rate):
    # excerpts longer than one read block (2**18 frames) are read in several calls
    rng = np.random.default_rng(3)
    x = (0.2 * rng.standard_normal((9 * rate, 2))).astype(np.float32)
    path = write(tmp_path / f"long.{subtype.lower()}", x, rate, format=fmt, subtype=subtype)
    full, _ = sf.read(str(path), dtype="float32")
    part = load_audio(path, rate, start=1.0, duration=7.0)
    np.testing.assert_allclose(part.samples, full[rate : 8 * rate].mean(axis=1), atol=1e-6)


def test_supported_formats_listed():
    for ext in (".wav", ".flac", ".ogg", ".mp3"):
        assert ext in SUPPORTED_FORMATS


# ------------------------------------------------------------------------------------ downmix


def test_stereo_downmix_is_mean(tmp_path):
    left, right = sine(300, SR, 1.0, 0.6), sine(1200, SR, 1.0, 0.3)
    path = write(tmp_path / "st.wav", np.stack([left, right], 1), SR, subtype="FLOAT")
    a = load_audio(path, SR)
    assert a.info["channels"] == 2
    np.testing.assert_allclose(a.samples, (left + right) / 2, atol=1e-7)


def test_eight_channel_downmix(tmp_path):
    chans = np.stack([sine(200 + 100 * k, SR, 1.0, 0.1 * (k + 1)) for k in range(8)], 1)
    path = write(tmp_path / "oct.flac", chans, SR, subtype="PCM_24")
    a = load_audio(path, SR)
    assert a.info["channels"] == 8
    np.testing.assert_allclose(a.samples, chans.mean(axis=1), atol=1e-6)


def test_antiphase_stereo_is_silent(tmp_path):
    x = sine(440, SR, 1.0)
    path = write(tmp_path / "anti.wav", np.stack([x, -x], 1), SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="silent"):
        load_audio(path, SR)


# ------------------------------------------------------------------------------------ resampling


@pytest.mark.parametrize("rate, freq", [(8000, 1000.0), (22050, 2500.0), (44100, 3000.0), (192000, 5000.0)])
def test_resampling_keeps_frequency(tmp_path, rate, freq):
    x = sine(freq, rate, 2.0)
    path = write(tmp_path / f"r{rate}.wav", x, rate, subtype="PCM_24")
    a = load_audio(path, SR)
    check_audio(a)
    assert a.n_samples == 2 * SR
    assert a.info["resampled"] and a.info["original_sample_rate"] == rate
    assert abs(peak_hz(a.samples, SR) - freq) < 1.0
    # the resampled sine is the sine at the new rate (away from the file's edges)
    ref = sine(freq, SR, 2.0)
    mid = slice(SR // 4, -SR // 4)
    assert np.max(np.abs(a.samples[mid] - ref[mid])) < 1e-3


def test_192k_content_above_new_nyquist_is_removed(tmp_path):
    x = sine(2000, 192000, 1.0, 0.4) + sine(30000, 192000, 1.0, 0.4)
    path = write(tmp_path / "hi.wav", x, 192000, subtype="FLOAT")
    a = load_audio(path, SR)
    spec = np.abs(np.fft.rfft(a.samples))
    hz = np.fft.rfftfreq(a.n_samples, 1 / SR)
    assert spec[np.argmin(np.abs(hz - 2000))] > 1000 * np.median(spec)
    # 30 kHz must not alias to 2 kHz (30 - 2 x 16 = -2 -> 2 kHz) or anywhere else
    assert np.max(np.abs(a.samples - sine(2000, SR, 1.0, 0.4))[SR // 10 : -SR // 10]) < 1e-3


def test_resampled_excerpt_aligned_with_full_resample(tmp_path):
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(44100 * 3)).astype(np.float32)
    path = write(tmp_path / "n.wav", x, 44100, subtype="FLOAT")
    full = load_audio(path, SR)
    part = load_audio(path, SR, start=1.0, duration=1.0)
    assert part.n_samples == SR
    np.testing.assert_allclose(part.samples, full.samples[SR : 2 * SR], atol=2e-3)


# ------------------------------------------------------------------------------------ PCM depths


@pytest.mark.parametrize("subtype, tol", [("PCM_U8", 1 / 64), ("PCM_S8", 1 / 64), ("PCM_16", 1e-4),
                                          ("PCM_24", 1e-6), ("PCM_32", 1e-7), ("FLOAT", 0.0)])
def test_pcm_depths_to_float(tmp_path, subtype, tol):
    x = sine(440, SR, 1.0, 0.9)
    fmt = "AIFF" if subtype == "PCM_S8" else "WAV"  # WAV 8-bit is unsigned; AIFF holds signed 8-bit
    path = write(tmp_path / f"d.{fmt.lower()}", x, SR, format=fmt, subtype=subtype)
    a = load_audio(path, SR)
    assert a.info["subtype"] == subtype
    assert a.samples.dtype == np.float32
    assert np.max(np.abs(a.samples)) <= 1.0
    assert np.max(np.abs(a.samples - x)) <= tol + 1e-7


def test_full_scale_int_extremes(tmp_path):
    data = np.array([-32768, 32767, 0, 16384] * 4000, dtype=np.int16)
    path = write(tmp_path / "ext.wav", data, SR, subtype="PCM_16")
    a = load_audio(path, SR)
    assert a.samples.min() == -1.0 and 0.9999 < a.samples.max() < 1.0


# ------------------------------------------------------------------------------------ cutting


def test_start_duration_exact_in_samples(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.9, 0.9, 5 * SR).astype(np.float32)
    path = write(tmp_path / "cut.wav", x, SR, subtype="FLOAT")
    a = load_audio(path, SR, start=1.25, duration=0.75)
    np.testing.assert_array_equal(a.samples, x[20000:32000])
    assert a.start == 1.25 and a.info["end"] == 2.0 and not a.info["cut_short"]
    b = load_audio(path, SR, start=3)  # to the end
    np.testing.assert_array_equal(b.samples, x[48000:])


def test_cut_short_at_end_of_file(tmp_path):
    x = sine(440, SR, 2.0)
    path = write(tmp_path / "s.flac", x, SR)
    a = load_audio(path, SR, start=1.0, duration=30.0)
    assert a.n_samples == SR and a.info["cut_short"] and a.info["requested_duration"] == 30.0


def test_long_file_reads_only_the_excerpt(tmp_path, monkeypatch):
    # a two-hour file (at 400 Hz, so it stays small on disk): cutting 30 s must read ~30 s
    rate = 400
    n = 2 * 3600 * rate
    t = np.arange(n) / rate
    x = (0.5 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    path = write(tmp_path / "long.wav", x, rate, subtype="PCM_16")
    frames_read = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kw):
        out = real_read(self, frames, *args, **kw)
        frames_read.append(len(out))
        return out

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    a = load_audio(path, rate, start=3600.0, duration=30.0)
    assert a.n_samples == 30 * rate and a.start == 3600.0
    np.testing.assert_allclose(a.samples, x[3600 * rate : 3630 * rate], atol=1e-4)
    assert sum(frames_read) == 30 * rate
    frames_read.clear()
    b = load_audio(path, 8000, start=5000.0, duration=30.0)  # resampled: + small margins only
    assert b.n_samples == 30 * 8000
    assert 30 * rate <= sum(frames_read) <= 31 * rate
    assert abs(peak_hz(b.samples, 8000) - 50.0) < 0.1


# ------------------------------------------------------------------------------------ arrays


def test_array_input_int16_stereo_gradio_layout():
    rate = 44100
    x = sine(440, rate, 1.0, 0.5)
    data = (np.stack([x, x], 1) * 32767).astype(np.int16)  # Gradio microphone: [N, channels] int16
    a = load_audio(data, SR, source_rate=rate)
    check_audio(a)
    assert a.source is None and a.info["format"] == "array" and a.info["channels"] == 2
    assert a.n_samples == SR
    assert abs(np.max(np.abs(a.samples)) - 0.5) < 0.01
    assert abs(peak_hz(a.samples, SR) - 440) < 2


def test_array_input_channels_first_and_uint8():
    x = sine(300, SR, 1.0, 0.5)
    a = load_audio(np.stack([x, x]), SR, source_rate=SR)  # [channels, N]
    np.testing.assert_allclose(a.samples, x, atol=1e-7)
    u8 = np.round(x * 127 + 128).astype(np.uint8)
    b = load_audio(u8, SR, source_rate=SR, start=0.5)
    assert b.n_samples == SR // 2 and np.max(np.abs(b.samples - x[SR // 2 :])) < 1 / 64


def test_array_needs_source_rate():
    with pytest.raises(AudioError, match="source_rate"):
        load_audio(np.zeros(SR, np.float32), SR)


def test_gradio_tuple_and_odd_arrays():
    x = (sine(440, 8000, 1.0) * 32767).astype(np.int16)
    a = load_audio((8000, x), SR)  # Gradio's numpy audio value, as it is
    assert a.n_samples == SR and a.info["original_sample_rate"] == 8000
    refuse("contradicts", (8000, x), SR, source_rate=16000)
    refuse("no audio", np.zeros((0, 2), np.float32), SR, source_rate=SR)
    refuse("no audio", np.zeros(0, np.float32), SR, source_rate=SR)
    refuse("must hold numbers", np.array(["a"] * 10), SR, source_rate=SR)
    refuse(r"\[samples\] or \[samples, channels\]", np.zeros((2, 2, 100), np.float32), SR, source_rate=SR)
    np.testing.assert_allclose(load_audio(list(sine(300, SR, 1.0)), SR, source_rate=SR).samples, sine(300, SR, 1.0))


# ------------------------------------------------------------------------------------ refusals


def refuse(match: str, *args, **kw) -> str:
    with pytest.raises(AudioError, match=match) as info:
        load_audio(*args, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg
    assert isinstance(info.value, ValueError)
    return msg


def test_refuse_missing_folder_empty(tmp_path):
    refuse("not found", tmp_path / "nope.wav", SR)
    refuse("not a file.*folder", tmp_path, SR)
    (tmp_path / "zero.wav").write_bytes(b"")
    refuse(r"empty \(0 bytes\)", tmp_path / "zero.wav", SR)
    refuse("empty path", "", SR)


def test_refuse_not_audio(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, not audio\n" * 50)
    msg = refuse("not audio", tmp_path / "notes.txt", SR)
    assert "TXT" in msg
    (tmp_path / "fake.mp3").write_bytes(b"\x00garbage" * 500)
    refuse("cannot read fake.mp3 as MP3.*corrupt or not audio", tmp_path / "fake.mp3", SR)
    (tmp_path / "fake.wav").write_text("RIFF but not really" * 20)
    refuse("as WAV.*corrupt or not audio", tmp_path / "fake.wav", SR)
    (tmp_path / "fake.flac").write_bytes(b"fLaC" + bytes(300))
    refuse("as FLAC", tmp_path / "fake.flac", SR)


def test_refuse_unsupported_format(tmp_path):
    (tmp_path / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(400))
    msg = refuse("unsupported format M4A", tmp_path / "song.m4a", SR)
    assert "WAV, FLAC, OGG or MP3" in msg
    (tmp_path / "song.wma").write_bytes(bytes(400))
    refuse("unsupported format WMA", tmp_path / "song.wma", SR)


def test_refuse_truncated_header(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, sine(440, SR, 1.0), SR, format="WAV", subtype="PCM_16")
    (tmp_path / "cut.wav").write_bytes(buf.getvalue()[:30])
    refuse("cut.wav", tmp_path / "cut.wav", SR)


def test_refuse_truncated_data_too_short(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, sine(440, SR, 2.0), SR, format="WAV", subtype="PCM_16")
    (tmp_path / "half.wav").write_bytes(buf.getvalue()[: 44 + 2 * 4000])  # 0.25 s of data
    refuse("too short", tmp_path / "half.wav", SR)


def test_refuse_empty_and_short_excerpts(tmp_path):
    path = write(tmp_path / "t.wav", sine(440, SR, 2.0), SR)
    refuse("empty excerpt: start 2 s is at or past the end", path, SR, start=2.0)
    refuse("empty excerpt", path, SR, start=100.0, duration=1.0)
    refuse(r"too short to classify: 0\.2 s, at least 0\.5 s", path, SR, start=1.8)
    refuse("too short to classify", path, SR, duration=0.1)
    refuse("too short to classify", path, SR, duration=0.9, min_seconds=1.0)
    assert load_audio(path, SR, duration=0.1, min_seconds=0.05).n_samples == 1600


def test_refuse_silence(tmp_path):
    path = write(tmp_path / "z.wav", np.zeros(SR * 2, np.float32), SR)
    refuse("the excerpt is silent", path, SR)
    x = np.concatenate([np.zeros(SR, np.float32), sine(440, SR, 1.0)])
    path2 = write(tmp_path / "half_silent.flac", x, SR)
    refuse("silent", path2, SR, duration=1.0)
    assert load_audio(path2, SR, start=1.0).n_samples == SR
    refuse("silent", np.full(SR, 1e-6, np.float32), SR, source_rate=SR)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_refuse_non_finite(tmp_path, bad):
    x = sine(440, SR, 1.0)
    x[100] = bad
    path = write(tmp_path / "nan.wav", x, SR, subtype="FLOAT")
    refuse("non-finite samples", path, SR)
    refuse("non-finite", path, 8000)
    refuse("non-finite", x, SR, source_rate=SR)


def test_non_finite_outside_excerpt_is_fine(tmp_path):
    x = sine(440, 22050, 2.0)
    x[10] = np.nan
    path = write(tmp_path / "nan_early.wav", x, 22050, subtype="FLOAT")
    a = load_audio(path, SR, start=0.01 + 0.002, duration=1.0)  # NaN sits in the resampler margin
    check_audio(a)


def test_refuse_too_long(tmp_path):
    path = write(tmp_path / "t.wav", sine(440, 400, 10.0), 400)
    refuse(r"t\.wav is 10 s long, longer than the 5 s limit", path, SR, max_file_seconds=5)
    refuse(r"excerpt is 10 s long, longer than the 3 s limit; pass a duration", path, SR, max_excerpt_seconds=3)
    refuse("longer than the 3 s limit", path, SR, duration=4.0, max_excerpt_seconds=3)
    assert load_audio(path, 400, duration=3.0, max_excerpt_seconds=3).n_samples == 1200
    # the defaults: 4 hours of file (a 5-hour file at 50 Hz is 1.8 MB), 10 minutes of excerpt
    long_path = write(tmp_path / "five_hours.wav", np.full(5 * 3600 * 50, 1000, np.int16), 50, subtype="PCM_16")
    refuse("longer than the 14400 s limit", long_path, SR)
    assert MAX_FILE_SECONDS == 4 * 3600
    path3 = write(tmp_path / "eleven.wav", sine(10, 50, 660.0), 50, subtype="PCM_16")
    refuse("excerpt is 660 s long, longer than the 600 s limit", path3, 100)
    assert load_audio(path3, 100, duration=600.0).n_samples == 60000


@pytest.mark.parametrize(
    "args, kw, match",
    [
        ((SR,), dict(start=-1.0), "start must be zero or more"),
        ((SR,), dict(start=float("nan")), "start must be a finite"),
        ((SR,), dict(start="1"), "start must be a number"),
        ((SR,), dict(duration=0.0), "duration must be positive"),
        ((SR,), dict(duration=-2.0), "duration must be positive"),
        ((SR,), dict(duration=float("inf")), "duration must be a finite"),
        ((0,), {}, "sample_rate must be a positive integer"),
        ((-16000,), {}, "sample_rate must be a positive integer"),
        ((16000.5,), {}, "sample_rate must be a positive integer"),
        (("16000",), {}, "sample_rate must be a positive integer"),
        ((True,), {}, "sample_rate must be a positive integer"),
        ((10**9,), {}, "implausibly high"),
    ],
)
def test_refuse_bad_arguments(tmp_path, args, kw, match):
    path = write(tmp_path / "ok.wav", sine(440, SR, 1.0), SR)
    refuse(match, path, *args, **kw)


@pytest.mark.parametrize("bad_path", [3.0, 42, None, b"/tmp/x.wav", {"path": "x"}])
def test_refuse_bad_path_types(bad_path):
    refuse("path", bad_path, SR)


def test_integral_float_rate_accepted(tmp_path):
    path = write(tmp_path / "ok.wav", sine(440, SR, 1.0), SR)
    assert load_audio(path, 16000.0).sample_rate == 16000
    assert load_audio(path, np.int64(8000)).n_samples == 8000


# ------------------------------------------------------------------------------------ write_wav


def test_write_wav_exact_float_not_normalised(tmp_path):
    x = np.array([0.0, 1.5, -2.25, 1e-8, 0.125] * 100, dtype=np.float32)
    out = write_wav(tmp_path / "sub" / "x.wav", x, SR)
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "FLOAT", 1, SR)
    back, rate = sf.read(str(out), dtype="float32")
    np.testing.assert_array_equal(back, x)
    a = load_audio(out, SR, min_seconds=0.0)
    np.testing.assert_array_equal(a.samples, x)


def test_write_wav_from_audio_and_refusals(tmp_path):
    a = Audio(samples=sine(440, 8000, 1.0), sample_rate=8000)
    out = write_wav(tmp_path / "a.wav", a)
    assert sf.info(str(out)).samplerate == 8000
    write_wav(tmp_path / "col.wav", a.samples[:, None], 8000)  # [N, 1] flattened
    with pytest.raises(AudioError, match="mono"):
        write_wav(tmp_path / "st.wav", np.zeros((100, 2), np.float32), SR)
    with pytest.raises(AudioError, match="non-finite"):
        write_wav(tmp_path / "nan.wav", np.array([0.0, np.nan], np.float32), SR)
    with pytest.raises(AudioError, match="sample_rate"):
        write_wav(tmp_path / "r.wav", np.zeros(10, np.float32), 0)


# ------------------------------------------------------------------------------------ fuzz


def _real_files() -> dict[str, bytes]:
    x = sine(440, 22050, 1.2) + sine(3000, 22050, 1.2, 0.2)
    stereo = np.stack([x, x[::-1]], 1)
    out = {}
    for ext, kw in FORMATS.items():
        buf = io.BytesIO()
        sf.write(buf, stereo, 22050, **kw)
        out[ext] = buf.getvalue()
    buf = io.BytesIO()
    sf.write(buf, stereo, 22050, format="WAV", subtype="FLOAT")
    out["wav_float"] = buf.getvalue()
    return out


REAL = _real_files()
FUZZ_DIR = Path(tempfile.mkdtemp(prefix="freqrex_fuzz_"))  # hypothesis and tmp_path don't mix
atexit.register(shutil.rmtree, FUZZ_DIR, ignore_errors=True)


def _assert_audio_or_error(data: bytes, ext: str, start: float, duration: float | None, rate: int) -> None:
    path = FUZZ_DIR / f"f{ext}"
    path.write_bytes(data)
    try:
        a = load_audio(path, rate, start=start, duration=duration)
    except AudioError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        check_audio(a, rate)
        assert a.n_samples > 0 and np.max(np.abs(a.samples)) > 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(REAL)),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
    ext=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".bin"]),
    start=st.sampled_from([0.0, 0.3, 1.0]),
    duration=st.sampled_from([None, 0.6, 5.0]),
    rate=st.sampled_from([8000, 16000, 22050]),
)
def test_fuzz_truncated_and_corrupted_real_files(kind, cut, flips, ext, start, duration, rate):
    data = bytearray(REAL[kind][: max(1, int(len(REAL[kind]) * cut))])
    for where, value in flips:
        data[min(len(data) - 1, int(where * len(data)))] = value
    _assert_audio_or_error(bytes(data), ext, start, duration, rate)


@settings(max_examples=50, deadline=None)
@given(
    head=st.sampled_from([b"", b"RIFF", b"RIFF\xff\xff\xff\x7fWAVEfmt ", b"fLaC", b"OggS", b"ID3", b"\xff\xfb"]),
    body=st.binary(min_size=0, max_size=4096),
    ext=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".m4a", ""]),
)
def test_fuzz_random_bytes(head, body, ext):
    _assert_audio_or_error(head + body, ext, 0.0, None, SR)


# ------------------------------------------------------------------------------------ shipped examples


def test_shipped_examples_load():
    import json

    root = Path(__file__).resolve().parents[1] / "assets"
    listing = json.loads((root / "examples" / "examples.json").read_text())
    assert len(listing) >= 4
    attribution = (root / "ATTRIBUTION.md").read_text()
    def size(folder):
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())

    assert size(root / "examples") < 1_000_000  # short excerpts only, as the licences allow
    assert size(root) < 8_000_000               # with the precomputed explanations and figures
    for item in listing:
        assert {"file", "title", "author", "licence", "start", "duration"} <= set(item)
        assert item["title"] in attribution and item["author"] in attribution
        path = root / "examples" / item["file"]
        assert path.stat().st_size < 200_000
        a = load_audio(path, SR)
        check_audio(a)
        assert abs(a.duration - item["duration"]) < 0.01
        assert np.sqrt(np.mean(a.samples**2)) > 0.01  # music, not near-silence


# ------------------------------------------------------------------------------------ stderr


def test_decoder_notes_kept_off_stderr(tmp_path, capfd):
    buf = io.BytesIO()
    sf.write(buf, sine(440, 22050, 2.0), 22050, format="MP3", subtype="MPEG_LAYER_III")
    data = bytearray(buf.getvalue())
    for i in range(600, len(data), 97):  # damage frame headers: libmpg123 complains on fd 2
        data[i] = 0x55
    (tmp_path / "damaged.mp3").write_bytes(bytes(data))
    capfd.readouterr()
    try:
        load_audio(tmp_path / "damaged.mp3", SR, min_seconds=0.1)
    except AudioError:
        pass
    assert capfd.readouterr().err == ""


def test_quiet_decoder_passes_other_output(capfd):
    import os

    from freqrex_app.audio.io import _quiet_decoder

    with _quiet_decoder():
        os.write(2, b"Note: Illegal Audio-MPEG-Header 0x00 at offset 1.\nkeep me\n")
        os.write(2, b"[src/libmpg123/layer3.c:INT123_do_layer3():1774] error: part2_3_length\n")
    assert capfd.readouterr().err == "keep me\n"
