"""The gate in front of every route: an ASGI middleware that bounds what one visitor can make
the server do before Gradio sees the request, and notes who is listening for results.

- uploads (``POST .../upload``): a declared length is required; at most
  ``limits.upload_files`` files per request, ``limits.upload_mb_per_window`` MB per visitor per
  ``limits.upload_window_s``, and none while uploads and job files pass ``limits.max_disk_mb``;
- JSON requests to Gradio's routes: at most 1 MB, and a file input must be a file this server
  received (a ``path`` that is a URL is refused: the server would download it);
- Gradio's raw-request errors (a malformed body: HTTP 422, with the body echoed) become one
  line, in the reply and in the log;
- streams (``queue/data``, ``call/<api>/<event>``, ``heartbeat/<session>``) are counted per
  session and event, so that the app can tell a job nobody listens for (:class:`Listeners`).

No model, no engine; Gradio only through the ASGI scope.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from .format import short
from .limits import Limits
from .visitors import Allowance, visitor_of

log = logging.getLogger("freqrex.app")

__all__ = ["Gate", "Listeners", "disk_used_mb", "folder_mb", "remote_inputs"]

_MAX_JSON = 1 << 20  # a JSON request body (inputs, not files: files are uploaded)
_STREAM_ROUTES = (  # GET routes whose open response means someone listens: (regex, key group)
    (re.compile(r"/queue/data$"), None),  # key: the session_hash query parameter
    (re.compile(r"/call/(?:v2/)?[^/]+/([^/]+)$"), 1),  # key: the event id
    (re.compile(r"/heartbeat/([^/]+)$"), 1),  # key: the session hash
)
_JSON_ROUTES = re.compile(r"/(queue/join|call/(?:v2/)?[^/]+|run/[^/]+|api/[^/]+)/?$")


class Listeners:
    """Open result streams per key (a session hash or an event id), and when each last closed.

    ``quiet_s(keys, since)`` is how long nobody has listened on any of ``keys``: 0 while a
    stream is open, else the seconds since the last one closed (or since ``since``, when none
    opened after it)."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        self._closed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def opened(self, key: str) -> None:
        with self._lock:
            self._open[key] = self._open.get(key, 0) + 1

    def closed(self, key: str) -> None:
        with self._lock:
            n = self._open.get(key, 0) - 1
            if n > 0:
                self._open[key] = n
            else:
                self._open.pop(key, None)
            self._closed_at[key] = time.monotonic()
            if len(self._closed_at) > 50_000:  # forget the oldest half
                for k in sorted(self._closed_at, key=self._closed_at.get)[:25_000]:
                    del self._closed_at[k]

    def quiet_s(self, keys: Iterable[str | None], since: float) -> float:
        """Seconds nobody has listened on ``keys`` (monotonic ``since``: when the work came)."""
        last = since
        with self._lock:
            for key in keys:
                if not key:
                    continue
                if self._open.get(key, 0) > 0:
                    return 0.0
                last = max(last, self._closed_at.get(key, since))
        return max(0.0, time.monotonic() - last)


_DISK: dict[str, tuple[float, float]] = {}  # folder -> (when measured, MB)


def folder_mb(folder: Path) -> float:
    """MB of the files under ``folder`` (links not followed; a file that vanishes counts 0)."""
    size = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                size += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return size / 2**20


def disk_used_mb(folders: Iterable[Path], max_age_s: float = 2.0) -> float:
    """MB of files under ``folders`` (each measured at most every ``max_age_s`` seconds)."""
    total, now = 0.0, time.monotonic()
    for folder in folders:
        key = str(folder)
        when, mb = _DISK.get(key, (-1e9, 0.0))
        if now - when > max_age_s:
            mb = folder_mb(folder)
            _DISK[key] = (now, mb)
        total += mb
    return total


def remote_inputs(data: Any) -> list[str]:
    """The file inputs in a request body whose ``path`` is a URL (the server would fetch
    them)."""
    found: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            path = x.get("path")
            if isinstance(path, str) and re.match(r"\s*[a-zA-Z][a-zA-Z0-9+.-]*://", path):
                found.append(path)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return found


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


