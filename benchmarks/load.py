"""Load test of the FreqReX app: many concurrent Gradio clients submitting real explanations.

    python benchmarks/load.py                       # 12 clients x 2 requests, queue of 4
    python benchmarks/load.py --clients 24 --requests 3 --queue-size 8 --json load.json

It starts the real app in a server process on 127.0.0.1 (its own temporary folder, limits from
the same environment variables as ``freqrex app``, trusting 127.0.0.1 as a proxy so that each
client names its own address in ``X-Forwarded-For``: the app allows one job per address), or
uses ``--url`` (loopback only; such a server needs ``FREQREX_TRUSTED_PROXIES=127.0.0.1``), then
runs ``--clients`` threads, each with its own ``gradio_client.Client`` (its own session),
each submitting ``--requests`` explanations of a real music clip, one after another. A few
clients (``--bad-clients``) upload broken files instead (a text file renamed .wav, a
truncated FLAC, a NaN WAV): they must be refused with a clear message.

``--abandon-clients`` visitors abandon their work instead: each starts a standard job
(``--abandon-budget`` model calls), waits until it runs for ``--abandon-after`` seconds, then
leaves: half close the page (a real page session: its heartbeat stream and its queue stream are
open, then both connections close, as when a tab closes), half cancel with the Gradio client
(``job.cancel()``). Each then comes back as the next visitor with a small job and times it. The
server's record of each abandoned job (its log line) must say it was cancelled and stopped within
``--max-stop-s`` seconds; a job that kept running fails the run.

Every request ends in exactly one of:

- completed: the explanation JSON came back (its label and its query count are checked);
- rejected: the queue was full, with Gradio's "Queue is full" message;
- refused: a bad input, with the app's one-line reason (bad-file clients only);
- failed: anything else (an unexpected error, a missing message, a time-out), printed in full.

Bounded: a fixed number of requests, a deadline (``--max-seconds``) after which waiting jobs
are cancelled, and the server is stopped at the end. The server's RSS (from /proc, with its
children) and the size of its temporary folder are sampled every half second. Exit status 1
when anything failed, the server died, memory passed ``--max-rss-mb``, the counts do not add up
(nothing fails silently), or abandoned work kept running.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from freqrex_app.web.guard import folder_mb

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "examples" / "electronic.ogg"

SERVE = """
import logging, signal, sys, threading
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
from freqrex_app.web.limits import Limits
from freqrex_app.web.testing import serve_in_thread, shutdown
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
class Abandon:
    client: int
    how: str  # "closed page" | "client cancel"
    session: str
    left_at: float  # epoch seconds when the visitor left
    ran_s: float = 0.0  # how long the job had run when it was abandoned
    next_wait_s: float = float("nan")  # the same person's next (small) job, submit to result
    state: str = ""  # from the server's record
    stop_s: float = float("nan")  # the record: cancel seen -> the job's thread done
    seen_after_s: float = float("nan")  # the visitor leaving -> the record written
    queries: int = 0
    error: str = ""


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


def visitor(group: int, i: int) -> dict[str, str]:
    """The headers of visitor ``i`` of ``group``: its own address, named by the trusted proxy
    that the server started here believes (FREQREX_TRUSTED_PROXIES=127.0.0.1), since every
    client of this benchmark connects from 127.0.0.1 and the app allows one job per address."""
    return {"X-Forwarded-For": f"10.{group}.{i // 250}.{i % 250 + 1}"}


def start_server(args, tmp: Path):
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "FREQREX_CACHE": str(tmp / "freqrex-app"), "GRADIO_ANALYTICS_ENABLED": "False",
           "FREQREX_QUEUE_SIZE": str(args.queue_size), "FREQREX_TRUSTED_PROXIES": "127.0.0.1",
           "FREQREX_CONCURRENCY": str(args.concurrency),
           "FREQREX_MAX_BUDGET": str(max(args.budget, args.abandon_budget, 50)),
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
        client = Client(url, verbose=False, headers=visitor(1, i))
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


