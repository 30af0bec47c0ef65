"""``devenv db reset``: back to a clean database, all migrations, the default seeds — in place.

The database is emptied rather than dropped, so nothing needs restarting: GoTrue keeps its
connections and its own migrations (``auth.schema_migrations``). In one transaction, under
devenv's lock:

- every schema the app made is dropped (all but the system schemas, ``auth`` and schemas owned by
  ``supabase_*`` service roles), which takes the app's tables, functions, extensions and its
  triggers on ``auth.users`` with it; ``public`` is recreated with its previous owner and grants;
- devenv's own bookkeeping (``devenv`` schema) goes too;
- GoTrue's data is truncated (users, identities, sessions, tokens, audit log...: every table in
  ``auth`` except ``schema_migrations``), so auth users are reset with the rest.

Then migrations and the seed sets run as ``devenv db migrate`` and ``devenv seed`` would. Sessions
of other clients on the database are terminated first (they could hold locks on what is dropped),
except GoTrue's own.

Roles and database-wide settings made by migrations survive (they are cluster objects).

The kept state: after a full reset the database is cloned into a template database
(``devenv_reset__<database>``, marked with a hash of every migration and seed file, the sets, the
server's version and GoTrue's applied migrations). The next reset whose hash is the same clones
that template into place instead of replaying migrations and creating auth users through GoTrue
again: the database is swapped as a snapshot restore swaps it (every session on it ends, GoTrue's
pool reconnects). A change of any input, or a template without its mark (an interrupted save),
means a full reset, which keeps a new one. Not for the app's own ``[db] migrate`` tool, whose
inputs devenv cannot see. ``full=True`` (``devenv db reset --full``) always replays.

Not on Supabase's Postgres image (``[images] postgres = "supabase/postgres:…"``): its own schemas
and extensions cannot be told from the app's, so the reset refuses with the way `supabase db
reset` takes there (a new volume: `devenv down --volumes`, `devenv up`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import conninfo, sql

from devenv.db import auth as authmod
from devenv.db import conn as dbconn
from devenv.db import migrations, seed_files, seeds, snapshots, tool
from devenv.db import plan as plan_mod
from devenv.db.plan import DataPlan
from devenv.errors import DatabaseError, UsageError

#: GoTrue connects as this role; its sessions survive a reset.
SERVICE_ROLES_PREFIX = "supabase_"
KEEP_SCHEMAS = ("auth",)
#: Emptied, then made again as they were (compose/postgres/bootstrap.sh made them).
RECREATE_SCHEMAS = ("public", "extensions")
_DEFACL_KINDS = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@dataclass
class CleanResult:
    dropped_schemas: list[str] = field(default_factory=list)
    auth_tables_truncated: int = 0
    auth_users_removed: int = 0
    sessions_terminated: int = 0


#: The kept post-reset state of database D is the template database devenv_reset__D.
TEMPLATE_PREFIX = "devenv_reset__"
_TEMPLATE_MARK = "devenv_reset_template"


@dataclass
class ResetResult:
    phases: dict[str, float] = field(default_factory=dict)
    clean: CleanResult = field(default_factory=CleanResult)
    migrate: migrations.MigrateResult | tool.ToolResult | None = None
    seed: seeds.SeedResult | None = None
    #: "restored" (the kept state was cloned into place), "kept" (a full reset, then kept),
    #: or "" (a full reset, nothing kept: the app's own migration tool, or ``full``).
    template: str = ""
    #: What the kept state holds (from the full reset that made it): migrations applied, and
    #: per seed set its rows and users.
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return sum(self.phases.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "phases_s": {k: round(v, 4) for k, v in self.phases.items()},
            "total_s": round(self.total_s, 4),
            "dropped_schemas": self.clean.dropped_schemas,
            "auth_users_removed": self.clean.auth_users_removed,
            "sessions_terminated": self.clean.sessions_terminated,
            "migrate": self.migrate.as_dict() if self.migrate else None,
            "seed": self.seed.as_dict() if self.seed else None,
            "template": self.template or None,
            "summary": self.summary,
        }

    def _summarise(self) -> None:
        applied = self.migrate.applied if isinstance(self.migrate, migrations.MigrateResult) else []
        self.summary = {
            "migrations": len(applied),
            "sets": {
                s.name: {"rows": s.rows, "users": s.users}
                for s in (self.seed.sets if self.seed else [])
            },
        }


def check_local(dsn: str) -> None:
    """A reset destroys data: refuse anything but a database on this machine."""
    try:
        host = str(conninfo.conninfo_to_dict(dsn).get("host") or "")
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid database URL: {dbconn.first_line(str(exc))}") from None
    hosts = {h.strip() for h in host.split(",")}
    if not all(h in _LOCAL_HOSTS or h.startswith("/") for h in hosts):
        raise UsageError(
            f"refusing to reset {dbconn.describe(dsn)}: it is not a local database",
            "reset only works on the local stack; point DEVENV_DATABASE_URL at it",
        )


def _refuse_supabase_image(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Supabase's Postgres image makes schemas, extensions and event triggers of its own, owned
    partly by `postgres` like the app's: an in-place reset cannot tell them apart, and dropping
    them breaks the image. `supabase db reset` recreates the database there; so does this hint."""
    if dbconn.supabase_image(conn):
        raise DatabaseError(
            f"cannot reset {dbconn.describe_conn(conn)} in place: it runs Supabase's Postgres"
            " image, whose own schemas and extensions cannot be told from the app's",
            "nothing was changed; recreate it as `supabase db reset` does: `devenv down"
            " --volumes`, then `devenv up`, which runs the migrations and seeds again",
        )


