"""Audio input and output: the mono excerpt a model hears (:class:`Audio`), reading it from a
file or an array (:func:`load_audio`), and writing exact WAVs (:func:`write_wav`)."""
from __future__ import annotations

from . import io
from .clip import Audio
from .io import (
    MAX_EXCERPT_SECONDS,
    MAX_FILE_SECONDS,
    MIN_SECONDS,
    SILENCE_PEAK,
    SUPPORTED_FORMATS,
    AudioError,
    load_audio,
    write_wav,
)

__all__ = list(io.__all__)
