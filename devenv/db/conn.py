"""Connections, the advisory lock, and turning server errors into one clear line.

Every entry point takes a superuser DSN (the running stack's comes from
``Stack.database_url``); nothing here reads a Config.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import psycopg
from psycopg import conninfo, sql

from devenv.errors import DatabaseError

if TYPE_CHECKING:
    from devenv.db.sqlsplit import Statement

#: Every devenv step that changes a database's schema or seed data holds this session-level
#: advisory lock, so two terminals or two CI jobs never interleave (it is re-entrant per session,
#: so a reset can hold it across its migrate and seed steps).
LOCK_KEY = zlib.crc32(b"devenv.db") & 0x7FFFFFFF

SCHEMA = "devenv"


def describe(dsn: str) -> str:
    """host:port/dbname of a DSN, for messages (never the password)."""
    try:
        p = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    host = p.get("host") or "localhost"
    return f"{host}:{p.get('port') or 5432}/{p.get('dbname') or p.get('user') or 'postgres'}"


def dbname(dsn: str) -> str:
    p = conninfo.conninfo_to_dict(dsn)
    return str(p.get("dbname") or p.get("user") or "postgres")


def with_dbname(dsn: str, name: str) -> str:
    """The same server and credentials, another database."""
    return conninfo.make_conninfo(dsn, dbname=name)


def connect(
    dsn: str, *, autocommit: bool = True, app: str = "devenv"
) -> psycopg.Connection[tuple[object, ...]]:
    """Connect, or raise one line saying where and what to do."""
    try:
        conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise DatabaseError(
            f"invalid database URL: {first_line(str(exc))}",
            "check DEVENV_DATABASE_URL or the stack's postgres settings",
        ) from None
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, application_name=app)
        conn.prepare_threshold = None  # DDL and one-off statements: never server-side prepare
        return conn
    except psycopg.OperationalError as exc:
        raise DatabaseError(
            f"cannot connect to Postgres at {describe(dsn)}: {first_line(str(exc))}",
            "is the stack up? start it with `devenv up` (or check DEVENV_DATABASE_URL)",
        ) from None


#: Supabase's Postgres image (supabase/postgres) names its superuser so; its `postgres` is not one
#: (hosted Supabase's attributes). The stack's bootstrap gives it the stack's password.
SUPABASE_SUPERUSER = "supabase_admin"


def supabase_image(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Whether the server is laid out as Supabase's Postgres image: recognised, as
    compose/postgres/bootstrap.sh recognises it, by what is in the database (a superuser
    ``supabase_admin``), not by an image name, so a mirrored or re-tagged image counts too."""
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s AND rolsuper)",
        (SUPABASE_SUPERUSER,),
    ).fetchone()
    return bool(row and row[0])


def superuser_dsn(dsn: str) -> str:
    """``dsn`` for the steps that need a superuser (cloning and dropping databases while the
    server's background workers, pg_cron's among them, are connected). On Supabase's image,
    where the DSN's `postgres` is no superuser, the same DSN as its superuser: the same
    password, which the stack's bootstrap gives both."""
    with connect(dsn) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if (row and row[0]) or not supabase_image(conn):
            return dsn
    return conninfo.make_conninfo(dsn, user=SUPABASE_SUPERUSER)


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else text.strip()


@contextlib.contextmanager
def locked(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    timeout: float = 600.0,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[None]:
    """Hold devenv's advisory lock for the block. Waits for another holder (reporting its pid
    through ``on_wait``) up to ``timeout`` seconds."""
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    if not (got and got[0]):
        holder = conn.execute(
            "SELECT pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"
            " AND l.objid = %s::bigint::oid AND l.objsubid = 1 AND d.datname = current_database()"
            " LIMIT 1",
            (LOCK_KEY,),
        ).fetchone()
        pid = int(str(holder[0])) if holder else None
        if on_wait:
            on_wait(pid)
        deadline = time.monotonic() + timeout
        while True:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            if got and got[0]:
                break
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"another devenv database step (server pid {pid}) still holds the lock on "
                    f"{describe_conn(conn)} after {timeout:.0f} s",
                    "wait for it to finish, or stop it, then run again",
                )
            time.sleep(0.05)
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            with contextlib.suppress(psycopg.Error):
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.rollback()
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def describe_conn(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    i = conn.info
    return f"{i.host}:{i.port}/{i.dbname}"


def ensure_schema(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """devenv's own bookkeeping tables. Call with the lock held (CREATE ... IF NOT EXISTS races)."""
    conn.execute(
        sql.SQL(
            """
            CREATE SCHEMA IF NOT EXISTS {s};
            REVOKE ALL ON SCHEMA {s} FROM PUBLIC;
            CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
                name        text PRIMARY KEY,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms integer NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS {s}.seed_sets (
                name      text PRIMARY KEY,
                hash      text NOT NULL,
                loaded_at timestamptz NOT NULL DEFAULT now(),
                files     integer NOT NULL DEFAULT 0,
                rows      bigint NOT NULL DEFAULT 0,
                users     integer NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS {s}.seed_users (
                seed_set text NOT NULL,
                email    text NOT NULL,
                user_id  uuid NOT NULL,
                PRIMARY KEY (seed_set, email)
            );
            """
        ).format(s=sql.Identifier(SCHEMA))
    )


def table_exists(conn: psycopg.Connection[tuple[object, ...]], qualified: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])


def server_error_line(
    exc: psycopg.Error, where: str, stmt: Statement | None, *, extra: str = ""
) -> str:
    """``file:line: message (detail) in statement: …`` from a server error raised by ``stmt``."""
    diag = exc.diag
    primary = diag.message_primary or first_line(str(exc))
    line: int | None = None
    if stmt is not None:
        line = stmt.line
        pos = diag.statement_position
        if pos and pos.isdigit():
            line = stmt.line_of(int(pos))
    loc = f"{where}:{line}" if line else where
    parts = [f"{loc}: {primary}"]
    if diag.message_detail:
        parts.append(f"({first_line(diag.message_detail)})")
    if extra:
        parts.append(extra)
    if stmt is not None:
        parts.append(f"in statement: {stmt.excerpt()}")
    return " ".join(parts)