def _terminate_others(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    rows = conn.execute(
        "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a"
        " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        " AND a.backend_type = 'client backend'"
        " AND coalesce(a.usename, '') NOT LIKE %s"
        # Other devenv steps waiting for the lock go on after the reset instead of failing.
        " AND coalesce(a.application_name, '') NOT LIKE 'devenv%%'",
        (SERVICE_ROLES_PREFIX + "%",),
    ).fetchall()
    return sum(1 for r in rows if r[0])


def _grants(acl_rows: list[tuple[Any, ...]], obj: sql.Composable) -> list[sql.Composed]:
    out: list[sql.Composed] = []
    for grantee, privilege, grantable in acl_rows:
        who = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(str(grantee))
        stmt = sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(str(privilege)), obj, who)
        if grantable:
            stmt = stmt + sql.SQL(" WITH GRANT OPTION")
        out.append(stmt)
    return out


def _schema_state(
    conn: psycopg.Connection[tuple[Any, ...]], name: str
) -> list[sql.Composed] | None:
    """The statements that make schema ``name`` again as it is now, or None if it is absent."""
    owner = conn.execute(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", (name,)
    ).fetchone()
    if owner is None:
        return None
    schema = sql.SQL("SCHEMA {}").format(sql.Identifier(name))
    out = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            sql.Identifier(name), sql.Identifier(str(owner[0]))
        )
    ]
    comment = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
        (name,),
    ).fetchone()
    if comment is not None and comment[0] is not None:
        out.append(sql.SQL("COMMENT ON {} IS {}").format(schema, sql.Literal(str(comment[0]))))
    acl = conn.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE a.grantee::regrole::text END,"
        " a.privilege_type, a.is_grantable"
        " FROM pg_namespace n, aclexplode(n.nspacl) a"
        " WHERE n.nspname = %s AND a.grantee <> n.nspowner",
        (name,),
    ).fetchall()
    out += _grants(acl, schema)
    for role, kind, grantee, privilege, grantable in conn.execute(
        "SELECT d.defaclrole::regrole::text, d.defaclobjtype,"
        " CASE WHEN a.grantee = 0 THEN NULL ELSE a.grantee::regrole::text END,"
        " a.privilege_type, a.is_grantable"
        " FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,"
        " aclexplode(d.defaclacl) a WHERE n.nspname = %s ORDER BY 1, 2, 3, 4",
        (name,),
    ).fetchall():
        who = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(str(grantee))
        stmt = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON {} TO {}")
        out.append(
            stmt.format(
                sql.Identifier(str(role)),
                sql.Identifier(name),
                sql.SQL(str(privilege)),
                sql.SQL(_DEFACL_KINDS[str(kind)]),
                who,
            )
            + (sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""))
        )
    return out


