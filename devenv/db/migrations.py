"""Migrations: ordered SQL files, each applied in its own transaction and recorded with its
checksum in ``devenv.schema_migrations``, under devenv's advisory lock.

Files are ``*.sql`` in the migrations folder, applied in name order (``devenv db new`` names them
``YYYYMMDDHHMMSS_name.sql``). The checksum is the SHA-256 of the file with line endings
normalised to ``\\n`` (so a Windows checkout with autocrlf does not look edited). A file edited or
removed after it was applied stops ``migrate`` before anything runs: local history no longer
matches the files, and only the developer knows which side is right.

Statements run one by one inside the file's transaction so a failure names the file, the line
(the server's cursor position mapped back to the file) and the statement; the whole file rolls
back and is not recorded.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from devenv.db import conn as dbconn
from devenv.db.sqlsplit import SplitError, Statement, read_sql, split
from devenv.errors import DatabaseError, UsageError

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_TXN_CONTROL = re.compile(
    r"^(begin|start\s+transaction|commit|end)(\s+(work|transaction))?(\s+isolation\s.*)?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", text).strip()


class MigrationError(DatabaseError):
    """A migration failed or the applied history does not match the files."""


@dataclass(frozen=True)
class MigrationFile:
    name: str
    path: Path
    checksum: str

    def read(self) -> str:
        return read_sql(self.path, MigrationError)


@dataclass
class Entry:
    name: str
    state: str  # applied | pending | changed | missing
    applied_at: datetime | None = None
    checksum: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "checksum": self.checksum,
        }


@dataclass
class Status:
    directory: Path
    entries: list[Entry] = field(default_factory=list)

    def of(self, state: str) -> list[Entry]:
        return [e for e in self.entries if e.state == state]

    @property
    def ok(self) -> bool:
        return not self.of("changed") and not self.of("missing")

    def as_dict(self) -> dict[str, Any]:
        counts = {s: len(self.of(s)) for s in ("applied", "pending", "changed", "missing")}
        return {
            "directory": str(self.directory),
            "counts": counts,
            "migrations": [e.as_dict() for e in self.entries],
        }


@dataclass
class Applied:
    name: str
    duration_ms: int
    statements: int


@dataclass
class MigrateResult:
    applied: list[Applied] = field(default_factory=list)
    already_applied: int = 0
    waited_for_lock: bool = False
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": [
                {"name": a.name, "duration_ms": a.duration_ms, "statements": a.statements}
                for a in self.applied
            ],
            "already_applied": self.already_applied,
            "waited_for_lock": self.waited_for_lock,
            "duration_s": round(self.duration_s, 3),
        }


def checksum(path: Path) -> str:
    data = path.read_bytes().replace(b"\r\n", b"\n")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return hashlib.sha256(data).hexdigest()


def discover(directory: Path) -> list[MigrationFile]:
    """The migration files in apply order. A missing folder means no migrations."""
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise MigrationError(
            f"{directory}: the migrations path is not a folder",
            "fix [db] migrations in devenv.toml",
        )
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql" and p.is_file())
    return [MigrationFile(p.name, p, checksum(p)) for p in files]


def _applied_rows(
    conn: psycopg.Connection[tuple[Any, ...]],
) -> dict[str, tuple[str, datetime]]:
    if not dbconn.table_exists(conn, f"{dbconn.SCHEMA}.schema_migrations"):
        return {}
    rows = conn.execute(
        "SELECT name, checksum, applied_at FROM devenv.schema_migrations ORDER BY name"
    ).fetchall()
    return {str(r[0]): (str(r[1]), r[2]) for r in rows}


def _status(directory: Path, files: list[MigrationFile], applied: dict[str, Any]) -> Status:
    st = Status(directory)
    by_name = {f.name: f for f in files}
    for name in sorted(set(by_name) | set(applied)):
        f = by_name.get(name)
        if name not in applied:
            st.entries.append(Entry(name, "pending", None, f.checksum if f else None))
            continue
        recorded, at = applied[name]
        if f is None:
            st.entries.append(Entry(name, "missing", at, recorded))
        elif f.checksum != recorded:
            st.entries.append(Entry(name, "changed", at, f.checksum))
        else:
            st.entries.append(Entry(name, "applied", at, recorded))
    return st


def status(dsn: str, migrations_dir: Path) -> Status:
    """Applied, pending, changed (edited after applying) and missing (file removed) migrations."""
    files = discover(migrations_dir)
    with dbconn.connect(dsn) as conn:
        return _status(migrations_dir, files, _applied_rows(conn))


def _refuse(st: Status) -> None:
    changed, missing = st.of("changed"), st.of("missing")
    if changed:
        e = changed[0]
        others = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        at = e.applied_at.strftime("%Y-%m-%d %H:%M:%S") if e.applied_at else "earlier"
        raise MigrationError(
            f"migration {st.directory / e.name} was edited after it was applied on {at}{others};"
            " nothing was applied",
            "restore the applied version (e.g. `git checkout -- <file>`) and put the change in a"
            " new migration (`devenv db new NAME`), or rebuild the local database from the files"
            " with `devenv db reset`",
        )
    if missing:
        e = missing[0]
        others = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise MigrationError(
            f"migration {e.name} was applied but its file is gone from {st.directory}{others};"
            " nothing was applied",
            "restore the file (e.g. from git), or rebuild the local database from the files"
            " with `devenv db reset`",
        )


def statements(mf: MigrationFile) -> list[Statement]:
    try:
        return split(mf.read())
    except SplitError as exc:
        raise MigrationError(
            f"{mf.path}:{exc.line}: {exc}", "close it, then run `devenv db migrate` again"
        ) from None


def run_statements(
    conn: psycopg.Connection[tuple[Any, ...]],
    where: Path,
    stmts: list[Statement],
    error: type[DatabaseError],
    hint: str,
) -> None:
    """Execute ``stmts`` on ``conn`` (inside the caller's transaction); a failure raises
    ``error`` naming ``where``, the line and the statement."""
    with conn.cursor() as cur:
        for stmt in stmts:
            if _TXN_CONTROL.match(_strip_comments(stmt.text)):
                # The file already runs in one transaction devenv owns; a literal BEGIN/COMMIT
                # (common in hand-written and dumped files) would end it half-way.
                continue
            try:
                cur.execute(stmt.text)
            except psycopg.errors.QueryCanceled:
                raise
            except psycopg.OperationalError as exc:
                if conn.broken:
                    raise DatabaseError(
                        f"{where}:{stmt.line}: lost the connection to Postgres while running it:"
                        f" {dbconn.first_line(str(exc))}",
                        "nothing from this file was kept; check the server and run again",
                    ) from None
                raise error(dbconn.server_error_line(exc, str(where), stmt), hint) from None
            except psycopg.errors.FeatureNotSupported as exc:
                missing = missing_extension(exc)
                if missing is None:
                    raise error(dbconn.server_error_line(exc, str(where), stmt), hint) from None
                name, image, how = missing
                raise error(
                    f"{where}:{stmt.line}: extension {name!r} is not available in the stack's"
                    f" Postgres image; {image} has it",
                    f"{how}; {hint}",
                ) from None
            except psycopg.Error as exc:
                raise error(dbconn.server_error_line(exc, str(where), stmt), hint) from None


_NOT_AVAILABLE = re.compile(r'^extension "([^"]+)" is not available')


def missing_extension(exc: psycopg.Error) -> tuple[str, str, str] | None:
    """(extension, an image that has it, how to use one) if ``exc`` is Postgres saying an
    extension's files are not installed, else None."""
    from devenv.db.extensions import where_to_get

    m = _NOT_AVAILABLE.match(exc.diag.message_primary or "")
    if m is None:
        return None
    name = m.group(1)
    return (name, *where_to_get(name))


def apply_pending(
    conn: psycopg.Connection[tuple[Any, ...]],
    migrations_dir: Path,
    *,
    on_apply: Callable[[str], None] | None = None,
) -> MigrateResult:
    """The body of :func:`migrate` on a connection that already holds the lock."""
    result = MigrateResult()
    dbconn.ensure_schema(conn)
    files = discover(migrations_dir)
    st = _status(migrations_dir, files, _applied_rows(conn))
    _refuse(st)
    result.already_applied = len(st.of("applied"))
    pending = {e.name for e in st.of("pending")}
    for mf in files:
        if mf.name not in pending:
            continue
        stmts = statements(mf)
        if on_apply:
            on_apply(mf.name)
        t0 = time.perf_counter()
        done = len(result.applied)
        try:
            with conn.transaction():
                run_statements(
                    conn,
                    mf.path,
                    stmts,
                    MigrationError,
                    f"the file was rolled back and not recorded ({done} migration"
                    f"{'s' if done != 1 else ''} applied before it stay applied); fix it and run"
                    " `devenv db migrate` again",
                )
                ms = int((time.perf_counter() - t0) * 1000)
                conn.execute(
                    "INSERT INTO devenv.schema_migrations (name, checksum, duration_ms)"
                    " VALUES (%s, %s, %s)",
                    (mf.name, mf.checksum, ms),
                )
        except psycopg.Error as exc:
            # COMMIT itself failed (a deferred constraint): same report, file-level.
            raise MigrationError(
                dbconn.server_error_line(exc, str(mf.path), None),
                "the file was rolled back and not recorded; fix it and run `devenv db migrate`",
            ) from None
        result.applied.append(Applied(mf.name, ms, len(stmts)))
    return result


def migrate(
    dsn: str,
    migrations_dir: Path,
    *,
    lock_timeout: float = 600.0,
    on_wait: Callable[[int | None], None] | None = None,
    on_apply: Callable[[str], None] | None = None,
) -> MigrateResult:
    """Apply every pending migration in order, each in its own transaction."""
    t0 = time.perf_counter()
    waited = False

    def _wait(pid: int | None) -> None:
        nonlocal waited
        waited = True
        if on_wait:
            on_wait(pid)

    with dbconn.connect(dsn) as conn, dbconn.locked(conn, timeout=lock_timeout, on_wait=_wait):
        result = apply_pending(conn, migrations_dir, on_apply=on_apply)
    result.waited_for_lock = waited
    result.duration_s = time.perf_counter() - t0
    return result


def new_migration(migrations_dir: Path, name: str, *, now: datetime | None = None) -> Path:
    """Create an empty, timestamped migration file and return its path."""
    slug = name.strip().lower().replace("-", "_").replace(" ", "_")
    if not _NAME_RE.match(slug):
        raise UsageError(
            f"invalid migration name {name!r}",
            "use letters, digits and underscores, e.g. `devenv db new add_favourites`",
        )
    if migrations_dir.exists() and not migrations_dir.is_dir():
        raise UsageError(f"{migrations_dir} is not a folder", "fix [db] migrations in devenv.toml")
    migrations_dir.mkdir(parents=True, exist_ok=True)
    stamp = now or datetime.now(UTC)
    existing = [p.name for p in migrations_dir.glob("*.sql")]
    latest = max((n[:14] for n in existing if n[:14].isdigit()), default="")
    ts = stamp.strftime("%Y%m%d%H%M%S")
    # Two files made in the same second (or a clock behind the newest file) still sort after it.
    if latest and ts <= latest:
        ts = str(int(latest) + 1)
    path = migrations_dir / f"{ts}_{slug}.sql"
    path.write_text(
        f"-- {slug}: applied by `devenv db migrate` in one transaction; never edit it once\n"
        "-- applied anywhere that matters: add a new migration instead.\n\n"
    )
    return path
