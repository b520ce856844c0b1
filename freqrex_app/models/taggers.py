"""The musicnn taggers as classifiers (SPEC section 6): waves in, averaged tag scores out."""
from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .melspec import MIN_SAMPLES, PATCH_FRAMES, SAMPLE_RATE, LogMel, n_patches, patch_span, segments, to_patches
from .musicnn import build_network

__all__ = ["MusicnnTagger", "pretrained_dir", "weights_info", "load_musicnn", "resolve_device", "GENRES", "BUILTIN"]

#: Built-in ids -> one-line descriptions.
BUILTIN: dict[str, str] = {
    "msd-musicnn": "musicnn (timbral/temporal CNN) trained on the Million Song Dataset, 50 tags",
    "mtt-musicnn": "musicnn (timbral/temporal CNN) trained on MagnaTagATune, 50 tags",
    "msd-vgg": "VGG-like CNN trained on the Million Song Dataset, 50 tags",
    "mtt-vgg": "VGG-like CNN trained on MagnaTagATune, 50 tags",
}

#: The genre tags of each tag set (the ``genres`` labels view).
GENRES: dict[str, list[str]] = {
    "msd": [
        "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock", "jazz",
        "metal", "chillout", "classic rock", "soul", "indie rock", "electronica", "folk", "punk",
        "blues", "hard rock", "ambient", "experimental", "Hip-Hop", "country", "easy listening",
        "funk", "electro", "heavy metal", "Progressive rock", "rnb", "indie pop", "House",
    ],
    "mtt": [
        "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop",
        "classic", "new age", "dance", "country", "metal",
    ],
}


def pretrained_dir() -> Path:
    """Where the weights live: ``$FREQREX_PRETRAINED`` or the repository's ``pretrained/``."""
    env = os.environ.get("FREQREX_PRETRAINED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "pretrained"


@lru_cache(maxsize=None)
def weights_info(model_id: str) -> dict[str, Any]:
    """The JSON written beside ``<id>.safetensors`` by ``tools/convert_musicnn.py``."""
    path = pretrained_dir() / f"{model_id}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"weights metadata for {model_id!r} not found at {path}; run tools/convert_musicnn.py "
            "or set FREQREX_PRETRAINED"
        )
    return json.loads(path.read_text())


