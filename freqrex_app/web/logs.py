"""The app's log: one line per job (start, end), per refused input or request, and a
traceback only for a real fault. Written to stderr, level from ``FREQREX_LOG_LEVEL`` (INFO)."""
from __future__ import annotations

import logging
import os
import sys

__all__ = ["setup_log"]

FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_log() -> logging.Logger:
    """The ``freqrex.app`` logger at its level, with a stderr handler of its own unless the
    program configured logging already (a root handler: then the records go there, once)."""
    log = logging.getLogger("freqrex.app")
    level = os.environ.get("FREQREX_LOG_LEVEL", "INFO").upper()
    log.setLevel(getattr(logging, level, logging.INFO))
    ours = any(getattr(h, "_freqrex", False) for h in log.handlers)
    if not ours and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._freqrex = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    return log
