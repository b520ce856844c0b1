"""Differentiable forwards of classifiers, for the white-box reference of the evaluation only.

A *torch forward* maps float32 waves ``[B, N]`` (a torch tensor at the model's rate) to the
scores ``predict`` returns ``[B, len(labels)]``, differentiably. It exists for:

- the built-in musicnn taggers (:class:`~freqrex_app.models.taggers.MusicnnTagger`): their
  public ``frontend`` (log-mel) and ``net`` torch modules, with ``predict``'s padding, 3 s
  patches and the mean of the sigmoid scores over patches (float32, whatever ``dtype``; the
  networks' in-place inference ops are made safe for autograd by copying saved tensors);
- a labels view over one of these (the view's columns of the base model's scores);
- any classifier that is itself a ``torch.nn.Module`` whose ``forward`` maps waves to the
  scores ``predict`` returns.

Other classifiers (Hugging Face checkpoints, plain ``predict`` objects) have none: the
white-box reference is skipped for them, with the reason :func:`torch_forward` gives.
The engine never uses these; it stays black-box.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..models.base import LabelsView
from ..models.melspec import MIN_SAMPLES, PATCH_FRAMES, LogMel, to_patches
from ..models.taggers import MusicnnTagger

__all__ = ["TorchForward", "torch_forward", "model_device"]

TorchForward = Callable[[torch.Tensor], torch.Tensor]


def _copy(t: torch.Tensor) -> torch.Tensor:
    return t.clone()


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def _musicnn(tagger: MusicnnTagger) -> TorchForward:
    # the whole clip's centred log-mel (the tagger's own front-end works patch by patch,
    # on each patch's segment: the same values, frame for frame)
    frontend, net = LogMel(center=True).to(tagger.device), tagger.net

    def forward(waves: torch.Tensor) -> torch.Tensor:
        if waves.shape[1] < MIN_SAMPLES:
            waves = F.pad(waves, (0, MIN_SAMPLES - waves.shape[1]))
        patches = to_patches(frontend(waves), PATCH_FRAMES)  # [B, P, 187, 96]
        b, p = patches.shape[:2]
        # the networks compute in place for speed (relu_, mul_): a copy of each tensor saved for
        # the backward pass keeps the gradient right
        with torch.autograd.graph.saved_tensors_hooks(_copy, _same):
            scores = torch.sigmoid(net(patches.reshape(b * p, PATCH_FRAMES, patches.shape[-1])))
        return scores.reshape(b, p, -1).mean(dim=1)

    return forward


def torch_forward(model) -> tuple[TorchForward | None, str | None]:
    """``(forward, None)`` for a model the white-box reference can differentiate, else
    ``(None, reason)``."""
    if isinstance(model, LabelsView):
        base, reason = torch_forward(model.base)
        if base is None:
            return None, reason
        where = {label: i for i, label in enumerate(model.base.labels)}
        columns = torch.tensor([where[label] for label in model.labels], dtype=torch.long)
        return (lambda waves: base(waves)[:, columns.to(waves.device)]), None
    if isinstance(model, MusicnnTagger):
        return _musicnn(model), None
    if isinstance(model, torch.nn.Module):
        return model, None
    return None, (f"model {getattr(model, 'name', type(model).__name__)!r} is not a torch module "
                  "the white-box reference can differentiate (built-in taggers and torch.nn.Module "
                  "classifiers only)")


def model_device(model) -> torch.device:
    """Where the model's tensors live (CPU unless it says otherwise)."""
    while isinstance(model, LabelsView):
        model = model.base
    if isinstance(model, torch.nn.Module):
        p = next(model.parameters(), None)
        if p is not None:
            return p.device
        b = next(model.buffers(), None)
        return b.device if b is not None else torch.device("cpu")
    return torch.device(getattr(model, "device", "cpu"))
