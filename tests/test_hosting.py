"""A hosted playground that one stranger with a script cannot take down: the cheap cases of
benchmarks/abuse.py, against the real app in a server process of its own (its log read as an
operator reads it), from loopback addresses (127.0.0.x: each a different visitor).

- fair use is by client address: a fresh session hash or a forged X-Forwarded-For is the same
  visitor; concurrent joins cannot overshoot the line's bound;
- work nobody listens for stops (a REST call never fetched), while the REST form works for a
  client that fetches its result;
- uploads are bounded per request and per visitor, URL inputs are refused, malformed requests
  get one line; the preview's decode cost is bounded before it decodes (the page's handler);
- the log has one line per job and per refusal, and no traceback.
"""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from server_process import ROOT, Server

CLIP = ROOT / "assets" / "examples" / "electronic.ogg"
MODEL = "msd-musicnn"
QUEUE = 3
GRACE_S = 3.0
ENV = {"FREQREX_MAX_UPLOAD_MB": "1", "FREQREX_MAX_EXCERPT_S": "3",
       "FREQREX_DEFAULT_EXCERPT_S": "3", "FREQREX_MAX_BUDGET": "1000",
       "FREQREX_QUEUE_SIZE": str(QUEUE), "FREQREX_UPLOAD_FILES": "2",
       "FREQREX_UPLOAD_MB_PER_WINDOW": "1", "FREQREX_STREAM_GRACE_S": str(GRACE_S)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("abuse"), env=ENV)
    yield srv
    srv.stop()


def _http(address: str = "127.0.0.1", **kw) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (a loopback visitor)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60, **kw)


def _upload(http: httpx.Client, url: str, path: Path = CLIP) -> str:
    r = http.post(url + "gradio_api/upload", files={"files": (path.name, path.read_bytes())})
    assert r.status_code == 200, r.text
    return r.json()[0]


def _inputs(path: str, budget: int = 1000) -> list:
    return [{"path": path, "meta": {"_type": "gradio.FileData"}}, MODEL, "auto", 0, 3, budget,
            0, False, "", ""]


def _log(server) -> str:
    return (server.root / "server.log").read_text()


def _wait_log(server, pattern: str, count: int = 1, timeout: float = 30.0) -> list[str]:
    deadline = time.time() + timeout
    while True:
        found = re.findall(pattern, _log(server))
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.2)


def _job_ends(server) -> list[dict]:
    """The log's job lines: each end with its state, reason, calls and seconds running."""
    ends = []
    for m in re.finditer(r"job (\w+) end: (\w+)(?: \(([^)]*)\))?, (\d+) model calls, "
                         r"([\d.]+) s running", _log(server)):
        ends.append({"id": m.group(1), "state": m.group(2), "reason": m.group(3) or "",
                     "calls": int(m.group(4)), "running_s": float(m.group(5))})
    return ends


def test_the_rest_form_works_for_a_client_that_fetches_its_result(server):
    with _http("127.0.0.4") as http:
        path = _upload(http, server.url)
        r = http.post(server.url + "gradio_api/call/explain", json={"data": _inputs(path, 50)})
        assert r.status_code == 200, r.text
        event = r.json()["event_id"]
        time.sleep(1.0)  # in time: within the grace
        text = http.get(server.url + f"gradio_api/call/explain/{event}", timeout=300).text
    assert "event: complete" in text, text[-500:]
    data = json.loads(text.split("event: complete\ndata:", 1)[1].strip().splitlines()[0])
    assert data[0]["queries"] <= 50 and data[0]["label"]


def test_concurrent_joins_cannot_overshoot_the_bound_and_unheard_jobs_stop(server):
    """20 visitors join at once (released together) and never listen: at most the running
    slot and the line's places are taken, and every accepted job ends, cancelled, within a
    few seconds (the running one no more than 5 s after its client was gone)."""
    path = _upload(_http("127.0.0.2"), server.url)
    barrier = threading.Barrier(20)
    codes: list[int] = []

    def join(i: int) -> None:
        with _http(f"127.0.0.{10 + i}") as http:
            barrier.wait()
            r = http.post(server.url + "gradio_api/call/explain", json={"data": _inputs(path)})
            codes.append(r.status_code)
            assert r.status_code in (200, 422, 503), r.text
            assert "\n" not in r.text.strip(), r.text

    threads = [threading.Thread(target=join, args=(i,)) for i in range(20)]
    before = len(_job_ends(server))
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = codes.count(200)
    assert len(codes) == 20 and 1 <= accepted <= 1 + QUEUE, codes
    assert codes.count(200) + codes.count(422) + codes.count(503) == 20
    # nobody fetches: each accepted job ends, cancelled, and the worker is free again
    deadline = time.time() + 30
    while len(_job_ends(server)) < before + accepted and time.time() < deadline:
        time.sleep(0.2)
    ends = _job_ends(server)[before:]
    assert len(ends) == accepted, ends
    assert all(e["state"] == "cancelled" and e["reason"] == "nobody listens for the result"
               for e in ends), ends
    ran = [e for e in ends if e["running_s"] > 0]
    assert ran, ends  # the first one started, and was stopped
    assert all(e["running_s"] <= GRACE_S + 2.0 for e in ran), ends
    print(f"20 joins at once: {accepted} accepted (bound {1 + QUEUE}); all cancelled after "
          f"{time.time() - t0:.1f} s; the running one ran {ran[0]['running_s']:.1f} s")


