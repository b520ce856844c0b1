"""How audible a change is (SPEC section 4): Zimtohrli, a model of hearing, beside the SNR.

SNR counts energy, not what a person hears: one removed bin at 20 dB is near-inaudible, many
attenuated bins at the same SNR are not, and a DC offset or sub-audio rumble inflates every
SNR. Google's psychoacoustic metric Zimtohrli (the ``zimtohrli`` package, Apache-2.0) compares
the original and the changed sound, both resampled to its 48 kHz, and maps its distance to a
mean opinion score (MOS, 1 to 5; 5: no audible difference). "Least audible" is decided by the
distance, SNR breaking ties; every change the model rates inaudible (MOS from
:data:`INAUDIBLE_MOS`) ties, as the distance below that point no longer says what a person hears,
so among them the least energy changed wins.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Audibility", "Hearing", "snr_db", "INAUDIBLE_MOS", "words"]

#: From this MOS on the hearing model says a person will not hear the change.
INAUDIBLE_MOS = 4.95
#: ... and from this one that it is hard to hear.
FAINT_MOS = 4.5


def snr_db(original: np.ndarray, changed: np.ndarray) -> float:
    """10 log10(sum x^2 / sum (x - x')^2); ``inf`` when nothing changed."""
    x = np.asarray(original, dtype=np.float64)
    noise = float(np.sum((x - np.asarray(changed, dtype=np.float64)) ** 2))
    if noise == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(np.sum(x ** 2)) / noise))


@dataclass(frozen=True)
class Audibility:
    """A change's SNR (dB), Zimtohrli distance and MOS (None where Zimtohrli is unavailable)."""

    snr_db: float
    zimtohrli: float | None = None
    mos: float | None = None

    @property
    def inaudible(self) -> bool:
        """Whether the model of hearing says a person will not hear the change."""
        return self.mos is not None and self.mos >= INAUDIBLE_MOS

    def key(self) -> tuple[float, float]:
        """Sort key, least audible first: the Zimtohrli distance (0 for every change the model
        rates inaudible, MOS >= :data:`INAUDIBLE_MOS`), then the SNR (higher first)."""
        z = math.inf if self.zimtohrli is None else 0.0 if self.inaudible else self.zimtohrli
        snr = self.snr_db if math.isfinite(self.snr_db) else 1e9
        return (z, -snr)


def words(a: Audibility) -> str:
    """What the hearing model says, in words a visitor reads."""
    if a.mos is None:  # no model of hearing: the SNR alone, said as such
        return ("very quiet (by SNR; no model of hearing)" if a.snr_db >= 35 else
                "quiet, but you may hear it (by SNR)" if a.snr_db >= 20 else "clearly audible")
    if a.inaudible:
        return "you will not hear it"
    if a.mos >= FAINT_MOS:
        return "hard to hear"
    return "audible" if a.mos >= 3.5 else "clearly audible"


class Hearing:
    """Judges changed versions of one original: the original is resampled once, and each
    changed wave is scored once (cached by its exact samples)."""

    RATE = 48_000

    def __init__(self, original: np.ndarray, sample_rate: int):
        self.original = np.asarray(original, dtype=np.float32)
        self.sample_rate = int(sample_rate)
        self._cache: dict[bytes, Audibility] = {}
        self.judged, self.seconds = 0, 0.0  # sounds scored, and the time it took
        try:
            import zimtohrli
        except ImportError:  # pragma: no cover - a runtime dependency; SNR alone without it
            self._zim = None
        else:
            self._zim, self._mos = zimtohrli.Pyohrli(), zimtohrli.mos_from_zimtohrli
            self._ref = self._at_48k(self.original)

    @property
    def available(self) -> bool:
        return self._zim is not None

    def _at_48k(self, wave: np.ndarray) -> np.ndarray:
        if self.sample_rate == self.RATE:
            return np.asarray(wave, dtype=np.float32)
        import soxr
        return soxr.resample(np.asarray(wave, dtype=np.float32), self.sample_rate, self.RATE,
                             quality="HQ").astype(np.float32)

    def judge(self, changed: np.ndarray) -> Audibility:
        """The audibility of ``changed`` against the original."""
        changed = np.asarray(changed, dtype=np.float32)
        key = hashlib.sha1(changed.tobytes()).digest()
        if key not in self._cache:
            snr = snr_db(self.original, changed)
            if self._zim is None:
                self._cache[key] = Audibility(snr)
            elif not math.isfinite(snr):  # identical: no distance to measure
                self._cache[key] = Audibility(snr, 0.0, float(self._mos(0.0)))
            else:
                t0 = time.perf_counter()
                d = float(self._zim.distance(self._ref, self._at_48k(changed)))
                self._cache[key] = Audibility(snr, d, float(self._mos(d)))
                self.judged += 1
                self.seconds += time.perf_counter() - t0
        return self._cache[key]

    def less_audible(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether ``a`` is less audible than ``b`` (:meth:`Audibility.key`), scoring ``a`` only
        where the order needs it: against an inaudible ``b`` only a higher SNR can win."""
        hb = self.judge(b)
        if hb.inaudible and snr_db(self.original, np.asarray(a, np.float32)) <= hb.snr_db:
            return False
        return self.judge(a).key() < hb.key()
