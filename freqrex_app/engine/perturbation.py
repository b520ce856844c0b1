"""One idea of a perturbation: what an explanation did to the clip, and what the model heard.

Every sound an explanation writes but the original (the sets kept, the necessary set removed,
flip-1..5, the quiet and the STFT flips) is a :class:`Perturbation` of one :class:`Kind`.
:data:`KINDS` is the one ordered registry of them: the JSON's file names, the loader, the
figures, the page's buttons and tables and the command line all read it, so a new kind of
perturbation is a new entry here and the place in :mod:`.explanation` that produces it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..audio.hearing import Audibility

__all__ = ["Kind", "KINDS", "KIND", "AUDIO_FILES", "FLIP_ORDER", "Perturbation"]


@dataclass(frozen=True)
class Kind:
    """A kind of perturbation: its name (the key everywhere), its short title (buttons and
    tables), its caption (figures), its sound file, and what it does to its part of the clip."""

    name: str
    title: str
    caption: str
    file: str
    #: the sound keeps only the part (a set), rather than removing or attenuating it
    kept: bool = False
    #: the part is STFT cells, not rfft bins
    cells: bool = False


def _flip_k(k: int) -> Kind:
    return Kind(f"flip_{k}", f"Flip-{k}",
                f"Flip-{k}: the top {k} frequenc{'y' if k == 1 else 'ies'} removed",
                f"flip_{k}.wav")


#: Every kind, in the order of the page's buttons and tables (SPEC section 5).
KINDS: tuple[Kind, ...] = (
    Kind("sufficient", "Sufficient", "Sufficient (S): only these frequencies kept",
         "sufficient.wav", kept=True),
    Kind("necessary_kept", "Necessary kept", "Necessary (SN) kept: only these frequencies kept",
         "necessary_kept.wav", kept=True),
    Kind("necessary_removed", "Necessary removed",
         "Necessary (SN) removed: the clip without them", "necessary_removed.wav"),
    Kind("complete", "Complete", "Complete (SN + A) kept", "complete.wav", kept=True),
    *(_flip_k(k) for k in range(1, 6)),
    Kind("quiet_flip", "Quiet flip",
         "Quiet flip: the least audible change of frequency bins that flips", "quiet_flip.wav"),
    Kind("stft_flip", "STFT flip",
         "STFT flip: the least audible change of time-frequency cells that flips",
         "stft_flip.wav", cells=True),
)
#: The kinds by name.
KIND: dict[str, Kind] = {k.name: k for k in KINDS}
#: Audio outputs (SPEC section 5): name -> file name, the original first.
AUDIO_FILES: dict[str, str] = {"original": "original.wav", **{k.name: k.file for k in KINDS}}
#: The kinds that can change the decision, in the order that breaks ties between equally
#: audible flips (the searches' own flips before flip-k, the sets' removal last).
FLIP_ORDER: tuple[str, ...] = ("quiet_flip", "stft_flip", *(f"flip_{k}" for k in range(1, 6)),
                               "necessary_removed")


@dataclass(frozen=True)
class Perturbation:
    """A part of the clip (``index``: rfft bins or flat STFT cells, the loudest first for the
    flips) kept, removed or scaled by ``gain``; the sound, what the model heard in it, and how
    audible it is."""

    kind: Kind
    index: np.ndarray = field(repr=False)
    #: the top-1 label of the sound, its index among the model's labels, and its confidence
    label: str
    label_index: int
    confidence: float
    wave: np.ndarray = field(repr=False)
    snr_db: float
    #: the decision changed (another label on top; with a contrast, the foil on top)
    flipped: bool = False
    #: 0 removes the part; between 0 and 1 attenuates it (kept sets: 0, the rest removed)
    gain: float = 0.0
    #: how the part was found: "black-box" or "gradient"
    search: str = "black-box"
    audibility: Audibility | None = None

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def title(self) -> str:
        return self.kind.title

    @property
    def k(self) -> int:
        """How many features (bins or cells) were changed or kept."""
        return int(np.asarray(self.index).shape[0])

    @property
    def change(self) -> str:
        """What was done to the part, in words: "kept", "removed" or "attenuated (× 0.8)"."""
        if self.kind.kept:
            return "kept"
        return "removed" if self.gain <= 0.0 else f"attenuated (× {self.gain:g})"

    @property
    def space(self) -> str:
        """The features, in words: "frequency bins" or "time-frequency cells"."""
        return "time-frequency cells" if self.kind.cells else "frequency bins"

    @property
    def unit(self) -> str:
        """The size's unit and the change: "bins kept", "STFT cells attenuated (× 0.5)"."""
        noun = "STFT cells" if self.kind.cells else "bins"
        if self.k == 1:
            noun = noun[:-1]
        return f"{noun} {self.change}"

    @property
    def outcome(self) -> str:
        """``label (confidence)`` of the sound, as the engine verified it."""
        return f"{self.label} ({self.confidence:.0%})"

    @property
    def zimtohrli(self) -> float | None:
        return None if self.audibility is None else self.audibility.zimtohrli

    @property
    def mos(self) -> float | None:
        return None if self.audibility is None else self.audibility.mos

    @property
    def heard(self) -> Audibility:
        """Its audibility; the SNR alone when the model of hearing did not score it."""
        return self.audibility or Audibility(self.snr_db)

    @property
    def verified_flip(self) -> bool:
        """A change of the decision that may lead the page: it flipped, at a finite SNR."""
        return self.flipped and not self.kind.kept and math.isfinite(self.snr_db)
