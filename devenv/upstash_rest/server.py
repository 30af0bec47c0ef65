"""Serving the REST endpoint with uvicorn: in the foreground (the container,
``python -m devenv.upstash_rest``) or in a background thread (tests, benchmarks)."""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

from devenv.errors import MockError
from devenv.serving import bind, serve_in_thread, stop_thread, uvicorn_config
from devenv.upstash_rest.app import UpstashRest


def run(app: UpstashRest, host: str, port: int, log_level: str = "warning") -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    sock = bind(host, port, "the Upstash REST endpoint")
    uvicorn.Server(uvicorn_config(app, host, sock.getsockname()[1], log_level)).run(sockets=[sock])


class RestServer:
    """The endpoint on a random loopback port in a background thread::

    with RestServer("redis://127.0.0.1:6379/0", token) as srv:
        Redis(url=srv.url, token=token).set("k", "v")
    """

    def __init__(self, redis_url: str, token: str, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.app = UpstashRest(redis_url, token)
        self._sock = bind(host, port, "the Upstash REST endpoint")
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port, "error"))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> RestServer:
        fail = MockError("the Upstash REST endpoint did not start", "see the log above")
        self._thread = serve_in_thread(self._server, self._sock, fail)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stop_thread(self._server, self._thread)
        with contextlib.suppress(OSError):
            self._sock.close()