def _clean(conn: psycopg.Connection[tuple[Any, ...]]) -> CleanResult:
    res = CleanResult()
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '15s'")
        schemas = [
            str(r[0])
            for r in conn.execute(
                "SELECT n.nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
                " WHERE n.nspname <> ALL(%s) AND n.nspname <> 'information_schema'"
                " AND n.nspname NOT LIKE 'pg\\_%%' AND r.rolname NOT LIKE %s"
                " ORDER BY n.nspname",
                (list(KEEP_SCHEMAS), SERVICE_ROLES_PREFIX + "%"),
            ).fetchall()
        ]
        # Schemas the bootstrap made (Supabase's `public` and `extensions`) come back as they
        # were: owner, grants and default privileges (what makes new tables usable by the API
        # roles, as on hosted Supabase).
        recreate = [_schema_state(conn, name) for name in RECREATE_SCHEMAS]
        if schemas:
            conn.execute(
                sql.SQL("DROP SCHEMA {} CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(s) for s in schemas)
                )
            )
        res.dropped_schemas = schemas
        for state in recreate:
            if state is not None:
                for stmt in state:
                    conn.execute(stmt)
        if dbconn.table_exists(conn, "auth.users"):
            counted = conn.execute("SELECT count(*) FROM auth.users").fetchone()
            res.auth_users_removed = int(str(counted[0])) if counted else 0
            tables = [
                str(r[0])
                for r in conn.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'auth' AND c.relkind IN ('r', 'p')"
                    " AND c.relname <> 'schema_migrations' AND NOT c.relispartition"
                ).fetchall()
            ]
            if tables:
                conn.execute(
                    sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                        sql.SQL(", ").join(sql.Identifier("auth", t) for t in tables)
                    )
                )
            res.auth_tables_truncated = len(tables)
    return res


def clean(dsn: str, *, allow_remote: bool = False) -> CleanResult:
    """Empty the database of everything the app and devenv made (see the module docs)."""
    if not allow_remote:
        check_local(dsn)
    with dbconn.connect(dsn) as conn, dbconn.locked(conn):
        _refuse_supabase_image(conn)
        terminated = _terminate_others(conn)
        res = _run_clean(conn)
        res.sessions_terminated = terminated
        return res


def _run_clean(conn: psycopg.Connection[tuple[Any, ...]]) -> CleanResult:
    try:
        return _clean(conn)
    except psycopg.errors.LockNotAvailable:
        raise DatabaseError(
            f"reset of {dbconn.describe_conn(conn)} waited 15 s for a lock held by another session",
            "stop the app or tool holding the database (see pg_stat_activity) and run again",
        ) from None
    except psycopg.Error as exc:
        raise DatabaseError(
            f"reset of {dbconn.describe_conn(conn)} failed: {dbconn.first_line(str(exc))}",
            "nothing was changed; run again, or recreate the stack with `devenv down -v`",
        ) from None


