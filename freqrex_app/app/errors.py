"""The app's two outcomes of a job besides a result: a refusal in one line for a person, and
the user's Cancel. No Gradio, no model."""
from __future__ import annotations

__all__ = ["JobError", "Cancelled"]


class JobError(Exception):
    """A problem with the input or the model, in one line meant for a person."""


class Cancelled(Exception):
    """The user pressed Cancel."""
