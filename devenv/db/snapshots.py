"""Snapshots: Postgres template databases, saved and restored with ``CREATE DATABASE ... TEMPLATE``
(a file-level clone, not a dump replay).

A snapshot of database ``D`` named ``N`` is the database ``devenv_snap__N``, marked
``IS_TEMPLATE`` and ``ALLOW_CONNECTIONS false`` so nobody writes to it, with its metadata (source,
time, size) as JSON in the database's comment (a shared catalog, readable from any database).

Clone strategy: ``FILE_COPY`` by default. Postgres 15's default, ``WAL_LOG``, writes every page of
the source through the WAL and the shared buffers; ``FILE_COPY`` copies the files after a
checkpoint. bench/bench_db.py measures both on a ~100 MB database (figures in its output and the
issue note); ``strategy=`` switches. Postgres 14 and older only have the file copy and reject the
keyword, so it is sent only to servers that know it.

Restore clones the snapshot into a side database first, then swaps it in: other sessions on the
target are terminated (``DROP DATABASE ... WITH (FORCE)``, which refuses new ones meanwhile), the
old database is dropped and the clone renamed — so the target is missing only for that instant,
not for the whole copy. The target's owner, database-level grants and ``ALTER DATABASE ... SET``
settings are carried over (a template clone does not copy them; GoTrue needs its CREATE grant).

Saving needs the source to have no other sessions for a moment; they are terminated and the clone
retried while clients (GoTrue's pool) reconnect. That takes a superuser when background workers
(pg_cron's) are connected: on Supabase's Postgres image, whose `postgres` is none, snapshots are
taken as its superuser ``supabase_admin`` (the stack's bootstrap gives it the stack's password).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from devenv.db import conn as dbconn
from devenv.errors import DatabaseError, UsageError

PREFIX = "devenv_snap__"
RESTORE_PREFIX = "devenv_restore__"
DEFAULT_STRATEGY = "FILE_COPY"
STRATEGIES = ("FILE_COPY", "WAL_LOG")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

Conn = psycopg.Connection[tuple[Any, ...]]


class SnapshotError(DatabaseError):
    pass


@dataclass
class Snapshot:
    name: str
    database: str
    source: str
    created_at: str
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "database": self.database,
            "source": self.source,
            "created_at": self.created_at,
            "size_bytes": self.size_bytes,
        }


@dataclass
class SnapshotResult:
    snapshot: Snapshot
    action: str  # saved | restored | deleted
    duration_s: float
    terminated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "duration_s": round(self.duration_s, 4),
            "sessions_terminated": self.terminated,
            **self.snapshot.as_dict(),
        }


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"invalid snapshot name {name!r}",
            "use up to 40 lower-case letters, digits, '-' or '_', starting with a letter or digit",
        )
    return name


def _db_name(name: str) -> str:
    return PREFIX + check_name(name)


def maintenance_dsn(dsn: str) -> str:
    """Another database on the same server (the one being cloned or dropped must be free), as
    a superuser (on Supabase's image: ``supabase_admin``, see dbconn.superuser_dsn)."""
    target = dbconn.dbname(dsn)
    other = dbconn.with_dbname(dsn, "template1" if target == "postgres" else "postgres")
    return dbconn.superuser_dsn(other)


def _strategy(conn: Conn, strategy: str) -> sql.Composable:
    s = strategy.upper()
    if s not in STRATEGIES:
        raise UsageError(f"unknown clone strategy {strategy!r}", f"use {' or '.join(STRATEGIES)}")
    if conn.info.server_version < 150000:
        return sql.SQL("")
    return sql.SQL(" STRATEGY {}").format(sql.SQL(s))


def _exists(conn: Conn, datname: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (datname,)).fetchone()
        is not None
    )


def _terminate(conn: Conn, datname: str) -> int:
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (datname,),
    ).fetchall()
    return sum(1 for r in rows if r[0])