async def _reply(send, status: int, message: str) -> None:
    """A refusal in one line; the connection closes (a refused upload's body is not read)."""
    body = json.dumps({"error": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """The ASGI middleware (``Middleware(Gate, limits=..., listeners=...)``)."""

    def __init__(self, app, *, limits: Limits, listeners: Listeners,
                 on_start: Callable[[Any], None] | None = None):
        self.app = app
        self.limits = limits
        self.listeners = listeners
        self.uploads = Allowance(limits.upload_mb_per_window * 2**20, limits.upload_window_s)
        self._on_start = on_start
        self._started = False

    def visitor(self, scope) -> str:
        headers = {k.decode("latin1").lower(): v.decode("latin1")
                   for k, v in scope.get("headers", [])}
        client = scope.get("client")
        return visitor_of(client[0] if client else None, headers, self.limits.trusted_proxies)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._started and self._on_start is not None:
            self._started = True
            self._on_start(asyncio.get_running_loop())
        path, method = scope.get("path", ""), scope.get("method", "GET")
        try:
            if method == "POST" and path.rstrip("/").endswith("/upload"):
                receive = self._check_upload(scope, receive)
            elif method == "POST" and "gradio_api" in path and _JSON_ROUTES.search(path):
                receive = await self._check_json(scope, receive)
            elif method == "GET":
                key = self._stream_key(scope, path)
                if key is not None:
                    return await self._listen(key, scope, receive, send)
        except _Refused as exc:
            log.info("refused %s %s from %s: %s", method, short(path, 60), self.visitor(scope),
                     exc.message)
            return await _reply(send, exc.status, exc.message)
        return await self._guarded(scope, receive, send)

    # ------------------------------------------------------------------ listening

    @staticmethod
    def _stream_key(scope, path: str) -> str | None:
        for pattern, group in _STREAM_ROUTES:
            m = pattern.search(path)
            if m is None:
                continue
            if group is not None:
                return m.group(group)
            query = parse_qs(scope.get("query_string", b"").decode("latin1"))
            return (query.get("session_hash") or [None])[0]
        return None

    async def _listen(self, key: str, scope, receive, send):
        self.listeners.opened(key)
        try:
            return await self._guarded(scope, receive, send)
        finally:
            self.listeners.closed(key)

    # ------------------------------------------------------------------ uploads

    def _check_upload(self, scope, receive):
        limits = self.limits
        headers = dict(scope.get("headers", []))
        try:
            length = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            length = -1
        if length < 0:
            raise _Refused(411, "an upload must declare its length (Content-Length)")
        most = limits.upload_files * limits.max_upload_mb * 2**20 + 64 * 1024
        if length > most:
            raise _Refused(413, f"an upload request holds at most {limits.upload_files} files "
                                f"of {limits.max_upload_mb:g} MB")
        folders = [limits.cache]
        app = scope.get("app")
        upload_dir = getattr(app, "uploaded_file_dir", None)
        if upload_dir:
            folders.append(Path(upload_dir))
        if disk_used_mb(folders) + length / 2**20 > limits.max_disk_mb:
            raise _Refused(507, "the server's disk allowance for uploads is full; try again "
                                "in a few minutes")
        wait = self.uploads.spend(self.visitor(scope), length)
        if wait is not None:
            raise _Refused(429, f"upload allowance used: {limits.upload_mb_per_window:g} MB per "
                                f"{limits.upload_window_s / 60:g} min per visitor; try again in "
                                f"{wait:.0f} s")
        m = re.search(rb"boundary=\"?([^\";]+)", headers.get(b"content-type", b""))
        if m is None:
            raise _Refused(400, "an upload must be multipart/form-data with a boundary")
        return _count_parts(receive, b"--" + m.group(1), limits.upload_files)

    # ------------------------------------------------------------------ JSON inputs

    async def _check_json(self, scope, receive):
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > _MAX_JSON:
                raise _Refused(413, "a request's inputs are at most 1 MB: upload files first")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            data = None  # Gradio answers a malformed body (one line, see _guarded)
        remote = remote_inputs(data)
        if remote:
            raise _Refused(400, f"a file input must be a file uploaded to this server, not a "
                                f"URL ({short(remote[0], 60)}): upload it first")
        sent = [False]

        async def replay():
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    # ------------------------------------------------------------------ errors in one line

    async def _guarded(self, scope, receive, send):
        """Run the app; a 422 (a malformed request, whose reply echoes it) becomes one line,
        and a request that breaks the parser (over the files per request) is answered."""
        state = {"started": False, "rewrite": False, "status": 0}

        async def send_(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if message["status"] == 422 and "gradio_api" in scope.get("path", ""):
                    state["rewrite"] = True
                    state["chunks"], state["start"] = [], message
                    return
                state["started"] = True
                return await send(message)
            if state["rewrite"]:
                state["chunks"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(state["chunks"])
                line = _one_line_error(body)
                state["rewrite"] = False
                state["started"] = True
                if line is None:  # not a malformed request (a validator's answer): as it is
                    await send(state["start"])
                    return await send({"type": "http.response.body", "body": body})
                log.info("refused %s from %s: %s", short(scope.get("path", ""), 60),
                         self.visitor(scope), line)
                return await _reply(send, 422, line)
            return await send(message)

        try:
            return await self.app(scope, receive, send_)
        except _TooManyParts as exc:
            log.info("refused %s from %s: %s", short(scope.get("path", ""), 60),
                     self.visitor(scope), exc)
            if not state["started"]:
                await _reply(send, 413, str(exc))


class _TooManyParts(Exception):
    pass


def _count_parts(receive, boundary: bytes, limit: int):
    """``receive`` that fails (:class:`_TooManyParts`) once the body holds more than ``limit``
    parts (each part starts with the boundary; the body ends with one more)."""
    seen, tail = [0], [b""]

    async def counted():
        message = await receive()
        if message["type"] == "http.request":
            chunk = tail[0] + message.get("body", b"")
            seen[0] += chunk.count(boundary)
            tail[0] = chunk[-(len(boundary) - 1):] if len(boundary) > 1 else b""
            if seen[0] >= limit + 2:
                raise _TooManyParts(f"an upload request holds at most {limit} files")
        return message

    return counted


def _one_line_error(body: bytes) -> str | None:
    """FastAPI's reply to a malformed request (HTTP 422, each error listed with the input
    echoed) as one line without the echo; None for another 422 (an endpoint's validator)."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return "malformed request"
    if isinstance(detail, list) and detail and isinstance(detail[0], dict) and "loc" in detail[0]:
        first = detail[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        more = f" (and {len(detail) - 1} more)" if len(detail) > 1 else ""
        return short(f"malformed request: {where or 'body'}: {first.get('msg', 'invalid')}{more}",
                     200)
    return None