RECORD = re.compile(r"job (?P<id>\w+) end: (?P<state>\w+)(?: \((?P<reason>.*?)\))?, "
                    r"(?P<queries>\d+) model calls, [\d.]+ s running, [\d.]+ s in all"
                    r"(?:, cancelled: stopped (?P<stop>[\d.]+) s after the request, "
                    r"(?P<after>-?\d+) model calls after it)? "
                    r"\(visitor=[^,]+, session=(?P<session>[\w-]+)\)")
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def job_records(log_path: Path) -> dict[str, dict]:
    """The server's record of each ended job, by session (its first 8 characters)."""
    out = {}
    if not log_path.is_file():
        return out
    for line in log_path.read_text(errors="replace").splitlines():
        m = RECORD.search(line)
        if not m:
            continue
        t = LOG_TIME.match(line)
        when = (time.mktime(time.strptime(t.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
                + int(t.group(1)[20:]) / 1000) if t else float("nan")
        out[m["session"]] = {**m.groupdict(), "at": when}
    return out


def closed_page(url: str, path: Path, args, seed: int, headers: dict[str, str]
                ) -> tuple[str, float, float]:
    """A page's session: heartbeat and queue streams open, an explanation queued; once it has
    run ``--abandon-after`` s both connections close, as a closed tab's do. Returns
    (session, epoch left, seconds it ran)."""
    import httpx
    from gradio_client import Client

    config = Client(url, verbose=False).config  # the endpoint's fn id
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "explain")
    api = url + "gradio_api/"
    session = uuid.uuid4().hex[:11]
    with httpx.Client(timeout=60, headers=headers) as http:
        uploaded = http.post(api + "upload", files={"files": (path.name, path.read_bytes())})
        uploaded.raise_for_status()
        file = {"path": uploaded.json()[0], "orig_name": path.name,
                "meta": {"_type": "gradio.FileData"}}
        with http.stream("GET", api + f"heartbeat/{session}") as heart:
            r = http.post(api + "queue/join", json={
                "data": [file, args.model, "auto", args.start, args.duration,
                         args.abandon_budget, seed, args.stft, "", ""],
                "fn_index": fn, "session_hash": session, "event_data": None,
                "trigger_id": None})
            r.raise_for_status()
            started = None
            with http.stream("GET", api + "queue/data", params={"session_hash": session},
                             timeout=httpx.Timeout(10, read=None)) as events:
                for line in events.iter_lines():
                    if '"process_starts"' in line and started is None:
                        started = time.time()
                        break
                    if '"process_completed"' in line:
                        raise RuntimeError(f"the job ended before it was abandoned: {line[:200]}")
                time.sleep(args.abandon_after)
                # leaving the with-blocks closes both streams: the page is gone
    return session, time.time(), time.time() - (started or time.time())


def abandon_loop(i: int, url: str, args, deadline: float, abandons: list,
                 lock: threading.Lock) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    rng = random.Random(args.seed + 1000 + i)
    time.sleep(rng.uniform(0, args.stagger))
    how = "closed page" if i % 2 == 0 else "client cancel"
    out = Abandon(i, how, "", 0.0)
    try:
        if how == "closed page":
            out.session, out.left_at, out.ran_s = closed_page(url, CLIP, args, i, visitor(2, i))
        else:
            client = Client(url, verbose=False, headers=visitor(2, i))
            out.session = client.session_hash
            job = client.submit(handle_file(str(CLIP)), args.model, start=args.start,
                                duration=args.duration, budget=args.abandon_budget, seed=i,
                                stft=args.stft, api_name="/explain")
            while job.status().code not in (Status.PROCESSING, Status.PROGRESS):
                if job.done() or time.time() > deadline:
                    raise RuntimeError(f"the job never ran: {job.status()}")
                time.sleep(0.1)
            started = time.time()
            time.sleep(args.abandon_after)
            job.cancel()
            out.left_at, out.ran_s = time.time(), time.time() - started
            client.close()
        # the same person comes back with a small job
        t0 = time.perf_counter()
        exp, _, _ = Client(url, verbose=False, headers=visitor(2, i)).predict(
            handle_file(str(CLIP)), args.model, start=args.start, duration=args.duration,
            budget=50, seed=i, stft=False, api_name="/explain")
        out.next_wait_s = time.perf_counter() - t0
        if not (isinstance(exp, dict) and exp.get("queries", 0) > 0):
            out.error = f"the next job's result is wrong: {str(exp)[:200]}"
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    with lock:
        abandons.append(out)


def solo_job_seconds(url: str, args) -> float:
    """Seconds of one small job (50 calls, STFT off) with nothing else on the server."""
    from gradio_client import Client, handle_file

    t0 = time.perf_counter()
    Client(url, verbose=False, headers=visitor(3, 0)).predict(
        handle_file(str(CLIP)), args.model, start=args.start, duration=args.duration, budget=50,
        seed=0, stft=False, api_name="/explain")
    return time.perf_counter() - t0


def check_abandons(abandons: list, log_path: Path, args) -> list[str]:
    """Fill each abandon from the server's record; the reasons the run fails."""
    problems = []
    deadline = time.time() + args.max_stop_s + 5
    while True:  # the records of the last visitors to leave may still be on their way
        records = job_records(log_path)
        if all(a.session[:8] in records for a in abandons if a.session) or time.time() > deadline:
            break
        time.sleep(0.5)
    for a in abandons:
        r = records.get(a.session[:8]) if a.session else None
        if a.error:
            problems.append(f"abandoning visitor {a.client} ({a.how}): {a.error}")
        if r is None:
            problems.append(f"KEPT RUNNING: the job of visitor {a.client} ({a.how}) has no end "
                            f"record {args.max_stop_s + 5:.0f} s after it was abandoned")
            continue
        a.state, a.queries = r["state"], int(r["queries"])
        a.stop_s = float(r["stop"]) if r["stop"] else float("nan")
        a.seen_after_s = r["at"] - a.left_at if a.left_at else float("nan")
        if a.state != "cancelled":
            problems.append(f"KEPT RUNNING: the job of visitor {a.client} ({a.how}) ended "
                            f"{a.state} ({r['reason']}) after {a.queries} model calls")
        elif not a.seen_after_s <= args.max_stop_s:
            problems.append(f"SLOW STOP: the job of visitor {a.client} ({a.how}) stopped "
                            f"{a.seen_after_s:.1f} s after the visitor left")
    return problems


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
           jobs_on_disk: int | None, abandons: list | None = None,
           problems: list | None = None) -> tuple[str, dict]:
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
        "abandoned": [asdict(a) for a in abandons or []],
        "abandon_problems": list(problems or []),
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
    if abandons:
        waits = [a.next_wait_s for a in abandons if a.next_wait_s == a.next_wait_s]
        seen = [a.seen_after_s for a in abandons if a.seen_after_s == a.seen_after_s]
        stopped = sum(a.state == "cancelled" for a in abandons)
        summary["next_wait_s"] = {"p50": pct(waits, 50), "max": max(waits, default=float("nan"))}
        summary["stopped_after_s"] = {"p50": pct(seen, 50), "max": max(seen, default=float("nan"))}
        lines += [
            f"{len(abandons)} visitors abandoned a {args.abandon_budget}-call job after "
            f"{args.abandon_after:g} s of it ({sum(a.how == 'closed page' for a in abandons)} closed "
            f"the page, {sum(a.how == 'client cancel' for a in abandons)} cancelled from the client)",
            "",
            "| abandoned | stopped (record: cancelled) | stopped after leaving, p50 / max s "
            "| their next 50-call job, p50 / max s |",
            "|---|---|---|---|",
            f"| {len(abandons)} | {stopped} | {f(pct(seen, 50))} / {f(max(seen, default=float('nan')))} "
            f"| {f(pct(waits, 50))} / {f(max(waits, default=float('nan')))} |",
            "",
        ]
        for a in abandons:
            lines.append(f"visitor {a.client} ({a.how}): ran {a.ran_s:.1f} s, "
                         f"{a.queries} model calls, record {a.state or '-'}, stopped "
                         f"{f(a.seen_after_s)} s after leaving, next job {f(a.next_wait_s)} s")
        lines.append("")
    for p in problems or []:
        lines.append(p)
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
    p.add_argument("--abandon-clients", type=int, default=0,
                   help="visitors who start a standard job and leave (closed page, cancel)")
    p.add_argument("--abandon-budget", type=int, default=1000,
                   help="model calls of the job an abandoning visitor starts")
    p.add_argument("--abandon-after", type=float, default=4.0,
                   help="seconds the abandoned job runs before its visitor leaves")
    p.add_argument("--max-stop-s", type=float, default=3.0,
                   help="fail when an abandoned job is still running this long after")
    p.add_argument("--warm", action="store_true", help="let the server rebuild the examples")
    p.add_argument("--url", help="an app already running on loopback (default: start one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the summary (and the memory samples) here")
    args = p.parse_args(argv)
    if not (1 <= args.clients <= 200 and 1 <= args.requests <= 50
            and 0 <= args.abandon_clients <= 50):
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
        solo = solo_job_seconds(url, args)  # the small job alone: what a wait compares with
        print(f"a {args.duration:g} s, 50-call job alone: {solo:.1f} s", flush=True)
        deadline = time.time() + args.max_seconds
        outcomes: list[Outcome] = []
        lock = threading.Lock()
        threads = [threading.Thread(target=client_loop,
                                    args=(i, url, args, files, deadline, outcomes, lock),
                                    daemon=True) for i in range(args.clients)]
        abandons: list[Abandon] = []
        threads += [threading.Thread(target=abandon_loop,
                                     args=(i, url, args, deadline, abandons, lock), daemon=True)
                    for i in range(args.abandon_clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(max(1.0, deadline + 30 - time.time()))
        wall = time.time() - (deadline - args.max_seconds)  # the load, after the solo job
        time.sleep(2.0)  # memory after the load
        stop.set()
        if watcher:
            watcher.join(5)
        server_ok = proc is None or proc.poll() is None
        jobs = None
        if tmp is not None and (tmp / "freqrex-app" / "jobs").is_dir():
            jobs = sum(1 for q in (tmp / "freqrex-app" / "jobs").iterdir() if q.is_dir())
        with lock:
            got, left = list(outcomes), list(abandons)
        problems = []
        if args.abandon_clients:
            if tmp is None:
                problems.append("abandoned work is checked on the server's log: pass no --url")
            else:
                problems = check_abandons(left, tmp / "server.log", args)
                if len(left) != args.abandon_clients:
                    problems.append(f"NOT ACCOUNTED: {args.abandon_clients - len(left)} "
                                    "abandoning visitors have no outcome")
        text, summary = report(args, got, samples, wall, server_ok, jobs, left, problems)
        summary["solo_small_job_s"] = solo
        print(text)
        if args.json:
            summary["samples"] = asdict(samples)
            Path(args.json).write_text(json.dumps(summary, indent=1, default=float))
        bad = (summary["failed"] or not summary["accounted"] or not server_ok
               or summary["server_rss_mb"]["peak"] > args.max_rss_mb or problems)
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
