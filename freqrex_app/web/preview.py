"""The excerpt preview: the whole source read at 8 kHz (bounded memory, a few files cached) and
its waveform with the chosen excerpt highlighted, as a PNG in the app's cache. No Gradio."""
from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .limits import Limits
from .lru import BoundedLRU

__all__ = ["read_source", "preview_png", "decode_cost"]

_SOURCES: BoundedLRU[str, Any] = BoundedLRU(8)  # content hash -> the source at 8 kHz
_PREVIEW_PIECE_FRAMES = 1 << 23  # source frames decoded at once for the preview (32 MB)
_PREVIEW_RATE = 8000
_MAX_PREVIEWS = 64


def _content_key(p: Path) -> str:
    """The file's content hash: the same sound under another name is the same preview (a
    file already hashed is not read again)."""
    st = p.stat()
    return _hash_file(str(p), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _hash_file(path: str, mtime_ns: int, size: int) -> str:
    """The content hash of the file ``path`` as it was at ``mtime_ns`` with ``size`` bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def decode_cost(path: str | Path, limits: Limits) -> float:
    """What decoding the whole source costs, in millions of samples (rate x channels x
    seconds, from its header: nothing is decoded); an :class:`AudioError` for more channels
    than ``limits.max_channels`` or a cost above ``limits.preview_msamples``. 0 for a file
    without a readable header (the decoder says what is wrong, at once)."""
    import soundfile as sf

    from ..audio import AudioError

    try:
        info = sf.info(str(path))
        rate, frames, channels = int(info.samplerate), int(info.frames), int(info.channels)
    except Exception:
        return 0.0
    if channels > limits.max_channels:
        raise AudioError(f"{Path(path).name} has {channels} channels; this server reads at most "
                         f"{limits.max_channels}")
    cost = max(0, frames) * max(1, channels) / 1e6
    if cost > limits.preview_msamples:
        raise AudioError(f"{Path(path).name} is too costly to preview ({rate:,} Hz x {channels} "
                         f"channels x {frames / max(rate, 1):.0f} s = {cost:.0f} M samples, "
                         f"limit {limits.preview_msamples:g} M): cut or downsample it")
    return cost


def read_source(path: str, limits: Limits, spend: Callable[[float], None] | None = None):
    """The whole source at 8 kHz, for the excerpt preview (cached by content for a few files).

    Before anything is decoded, its cost is bounded (:func:`decode_cost`) and charged to
    ``spend(millions of samples)``, which raises to refuse it (the visitor's allowance).
    A source with many frames is decoded piece by piece: a 15 MB FLAC can hold 10 minutes
    at 192 kHz, which decoded at once would take over a gigabyte."""
    import numpy as np
    import soundfile as sf

    from ..audio import Audio, AudioError, load_audio

    p = Path(path)
    key = _content_key(p)
    cached = _SOURCES.get(key)
    if cached is not None:
        return Audio(samples=cached.samples, sample_rate=cached.sample_rate, start=0.0,
                     source=str(p))
    cost = decode_cost(p, limits)
    if spend is not None:
        spend(cost)
    kw = dict(sample_rate=_PREVIEW_RATE, max_file_seconds=limits.max_source_s,
              max_excerpt_seconds=limits.max_source_s)
    try:
        info = sf.info(str(p))
        rate, frames = int(info.samplerate), int(info.frames)
    except Exception:
        rate, frames = 0, 0  # load_audio says what is wrong
    if rate <= 0 or frames <= _PREVIEW_PIECE_FRAMES or frames > rate * limits.max_source_s:
        audio = load_audio(p, **kw)
    else:
        step = max(1, _PREVIEW_PIECE_FRAMES // rate)  # whole seconds per piece
        pieces = []
        for t0 in range(0, int(frames // rate) + 1, step):
            try:
                pieces.append(load_audio(p, start=float(t0), duration=float(step),
                                         min_seconds=0.0, **kw).samples)
            except AudioError as exc:
                if "silent" in str(exc):
                    pieces.append(np.zeros(int(round(min(step, frames / rate - t0)
                                                     * _PREVIEW_RATE)), np.float32))
                elif "empty excerpt" in str(exc):  # past the end (or a truncated file)
                    break
                else:
                    raise
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        if samples.size == 0 or float(np.max(np.abs(samples))) < 1e-5:
            raise AudioError(f"{p.name} is silent or holds no audio")
        audio = Audio(samples=samples, sample_rate=_PREVIEW_RATE, start=0.0, source=str(p))
    _SOURCES.put(key, audio)
    return audio


def preview_png(src, t0: float, dur: float, limits: Limits) -> str:
    """The source's waveform with the excerpt ``[t0, t0 + dur]`` highlighted, saved in a
    bounded folder of its own; returns the PNG's path."""
    from .. import plots

    name = Path(src.source).name if src.source else "clip"
    fig = plots.source_waveform(src.samples, src.sample_rate, t0, dur,
                                title=f"{name} · excerpt {t0:.1f}–{t0 + dur:.1f} s of "
                                      f"{src.duration:.1f} s")
    folder = limits.cache / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    old = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
    for p in old[:max(0, len(old) - _MAX_PREVIEWS + 1)]:
        p.unlink(missing_ok=True)
    out = folder / f"preview-{uuid.uuid4().hex}.png"  # unguessable: served by its path
    fig.savefig(out, dpi=110)
    return str(out)
