"""The playground's line of explanations (the :class:`Board` of tickets), shared by the page and
the API: one ticket per visitor (at most one explanation running or waiting each, a visitor
being a client address: :mod:`visitors`), a line of bounded length claimed atomically, the order of the line and honest waits, cancellation from
every path (the Cancel button, a closed page, a client's cancel), the engine's slots, and a
record of every job. No Gradio: the app tells it about sessions and events.

A ticket is *claimed* when a request arrives, before it waits in Gradio's queue, so that the
line and its costs are known; it *runs* under :meth:`Board.run`, which waits for an engine slot
(a cancelled job may still be stopping), and it ends exactly once, in the record.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from .format import fmt_seconds, short
from .errors import Cancelled, JobError
from .speed import SPEED, JobPlan

log = logging.getLogger("freqrex.app")

__all__ = ["Ticket", "Board", "Busy", "WAITING", "RUNNING", "DONE", "CANCELLED", "FAILED"]

WAITING, RUNNING, DONE, CANCELLED, FAILED = "waiting", "running", "done", "cancelled", "failed"
T = TypeVar("T")

#: A claimed ticket whose request never reached the queue (e.g. the queue was full) is
#: forgotten after this many seconds.
CLAIM_GRACE_S = 5.0


class Busy(JobError):
    """This visitor already has an explanation running or waiting, or the line is full."""


@dataclass
class Ticket:
    """One explanation of one visitor (from one session), from its request to its end."""

    session: str
    model_id: str
    calls: int
    duration: float
    visitor: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    state: str = WAITING
    claimed_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    cancel_requested_at: float | None = None
    reason: str = ""  # why it was cancelled, or why it failed
    queries: int = 0  # waveforms the model has classified for it
    queries_at_cancel: int | None = None
    shown: bool = False  # the page showed a provisional picture of it
    compare_id: str = ""  # a second model explained after the first (same budget)
    first_call_at: float | None = None  # when the model classified its first waveform
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self, reason: str) -> bool:
        """Ask the job to stop (the first reason counts); False when it had already ended."""
        if self.ended:
            return False
        if not self._stop.is_set():
            self.cancel_requested_at = time.time()
            self.queries_at_cancel = self.queries
            self.reason = reason
            self._stop.set()
        return True

    @property
    def stop_seconds(self) -> float | None:
        """From the cancel request to the moment the job's thread was done."""
        if self.cancel_requested_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.cancel_requested_at)

    @property
    def queries_after_cancel(self) -> int | None:
        if self.queries_at_cancel is None:
            return None
        return self.queries - self.queries_at_cancel

    def plan(self) -> JobPlan:
        models = (self.model_id, self.compare_id) if self.compare_id else (self.model_id,)
        return JobPlan(models, int(self.calls), float(self.duration))

    def count(self, queries: int) -> None:
        """The model has classified ``queries`` waveforms for this job so far."""
        if queries > 0 and self.first_call_at is None:
            self.first_call_at = time.time()
        self.queries = queries

    def estimate_s(self) -> float | None:
        """Seconds this job takes from its start (this server's measured speed; None when a
        model of it has never run here)."""
        return SPEED.estimate(self.plan())

    def remaining_s(self, now: float) -> float | None:
        """Seconds until this job is done: its whole estimate while it waits, then from its
        own rate (see :meth:`SpeedMeter.remaining`)."""
        if self.cancelled:
            return 1.0  # it stops at its next model call
        if self.state != RUNNING or self.started_at is None:
            return self.estimate_s()
        since = None if self.first_call_at is None else now - self.first_call_at
        left = SPEED.remaining(self.plan(), self.queries, now - self.started_at, since)
        return None if left is None else max(1.0, left)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "session": self.session, "visitor": self.visitor,
                "state": self.state,
                "model": self.model_id, "calls": self.calls, "duration": self.duration,
                "claimed_at": self.claimed_at, "started_at": self.started_at,
                "ended_at": self.ended_at, "cancel_requested_at": self.cancel_requested_at,
                "reason": self.reason, "queries": self.queries,
                "queries_after_cancel": self.queries_after_cancel,
                "stop_seconds": self.stop_seconds}