def resolve_device(device: str | None) -> torch.device:
    """``None``: CUDA when present, else CPU. A CUDA device without CUDA is a ``ValueError``."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'cpu'")
    return dev


def _configure_threads() -> None:
    """``$FREQREX_THREADS`` sets torch's intra-op threads (default: torch's, one per core)."""
    threads = os.environ.get("FREQREX_THREADS")
    if threads and threads.isdigit() and int(threads) > 0 and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))


_NET_CACHE: dict[tuple[str, str], torch.nn.Module] = {}
_NET_LOCK = threading.Lock()


def _load_network(model_id: str, device: str) -> torch.nn.Module:
    """The network with its weights (safetensors, no pickle), shared between loads."""
    from safetensors.torch import load_file

    key = (model_id, device)
    with _NET_LOCK:
        if key not in _NET_CACHE:
            info = weights_info(model_id)
            net = build_network(info["arch"], len(info["labels"]))
            state = load_file(str(pretrained_dir() / f"{model_id}.safetensors"))
            result = net.load_state_dict(state, strict=False)
            bad = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
            if bad or result.unexpected_keys:
                raise RuntimeError(f"{model_id}: weights do not match the network: missing {bad}, "
                                   f"unexpected {result.unexpected_keys}")
            net.requires_grad_(False)
            _NET_CACHE[key] = net.eval().to(device)
        return _NET_CACHE[key]


class MusicnnTagger:
    """A musicnn tagger: ``predict(waves [B, N] float32 at 16 kHz) -> scores [B, 50]``.

    Each wave is turned into musicnn's log-mel (float32 log, see ``melspec``), cut into
    non-overlapping 3 s patches of 187 frames (the tail that does not fill a patch is dropped,
    as musicnn does), and the sigmoid tag scores are averaged over the patches. A wave shorter
    than one patch (``MIN_SAMPLES`` = 47,616 samples, ~2.98 s) is zero-padded to one patch.
    Each patch's log-mel comes from the 48,128 samples it depends on (``melspec.segments``),
    which is what lets the engine's patch cache (``models.patches``) recompute only the
    patches whose samples changed (``patch_spans`` / ``predict_patches``). Patches run
    through the network in chunks of ``max_patches`` (CPU: 1 for musicnn, 4 for VGG, the
    faster of the two for each on a quiet 2-core machine, ``benchmarks/models.py
    --max-patches 1 4``; CUDA: 256), which also bounds memory. ``dtype``
    ``"bfloat16"`` runs the network under autocast (the log-mel stays float32).
    """

    sample_rate: int = SAMPLE_RATE

    def __init__(self, model_id: str, device: str | None = None, dtype: str = "float32",
                 max_patches: int | None = None):
        info = weights_info(model_id)
        self.name = model_id
        self.labels: list[str] = list(info["labels"])
        self.labels_view = "all"
        self.description = BUILTIN.get(model_id, info.get("source", ""))
        self.roc_auc: float | None = info.get("roc_auc")
        self.arch: str = info["arch"]
        dataset = "msd" if model_id.startswith("msd") else "mtt"
        self.views: dict[str, list[str]] = {"all": list(self.labels), "genres": list(GENRES[dataset])}
        self.device = resolve_device(device)
        _configure_threads()
        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
        self.dtype = dtype
        cuda = self.device.type == "cuda"
        self.max_patches = int(max_patches or (256 if cuda else 1 if self.arch == "musicnn" else 4))
        self.net = _load_network(model_id, str(self.device))
        self.frontend = LogMel(center=False).to(self.device)
        self._clip_frontend = LogMel(center=True).to(self.device)
        if cuda:
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True

    def __repr__(self) -> str:
        return f"MusicnnTagger({self.name!r}, device={str(self.device)!r}, dtype={self.dtype!r})"

    def _network(self, patches: torch.Tensor) -> torch.Tensor:
        if self.dtype == "bfloat16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return torch.sigmoid(self.net(patches).float())
        return torch.sigmoid(self.net(patches))

    def patch_spans(self, n_samples: int) -> list[tuple[int, int]]:
        """The patch hook (``models.patches``): samples ``[lo, hi)`` each 3 s patch depends on.

        ``predict`` is the mean of the patch scores; a clip shorter than one patch has one patch
        over all of it (the rest is zero padding)."""
        return [patch_span(p, n_samples) for p in range(n_patches(n_samples))]

    def predict_patches(self, waves: np.ndarray, which: np.ndarray) -> np.ndarray:
        """Sigmoid scores ``[K, n_tags]`` of the patches ``which[k] = (row, p)`` of ``waves [B, N]``.

        Each patch's log-mel is computed from its own segment (``melspec.segments``) and the
        network runs over chunks of ``max_patches`` patches."""
        x = _as_waves(waves)
        which = np.asarray(which, dtype=np.int64).reshape(-1, 2)
        out = np.empty((len(which), len(self.labels)), dtype=np.float32)
        step = self.max_patches
        with torch.inference_mode():
            for lo in range(0, len(which), step):
                seg = torch.from_numpy(segments(x, which[lo : lo + step])).to(self.device)
                out[lo : lo + len(seg)] = self._network(self.frontend(seg)).float().cpu().numpy()
        return out

    def patch_scores(self, waves: np.ndarray) -> np.ndarray:
        """Sigmoid scores per patch ``[B, P, n_tags]`` (the musicnn taggram)."""
        x = _as_waves(waves)
        b, per_wave = x.shape[0], n_patches(x.shape[1])
        which = np.stack(np.meshgrid(np.arange(b), np.arange(per_wave), indexing="ij"), -1)
        return self.predict_patches(x, which.reshape(-1, 2)).reshape(b, per_wave, -1)

    def predict(self, waves: np.ndarray) -> np.ndarray:
        """Tag scores ``[B, 50]`` in [0, 1] (float32), averaged over the 3 s patches of each wave."""
        return self.patch_scores(waves).mean(axis=1, dtype=np.float32)

    def predict_torch(self, waves: torch.Tensor) -> torch.Tensor:
        """``predict`` as a differentiable torch function of ``waves [B, N]`` (float32 scores).

        The whole clip's centred log-mel gives each patch the same frames as its own segment
        does in ``predict``."""
        waves = waves.to(self.device, torch.float32)
        if waves.shape[1] < MIN_SAMPLES:
            waves = torch.nn.functional.pad(waves, (0, MIN_SAMPLES - waves.shape[1]))
        patches = to_patches(self._clip_frontend(waves), PATCH_FRAMES)  # [B, P, 187, 96]
        b, p = patches.shape[:2]
        flat = patches.reshape(b * p, PATCH_FRAMES, patches.shape[-1])
        scores = self._network(flat).float()
        return scores.reshape(b, p, -1).mean(dim=1)


def _as_waves(waves: np.ndarray) -> np.ndarray:
    x = np.asarray(waves, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"waves must be [B, N], got shape {x.shape}")
    return x


def load_musicnn(model_id: str, device: str | None = None, dtype: str = "float32") -> MusicnnTagger:
    """A built-in musicnn tagger by id (``msd-musicnn``, ``mtt-musicnn``, ``msd-vgg``, ``mtt-vgg``)."""
    return MusicnnTagger(model_id, device=device, dtype=dtype)
