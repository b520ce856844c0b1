"""The classifier contract (SPEC section 6) and labels views.

Any object with ``name``, ``sample_rate``, ``labels`` and ``predict(waves) -> scores`` is a
classifier: the engine accepts it, whether it is built in or not. A classifier whose scores
are the mean of independent per-window scores may also declare ``patch_spans`` and
``predict_patches`` (the patch hook, ``models.patches``), so that the engine recomputes only
the windows whose samples a mutant changed. A classifier may be *differentiable*: a
``predict_torch(waves)`` method that returns the same scores as a torch tensor with gradients
with respect to the waves (:func:`differentiable`); the engine then searches the least audible
flips with the margin's gradient.
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from .patches import has_patches

__all__ = ["Classifier", "Differentiable", "LabelsView", "restrict_labels", "load_factory",
           "check_classifier", "differentiable"]


@runtime_checkable
class Classifier(Protocol):
    """An audio classifier the engine can explain.

    ``predict`` takes float32 waves ``[B, N]`` at ``sample_rate`` and returns scores
    ``[B, len(labels)]`` in ``[0, 1]``. Optional: the patch hook ``patch_spans(n_samples)``
    and ``predict_patches(waves, which)`` (``models.patches.PatchScored``).
    """

    name: str
    sample_rate: int
    labels: list[str]

    def predict(self, waves: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Differentiable(Protocol):
    """The optional differentiable forward (SPEC section 6).

    ``predict_torch`` takes float32 waves ``[B, N]`` as a torch tensor and returns the scores
    ``predict`` gives (within 1e-5) as a tensor ``[B, len(labels)]`` that carries gradients
    with respect to the waves.
    """

    def predict_torch(self, waves: "torch.Tensor") -> "torch.Tensor": ...


def differentiable(model: Any) -> bool:
    """Whether ``model`` has the differentiable forward ``predict_torch``."""
    return callable(getattr(model, "predict_torch", None))


class LabelsView:
    """A classifier restricted to a subset of its labels (the *active* labels).

    The classification is the top-1 over the view; scores keep the base model's values.
    The view has the patch hook and the differentiable forward exactly when the base model
    has them (the view's columns of the base's scores).
    """

    def __init__(self, model: Classifier, labels: Sequence[str], view: str):
        index = {label: i for i, label in enumerate(model.labels)}
        missing = [label for label in labels if label not in index]
        if missing:
            raise ValueError(f"labels not in model {model.name!r}: {', '.join(missing)}")
        if not labels:
            raise ValueError("a labels view needs at least one label")
        self.base = model
        self.labels_view = view
        self.labels = list(labels)
        self._columns = np.array([index[label] for label in labels], dtype=np.int64)
        if has_patches(model):
            self.patch_spans = model.patch_spans
            self.predict_patches = self._predict_patches
        if differentiable(model):
            self.predict_torch = self._predict_torch

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def sample_rate(self) -> int:
        return self.base.sample_rate

    def predict(self, waves: np.ndarray) -> np.ndarray:
        return np.asarray(self.base.predict(waves))[:, self._columns]

    def _predict_patches(self, waves: np.ndarray, which: np.ndarray) -> np.ndarray:
        return np.asarray(self.base.predict_patches(waves, which))[:, self._columns]

    def _predict_torch(self, waves):
        import torch
        return self.base.predict_torch(waves)[:, torch.as_tensor(self._columns, device=waves.device)]

    def __getattr__(self, attr: str) -> Any:  # description, device, ... of the base model
        if attr in ("base", "patch_spans", "predict_patches", "predict_torch"):  # as in __init__
            raise AttributeError(attr)
        return getattr(self.base, attr)


def restrict_labels(model: Classifier, labels: Sequence[str], view: str = "custom") -> LabelsView:
    """Restrict ``model`` to ``labels``; the top-1 is then taken over these only."""
    return LabelsView(model, labels, view)


def load_factory(spec: str, **kwargs: Any) -> Classifier:
    """Build a classifier from ``"package.module:factory"`` (a callable returning one)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:factory', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    model = factory(**kwargs) if callable(factory) else factory
    check_classifier(model)
    return model


def check_classifier(model: Any) -> None:
    """Raise ``TypeError`` naming what is missing when ``model`` is not a classifier."""
    missing = [a for a in ("name", "sample_rate", "labels", "predict") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"not a classifier (SPEC section 6): missing {', '.join(missing)}")
    if not callable(model.predict):
        raise TypeError("not a classifier: predict is not callable")
    if int(model.sample_rate) <= 0 or len(model.labels) < 2:
        raise TypeError("not a classifier: needs a positive sample_rate and at least 2 labels")
