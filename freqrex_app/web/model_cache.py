"""Which model a request names and the loaded models: built-in and Hugging Face ids checked
(never a local path or a Python factory in a public app), their labels views, and a few
loaded classifiers kept for the next job."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from .errors import JobError
from .format import one_line, short
from .lru import BoundedLRU

__all__ = ["resolve_model_id", "model_views", "load_model_cached", "hf_available"]


def hf_available() -> bool:
    """Whether the optional Hugging Face extra (transformers) is installed."""
    return importlib.util.find_spec("transformers") is not None


_MODELS: BoundedLRU[tuple[str, str], Any] = BoundedLRU(4)  # (model id, labels view)


def resolve_model_id(model: str | None, hf_id: str | None = None) -> str:
    """The model id to load: the Hugging Face field wins when filled. Only built-in ids and
    Hugging Face ids are accepted (never local paths or Python factories in a public app)."""
    from .. import models

    hf_id = (hf_id or "").strip()
    if hf_id:
        source = hf_id[3:] if hf_id.startswith("hf:") else hf_id
        if not hf_available():
            raise JobError("Hugging Face models need the optional extra: pip install 'freqrex-app[hf]'")
        from ..models.hf import is_hub_id  # the hf extra is installed: checked above

        if not is_hub_id(source):
            raise JobError(f"not a Hugging Face model id: {short(repr(hf_id), 60)} "
                           "(expected 'org/name')")
        if Path(source).exists():  # the loader would read it as a folder on this server
            raise JobError(f"not a Hugging Face model id: {short(repr(hf_id), 60)} (this server "
                           "loads model ids from its Hugging Face cache, never its own files)")
        return f"hf:{source}"
    model = (model or "").strip()
    if not model:
        raise JobError("choose a model")
    if model.startswith("hf:"):
        return resolve_model_id(None, model)
    if model not in models.list_models():
        raise JobError(f"unknown model {short(repr(model), 60)}; available: "
                       f"{', '.join(models.list_models())}")
    return model


def model_views(model_id: str) -> list[str]:
    """Labels views of a model (built-in: without loading weights)."""
    from .. import models

    if model_id in models.list_models():
        return list(models.model_info(model_id)["views"])
    return ["all"]


def load_model_cached(model_id: str, labels_view: str):
    """A loaded classifier, kept for the next job (a few at most)."""
    from .. import models

    def load():
        try:
            return models.load_model(model_id, labels_view=labels_view)
        except (ValueError, ImportError, OSError) as exc:
            raise JobError(one_line(exc)) from exc

    return _MODELS.get_or_make((model_id, labels_view), load)
