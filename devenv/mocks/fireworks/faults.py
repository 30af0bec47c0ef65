"""Faults on demand: per request (a header) or at run time (rules set through the control API).

A plan is a comma-separated sequence of steps, one per attempt::

    ok | 200                 answer normally
    429 | rate_limit[:MS]    429 with retry-after / retry-after-ms (MS, default from the config)
    500 | error              500
    503 | overloaded         503
    latency:MS               wait MS milliseconds, then answer normally
    cut[:N]                  streaming: close the connection after N chunks (default 2);
                             otherwise: send half of the body, then close
    malformed[:N]            streaming: chunk N+1 is not JSON; otherwise a 200 whose body is
                             not JSON
    drop                     close the connection without answering

``X-Devenv-Fault: 429,ok`` answers the first attempt with 429 and the retry with 200. Attempts are
counted with the ``x-stainless-retry-count`` header the openai and fireworks-ai SDKs send (so the
same plan works for any number of concurrent callers); without it, per (test id, plan). The last
step repeats once the plan runs out. The SDKs retry twice by default: ``429,429,429`` exhausts them.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

KINDS = ("ok", "rate_limit", "error", "overloaded", "latency", "cut", "malformed", "drop")
_ALIASES = {"200": "ok", "pass": "ok", "429": "rate_limit", "500": "error", "503": "overloaded"}
_DEFAULT_ARG = {"cut": 2, "malformed": 1}
ERROR_KINDS = frozenset({"rate_limit", "error", "overloaded"})


@dataclass(frozen=True, slots=True)
class Step:
    kind: str
    arg: int | None = None

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}:{self.arg}"


def parse_plan(text: str) -> list[Step]:
    """Parse ``429,ok`` into steps; ValueError with a one-line reason on bad input."""
    steps: list[Step] = []
    for raw in text.split(","):
        item = raw.strip().lower()
        if not item:
            raise ValueError(f"empty step in fault plan {text!r}")
        name, _, arg_text = item.partition(":")
        kind = _ALIASES.get(name, name)
        if kind not in KINDS:
            raise ValueError(
                f"unknown fault {name!r} in {text!r}; use one of "
                "ok, 429, 500, 503, latency:MS, cut[:N], malformed[:N], drop"
            )
        arg: int | None = None
        if arg_text:
            if kind not in ("rate_limit", "latency", "cut", "malformed"):
                raise ValueError(f"fault {name!r} takes no argument (in {text!r})")
            if not arg_text.isdigit():
                raise ValueError(
                    f"fault argument must be a whole number, got {arg_text!r} in {text!r}"
                )
            arg = int(arg_text)
        elif kind == "latency":
            raise ValueError(f"latency needs milliseconds, e.g. latency:200 (in {text!r})")
        else:
            arg = _DEFAULT_ARG.get(kind)
        steps.append(Step(kind, arg))
    return steps


@dataclass(slots=True)
class Rule:
    """A fault plan set at run time, applied to the requests it matches, one step each."""

    id: int
    steps: list[Step]
    repeat: bool = False
    path: str | None = None
    model: str | None = None
    test_id: str | None = None
    used: int = 0

    def matches(self, path: str, model: str | None, test_id: str | None) -> bool:
        return (
            (self.path is None or self.path in path)
            and (self.model is None or self.model == model)
            and (self.test_id is None or self.test_id == test_id)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "plan": ",".join(map(str, self.steps)),
            "repeat": self.repeat,
            "path": self.path,
            "model": self.model,
            "test_id": self.test_id,
            "used": self.used,
        }


@dataclass
class Faults:
    """Header plans and run-time rules. Thread-safe: the control API and tests may call it from
    other threads than the server's loop."""

    _rules: list[Rule] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Attempt counters for header plans from clients that send no retry count; bounded.
    _attempts: OrderedDict[tuple[str, str], int] = field(default_factory=OrderedDict)
    _plans: dict[str, list[Step]] = field(default_factory=dict)

    def add(
        self,
        plan: str,
        *,
        repeat: bool = False,
        path: str | None = None,
        model: str | None = None,
        test_id: str | None = None,
    ) -> Rule:
        steps = parse_plan(plan)
        with self._lock:
            rule = Rule(next(self._ids), steps, repeat, path, model, test_id)
            self._rules.append(rule)
        return rule

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._attempts.clear()

    def from_header(self, plan: str, retry_count: str | None, test_id: str | None) -> Step:
        """The step of a header plan for this attempt (ValueError if the plan is malformed)."""
        steps = self._plans.get(plan)
        if steps is None:
            steps = parse_plan(plan)
            if len(self._plans) > 1024:
                self._plans.clear()
            self._plans[plan] = steps
        if retry_count is not None and retry_count.isdigit():
            attempt = int(retry_count)
        else:
            key = (test_id or "", plan)
            with self._lock:
                attempt = self._attempts.pop(key, 0)
                self._attempts[key] = attempt + 1
                if len(self._attempts) > 10000:
                    self._attempts.popitem(last=False)
        return steps[min(attempt, len(steps) - 1)]

    def take(self, path: str, model: str | None, test_id: str | None) -> Step | None:
        """The next step of the first run-time rule this request matches, if any."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(path, model, test_id):
                    step = rule.steps[rule.used % len(rule.steps)]
                    rule.used += 1
                    if not rule.repeat and rule.used >= len(rule.steps):
                        self._rules.remove(rule)
                    return step
        return None
