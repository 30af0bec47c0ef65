"""Loading seed sets into the database. Reading a set's files (no database needed), and their
layout and formats, is devenv.db.seed_files.

A set loads whole or not at all: every file is checked first (tables, columns, users), then the
rows and SQL go in one transaction together with the set's record in ``devenv.seed_sets`` (name and
the SHA-256 of its files). Auth users live in GoTrue, outside that transaction: each one created is
noted at once in ``devenv.seed_users``, deleted again through the API if the transaction fails,
and re-used (updated in place, keeping its id) by the next run if even that was impossible — so a
crash at any point leaves a state the next run completes.

An unchanged set is skipped; a changed one is reported and left alone unless ``force`` is given,
which reloads it so that the database holds what one load of the current files gives:

- the tables a set's data files load are the set's (journalled in ``devenv.seed_tables``); a
  forced reload empties them first, in the same transaction as the new rows — ``TRUNCATE`` where
  every table referencing them is emptied too (as fast as a first load), ``DELETE`` otherwise
  (a row outside the set still referencing one stops the reload and is named);
- a table another loaded set also fills is not emptied: there rows are upserted on the primary key
  (or skipped where a unique key already holds them), and the counts say so;
- users are updated in place (keeping their ids); users the set made that its file no longer lists
  are deleted;
- SQL files run again (write them to be re-runnable).

The result counts rows ``replaced`` (removed or updated), ``inserted`` and ``skipped``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devenv.db import auth as authmod
from devenv.db import conn as dbconn
from devenv.db import migrations
from devenv.db.seed_files import (
    CHUNK,
    DataFile,
    SeedError,
    SeedSet,
    SetFiles,
    SqlFile,
    read_set,
    rows_of,
    yaml_line,
)
from devenv.errors import DatabaseError, UsageError

# ------------------------------------------------------------------------------------------
# Results.


@dataclass
class SetResult:
    name: str
    status: str  # loaded | reloaded | unchanged | changed
    hash: str
    previous_hash: str | None = None
    files: int = 0
    rows: int = 0
    users: int = 0
    duration_s: float = 0.0
    #: Rows of the previous load removed (or updated in place, on a shared table).
    replaced: int = 0
    #: Rows of the files written as new rows.
    inserted: int = 0
    #: Rows of the files not written (a unique key on a shared table already held them).
    skipped: int = 0
    #: Users the previous load made that the file no longer lists, deleted.
    users_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "hash": self.hash,
            "previous_hash": self.previous_hash,
            "files": self.files,
            "rows": self.rows,
            "replaced": self.replaced,
            "inserted": self.inserted,
            "skipped": self.skipped,
            "users": self.users,
            "users_removed": self.users_removed,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class SeedResult:
    sets: list[SetResult] = field(default_factory=list)

    @property
    def changed(self) -> list[SetResult]:
        return [s for s in self.sets if s.status == "changed"]

    def as_dict(self) -> dict[str, Any]:
        return {"sets": [s.as_dict() for s in self.sets]}


# ------------------------------------------------------------------------------------------
# Loading.

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass
class _Column:
    name: str
    generated: bool
    identity: str  # '' | 'a' (always) | 'd' (by default)


def _columns(conn: Conn, df: DataFile) -> dict[str, _Column]:
    rel = conn.execute(
        "SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (df.schema, df.table),
    ).fetchone()
    if rel is None:
        raise SeedError(
            f"{df.path}: table {df.qualified} does not exist",
            "create it in a migration (and run `devenv db migrate`), or rename the file",
        )
    if rel[1] not in ("r", "p"):
        raise SeedError(
            f"{df.path}: {df.qualified} is not a table (relkind {rel[1]!r})",
            "seed the underlying table",
        )
    rows = conn.execute(
        "SELECT attname, attgenerated <> '', attidentity FROM pg_attribute"
        " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (rel[0],),
    ).fetchall()
    return {str(r[0]): _Column(str(r[0]), bool(r[1]), str(r[2] or "")) for r in rows}


def _check_columns(conn: Conn, df: DataFile) -> dict[str, _Column]:
    cols = _columns(conn, df)
    for c in df.columns:
        if c not in cols:
            raise SeedError(
                f"{df.path}: column {c!r} does not exist in table {df.qualified}",
                f"its columns: {', '.join(cols)}",
            )
        if cols[c].generated:
            raise SeedError(
                f"{df.path}: column {c!r} of {df.qualified} is generated and cannot be loaded",
                "drop it from the file",
            )
    return cols


def _primary_key(conn: Conn, df: DataFile) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary",
        (sql.Identifier(df.schema, df.table).as_string(conn),),
    ).fetchall()
    return [str(r[0]) for r in rows]


_COPY_LINE = re.compile(r"\bline (\d+)(?:, column ([^:]+))?")
_KEY = re.compile(r"Key \((?P<cols>.+?)\)=\((?P<vals>.*)\)")


def _find_row(df: DataFile, detail: str) -> int | None:
    """The 1-based data row whose key matches ``Key (a, b)=(1, 2)`` in a server detail."""
    m = _KEY.search(detail)
    if not m:
        return None
    cols = [c.strip().strip('"') for c in m.group("cols").split(",")]
    vals = [v.strip() for v in m.group("vals").split(",")]
    if len(cols) != len(vals) or not all(c in df.columns for c in cols):
        return None
    for i, row in enumerate(rows_of(df), 1):
        if all(row.get(c, "").strip() == v for c, v in zip(cols, vals, strict=True)):
            return i
    return None


def _copy_error(exc: psycopg.Error, df: DataFile, set_name: str) -> SeedError:
    diag = exc.diag
    primary = diag.message_primary or dbconn.first_line(str(exc))
    where = str(df.path)
    m = _COPY_LINE.search(diag.context or "")
    row: int | None = None
    if m:
        line = int(m.group(1))
        row = line - 1 if df.kind == "csv" else line
    elif diag.message_detail:
        row = _find_row(df, diag.message_detail)
    if row is not None and row > 0:
        suffix = f" (line {row + 1})" if df.kind == "csv" else yaml_line(df.path, df.kind, row)
        where += f": row {row}{suffix}"
    col = m.group(2) if m and m.group(2) else diag.column_name
    text = f"{where}: {primary}"
    if col:
        text += f" (column {col})"
    if diag.message_detail:
        text += f" ({dbconn.first_line(diag.message_detail)})"
    return SeedError(
        text, f"seed set {set_name!r} was rolled back, nothing loaded; fix the row and run again"
    )


def _to_copy_value(v: Any) -> Any:
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v


def _copy_into(conn: Conn, df: DataFile, target: sql.Composable) -> int:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in df.columns)
    with conn.cursor() as cur:
        if df.kind == "csv":
            stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(target, cols)
            with cur.copy(stmt) as copy, df.path.open("rb") as f:
                f.seek(df.csv_offset)
                while chunk := f.read(CHUNK):
                    copy.write(chunk)
        else:
            assert df.rows is not None
            stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)
            with cur.copy(stmt) as copy:
                for r in df.rows:
                    copy.write_row([_to_copy_value(r[c]) for c in df.columns])
        return max(cur.rowcount, 0)


@dataclass
class _Written:
    inserted: int = 0
    updated: int = 0
    skipped: int = 0


def _load_data(conn: Conn, df: DataFile, cols: dict[str, _Column], upsert: bool) -> _Written:
    table = sql.Identifier(df.schema, df.table)
    out = _Written()
    if not upsert:
        out.inserted = _copy_into(conn, df, table)
    else:
        stage = sql.Identifier("_devenv_seed_stage")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
                stage, sql.SQL(", ").join(sql.Identifier(c) for c in df.columns), table
            )
        )
        staged = _copy_into(conn, df, stage)
        pk = _primary_key(conn, df)
        names = sql.SQL(", ").join(sql.Identifier(c) for c in df.columns)
        overriding = (
            sql.SQL(" OVERRIDING SYSTEM VALUE")
            if any(cols[c].identity == "a" for c in df.columns)
            else sql.SQL("")
        )
        conflict: sql.Composable
        if pk and all(c in df.columns for c in pk):
            rest = [c for c in df.columns if c not in pk]
            action = (
                sql.SQL("DO UPDATE SET ")
                + sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in rest
                )
                if rest
                else sql.SQL("DO NOTHING")
            )
            conflict = (
                sql.SQL("(")
                + sql.SQL(", ").join(sql.Identifier(c) for c in pk)
                + sql.SQL(") ")
                + action
            )
        else:
            conflict = sql.SQL("DO NOTHING")
        # xmax = 0 tells a new row from one ON CONFLICT updated; the server does the counting.
        row = conn.execute(
            sql.SQL(
                "WITH w AS (INSERT INTO {} ({}){} SELECT {} FROM {} ON CONFLICT {}"
                " RETURNING (xmax = 0) AS fresh)"
                " SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM w"
            ).format(table, names, overriding, names, stage, conflict)
        ).fetchone()
        out.inserted, out.updated = (int(str(row[0])), int(str(row[1]))) if row else (0, 0)
        out.skipped = max(staged - out.inserted - out.updated, 0)
        conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    _bump_sequences(conn, df)
    return out


def _bump_sequences(conn: Conn, df: DataFile) -> None:
    """Rows loaded with explicit ids leave identity/serial sequences behind; move them past the
    largest id so the app's own inserts do not collide with seeded rows."""
    qualified = sql.Identifier(df.schema, df.table).as_string(conn)
    for c in df.columns:
        row = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (qualified, c)).fetchone()
        if not row or not row[0]:
            continue
        conn.execute(
            sql.SQL(
                "SELECT setval(%s, GREATEST((SELECT max({c}) FROM {t}), 1),"
                " (SELECT max({c}) FROM {t}) IS NOT NULL)"
            ).format(c=sql.Identifier(c), t=sql.Identifier(df.schema, df.table)),
            (row[0],),
        )


