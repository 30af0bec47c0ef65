"""A real Postgres 15 for the db tests: one throw-away cluster per session (initdb in a temp dir,
loopback port, socket dir in the temp dir), bootstrapped with the stack's own
compose/postgres/bootstrap.sh, and a fresh database per test cloned from a template.

GoTrue: tests marked ``gotrue`` need the real GoTrue (``auth``) binary, run here as a plain process
against this cluster (no Docker). It is found through DEVENV_GOTRUE_BIN or the hermetic harness's
cache (tests/hermetic/setup builds it there); its migrations folder sits beside it. Where it cannot
be had, the tests skip with the harness's exact reason (DEVENV_HERMETIC_GOTRUE_UNAVAILABLE) — the
one skip CI allows — and fail in CI otherwise.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import IN_CI, REPO, unavailable
from tests.support import localpg

BOOTSTRAP = REPO / "compose" / "postgres" / "bootstrap.sh"
TEMPLATE_DB = "devenv_test_tpl"


@pytest.fixture(scope="session")
def pg() -> Iterator[localpg.LocalCluster]:
    try:
        cluster = localpg.create(password="test-pw")
    except Exception as exc:
        unavailable(f"cannot start a local Postgres: {exc}")
        raise
    try:
        localpg.run_bootstrap(cluster, BOOTSTRAP)
        with psycopg.connect(cluster.dsn(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {TEMPLATE_DB} TEMPLATE postgres")
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Db:
    cluster: localpg.LocalCluster
    name: str

    @property
    def dsn(self) -> str:
        return self.cluster.dsn(self.name)

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.dsn, autocommit=True)

    def scalar(self, query: str, *args: object) -> object:
        with self.connect() as c:
            row = c.execute(query, args or None).fetchone()
            return row[0] if row else None

    def rows(self, query: str, *args: object) -> list[tuple[object, ...]]:
        with self.connect() as c:
            return c.execute(query, args or None).fetchall()


@pytest.fixture
def db(pg: localpg.LocalCluster) -> Iterator[Db]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    yield Db(pg, name)
    if not pg._stopped:
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            # the state a full `db reset` keeps (devenv.db.reset), a template database
            kept = f"devenv_reset__{name}"
            if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (kept,)).fetchone():
                c.execute(f"ALTER DATABASE {kept} WITH IS_TEMPLATE false")
                c.execute(f"DROP DATABASE {kept} WITH (FORCE)")


# ------------------------------------------------------------------------------------------
# GoTrue, the real binary, as a local process.


def _gotrue_binary() -> tuple[Path | None, str]:
    env = os.environ.get("DEVENV_GOTRUE_BIN")
    if env:
        p = Path(env)
        return (p, "") if p.is_file() else (None, f"DEVENV_GOTRUE_BIN={env} is not a file")
    cache = Path(
        os.environ.get("DEVENV_HERMETIC_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "devenv-hermetic"
    )
    found = sorted(cache.glob("gotrue-*/auth"))
    if found:
        return found[-1], ""
    return None, f"no GoTrue binary in {cache}/gotrue-*/auth and DEVENV_GOTRUE_BIN is not set"


@dataclass
class GoTrue:
    url: str
    jwt_secret: str
    service_role_key: str
    anon_key: str


@pytest.fixture(scope="session")
def gotrue(pg: localpg.LocalCluster) -> Iterator[GoTrue]:
    reason = os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE")
    binary, why = _gotrue_binary()
    if binary is None:
        if reason:
            pytest.skip(f"GoTrue unavailable on this machine: {reason}")
        unavailable(f"GoTrue unavailable: {why} (run tests/hermetic/setup)")
    assert binary is not None
    from devenv.stack import secrets

    jwt_secret = "devenv-test-jwt-secret-with-at-least-32-characters"
    port = localpg.free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GOTRUE_API_HOST": "127.0.0.1",
        "GOTRUE_API_PORT": str(port),
        "PORT": str(port),
        "API_EXTERNAL_URL": f"http://127.0.0.1:{port}",
        "GOTRUE_DB_DRIVER": "postgres",
        "GOTRUE_DB_DATABASE_URL": (
            f"postgres://supabase_auth_admin:{pg.password}@127.0.0.1:{pg.port}/postgres"
        ),
        "GOTRUE_DB_MIGRATIONS_PATH": str(binary.parent / "migrations"),
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "GOTRUE_JWT_SECRET": jwt_secret,
        "GOTRUE_JWT_ADMIN_ROLES": "service_role",
        "GOTRUE_JWT_AUD": "authenticated",
        "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
        "GOTRUE_JWT_EXP": "3600",
        "GOTRUE_EXTERNAL_EMAIL_ENABLED": "true",
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        "GOTRUE_RATE_LIMIT_SIGN_IN_SIGN_UPS": "10000",
        "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "10000",
    }
    log = open(pg.root / "gotrue.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT)
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = (pg.root / "gotrue.log").read_text(errors="replace")[-1500:]
            pytest.fail(f"GoTrue ({binary}) did not become healthy:\n{tail}")
        time.sleep(0.1)
    try:
        yield GoTrue(
            url=url,
            jwt_secret=jwt_secret,
            service_role_key=secrets.sign(jwt_secret, "service_role"),
            anon_key=secrets.sign(jwt_secret, "anon"),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def auth_db(pg: localpg.LocalCluster, gotrue: GoTrue) -> Iterator[Db]:
    """The database GoTrue serves (``postgres``), with app objects and users cleaned after."""
    yield Db(pg, "postgres")
    from devenv.db import reset as reset_mod

    reset_mod.clean(pg.dsn("postgres"))


__all__ = ["IN_CI", "Db", "GoTrue"]
