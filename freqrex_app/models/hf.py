"""Hugging Face audio-classification checkpoints as classifiers (optional extra ``[hf]``).

``load_hf("path/to/folder")`` or ``load_hf("org/model-id")``: a local folder loads from disk;
an id loads only from the local Hugging Face cache (``local_files_only``), never from the
network. Scores are ``sigmoid(logits)`` when the config's ``problem_type`` is
``multi_label_classification`` and ``softmax(logits)`` otherwise.

The one exception, for a hosted Space: :func:`register_hub_models` reads the allow-list
``FREQREX_HF_MODELS`` (Hub ids, e.g. ``"org/genre-model,org/emotion-model"``). For those ids
only, and only when that variable names them, the configs and ``*.safetensors`` weights (never
pickles, never code) are downloaded into the cache at start-up; each is then loaded by the same
cache-only, safetensors-only, no-remote-code path and registered, so it appears in
``list_models()`` and the app's dropdown under its id. One that cannot load gets a one-line
reason (:class:`HubModelStatus`).
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import first_line

__all__ = ["HFClassifier", "load_hf", "HUB_MODELS_ENV", "HUB_FILES", "HubModelStatus",
           "allowed_hub_models", "download_hub_model", "register_hub_models"]

#: The allow-list: Hub ids (comma or space separated) a Space downloads and registers.
HUB_MODELS_ENV = "FREQREX_HF_MODELS"
#: What is downloaded for an allow-listed id: configs and safetensors weights, nothing else.
HUB_FILES = ("*.json", "*.safetensors", "*.txt")
log = logging.getLogger("freqrex.models")
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


class HFClassifier:
    """Feature extractor + ``AutoModelForAudioClassification``, batched, in inference mode."""

    def __init__(self, source: str, device: str | None = None, batch_size: int = 16,
                 cache_dir: str | Path | None = None):
        try:
            from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Hugging Face models need the optional extra: pip install 'freqrex-app[hf]' "
                f"(transformers is missing: {exc})"
            ) from exc
        from transformers.utils import logging as hf_logging

        local = Path(source).expanduser().is_dir()
        if local:
            source = str(Path(source).expanduser())
        kwargs: dict[str, Any] = {} if local else {"local_files_only": True}
        if cache_dir is not None and not local:
            kwargs["cache_dir"] = str(cache_dir)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.extractor = AutoFeatureExtractor.from_pretrained(
                source, trust_remote_code=False, **kwargs)
            # safetensors only: never unpickle weights, never run a checkpoint's own code
            model = AutoModelForAudioClassification.from_pretrained(
                source, use_safetensors=True, trust_remote_code=False, **kwargs)
        except (OSError, ValueError) as exc:
            where = "folder" if local else "id (looked up in the local Hugging Face cache only)"
            first = first_line(exc)
            raise ValueError(
                f"cannot load a Hugging Face audio classifier from {where} {source!r}: {first} "
                "Nothing is downloaded: pass a local folder, or put the model in the cache first."
            ) from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        from .taggers import resolve_device

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.model.requires_grad_(False)
        config = model.config
        self.name = f"hf:{source}"
        self.source = source
        self.sample_rate = int(getattr(self.extractor, "sampling_rate", 16000))
        self.labels = [str(config.id2label[i]) for i in range(config.num_labels)]
        self.labels_view = "all"
        self.multi_label = config.problem_type == "multi_label_classification"
        self.batch_size = int(batch_size)
        self.description = (
            f"Hugging Face {config.model_type} audio classifier ({source}), {len(self.labels)} labels, "
            f"{'sigmoid' if self.multi_label else 'softmax'} scores"
        )
        self.views = {"all": list(self.labels)}
        if _raw_waveform(self.extractor):
            self.predict_torch = self._predict_torch

    def __repr__(self) -> str:
        return f"HFClassifier({self.source!r}, device={str(self.device)!r})"

    def predict(self, waves: np.ndarray) -> np.ndarray:
        """Scores ``[B, n_labels]`` (float32) for float32 waves ``[B, N]`` at ``sample_rate``."""
        x = np.asarray(waves, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), self.batch_size):
                feats = self.extractor(
                    list(x[i : i + self.batch_size]), sampling_rate=self.sample_rate,
                    return_tensors="pt", padding=True,
                )
                feats = {k: v.to(self.device) for k, v in feats.items()}
                logits = self.model(**feats).logits.float()
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                out.append(probs.cpu().numpy())
        return np.concatenate(out).astype(np.float32)


    def _predict_torch(self, waves: torch.Tensor) -> torch.Tensor:
        """``predict`` as a differentiable function of ``waves [B, N]``: the raw-waveform
        extractor's normalisation (zero mean, unit variance per wave) done in torch."""
        x = waves.to(self.device, torch.float32)
        if getattr(self.extractor, "do_normalize", False):
            mean = x.mean(dim=1, keepdim=True)
            var = x.var(dim=1, unbiased=False, keepdim=True)
            x = (x - mean) / torch.sqrt(var + 1e-7)
        logits = self.model(input_values=x).logits.float()
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)


