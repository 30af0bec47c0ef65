"""Test stacks are the project's stack: with no services named anywhere, `ephemeral_stack` (and
the pytest plugin, which calls it) runs the services the project's devenv.toml enables, as
`devenv up` does; a migration that needs a service the stack lacks names it and how to add it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devenv.testing import ephemeral_stack
from devenv.testing.ephemeral import StackStartError
from tests.conftest import REPO

pytestmark = pytest.mark.engine

AUTH_MIGRATION = """create table public.deployments (
  id bigint generated always as identity primary key,
  created_by uuid not null default auth.uid() references auth.users (id)
);
alter table public.deployments enable row level security;
create policy own on public.deployments for all using (created_by = auth.uid());
"""


def project(tmp_path: Path, services: list[str]) -> Path:
    root = tmp_path / "app"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "20250201000000_deployments.sql").write_text(AUTH_MIGRATION)
    names = ", ".join(f'"{s}"' for s in services)
    (root / "devenv.toml").write_text(f"[project]\nservices = [{names}]\n")
    return root


def test_the_projects_services_with_none_named(engine: None, gotrue: None, tmp_path: Path) -> None:
    root = project(tmp_path, ["postgres", "gotrue", "redis"])
    prefix = f"it-ts{uuid.uuid4().hex[:6]}"
    with ephemeral_stack(root, prefix=prefix) as st:
        assert st.services == ("postgres", "gotrue", "redis")
        with st.connect() as conn:
            policies = conn.execute("select count(*) from pg_policies").fetchone()
        assert policies == (1,)
        assert st.redis_url.startswith("redis://")


def test_a_migration_on_auth_without_gotrue_says_which_service(
    engine: None, tmp_path: Path
) -> None:
    root = project(tmp_path, ["postgres", "gotrue"])
    with (
        pytest.raises(StackStartError) as err,
        ephemeral_stack(root, services=["postgres"], prefix=f"it-ts{uuid.uuid4().hex[:6]}"),
    ):
        pass
    line = err.value.one_line()
    assert "\n" not in line
    assert "20250201000000_deployments.sql:3" in line, line
    assert "auth is gotrue's schema, and this stack has no gotrue" in line, line
    assert '--devenv-services, or @pytest.mark.devenv(services=["gotrue"])' in line, line


APP_TESTS = """
import uuid


def test_the_stack_is_the_projects(devenv_stack):
    assert devenv_stack.services == ("postgres", "gotrue")


def test_rls_on_auth_uid(devenv_db):
    with devenv_db.connect() as conn:
        assert conn.execute("select count(*) from pg_policies").fetchone() == (1,)


def test_a_row_needs_a_real_user(devenv_db):
    with devenv_db.connect() as conn:
        user = conn.execute(
            "insert into auth.users (id, instance_id, aud, role, email) values"
            " (%s, '00000000-0000-0000-0000-000000000000', 'authenticated',"
            " 'authenticated', 'a@example.com') returning id",
            (uuid.uuid4(),),
        ).fetchone()[0]
        conn.execute("insert into public.deployments (created_by) values (%s)", (user,))
        assert conn.execute("select count(*) from public.deployments").fetchone() == (1,)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_plain_pytest_with_no_services_named(
    engine: None, gotrue: None, tmp_path: Path, workers: list[str]
) -> None:
    """An app whose tests use the plugin as the README shows, run with plain `pytest` (and with
    `-n 2`): its migrations use auth.uid(), and nothing names a service but its devenv.toml."""
    root = project(tmp_path, ["postgres", "gotrue"])
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text(APP_TESTS)
    prefix = f"it-ts{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests",
            "--devenv-prefix",
            prefix,
            *workers,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout, proc.stdout[-4000:]
