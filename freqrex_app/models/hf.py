"""Hugging Face audio-classification checkpoints as classifiers (optional extra ``[hf]``).

``load_hf("path/to/folder")`` or ``load_hf("org/model-id")``: a local folder loads from disk;
an id loads only from the local Hugging Face cache (``local_files_only``), never from the
network. Scores are ``sigmoid(logits)`` when the config's ``problem_type`` is
``multi_label_classification`` and ``softmax(logits)`` otherwise.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["HFClassifier", "load_hf"]


class HFClassifier:
    """Feature extractor + ``AutoModelForAudioClassification``, batched, in inference mode."""

    def __init__(self, source: str, device: str | None = None, batch_size: int = 16):
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
        kwargs = {} if local else {"local_files_only": True}
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
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
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


def load_hf(source: str, device: str | None = None) -> HFClassifier:
    """A Hugging Face audio classifier from a local folder or a cached hub id (no download)."""
    return HFClassifier(source, device=device)