def _raw_waveform(extractor) -> bool:
    """Whether the extractor feeds the raw wave (Wav2Vec2-style: ``input_values`` of one
    feature, at most normalised), so that the model is differentiable in the wave. Spectrogram
    extractors (AST, Whisper, ...) compute their features in numpy: such models are searched
    black-box."""
    from transformers import Wav2Vec2FeatureExtractor
    return (type(extractor) is Wav2Vec2FeatureExtractor
            and getattr(extractor, "feature_size", 1) == 1)


def load_hf(source: str, device: str | None = None) -> HFClassifier:
    """A Hugging Face audio classifier from a local folder or a cached hub id (no download)."""
    return HFClassifier(source, device=device)


# -- the Space's allow-list --------------------------------------------------------------------
@dataclass(frozen=True)
class HubModelStatus:
    """What became of one allow-listed id: registered (``loaded``) or not, and why, in a line."""

    model_id: str
    loaded: bool
    message: str


def allowed_hub_models(value: str | None = None) -> list[str]:
    """The entries of ``value`` (default: ``$FREQREX_HF_MODELS``), comma or whitespace
    separated, in order, without repeats. Entries are not checked here."""
    raw = os.environ.get(HUB_MODELS_ENV, "") if value is None else value
    out: list[str] = []
    for entry in re.split(r"[,\s]+", raw.strip()):
        if entry and entry not in out:
            out.append(entry)
    return out


def download_hub_model(model_id: str, cache_dir: str | Path | None = None) -> str:
    """Download the configs and safetensors weights of ``model_id`` (``org/name``) into the
    Hugging Face cache; returns the snapshot folder. Only :func:`register_hub_models` calls this,
    for ids on the allow-list."""
    if not _HUB_ID.fullmatch(model_id) or ".." in model_id:
        raise ValueError(f"not a Hugging Face model id: {model_id!r} (expected 'org/name')")
    from huggingface_hub import snapshot_download

    return snapshot_download(model_id, allow_patterns=list(HUB_FILES),
                             cache_dir=None if cache_dir is None else str(cache_dir))


def register_hub_models(value: str | None = None, *, device: str | None = None,
                        cache_dir: str | Path | None = None,
                        fetch: Callable[[str], Any] | None = None) -> list[HubModelStatus]:
    """Load and register every id on the allow-list ``value`` (default:
    ``$FREQREX_HF_MODELS``; unset or empty: nothing happens, nothing is downloaded).

    Each id is first loaded from the local cache; if it is not there, ``fetch(id)`` (default:
    :func:`download_hub_model`) puts it there, and it is loaded again by the cache-only,
    safetensors-only path. A loaded id is registered under itself (``org/name``) with the
    :func:`~freqrex_app.models.register_model` registry; its factory hands out the instance
    loaded here (for ``device=None`` or the same device) or loads a new one from the cache.
    Returns one :class:`HubModelStatus` per entry, each also logged (``freqrex.models``: info
    when registered, warning when not); the app shows the messages of those that did not load.
    Never raises for a bad entry.
    """
    from . import register_model

    fetch = fetch or (lambda model_id: download_hub_model(model_id, cache_dir=cache_dir))
    out: list[HubModelStatus] = []
    for model_id in allowed_hub_models(value):
        if not _HUB_ID.fullmatch(model_id) or ".." in model_id:
            out.append(HubModelStatus(model_id, False, f"{HUB_MODELS_ENV}: {model_id!r} is not a "
                                      "Hugging Face model id ('org/name'); skipped"))
            continue
        try:
            model = _load_cached_or_fetch(model_id, device, cache_dir, fetch)
        except Exception as exc:  # one bad model must not stop the Space (ImportError included)
            out.append(HubModelStatus(model_id, False, f"cannot load {model_id}: {first_line(exc)}"))
            continue

        def factory(device: str | None = None, _model: HFClassifier = model, _id: str = model_id,
                    **kwargs: Any) -> HFClassifier:
            if (device is None or torch.device(device) == _model.device) and not kwargs:
                return _model
            return HFClassifier(_id, device=device, cache_dir=cache_dir, **kwargs)

        description = f"Hugging Face (allow-listed): {model.description}"
        register_model(model_id, factory, description)
        out.append(HubModelStatus(model_id, True, f"registered {model_id}: {len(model.labels)} "
                                  f"labels at {model.sample_rate} Hz"))
    for status in out:
        (log.info if status.loaded else log.warning)("%s", status.message)
    return out


def _load_cached_or_fetch(model_id: str, device: str | None, cache_dir: str | Path | None,
                          fetch: Callable[[str], Any]) -> HFClassifier:
    try:
        return HFClassifier(model_id, device=device, cache_dir=cache_dir)
    except ValueError:
        pass  # not in the cache (or not loadable from it): fetch it, then load from the cache
    try:
        fetch(model_id)
    except Exception as exc:
        raise ValueError(f"not in the local cache and the download failed "
                         f"({type(exc).__name__}: {_first_line(exc)})") from exc
    try:
        return HFClassifier(model_id, device=device, cache_dir=cache_dir)
    except ValueError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise ValueError(f"downloaded, but it does not load as a safetensors audio classifier "
                         f"({_first_line(cause)})") from exc
