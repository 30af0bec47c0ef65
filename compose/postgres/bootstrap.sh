#!/bin/sh
# devenv bootstrap: the roles and `auth` schema that GoTrue and Supabase-style apps expect, on a
# stock Postgres 15. Idempotent: the postgres image runs it once from /docker-entrypoint-initdb.d
# (so plain `docker compose up` works), and `devenv up` runs it again on every start, which also
# re-asserts the role passwords from the project's .devenv/ secrets.
set -eu
psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v pw="${POSTGRES_PASSWORD}" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
    CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
  END IF;
END
$$;
GRANT anon, authenticated, service_role TO authenticator;
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT CREATE ON DATABASE postgres TO supabase_auth_admin;
ALTER ROLE supabase_auth_admin SET search_path = auth;
-- One local password for the login roles, as `supabase start` does; it lives in .devenv/.
ALTER ROLE postgres WITH PASSWORD :'pw';
ALTER ROLE supabase_auth_admin WITH PASSWORD :'pw';
ALTER ROLE authenticator WITH PASSWORD :'pw';
SQL
