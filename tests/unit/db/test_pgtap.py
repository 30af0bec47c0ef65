"""devenv.db.pgtap: reading TAP, and the runner on the machine's real Postgres 15."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.db import pgtap
from devenv.errors import DatabaseError, UsageError
from tests.unit.db.conftest import Db


def result(lines: list[str]) -> pgtap.FileResult:
    r = pgtap.FileResult(Path("t.sql"))
    pgtap.parse(lines, r)
    return r


def test_plan_results_directives_and_diagnostics() -> None:
    r = result(
        [
            "1..4",
            "ok 1 - a",
            "not ok 2 - b # TODO not yet",
            "ok 3 - c # SKIP no network",
            "not ok 4 - d",
            '# Failed test 4: "d"',
            "#         have: 1",
            "some other row a test printed",
        ]
    )
    assert [(c.number, c.ok, c.description, c.directive) for c in r.cases] == [
        (1, True, "a", ""),
        (2, False, "b", "todo"),
        (3, True, "c", "skip"),
        (4, False, "d", ""),
    ]
    assert r.cases[3].diagnostics == ['Failed test 4: "d"', "have: 1"]
    assert r.problems == ["test 4 failed: d"]  # a failing TODO does not fail the file


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["ok 1 - a"], "no plan (call plan(n) or no_plan() and finish())"),
        (["1..2", "ok 1 - a"], "planned 2 tests but ran 1"),
    ],
)
def test_plan_problems(lines: list[str], problem: str) -> None:
    assert result(lines).problems == [problem]


def test_discovery_order_and_layouts(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no pgTAP tests in"):
        pgtap.discover(tmp_path)
    sb = tmp_path / "supabase" / "tests" / "database"
    sb.mkdir(parents=True)
    (sb / "b.sql").write_text("")
    (sb / "a.sql").write_text("")
    assert [p.name for p in pgtap.discover(tmp_path)] == ["a.sql", "b.sql"]
    own = tmp_path / "tests" / "db" / "x"
    own.mkdir(parents=True)
    (own / "z.sql").write_text("")
    assert pgtap.discover(tmp_path) == [own / "z.sql"]  # devenv's layout first
    with pytest.raises(UsageError, match="no such test file or folder"):
        pgtap.discover(tmp_path, [Path("nope.sql")])


def test_without_pgtap_in_the_server_one_line_names_an_image(db: Db, tmp_path: Path) -> None:
    (tmp_path / "tests" / "db").mkdir(parents=True)
    (tmp_path / "tests" / "db" / "t.sql").write_text("select plan(1); select ok(true);\n")
    if db.scalar("select count(*) from pg_available_extensions where name = 'pgtap'"):
        assert pgtap.run(db.dsn, tmp_path).passed
        return
    with pytest.raises(DatabaseError) as exc:
        pgtap.run(db.dsn, tmp_path)
    assert exc.value.message == (
        "pgTAP is not installed in the stack's Postgres image;"
        ' devenv\'s own image with "pgtap" in [db] extensions has it'
    )
    assert 'add "pgtap" to [db] extensions' in (exc.value.hint or "")
