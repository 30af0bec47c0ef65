"""``python -m devenv.upstash_rest``: the stack's ``upstash`` service (and a way to run the
endpoint by hand). The token comes from DEVENV_UPSTASH_TOKEN only: an argument would show it to
every local user through `ps`."""

from __future__ import annotations

import argparse
import os
import sys

from devenv.upstash_rest import REDIS_URL_ENV, TOKEN_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devenv.upstash_rest",
        description="Serve the Upstash Redis REST API in front of a Redis server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--redis",
        default=os.environ.get(REDIS_URL_ENV, "redis://127.0.0.1:6379/0"),
        help=f"Redis URL (default: ${REDIS_URL_ENV} or redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        sys.stderr.write(
            f"devenv: error: no REST token: set {TOKEN_ENV} (what apps send as"
            " UPSTASH_REDIS_REST_TOKEN)\n"
        )
        return 2
    from devenv.errors import DevenvError
    from devenv.upstash_rest.app import UpstashRest
    from devenv.upstash_rest.server import run

    try:
        app = UpstashRest(args.redis, token)
    except ValueError as exc:
        sys.stderr.write(f"devenv: error: --redis: {exc}\n")
        return 2
    sys.stderr.write(f"devenv: Upstash REST endpoint on {args.host}:{args.port} -> {app.target}\n")
    try:
        run(app, args.host, args.port, args.log_level)
    except DevenvError as exc:
        sys.stderr.write(f"devenv: error: {exc.one_line()}\n")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