class Board:
    """The tickets of one app: claimed (waiting or running), and the record of ended ones.
    At most ``concurrency + queue_size`` tickets are in play at once (claimed under one lock:
    concurrent requests cannot overshoot)."""

    def __init__(self, concurrency: int = 1, history: int = 500, queue_size: int | None = None):
        self.concurrency = max(1, int(concurrency))
        self.queue_size = None if queue_size is None else max(0, int(queue_size))
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._active: dict[str, Ticket] = {}  # visitor -> its current ticket
        self._stopping: list[Ticket] = []  # cancelled, still running: they hold a slot
        self.history: deque[Ticket] = deque(maxlen=history)

    # ---------------------------------------------------------------- visitors

    @staticmethod
    def _busy(t: Ticket | None) -> str | None:  # under self._lock
        if t is None or t.cancelled or t.ended:
            return None
        what = "is running" if t.state == RUNNING else "is waiting in line"
        return (f"Your explanation {what}: one at a time per visitor. Wait for it, or press "
                "Cancel, then try again.")

    def busy_message(self, visitor: str) -> str | None:
        """Why ``visitor`` may not start another explanation now (None: it may)."""
        with self._lock:
            return self._busy(self._active.get(visitor))

    def claim(self, visitor: str, model_id: str, calls: int, duration: float,
              *, session: str | None = None,
              pending: Callable[[str], bool] | None = None) -> Ticket:
        """A new ticket for ``visitor`` (from ``session``); :class:`Busy` when the visitor
        already has one in play or the line is full. ``pending(visitor)`` (from the app's
        queue) lets claims that never queued expire."""
        self.forget_lost(pending)
        ticket = Ticket(session=session or visitor, model_id=model_id, calls=int(calls),
                        duration=float(duration), visitor=visitor)
        with self._lock:  # the check and the claim in one step
            old = self._active.get(visitor)
            message = self._busy(old)
            if message is not None:
                raise Busy(message)
            if self.queue_size is not None:
                in_play = sum(1 for t in self._active.values() if not t.ended and not t.cancelled)
                if in_play >= self.concurrency + self.queue_size:
                    raise Busy(f"The line is full ({self.queue_size} waiting): try again in a "
                               "few minutes.")
            if old is not None and not old.ended:  # cancelled: it stops, or never starts
                if old.state == WAITING:
                    self._end(old, CANCELLED)
                else:
                    self._stopping.append(old)
            self._active[visitor] = ticket
        return ticket

    def ticket(self, visitor: str) -> Ticket | None:
        """The visitor's current ticket (waiting or running), if any."""
        with self._lock:
            t = self._active.get(visitor)
        return None if t is None or t.ended else t

    def of_session(self, session: str) -> Ticket | None:
        """The current ticket claimed from ``session``, if any."""
        with self._lock:
            return next((t for t in self._active.values()
                         if t.session == session and not t.ended), None)

    def cancel(self, visitor: str | None, reason: str, *, session: str | None = None
               ) -> Ticket | None:
        """Stop the explanation of ``visitor`` (or the one claimed from ``session``), waiting or
        running (None: there was none)."""
        if visitor is not None:
            with self._lock:
                t = self._active.get(visitor)
        else:
            t = self.of_session(session or "")
        if t is None or not t.cancel(reason):
            return None
        if t.state == WAITING:  # it will not start; its request, if it comes, ends at once
            with self._lock:
                self._end(t, CANCELLED)
        return t

    def forget_lost(self, pending: Callable[[str], bool] | None) -> None:
        """End waiting tickets whose request is not in the app's queue (after a grace)."""
        if pending is None:
            return
        now = time.time()
        with self._lock:
            lost = [t for t in self._active.values()
                    if t.state == WAITING and now - t.claimed_at > CLAIM_GRACE_S
                    and not pending(t.visitor)]
            for t in lost:
                t.reason = "its request never reached the queue"
                self._end(t, FAILED)

    # ---------------------------------------------------------------- running

    def run(self, ticket: Ticket, work: Callable[[Callable[[], bool]], T],
            abandoned: Callable[[], str | None] | None = None) -> T:
        """Run ``work(should_stop)`` for ``ticket`` in an engine slot and record how it ended.

        ``should_stop`` is True once the ticket is cancelled or ``abandoned()`` names a reason
        (a closed page, a client's cancel), which then cancels the ticket."""
        def should_stop() -> bool:
            if ticket.cancelled:
                return True
            reason = abandoned() if abandoned is not None else None
            if reason:
                ticket.cancel(reason)
                return True
            return False

        acquired = False
        try:
            while not acquired:  # a cancelled job may still be stopping: wait for its slot
                if should_stop():
                    raise Cancelled()
                acquired = self._slots.acquire(timeout=0.1)
            if should_stop():
                raise Cancelled()
            with self._lock:
                ticket.state = RUNNING
                ticket.started_at = time.time()
            log.info("job %s start: visitor %s, %s, %d model calls on %.1f s, waited %.1f s",
                     ticket.id, ticket.visitor, ticket.model_id, ticket.calls, ticket.duration,
                     ticket.started_at - ticket.claimed_at)
            result = work(should_stop)
        except Cancelled:
            ticket.cancel(ticket.reason or "cancelled")
            self._finish(ticket, CANCELLED)
            raise
        except JobError as exc:
            ticket.reason = str(exc)
            self._finish(ticket, FAILED)
            raise
        except BaseException as exc:
            ticket.reason = f"{type(exc).__name__}: {exc}"
            self._finish(ticket, FAILED)
            raise
        finally:
            if acquired:
                self._slots.release()
        self._finish(ticket, DONE)
        return result

    # ---------------------------------------------------------------- the line

    def line(self, pending: Callable[[str], bool] | None = None) -> list[Ticket]:
        """Running tickets, then waiting ones in the order they came."""
        self.forget_lost(pending)
        with self._lock:
            tickets = [t for t in self._active.values() if not t.ended]
            stopping = [t for t in self._stopping if not t.ended]
        running = [t for t in tickets if t.state == RUNNING]
        waiting = sorted((t for t in tickets if t.state == WAITING), key=lambda t: t.claimed_at)
        return stopping + running + waiting

    def status(self, visitor: str, pending: Callable[[str], bool] | None = None) -> str:
        """One or two lines for ``visitor``: its place in line and an estimate of the wait,
        or its progress (empty when it has nothing in play)."""
        now = time.time()
        line = self.line(pending)
        mine = next((t for t in line if t.visitor == visitor and not t.cancelled), None)
        if mine is None:
            return ""
        if mine.state == RUNNING:
            left = mine.remaining_s(now)
            when = ("time left: measured after its first model calls" if left is None
                    else f"about {fmt_seconds(left)} left")
            return (f"**Running**: {mine.queries:,} of {mine.plan().calls:,} model calls · "
                    f"{when}")
        ahead = line[:line.index(mine)]
        busy = [t.remaining_s(now) for t in ahead]
        mine_s = mine.estimate_s()
        wait = ("a wait this server has not measured yet" if None in busy else
                f"about {fmt_seconds(_wait(busy, self.concurrency))}")
        yours = ("an unmeasured time for yours (this model has not run here yet)"
                 if mine_s is None else f"about {fmt_seconds(mine_s)} for yours")
        return (f"**Waiting in line: number {len(ahead) + 1}** · {wait} before yours starts "
                f"({len(ahead)} ahead), then {yours} · from this server's measured speed")

    # ---------------------------------------------------------------- the record

    def _finish(self, ticket: Ticket, state: str) -> None:
        with self._lock:
            self._end(ticket, state)

    def _end(self, ticket: Ticket, state: str) -> None:  # under self._lock
        if ticket.ended:
            return
        ticket.state = state
        ticket.ended_at = time.time()
        if self._active.get(ticket.visitor) is ticket:
            del self._active[ticket.visitor]
        if ticket in self._stopping:
            self._stopping.remove(ticket)
        self.history.append(ticket)
        # one line per job: how it ended, its calls and seconds, and a cancel's stopping time
        ran = 0.0 if ticket.started_at is None else ticket.ended_at - ticket.started_at
        stop = ("" if ticket.stop_seconds is None else
                f", cancelled: stopped {ticket.stop_seconds:.2f} s after the request, "
                f"{ticket.queries_after_cancel} model calls after it")
        log.info("job %s end: %s%s, %d model calls, %.1f s running, %.1f s in all%s "
                 "(visitor=%s, session=%s)", ticket.id, state,
                 f" ({short(ticket.reason, 120)})" if ticket.reason else "", ticket.queries, ran,
                 ticket.ended_at - ticket.claimed_at, stop, ticket.visitor,
                 short(ticket.session, 100)[:8])

    def record(self, visitor: str | None = None) -> list[dict[str, Any]]:
        """Ended tickets, oldest first (of one visitor when given)."""
        with self._lock:
            items = list(self.history)
        return [t.to_dict() for t in items if visitor is None or t.visitor == visitor]


def _wait(busy: list[float], workers: int) -> float:
    """When the next job starts, given the jobs ahead (seconds each) and ``workers`` slots:
    the earliest-free slot takes the next job, as the queue does."""
    slots = [0.0] * max(1, workers)
    for seconds in busy:
        i = min(range(len(slots)), key=slots.__getitem__)
        slots[i] += seconds
    return min(slots)
