"""Audio input and output: read an excerpt the way a model hears it, write WAVs exactly.

``load_audio`` reads WAV, FLAC, OGG (Vorbis/Opus), MP3 (and the other formats libsndfile
reads, such as AIFF and AU) with :mod:`soundfile`, downmixes to mono (mean of the channels),
cuts the excerpt ``[start, start + duration)`` reading only that part of the file (plus a
short margin for the resampler), converts integer PCM to float32 in [-1, 1] and resamples
with soxr at very high quality. Every problem ends in :class:`AudioError` (a ``ValueError``)
with a one-line message meant for a person; no soundfile exception leaks out.

There is no fallback decoder: audioread (librosa's fallback) needs ffmpeg or GStreamer,
which FreqReX does not require, so formats libsndfile cannot read (M4A/AAC, WMA, ...) are
refused with a message naming the format and suggesting a conversion.

``write_wav`` writes mono 32-bit float WAV, values as they are (never normalised or clipped).
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FreqReXError
from .clip import Audio

__all__ = [
    "Audio",
    "AudioError",
    "load_audio",
    "write_wav",
    "SUPPORTED_FORMATS",
    "MAX_FILE_SECONDS",
    "MAX_EXCERPT_SECONDS",
    "MIN_SECONDS",
    "SILENCE_PEAK",
]

#: File extensions load_audio reads (lower case, with the dot). WAV, FLAC, OGG and MP3 are
#: the ones tested; the rest are other containers libsndfile decodes.
SUPPORTED_FORMATS: tuple[str, ...] = (
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3",
    ".aiff", ".aif", ".aifc", ".au", ".snd", ".w64", ".rf64", ".caf",
)
#: Longest file accepted, in seconds (4 hours).
MAX_FILE_SECONDS: float = 4 * 3600.0
#: Longest excerpt accepted, in seconds (10 minutes).
MAX_EXCERPT_SECONDS: float = 600.0
#: Shortest excerpt worth classifying, in seconds.
MIN_SECONDS: float = 0.5
#: An excerpt whose absolute peak is below this is refused as silent.
SILENCE_PEAK: float = 1e-5

# Audio formats we know of but cannot read (used to say "unsupported" rather than "corrupt").
_KNOWN_UNSUPPORTED = {
    ".m4a": "M4A/AAC", ".aac": "AAC", ".mp4": "MP4", ".m4b": "M4B/AAC", ".alac": "ALAC",
    ".wma": "WMA", ".asf": "WMA/ASF", ".webm": "WebM", ".mka": "Matroska audio",
    ".mkv": "Matroska", ".ac3": "AC-3", ".eac3": "E-AC-3", ".dts": "DTS", ".ape": "Monkey's Audio",
    ".wv": "WavPack", ".mpc": "Musepack", ".amr": "AMR", ".3gp": "3GP", ".ra": "RealAudio",
    ".rm": "RealMedia", ".mid": "MIDI", ".midi": "MIDI", ".mod": "tracker module",
    ".xm": "tracker module", ".it": "tracker module", ".s3m": "tracker module", ".spx": "Speex",
    ".mp2": "MPEG Layer II", ".tta": "TTA", ".dsf": "DSD", ".dff": "DSD",
}
_TESTED = "WAV, FLAC, OGG or MP3"
# libsndfile messages that mislead a person, and what they mean here
_CRYPTIC = {
    "File does not exist or is not a regular file": "format not recognised",
    "Internal psf_fseek() failed": "the file ends early",
}
_RESAMPLE_QUALITY = "VHQ"
_CONTEXT_SECONDS = 0.05  # input read either side of the excerpt so the resampler has no edge
_BLOCK_FRAMES = 1 << 18  # frames read per block (bounded memory for many channels)
_MP3_PREROLL = 8 * 1152  # frames decoded and dropped before an MP3 excerpt (see _load_file)
_MAX_RATE = 1_536_000  # highest sample rate accepted (8 x 192 kHz)


class AudioError(FreqReXError, ValueError):
    """An input the audio stage refuses, with a one-line message for a person."""


# --------------------------------------------------------------------------------------------
# libmpg123 (inside libsndfile) writes notes straight to file descriptor 2 ("Note: Illegal
# Audio-MPEG-Header ...", "[src/libmpg123/layer3.c:...] error: ..."), which would break the
# command line's one-line errors. While a file is opened and read, fd 2 goes to a temporary
# file; afterwards whatever else landed there (other threads' output) is written back and
# only the decoder's lines are dropped.

_STDERR_LOCK = threading.Lock()
_DECODER_NOISE = re.compile(
    rb"^(\[src/libmpg123/|\[[^\]]*mpg123[^\]]*\]|Note: |Warning: (Xing|Encountered|Real sample)|"
    rb"\[[a-z_/]*\.c:[^\]]*\] (error|warning|note):)"
)


@contextlib.contextmanager
def _quiet_decoder():
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            saved = None
        if saved is None:
            yield
            return
        sink = tempfile.TemporaryFile()
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            try:
                sink.seek(0)
                kept = [line for line in sink.read().splitlines(keepends=True) if not _DECODER_NOISE.match(line)]
                if kept:
                    os.write(2, b"".join(kept))
            except OSError:
                pass
            finally:
                sink.close()


# --------------------------------------------------------------------------------------------
# argument checks


def _check_rate(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        raise AudioError(f"{name} must be a positive integer number of Hz, got {value!r}")
    value_f = float(value)
    if not math.isfinite(value_f) or value_f <= 0 or not value_f.is_integer():
        raise AudioError(f"{name} must be a positive integer number of Hz, got {value!r}")
    if value_f > _MAX_RATE:
        raise AudioError(f"{name} {int(value_f)} Hz is implausibly high (at most {_MAX_RATE} Hz)")
    return int(value_f)


def _check_seconds(value: Any, name: str, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        raise AudioError(f"{name} must be a number of seconds, got {value!r}")
    value_f = float(value)
    if not math.isfinite(value_f):
        raise AudioError(f"{name} must be a finite number of seconds, got {value!r}")
    if value_f < 0 or (value_f == 0 and not allow_zero):
        kind = "zero or more" if allow_zero else "positive"
        raise AudioError(f"{name} must be {kind} seconds, got {value!r}")
    return value_f


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + " s"


def _ext_label(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in _KNOWN_UNSUPPORTED:
        return _KNOWN_UNSUPPORTED[ext]
    return ext[1:].upper() if ext else "no extension"


# --------------------------------------------------------------------------------------------
# the excerpt plan, shared by files and arrays


def _plan(
    total_frames: int,
    rate: int,
    start: float,
    duration: float | None,
    *,
    what: str,
    min_seconds: float,
    max_file_seconds: float,
    max_excerpt_seconds: float,
) -> tuple[int, int, bool]:
    """Frames [first, first + count) of the excerpt, and whether it was cut short by the end."""
    total_seconds = total_frames / rate
    if total_seconds > max_file_seconds:
        raise AudioError(
            f"{what} is {_fmt_s(total_seconds)} long, longer than the {_fmt_s(max_file_seconds)} limit"
        )
    if total_frames == 0:
        raise AudioError(f"{what} contains no audio (0 samples)")
    first = int(round(start * rate))
    if first >= total_frames:
        raise AudioError(
            f"empty excerpt: start {_fmt_s(start)} is at or past the end of {what} "
            f"({_fmt_s(total_seconds)} long)"
        )
    available = total_frames - first
    if duration is None:
        count = available
        short = False
    else:
        wanted = max(1, int(round(duration * rate)))
        count = min(wanted, available)
        short = count < wanted
    excerpt_seconds = count / rate
    if excerpt_seconds > max_excerpt_seconds:
        hint = "" if duration is not None else "; pass a duration"
        raise AudioError(
            f"the excerpt is {_fmt_s(excerpt_seconds)} long, longer than the "
            f"{_fmt_s(max_excerpt_seconds)} limit{hint}"
        )
    if excerpt_seconds < min_seconds:
        tail = f" (the source ends {_fmt_s(excerpt_seconds)} after start {_fmt_s(start)})" if short or duration is None else ""
        raise AudioError(
            f"the excerpt is too short to classify: {_fmt_s(excerpt_seconds)}, "
            f"at least {_fmt_s(min_seconds)} needed{tail}"
        )
    return first, count, short


def _context_frames(first: int, rate: int, target: int) -> int:
    """Margin (input frames) before the excerpt: a whole number of output samples long, so
    that the excerpt's first sample falls exactly on the resampled grid."""
    if rate == target:
        return 0
    step = rate // math.gcd(rate, target)  # input frames per whole number of output samples
    want = int(math.ceil(_CONTEXT_SECONDS * rate / step)) * step
    return min(want, (first // step) * step)


def _finish(
    mono: np.ndarray,
    rate: int,
    target: int,
    pre: int,
    count: int,
    *,
    what: str,
) -> np.ndarray:
    """Check the mono excerpt (with margins), resample it and cut exactly ``count`` frames."""
    core = mono[pre : pre + count]
    if not np.all(np.isfinite(core)):
        bad = int(np.count_nonzero(~np.isfinite(core)))
        raise AudioError(f"{what} has non-finite samples (NaN or infinity) in the excerpt: {bad} of {count}")
    peak = float(np.max(np.abs(core))) if core.size else 0.0
    if peak < SILENCE_PEAK:
        raise AudioError(f"the excerpt is silent (peak {peak:.2g}, below {SILENCE_PEAK:g}); pick another start")
    if rate == target:
        return np.ascontiguousarray(core, dtype=np.float32)
    n_out = int(round(count * target / rate))
    if n_out < 1:
        raise AudioError(f"{what} is too short: {count} samples at {rate} Hz are no sample at "
                         f"{target} Hz")
    # margins may hold non-finite values outside the excerpt: silence them before filtering
    if not np.all(np.isfinite(mono)):
        mono = np.where(np.isfinite(mono), mono, 0.0).astype(np.float32)
    import soxr

    out = soxr.resample(np.ascontiguousarray(mono, dtype=np.float32), rate, target, quality=_RESAMPLE_QUALITY)
    offset = (pre * target) // rate  # exact: pre is a multiple of rate / gcd
    out = out[offset : offset + n_out]
    if out.shape[0] < n_out:  # soxr may round the length down by a sample
        out = np.pad(out, (0, n_out - out.shape[0]))
    return np.ascontiguousarray(out, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# arrays (microphone recordings, already-decoded audio)


def _array_to_float(data: np.ndarray) -> np.ndarray:
    kind = data.dtype.kind
    if kind == "f":
        return data.astype(np.float32, copy=False)
    if kind == "i":
        bits = data.dtype.itemsize * 8
        return (data.astype(np.float64) / float(2 ** (bits - 1))).astype(np.float32)
    if kind == "u":
        bits = data.dtype.itemsize * 8
        mid = float(2 ** (bits - 1))
        return ((data.astype(np.float64) - mid) / mid).astype(np.float32)
    if kind == "b":
        return data.astype(np.float32)
    raise AudioError(f"audio array must hold numbers, got dtype {data.dtype}")


def _array_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 1:
        return data
    if data.ndim != 2:
        raise AudioError(f"audio array must be [samples] or [samples, channels], got shape {data.shape}")
    # [samples, channels] as soundfile and Gradio give it; a short first axis with a longer
    # second one is taken as [channels, samples] (the librosa/torchaudio layout).
    if 0 < data.shape[0] <= 16 and data.shape[1] > data.shape[0]:
        data = data.T
    if data.shape[1] == 0:
        raise AudioError("audio array has no channels")
    return data.mean(axis=1, dtype=np.float64).astype(np.float32) if data.shape[1] > 1 else data[:, 0]


def _load_array(
    data: Any,
    sample_rate: int,
    source_rate: Any,
    start: float,
    duration: float | None,
    **limits: Any,
) -> Audio:
    if source_rate is None:
        raise AudioError("an audio array needs its sample rate: pass source_rate=")
    rate = _check_rate(source_rate, "source_rate")
    arr = np.asarray(data)
    if arr.dtype == object:
        raise AudioError("audio array must hold numbers, got dtype object")
    channels = 1 if arr.ndim == 1 else (min(arr.shape) if arr.ndim == 2 else 0)
    mono = _array_mono(_array_to_float(arr))
    first, count, short = _plan(int(mono.shape[0]), rate, start, duration, what="the recording", **limits)
    pre = _context_frames(first, rate, sample_rate)
    post = 0
    if rate != sample_rate:
        post = min(int(mono.shape[0]) - (first + count), int(math.ceil(_CONTEXT_SECONDS * rate)))
    window = mono[first - pre : first + count + post]
    samples = _finish(window, rate, sample_rate, pre, count, what="the recording")
    info = {
        "format": "array",
        "subtype": str(arr.dtype),
        "original_sample_rate": rate,
        "channels": int(channels),
        "file_duration": mono.shape[0] / rate,
        "end": (first + count) / rate,
        "requested_duration": duration,
        "cut_short": short,
        "resampled": rate != sample_rate,
    }
    return Audio(samples=samples, sample_rate=sample_rate, start=first / rate, source=None, info=info)


# --------------------------------------------------------------------------------------------
# files


def _open_error(path: Path, exc: BaseException) -> AudioError:
    ext = path.suffix.lower()
    reason = " ".join(str(exc).split()) or type(exc).__name__
    # soundfile repeats the path in its messages; keep the useful tail short
    reason = reason.replace(f"Error opening {str(path)!r}: ", "").replace(str(path), path.name)
    for cryptic, plain in _CRYPTIC.items():
        if cryptic in reason:
            reason = plain
    if len(reason) > 160:
        reason = reason[:157] + "..."
    if ext in _KNOWN_UNSUPPORTED:
        return AudioError(
            f"unsupported format {_KNOWN_UNSUPPORTED[ext]} ({path.name}): FreqReX reads {_TESTED} "
            f"files; convert it first, e.g. ffmpeg -i {path.name} out.flac"
        )
    if ext in SUPPORTED_FORMATS:
        return AudioError(
            f"cannot read {path.name} as {ext[1:].upper()}: the file is corrupt or not audio ({reason})"
        )
    return AudioError(
        f"{path.name} is not audio FreqReX can read ({_ext_label(path)}): expected {_TESTED} ({reason})"
    )


def _as_path(path: Any) -> Path:
    if isinstance(path, Path):
        return path
    if isinstance(path, str):
        if not path.strip():
            raise AudioError("no audio file given (empty path)")
        return Path(path)
    if isinstance(path, os.PathLike):
        out = os.fspath(path)
        return Path(out.decode() if isinstance(out, bytes) else out)
    if isinstance(path, bytes):
        raise AudioError("audio path must be a str or pathlib.Path, got bytes (to pass raw audio, decode it first)")
    raise AudioError(
        f"audio input must be a file path (str or pathlib.Path) or a numpy array with source_rate=, "
        f"got {type(path).__name__}"
    )


def _load_file(path: Path, sample_rate: int, start: float, duration: float | None, **limits: Any) -> Audio:
    import soundfile as sf

    name = path.name or str(path)
    try:
        exists = path.exists()
        is_file = path.is_file()
        size = path.stat().st_size if is_file else 0
    except OSError as exc:
        raise AudioError(f"cannot access {path}: {exc.strerror or exc}") from None
    if not exists:
        raise AudioError(f"audio file not found: {path}")
    if not is_file:
        raise AudioError(f"not a file: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    if size == 0:
        raise AudioError(f"the file is empty (0 bytes): {name}")
    if not os.access(path, os.R_OK):
        raise AudioError(f"permission denied reading {path}")

    # the C decoders (mpg123) print notes on stderr: keep them out of the one-line errors
    with _quiet_decoder():
        try:
            handle = sf.SoundFile(str(path), mode="r")
        except Exception as exc:  # soundfile raises LibsndfileError, TypeError, RuntimeError...
            raise _open_error(path, exc) from None

        with handle:
            try:
                rate = int(handle.samplerate)
                channels = int(handle.channels)
                total = int(handle.frames)
                fmt, subtype = str(handle.format), str(handle.subtype)
            except Exception as exc:
                raise _open_error(path, exc) from None
            if not (0 < rate <= _MAX_RATE) or not (0 < channels <= 1024) or total < 0:
                raise AudioError(
                    f"cannot read {name}: its header is invalid or corrupt ({rate} Hz, {channels} channels)"
                )
            first, count, short = _plan(total, rate, start, duration, what=name, **limits)
            pre = _context_frames(first, rate, sample_rate)
            post = 0
            if rate != sample_rate:
                post = min(total - (first + count), int(math.ceil(_CONTEXT_SECONDS * rate)))
            want = pre + count + post
            parts: list[np.ndarray] = []  # grown block by block: a lying header costs nothing
            got = 0
            # libsndfile's MP3 decoder outputs ~3 frames of wrong samples (zeros) after every seek
            # (its bit reservoir is emptied), and soundfile seeks after each read() call. So an
            # MP3 is read in a single call (at most 2 channels: bounded memory), starting a
            # pre-roll early, and the pre-roll is dropped.
            mp3 = fmt == "MP3"
            skip = min(first - pre, _MP3_PREROLL) if mp3 else 0
            # a block holds about _BLOCK_FRAMES mono frames' worth of samples, whatever the
            # channels (a 255-channel file must not cost 255 times the memory)
            block_frames = skip + want if mp3 else max(4096, _BLOCK_FRAMES // channels)
            try:
                if first - pre - skip > 0:
                    handle.seek(first - pre - skip)
                while got < want:
                    block = handle.read(min(block_frames, skip + want - got), dtype="float32", always_2d=True)
                    if skip:
                        block, skip = block[skip:], 0
                    n = int(block.shape[0])
                    if n == 0:
                        break
                    parts.append(block[:, 0].copy() if channels == 1 else block.mean(axis=1, dtype=np.float64).astype(np.float32))
                    got += n
                    if mp3:
                        break
            except AudioError:
                raise
            except Exception as exc:
                raise AudioError(
                    f"cannot read {name} ({fmt}): the file is corrupt or truncated "
                    f"({' '.join(str(exc).split())[:120] or type(exc).__name__})"
                ) from None

    if got < pre + count:
        # the header promised more frames than the data holds (truncated file)
        real = got - pre
        if real * 1.0 / rate < limits["min_seconds"]:
            if real <= 0:
                raise AudioError(f"empty excerpt: {name} ends before start {_fmt_s(start)} (the file is truncated)")
            raise AudioError(
                f"the excerpt is too short to classify: {_fmt_s(real / rate)} readable (the file is "
                f"truncated), at least {_fmt_s(limits['min_seconds'])} needed"
            )
        count, post, short = real, 0, True
    else:
        post = got - pre - count
    mono = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    mono = mono[: pre + count + post]
    samples = _finish(mono, rate, sample_rate, pre, count, what=name)
    info = {
        "format": fmt,
        "subtype": subtype,
        "original_sample_rate": rate,
        "channels": channels,
        "file_duration": total / rate,
        "end": (first + count) / rate,
        "requested_duration": duration,
        "cut_short": short,
        "resampled": rate != sample_rate,
    }
    return Audio(samples=samples, sample_rate=sample_rate, start=first / rate, source=str(path), info=info)


def load_audio(
    path: Any,
    sample_rate: int,
    start: float = 0.0,
    duration: float | None = None,
    *,
    source_rate: int | None = None,
    min_seconds: float = MIN_SECONDS,
    max_file_seconds: float = MAX_FILE_SECONDS,
    max_excerpt_seconds: float = MAX_EXCERPT_SECONDS,
) -> Audio:
    """Read the excerpt ``[start, start + duration)`` of an audio file as the model hears it.

    Args:
        path: a file path (``str`` or :class:`pathlib.Path`) to WAV, FLAC, OGG (Vorbis or
            Opus), MP3, or another format libsndfile reads (AIFF, AU, ...). It may also be a
            numpy array of samples, ``[samples]`` or ``[samples, channels]`` (a short first
            axis with a longer second one is read as ``[channels, samples]``), together with
            ``source_rate=``: integer arrays (int8/16/32, uint8 as in 8-bit WAV) are scaled
            to [-1, 1]; float arrays are taken as they are. This is how the app passes a
            microphone recording: ``load_audio(data, sr, source_rate=rate)``, or Gradio's
            numpy value ``(rate, data)`` as it is: ``load_audio((rate, data), sr)``.
        sample_rate: the rate the model expects (Hz); the excerpt is resampled to it with
            soxr ('VHQ') when the source differs.
        start: seconds from the beginning of the source (rounded to the nearest source
            sample).
        duration: seconds to keep; ``None`` keeps everything to the end. An excerpt that runs
            past the end is cut short there (``info["cut_short"]`` is True) and refused only
            when what is left is shorter than ``min_seconds``.
        source_rate: the sample rate of an array passed as ``path`` (required then, ignored
            for files).
        min_seconds: shortest excerpt accepted (default 0.5 s).
        max_file_seconds: longest source accepted (default 4 hours).
        max_excerpt_seconds: longest excerpt accepted (default 10 minutes).

    Returns:
        :class:`Audio`: mono float32 samples at ``sample_rate``; ``start`` is the excerpt's
        actual start in seconds, ``source`` the path (None for arrays), and ``info`` holds
        ``format``, ``subtype``, ``original_sample_rate``, ``channels``, ``file_duration``,
        ``end``, ``requested_duration``, ``cut_short`` and ``resampled``.

    Only the excerpt (plus 50 ms either side for the resampler) is decoded: the file is
    opened, seeked and read block by block, so a two-hour file costs no more than its
    excerpt. Channels are averaged to mono.

    Raises:
        AudioError: a one-line reason for a person: missing file, a folder, an empty file,
            unreadable/corrupt/non-audio data, an unsupported format, an empty, too short,
            too long or silent excerpt, NaN/infinite samples, a file over
            ``max_file_seconds``, or bad arguments.
    """
    sample_rate = _check_rate(sample_rate, "sample_rate")
    start = _check_seconds(start, "start", allow_zero=True)
    if duration is not None:
        duration = _check_seconds(duration, "duration", allow_zero=False)
    limits = {
        "min_seconds": _check_seconds(min_seconds, "min_seconds", allow_zero=True),
        "max_file_seconds": _check_seconds(max_file_seconds, "max_file_seconds", allow_zero=False),
        "max_excerpt_seconds": _check_seconds(max_excerpt_seconds, "max_excerpt_seconds", allow_zero=False),
    }
    if (
        isinstance(path, tuple)
        and len(path) == 2
        and isinstance(path[0], (numbers.Integral, np.integer))
        and isinstance(path[1], np.ndarray)
    ):  # Gradio's numpy audio value: (rate, data)
        if source_rate is not None and int(source_rate) != int(path[0]):
            raise AudioError(f"source_rate={source_rate!r} contradicts the rate {path[0]} in the (rate, data) pair")
        path, source_rate = path[1], path[0]
    if isinstance(path, (np.ndarray, list)):
        return _load_array(path, sample_rate, source_rate, start, duration, **limits)
    return _load_file(_as_path(path), sample_rate, start, duration, **limits)


def write_wav(path: str | os.PathLike, samples: Any, sample_rate: int | None = None) -> Path:
    """Write mono 32-bit float WAV, values exactly as given (never normalised or clipped).

    ``samples`` is a 1-D array (a ``[1, N]`` or ``[N, 1]`` array is flattened) or an
    :class:`Audio` (whose rate is used when ``sample_rate`` is None). Parent folders are
    created. Returns the path written.
    """
    if isinstance(samples, Audio):
        if sample_rate is None:
            sample_rate = samples.sample_rate
        samples = samples.samples
    if sample_rate is None:
        raise AudioError("write_wav needs a sample_rate")
    rate = _check_rate(sample_rate, "sample_rate")
    arr = np.asarray(samples)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise AudioError(f"write_wav writes mono audio: samples must be [N], got shape {arr.shape}")
    if arr.dtype.kind not in "fiub":
        raise AudioError(f"write_wav needs numeric samples, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise AudioError("write_wav refuses non-finite samples (NaN or infinity)")
    import soundfile as sf

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        sf.write(str(out), arr, rate, format="WAV", subtype="FLOAT")
    except Exception as exc:
        raise AudioError(f"cannot write {out}: {' '.join(str(exc).split())}") from None
    return out
