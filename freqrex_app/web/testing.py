"""Serve the real app in this process on a free port, for tests and demos.

>>> url, demo = serve_in_thread(Limits(cache=tmp_path))
>>> Client(url).predict(handle_file("clip.ogg"), "msd-musicnn", api_name="/explain")
>>> shutdown(demo)

``python -m freqrex_app.web.testing PORT`` serves it as it is hosted, its settings from the
environment (``FREQREX_*``), prints ``READY <url>`` and stops cleanly on SIGTERM.
"""
from __future__ import annotations

import socket
from typing import Any

from .limits import Limits
from .ui import build_app, launch_options

__all__ = ["free_port", "serve_in_thread", "shutdown"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_in_thread(limits: Limits | None = None, *, host: str = "127.0.0.1",
                    port: int | None = None, warm: bool = False,
                    calibrate: bool | list[str] | None = None, **kwargs: Any):
    """Build the app and launch it without blocking; returns ``(url, demo)``."""
    demo = build_app(limits, warm=warm, calibrate=calibrate)
    port = port or free_port(host)
    opts = {**launch_options(demo.freqrex_limits, host, port, demo=demo),
            "prevent_thread_lock": True,
            "quiet": True, **kwargs}
    demo.launch(**opts)
    return f"http://{host}:{port}/", demo


def shutdown(demo, timeout: float = 120.0) -> None:
    """Close the server and wait for the background warm-up of the examples, so that no
    thread is inside torch when the interpreter exits."""
    demo.close()
    thread, stop = getattr(demo, "freqrex_warm", (None, None))
    if stop is not None:
        stop.set()
    for t in (thread, getattr(demo, "freqrex_timing", None)):
        if t is not None:
            t.join(timeout)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM on the port ``argv[0]``, the limits from the environment."""
    import signal
    import sys
    import threading

    port = int((argv if argv is not None else sys.argv[1:])[0])
    url, demo = serve_in_thread(Limits.from_env(), port=port, warm=False)
    print("READY", url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stop.wait()
    shutdown(demo)


if __name__ == "__main__":
    main()
