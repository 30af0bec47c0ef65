"""Serving the REST endpoint with uvicorn: in the foreground (the container,
``python -m devenv.upstash_rest``) or in a background thread (tests, benchmarks)."""

from __future__ import annotations

from devenv.errors import MockError
from devenv.serving import ThreadedServer, bind, uvicorn_config
from devenv.upstash_rest.app import UpstashRest


def run(app: UpstashRest, host: str, port: int, log_level: str = "warning") -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    sock = bind(host, port, "the Upstash REST endpoint")
    uvicorn.Server(uvicorn_config(app, host, sock.getsockname()[1], log_level)).run(sockets=[sock])


class RestServer(ThreadedServer):
    """The endpoint on a random loopback port in a background thread::

    with RestServer("redis://127.0.0.1:6379/0", token) as srv:
        Redis(url=srv.url, token=token).set("k", "v")
    """

    app: UpstashRest

    def __init__(self, redis_url: str, token: str, host: str = "127.0.0.1", port: int = 0):
        super().__init__(
            UpstashRest(redis_url, token),
            bind(host, port, "the Upstash REST endpoint"),
            MockError("the Upstash REST endpoint did not start", "see the log above"),
        )
