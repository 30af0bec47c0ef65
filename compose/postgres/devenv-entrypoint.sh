#!/bin/sh
# devenv's Postgres image: the base image's own entrypoint, with the libraries its extensions
# need preloaded (DEVENV_PRELOAD, comma-separated, set at build) on the server's command line.
# pg_cron's jobs live in the postgres database, as on hosted Supabase.
set -eu
if [ "${1:-}" = postgres ] && [ -n "${DEVENV_PRELOAD:-}" ]; then
  shift
  case ",$DEVENV_PRELOAD," in
    *,pg_cron,*) set -- -c cron.database_name=postgres "$@" ;;
  esac
  set -- postgres -c "shared_preload_libraries=$DEVENV_PRELOAD" "$@"
fi
exec docker-entrypoint.sh "$@"
