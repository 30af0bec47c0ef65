"""Checks, suites, outcomes and the runner shared by every contract suite.

A suite is a class with ordered checks (methods marked with :func:`check`), run one after the
other against one :class:`~devenv.contracts.target.Target`: later checks may use what earlier
ones made (a signed-up user, a session). A check passes by returning, fails by raising
:class:`CheckFailed` (made by :func:`expect` / :func:`expect_eq`, saying what was expected and
what came back), and skips with :class:`Skip` (a prerequisite failed, or the target lacks what it
needs). Anything else a check raises is a failure too, named by its exception: a broken service
fails its own checks, and the other checks and suites still run.

Suites run in parallel threads (their work is network I/O); checks inside a suite in order.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from devenv.contracts.target import Target

if TYPE_CHECKING:
    import httpx

PASS, FAIL, SKIP = "pass", "fail", "skip"

F = TypeVar("F", bound=Callable[..., None])

# Anything that looks like a JWT or a bearer value is cut out of failure messages: a body echoed
# back must never print a key (errors.py: messages never carry secrets).
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    out = _JWT_RE.sub("<jwt>", text)
    for s in secrets:
        if s and len(s) >= 6:
            out = out.replace(s, "<secret>")
    return out


class CheckFailed(AssertionError):
    """The service answered, but not as the contract says."""


class Skip(Exception):
    """The check cannot run here (reason given); neither a pass nor a failure."""


def expect(condition: object, expected: str, got: object) -> None:
    """Fail with "expected ..., got ..." unless ``condition``."""
    if not condition:
        raise CheckFailed(f"expected {expected}, got {_short(got)}")


def expect_eq(actual: object, wanted: object, what: str) -> None:
    if actual != wanted:
        raise CheckFailed(f"expected {what} {wanted!r}, got {_short(actual)}")


def _short(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_response(resp: Any) -> str:
    """``HTTP 401 {"message": ...}`` for an httpx response: what a failure says came back."""
    try:
        body = resp.text
    except Exception:  # a streamed body not read: status alone
        body = ""
    return f"HTTP {resp.status_code} {_short(body, 240)}".rstrip()


def check(name: str) -> Callable[[F], F]:
    """Mark a suite method as the check ``name`` (stable: it is what reports and pytest show)."""

    def mark(fn: F) -> F:
        fn.__contract_check__ = name  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass(frozen=True)
class Outcome:
    service: str
    check: str
    status: str  # pass | fail | skip
    seconds: float
    message: str = ""

    @property
    def id(self) -> str:
        return f"{self.service}.{self.check}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "check": self.check,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "message": self.message,
        }


class Suite:
    """One service's contract. Subclasses set ``service`` and define checks with @check."""

    service: ClassVar[str] = ""
    #: Seconds for connecting and for each read; a check never waits longer on one call.
    timeout: ClassVar[float] = 5.0

    def __init__(self, target: Target) -> None:
        self.target = target
        self.state: dict[str, Any] = {}
        self.failed: set[str] = set()
        self._clients: dict[str, httpx.Client] = {}

    # Subclasses override.
    def unavailable(self) -> str | None:
        """Why this suite cannot run against the target (skips every check), or None."""
        return None

    def close(self) -> None:
        """Release clients and remove what the checks made (users, keys). Subclasses that
        clean up call this last."""
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def http_client(
        self, name: str, base_url: str, headers: dict[str, str] | None = None
    ) -> httpx.Client:
        """The suite's httpx client ``name`` for ``base_url``, made on first use (explicit
        timeouts) and closed by close()."""
        c = self._clients.get(name)
        if c is None:
            c = self._clients[name] = _client(base_url, self.timeout, headers)
        return c

    @classmethod
    def check_names(cls) -> list[str]:
        return [name for name, _ in cls._methods()]

    @classmethod
    def _methods(cls) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                name = getattr(fn, "__contract_check__", None)
                if name is not None and all(n != name for n, _ in seen):
                    seen.append((name, attr))
        return seen

    @classmethod
    def names_for(cls, target: Target) -> list[str]:
        """Every check this suite runs against ``target`` (fixed ones, then declared ones)."""
        return cls.check_names()

    def extra_checks(self) -> list[tuple[str, Callable[[], None]]]:
        """Checks made from the target's own declarations (Kong's routes); empty by default."""
        return []

    def needs(self, *checks: str) -> None:
        """Skip unless every named earlier check passed (this one builds on what they made)."""
        bad = [c for c in checks if c in self.failed]
        if bad:
            raise Skip(f"needs {', '.join(f'{self.service}.{c}' for c in bad)}, which did not pass")

    def secrets(self) -> list[str]:
        return self.target.secret_values()

    def run(self, on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        out: list[Outcome] = []
        checks: list[tuple[str, Callable[[], None]]] = [
            (name, getattr(self, attr)) for name, attr in self._methods()
        ]
        why_not = (
            f"the stack has no {self.service} service"
            if self.target.lacks(self.service)
            else self.unavailable()
        )
        if why_not is None:
            try:
                checks += self.extra_checks()
            except Exception as exc:
                why_not = f"cannot list the checks: {type(exc).__name__}: {exc}"
        try:
            for name, fn in checks:
                if why_not is not None:
                    o = Outcome(self.service, name, SKIP, 0.0, why_not)
                else:
                    o = self._one(name, fn)
                out.append(o)
                if on_outcome is not None:
                    on_outcome(o)
        finally:
            if why_not is None:
                # Cleanup is best effort; the outcomes stand.
                with contextlib.suppress(Exception):
                    self.close()
        return out

    def _one(self, name: str, fn: Callable[[], None]) -> Outcome:
        t = time.perf_counter()
        status, message = PASS, ""
        try:
            fn()
        except Skip as exc:
            status, message = SKIP, str(exc)
        except CheckFailed as exc:
            status, message = FAIL, str(exc)
        except Exception as exc:
            status, message = FAIL, explain(exc)
        if status != PASS:
            self.failed.add(name)
        return Outcome(
            self.service, name, status, time.perf_counter() - t, redact(message, self.secrets())
        )


def explain(exc: BaseException) -> str:
    """One line for an exception a check did not expect: the service is down, slow, or odd."""
    kind = type(exc).__name__
    text = " ".join(str(exc).split()) or kind
    module = type(exc).__module__
    if module.startswith("httpx"):
        if "Timeout" in kind:
            return f"no answer in time ({kind}): {text}"
        if "Connect" in kind:
            return f"cannot connect: {text}"
    if module.startswith(("psycopg", "redis")):
        return f"{kind}: {text}"
    return f"{kind}: {text}"


#: service name -> suite class, in report order. Filled by devenv.contracts.suites.
REGISTRY: dict[str, type[Suite]] = {}


def register(cls: type[Suite]) -> type[Suite]:
    REGISTRY[cls.service] = cls
    return cls


#: Report order: the stack's start order, then the services built on it.
ORDER = ("postgres", "gotrue", "kong", "redis", "mail", "fireworks")


def failed(outcomes: Iterable[Outcome]) -> Iterator[Outcome]:
    return (o for o in outcomes if o.status == FAIL)


def _client(base_url: str, timeout: float, headers: dict[str, str] | None = None) -> httpx.Client:
    import ipaddress
    from urllib.parse import urlsplit

    import httpx

    host = urlsplit(base_url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    return httpx.Client(
        base_url=base_url,
        # Connecting to a local or hosted service takes milliseconds; a dead one is told fast.
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        headers=headers or {},
        follow_redirects=False,
        # A developer's HTTP(S)_PROXY must not sit between us and the local stack; a hosted
        # environment may need it.
        trust_env=not local,
    )
