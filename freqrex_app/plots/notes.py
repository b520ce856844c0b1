"""Responsibility per note, per pitch class and per register band, and the share outside the
musical range: the questions a musicologist brings ("which notes, which instrument range?").

Every rfft bin of the excerpt is assigned to its nearest equal-tempered semitone (A4 = 440 Hz,
MIDI number ``69 + 12 log2(hz / 440)`` rounded; octaves in scientific pitch notation, C4 =
middle C). The *musical range* is the 88 piano keys, A0 (27.5 Hz) to C8 (4186 Hz): a bin whose
nearest note lies below A0 or above C8 (below 26.7 Hz or above 4.31 kHz, half a semitone past
them), and the DC bin, is *outside*.

Two measures, because a semitone spans more bins the higher it is (A7 has 16 times the bins of
A3) while the responsibility map R is flat over the wide bands the search never split:

- **mean** per bin (and ``relative``: that mean over the clip's mean per bin): how strongly
  each frequency of a note or register matters, whatever its width. Notes are ranked by it,
  and pitch classes weigh each semitone once (the average of its octaves' means).
- **share**: the note's or register's summed R over the total: how much of the explanation lies
  there. It grows with width, so on flat R it favours high notes; the share outside the musical
  range is this measure.

Register bands (:data:`REGISTERS`) follow the usual audio-engineering split of the spectrum.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..audio.scales import NOTE_NAMES, hz_to_midi, midi_to_hz, midi_to_note
from ._common import Explanation

__all__ = ["Register", "REGISTERS", "LOWEST_KEY", "HIGHEST_KEY", "NoteShare", "PitchClassShare",
           "RegisterShare", "NoteSummary", "midi_of_hz", "note_summary",
           "summarise_notes", "notes_markdown"]

LOWEST_KEY = 21    #: A0, 27.5 Hz: the lowest note of the musical range
HIGHEST_KEY = 108  #: C8, 4186 Hz: the highest


@dataclass(frozen=True)
class Register:
    """A register band ``[lo_hz, hi_hz)`` with what typically sounds there."""

    name: str
    lo_hz: float
    hi_hz: float
    description: str


#: The register bands, low to high; together they cover 0 Hz to Nyquist.
REGISTERS: tuple[Register, ...] = (
    Register("sub-bass", 0.0, 60.0, "below 60 Hz: kick-drum thump, organ pedals, felt more than heard"),
    Register("bass", 60.0, 250.0, "60-250 Hz: bass guitar, cello and the fundamentals of low voices"),
    Register("low-mid", 250.0, 500.0, "250-500 Hz: the body of guitars, piano, male voice"),
    Register("mid", 500.0, 2000.0, "500 Hz-2 kHz: most melodies and the voice's vowels"),
    Register("high-mid", 2000.0, 4000.0, "2-4 kHz: attack and bite, consonants, distortion"),
    Register("presence", 4000.0, 6000.0, "4-6 kHz: clarity and presence, cymbals"),
    Register("brilliance", 6000.0, math.inf, "above 6 kHz: air, sibilance, hi-hats, noise"),
)


@dataclass(frozen=True)
class NoteShare:
    """One semitone: its bins' summed responsibility, share of the total, mean and peak."""

    midi: int
    name: str           #: e.g. "A4"
    pitch_class: str    #: e.g. "A"
    octave: int
    hz: float           #: the equal-tempered frequency
    lo_hz: float        #: half a semitone below
    hi_hz: float        #: half a semitone above
    n_bins: int
    responsibility: float  #: summed R over the note's bins
    share: float           #: of the total R
    mean: float            #: R per bin
    relative: float        #: mean over the clip's mean R per bin (1 = average)
    peak: float

    @property
    def in_range(self) -> bool:
        return LOWEST_KEY <= self.midi <= HIGHEST_KEY


@dataclass(frozen=True)
class PitchClassShare:
    """A pitch class (C, C#, ..., B) over the octaves of the musical range: ``weight`` is the
    average over its octaves of the note's mean R per bin (each semitone counts once, whatever
    its width in bins), ``share`` that weight over the twelve weights' total."""

    name: str
    weight: float
    share: float


@dataclass(frozen=True)
class RegisterShare:
    """A register band's bins: summed responsibility, share of the total, mean and peak."""

    name: str
    lo_hz: float
    hi_hz: float
    description: str
    n_bins: int
    responsibility: float
    share: float
    mean: float
    relative: float
    peak: float


