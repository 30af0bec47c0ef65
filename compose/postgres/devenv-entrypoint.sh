#!/bin/sh
# devenv's Postgres image: the base image's own entrypoint, with the libraries its extensions
# need preloaded (DEVENV_PRELOAD, comma-separated, set at build) on the server's command line.
# pg_cron's jobs live in the postgres database, as on hosted Supabase.
set -eu
# A first start copies an initialised cluster from devenv's cache when devenv mounted one
# (devenv-cluster.sh); without it, or on any trouble there, the base entrypoint runs initdb.
if [ "${1:-}" = postgres ] && [ "$(id -u)" = 0 ] && [ -d /var/lib/devenv/cache ] \
  && [ -n "${DEVENV_CLUSTER_KEY:-}${DEVENV_CLUSTER_KEYS:-}" ]; then
  devenv-cluster restore || echo "devenv: the cluster cache could not be used; initialising"
fi
if [ "${1:-}" = postgres ] && [ -n "${DEVENV_PRELOAD:-}" ]; then
  shift
  case ",$DEVENV_PRELOAD," in
    *,pg_cron,*) set -- -c cron.database_name=postgres "$@" ;;
  esac
  set -- postgres -c "shared_preload_libraries=$DEVENV_PRELOAD" "$@"
fi
exec docker-entrypoint.sh "$@"
