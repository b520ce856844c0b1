"""What the app needs to know from Gradio's queue, in one place: whether the event running now
was abandoned, and whether a session has an explanation in the queue.

Gradio runs a synchronous handler in a worker thread and does not stop it: a client's
``job.cancel()`` (``POST /cancel``) cancels the asyncio task and drops the event from the
queue's running jobs, and a closed page (its heartbeat stream ends) marks the session's events
``closed``, while the thread goes on. These helpers read that state (Gradio 6's ``Queue``:
``active_jobs``, ``event_ids_to_events``, ``Event.closed``), so that the job can stop itself.
tests/test_abandon.py pins them against the real server.
"""
from __future__ import annotations

from typing import Callable

__all__ = ["current_event_id", "abandoned_check", "has_pending"]

EXPLAIN = "explain"  # the concurrency id of the page's and the API's explanations


def current_event_id() -> str | None:
    """The id of the queue event whose handler is running in this thread (None outside)."""
    from gradio.context import LocalContext

    return LocalContext.event_id.get(None)


def abandoned_check(blocks, event_id: str | None) -> Callable[[], str | None]:
    """A function that names why the running event ``event_id`` was abandoned, or None."""
    queue = getattr(blocks, "_queue", None)
    if event_id is None or queue is None:
        return lambda: None

    def check() -> str | None:
        event = queue.event_ids_to_events.get(event_id)
        if event is not None and getattr(event, "closed", False):
            return "page closed"
        running = any(e._id == event_id for job in list(queue.active_jobs) if job for e in job)
        return None if running else "cancelled by the client"

    return check


def has_pending(blocks, session: str, concurrency_id: str = EXPLAIN) -> bool:
    """Whether ``session`` has an event of ``concurrency_id`` waiting or running."""
    queue = getattr(blocks, "_queue", None)
    if queue is None:
        return False
    for event_id in list(queue.pending_event_ids_session.get(session, ())):
        event = queue.event_ids_to_events.get(event_id)
        if event is not None and event.concurrency_id == concurrency_id and not event.closed:
            return True
    return False