def test_one_job_per_client_address_whatever_its_session_or_headers(server):
    from gradio_client import Client, handle_file

    client = Client(server.url, verbose=False)
    job = client.submit(handle_file(str(CLIP)), MODEL, duration=3.0, budget=1000, stft=False,
                        api_name="/explain")
    assert _wait_log(server, r"job \w+ start: visitor 127\.0\.0\.1,", 1, 60)
    try:
        with _http("127.0.0.1") as http:
            path = _upload(_http("127.0.0.3"), server.url)
            for session, headers in (("a-new-session", {}),
                                     ("another-one", {"X-Forwarded-For": "203.0.113.7"})):
                r = http.post(server.url + "gradio_api/queue/join", headers=headers, json={
                    "data": _inputs(path, 50), "fn_index": _fn_index(server), "session_hash":
                    session})
                assert r.status_code == 422 and "one at a time" in r.text.lower(), r.text
    finally:
        job.cancel()
    end = _wait_log(server, r"job \w+ end: cancelled \(cancelled by the client\)", 1, 15)
    assert end, _log(server)[-2000:]


def _fn_index(server) -> int:
    config = httpx.get(server.url + "config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "explain")


def test_uploads_and_inputs_are_bounded(server):
    one_mb = b"RIFF" + bytes(600 * 1024)
    with _http("127.0.0.5") as http:
        url = server.url + "gradio_api/upload"
        # three files in one request (the limit is two)
        r = http.post(url, files=[("files", (f"{i}.wav", b"RIFF" + bytes(1000))) for i in range(3)])
        assert r.status_code == 413 and "at most 2 files" in r.text, r.text
        # no declared length
        r = http.post(url, content=iter([b"--x\r\n"]),
                      headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert r.status_code == 411, r.text
        # the visitor's allowance (1 MB per window): the second 600 kB upload is refused
        assert http.post(url, files={"files": ("a.wav", one_mb)}).status_code == 200
        r = http.post(url, files={"files": ("b.wav", one_mb + b"x")})
        assert r.status_code == 429 and "allowance" in r.text, r.text
    with _http("127.0.0.6") as other:  # another visitor is not charged for it
        assert other.post(url, files={"files": ("c.wav", one_mb + b"y")}).status_code == 200
        # a remote URL is not an input (the server would download it)
        r = other.post(server.url + "gradio_api/call/explain",
                       json={"data": _inputs("https://example.com/a.wav", 50)})
        assert r.status_code == 400 and "not a URL" in r.text, r.text
        # a malformed request: one line, without its echo
        r = other.post(server.url + "gradio_api/queue/join", json={"data": "x" * 5000})
        assert r.status_code == 422 and len(r.text) < 300 and "xxxxx" not in r.text, r.text
        # a long model id is cut short in the reply
        path = _upload(_http("127.0.0.7"), server.url)
        data = _inputs(path, 50)
        data[1] = "m" * 5000
        r = other.post(server.url + "gradio_api/call/explain", json={"data": data})
        event = r.json()["event_id"]
        text = other.get(server.url + f"gradio_api/call/explain/{event}", timeout=120).text
    assert "unknown model" in text and len(text) < 1000, text


def test_the_log_has_one_line_per_job_and_refusal_and_no_traceback(server):
    log = _log(server)
    assert "Traceback" not in log, log[-3000:]
    starts = re.findall(r"job (\w+) start:", log)
    ends = {e["id"] for e in _job_ends(server)}
    assert starts and set(starts) <= ends, (starts, ends)
    refusals = [line for line in log.splitlines() if " refused " in line]
    assert len(refusals) >= 5, log[-3000:]
    assert all(len(line) < 400 for line in log.splitlines()), max(log.splitlines(), key=len)
    assert server.alive()


# ------------------------------------------------------------------ the preview (the page's)


@pytest.fixture()
def handlers(tmp_path):
    from freqrex_app.web.callbacks import Callbacks
    from freqrex_app.web.limits import Limits
    from freqrex_app.web.settings import AppSettings

    limits = Limits(cache=tmp_path / "cache", max_channels=8, preview_msamples=2.0,
                    preview_msamples_per_min=2.5)
    return Callbacks(AppSettings.from_limits(limits))


class _Req:
    """What the handler reads of a request: the client's address and headers."""

    def __init__(self, host: str, headers: dict | None = None):
        self.client = type("C", (), {"host": host})()
        self.headers = headers or {}
        self.session_hash = host


def test_the_preview_is_bounded_before_it_decodes_per_visitor_and_cached_by_content(
        handlers, tmp_path):
    rng = np.random.default_rng(0)
    wide = tmp_path / "sixteen_channels.wav"
    sf.write(wide, (0.1 * rng.standard_normal((8000, 16))).astype(np.float32), 8000)
    costly = tmp_path / "costly.wav"  # 3 M samples: over the 2 M preview limit
    sf.write(costly, (0.1 * rng.standard_normal((1_500_000, 2))).astype(np.float32), 48000)
    fair = tmp_path / "fair.wav"  # 1.2 M samples
    sf.write(fair, (0.1 * rng.standard_normal(1_200_000)).astype(np.float32), 48000)
    renamed = tmp_path / "renamed.wav"
    shutil.copy(fair, renamed)

    def upload(path, who="10.0.0.1"):
        """The preview and the toasts (gr.Warning outside a request is a UserWarning)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = handlers.on_upload(str(path), 0.0, 3.0, _Req(who))
        return out, [str(w.message) for w in caught if w.category is UserWarning
                     and "no_silent" not in str(w.message)]

    t0 = time.perf_counter()
    out, said = upload(wide)
    assert any("16 channels" in s and "at most 8" in s for s in said), said
    out, said = upload(costly)
    assert any("too costly to preview" in s for s in said), said
    assert time.perf_counter() - t0 < 1.0  # refused from the headers, nothing decoded
    # a fair file is previewed, and its copy under another name costs nothing more
    out, said = upload(fair)
    assert out[0]["visible"] is True and not said, said
    out, said = upload(renamed)
    assert out[0]["visible"] is True and not said, said
    assert handlers.previews.spent("10.0.0.1") == pytest.approx(1.2, rel=1e-3)
    # a new file over the visitor's allowance (2.5 M a minute) is refused; not for another
    other = tmp_path / "other.wav"
    sf.write(other, (0.1 * rng.standard_normal(1_400_000)).astype(np.float32), 48000)
    out, said = upload(other)
    assert any("preview allowance used" in s for s in said), said
    out, said = upload(other, "10.0.0.2")
    assert out[0]["visible"] is True and not said, said


def test_many_channels_are_read_in_bounded_memory(tmp_path):
    import tracemalloc

    from freqrex_app import load_audio

    path = tmp_path / "many.wav"  # 3 s of 128 channels at 48 kHz (37 MB of 16-bit samples)
    x = (0.1 * np.random.default_rng(1).standard_normal((144000, 128))).astype(np.float32)
    sf.write(path, x, 48000, subtype="PCM_16")
    del x
    tracemalloc.start()
    audio = load_audio(path, sample_rate=16000, start=0.0, duration=3.0)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert audio.samples.shape == (48000,)
    # read whole, the excerpt's samples alone take 70 MB as float32
    assert peak < 30, f"peak {peak:.0f} MB for 3 s of 128 channels"


def test_a_visitor_is_its_address_and_a_forwarded_hop_counts_only_from_a_trusted_proxy():
    from freqrex_app.web.limits import Limits
    from freqrex_app.web.ui import launch_options
    from freqrex_app.web.visitors import visitor_of

    forged = {"x-forwarded-for": "203.0.113.9"}
    assert visitor_of("127.0.0.1", forged, ()) == "127.0.0.1"
    assert visitor_of("192.168.1.1", forged, ("10.0.0.0/8",)) == "192.168.1.1"
    assert visitor_of("10.0.0.5", {"x-forwarded-for": "203.0.113.9, 10.0.0.5"},
                      ("10.0.0.0/8",)) == "203.0.113.9"  # the first hop
    assert visitor_of("10.0.0.5", forged, ("*",)) == "203.0.113.9"
    assert visitor_of("10.0.0.5", {"x-forwarded-for": "not an address"}, ("*",)) == "10.0.0.5"
    # uvicorn is told to believe no forwarded header: the app decides
    launch_options(Limits(cache=Path("/tmp/unused-freqrex-cache")))
    import os

    assert os.environ["FORWARDED_ALLOW_IPS"] == ""
