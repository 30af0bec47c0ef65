"""``devenv test db``: the project's pgTAP tests against the stack's Postgres, as ``supabase test
db`` runs them (there with pg_prove in a container; here in-process, so no Perl or psql is needed).

Files: ``tests/db/**/*.sql``, or ``supabase/tests/database/**/*.sql`` in an adopted Supabase
project, in path order. Each file runs statement by statement (the migration splitter, psql's
rules) inside one transaction that is always rolled back, so tests leave nothing behind; the
file's own BEGIN/ROLLBACK/COMMIT lines are skipped for that reason. pgTAP's functions return
their TAP lines as rows; those rows are the file's TAP stream. A file passes when every test is
``ok`` (or TODO/SKIP), the plan matches the count, and no statement failed. ``pgtap`` is created
inside the transaction when the database lacks it (rolled back with the rest).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from devenv.db import conn as dbconn
from devenv.db.sqlsplit import SplitError, split
from devenv.errors import DatabaseError, UsageError

#: Where tests live, first match wins: devenv's own layout, then Supabase CLI's.
TEST_DIRS = ("tests/db", "supabase/tests/database")

_SKIP = re.compile(
    r"^(begin|start\s+transaction|commit|end|rollback|abort)(\s+(work|transaction))?"
    r"(\s+isolation\s.*)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
_PLAN = re.compile(r"^1\.\.(\d+)")
_DIRECTIVE = re.compile(r"#\s*(todo|skip)\b", re.IGNORECASE)


@dataclass
class Case:
    number: int
    ok: bool
    description: str
    directive: str = ""  # "todo" or "skip": a failure there does not fail the file
    diagnostics: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return not self.ok and self.directive != "todo"


@dataclass
class FileResult:
    path: Path
    cases: list[Case] = field(default_factory=list)
    planned: int | None = None
    error: str = ""  # a statement that failed: "file:line: message"
    tap: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        out = [f"test {c.number} failed: {c.description}" for c in self.cases if c.failed]
        if self.error:
            out.append(self.error)
        elif self.planned is None:
            out.append("no plan (call plan(n) or no_plan() and finish())")
        elif self.planned != len(self.cases):
            out.append(f"planned {self.planned} tests but ran {len(self.cases)}")
        return out

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "passed": self.passed,
            "planned": self.planned,
            "tests": [
                {
                    "number": c.number,
                    "ok": c.ok,
                    "description": c.description,
                    "directive": c.directive or None,
                    "diagnostics": c.diagnostics,
                }
                for c in self.cases
            ],
            "problems": self.problems,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Run:
    files: list[FileResult]

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "files": [f.as_dict() for f in self.files],
            "tests": sum(len(f.cases) for f in self.files),
            "failed": sum(sum(c.failed for c in f.cases) for f in self.files),
        }


def discover(root: Path, paths: list[Path] | None = None) -> list[Path]:
    """The test files: ``paths`` (files or folders) if given, else the first of TEST_DIRS."""
    if paths:
        out: list[Path] = []
        for p in paths:
            p = p if p.is_absolute() else root / p
            if p.is_dir():
                out += sorted(p.rglob("*.sql"))
            elif p.is_file():
                out.append(p)
            else:
                raise UsageError(f"{p}: no such test file or folder", "give .sql files or folders")
        return out
    for d in TEST_DIRS:
        found = sorted((root / d).rglob("*.sql")) if (root / d).is_dir() else []
        if found:
            return found
    raise UsageError(
        f"no pgTAP tests in {root / TEST_DIRS[0]} or {root / TEST_DIRS[1]}",
        f"add *.sql files there (e.g. {TEST_DIRS[0]}/rls.sql: begin; select plan(1); ...;"
        " select * from finish(); rollback;) or name files on the command line",
    )


def parse(lines: list[str], result: FileResult) -> None:
    """Fill ``result`` from TAP lines."""
    for line in lines:
        m = _PLAN.match(line)
        if m:
            result.planned = int(m.group(1))
            continue
        m = _RESULT.match(line)
        if m:
            desc = m.group(3)
            d = _DIRECTIVE.search(desc)
            result.cases.append(
                Case(
                    number=int(m.group(2) or len(result.cases) + 1),
                    ok=m.group(1) == "ok",
                    description=desc[: d.start()].strip() if d else desc.strip(),
                    directive=d.group(1).lower() if d else "",
                )
            )
        elif line.startswith("#") and result.cases:
            result.cases[-1].diagnostics.append(line.lstrip("# ").rstrip())


def run_file(conn: psycopg.Connection[tuple[Any, ...]], path: Path, shown: str) -> FileResult:
    res = FileResult(Path(shown))
    t0 = time.perf_counter()
    try:
        stmts = split(path.read_text(encoding="utf-8"))
    except (SplitError, OSError, UnicodeDecodeError) as exc:
        res.error = f"{shown}: cannot read: {exc}"
        return res
    lines: list[str] = []
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            if not cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgtap'").fetchone():
                _create_pgtap(cur)
            for stmt in stmts:
                if _SKIP.match(stmt.text.strip()):
                    continue
                try:
                    cur.execute(stmt.text)
                except psycopg.Error as exc:
                    res.error = dbconn.server_error_line(exc, shown, stmt)
                    break
                while True:
                    if cur.description is not None:
                        for row in cur.fetchall():
                            for value in row:
                                if value is not None:
                                    lines += str(value).splitlines()
                    if not cur.nextset():
                        break
    except psycopg.OperationalError as exc:
        if conn.broken:
            raise DatabaseError(
                f"lost the connection to Postgres running {shown}: {dbconn.first_line(str(exc))}",
                "check the server (`devenv status`) and run again",
            ) from None
        raise
    res.tap = lines
    parse(lines, res)
    res.seconds = time.perf_counter() - t0
    return res


def _create_pgtap(cur: psycopg.Cursor[Any]) -> None:
    from devenv.db.migrations import missing_extension

    try:
        with cur.connection.transaction():
            cur.execute("CREATE EXTENSION pgtap")
    except psycopg.errors.FeatureNotSupported as exc:
        found = missing_extension(exc)
        if found is None:
            raise
        _, image, how = found
        raise DatabaseError(
            f"pgTAP is not installed in the stack's Postgres image; {image} has it", how
        ) from None


def run(dsn: str, root: Path, paths: list[Path] | None = None) -> Run:
    files = discover(root, paths)
    results: list[FileResult] = []
    with dbconn.connect(dsn, app="devenv test db") as conn:
        conn.autocommit = True
        for path in files:
            try:
                shown = str(path.relative_to(root))
            except ValueError:
                shown = str(path)
            results.append(run_file(conn, path, shown))
    return Run(results)


# ------------------------------------------------------------------------------------------
# Output.


def tap(run: Run) -> str:
    """One TAP 13 stream: each file a subtest, its own lines indented under it."""
    out = ["TAP version 13"]
    for i, f in enumerate(run.files, 1):
        out.append(f"# Subtest: {f.path}")
        out += [f"    {line}" for line in f.tap]
        for p in f.problems:
            if not p.startswith("test "):
                out.append(f"    # {p}")
        out.append(f"{'ok' if f.passed else 'not ok'} {i} - {f.path}")
    out.append(f"1..{len(run.files)}")
    return "\n".join(out) + "\n"


def junit(run: Run) -> str:
    import xml.etree.ElementTree as ET

    suites = ET.Element("testsuites", name="devenv test db")
    for f in run.files:
        suite = ET.SubElement(suites, "testsuite", name=str(f.path), time=f"{f.seconds:.3f}")
        for c in f.cases:
            case = ET.SubElement(
                suite, "testcase", classname=str(f.path), name=f"{c.number} - {c.description}"
            )
            if c.directive == "skip" or (c.directive == "todo" and not c.ok):
                ET.SubElement(case, "skipped", message=c.directive)
            elif not c.ok:
                fail = ET.SubElement(case, "failure", message=c.description or "not ok")
                fail.text = "\n".join(c.diagnostics)
        other = [p for p in f.problems if not p.startswith("test ")]
        if other:
            case = ET.SubElement(suite, "testcase", classname=str(f.path), name="file")
            ET.SubElement(case, "failure", message=other[0]).text = "\n".join(other)
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(len(suite.findall("testcase/failure"))))
        suite.set("skipped", str(len(suite.findall("testcase/skipped"))))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