# ------------------------------------------------------------------------------------------
# Replacing what a set loaded before (``force``).

Table = tuple[str, str]  # (schema, table)


def _ensure_journal(conn: Conn) -> None:
    """Which tables each set's data files loaded: what a forced reload empties. Lives beside
    devenv's other bookkeeping (``db reset`` drops it with the rest)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS devenv.seed_tables ("
        " seed_set text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL,"
        " PRIMARY KEY (seed_set, schema_name, table_name))"
    )


def _journalled(conn: Conn) -> dict[str, set[Table]]:
    out: dict[str, set[Table]] = {}
    for set_name, schema, table in conn.execute(
        "SELECT seed_set, schema_name, table_name FROM devenv.seed_tables"
    ).fetchall():
        out.setdefault(str(set_name), set()).add((str(schema), str(table)))
    return out


def _plan(conn: Conn, s: SeedSet) -> tuple[list[Table], set[Table]]:
    """(tables to empty before the reload, tables to upsert into instead)."""
    journal = _journalled(conn)
    current = {(f.schema, f.table) for f in s.files if isinstance(f, DataFile)}
    # A set loaded before the journal existed owns the tables its files name now.
    mine = journal.get(s.name) or current
    others = set().union(*(t for n, t in journal.items() if n != s.name))
    clear = sorted(
        t
        for t in mine
        if t not in others and dbconn.table_exists(conn, sql.Identifier(*t).as_string(conn))
    )
    return clear, (mine | current) - set(clear)


def _empty(conn: Conn, set_name: str, tables: list[Table]) -> int:
    """Remove every row of ``tables``; returns how many. TRUNCATE (cost independent of the row
    count) for the tables no other table references, DELETE (which applies each foreign key's
    ON DELETE rule) for the rest, referencing tables first."""
    if not tables:
        return 0
    oid_of: dict[int, Table] = {}
    removed = 0
    for t in tables:
        row = conn.execute(
            sql.SQL("SELECT {}::regclass::oid, (SELECT count(*) FROM {})").format(
                sql.Literal(sql.Identifier(*t).as_string(conn)), sql.Identifier(*t)
            )
        ).fetchone()
        assert row is not None
        oid_of[int(str(row[0]))] = t
    refs = [
        (int(str(a)), int(str(b)))
        for a, b in conn.execute(
            "SELECT conrelid::oid, confrelid::oid FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = ANY(%s) AND conrelid <> confrelid",
            (list(oid_of),),
        ).fetchall()
    ]
    group = set(oid_of)
    changed = True
    while changed:  # a table referenced from outside the group cannot be truncated with it
        changed = False
        for src, dst in refs:
            if dst in group and src not in group:
                group.discard(dst)
                changed = True
    if group:
        counted = conn.execute(
            sql.SQL("SELECT {}").format(
                sql.SQL(" + ").join(
                    sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(*oid_of[o]))
                    for o in sorted(group)
                )
            )
        ).fetchone()
        removed += int(str(counted[0])) if counted else 0
        conn.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(*oid_of[o]) for o in sorted(group))
            )
        )
    rest = [o for o in oid_of if o not in group]
    while rest:
        # Referencing tables first, so a NO ACTION key between two of the set's tables holds.
        pick = next(
            (o for o in rest if not any(dst == o and src in rest for src, dst in refs)), rest[0]
        )
        rest.remove(pick)
        t = oid_of[pick]
        try:
            with conn.transaction():
                cur = conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(*t)))
        except psycopg.errors.IntegrityError as exc:
            detail = exc.diag.message_detail or ""
            raise SeedError(
                f"seed set {set_name!r}: cannot replace the rows of {t[0]}.{t[1]}:"
                f" {exc.diag.message_primary or dbconn.first_line(str(exc))}"
                + (f" ({dbconn.first_line(detail)})" if detail else ""),
                "the set was rolled back, nothing changed; delete the rows that reference"
                " them, or start over with `devenv db reset`",
            ) from None
        removed += max(cur.rowcount, 0)
    return removed


def _remove_dropped_users(conn: Conn, s: SeedSet, auth: authmod.AuthTarget | None) -> int:
    """Users an earlier load made that the set's file no longer lists: deleted in GoTrue."""
    listed = {u.email for u in s.users}
    gone = [
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            "SELECT email, user_id FROM devenv.seed_users WHERE seed_set = %s", (s.name,)
        ).fetchall()
        if str(r[0]) not in listed
    ]
    if not gone or auth is None:
        return 0
    with authmod.GoTrueAdmin(auth) as admin:
        for email, uid in gone:
            admin.delete(uid)
            conn.execute(
                "DELETE FROM devenv.seed_users WHERE seed_set = %s AND email = %s",
                (s.name, email),
            )
    return len(gone)