@dataclass(frozen=True)
class NoteSummary:
    """Responsibility by note, pitch class and register, and outside the musical range.

    ``notes`` runs from the lowest to the highest note any bin is nearest to (out-of-range
    notes included, flagged by ``in_range``); the shares of ``notes`` plus the DC bin's add up
    to 1, as do those of ``registers``; ``outside_share = below_share + above_share``."""

    notes: tuple[NoteShare, ...]
    pitch_classes: tuple[PitchClassShare, ...]
    registers: tuple[RegisterShare, ...]
    below_share: float
    above_share: float
    total: float
    n_bins: int

    @property
    def outside_share(self) -> float:
        return self.below_share + self.above_share

    def note(self, name: str) -> NoteShare:
        """The entry of note ``name`` (e.g. ``"A4"``); KeyError when no bin is near it."""
        for n in self.notes:
            if n.name == name:
                return n
        raise KeyError(f"no bin of this excerpt is nearest to {name}")

    def top_notes(self, n: int = 10, by: str = "peak", musical_only: bool = True) -> list[NoteShare]:
        """The ``n`` notes with the largest ``by`` (``peak``, ``mean`` or ``share``; ties by the
        mean), among A0-C8 unless ``musical_only`` is False. By default the peak: R holds each
        bin's own degree of responsibility, and a note is as responsible as its most responsible
        bin (a mean would favour the wide parts the search left unrefined)."""
        pool = [x for x in self.notes if x.n_bins and (x.in_range or not musical_only)]
        return sorted(pool, key=lambda x: (-getattr(x, by), -x.mean, x.midi))[:n]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``math.inf`` upper edges become None)."""
        regs = [{**asdict(r), "hi_hz": None if math.isinf(r.hi_hz) else r.hi_hz}
                for r in self.registers]
        return {"total": self.total, "n_bins": self.n_bins, "below_share": self.below_share,
                "above_share": self.above_share, "outside_share": self.outside_share,
                "notes": [{**asdict(x), "in_range": x.in_range} for x in self.notes if x.n_bins],
                "pitch_classes": [asdict(p) for p in self.pitch_classes], "registers": regs}


def midi_of_hz(hz: np.ndarray | float) -> np.ndarray:
    """Nearest equal-tempered MIDI note of ``hz`` (A4 = 440 Hz = 69); -1 where ``hz <= 0``."""
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz > 0, np.rint(np.nan_to_num(hz_to_midi(hz), nan=-1.0)), -1).astype(np.int64)


def note_summary(responsibility: np.ndarray, sample_rate: int, n_samples: int) -> NoteSummary:
    """The :class:`NoteSummary` of a responsibility map over the rfft bins of ``n_samples``
    samples at ``sample_rate`` (bin ``b`` is at ``b * sample_rate / n_samples`` Hz)."""
    r = np.asarray(responsibility, dtype=np.float64)
    n_bins = r.shape[0]
    hz = np.arange(n_bins) * (sample_rate / n_samples)
    total = float(r.sum())
    scale = 1.0 / total if total > 0 else 0.0
    clip_mean = total / n_bins if n_bins else 0.0
    rel = 1.0 / clip_mean if clip_mean > 0 else 0.0
    midi = midi_of_hz(hz)

    notes: list[NoteShare] = []
    pc_weight, pc_count = np.zeros(12), np.zeros(12)
    below = float(r[midi < LOWEST_KEY].sum())       # includes DC (midi -1)
    above = float(r[midi > HIGHEST_KEY].sum())
    voiced = midi >= 0
    if voiced.any():
        lo_note, hi_note = int(midi[voiced].min()), int(midi[voiced].max())
        offset = midi[voiced] - lo_note
        size = hi_note - lo_note + 1
        sums = np.bincount(offset, weights=r[voiced], minlength=size)
        counts = np.bincount(offset, minlength=size)
        peaks = np.zeros(size)
        np.maximum.at(peaks, offset, r[voiced])
        for i in range(size):
            m = lo_note + i
            mean = float(sums[i] / counts[i]) if counts[i] else 0.0
            notes.append(NoteShare(
                midi=m, name=midi_to_note(m), pitch_class=NOTE_NAMES[m % 12], octave=m // 12 - 1,
                hz=float(midi_to_hz(m)), lo_hz=float(midi_to_hz(m - 0.5)), hi_hz=float(midi_to_hz(m + 0.5)),
                n_bins=int(counts[i]), responsibility=float(sums[i]), share=float(sums[i]) * scale,
                mean=mean, relative=mean * rel, peak=float(peaks[i])))
            if LOWEST_KEY <= m <= HIGHEST_KEY and counts[i]:
                pc_weight[m % 12] += mean
                pc_count[m % 12] += 1
    pc_weight = pc_weight / np.maximum(pc_count, 1)  # A, A#, B and C have 8 keys, the rest 7
    pc_total = float(pc_weight.sum())
    pitch = tuple(PitchClassShare(NOTE_NAMES[i], float(pc_weight[i]),
                                  float(pc_weight[i]) / pc_total if pc_total > 0 else 0.0)
                  for i in range(12))
    regs = []
    for reg in REGISTERS:
        sel = (hz >= reg.lo_hz) & (hz < reg.hi_hz)
        k = int(sel.sum())
        s = float(r[sel].sum())
        mean = s / k if k else 0.0
        regs.append(RegisterShare(reg.name, reg.lo_hz, reg.hi_hz, reg.description, k, s,
                                  s * scale, mean, mean * rel, float(r[sel].max()) if k else 0.0))
    return NoteSummary(notes=tuple(notes), pitch_classes=pitch, registers=tuple(regs),
                       below_share=below * scale, above_share=above * scale, total=total,
                       n_bins=n_bins)


def summarise_notes(exp: "Explanation") -> NoteSummary:
    """The :class:`NoteSummary` of an explanation's frequency responsibility. Bins of equal R
    are told apart as the ranking tells them apart (a bin measured alone before the bins of a
    part the search left unrefined): a nudge of at most 1e-9, far below what is shown."""
    r = np.asarray(exp.responsibility, dtype=np.float64)
    nudge = np.empty_like(r)
    nudge[np.asarray(exp.ranking)] = np.linspace(1e-9, 0.0, r.size)
    return note_summary(r + nudge * (r > 0), exp.sample_rate, exp.n_samples)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 or x == 0 else f"{100 * x:.2f}%"


def _hz(x: float) -> str:
    if math.isinf(x):
        return "Nyquist"
    return f"{x / 1000:.3g} kHz" if x >= 1000 else f"{x:.4g} Hz"


def notes_markdown(summary: NoteSummary, top: int = 8) -> str:
    """Markdown for the page: the share outside the musical range, the ``top`` notes (by their
    most responsible bin), the register bands and the pitch classes, as short tables."""
    if summary.total <= 0:
        return "No frequency carries any responsibility in this explanation."
    out = [f"**Outside the musical range** (nearest note below A0 or above C8): "
           f"{_pct(summary.outside_share)} of the responsibility "
           f"({_pct(summary.below_share)} below A0, {_pct(summary.above_share)} above C8).", ""]
    notes = summary.top_notes(top)
    if notes:
        out += ["| note | Hz | highest responsibility | responsibility per bin | × average "
                "| share of total |", "|---|---:|---:|---:|---:|---:|"]
        out += [f"| {n.name} | {n.hz:.1f} | {n.peak:.3g} | {n.mean:.3g} | {n.relative:.2f} "
                f"| {_pct(n.share)} |" for n in notes]
        out.append("")
    out += ["| register | range | responsibility per bin | × average | share of total |",
            "|---|---|---:|---:|---:|"]
    for r in summary.registers:
        if math.isinf(r.hi_hz):
            rng = f"above {_hz(r.lo_hz)}"
        elif r.lo_hz <= 0:
            rng = f"below {_hz(r.hi_hz)}"
        else:
            rng = f"{_hz(r.lo_hz)} - {_hz(r.hi_hz)}"
        out.append(f"| {r.name} | {rng} | {r.mean:.3g} | {r.relative:.2f} | {_pct(r.share)} |")
    out += ["", "| " + " | ".join(p.name for p in summary.pitch_classes) + " |",
            "|" + "---:|" * 12,
            "| " + " | ".join(_pct(p.share) for p in summary.pitch_classes) + " |", "",
            "Responsibility per bin: how strongly each frequency there matters (× average: "
            "against the whole clip). Share of total: how much of the explanation lies there; "
            "it grows with a band's width. Pitch classes: each semitone of A0-C8 counts once."]
    return "\n".join(out)
