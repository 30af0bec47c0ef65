"""`devenv test db` and the Postgres extensions, on the stack's real Postgres: the image devenv
builds with pg_cron, PostGIS and pgTAP (and pgvector where the base's apt sources have it; the
harness's Debian base does not). The message for a server without pgTAP is tested in
tests/unit/db/test_pgtap.py against the machine's contrib-only Postgres.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Project, destroy, make_project

pytestmark = pytest.mark.engine

PASS = """\
begin;
select plan(3);
create table public.notes (id int);
select has_table('public', 'notes', 'notes exists');
select ok(has_table_privilege('authenticated', 'public.notes', 'SELECT'),
          'authenticated reads new tables (Supabase default privileges)');
select is((select count(*)::int from public.notes), 0, 'empty');
select * from finish();
rollback;
"""
FAIL = """\
select plan(2);
select is(1 + 1, 3, 'arithmetic is broken');
select ok(true, 'fine');
select * from finish();
"""
ERROR = """\
select plan(1);

select * from no_such_table;
"""


@pytest.fixture(scope="module")
def stack(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    p = make_project(tmp_path_factory.mktemp("pgtap"), ["postgres"])
    try:
        up = p.cli("up", "--no-seed", timeout=300)
        assert up.returncode == 0, up.stderr
        dsn = p.database_url()
        with psycopg.connect(dsn) as c:
            rows = c.execute(
                "select name from pg_available_extensions"
                " where name in ('pgtap', 'pg_cron', 'postgis')"
            ).fetchall()
        yield p, dsn, {str(r[0]) for r in rows}
    finally:
        destroy(p)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_test_db_runs_files_reports_tap_and_junit_and_rolls_back(
    stack: tuple[Project, str, set[str]],
) -> None:
    p, dsn, available = stack
    write(p.root, "tests/db/01_pass.sql", PASS)
    write(p.root, "tests/db/02_fail.sql", FAIL)
    write(p.root, "tests/db/sub/03_error.sql", ERROR)
    junit = p.root / "report.xml"
    proc: Any = p.cli("test", "db", "--junit", str(junit))
    assert "pgtap" in available
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "TAP version 13"
    assert "ok 1 - tests/db/01_pass.sql" in out
    assert "    ok 2 - authenticated reads new tables (Supabase default privileges)" in out
    assert "    not ok 1 - arithmetic is broken" in out
    assert "not ok 2 - tests/db/02_fail.sql" in out
    assert (
        '    # tests/db/sub/03_error.sql:3: relation "no_such_table" does not exist'
        " in statement: select * from no_such_table"
    ) in out
    assert "not ok 3 - tests/db/sub/03_error.sql" in out
    assert out[-1] == "1..3"
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in suites] == [
        ("tests/db/01_pass.sql", "3", "0"),
        ("tests/db/02_fail.sql", "2", "1"),
        ("tests/db/sub/03_error.sql", "1", "1"),
    ]
    failure = suites[1].find("testcase/failure")
    assert failure is not None and "have: 2" in (failure.text or "")
    # Everything the tests did was rolled back.
    with psycopg.connect(dsn) as c:
        assert c.execute("select to_regclass('public.notes')").fetchone() == (None,)
        assert c.execute("select count(*) from pg_extension where extname='pgtap'").fetchone() == (
            0,
        )
    # One passing file named on the command line; JSON out.
    proc = p.cli("test", "db", "tests/db/01_pass.sql", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] is True and report["tests"] == 3 and report["failed"] == 0


def test_supabase_layout_and_no_tests(stack: tuple[Project, str, set[str]], tmp_path: Path) -> None:
    p, _, available = stack
    for f in (p.root / "tests" / "db").rglob("*.sql"):
        f.unlink()
    proc: Any = p.cli("test", "db")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0].startswith("devenv: error: no pgTAP tests in ")
    assert "pgtap" in available
    write(p.root, "supabase/tests/database/rls.test.sql", PASS)
    proc = p.cli("test", "db")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok 1 - supabase/tests/database/rls.test.sql" in proc.stdout.splitlines()


def test_extensions_supabase_apps_create(stack: tuple[Project, str, set[str]]) -> None:
    _, dsn, available = stack
    assert available == {"pgtap", "pg_cron", "postgis"}
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("create extension if not exists pg_cron")
        job = c.execute("select cron.schedule('devenv-test', '*/5 * * * *', 'select 1')")
        assert job.fetchone() is not None
        c.execute("select cron.unschedule('devenv-test')")
        c.execute("create extension if not exists postgis with schema extensions")
        row = c.execute("select extensions.st_astext(extensions.st_makepoint(1, 2))").fetchone()
        assert row == ("POINT(1 2)",)
        c.execute("drop extension postgis")
        c.execute("drop extension pg_cron")