def _recorded(conn: Conn, name: str) -> str | None:
    row = conn.execute("SELECT hash FROM devenv.seed_sets WHERE name = %s", (name,)).fetchone()
    return str(row[0]) if row else None


def _ensure_users(
    conn: Conn, s: SeedSet, auth: authmod.AuthTarget | None, created: list[str]
) -> int:
    if not s.users:
        return 0
    if auth is None:
        raise SeedError(
            f"seed set {s.name!r} has auth users ({s.users_file}) but GoTrue is not available",
            "enable and start the gotrue service (`devenv up`), or move the users file out",
        )
    known = {
        str(r[0]): str(r[1])
        for r in conn.execute(
            "SELECT email, user_id FROM devenv.seed_users WHERE seed_set = %s", (s.name,)
        ).fetchall()
    }
    with authmod.GoTrueAdmin(auth) as admin:
        for u in s.users:
            uid = known.get(u.email)
            if uid and (u.id is None or u.id == uid) and admin.update(uid, u):
                continue
            if uid:
                # The recorded user is gone or must change id: forget it and create it afresh.
                if u.id and u.id != uid:
                    admin.delete(uid)
                conn.execute(
                    "DELETE FROM devenv.seed_users WHERE seed_set = %s AND email = %s",
                    (s.name, u.email),
                )
            new_id = admin.create(u)
            # Noted before anything else happens, so a crash from here on is recoverable.
            conn.execute(
                "INSERT INTO devenv.seed_users (seed_set, email, user_id) VALUES (%s, %s, %s)",
                (s.name, u.email, new_id),
            )
            created.append(new_id)
    return len(s.users)


