"""The one root of the errors FreqReX raises for a person to read, and the one way to put any
error on one line.

A :class:`FreqReXError` says what went wrong and what to do, in one line: a file that is not
audio (:class:`~freqrex_app.audio.AudioError`), a model that fails or is unknown, a budget
spent, a job the app refuses. The app, the command line and the API catch it and show its
message; any other exception is a bug, logged with its traceback and shown as one line too.
"""
from __future__ import annotations

__all__ = ["FreqReXError", "first_line"]


class FreqReXError(Exception):
    """An error whose message is meant for the person using FreqReX."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message; its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
