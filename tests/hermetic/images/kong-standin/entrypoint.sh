#!/bin/sh
# devenv Kong stand-in: render nginx.conf from the declarative config Kong would read, then run nginx.
set -eu
conf=${KONG_DECLARATIVE_CONFIG:-/home/kong/kong.yml}
python3 /usr/local/lib/devenv-gateway-standin/render.py "$conf" >/etc/nginx/nginx.conf
nginx -t -q
exec nginx -g 'daemon off;'
