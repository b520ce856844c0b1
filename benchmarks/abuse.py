"""A hostile client beside honest visitors, against the real app: can one stranger with a
script take the playground down?

    python benchmarks/abuse.py                      # 3 honest jobs, 4 hostile rounds
    python benchmarks/abuse.py --honest 5 --rounds 8 --json abuse.json

It starts the real app in a server process on 127.0.0.1 (its own temporary folder; the limits
from the same environment variables as ``freqrex app``, with a disk cap of ``--disk-mb``), and
times an honest visitor's 50-call job alone (REST form: upload, ``POST /call/explain``, then the
result stream). Then:

- a *crowd* of ``--crowd`` addresses (127.0.0.100 ...) joins at once and never listens: the
  queue's bound must hold, and their jobs must stop;
- the *hostile client*, from 127.0.0.1 only, runs ``--rounds`` rounds of every attack (bounded in
  count and time): floods of joins (REST calls never fetched, fresh session hashes, forged
  X-Forwarded-For), a dropped result stream, a comparison at the largest budget, upload bombs
  (49 MB files, many per request), preview bombs (a FLAC declaring 599 s at 192 kHz x 8
  channels, renamed each time; a 255-channel OGG), remote URLs as inputs, malformed requests
  and oversized echoes, a guessed job folder;
- meanwhile ``--honest`` visitors (127.0.0.2 ...), one after another, each explain the clip
  with 50 model calls, and their times are compared with the time alone.

The server's RSS, its temporary folder's size and the queue's length (``/queue/status``) are
sampled every quarter second; its log is read at the end. Exit status 1 when an honest job took
more than ``--max-ratio`` times its time alone, the queue passed its bound, the disk passed its
cap, a job ran more than ``--max-unheard-s`` seconds with nobody listening (the worker held by
work nobody waits for), a traceback is in the log, or the server died.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from freqrex_app.web.guard import folder_mb

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "examples" / "electronic.ogg"
MODEL = "msd-musicnn"
HOSTILE = "127.0.0.1"

def http(address: str, timeout: float = 60.0, **kw) -> httpx.Client:
    """A client whose connections come from ``address`` (a loopback address: a visitor)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout,
                        **kw)


def inputs(path: str, budget: int = 50, duration: float = 3.0, **kw) -> list:
    d = {"model": MODEL, "labels_view": "auto", "start": 0, "duration": duration,
         "budget": budget, "seed": 0, "stft": False, "contrast": "", "compare_model": "", **kw}
    return [{"path": path, "meta": {"_type": "gradio.FileData"}}, *d.values()]


def upload(client: httpx.Client, url: str, name: str, data: bytes) -> str:
    r = client.post(url + "gradio_api/upload", files={"files": (name, data)})
    r.raise_for_status()
    return r.json()[0]


# --------------------------------------------------------------------------------- honest


def honest_job(url: str, address: str, args, deadline: float) -> dict:
    """One visitor's 50-call explanation, REST form; retried while the line is full."""
    t0 = time.perf_counter()
    tries = 0
    with http(address, timeout=600) as c:
        path = upload(c, url, CLIP.name, CLIP.read_bytes())
        while True:
            tries += 1
            r = c.post(url + "gradio_api/call/explain",
                       json={"data": inputs(path, 50, args.duration)})
            if r.status_code == 200:
                break
            if time.time() > deadline:
                return {"address": address, "ok": False, "error": r.text[:200]}
            time.sleep(1.0)
        event = r.json()["event_id"]
        text = c.get(url + f"gradio_api/call/explain/{event}").text
    seconds = time.perf_counter() - t0
    ok = "event: complete" in text
    out = {"address": address, "ok": ok, "seconds": seconds, "tries": tries}
    if ok:
        data = json.loads(text.split("event: complete\ndata:", 1)[1].strip().splitlines()[0])
        out["queries"] = data[0]["queries"]
    else:
        out["error"] = text[-300:]
    return out


# --------------------------------------------------------------------------------- hostile


