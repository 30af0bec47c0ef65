"""The request journal: a bounded ring buffer of what the mock was asked and what it answered.

Memory is bounded twice: by the number of entries (``deque(maxlen=...)``) and by what one entry
may hold (inline images are replaced by their hash before they get here; bodies larger than
``body_limit`` bytes are kept as a summary).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Entry:
    seq: int
    time: float
    method: str
    path: str
    status: int = 0
    test_id: str | None = None
    model: str | None = None
    stub: str | None = None
    # True when an API request was answered without a stub (generated reply, or an error).
    unmatched: bool = False
    fault: str | None = None
    retry_count: int | None = None
    request_hash: str | None = None
    duration_ms: float = 0.0
    error: str | None = None
    body: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "test_id": self.test_id,
            "model": self.model,
            "stub": self.stub,
            "unmatched": self.unmatched,
            "fault": self.fault,
            "retry_count": self.retry_count,
            "request_hash": self.request_hash,
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
            # Kept as the raw bytes when they are the body as sent (see keep_body).
            "body": orjson.loads(self.body) if isinstance(self.body, bytes) else self.body,
        }


@dataclass
class Journal:
    size: int = 1000
    body_limit: int = 64 * 1024
    _entries: deque[Entry] = field(init=False)
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._entries = deque(maxlen=max(1, self.size))

    def start(self, method: str, path: str) -> Entry:
        # Appended at the start so a request that hangs or drops its connection is still seen.
        with self._lock:
            self._seq += 1
            entry = Entry(self._seq, time.time(), method, path)
            self._entries.append(entry)
        return entry

    def keep_body(self, entry: Entry, body: Any, raw_size: int, raw: bytes | None = None) -> None:
        """Keep what was sent. With ``raw`` (the body needed no sanitising) the bytes are kept and
        parsed only when the journal is read: one bytes object per entry instead of a tree of
        dicts, which keeps a full journal out of the garbage collector's way at high rates."""
        if raw_size <= self.body_limit:
            entry.body = raw if raw is not None else body
        else:
            summary: dict[str, Any] = {"truncated": True, "bytes": raw_size}
            if isinstance(body, dict):
                summary["keys"] = sorted(body)[:50]
            entry.body = summary

    @property
    def total(self) -> int:
        """Requests seen since start or the last clear, including those rotated out."""
        return self._seq

    def entries(
        self,
        *,
        path: str | None = None,
        test_id: str | None = None,
        unmatched: bool | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        with self._lock:
            items = list(self._entries)
        out = [
            e
            for e in items
            if (path is None or path in e.path)
            and (test_id is None or e.test_id == test_id)
            and (unmatched is None or e.unmatched == unmatched)
        ]
        if limit is not None and limit >= 0:
            out = out[-limit:] if limit else []
        return out

    def clear(self, test_id: str | None = None) -> int:
        with self._lock:
            if test_id is None:
                n = len(self._entries)
                self._entries.clear()
                self._seq = 0
                return n
            keep = [e for e in self._entries if e.test_id != test_id]
            n = len(self._entries) - len(keep)
            self._entries.clear()
            self._entries.extend(keep)
            return n

    def __len__(self) -> int:
        return len(self._entries)
