"""What devenv's uvicorn servers share (the Fireworks mock, the Upstash REST adapter, the
``devenv ui`` page): uvicorn tuned for one fast worker, a listening socket bound before uvicorn
starts (so a port in use is one clear line, and port 0 reports the real port), and
:class:`ThreadedServer`, which serves an app on it from a background thread or the foreground."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

from devenv.errors import DevenvError, MockError


def uvicorn_config(app: Any, host: str, port: int, log_level: str) -> Any:
    import importlib.util

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


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on host:port, or MockError naming ``what`` could not listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise MockError(
            f"{what} cannot listen on {host}:{port}: {exc.strerror}",
            "pick another --port, or stop what holds it",
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_in_thread(
    server: Any, sock: socket.socket, fail: DevenvError, timeout: float = 10.0
) -> threading.Thread:
    """uvicorn ``server`` serving ``sock`` from a daemon thread, returned once it accepts
    requests; ``fail`` is raised if the thread dies first or ``timeout`` passes."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise fail
        time.sleep(0.005)
    return thread


def stop_thread(server: Any, thread: threading.Thread | None, timeout: float = 10.0) -> None:
    """Ask uvicorn to finish its requests and stop, and wait (bounded) for its thread."""
    server.should_exit = True
    if thread is not None and thread.is_alive():
        thread.join(timeout)


class ThreadedServer:
    """``app`` served by uvicorn on ``sock`` (bound by the caller): from a daemon thread with
    :meth:`start` and :meth:`stop` (or ``with``), or in the foreground with :meth:`run`.
    ``fail`` is raised when the thread does not come up; ``server_cls`` is a ``uvicorn.Server``
    subclass, for a server that must act when asked to stop."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        fail: DevenvError,
        *,
        log_level: str = "error",
        server_cls: Any = None,
    ) -> None:
        import uvicorn

        self.app = app
        self._sock = sock
        self.host: str
        self.port: int
        self.host, self.port = sock.getsockname()[:2]
        self._fail = fail
        config = uvicorn_config(app, self.host, self.port, log_level)
        self._server = (server_cls or uvicorn.Server)(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        self._thread = serve_in_thread(self._server, self._sock, self._fail, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        stop_thread(self._server, self._thread, timeout)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def run(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM, then return."""
        import signal

        # uvicorn re-raises the stop signal once it has shut down; a stop asked for is a clean
        # exit (exit 0 under `docker stop`), so the handlers it restores ignore that one re-raise.
        previous: dict[Any, Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {
                sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)
            }
        try:
            self._server.run(sockets=[self._sock])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