def reset(
    plan: DataPlan,
    dsn: str,
    sets: Sequence[str] = ("default",),
    *,
    auth: authmod.AuthTarget | None = None,
    allow_remote: bool = False,
    full: bool = False,
) -> ResetResult:
    """Back to the state right after the data step of ``plan`` (migrate, load ``sets``): from
    the kept state when its inputs are the same, else by cleaning and replaying on one
    connection (and keeping the result). Each phase timed in ``result.phases`` (seconds)."""
    if not allow_remote:
        check_local(dsn)
    result = ResetResult()
    t = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        result.phases[name] = now - t
        t = now

    # Seed sets are read before anything is dropped: a broken seed file must not leave an
    # empty database behind.
    wanted = [s for s in dict.fromkeys(sets) if s]
    missing = [s for s in wanted if not plan.has_set(s)]
    if missing and wanted != [plan.default_seed]:
        raise UsageError(
            f"no seed set {missing[0]!r} in {plan.seeds_dir}",
            f"known sets: {', '.join(seed_files.available_sets(plan.seeds_dir)) or 'none'}",
        )
    parsed = plan.read_sets(wanted)
    plan.check_files()  # a migration that cannot even be split fails before the drop
    digest = None if full else plan.digest([s.name for s in parsed])
    phase("read files")
    with dbconn.connect(dsn) as conn:
        _refuse_supabase_image(conn)
        key = _state_key(conn, digest) if digest else None
        if key is not None:
            users = _auth_users(conn)
    if key is not None:
        kept = _restore_kept(dsn, key)
        if kept is not None:
            result.template, result.summary = "restored", kept
            result.clean.auth_users_removed = users
            phase("restore")
            return result
    with dbconn.connect(dsn) as conn, dbconn.locked(conn):
        phase("connect")
        terminated = _terminate_others(conn)
        result.clean = _run_clean(conn)
        result.clean.sessions_terminated = terminated
        phase("clean")
        result.migrate = plan_mod.migrate(plan, conn, dsn)
        phase("migrate")
        result.seed = seeds.load_sets(conn, parsed, auth=auth)
        phase("seed")
    result._summarise()
    if key is not None and _keep(dsn, key, result.summary):
        result.template = "kept"
        phase("keep")
    return result


def _state_key(conn: psycopg.Connection[tuple[Any, ...]], digest: str) -> str:
    """The files' digest, and what else the kept state depends on outside them: the server's
    version, and GoTrue's migrations (a newer GoTrue migrated the live database at its start;
    a template from before would take that back)."""
    import hashlib

    parts = [digest, str(conn.info.server_version)]
    if dbconn.table_exists(conn, "auth.schema_migrations"):
        row = conn.execute(
            "SELECT count(*), coalesce(max(version::text), '') FROM auth.schema_migrations"
        ).fetchone()
        parts.append(repr(row))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _auth_users(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    if not dbconn.table_exists(conn, "auth.users"):
        return 0
    row = conn.execute("SELECT count(*) FROM auth.users").fetchone()
    return int(str(row[0])) if row else 0


def _template_name(dsn: str) -> str:
    return (TEMPLATE_PREFIX + dbconn.dbname(dsn))[:63]


def _restore_kept(dsn: str, key: str) -> dict[str, Any] | None:
    """Clone the kept state into place if it was made from ``key``; what it holds, or None
    (then nothing was changed). A kept state from other inputs, or without its mark, is
    dropped: it can never be used again."""
    name = _template_name(dsn)
    with dbconn.connect(snapshots.maintenance_dsn(dsn)) as conn:
        meta = snapshots.meta_of(conn, name)
        if meta is None:
            return None
        if meta.get(_TEMPLATE_MARK) != key:
            snapshots.drop_template(conn, name)
            return None
        try:
            snapshots.swap_in(conn, name, dbconn.dbname(dsn), what="the kept reset state")
        except psycopg.Error:
            # The target is untouched until the swap's last step (see snapshots.swap_in):
            # a template that cannot be cloned is dropped, and the reset replays instead.
            snapshots.drop_template(conn, name)
            return None
        summary = meta.get("summary")
        return summary if isinstance(summary, dict) else {}


def _keep(dsn: str, key: str, summary: dict[str, Any]) -> bool:
    """Keep the database as it is now (right after the data step) as the state the next reset
    with the same ``key`` restores. New connections are refused while it is copied, so no
    client's write lands in it; a failure keeps nothing (the reset itself succeeded)."""
    name = _template_name(dsn)
    target = sql.Identifier(dbconn.dbname(dsn))
    with dbconn.connect(snapshots.maintenance_dsn(dsn)) as conn:
        try:
            snapshots.drop_template(conn, name)
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(target))
            try:
                snapshots.save_template(
                    conn,
                    dbconn.dbname(dsn),
                    name,
                    {_TEMPLATE_MARK: key, "source": dbconn.dbname(dsn), "summary": summary},
                )
            finally:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(target)
                )
        except (psycopg.Error, DatabaseError):
            with contextlib.suppress(psycopg.Error):
                snapshots.drop_template(conn, name)
            return False
    return True