def _undo_users(conn: Conn, s: SeedSet, auth: authmod.AuthTarget | None, ids: list[str]) -> None:
    if not ids or auth is None:
        return
    try:
        with authmod.GoTrueAdmin(auth) as admin:
            for uid in ids:
                if admin.delete(uid) and not conn.broken:
                    conn.execute(
                        "DELETE FROM devenv.seed_users WHERE seed_set = %s AND user_id = %s",
                        (s.name, uid),
                    )
    except (DatabaseError, psycopg.Error):
        # Best effort: whatever stays is recorded in devenv.seed_users and re-used next run.
        pass


def _load_set(
    conn: Conn,
    s: SeedSet,
    *,
    force: bool,
    auth: authmod.AuthTarget | None,
    on_progress: Callable[[str], None] | None,
) -> SetResult:
    t0 = time.perf_counter()
    previous = _recorded(conn, s.name)
    result = SetResult(s.name, "loaded", s.hash, previous)
    if previous is not None and not force:
        result.status = "unchanged" if previous == s.hash else "changed"
        return result
    reload = previous is not None
    data_cols = {
        id(f): _check_columns(conn, f) for f in s.files if isinstance(f, DataFile)
    }  # every table and column checked before anything is written
    clear, upsert_into = _plan(conn, s) if reload else ([], set())
    created: list[str] = []
    try:
        if reload and s.users:
            result.users_removed = _remove_dropped_users(conn, s, auth)
        result.users = _ensure_users(conn, s, auth, created)
        with conn.transaction():
            result.replaced = _empty(conn, s.name, clear)
            for f in s.files:
                if on_progress:
                    on_progress(f"{s.name}/{f.path.name}")
                if isinstance(f, SqlFile):
                    migrations.run_statements(
                        conn,
                        f.path,
                        f.statements,
                        SeedError,
                        f"seed set {s.name!r} was rolled back, nothing loaded; fix the file and"
                        " run again",
                    )
                else:
                    try:
                        w = _load_data(
                            conn, f, data_cols[id(f)], (f.schema, f.table) in upsert_into
                        )
                    except psycopg.Error as exc:
                        if conn.broken:
                            raise
                        raise _copy_error(exc, f, s.name) from None
                    result.rows += w.inserted + w.updated
                    result.inserted += w.inserted
                    result.replaced += w.updated
                    result.skipped += w.skipped
                result.files += 1
            conn.execute(
                "INSERT INTO devenv.seed_sets (name, hash, files, rows, users)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET hash = EXCLUDED.hash, loaded_at = now(),"
                " files = EXCLUDED.files, rows = EXCLUDED.rows, users = EXCLUDED.users",
                (s.name, s.hash, result.files, result.rows, result.users),
            )
            conn.execute("DELETE FROM devenv.seed_tables WHERE seed_set = %s", (s.name,))
            for schema, table in sorted(
                {(f.schema, f.table) for f in s.files if isinstance(f, DataFile)}
            ):
                conn.execute(
                    "INSERT INTO devenv.seed_tables (seed_set, schema_name, table_name)"
                    " VALUES (%s, %s, %s)",
                    (s.name, schema, table),
                )
    except psycopg.OperationalError as exc:
        if conn.broken:
            raise DatabaseError(
                f"lost the connection to Postgres while loading seed set {s.name!r}:"
                f" {dbconn.first_line(str(exc))}",
                "nothing from the set was kept; run `devenv seed` again once Postgres is back",
            ) from None
        _undo_users(conn, s, auth, created)
        raise SeedError(
            f"seed set {s.name!r}: {dbconn.first_line(str(exc))}",
            "the set was rolled back; fix it and run again",
        ) from None
    except psycopg.Error as exc:
        # Raised by COMMIT (deferred constraints): no row to point at, but the set is named.
        _undo_users(conn, s, auth, created)
        raise SeedError(
            f"seed set {s.name!r}: {exc.diag.message_primary or dbconn.first_line(str(exc))}"
            + (f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""),
            "the set was rolled back, nothing loaded; fix it and run again",
        ) from None
    except BaseException:
        if not conn.broken:
            _undo_users(conn, s, auth, created)
        raise
    result.status = "reloaded" if reload else "loaded"
    result.duration_s = time.perf_counter() - t0
    return result


