"""The model registry (SPEC section 6).

>>> from freqrex_app import models
>>> models.list_models()
['msd-musicnn', 'mtt-musicnn', 'msd-vgg', 'mtt-vgg']
>>> tagger = models.load_model("msd-musicnn", labels_view="genres")

``load_model`` also takes ``"hf:<id or folder>"`` (Hugging Face audio classifier, optional extra
``[hf]``, never downloads) and ``"package.module:factory"`` (any callable returning a
classifier). Views: every model has ``all``; the built-in taggers also have ``genres``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import FreqReXError
from .base import (Classifier, Differentiable, LabelsView, check_classifier, differentiable,
                   load_factory, restrict_labels)
from .patches import PatchCache, PatchScored, has_patches, without_patches

__all__ = [
    "Classifier",
    "Differentiable",
    "differentiable",
    "LabelsView",
    "restrict_labels",
    "load_factory",
    "check_classifier",
    "PatchScored",
    "PatchCache",
    "has_patches",
    "without_patches",
    "DEFAULT_MODEL",
    "list_models",
    "load_model",
    "resolve_model",
    "UnknownModel",
    "model_info",
    "register_model",
]

DEFAULT_MODEL = "msd-musicnn"

# id -> (factory(device=..., **kwargs) -> Classifier, description)
_REGISTRY: dict[str, tuple[Callable[..., Any], str]] = {}


def register_model(model_id: str, factory: Callable[..., Any], description: str = "") -> None:
    """Register ``factory`` under ``model_id``; it is called as ``factory(device=...)``.

    A registered model may expose ``views: dict[str, list[str]]`` for extra labels views.
    """
    if not model_id or ":" in model_id:
        raise ValueError(f"invalid model id {model_id!r} (must be non-empty, without ':')")
    if not callable(factory):
        raise TypeError("factory must be callable")
    _REGISTRY[model_id] = (factory, description)


def _register_builtins() -> None:
    from .taggers import BUILTIN, load_musicnn

    for model_id, description in BUILTIN.items():
        def factory(device: str | None = None, _id: str = model_id, **kwargs: Any) -> Classifier:
            return load_musicnn(_id, device=device, **kwargs)

        register_model(model_id, factory, description)


_register_builtins()


def list_models() -> list[str]:
    """Ids of the built-in and registered models (the default first)."""
    return list(_REGISTRY)


class UnknownModel(FreqReXError, ValueError):
    """A model id or labels view that is not known."""


def _unknown(model_id: str) -> UnknownModel:
    return UnknownModel(
        f"unknown model {model_id!r}; valid: {', '.join(_REGISTRY)}, "
        "'hf:<id or folder>' or 'package.module:factory'"
    )


def _build(model_id: str, device: str | None, **kwargs: Any) -> Classifier:
    if model_id.startswith("hf:"):
        source = model_id[3:]
        if not source:
            raise ValueError("expected 'hf:<model id or local folder>'")
        from .hf import load_hf

        try:
            return load_hf(source, device=device, **kwargs)
        except ImportError as exc:  # transformers missing: the optional extra
            raise ValueError(str(exc)) from exc
    if model_id in _REGISTRY:
        factory = _REGISTRY[model_id][0]
        model = factory(device=device, **kwargs)
        check_classifier(model)
        return model
    if ":" in model_id:
        return load_factory(model_id, **({"device": device} if device else {}), **kwargs)
    raise _unknown(model_id)


def _views(model: Any) -> dict[str, list[str]]:
    views = dict(getattr(model, "views", None) or {})
    views["all"] = list(model.labels)
    return {"all": views.pop("all"), **views}


def load_model(model_id: str = DEFAULT_MODEL, labels_view: str | None = "all",
               device: str | None = None, **kwargs: Any) -> Classifier:
    """Load a classifier by id, restricted to ``labels_view``.

    ``device``: ``None`` picks CUDA when present, else CPU. ``labels_view`` ``"all"`` or ``None``
    returns the model itself (``model.labels_view == "all"``); another view returns a
    ``LabelsView``. Extra keyword arguments go to the factory (e.g. ``dtype="bfloat16"`` for the
    built-in taggers). Raises ``ValueError`` for an unknown id or view.
    """
    if not isinstance(model_id, str) or not model_id:
        raise ValueError(f"model id must be a non-empty string, got {model_id!r}")
    if model_id not in _REGISTRY and not model_id.startswith("hf:") and ":" not in model_id:
        raise _unknown(model_id)
    if labels_view is not None and model_id in _REGISTRY and model_id in _builtin_ids():
        _check_view(model_id, labels_view, _builtin_views(model_id))  # fail before loading weights
    model = _build(model_id, device, **kwargs)
    if labels_view is None or labels_view == "all":
        try:
            model.labels_view = "all"
        except AttributeError:
            pass
        return model
    views = _views(model)
    _check_view(model_id, labels_view, views)
    return restrict_labels(model, views[labels_view], labels_view)


def resolve_model(model_id: str | None, labels_view: str | None = None) -> Classifier:
    """A classifier as the command line and the evaluation name it: a built-in id (the default
    when None), ``hf:...``, or ``package.module:factory``, where a module in the working
    directory is found as ``python -m`` finds it (``mymodels:factory`` for ``./mymodels.py``)."""
    if model_id and ":" in model_id and not model_id.startswith("hf:"):
        here = str(Path.cwd())
        if here not in sys.path:
            sys.path.insert(0, here)
    return load_model(model_id or DEFAULT_MODEL, labels_view=labels_view)


def _check_view(model_id: str, view: str, views: dict[str, list[str]]) -> None:
    if view not in views:
        raise UnknownModel(f"unknown labels view {view!r} for model {model_id!r}; valid: {', '.join(views)}")


def _builtin_ids() -> set[str]:
    from .taggers import BUILTIN

    return set(BUILTIN)


def _builtin_views(model_id: str) -> dict[str, list[str]]:
    from .taggers import GENRES, weights_info

    return {"all": list(weights_info(model_id)["labels"]), "genres": list(GENRES[model_id.split("-")[0]])}


def model_info(model_id: str) -> dict[str, Any]:
    """Description, labels, views ``{name: [labels]}``, sample rate and ROC-AUC (when known).

    Built-in models are described without loading their weights; others are loaded.
    """
    if model_id in _builtin_ids() and model_id in _REGISTRY:
        from .taggers import weights_info

        info = weights_info(model_id)
        return {
            "id": model_id,
            "description": _REGISTRY[model_id][1],
            "labels": list(info["labels"]),
            "views": _builtin_views(model_id),
            "sample_rate": int(info["sample_rate"]),
            "roc_auc": info.get("roc_auc"),
            "pr_auc": info.get("pr_auc"),
            "arch": info.get("arch"),
            "dataset": info.get("dataset"),
        }
    if model_id not in _REGISTRY and not model_id.startswith("hf:") and ":" not in model_id:
        raise _unknown(model_id)
    model = _build(model_id, None)
    description = _REGISTRY[model_id][1] if model_id in _REGISTRY else ""
    return {
        "id": model_id,
        "description": description or getattr(model, "description", "") or "",
        "labels": list(model.labels),
        "views": _views(model),
        "sample_rate": int(model.sample_rate),
        "roc_auc": getattr(model, "roc_auc", None),
    }
