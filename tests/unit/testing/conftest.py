"""The local Postgres cluster of the db tests (no Docker), for the per-test database tests."""

from tests.unit.db.conftest import pg  # noqa: F401
