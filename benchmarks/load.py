"""Load test of the FreqReX app: many concurrent Gradio clients submitting real explanations.

    python benchmarks/load.py                       # 12 clients x 2 requests, queue of 4
    python benchmarks/load.py --clients 24 --requests 3 --queue-size 8 --json load.json

It starts the real app in a server process on 127.0.0.1 (its own temporary folder, limits from
the same environment variables as ``freqrex app``), or uses ``--url`` (loopback only), then
runs ``--clients`` threads, each with its own ``gradio_client.Client`` (its own session),
each submitting ``--requests`` explanations of a real music clip, one after another. A few
clients (``--bad-clients``) upload broken files instead (a text file renamed .wav, a
truncated FLAC, a NaN WAV): they must be refused with a clear message.

Every request ends in exactly one of:

- completed: the explanation JSON came back (its label and its query count are checked);
- rejected: the queue was full, with Gradio's "Queue is full" message;
- refused: a bad input, with the app's one-line reason (bad-file clients only);
- failed: anything else (an unexpected error, a missing message, a time-out), printed in full.

Bounded: a fixed number of requests, a deadline (``--max-seconds``) after which waiting jobs
are cancelled, and the server is stopped at the end. The server's RSS (from /proc, with its
children) and the size of its temporary folder are sampled every half second. Exit status 1
when anything failed, the server died, memory passed ``--max-rss-mb``, or the counts do not
add up (nothing fails silently).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "examples" / "electronic.ogg"

SERVE = """
import signal, sys, threading
from freqrex_app.app.limits import Limits
from freqrex_app.app.testing import serve_in_thread, shutdown
url, demo = serve_in_thread(Limits.from_env(), port=int(sys.argv[1]), warm=sys.argv[2] == "1")
print("READY", url, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
shutdown(demo)
"""


@dataclass
class Outcome:
    client: int
    request: int
    kind: str  # "good" or the bad file's name
    status: str  # completed | rejected | refused | failed
    seconds: float
    message: str = ""
    label: str = ""
    queries: int = 0


@dataclass
class Samples:
    t: list = field(default_factory=list)
    rss_mb: list = field(default_factory=list)
    tmp_mb: list = field(default_factory=list)


# ------------------------------------------------------------------------------ helpers


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (MB), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def folder_mb(path: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total / 2**20


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback_only(url: str) -> str:
    host = urlparse(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"load.py talks to loopback only (127.0.0.1 / localhost), not {host!r}")
    return url if url.endswith("/") else url + "/"


def bad_files(folder: Path) -> dict[str, Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    (folder / "notes.wav").write_text("not a sound at all\n" * 100)
    out["notes.wav"] = folder / "notes.wav"
    x = (0.2 * np.sin(2 * np.pi * 440 * np.arange(44100) / 22050)).astype(np.float32)
    sf.write(folder / "full.flac", x, 22050)
    data = (folder / "full.flac").read_bytes()
    (folder / "truncated.flac").write_bytes(data[: len(data) // 2])
    out["truncated.flac"] = folder / "truncated.flac"
    x[500:510] = np.nan
    sf.write(folder / "nan.wav", x, 22050, subtype="FLOAT")
    out["nan.wav"] = folder / "nan.wav"
    return out


# ------------------------------------------------------------------------------ the run


def start_server(args, tmp: Path):
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "FREQREX_CACHE": str(tmp / "freqrex-app"), "GRADIO_ANALYTICS_ENABLED": "False",
           "FREQREX_QUEUE_SIZE": str(args.queue_size),
           "FREQREX_CONCURRENCY": str(args.concurrency),
           "FREQREX_MAX_BUDGET": str(max(args.budget, 50)),
           "FREQREX_MAX_EXCERPT_S": str(max(args.duration, 1.0))}
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port), "1" if args.warm else "0"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while "READY" not in (tmp / "server.log").read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit("the server did not start:\n" + (tmp / "server.log").read_text())
        time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}/", log


def classify(exc: BaseException) -> tuple[str, str]:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "queue is full" in text.lower():
        return "rejected", text
    return "error", f"{type(exc).__name__}: {text}"


def client_loop(i: int, url: str, args, files: dict[str, Path], deadline: float,
                outcomes: list, lock: threading.Lock) -> None:
    from gradio_client import Client, handle_file

    rng = random.Random(args.seed + i)
    bad = i < args.bad_clients
    time.sleep(rng.uniform(0, args.stagger))
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # could not even connect: every request of this client failed
        with lock:
            for r in range(args.requests):
                outcomes.append(Outcome(i, r, "connect", "failed", 0.0,
                                        f"{type(exc).__name__}: {exc}"))
        return
    for r in range(args.requests):
        name = rng.choice(sorted(files)) if bad else "good"
        path = files[name] if bad else CLIP
        t0 = time.perf_counter()
        left = deadline - time.time()
        if left <= 1:
            out = Outcome(i, r, name, "failed", 0.0, "not sent: the run's deadline passed")
        else:
            job = client.submit(handle_file(str(path)), args.model,
                                start=0.0 if bad else args.start,
                                duration=args.duration, budget=args.budget, seed=i,
                                stft=args.stft, api_name="/explain")
            try:
                exp, files_out, zip_path = job.result(timeout=left)
                ok = (isinstance(exp, dict) and exp.get("label")
                      and 0 < exp.get("queries", 0) <= args.budget
                      and any(Path(f).name == "original.wav" for f in files_out))
                out = Outcome(i, r, name, "completed" if ok and not bad else "failed",
                              time.perf_counter() - t0,
                              "" if ok and not bad else f"unexpected result: {str(exp)[:200]}",
                              label=str(exp.get("label", "")) if isinstance(exp, dict) else "",
                              queries=int(exp.get("queries", 0)) if isinstance(exp, dict) else 0)
            except TimeoutError:
                job.cancel()
                out = Outcome(i, r, name, "failed", time.perf_counter() - t0,
                              "time-out: no answer before the run's deadline")
            except Exception as exc:
                status, message = classify(exc)
                if status == "error":
                    # a bad file must be refused with the app's one-line reason; a good one never
                    clear = bad and message.startswith("AppError: ") and len(message) > 20
                    status = "refused" if clear else "failed"
                out = Outcome(i, r, name, status, time.perf_counter() - t0, message)
        with lock:
            outcomes.append(out)
        if out.status == "rejected":
            time.sleep(rng.uniform(0.5, args.retry_pause))  # a person would try again later


def sampler(pid: int, tmp: Path | None, samples: Samples, stop: threading.Event, t0: float):
    while not stop.is_set():
        samples.t.append(round(time.time() - t0, 2))
        samples.rss_mb.append(round(rss_mb(pid), 1))
        samples.tmp_mb.append(round(folder_mb(tmp), 2) if tmp else 0.0)
        stop.wait(0.5)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def report(args, outcomes: list[Outcome], samples: Samples, wall: float, server_ok: bool,
           jobs_on_disk: int | None) -> tuple[str, dict]:
    by = {s: [o for o in outcomes if o.status == s]
          for s in ("completed", "rejected", "refused", "failed")}
    done = [o.seconds for o in by["completed"]]
    rej = [o.seconds for o in by["rejected"]]
    total = args.clients * args.requests
    rss = samples.rss_mb or [float("nan")]
    tmpmb = samples.tmp_mb or [float("nan")]
    summary = {
        "clients": args.clients, "requests_per_client": args.requests, "requests": total,
        "bad_clients": args.bad_clients, "queue_size": args.queue_size,
        "concurrency": args.concurrency, "budget": args.budget, "duration_s": args.duration,
        "stft": args.stft, "model": args.model, "wall_s": round(wall, 1),
        **{s: len(v) for s, v in by.items()},
        "accounted": len(outcomes) == total,
        "latency_completed_s": {"p50": pct(done, 50), "p95": pct(done, 95),
                                "max": max(done, default=float("nan"))},
        "latency_rejected_s": {"p50": pct(rej, 50), "max": max(rej, default=float("nan"))},
        "server_rss_mb": {"start": rss[0], "peak": max(rss), "end": rss[-1]},
        "server_tmp_mb": {"start": tmpmb[0], "peak": max(tmpmb), "end": tmpmb[-1]},
        "job_folders": jobs_on_disk, "server_alive": server_ok,
        "rejected_messages": sorted({o.message for o in by["rejected"]}),
        "refused_messages": sorted({f"{o.kind}: {o.message}" for o in by["refused"]}),
        "failures": [asdict(o) for o in by["failed"]],
        "load_average": os.getloadavg(),
    }
    f = lambda x: "-" if x != x else f"{x:.1f}"  # noqa: E731
    lines = [
        f"{total} requests from {args.clients} clients ({args.bad_clients} sending bad files), "
        f"queue {args.queue_size}, {args.concurrency} at once, {args.model}, budget "
        f"{args.budget}, {args.duration:g} s excerpts, STFT {'on' if args.stft else 'off'}; "
        f"{wall:.0f} s wall, load average {os.getloadavg()[0]:.1f}",
        "",
        "| completed | rejected (queue full) | refused (bad file) | failed | p50 s | p95 s | max s "
        "| server RSS MB start / peak / end | temp MB start / peak / end |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {len(done)} | {len(rej)} | {len(by['refused'])} | {len(by['failed'])} "
        f"| {f(pct(done, 50))} | {f(pct(done, 95))} | {f(max(done, default=float('nan')))} "
        f"| {rss[0]:.0f} / {max(rss):.0f} / {rss[-1]:.0f} "
        f"| {tmpmb[0]:.1f} / {max(tmpmb):.1f} / {tmpmb[-1]:.1f} |",
        "",
    ]
    for m in summary["rejected_messages"]:
        lines.append(f"rejected with: {m}")
    for m in summary["refused_messages"]:
        lines.append(f"refused: {m}")
    for o in by["failed"]:
        lines.append(f"FAILED client {o.client} request {o.request} ({o.kind}) after "
                     f"{o.seconds:.1f} s: {o.message}")
    if not summary["accounted"]:
        lines.append(f"NOT ACCOUNTED: {total - len(outcomes)} requests have no outcome")
    if not server_ok:
        lines.append("THE SERVER DIED")
    return "\n".join(lines), summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=12)
    p.add_argument("--requests", type=int, default=2, help="requests per client (sequential)")
    p.add_argument("--bad-clients", type=int, default=2,
                   help="clients that upload broken files instead of music")
    p.add_argument("--queue-size", type=int, default=4, help="server queue (FREQREX_QUEUE_SIZE)")
    p.add_argument("--concurrency", type=int, default=1, help="explanations at once")
    p.add_argument("--model", default="msd-musicnn")
    p.add_argument("--budget", type=int, default=50, help="model calls per explanation")
    p.add_argument("--start", type=float, default=4.0)
    p.add_argument("--duration", type=float, default=3.0, help="excerpt seconds")
    p.add_argument("--stft", action="store_true", help="also the STFT flip (slower)")
    p.add_argument("--stagger", type=float, default=2.0, help="clients start within N s")
    p.add_argument("--retry-pause", type=float, default=4.0,
                   help="longest pause after a queue-full answer")
    p.add_argument("--max-seconds", type=float, default=270.0,
                   help="deadline for the whole run (jobs still waiting are cancelled)")
    p.add_argument("--max-rss-mb", type=float, default=4000.0, help="fail above this RSS")
    p.add_argument("--warm", action="store_true", help="let the server rebuild the examples")
    p.add_argument("--url", help="an app already running on loopback (default: start one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the summary (and the memory samples) here")
    args = p.parse_args(argv)
    if not (1 <= args.clients <= 200 and 1 <= args.requests <= 50):
        raise SystemExit("--clients 1..200 and --requests 1..50 (this is a bounded test)")
    args.max_seconds = min(args.max_seconds, 1800.0)

    work = Path(tempfile.mkdtemp(prefix="freqrex-load-"))
    proc = log = None
    tmp = None
    try:
        files = bad_files(work / "bad")
        if args.url:
            url, pid = loopback_only(args.url), None
            print("using", url, "(memory not sampled: pass no --url to measure it)")
        else:
            tmp = work / "server"
            tmp.mkdir()
            t = time.time()
            proc, url, log = start_server(args, tmp)
            pid = proc.pid
            print(f"server up on {url} in {time.time() - t:.0f} s (pid {pid})", flush=True)
        samples, stop = Samples(), threading.Event()
        t0 = time.time()
        watcher = None
        if pid:
            watcher = threading.Thread(target=sampler, args=(pid, tmp, samples, stop, t0),
                                       daemon=True)
            watcher.start()
            time.sleep(1.0)
        deadline = t0 + args.max_seconds
        outcomes: list[Outcome] = []
        lock = threading.Lock()
        threads = [threading.Thread(target=client_loop,
                                    args=(i, url, args, files, deadline, outcomes, lock),
                                    daemon=True) for i in range(args.clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(max(1.0, deadline + 30 - time.time()))
        wall = time.time() - t0
        time.sleep(2.0)  # memory after the load
        stop.set()
        if watcher:
            watcher.join(5)
        server_ok = proc is None or proc.poll() is None
        jobs = None
        if tmp is not None and (tmp / "freqrex-app" / "jobs").is_dir():
            jobs = sum(1 for q in (tmp / "freqrex-app" / "jobs").iterdir() if q.is_dir())
        with lock:
            got = list(outcomes)
        text, summary = report(args, got, samples, wall, server_ok, jobs)
        print(text)
        if args.json:
            summary["samples"] = asdict(samples)
            Path(args.json).write_text(json.dumps(summary, indent=1, default=float))
        bad = (summary["failed"] or not summary["accounted"] or not server_ok
               or summary["server_rss_mb"]["peak"] > args.max_rss_mb)
        return 1 if bad else 0
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if log is not None:
            log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
