#!/bin/sh
# Mirrors edoburu/pgbouncer's contract (not its code) for the variables the stack sets: writes
# userlist.txt and pgbouncer.ini from the environment, then execs pgbouncer with the file's path
# only; the password goes from the environment into a 0600 file, never into argv.
set -eu
dir=/etc/pgbouncer
auth_file=$dir/userlist.txt
umask 077
: >"$auth_file"
if [ -n "${DB_USER:-}" ] && [ -n "${DB_PASSWORD:-}" ]; then
  case "${AUTH_TYPE:-md5}" in
    plain|scram-sha-256) pass=$DB_PASSWORD ;;
    # printf is a shell builtin: the password is not a process argument here either.
    *) pass="md5$(printf '%s%s' "$DB_PASSWORD" "$DB_USER" | md5sum | cut -d' ' -f1)" ;;
  esac
  printf '"%s" "%s"\n' "$DB_USER" "$pass" >>"$auth_file"
fi
if [ ! -f "$dir/pgbouncer.ini" ]; then
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
${DB_NAME:-*} = host=${DB_HOST:?DB_HOST must be set} port=${DB_PORT:-5432} auth_user=${DB_USER:-postgres}

[pgbouncer]
listen_addr = ${LISTEN_ADDR:-0.0.0.0}
listen_port = ${LISTEN_PORT:-5432}
unix_socket_dir =
auth_file = $auth_file
auth_type = ${AUTH_TYPE:-md5}
pool_mode = ${POOL_MODE:-session}
max_client_conn = ${MAX_CLIENT_CONN:-100}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
admin_users = ${ADMIN_USERS:-postgres}
ignore_startup_parameters = ${IGNORE_STARTUP_PARAMETERS:-extra_float_digits}
INI
fi
exec "$@"
