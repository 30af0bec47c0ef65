"""Following the logs of one service or several, interleaved, for the page's event stream.

One thread per service reads the engine's log stream of the service's container (the Docker SDK,
``follow`` with timestamps). A container that stops ends its stream; the thread waits for the
service to run again (a restart, a recreate by ``up``) and carries on from where it was, so a
page keeps following across a restart. The last ``tail`` lines of every service come first, in
time order, then live lines as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from devenv.stack.compose import COMPOSE_PROJECT, COMPOSE_SERVICE
from devenv.ui.board import Board

#: A line: (timestamp as the engine wrote it, service, text).
Line = tuple[str, str, str]


class Follower:
    """Lines of ``services`` until :meth:`close`."""

    def __init__(self, board: Board, services: Sequence[str], tail: int = 200) -> None:
        self.board = board
        self.services = list(services)
        self.tail = tail
        self._stop = threading.Event()
        self._streams: list[Any] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            streams = list(self._streams)
        for s in streams:
            with contextlib.suppress(Exception):
                s.close()

    async def lines(self) -> AsyncIterator[list[Line]]:
        """Batches of lines: the tails first (merged by time), then live ones."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[Line]] = asyncio.Queue(maxsize=5000)
        first = await asyncio.gather(*(asyncio.to_thread(self._tail_of, s) for s in self.services))
        merged = sorted((ln for batch in first for ln in batch), key=lambda ln: ln[0])
        if merged:
            yield merged[-self.tail * max(1, len(self.services)) :]
        since = {
            s: (batch[-1][0] if batch else "")
            for s, batch in zip(self.services, first, strict=True)
        }
        for s in self.services:
            threading.Thread(
                target=self._follow,
                args=(s, since[s], loop, queue),
                name=f"devenv-ui-logs-{s}",
                daemon=True,
            ).start()
        try:
            while not self._stop.is_set():
                try:  # woken now and then to see whether it was closed
                    batch = await asyncio.wait_for(queue.get(), 0.5)
                except TimeoutError:
                    continue
                # Whatever else is waiting goes in the same message.
                while not queue.empty() and len(batch) < 500:
                    batch = batch + queue.get_nowait()
                yield batch
        finally:
            self.close()

    # -- engine side (threads) -----------------------------------------------------------------

    def _container(self, service: str) -> Any:
        client = self.board.stack.engine.client
        found = client.containers.list(
            all=True,
            filters={
                "label": [
                    f"{COMPOSE_PROJECT}={self.board.cfg.name}",
                    f"{COMPOSE_SERVICE}={service}",
                ]
            },
        )
        return found[0] if found else None

    def _tail_of(self, service: str) -> list[Line]:
        c = self._container(service)
        if c is None:
            return []
        raw = c.logs(stream=False, timestamps=True, tail=self.tail)
        return _split(service, raw.decode("utf-8", "replace"))

    def _follow(
        self,
        service: str,
        since: str,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[list[Line]],
    ) -> None:
        last = since
        while not self._stop.is_set():
            try:
                c = self._container(service)
                if c is None or c.status != "running":
                    self._stop.wait(0.3)
                    continue
                kwargs: dict[str, Any] = {"stream": True, "follow": True, "timestamps": True}
                start = _parse(last)
                if start is not None:
                    # Whole seconds would repeat lines: the engine takes fractions (and the
                    # lines up to ``last`` are dropped below all the same).
                    kwargs["since"] = start.timestamp()
                else:
                    kwargs["tail"] = 0
                stream = c.logs(**kwargs)
                with self._lock:
                    self._streams.append(stream)
                pending = ""
                try:
                    for chunk in stream:
                        if self._stop.is_set():
                            break
                        pending += chunk.decode("utf-8", "replace")
                        text, _, pending = pending.rpartition("\n")
                        lines = [ln for ln in _split(service, text) if ln[0] > last]
                        if lines:
                            last = lines[-1][0]
                            loop.call_soon_threadsafe(_offer, queue, lines)
                finally:
                    with self._lock:
                        if stream in self._streams:
                            self._streams.remove(stream)
            except Exception:  # the container went away mid-stream: look for it again
                pass
            self._stop.wait(0.3)


def _split(service: str, text: str) -> list[Line]:
    out = []
    for raw in text.splitlines():
        stamp, _, rest = raw.partition(" ")
        if not stamp[:1].isdigit():  # a line without the engine's timestamp
            stamp, rest = "", raw
        out.append((stamp, service, rest))
    return out


def _parse(stamp: str) -> datetime | None:
    """The engine's RFC 3339 nanosecond timestamp, to the microsecond (what ``since`` takes)."""
    if not stamp:
        return None
    head, _, rest = stamp.partition(".")
    frac = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{frac or '0'}+00:00")
    except ValueError:
        return None


def _offer(queue: asyncio.Queue[list[Line]], lines: list[Line]) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(lines)
