"""What the page offers, decided once per app: the limits, the budget presets, the models and
their defaults, the examples. No Gradio."""
from __future__ import annotations

from dataclasses import dataclass

from .examples import Example, list_examples
from .errors import JobError
from .model_cache import model_views
from .limits import DEFAULT_PRESET, Limits

__all__ = ["AppSettings", "register_hub_models"]


def register_hub_models(value: str | None = None) -> list:
    """Register the Hub models allow-listed in ``$FREQREX_HF_MODELS`` (or ``value``) before the
    model dropdown is built (:func:`freqrex_app.models.hf.register_hub_models`: one status per
    entry, never raising). With no entries nothing happens and nothing is downloaded."""
    from ..models.hf import allowed_hub_models
    from ..models.hf import register_hub_models as register

    return register(value) if allowed_hub_models(value) else []


@dataclass(frozen=True)
class AppSettings:
    limits: Limits
    presets: dict[str, int]
    model_ids: list[str]
    default_model: str
    default_views: list[str]
    default_view: str
    examples: list[Example]
    #: one line per allow-listed Hub model that could not be loaded at start-up
    hub_problems: tuple[str, ...] = ()

    @classmethod
    def from_limits(cls, limits: Limits) -> "AppSettings":
        from .. import models

        hub_problems = tuple(s.message for s in register_hub_models() if not s.loaded)
        model_ids = models.list_models()
        default_model = models.DEFAULT_MODEL if models.DEFAULT_MODEL in model_ids else model_ids[0]
        views = model_views(default_model)
        return cls(limits=limits, presets=limits.presets(), model_ids=model_ids,
                   default_model=default_model, default_views=views,
                   default_view="genres" if "genres" in views else views[0],
                   examples=list_examples(), hub_problems=hub_problems)

    @property
    def default_preset(self) -> str:
        return DEFAULT_PRESET if DEFAULT_PRESET in self.presets else next(iter(self.presets))

    def preset_calls(self, preset: str) -> int:
        """Model calls of a budget preset (a :class:`JobError` for an unknown one)."""
        if preset not in self.presets:
            raise JobError(f"unknown budget preset {preset!r}; choose {', '.join(self.presets)}")
        return self.presets[preset]
