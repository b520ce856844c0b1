"""The excerpt preview: the whole source read at 8 kHz (bounded memory, a few files cached) and
its waveform with the chosen excerpt highlighted, as a PNG in the app's cache. No Gradio."""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .limits import Limits

__all__ = ["read_source", "preview_png"]

_SOURCES: OrderedDict[str, Any] = OrderedDict()
_SOURCES_LOCK = threading.Lock()
_PREVIEW_PIECE_FRAMES = 1 << 23  # source frames decoded at once for the preview (32 MB)
_PREVIEW_RATE = 8000
_MAX_PREVIEWS = 64


def read_source(path: str, limits: Limits):
    """The whole source at 8 kHz, for the excerpt preview (cached for a few files).

    A source with many frames is decoded piece by piece: a 15 MB FLAC can hold 10 minutes
    at 192 kHz, which decoded at once would take over a gigabyte."""
    import numpy as np
    import soundfile as sf

    from ..audio import Audio, AudioError, load_audio

    p = Path(path)
    key = f"{p}:{p.stat().st_mtime_ns}"
    with _SOURCES_LOCK:
        if key in _SOURCES:
            _SOURCES.move_to_end(key)
            return _SOURCES[key]
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
    with _SOURCES_LOCK:
        _SOURCES[key] = audio
        while len(_SOURCES) > 8:
            _SOURCES.popitem(last=False)
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
    out = folder / f"preview-{uuid.uuid4().hex[:10]}.png"
    fig.savefig(out, dpi=110)
    return str(out)
