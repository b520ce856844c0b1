"""The page's time estimates come from this server's measured speed: a real model slowed by a
known sleep per waveform (registered as a model id), timed at start-up, then explained through
the real server with the Gradio client; the estimate before the job and the one shown while it
runs are held against the clock."""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

from freqrex_app import models  # noqa: E402
from freqrex_app.web.sentences import estimate_md  # noqa: E402
from freqrex_app.web.limits import Limits  # noqa: E402
from freqrex_app.web.speed import SPEED, JobPlan, SpeedMeter  # noqa: E402
from freqrex_app.web.board import RUNNING  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "examples" / "metal.ogg"
SLOW = "slowed-msd-musicnn"
SLEEP_PER_WAVE = 0.04  # seconds added to every waveform the model classifies
BUDGET, DURATION = 150, 3.0


class Slowed:
    """msd-musicnn (real weights), sleeping ``SLEEP_PER_WAVE`` s per waveform it classifies."""

    def __init__(self, model):
        self._model = model
        self.name, self.sample_rate, self.labels = SLOW, model.sample_rate, list(model.labels)

    def predict(self, waves):
        waves = np.asarray(waves)
        time.sleep(SLEEP_PER_WAVE * len(waves))
        return self._model.predict(waves)


def _seconds(text: str, what: str) -> float:
    """The seconds in 'about 42 s' / 'about 2.5 min' / 'about 0.4 s' of ``text``."""
    m = re.search(rf"about ([\d.]+) (s|min) {what}", text)
    assert m, f"no 'about ... {what}' in {text!r}"
    return float(m.group(1)) * (60.0 if m.group(2) == "min" else 1.0)


@pytest.fixture(scope="module")
def app_limits(tmp_path_factory):
    """The served app's limits, with the slowed model registered (and its speed forgotten)
    for as long as the app serves."""
    models.register_model(SLOW, lambda device=None: Slowed(
        models.load_model("msd-musicnn", labels_view="all", device=device)),
        "msd-musicnn slowed by a sleep (tests)")
    SPEED.forget()
    yield Limits(max_source_s=120.0, max_excerpt_s=10.0, default_excerpt_s=DURATION,
                 max_budget=BUDGET, concurrency=1, queue_size=4,
                 cache=tmp_path_factory.mktemp("estimate-cache"))
    models._REGISTRY.pop(SLOW, None)


@pytest.fixture(scope="module")
def app_options() -> dict:
    return {"calibrate": [SLOW]}  # timed at start-up


@pytest.fixture(scope="module")
def timed(served):
    """The served app once its start-up timing has finished."""
    served.demo.freqrex_timing.join(300)
    return served


def test_a_model_never_run_here_has_no_invented_estimate():
    meter = SpeedMeter()
    assert meter.estimate(JobPlan(("never-run",), 1000, 10.0)) is None
    text = estimate_md("never-run-model", 1000, 10.0, Limits())
    assert "not known yet" in text and "never-run-model has not run on this server" in text


def test_the_speed_follows_the_excerpt_length_and_the_recent_jobs():
    meter = SpeedMeter()
    meter.record_calls("m", 1.0, 10, 10 * 0.11)  # 0.1 s + 0.01 s per second of audio
    meter.record_calls("m", 10.0, 10, 10 * 0.2)
    assert meter.seconds_per_wave("m", 5.0) == pytest.approx(0.15, rel=1e-6)  # the line
    assert meter.seconds_per_wave("m", 10.5) == pytest.approx(0.2)  # the same length
    meter.record_calls("m", 10.0, 10, 10 * 0.4)  # the server got slower
    assert meter.seconds_per_wave("m", 10.0) == pytest.approx(0.3)  # recent ones count
    plan = JobPlan(("m", "m"), 100, 10.0)  # a second model doubles the calls
    assert meter.estimate(plan) == pytest.approx(2 * 100 * 0.3)


@pytest.mark.slow
def test_estimates_before_and_during_a_job_are_within_a_factor_of_1_5(timed, client,
                                                                      app_limits):
    demo, limits = timed.demo, app_limits
    assert SPEED.measured(SLOW), "the start-up timing did not time the slowed model"
    text = estimate_md(SLOW, BUDGET, DURATION, limits)
    before = _seconds(text, "for a")
    assert before > BUDGET * SLEEP_PER_WAVE * 0.5, text  # the sleep alone is 6 s

    board = demo.freqrex_board
    job = client.submit(handle_file(str(CLIP)), SLOW, "all", 2.0, DURATION, BUDGET, 0, True,
                        "", "", api_name="/explain")
    during = None
    deadline = time.time() + 600
    while not job.done() and time.time() < deadline:
        running = [t for t in board.line() if t.state == RUNNING and t.model_id == SLOW]
        if running and running[0].queries >= 0.4 * BUDGET and during is None:
            t = running[0]
            status = board.status(t.visitor)
            during = time.time() - t.started_at + _seconds(status, "left")
        time.sleep(0.1)
    d, _, _ = job.result(timeout=60)
    assert d["model"] == SLOW and d["queries"] > 0.4 * BUDGET
    ticket = board.record()[-1]
    assert ticket["state"] == "done" and ticket["model"] == SLOW
    truth = ticket["ended_at"] - ticket["started_at"]
    assert during is not None, "the job ended before its status was read at 40% of its calls"
    print(f"slowed model, {BUDGET} calls on {DURATION:g} s: took {truth:.1f} s; estimated "
          f"{before:.1f} s before, {during:.1f} s at 40% of the calls")
    for name, estimate in (("before", before), ("during", during)):
        assert truth / 1.5 <= estimate <= truth * 1.5, (
            f"the estimate {name} the job, {estimate:.1f} s, is not within a factor of 1.5 "
            f"of the {truth:.1f} s it took")
    # the job measured the speed again: the next estimate is from it
    after = _seconds(estimate_md(SLOW, BUDGET, DURATION, limits), "for a")
    assert truth / 1.5 <= after <= truth * 1.5, (after, truth)
