#!/bin/sh
# devenv's cache of initialised clusters (issue: cold start without initdb on the critical path).
#
# devenv mounts one engine-wide volume at /var/lib/devenv/cache and names, in DEVENV_CLUSTER_KEY,
# the hash of what makes a new cluster (this image, compose.yaml, the bootstrap, GoTrue's image);
# DEVENV_CLUSTER_KEYS may name more, tried first (a test stack's migrated and seeded state).
#   restore: on a first start (empty data directory) copy the first complete entry in, give the
#            login roles this stack's password (single-user mode: no server listens yet), and
#            say which; with none, say so and let the entrypoint initialise as always.
#   save KEY: on a running server, a base backup (consistent while it runs) into entry KEY,
#            recovered once: written aside, its manifest (file count and bytes) last, then
#            renamed into place, so an entry is whole or absent. The eight newest entries are
#            kept (a restore counts as use), the rest go.
# An entry whose files do not match its manifest, or whose major version is not this server's,
# is removed and never used. Nothing here prints a secret.
set -eu
cache=/var/lib/devenv/cache
data=${PGDATA:-/var/lib/postgresql/data}
keep=8

manifest() {
  (cd "$1" && find . -type f ! -name .devenv-manifest -printf '%s\n' | awk '{n++; s+=$1} END {print n+0, s+0}')
}

as_postgres() {
  setpriv --reuid=postgres --regid=postgres --init-groups "$@"
}

usable() {
  entry=$cache/$1
  [ -f "$entry/.devenv-manifest" ] || return 1
  if [ "$(manifest "$entry")" != "$(cat "$entry/.devenv-manifest")" ] \
    || [ "$(cat "$entry/PG_VERSION" 2>/dev/null)" != "$(postgres -V | sed 's/.* \([0-9]*\).*/\1/')" ]; then
    echo "devenv: the cached cluster ${1%"${1#????????????}"} is damaged or of another version: removed"
    rm -rf "$entry"
    return 1
  fi
}

passwords() {
  chown -R postgres:postgres "$data"
  chmod 700 "$data"
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  pw=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
  # One statement per line (single-user mode ends a statement at a newline): the roles that log
  # in with the stack's password, as the bootstrap sets them. Its output is dropped, because a
  # failed statement would be echoed with the password in it. Without fsync (30 ms instead of
  # 300): the copy itself is not synced either, and a cluster lost to a crash in its first
  # seconds holds nothing yet.
  printf "ALTER ROLE %s WITH PASSWORD '%s'\n" postgres "$pw" supabase_auth_admin "$pw" \
    authenticator "$pw" | as_postgres postgres --single -D "$data" -c fsync=off postgres \
    >/dev/null 2>&1
}

restore() {
  [ -s "$data/PG_VERSION" ] && return 0
  for key in ${DEVENV_CLUSTER_KEYS:-} ${DEVENV_CLUSTER_KEY:-}; do
    usable "$key" || continue
    mkdir -p "$data"
    touch "$cache/$key"
    if cp -a "$cache/$key/." "$data/" && rm -f "$data/.devenv-manifest" && passwords; then
      echo "devenv: the cluster came from devenv's cache (${key%"${key#????????????}"})"
      return 0
    fi
    # A copy that failed half-way (the entry pruned meanwhile), or roles that would not take
    # the password: start over from initdb.
    find "$data" -mindepth 1 -delete
  done
  echo "devenv: no cached cluster for ${DEVENV_CLUSTER_KEY:-?}; initialising"
}

save() {
  key=$1
  entry=$cache/$key
  [ -d "$entry" ] && return 0
  tmp=$cache/.tmp-$key-$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  chown postgres:postgres "$tmp"
  chmod 700 "$tmp"
  if ! as_postgres pg_basebackup -h /var/run/postgresql -U "${POSTGRES_USER:-postgres}" \
    -D "$tmp" -X fetch --no-sync -c fast >/dev/null; then
    rm -rf "$tmp"
    return 1
  fi
  # Recovered once here (the backup's WAL replayed, a clean shutdown), so each copy starts at
  # once; then synced, so what the manifest describes is on disk.
  as_postgres postgres --single -D "$tmp" -c fsync=off postgres </dev/null >/dev/null 2>&1 || {
    rm -rf "$tmp"
    return 1
  }
  sync -f "$tmp"
  manifest "$tmp" >"$tmp/.devenv-manifest"
  mv -T "$tmp" "$entry" 2>/dev/null || rm -rf "$tmp"
  # The newest entries stay; older ones (other images, other bootstraps) go.
  ls -1dt "$cache"/*/ 2>/dev/null | tail -n "+$((keep + 1))" | while read -r old; do
    rm -rf "$old"
  done
}

case "${1:-}" in
  restore) restore ;;
  save) save "${2:?save KEY}" ;;
  *) echo "usage: devenv-cluster restore | save KEY" >&2; exit 2 ;;
esac