def lying_flac(seconds: float = 599.0, rate: int = 192000, channels: int = 8) -> bytes:
    """A small FLAC whose header declares ``seconds`` at ``rate`` x ``channels``."""
    t = np.arange(rate // 2) / rate
    x = np.repeat((0.1 * np.sin(2 * np.pi * 440 * t))[:, None], channels, 1).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="FLAC", subtype="PCM_16")
    b = bytearray(buf.getvalue())
    # STREAMINFO: 20 bits rate, 3 bits channels-1, 5 bits bits-1, 36 bits total samples
    packed = struct.unpack(">Q", bytes(b[18:26]))[0]
    total = int(seconds * rate)
    packed = (packed & ~((1 << 36) - 1)) | total
    b[18:26] = struct.pack(">Q", packed)
    return bytes(b)


def many_channel_ogg(channels: int = 255) -> bytes:
    x = (0.05 * np.random.default_rng(0).standard_normal((8000, channels))).astype(np.float32)
    buf = io.BytesIO()
    try:
        sf.write(buf, x, 8000, format="OGG", subtype="VORBIS")
    except Exception:  # this libsndfile cannot: the same header lie in a WAV
        buf = io.BytesIO()
        sf.write(buf, x[:800], 8000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class Hostile:
    """The attacks of one client address, each counted by its answer."""

    def __init__(self, url: str, cache: Path, args):
        self.url, self.cache, self.args = url, cache, args
        self.answers: dict[str, dict[str, int]] = {}
        self.left: dict[str, float] = {}  # dropped stream: session -> when its stream closed
        self.lock = threading.Lock()
        self.config = httpx.get(url + "config", timeout=60).json()
        deps = self.config["dependencies"]
        self.explain_fn = next(d["id"] for d in deps if d.get("api_name") == "explain")
        self.preview_fn = next(d["id"] for d in deps
                               if any(t[1] == "upload" for t in d.get("targets", [])))
        self.flac = lying_flac()
        self.ogg = many_channel_ogg()
        self.big = os.urandom(49 * 2**20)
        with http(HOSTILE) as c:  # the clip its floods ask for (its uploads run out later)
            self.clip = upload(c, url, "clip.ogg", CLIP.read_bytes())

    def note(self, attack: str, answer: str) -> None:
        with self.lock:
            d = self.answers.setdefault(attack, {})
            d[answer] = d.get(answer, 0) + 1

    def _post(self, c: httpx.Client, attack: str, path: str, **kw) -> httpx.Response | None:
        try:
            r = c.post(self.url + path, **kw)
        except httpx.HTTPError as exc:
            self.note(attack, type(exc).__name__)
            return None
        self.note(attack, str(r.status_code))
        return r

    def round(self, i: int) -> None:
        url = self.url
        clip = self.clip
        with http(HOSTILE, timeout=120) as c:
            # floods: 30 REST calls at once, never fetched, at the largest budget
            barrier = threading.Barrier(30)

            def flood(k: int) -> None:
                with http(HOSTILE) as cc:
                    barrier.wait()
                    if k % 3 == 0:  # a fresh session hash, a forged forwarded address
                        self._post(cc, "join flood (new session, forged XFF)",
                                   "gradio_api/queue/join",
                                   headers={"X-Forwarded-For": f"198.51.100.{k}"},
                                   json={"data": inputs(clip, 3000, 30.0),
                                         "fn_index": self.explain_fn,
                                         "session_hash": uuid.uuid4().hex})
                    else:
                        self._post(cc, "join flood (REST, never fetched)",
                                   "gradio_api/call/explain",
                                   json={"data": inputs(clip, 3000, 30.0)})

            threads = [threading.Thread(target=flood, args=(k,)) for k in range(30)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # a dropped stream: join, listen for a second, leave (once the flood's one accepted
            # job has been dropped: one job per visitor)
            time.sleep(self.args.grace_s + 1.5)
            session = uuid.uuid4().hex
            r = self._post(c, "dropped stream", "gradio_api/queue/join",
                           json={"data": inputs(clip, 3000, 30.0), "fn_index": self.explain_fn,
                                 "session_hash": session})
            if r is not None and r.status_code == 200:
                try:
                    with c.stream("GET", url + "gradio_api/queue/data",
                                  params={"session_hash": session}, timeout=5) as s:
                        t_end = time.time() + 1.0
                        for _ in s.iter_lines():
                            if time.time() > t_end:
                                break
                except httpx.HTTPError:
                    pass
                self.left[session] = time.time()
            # a comparison at the largest budget (twice the calls: over the limit)
            time.sleep(self.args.grace_s + 1.5)
            r = self._post(c, "compare at the largest budget", "gradio_api/call/explain",
                           json={"data": inputs(clip, 3000, 30.0, compare_model="mtt-musicnn")})
            if r is not None and r.status_code == 200:
                text = c.get(url + f"gradio_api/call/explain/{r.json()['event_id']}").text
                self.note("compare at the largest budget: answer",
                          "refused: over the limit" if "twice" in text else text[-80:])
            # preview bombs, four at once, renamed each time; a 255-channel OGG
            bombs = []
            for k in range(4):
                try:
                    bombs.append(upload(c, url, f"bomb-{i}-{k}.flac", self.flac))
                except httpx.HTTPError as exc:
                    self.note("preview bomb upload", type(exc).__name__)
            try:
                bombs.append(upload(c, url, f"wide-{i}.ogg", self.ogg))
            except httpx.HTTPError as exc:
                self.note("preview bomb upload", type(exc).__name__)

            def preview(path: str) -> None:
                with http(HOSTILE) as cc:
                    session = uuid.uuid4().hex
                    r = self._post(cc, "preview bomb", "gradio_api/queue/join", json={
                        "data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, 0, 3],
                        "fn_index": self.preview_fn, "session_hash": session})
                    if r is None or r.status_code != 200:
                        return
                    t0 = time.perf_counter()
                    try:
                        with cc.stream("GET", self.url + "gradio_api/queue/data",
                                       params={"session_hash": session}, timeout=60) as s:
                            for line in s.iter_lines():
                                if "process_completed" in line:
                                    break
                    except httpx.HTTPError:
                        pass
                    self.note("preview bomb: seconds to answer",
                              f"{time.perf_counter() - t0:.1f}")

            threads = [threading.Thread(target=preview, args=(p,)) for p in bombs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # upload bombs: four 49 MB files in one request, then one at a time
            files = [("files", (f"bomb{i}-{k}.wav", bytes([i, k]) + self.big)) for k in range(4)]
            self._post(c, "upload bomb (4 x 49 MB in one request)", "gradio_api/upload",
                       files=files)
            for k in range(3):
                self._post(c, "upload bomb (49 MB each)", "gradio_api/upload",
                           files={"files": (f"one{i}-{k}.wav", bytes([k, i, 7]) + self.big)})
            # remote URLs as inputs (the server would download them)
            self._post(c, "URL input (REST)", "gradio_api/call/explain",
                       json={"data": inputs("https://example.com/a.wav")})
            self._post(c, "URL input (queue join)", "gradio_api/queue/join", json={
                "data": inputs("http://198.51.100.1/a.flac"), "fn_index": self.explain_fn,
                "session_hash": uuid.uuid4().hex})
            # malformed requests and oversized echoes
            self._post(c, "malformed join", "gradio_api/queue/join",
                       content=b'{"data": [1, 2', headers={"Content-Type": "application/json"})
            self._post(c, "malformed join", "gradio_api/queue/join", json={"data": "x" * 5000})
            r = self._post(c, "5000-character model id", "gradio_api/call/explain",
                           json={"data": inputs(clip, model="m" * 5000)})
            if r is not None and r.status_code == 200:
                text = c.get(url + f"gradio_api/call/explain/{r.json()['event_id']}").text
                self.note("5000-character model id: reply length", str(len(text) // 100 * 100))
            # a guessed job folder
            try:
                r = c.get(url + f"gradio_api/file={self.cache}/jobs/")
                self.note("guessed job folder", str(r.status_code))
            except httpx.HTTPError as exc:
                self.note("guessed job folder", type(exc).__name__)


def crowd(url: str, n: int) -> dict[str, int]:
    """``n`` addresses join at once and never listen."""
    with http("127.0.0.99") as c:
        path = upload(c, url, "crowd.ogg", CLIP.read_bytes())
    barrier = threading.Barrier(n)
    codes: dict[str, int] = {}
    lock = threading.Lock()

    def join(k: int) -> None:
        with http(f"127.0.0.{100 + k}") as cc:
            barrier.wait()
            r = cc.post(url + "gradio_api/call/explain", json={"data": inputs(path, 3000)})
            with lock:
                codes[str(r.status_code)] = codes.get(str(r.status_code), 0) + 1

    threads = [threading.Thread(target=join, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


# --------------------------------------------------------------------------------- the server


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def loadavg() -> str:
    """This machine's load average (1, 5, 15 min): timings mean little on a busy machine."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def start_server(tmp: Path, args) -> tuple[subprocess.Popen, str, Path]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "FREQREX_CACHE": str(tmp / "freqrex-app"), "GRADIO_ANALYTICS_ENABLED": "False",
           "FREQREX_MAX_DISK_MB": str(args.disk_mb), "FREQREX_QUEUE_SIZE": str(args.queue_size),
           "FREQREX_STREAM_GRACE_S": str(args.grace_s)}
    env.pop("FREQREX_TRUSTED_PROXIES", None)
    log = tmp / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "freqrex_app.web.testing", str(port)], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while "READY" not in log.read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit("the server did not start:\n" + log.read_text())
        time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}/", log


JOB_END = re.compile(r"^(\S+ \S+) \w+ job (\w+) end: (\w+)(?: \(([^)]*)\))?, (\d+) model calls, "
                     r"([\d.]+) s running, [\d.]+ s in all.*\(visitor=([^,]+), session=([\w-]*)\)",
                     re.M)


def log_epoch(stamp: str) -> float:
    """The epoch of a log line's time stamp ('2026-12-05 15:22:27,951', local time)."""
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000


def after_gone_s(job: dict, left: dict[str, float]) -> float:
    """Seconds a job ran after its client was gone: since its stream closed (a dropped
    stream), or all its running time (a client that never listened)."""
    when = next((t for s, t in left.items() if job["session"] and s.startswith(job["session"])),
                None)
    if when is None:
        return float(job["running_s"])
    return max(0.0, log_epoch(job["at"]) - when)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--honest", type=int, default=3,
                   help="honest 50-call jobs, one after another")
    p.add_argument("--rounds", type=int, default=4, help="rounds of every attack")
    p.add_argument("--crowd", type=int, default=30, help="addresses that join at once")
    p.add_argument("--duration", type=float, default=3.0, help="honest excerpt (s)")
    p.add_argument("--queue-size", type=int, default=16)
    p.add_argument("--grace-s", type=float, default=3.0, help="FREQREX_STREAM_GRACE_S")
    p.add_argument("--disk-mb", type=float, default=400.0, help="FREQREX_MAX_DISK_MB")
    p.add_argument("--max-ratio", type=float, default=2.0)
    p.add_argument("--max-unheard-s", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=900.0, help="the whole run's deadline")
    p.add_argument("--json", help="write the report here")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="freqrex-abuse-"))
    proc, url, log_path = start_server(tmp, args)
    deadline = time.time() + args.max_seconds
    samples = {"rss_mb": 0.0, "disk_mb": 0.0, "queue": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples["rss_mb"] = max(samples["rss_mb"], rss_mb(proc.pid))
            samples["disk_mb"] = max(samples["disk_mb"], folder_mb(tmp))
            try:
                q = httpx.get(url + "gradio_api/queue/status", timeout=5).json()["queue_size"]
                samples["queue"] = max(samples["queue"], int(q))
            except Exception:
                pass
            stop.wait(0.25)

    report: dict = {"url": url, "queue_bound": args.queue_size, "disk_cap_mb": args.disk_mb}
    problems: list[str] = []
    alone: list[float] = []  # the honest job alone: before the attack (twice) and after
    hostile = None
    try:
        honest_job(url, "127.0.0.2", args, deadline)  # loads the model
        alone += [honest_job(url, "127.0.0.2", args, deadline)["seconds"] for _ in range(2)]
        report["rss_start_mb"] = rss_mb(proc.pid)
        report["loadavg_start"] = loadavg()
        print(f"an honest 50-call job alone: {', '.join(f'{a:.1f}' for a in alone)} s "
              f"(load average {report['loadavg_start']})", flush=True)
        threading.Thread(target=sample, daemon=True).start()

        report["crowd"] = crowd(url, args.crowd)
        print(f"{args.crowd} addresses at once: {report['crowd']}", flush=True)
        time.sleep(5.0)

        hostile = Hostile(url, tmp / "freqrex-app", args)
        attacking = threading.Event()

        def attack() -> None:
            for i in range(args.rounds):
                if time.time() > deadline:
                    break
                try:
                    hostile.round(i)
                except Exception as exc:
                    hostile.note("round failed", f"{type(exc).__name__}: {str(exc)[:80]}")
                time.sleep(1.0)
            attacking.set()

        attacker = threading.Thread(target=attack)
        attacker.start()
        time.sleep(3.0)  # the first round is under way
        honest = []
        for k in range(args.honest):
            if time.time() > deadline:
                break
            honest.append(honest_job(url, f"127.0.0.{3 + k}", args, deadline))
            h = honest[-1]
            print(f"honest job {k + 1}: {h.get('seconds', float('nan')):.1f} s "
                  f"({h.get('seconds', float('nan')) / float(np.median(alone)):.2f}x alone), "
                  f"{'ok' if h['ok'] else h.get('error')}", flush=True)
        attacker.join(timeout=max(0.0, deadline - time.time()))
        report["honest"] = honest
        report["attacks"] = hostile.answers
        report["rounds_done"] = attacking.is_set()
        time.sleep(args.max_unheard_s + 1)  # the last unheard jobs end
        # alone again: the machine's own drift, in the same run
        alone.append(honest_job(url, "127.0.0.2", args, deadline)["seconds"])
        report["loadavg_end"] = loadavg()
        print(f"alone again after the attack: {alone[-1]:.1f} s (load average "
              f"{report['loadavg_end']})", flush=True)
    finally:
        stop.set()
        alive = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()

    log = log_path.read_text(errors="replace")
    jobs = [dict(zip(("at", "id", "state", "reason", "calls", "running_s", "visitor", "session"),
                     m.groups())) for m in JOB_END.finditer(log)]
    unheard = [j for j in jobs if j["reason"] == "nobody listens for the result"]
    left = hostile.left if hostile is not None else {}
    report.update({
        "rss_max_mb": samples["rss_mb"], "disk_max_mb": samples["disk_mb"],
        "queue_max": samples["queue"], "server_alive": alive,
        "jobs": len(jobs), "jobs_unheard": len(unheard),
        "unheard_after_gone_max_s": max((after_gone_s(j, left) for j in unheard), default=0.0),
        "dropped_streams_stopped": sum(1 for j in unheard
                                       if any(s.startswith(j["session"]) for s in left)),
        "hostile_running_s": sum(float(j["running_s"]) for j in jobs if j["visitor"] == HOSTILE),
        "hostile_jobs": len([j for j in jobs if j["visitor"] == HOSTILE]),
        "crowd_jobs": len([j for j in jobs if re.fullmatch(r"127\.0\.0\.1\d\d", j["visitor"])]),
        "tracebacks": log.count("Traceback"),
        "refusal_lines": sum(1 for line in log.splitlines() if " refused " in line),
        "longest_log_line": max((len(line) for line in log.splitlines()), default=0),
        "log_lines": len(log.splitlines()),
    })
    report["alone_runs_s"] = alone
    report["alone_s"] = float(np.median(alone)) if alone else float("nan")
    ratios = [h["seconds"] / report["alone_s"] for h in report.get("honest", []) if h["ok"]]
    report["honest_ratio_max"] = max(ratios, default=float("nan"))
    if not alive:
        problems.append("the server died")
    if len(ratios) < len(report.get("honest", [])) or not ratios:
        problems.append("an honest job failed")
    elif max(ratios) > args.max_ratio:
        problems.append(f"an honest job took {max(ratios):.2f}x its time alone "
                        f"(limit {args.max_ratio}x)")
    if report["queue_max"] > args.queue_size:
        problems.append(f"the queue reached {report['queue_max']} (bound {args.queue_size})")
    if report["disk_max_mb"] > args.disk_mb:
        problems.append(f"disk reached {report['disk_max_mb']:.0f} MB (cap {args.disk_mb:g})")
    if report["unheard_after_gone_max_s"] > args.max_unheard_s:
        problems.append(f"HELD: a job ran {report['unheard_after_gone_max_s']:.1f} s after its "
                        f"client was gone (limit {args.max_unheard_s} s)")
    if report["tracebacks"]:
        problems.append(f"{report['tracebacks']} tracebacks in the server's log")
    report["problems"] = problems

    print(json.dumps({k: v for k, v in report.items() if k != "honest"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    for line in problems:
        print("FAIL:", line)
    print(f"server log: {log_path}")
    if not problems:
        shutil.rmtree(tmp / "gradio", ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
