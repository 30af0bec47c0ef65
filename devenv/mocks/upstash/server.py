"""Serving the REST endpoint with uvicorn: in the foreground (the container,
``python -m devenv.mocks.upstash``) or in a background thread (tests, benchmarks)."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
import time
from types import TracebackType
from typing import Any

from devenv.errors import MockError
from devenv.mocks.upstash.app import UpstashRest


def _config(app: UpstashRest, host: str, port: int, log_level: str) -> Any:
    import uvicorn

    # uvloop and httptools are what make one worker fast; fall back quietly where they are absent.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="on",
        log_level=log_level,
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
    )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise MockError(
            f"the Upstash REST endpoint cannot listen on {host}:{port}: {exc.strerror}",
            "pick another --port, or stop what holds it",
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(app: UpstashRest, host: str, port: int, log_level: str = "warning") -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    sock = _bind(host, port)
    uvicorn.Server(_config(app, host, sock.getsockname()[1], log_level)).run(sockets=[sock])


class RestServer:
    """The endpoint on a random loopback port in a background thread::

    with RestServer("redis://127.0.0.1:6379/0", token) as srv:
        Redis(url=srv.url, token=token).set("k", "v")
    """

    def __init__(self, redis_url: str, token: str, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.app = UpstashRest(redis_url, token)
        self._sock = _bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(self.app, self.host, self.port, "error"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> RestServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise MockError("the Upstash REST endpoint did not start", "see the log above")
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        with contextlib.suppress(OSError):
            self._sock.close()
