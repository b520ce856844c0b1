"""The FreqReX Gradio app: ``build_app()`` returns the Blocks, ``launch()`` serves it.

``freqrex app`` (or ``python -m freqrex_app app``) calls :func:`launch` on 127.0.0.1:7860.
"""
from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch", "launch_options"]


def build_app(*args: Any, **kwargs: Any):
    from .ui import build_app as _build

    return _build(*args, **kwargs)


def launch(host: str = "127.0.0.1", port: int = 7860, **kwargs: Any):
    from .ui import launch as _launch

    return _launch(host=host, port=port, **kwargs)


def launch_options(*args: Any, **kwargs: Any) -> dict:
    from .ui import launch_options as _opts

    return _opts(*args, **kwargs)
