"""Playground limits and budget presets, each overridable by an environment variable.

| variable                     | default | what                                              |
|------------------------------|---------|---------------------------------------------------|
| ``FREQREX_MAX_UPLOAD_MB``    | 50      | largest upload (MB)                               |
| ``FREQREX_MAX_SOURCE_S``     | 600     | longest source file (seconds)                     |
| ``FREQREX_MAX_EXCERPT_S``    | 30      | longest excerpt explained (seconds)               |
| ``FREQREX_DEFAULT_EXCERPT_S``| 10      | excerpt duration proposed after an upload         |
| ``FREQREX_MAX_BUDGET``       | 3000    | most model calls one job may spend                |
| ``FREQREX_CONCURRENCY``      | 1       | explanations running at once                      |
| ``FREQREX_QUEUE_SIZE``       | 16      | jobs waiting in the queue before new ones are refused |
| ``FREQREX_JOB_TTL_S``        | 7200    | age after which a job's files are deleted          |
| ``FREQREX_MAX_JOBS``         | 64      | job folders kept on disk                           |
| ``FREQREX_CACHE``            | ``<tmp>/freqrex-app`` | where job files are written          |
| ``FREQREX_TRUSTED_PROXIES``  | (none)  | proxies whose first X-Forwarded-For hop is the visitor |
| ``FREQREX_EVENTS_PER_VISITOR``| 6      | requests one visitor may have in the queue at once |
| ``FREQREX_STREAM_GRACE_S``   | 3       | seconds a job may go unheard before it is cancelled |
| ``FREQREX_UPLOAD_FILES``     | 4       | files in one upload request                        |
| ``FREQREX_UPLOAD_MB_PER_WINDOW``| 200  | MB one visitor may upload per window               |
| ``FREQREX_UPLOAD_WINDOW_S``  | 600     | the upload window (seconds)                        |
| ``FREQREX_MAX_DISK_MB``      | 2048    | uploads and job files on disk (uploads refused above) |
| ``FREQREX_MAX_CHANNELS``     | 8       | most channels of a previewed source                |
| ``FREQREX_PREVIEW_MSAMPLES`` | 64      | one preview's decode cost: rate x channels x seconds, M |
| ``FREQREX_PREVIEW_MSAMPLES_PER_MIN``| 256 | preview decode cost per visitor per minute, M  |

See docs/hosting.md for what each bounds (``*`` as trusted proxy: every peer, as on Spaces).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Limits", "PRESETS", "DEFAULT_PRESET", "get_limits"]

#: Budget presets: name -> model calls.
PRESETS: dict[str, int] = {"quick": 300, "standard": 1000, "thorough": 3000}
DEFAULT_PRESET = "standard"


def _env(name: str, default: float, cast=float):
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return cast(default)
    try:
        value = cast(float(raw))
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"environment variable {name}={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class Limits:
    max_upload_mb: float = 50.0
    max_source_s: float = 600.0
    max_excerpt_s: float = 30.0
    default_excerpt_s: float = 10.0
    max_budget: int = 3000
    concurrency: int = 1
    queue_size: int = 16
    job_ttl_s: float = 7200.0
    max_jobs: int = 64
    cache: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "freqrex-app")
    trusted_proxies: tuple[str, ...] = ()
    events_per_visitor: int = 6
    stream_grace_s: float = 3.0
    upload_files: int = 4
    upload_mb_per_window: float = 200.0
    upload_window_s: float = 600.0
    max_disk_mb: float = 2048.0
    max_channels: int = 8
    preview_msamples: float = 64.0
    preview_msamples_per_min: float = 256.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", Path(self.cache))
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))

    @classmethod
    def from_env(cls) -> "Limits":
        cache = os.environ.get("FREQREX_CACHE") or str(Path(tempfile.gettempdir()) / "freqrex-app")
        max_excerpt = _env("FREQREX_MAX_EXCERPT_S", 30.0)
        return cls(
            max_upload_mb=_env("FREQREX_MAX_UPLOAD_MB", 50.0),
            max_source_s=_env("FREQREX_MAX_SOURCE_S", 600.0),
            max_excerpt_s=max_excerpt,
            default_excerpt_s=min(_env("FREQREX_DEFAULT_EXCERPT_S", 10.0), max_excerpt),
            max_budget=_env("FREQREX_MAX_BUDGET", 3000, int),
            concurrency=_env("FREQREX_CONCURRENCY", 1, int),
            queue_size=_env("FREQREX_QUEUE_SIZE", 16, int),
            job_ttl_s=_env("FREQREX_JOB_TTL_S", 7200.0),
            max_jobs=_env("FREQREX_MAX_JOBS", 64, int),
            cache=Path(cache),
            trusted_proxies=tuple(p.strip() for p in
                                  os.environ.get("FREQREX_TRUSTED_PROXIES", "").split(",")
                                  if p.strip()),
            events_per_visitor=_env("FREQREX_EVENTS_PER_VISITOR", 6, int),
            stream_grace_s=_env("FREQREX_STREAM_GRACE_S", 3.0),
            upload_files=_env("FREQREX_UPLOAD_FILES", 4, int),
            upload_mb_per_window=_env("FREQREX_UPLOAD_MB_PER_WINDOW", 200.0),
            upload_window_s=_env("FREQREX_UPLOAD_WINDOW_S", 600.0),
            max_disk_mb=_env("FREQREX_MAX_DISK_MB", 2048.0),
            max_channels=_env("FREQREX_MAX_CHANNELS", 8, int),
            preview_msamples=_env("FREQREX_PREVIEW_MSAMPLES", 64.0),
            preview_msamples_per_min=_env("FREQREX_PREVIEW_MSAMPLES_PER_MIN", 256.0),
        )

    @property
    def max_file_size(self) -> str:
        """For ``Blocks.launch(max_file_size=...)``."""
        return f"{int(self.max_upload_mb * 1024 * 1024)}b"

    def presets(self) -> dict[str, int]:
        """The presets, each capped at the per-job budget."""
        return {name: min(calls, self.max_budget) for name, calls in PRESETS.items()}

    def table(self) -> list[tuple[str, str]]:
        return [
            ("largest upload", f"{self.max_upload_mb:g} MB"),
            ("longest source file", f"{self.max_source_s / 60:g} min"),
            ("longest excerpt", f"{self.max_excerpt_s:g} s"),
            ("model calls per job", f"{self.max_budget:,}"),
            ("explanations at once", str(self.concurrency)),
            ("queue length", str(self.queue_size)),
        ]


def get_limits() -> Limits:
    return Limits.from_env()
