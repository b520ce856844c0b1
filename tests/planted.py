"""Classifiers whose causal frequencies are planted: ground truth for the engine's tests.

Each looks at the magnitude of chosen rfft bins (or a band) of the clip it hears and says
"yes" when its planted rule holds. The scores are soft so confidences vary with the input.
"""
from __future__ import annotations

import numpy as np

SR = 16000


def tone_clip(seconds: float = 1.0, tones=((440, 0.2), (1000, 0.3)), noise: float = 0.01,
              seed: int = 0) -> np.ndarray:
    """Noise plus sines at exact bin frequencies (integer cycles per clip)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    rng = np.random.default_rng(seed)
    x = noise * rng.standard_normal(n)
    for hz, amp in tones:
        x += amp * np.sin(2 * np.pi * hz * t)
    return x.astype(np.float32)


#: The generated beds under planted causes, and their seeds (the responsibility and STFT tests).
BEDS = ("noise", "harmonic", "chord")
SEEDS = (0, 1, 2)


def bed(kind: str, seed: int) -> np.ndarray:
    """A generated 1 s bed: 'noise' (pink-ish), 'harmonic' (a note with 8 partials, random
    f0) or 'chord' (three notes of 4 partials), plus white noise; f0s and phases from seed."""
    rng = np.random.default_rng([seed, len(kind)])
    n = SR
    t = np.arange(n) / SR
    x = 0.01 * rng.standard_normal(n)
    if kind == "noise":
        spec = np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.arange(1, n // 2 + 2))
        x += 0.1 * np.fft.irfft(spec, n=n) / np.std(np.fft.irfft(spec, n=n))
    else:
        f0s = [rng.uniform(90, 200)] if kind == "harmonic" else \
            [f * r for f in [rng.uniform(110, 180)] for r in (1.0, 1.26, 1.5)]
        for f0 in f0s:
            for h in range(1, 9 if kind == "harmonic" else 5):
                x += 0.08 / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    return x


def hz_to_bin(hz: float, n: int) -> int:
    return int(round(hz * n / SR))


class Planted:
    """'yes' when the rule over per-frequency amplitudes holds; ``rule`` is 'one', 'any', 'all',
    'sum' (their total above the threshold), 'pair+sum' (the geometric mean of the first two,
    a cue that either one removes, plus the rest), 'ab|c' (the first two both present, or the
    third) or 'band' (total amplitude in [lo, hi) Hz)."""

    sample_rate = SR
    labels = ["no", "yes"]

    def __init__(self, rule: str, freqs=(440.0,), threshold: float = 0.05, band=(0.0, 20.0)):
        self.name = f"planted-{rule}"
        self.rule, self.freqs, self.threshold, self.band = rule, freqs, threshold, band
        self.calls = 0
        self.waves = 0
        self.batch_sizes: list[int] = []

    def amplitudes(self, waves: np.ndarray) -> np.ndarray:
        n = waves.shape[1]
        spec = np.abs(np.fft.rfft(waves.astype(np.float64), axis=1)) / (n / 2)
        if self.rule == "band":
            lo, hi = (hz_to_bin(f, n) for f in self.band)
            return spec[:, lo:hi].sum(axis=1, keepdims=True)
        amps = spec[:, [hz_to_bin(f, n) for f in self.freqs]]
        if self.rule == "pair+sum":
            amps = np.concatenate([np.sqrt(amps[:, :1] * amps[:, 1:2]), amps[:, 2:]], axis=1)
        return amps.sum(axis=1, keepdims=True) if self.rule.endswith("sum") else amps

    def predict(self, waves: np.ndarray) -> np.ndarray:
        waves = np.asarray(waves)
        assert waves.ndim == 2 and waves.dtype == np.float32
        self.calls += 1
        self.waves += waves.shape[0]
        self.batch_sizes.append(waves.shape[0])
        present = self.amplitudes(waves) > self.threshold
        if self.rule == "any":
            yes = present.any(axis=1)
        elif self.rule == "ab|c":
            yes = present[:, :2].all(axis=1) | present[:, 2]
        else:
            yes = present.all(axis=1)
        margin = np.abs(self.amplitudes(waves) - self.threshold).min(axis=1)
        p = np.where(yes, 0.6 + 0.39 * np.tanh(margin * 20), 0.4 - 0.39 * np.tanh(margin * 20))
        return np.stack([1 - p, p], axis=1).astype(np.float32)


def tone() -> Planted:
    """Factory for the command line: ``--model planted:tone``."""
    return Planted("one", (440.0,))


class Burst:
    """'yes' while a tone at ``hz`` is heard for a while: the energy of the band ``hz`` +-
    ``width`` (512-sample frames, hop 128), smoothed over 0.1 s, peaks above a threshold. A
    time-frequency cue that no single frequency carries."""

    name, sample_rate, labels = "planted-burst", SR, ["no", "yes"]

    def __init__(self, threshold: float, hz: float = 3500.0, width: float = 125.0):
        self.threshold = threshold
        bin_hz = SR / 512
        self.band = slice(int(round((hz - width) / bin_hz)), int(round((hz + width) / bin_hz)) + 1)

    def band_level(self, waves: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(waves, 512, axis=1)[:, ::128]
        spec = np.abs(np.fft.rfft(frames * np.hanning(512), axis=-1))
        band = spec[..., self.band].sum(axis=-1)
        smooth = np.apply_along_axis(np.convolve, 1, band, np.ones(12) / 12, mode="valid")
        return smooth.max(axis=1)

    def predict(self, waves: np.ndarray) -> np.ndarray:
        level = self.band_level(np.asarray(waves, dtype=np.float64))
        p = 1.0 / (1.0 + np.exp(-(level - self.threshold) / (0.1 * self.threshold)))
        return np.stack([1 - p, p], axis=1).astype(np.float32)


#: ThreeLabels' tones (Hz) and its clips' length (samples: 0.5 s).
A, B, D = 600.0, 1400.0, 3000.0
N_XYZ = SR // 2


class ThreeLabels:
    """x = amp(A) + 0.05, y = amp(B), z = 0.4 - amp(D), clipped to [0, 1]; w is never heard.
    On ``three_labels_clip``: kept alone, A keeps x ahead of y while z tops the kept sound;
    removing A lets y win; nothing brings w on top. A foil here is a real choice among labels."""

    name, sample_rate, labels = "planted-xyz", SR, ["x", "y", "z", "w"]

    def predict(self, waves: np.ndarray) -> np.ndarray:
        waves = np.asarray(waves, dtype=np.float64)
        n = waves.shape[1]
        spec = np.abs(np.fft.rfft(waves, axis=1)) / (n / 2)
        a, b, d = (spec[:, hz_to_bin(f, n)] for f in (A, B, D))
        w = np.zeros_like(a)
        return np.clip(np.stack([a + 0.05, b, 0.4 - d, w], axis=1), 0, 1).astype(np.float32)


def three_labels_clip(seed: int) -> np.ndarray:
    """Tones A (x), B (y) and a loud D (which keeps z down) over faint noise, 0.5 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_XYZ) / SR
    x = 0.005 * rng.standard_normal(N_XYZ)
    for hz, amp in ((A, 0.3), (B, 0.2), (D, 0.5)):
        x += amp * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    return x.astype(np.float32)


def three() -> ThreeLabels:
    """Factory for the command line: ``--model planted:three``."""
    return ThreeLabels()
