"""What the app needs from Gradio's queue, in one place: whether the event running now was
abandoned, which visitors have an explanation in the queue, joins admitted one at a time, and
waiting explanations nobody listens for dropped.

Gradio runs a synchronous handler in a worker thread and does not stop it: a client's
``job.cancel()`` (``POST /cancel``) cancels the asyncio task and drops the event from the
queue's running jobs, and a closed page (its heartbeat stream ends) marks the session's events
``closed``, while the thread goes on. A raw client that never opens its result stream (or
closes it) is noticed by no one but :class:`~freqrex_app.web.guard.Listeners`. These helpers
read that state (Gradio 6's ``Queue``: ``push``, ``active_jobs``, ``event_ids_to_events``,
``event_queue_per_concurrency_id``, ``Event.closed``), so that the job can stop itself.
tests/test_cancel.py and tests/test_hosting.py pin them against the real server.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from .guard import Listeners
from .visitors import visitor_of

log = logging.getLogger("freqrex.app")

__all__ = ["EXPLAIN", "current_event_id", "abandoned_check", "pending_visitors",
           "event_visitor", "admit_joins", "drop_unheard"]

EXPLAIN = "explain"  # the concurrency id of the page's and the API's explanations


def current_event_id() -> str | None:
    """The id of the queue event whose handler is running in this thread (None outside)."""
    from gradio.context import LocalContext

    return LocalContext.event_id.get(None)


def event_visitor(event, trusted: tuple[str, ...]) -> str:
    """The visitor (client address) of a queue event."""
    request = getattr(event, "request", None)
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None)
    return visitor_of(getattr(client, "host", None), headers, trusted)


def abandoned_check(blocks, event_id: str | None, *, listeners: Listeners | None = None,
                    session: str | None = None, grace_s: float = 3.0
                    ) -> Callable[[], str | None]:
    """A function that names why the running event ``event_id`` was abandoned, or None: the
    page closed, the client cancelled it, or nobody has listened for its result (no open
    stream of its session or event) for ``grace_s`` seconds."""
    queue = getattr(blocks, "_queue", None)
    if event_id is None or queue is None:
        return lambda: None
    since = time.monotonic()

    def check() -> str | None:
        event = queue.event_ids_to_events.get(event_id)
        if event is not None and getattr(event, "closed", False):
            return "page closed"
        running = any(e._id == event_id for job in list(queue.active_jobs) if job for e in job)
        if not running:
            return "cancelled by the client"
        if listeners is not None and listeners.quiet_s((session, event_id), since) > grace_s:
            return "nobody listens for the result"
        return None

    return check


def pending_visitors(blocks, trusted: tuple[str, ...],
                     concurrency_id: str = EXPLAIN) -> set[str]:
    """The visitors with an event of ``concurrency_id`` waiting or running."""
    queue = getattr(blocks, "_queue", None)
    if queue is None:
        return set()
    events = list(queue.event_ids_to_events.values())
    events += [e for job in list(queue.active_jobs) if job for e in job]
    return {event_visitor(e, trusted) for e in events
            if e.concurrency_id == concurrency_id and not e.closed}


def admit_joins(blocks, trusted: tuple[str, ...], per_visitor: int) -> None:
    """Make the queue's joins atomic and fair: one join at a time runs Gradio's size check, the
    endpoint's validator and the append (so concurrent joins cannot overshoot the bound), and a
    visitor with ``per_visitor`` events waiting or running is refused another."""
    queue = blocks._queue
    if getattr(queue, "_freqrex_admitted", False):
        return
    push = queue.push
    lock = asyncio.Lock()

    async def admitted_push(body, request, username):
        async with lock:
            visitor = visitor_of(getattr(request.client, "host", None), request.headers,
                                 trusted)
            mine = sum(1 for e in list(queue.event_ids_to_events.values())
                       if event_visitor(e, trusted) == visitor)
            if mine >= per_visitor:
                log.info("refused a queue join from %s: %d requests already in the queue",
                         visitor, mine)
                return (False, f"You have {mine} requests in the queue already: wait for them.",
                        "queue_full")
            return await push(body, request, username)

    queue.push = admitted_push
    queue._freqrex_admitted = True


async def drop_unheard(blocks, listeners: Listeners, grace_s: float,
                       on_drop: Callable[[Any], None], concurrency_id: str = EXPLAIN) -> int:
    """Remove from the queue the waiting events of ``concurrency_id`` whose client has not
    listened (no open stream of their session or event) for ``grace_s`` seconds, telling
    ``on_drop(event)`` about each; returns how many."""
    queue = getattr(blocks, "_queue", None)
    if queue is None:
        return 0
    waiting = queue.event_queue_per_concurrency_id.get(concurrency_id)
    if waiting is None:
        return 0
    now = time.monotonic()
    doomed = [e for e in list(waiting.queue)
              if listeners.quiet_s((e.session_hash, e._id), e.enqueue_time) > grace_s
              and now - e.enqueue_time > grace_s]
    for event in doomed:
        await queue.clean_events(event_id=event._id)
        on_drop(event)
    return len(doomed)
