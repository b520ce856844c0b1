"""The app in a server process of its own, as it is hosted: its settings from the environment,
its own TMPDIR, Gradio upload folder and cache, its log in a file an operator would read."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def rss_mb(pid: int) -> float:
    """Resident memory of a process (MB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """The app served by a process of its own, with the settings ``env`` (FREQREX_*)."""

    def __init__(self, root: Path, env: dict[str, str]):
        from freqrex_app.web.testing import free_port

        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, **env, "TMPDIR": str(self.tmp),
               "GRADIO_TEMP_DIR": str(self.tmp / "gradio"),
               "FREQREX_CACHE": str(self.tmp / "freqrex-app"),
               "GRADIO_ANALYTICS_ENABLED": "False"}
        self.log = open(root / "server.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "freqrex_app.web.testing", str(self.port)], cwd=ROOT,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while "READY" not in (root / "server.log").read_text():
            assert self.proc.poll() is None, (root / "server.log").read_text()
            assert time.time() < deadline, "the server did not start in 180 s"
            time.sleep(0.5)
        self.rss_start = rss_mb(self.proc.pid)

    @property
    def jobs(self) -> list[Path]:
        folder = self.tmp / "freqrex-app" / "jobs"
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
