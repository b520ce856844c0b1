"""The scales audio is read on: mel (Slaney, as the models hear; HTK on request, as librosa
offers both) and equal-tempered notes (A4 = 440 Hz, scientific pitch notation, C4 = middle C).
One implementation of each, for the engine's tiles, the figures and the page."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["hz_to_mel", "mel_to_hz", "hz_to_midi", "midi_to_hz", "midi_to_note", "hz_to_note",
           "NOTE_NAMES"]

#: The twelve pitch classes, C first.
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

_F_SP = 200.0 / 3            # Slaney: Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Mel of ``hz``: Slaney's (librosa's default, the models' filterbanks: linear below
    1 kHz, logarithmic above), or HTK's ``2595 log10(1 + hz / 700)`` with ``htk=True``."""
    hz = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    lin = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(mel: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)),
                    _F_SP * mel)


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    """MIDI pitch of ``hz`` (A4 = 440 Hz = 69), fractional; NaN where ``hz <= 0``."""
    hz = np.asarray(hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hz > 0, 69.0 + 12.0 * np.log2(hz / 440.0), np.nan)


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray:
    """Frequency of MIDI pitch ``midi`` (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def midi_to_note(midi: int) -> str:
    """``"A4"`` for 69, ``"C4"`` for 60 (scientific pitch notation)."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def hz_to_note(hz: float, cents: bool = False) -> str:
    """Nearest equal-tempered note name of ``hz``, e.g. ``"A4"`` or ``"A4 +12c"``; ``"-"`` for
    no pitch (``hz <= 0`` or not finite)."""
    if not (hz > 0 and math.isfinite(hz)):
        return "-"
    midi = float(hz_to_midi(hz))
    nearest = int(round(midi))
    name = midi_to_note(nearest)
    if cents:
        name += f" {int(round(100 * (midi - nearest))):+d}c"
    return name