def clone(conn: Conn, new: str, template: str, strategy: str, *, owner: str | None = None) -> int:
    """CREATE DATABASE new TEMPLATE template; terminate and retry while others reconnect."""
    stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}{}{}").format(
        sql.Identifier(new),
        sql.Identifier(template),
        sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if owner else sql.SQL(""),
        _strategy(conn, strategy),
    )
    terminated = 0
    deadline = time.monotonic() + 10
    while True:
        try:
            conn.execute(stmt)
            return terminated
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise SnapshotError(
                    f"database {template} is still in use by other sessions after 10 s",
                    "stop the clients that keep reconnecting, then run again",
                ) from None
            terminated += _terminate(conn, template)
            time.sleep(0.02)


def meta_of(conn: Conn, datname: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database'), pg_database_size(oid)"
        " FROM pg_database WHERE datname = %s",
        (datname,),
    ).fetchone()
    if row is None:
        return None
    try:
        meta = json.loads(str(row[0] or "{}"))
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    meta["_size"] = int(str(row[1]))
    return meta


def _snapshot(datname: str, meta: dict[str, Any]) -> Snapshot:
    return Snapshot(
        name=datname[len(PREFIX) :],
        database=datname,
        source=str(meta.get("source", "?")),
        created_at=str(meta.get("created_at", "")),
        size_bytes=int(meta.get("_size", 0)),
    )


def save(dsn: str, name: str, *, strategy: str = DEFAULT_STRATEGY) -> SnapshotResult:
    """Clone the DSN's database into snapshot ``name``."""
    datname = _db_name(name)
    source = dbconn.dbname(dsn)
    t0 = time.perf_counter()
    with dbconn.connect(maintenance_dsn(dsn)) as conn:
        if not _exists(conn, source):
            raise SnapshotError(f"database {source} does not exist", "check the database URL")
        if _exists(conn, datname):
            meta = meta_of(conn, datname) or {}
            raise SnapshotError(
                f"snapshot {name!r} already exists (taken {meta.get('created_at', '?')})",
                f"delete it first (`devenv db snapshot delete {name}`) or choose another name",
            )
        meta = {"devenv_snapshot": 1, "source": source}
        terminated = save_template(conn, source, datname, meta, strategy)
        snap = _snapshot(datname, meta_of(conn, datname) or meta)
    return SnapshotResult(snap, "saved", time.perf_counter() - t0, terminated)


def save_template(
    conn: Conn, source: str, datname: str, meta: dict[str, Any], strategy: str = DEFAULT_STRATEGY
) -> int:
    """Clone ``source`` into the template database ``datname`` (read-only, no connections),
    with ``meta`` (and the time) as JSON in its comment; the sessions terminated on the way.
    The comment is written last: a template whose clone was interrupted has none, and readers
    that require their marker in it never use it."""
    terminated = _terminate(conn, source)
    terminated += clone(conn, datname, source, strategy)
    ident = sql.Identifier(datname)
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true").format(ident)
    )
    meta = {**meta, "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    conn.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(json.dumps(meta)))
    )
    return terminated


def drop_template(conn: Conn, datname: str) -> None:
    """Drop a template database (made by :func:`save_template`), if it exists."""
    if _exists(conn, datname):
        ident = sql.Identifier(datname)
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(ident))
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))


def _require(conn: Conn, name: str) -> tuple[str, dict[str, Any]]:
    datname = _db_name(name)
    meta = meta_of(conn, datname)
    if meta is None:
        names = [s.name for s in _list(conn)]
        raise SnapshotError(
            f"no snapshot {name!r}",
            f"snapshots: {', '.join(names)}"
            if names
            else "take one with `devenv db snapshot save NAME`",
        )
    return datname, meta


