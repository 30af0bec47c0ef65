#!/bin/sh
# devenv Kong stand-in: render nginx.conf from the declarative config Kong would read, then run nginx.
set -eu
conf=${KONG_DECLARATIVE_CONFIG:-/home/kong/kong.yml}
if [ -n "${KONG_DECLARATIVE_CONFIG_STRING:-}" ]; then
  # As Kong: the config string wins over the file (JSON is YAML, so the renderer reads both).
  conf=$(mktemp)
  printf '%s' "$KONG_DECLARATIVE_CONFIG_STRING" >"$conf"
fi
python3 /usr/local/lib/devenv-gateway-standin/render.py "$conf" >/etc/nginx/nginx.conf
nginx -t -q
exec nginx -g 'daemon off;'
