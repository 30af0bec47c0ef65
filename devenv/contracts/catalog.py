"""Every contract suite (importing devenv.contracts.suites registers them), the choice among them,
and running them. Apart from devenv.contracts.core, so that the suites import the core and nothing
imports back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import devenv.contracts.suites  # noqa: F401 - registers every suite
from devenv.contracts.core import ORDER, REGISTRY, Outcome, Suite
from devenv.contracts.target import Target


def all_suites() -> dict[str, type[Suite]]:
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(REGISTRY.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def select(services: Iterable[str] = ()) -> list[type[Suite]]:
    """The suites for ``services`` (all when empty); an unknown name is a usage error."""
    from devenv.errors import UsageError

    known = all_suites()
    names = list(dict.fromkeys(services))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"no contract suite for {', '.join(repr(n) for n in unknown)}",
            f"known suites: {', '.join(known)}",
        )
    return [known[n] for n in (names or list(known))]


def run(
    target: Target,
    services: Iterable[str] = (),
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run the suites for ``services`` (all when empty) in parallel; outcomes in suite order."""
    chosen = select(services)
    lock = threading.Lock()

    def report(o: Outcome) -> None:
        if on_outcome is not None:
            with lock:
                on_outcome(o)

    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        futures = [pool.submit(cls(target).run, report) for cls in chosen]
        results = [f.result() for f in futures]
    return [o for r in results for o in r]