def _database_properties(conn: Conn, datname: str) -> tuple[str, list[sql.Composed]]:
    """The owner of ``datname`` and the statements that re-create its grants and settings."""
    row = conn.execute(
        "SELECT datdba::regrole::text, datconnlimit FROM pg_database WHERE datname = %s",
        (datname,),
    ).fetchone()
    assert row is not None
    owner, connlimit = str(row[0]), int(str(row[1]))
    db = sql.Identifier(datname)
    stmts: list[sql.Composed] = []
    acl = conn.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE a.grantee::regrole::text END,"
        " a.privilege_type, a.is_grantable"
        " FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s",
        (datname,),
    ).fetchall()
    if acl:
        # An explicit ACL replaces the default one (PUBLIC may have lost CONNECT/TEMP).
        stmts.append(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        for grantee, priv, grantable in acl:
            if grantee == owner:
                continue
            who = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(str(grantee))
            stmts.append(
                sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                    sql.SQL(str(priv)),
                    db,
                    who,
                    sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
                )
            )
    if connlimit != -1:
        stmts.append(
            sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(db, sql.Literal(connlimit))
        )
    settings = conn.execute(
        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE s.setrole::regrole::text END,"
        " unnest(s.setconfig)"
        " FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
        " WHERE d.datname = %s",
        (datname,),
    ).fetchall()
    for role, setting in settings:
        key, _, value = str(setting).partition("=")
        if role is None:
            stmts.append(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    db, sql.Identifier(key), sql.Literal(value)
                )
            )
        else:
            stmts.append(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                    sql.Identifier(str(role)), db, sql.Identifier(key), sql.Literal(value)
                )
            )
    return owner, stmts


def restore(dsn: str, name: str, *, strategy: str = DEFAULT_STRATEGY) -> SnapshotResult:
    """Replace the DSN's database with a clone of snapshot ``name``."""
    target = dbconn.dbname(dsn)
    t0 = time.perf_counter()
    with dbconn.connect(maintenance_dsn(dsn)) as conn:
        datname, meta = _require(conn, name)
        terminated = swap_in(conn, datname, target, strategy, what=f"snapshot {name!r}")
        snap = _snapshot(datname, meta)
    return SnapshotResult(snap, "restored", time.perf_counter() - t0, terminated)


def swap_in(
    conn: Conn, template: str, target: str, strategy: str = DEFAULT_STRATEGY, *, what: str
) -> int:
    """Replace database ``target`` with a clone of ``template`` (see the module docs: clone
    aside, then drop and rename, owner, grants and settings carried over); the sessions
    terminated. ``what`` names the template in errors."""
    side = (RESTORE_PREFIX + target)[:63]
    if _exists(conn, side):  # left by an interrupted restore
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(side)))
    if not _exists(conn, target):
        raise SnapshotError(f"database {target} does not exist", "check the database URL")
    owner, props = _database_properties(conn, target)
    clone(conn, side, template, strategy, owner=owner)
    terminated = _terminate(conn, target)
    try:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(target)))
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(side), sql.Identifier(target)
            )
        )
    except psycopg.Error as exc:
        raise SnapshotError(
            f"restoring {what} into {target} failed: {dbconn.first_line(str(exc))}",
            f"the restored copy is kept as database {side}; run the restore again",
        ) from None
    for stmt in props:
        conn.execute(stmt)
    return terminated


def _list(conn: Conn) -> list[Snapshot]:
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY datname",
        (PREFIX,),
    ).fetchall()
    out = []
    for (datname,) in rows:
        meta = meta_of(conn, str(datname))
        if meta is not None:
            out.append(_snapshot(str(datname), meta))
    return out


def exists(dsn: str, name: str) -> bool:
    """Whether snapshot ``name`` is there (a complete one: its comment is written last)."""
    with dbconn.connect(maintenance_dsn(dsn)) as conn:
        meta = meta_of(conn, _db_name(name))
    return bool(meta and meta.get("devenv_snapshot"))


def list_snapshots(dsn: str) -> list[Snapshot]:
    with dbconn.connect(maintenance_dsn(dsn)) as conn:
        return _list(conn)


def delete(dsn: str, name: str) -> SnapshotResult:
    t0 = time.perf_counter()
    with dbconn.connect(maintenance_dsn(dsn)) as conn:
        datname, meta = _require(conn, name)
        drop_template(conn, datname)
    return SnapshotResult(_snapshot(datname, meta), "deleted", time.perf_counter() - t0)
