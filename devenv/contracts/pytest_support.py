"""The contract suites as pytest tests: one test item per check, with stable ids
(``postgres.rls_enabled``, ``kong.route:auth-v1-all``).

A suite's checks build on each other (sign up, then log in), so a suite runs once, whole, the
first time one of its items runs; each item then reports its own check's outcome (a failure
with the check's message, a skip with its reason). Usage in a test module::

    from devenv.contracts import pytest_support

    contracts = pytest_support.Contracts()          # one per module; runs suites lazily

    @pytest_support.parametrize()                   # or parametrize(["gotrue", "kong"])
    def test_contract(contract: str, my_target) -> None:
        contracts.check(my_target, contract)

``my_target`` is any fixture returning a :class:`~devenv.contracts.target.Target` (for the
running stack: ``Target.from_stack(stack)``). The pytest plugin (devenv.testing) builds on this.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from devenv.contracts.catalog import select
from devenv.contracts.core import FAIL, SKIP, Outcome
from devenv.contracts.target import Target, default_kong_config


def check_ids(services: Iterable[str] = (), target: Target | None = None) -> list[str]:
    """``service.check`` ids of the chosen suites, in run order, known before anything runs
    (Kong's route checks come from the declared config)."""
    t = target or Target(kong_config=default_kong_config())
    return [f"{cls.service}.{name}" for cls in select(services) for name in cls.names_for(t)]


def parametrize(
    services: Iterable[str] = (), argname: str = "contract"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``pytest.mark.parametrize`` over the check ids of ``services`` (all when empty)."""
    import pytest

    ids = check_ids(services)
    mark: Callable[[Callable[..., Any]], Callable[..., Any]] = pytest.mark.parametrize(
        argname, ids, ids=ids
    )
    return mark


class Contracts:
    """Runs each suite once per target and hands out per-check outcomes."""

    def __init__(self) -> None:
        # Keyed by value: two equal targets (a fixture making one per test) share one run.
        self._runs: dict[tuple[Target, str], dict[str, Outcome]] = {}
        self._lock = threading.Lock()

    def outcome(self, target: Target, check_id: str) -> Outcome:
        service, _, name = check_id.partition(".")
        key = (target, service)
        with self._lock:
            if key not in self._runs:
                (cls,) = select([service])
                self._runs[key] = {o.check: o for o in cls(target).run()}
            results = self._runs[key]
        if name not in results:
            raise KeyError(f"suite {service!r} ran no check {name!r} against this target")
        return results[name]

    def check(self, target: Target, check_id: str) -> None:
        """Pass, fail (with the check's message) or skip (with its reason) as the check did."""
        import pytest

        o = self.outcome(target, check_id)
        if o.status == SKIP:
            pytest.skip(o.message)
        if o.status == FAIL:
            pytest.fail(f"{o.id}: {o.message}", pytrace=False)
