"""The second engines (dind, podman, ssh) for the tests in this folder; tests elsewhere import the
same fixtures from tests.support.engines."""

from tests.support.engines import second_engine, second_engines

__all__ = ["second_engine", "second_engines"]
