"""devenv doctor: checks of the engine, the project, the stack and its reachability, each a
finding with a fix (see :mod:`devenv.doctor.core`)."""

from devenv.doctor.catalog import select
from devenv.doctor.core import FAIL, OK, SKIP, WARN, Context, Finding, run

__all__ = ["FAIL", "OK", "SKIP", "WARN", "Context", "Finding", "run", "select"]
