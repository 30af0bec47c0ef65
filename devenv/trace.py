"""The startup waterfall: what the last ``devenv up`` spent its time on, one span per phase.

Lanes are the services (phases ``create``, ``start``, ``answer``: from the container's start to
devenv's first probe that got an answer, ``ready``: until it answers what apps ask) and the data
step (lane ``data``: ``migrations`` and one ``seed <set>`` span per seed set). Times are seconds
from the moment ``up`` began. ``up`` keeps the last one in the state folder (``trace.json``);
``status -o json`` returns it, ``devenv up --trace`` draws it in the terminal and the dashboard
draws it in the browser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The file in the project's state folder (.devenv/) holding the last ``up``'s trace.
TRACE_FILE = "trace.json"


@dataclass(frozen=True)
class Span:
    lane: str
    phase: str
    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "lane": self.lane,
            "phase": self.phase,
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
        }


@dataclass
class Trace:
    """Spans recorded against one monotonic origin; ``began`` is the wall-clock time of it."""

    began: float = field(default_factory=time.time)
    spans: list[Span] = field(default_factory=list)
    _origin: float = field(default_factory=time.monotonic, repr=False, compare=False)

    def now(self) -> float:
        """Seconds since the origin."""
        return time.monotonic() - self._origin

    def add(self, lane: str, phase: str, start_s: float, end_s: float | None = None) -> None:
        self.spans.append(Span(lane, phase, start_s, self.now() if end_s is None else end_s))

    @contextmanager
    def span(self, lane: str, phase: str) -> Iterator[None]:
        """Records the block as one span, also when it raises (a failed phase is still time)."""
        t = self.now()
        try:
            yield
        finally:
            self.add(lane, phase, t)

    @property
    def total_s(self) -> float:
        return max((s.end_s for s in self.spans), default=0.0)

    def lanes(self) -> list[str]:
        """Lanes in the order they first began."""
        out: list[str] = []
        for s in sorted(self.spans, key=lambda s: s.start_s):
            if s.lane not in out:
                out.append(s.lane)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "began": round(self.began, 3),
            "total_s": round(self.total_s, 4),
            "spans": [s.as_dict() for s in self.spans],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        spans = [
            Span(str(s["lane"]), str(s["phase"]), float(s["start_s"]), float(s["end_s"]))
            for s in data.get("spans", [])
        ]
        return cls(began=float(data.get("began", 0.0)), spans=spans)


def save(state_dir: Path, trace: Trace) -> None:
    """Kept beside the keys, written whole (a reader never sees half a file)."""
    path = state_dir / TRACE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(trace.as_dict()), encoding="utf-8")
    tmp.replace(path)


def load(state_dir: Path) -> Trace | None:
    """The last ``up``'s trace, or None (none yet, or a file this version cannot read)."""
    try:
        data = json.loads((state_dir / TRACE_FILE).read_text(encoding="utf-8"))
        return Trace.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def render(trace: Trace, width: int = 60) -> list[str]:
    """The waterfall as terminal lines: one row per lane and phase, a bar on a shared time axis,
    and the seconds."""
    total = trace.total_s or 1.0
    scale = width / total
    name_w = max((len(f"{s.lane} {s.phase}") for s in trace.spans), default=10)
    lines = [f"{'':{name_w}}  0s{'':{width - 2 - len(f'{total:.2f}s')}}{total:.2f}s"]
    for lane in trace.lanes():
        for s in sorted((s for s in trace.spans if s.lane == lane), key=lambda s: s.start_s):
            a = min(width - 1, int(s.start_s * scale))
            b = max(a + 1, min(width, round(s.end_s * scale)))
            bar = " " * a + "█" * (b - a)
            lines.append(f"{lane + ' ' + s.phase:<{name_w}}  {bar:<{width}}  {s.seconds:6.3f}s")
    return lines
