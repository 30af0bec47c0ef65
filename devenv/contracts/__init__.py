"""Contract suites: for each service, the named checks that state the behaviour an app relies
on, run against the running stack or any URL and keys (a hosted environment).

From Python::

    from devenv.contracts import Target, run
    outcomes = run(Target.from_stack(stack), ["gotrue", "kong"])

From the command line: ``devenv test contracts [SERVICE...] [--json] [--junit FILE]``; from
pytest: :mod:`devenv.contracts.pytest_support`.
"""

from devenv.contracts.catalog import all_suites, run, select
from devenv.contracts.core import FAIL, PASS, SKIP, Outcome, Suite
from devenv.contracts.target import Target

__all__ = ["FAIL", "PASS", "SKIP", "Outcome", "Suite", "Target", "all_suites", "run", "select"]
