#!/bin/sh
# devenv bootstrap: the roles, grants and schemas that GoTrue and Supabase apps expect, on a stock
# Postgres 15, as hosted Supabase sets them up where an app can tell the difference:
#   - roles anon, authenticated, service_role (NOLOGIN NOINHERIT; service_role BYPASSRLS),
#     authenticator (LOGIN NOINHERIT, member of the three), supabase_auth_admin (owns `auth`);
#   - the API roles' statement timeouts (anon 3 s, authenticated and authenticator 8 s);
#   - default privileges in `public`: tables, sequences and functions that `postgres` creates there
#     are granted to anon, authenticated and service_role, so a migration written for Supabase
#     (no GRANT lines; RLS decides) behaves the same here;
#   - the `extensions` schema Supabase migrations install into (`create extension ... with schema
#     extensions`), usable by the API roles.
# Idempotent: the postgres image runs it once from /docker-entrypoint-initdb.d (so plain
# `docker compose up` works), and `devenv up` runs it again when the keys were made anew for an
# existing volume, which re-asserts the role passwords from the project's .devenv/ secrets.
#
# Supabase's own image (supabase/postgres, `[images] postgres`): recognised by what is in the
# database, a superuser `supabase_admin` (so a mirrored or re-tagged image works too), not by the
# image's name. Its init scripts (its /docker-entrypoint-initdb.d/migrate.sh, which this file's
# mount name sorts after) already made the roles, schemas, grants and default privileges above,
# with hosted Supabase's attributes (the API roles INHERIT; `postgres` is not a superuser), so
# nothing is created twice and no attribute is changed: only what the image lacks is made, and
# the login roles get the one local password, as `supabase start` does (its schema.sql) — the
# image itself sets it for `postgres` and `supabase_admin` only.
#
# It connects as the image's initdb superuser, POSTGRES_USER: `postgres` on postgres:15 (compose
# leaves it unset), `supabase_admin` on Supabase's image (its Dockerfile sets it). During initdb
# the server listens on the socket only (Supabase's image: in POSTGRES_HOST, where its pg_hba
# wants supabase_admin's password, which the entrypoint exports); afterwards over loopback, which
# both images trust, because a re-run may carry a new password the database does not know yet.
#
# No secret on any command line (every local user can read those with `ps`): psql reads the SQL
# from stdin and the password from its own environment with \getenv.
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
# A subshell: the image's entrypoint sources a non-executable init script, and nothing set here
# (shell options, PGHOST, PGPASSWORD) may leak into the entrypoint's own later steps.
(
set -eu
if [ -z "${PGHOST:-}" ]; then
  if pg_isready -q -h 127.0.0.1 -p "${PGPORT:-5432}" >/dev/null 2>&1; then
    export PGHOST=127.0.0.1
  elif [ -n "${POSTGRES_HOST:-}" ]; then
    export PGHOST="$POSTGRES_HOST"
  fi
fi
export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
superuser="${POSTGRES_USER:-postgres}"

supabase=$(psql -v ON_ERROR_STOP=1 -X -q -tA --username "$superuser" --dbname postgres -c \
  "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'supabase_admin' AND rolsuper)")

# Both layouts: create what is missing, with hosted Supabase's attributes; an existing role or
# schema is left as it is here (Supabase's image made them with its own attributes).
psql -v ON_ERROR_STOP=1 -X -q --username "$superuser" --dbname postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
    ALTER ROLE anon SET statement_timeout = '3s';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
    ALTER ROLE authenticated SET statement_timeout = '8s';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
    ALTER ROLE authenticator SET statement_timeout = '8s';
    GRANT anon, authenticated, service_role TO authenticator;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
    CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
    ALTER ROLE supabase_auth_admin SET search_path = auth;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') THEN
    CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'extensions') THEN
    CREATE SCHEMA extensions;
    GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
  END IF;
END
$$;
SQL

if [ "$supabase" = t ]; then
# Supabase's image: no attribute changed. The one local password for the login roles devenv and
# GoTrue use, as `supabase start` sets it (the image itself sets it for the first two only).
psql -v ON_ERROR_STOP=1 -X -q --username "$superuser" --dbname postgres <<'SQL'
\getenv pw POSTGRES_PASSWORD
ALTER ROLE supabase_admin WITH PASSWORD :'pw';
ALTER ROLE postgres WITH PASSWORD :'pw';
ALTER ROLE supabase_auth_admin WITH PASSWORD :'pw';
ALTER ROLE authenticator WITH PASSWORD :'pw';
SQL
else
psql -v ON_ERROR_STOP=1 -X -q --username "$superuser" --dbname postgres <<'SQL'
\getenv pw POSTGRES_PASSWORD
-- Attributes as on hosted Supabase, also for roles an older bootstrap (or a migration) made.
ALTER ROLE anon NOLOGIN NOINHERIT;
ALTER ROLE authenticated NOLOGIN NOINHERIT;
ALTER ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
ALTER ROLE authenticator LOGIN NOINHERIT;
ALTER ROLE anon SET statement_timeout = '3s';
ALTER ROLE authenticated SET statement_timeout = '8s';
ALTER ROLE authenticator SET statement_timeout = '8s';
GRANT anon, authenticated, service_role TO authenticator;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT CREATE ON DATABASE postgres TO supabase_auth_admin;
ALTER ROLE supabase_auth_admin SET search_path = auth;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;

GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;

-- One local password for the login roles, as `supabase start` does; it lives in .devenv/.
ALTER ROLE postgres WITH PASSWORD :'pw';
ALTER ROLE supabase_auth_admin WITH PASSWORD :'pw';
ALTER ROLE authenticator WITH PASSWORD :'pw';
SQL
fi
)
