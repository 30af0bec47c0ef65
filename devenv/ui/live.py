"""Live updates: the latest state of the stack, kept fresh, and fanned out to every open page.

- Services: the engine's event stream, filtered by the stack's compose project label, wakes a
  refresh at once (a container that stops, starts, dies or changes health is on the page within
  the time one status takes); a short periodic probe (every ``probe_s``) catches what no engine
  event announces (GoTrue losing its database, the gateway losing GoTrue).
- The mock's journal, the mail catcher and the startup trace are polled while a page is open,
  and sent when they change.

Subscribers are asyncio queues (one per open event stream); the threads hand messages to them
through their loop, so nothing here blocks the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devenv.ui.board import Board, error_line

#: Container actions that change what the services table shows (health_status: ... included).
_CONTAINER_ACTIONS = frozenset(
    {
        "create",
        "start",
        "restart",
        "die",
        "stop",
        "kill",
        "oom",
        "pause",
        "unpause",
        "destroy",
        "health_status",
    }
)


#: What an engine event means for a service's row before the next status says more.
_EVENT_PATCH: dict[str, dict[str, str]] = {
    "kill": {"state": "stopping", "level": "bad", "why": "being stopped"},
    "die": {"state": "exited", "level": "bad", "why": "its container exited"},
    "stop": {"state": "exited", "level": "bad", "why": "its container exited"},
    "oom": {"state": "exited", "level": "bad", "why": "out of memory"},
    "destroy": {"state": "missing", "level": "bad", "why": "its container was removed"},
}


#: What a subscriber's queue receives when the server stops: its stream ends.
CLOSED = ""


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str]


@dataclass
class Hub:
    board: Board
    #: GoTrue logs every probe's sign-in: often enough to notice, rarely enough to read its log.
    probe_s: float = 2.0
    poll_s: float = 0.5
    _subs: list[_Subscriber] = field(default_factory=list)
    _followers: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _last: dict[str, str] = field(default_factory=dict)
    _events_stream: Any = None
    _patched: float = 0.0
    #: The latest services snapshot (what a page opened now shows at once).
    services: dict[str, Any] | None = None
    services_error: str = ""
    action: dict[str, Any] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in (
            (self._services_loop, "devenv-ui-services"),
            (self._events_loop, "devenv-ui-events"),
            (self._poll_loop, "devenv-ui-poll"),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop the threads and end every open stream (so a Ctrl-C does not wait for pages to
        go away)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            subs, followers = list(self._subs), list(self._followers)
        for s in subs:
            with contextlib.suppress(RuntimeError):
                s.loop.call_soon_threadsafe(_offer, s.queue, CLOSED)
        for f in followers:
            f.close()
        stream = self._events_stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def refresh_now(self) -> None:
        """Ask for a services refresh as soon as possible (after an action)."""
        self._wake.set()

    # -- subscribers ---------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subs.append(_Subscriber(asyncio.get_running_loop(), q))
            # A new page gets what the others already have, so it never waits for a change.
            current = dict(self._last)
        for message in current.values():
            q.put_nowait(message)
        self._wake.set()
        return q

    def unsubscribe(self, q: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if s.queue is not q]

    def track(self, follower: Any) -> None:
        """A log stream to end with the server (anything with ``close()``)."""
        with self._lock:
            self._followers.append(follower)

    def untrack(self, follower: Any) -> None:
        with self._lock:
            self._followers = [f for f in self._followers if f is not follower]

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def watched(self) -> bool:
        with self._lock:
            return bool(self._subs)

    def publish(self, event: str, data: Any, *, keep: bool = True) -> None:
        """Send ``event`` to every open page; ``keep`` remembers it for pages opened later."""
        message = f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"
        with self._lock:
            if keep:
                self._last[event] = message
            subs = list(self._subs)
        for s in subs:
            with contextlib.suppress(RuntimeError):  # its loop has closed: it is leaving
                s.loop.call_soon_threadsafe(_offer, s.queue, message)

    # -- services ------------------------------------------------------------------------------

    def refresh_services(self) -> None:
        began = time.monotonic()
        try:
            snap = self.board.services()
        except Exception as exc:  # the engine went away, a probe broke: say so on the page
            self.services_error = error_line(exc)
            self.publish("problem", {"what": "services", "message": self.services_error})
            return
        if self._patched > began:
            return  # an event said more since this began: the next refresh (woken) tells
        changed = self.services is None or _without_time(snap) != _without_time(self.services)
        self.services, self.services_error = snap, ""
        if changed:  # the probe every second sends only what changed
            self.publish("services", snap)

    def _services_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.refresh_services()
            self._wake.wait(self.probe_s)
            # Events come in bursts (kill, stop, die): one refresh for the burst.
            if self._wake.is_set() and not self._stop.is_set():
                time.sleep(0.02)

    def _events_loop(self) -> None:
        from devenv.stack.compose import COMPOSE_PROJECT

        label = f"{COMPOSE_PROJECT}={self.board.cfg.name}"
        while not self._stop.is_set():
            try:
                client = self.board.stack.engine.client
                stream = client.events(decode=True, filters={"type": "container", "label": label})
                self._events_stream = stream
                for ev in stream:
                    if self._stop.is_set():
                        break
                    action = str(ev.get("Action") or ev.get("status") or "")
                    if action.split(":")[0] in _CONTAINER_ACTIONS:
                        self._at_once(ev, action)
                        self._wake.set()
            except Exception:  # the engine restarted or is gone: the periodic probe says so
                pass
            finally:
                self._events_stream = None
            self._stop.wait(1.0)

    def _at_once(self, ev: dict[str, Any], action: str) -> None:
        """What an event alone says for certain (a container stopping, gone, unhealthy) is on the
        page before the refresh it wakes has asked the engine and probed every service."""
        from devenv.stack.compose import COMPOSE_SERVICE

        attributes = (ev.get("Actor") or {}).get("Attributes") or {}
        patch = _EVENT_PATCH.get(action.split(":")[0])
        if action == "kill" and attributes.get("signal") not in ("9", "15"):
            patch = None  # a reload (HUP) and the like: nothing is going away
        if action.startswith("health_status") and action.endswith("unhealthy"):
            patch = {"health": "unhealthy", "level": "bad"}
        service = attributes.get(COMPOSE_SERVICE)
        snap = self.services
        if patch is None or snap is None or not service:
            return
        rows = [
            {**row, **patch, "started_at": None} if row.get("name") == service else row
            for row in snap.get("services", [])
        ]
        if rows == snap.get("services"):
            return
        self._patched = time.monotonic()
        self.services = {**snap, "services": rows, "at": time.time()}
        self.publish("services", self.services)

    # -- journal, mail, trace ------------------------------------------------------------------

    def _poll_loop(self) -> None:
        seen: dict[str, Any] = {}
        while not self._stop.is_set():
            if self.watched:
                for what, stamp, send in self._feeds():
                    try:
                        current = stamp()
                        if seen.get(what) != current:
                            seen[what] = current
                            send()
                    except Exception as exc:
                        # Unreachable now (a stopped service): said once, tried again later.
                        if seen.get(what) != ("error", error_line(exc)):
                            seen[what] = ("error", error_line(exc))
                            self.publish(what, {"error": error_line(exc)})
            self._stop.wait(self.poll_s)

    def _feeds(self) -> list[tuple[str, Callable[[], Any], Callable[[], None]]]:
        b = self.board
        feeds: list[tuple[str, Callable[[], Any], Callable[[], None]]] = [
            ("trace", b.trace_stamp, lambda: self.publish("trace", {"trace": b.trace()}))
        ]
        if "fireworks" in b.cfg.services:
            feeds.append(("journal", b.journal_stamp, lambda: self.publish("journal", b.journal())))
        if b.mail_enabled():
            feeds.append(
                ("mail", b.mail_newest, lambda: self.publish("mail", {"messages": b.mail()}))
            )
        return feeds

    def resend(self, what: str) -> None:
        """Publish ``what`` again now (after the page changed it: faults, a cleared journal)."""
        b = self.board
        try:
            if what == "journal":
                self.publish("journal", b.journal())
            elif what == "mail":
                self.publish("mail", {"messages": b.mail()})
            elif what == "trace":
                self.publish("trace", {"trace": b.trace()})
        except Exception as exc:
            self.publish(what, {"error": error_line(exc)})


def _without_time(snap: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snap.items() if k != "at"}


def _offer(queue: asyncio.Queue[str], message: str) -> None:
    if queue.full():  # a page that stopped reading loses the oldest, not the server its memory
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(message)