def load_sets(
    conn: Conn,
    parsed: list[SeedSet],
    *,
    force: bool = False,
    auth: authmod.AuthTarget | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> SeedResult:
    """The body of :func:`seed`: sets from :func:`read_set`, on a connection holding the lock."""
    dbconn.ensure_schema(conn)
    _ensure_journal(conn)
    out = SeedResult()
    for s in parsed:
        out.sets.append(_load_set(conn, s, force=force, auth=auth, on_progress=on_progress))
    return out


def seed(
    dsn: str,
    seeds_dir: Path,
    sets: list[str] | tuple[str, ...],
    *,
    force: bool = False,
    auth: authmod.AuthTarget | None = None,
    lock_timeout: float = 600.0,
    on_progress: Callable[[str], None] | None = None,
    files: SetFiles | None = None,
) -> SeedResult:
    """Load the named seed sets, each whole or not at all (see the module docs)."""
    if not sets:
        raise UsageError("no seed set named", "e.g. `devenv seed default`")
    # Read every file before connecting: a typo fails fast, without touching the database.
    parsed = [read_set(seeds_dir, n, files) for n in dict.fromkeys(sets)]
    with dbconn.connect(dsn) as conn, dbconn.locked(conn, timeout=lock_timeout):
        return load_sets(conn, parsed, force=force, auth=auth, on_progress=on_progress)


def describe_rows(rows: int) -> str:
    return f"{rows:,} row{'s' if rows != 1 else ''}"


__all__ = ["SeedError", "SeedResult", "SetResult", "load_sets", "seed"]
