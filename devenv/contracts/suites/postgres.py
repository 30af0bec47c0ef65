"""Postgres: what the app and GoTrue rely on in the database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devenv.contracts.core import CheckFailed, Skip, Suite, check, expect, register

if TYPE_CHECKING:
    import psycopg

#: The roles Supabase-style apps and GoTrue log in as or switch to (compose/postgres/bootstrap.sh).
ROLES = ("anon", "authenticated", "service_role", "authenticator", "supabase_auth_admin")
SCHEMAS = ("public", "auth")
#: Schemas that are not the app's own: RLS is the platform's business there.
NOT_APP = (
    "pg_catalog",
    "information_schema",
    "pg_toast",
    "auth",
    "devenv",
    "extensions",
    "storage",
    "realtime",
    "supabase_functions",
    "graphql",
    "graphql_public",
    "vault",
    "pgsodium",
    "net",
    "cron",
)


@register
class PostgresSuite(Suite):
    service = "postgres"

    def unavailable(self) -> str | None:
        if not self.target.database_url:
            return "no database URL (DATABASE_URL) for this target"
        return None

    def _conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = self.state.get("conn")
        if conn is None or conn.closed:
            import psycopg

            conn = psycopg.connect(
                self.target.database_url,
                autocommit=True,
                connect_timeout=max(1, int(self.timeout)),
                application_name="devenv-contracts",
            )
            conn.execute(f"SET statement_timeout = {int(self.timeout * 1000)}")
            self.state["conn"] = conn
        return conn

    def close(self) -> None:
        conn = self.state.get("conn")
        if conn is not None:
            conn.close()

    @check("reachable")
    def reachable(self) -> None:
        row = self._conn().execute("SELECT current_setting('server_version_num')::int").fetchone()
        expect(row and row[0] >= 140000, "a Postgres server of version 14 or later", row)

    @check("roles_and_schemas")
    def roles_and_schemas(self) -> None:
        conn = self._conn()
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
        missing = [f"role {r}" for r in ROLES if r not in roles]
        missing += [f"schema {s}" for s in SCHEMAS if s not in schemas]
        expect(
            not missing,
            f"roles {', '.join(ROLES)} and schemas {', '.join(SCHEMAS)}",
            f"missing: {', '.join(missing)}",
        )
        row = conn.execute(
            "SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'"
        ).fetchone()
        expect(row and row[0], "service_role to bypass RLS", "service_role without BYPASSRLS")

    @check("migrations_applied")
    def migrations_applied(self) -> None:
        if self.target.migrations_dir is None:
            raise Skip("no migrations folder for this target")
        from devenv.db import migrations

        st = migrations.status(self.target.database_url, self.target.migrations_dir)
        bad = [f"{e.name} {e.state}" for e in st.entries if e.state != "applied"]
        expect(
            not bad,
            f"every migration in {self.target.migrations_dir} applied and unchanged",
            "; ".join(bad),
        )

    def _app_tables(self) -> list[tuple[str, str, bool]]:
        rows = (
            self._conn()
            .execute(
                "SELECT n.nspname, c.relname, c.relrowsecurity FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND n.nspname <> ALL(%s)"
                " AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1, 2",
                (list(NOT_APP),),
            )
            .fetchall()
        )
        return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]

    @check("rls_enabled")
    def rls_enabled(self) -> None:
        tables = self._app_tables()
        if not tables:
            raise Skip("the app's schemas have no tables yet")
        off = [f"{s}.{t}" for s, t, rls in tables if not rls]
        expect(
            not off,
            "row level security enabled on every table in the app's schemas",
            f"RLS off on {', '.join(off)}",
        )

    @check("authenticated_sees_own_rows")
    def authenticated_sees_own_rows(self) -> None:
        """As `authenticated` with a user's JWT claims, every table with a user_id column shows
        that user's rows and no one else's (checked on the data present, in a rolled-back
        transaction)."""
        from psycopg import sql

        conn = self._conn()
        owned = conn.execute(
            "SELECT c.table_schema, c.table_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.column_name = 'user_id' AND c.data_type = 'uuid'"
            " AND t.table_type = 'BASE TABLE' AND c.table_schema <> ALL(%s) ORDER BY 1, 2",
            (list(NOT_APP),),
        ).fetchall()
        if not owned:
            raise Skip("no table in the app's schemas has a uuid user_id column")
        checked = 0
        for schema, table in owned:
            t = sql.Identifier(str(schema), str(table))
            row = conn.execute(
                sql.SQL(
                    "SELECT user_id, count(*) FROM {} GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
                ).format(t)
            ).fetchone()
            if row is None:
                continue
            uid, total = str(row[0]), int(row[1])
            claims = json.dumps({"sub": uid, "role": "authenticated", "aud": "authenticated"})
            with conn.transaction(force_rollback=True):
                conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
                conn.execute("SELECT set_config('request.jwt.claim.sub', %s, true)", (uid,))
                conn.execute("SET LOCAL ROLE authenticated")
                try:
                    seen = conn.execute(
                        sql.SQL(
                            "SELECT count(*) FILTER (WHERE user_id = %s),"
                            " count(*) FILTER (WHERE user_id IS DISTINCT FROM %s) FROM {}"
                        ).format(t),
                        (uid, uid),
                    ).fetchone()
                except Exception as exc:
                    raise CheckFailed(
                        f"expected `authenticated` to read {schema}.{table}, got"
                        f" {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                    ) from None
            mine, others = (int(seen[0]), int(seen[1])) if seen else (0, 0)
            expect(
                others == 0,
                f"user {uid} to see no other user's rows in {schema}.{table}",
                f"{others} rows of other users",
            )
            expect(
                mine == total, f"user {uid} to see its {total} rows in {schema}.{table}", f"{mine}"
            )
            checked += 1
        if not checked:
            raise Skip("no user owns rows yet: load seeds (`devenv seed default`) to check this")
