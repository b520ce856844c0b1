"""The app's two outcomes of a job besides a result: a refusal in one line for a person (a
:class:`~freqrex_app.errors.FreqReXError`, as every error meant for a person), and the user's
Cancel. No Gradio, no model."""
from __future__ import annotations

from ..errors import FreqReXError

__all__ = ["JobError", "Cancelled"]


class JobError(FreqReXError):
    """A problem with the input or the model, in one line meant for a person."""


class Cancelled(Exception):
    """The user pressed Cancel."""
