"""Running the mock: in the foreground (``devenv mock fireworks``, the container) or in a
background thread (tests, the pytest plugin), always as a real HTTP server on a real socket."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from types import TracebackType

from devenv.errors import MockError
from devenv.mocks.fireworks.app import FireworksMock, MockConfig
from devenv.serving import bind, serve_in_thread, stop_thread, uvicorn_config


def run(
    config: MockConfig,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return. Stub problems raise MockError
    before anything listens."""
    import signal

    import uvicorn

    app = FireworksMock(config)
    sock = bind(host, port, "the Fireworks mock")
    bound_host, bound_port = sock.getsockname()[:2]
    if announce is not None:
        announce(
            f"http://[{bound_host}]:{bound_port}"
            if ":" in bound_host
            else f"http://{bound_host}:{bound_port}"
        )
    server = uvicorn.Server(uvicorn_config(app, host, bound_port, log_level))
    # uvicorn re-raises the stop signal once it has shut down; a stop asked for is a clean exit
    # (exit 0 under `docker stop`), so the handlers it restores ignore that one re-raise.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = {
            sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)
        }
    try:
        server.run(sockets=[sock])
    finally:
        if previous:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class MockServer:
    """The mock on a random loopback port in a background thread::

        with MockServer(MockConfig(stubs_dir=...)) as mock:
            client = OpenAI(base_url=mock.url + "/inference/v1", api_key="k")

    The server stops when the block ends (or on :meth:`stop`).
    """

    def __init__(
        self, config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        import uvicorn

        self.app = FireworksMock(config)
        self._sock = bind(host, port, "the Fireworks mock")
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port, "error"))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> MockServer:
        fail = MockError(
            "the Fireworks mock did not start", "run with DEVENV_DEBUG=1 and check the log"
        )
        self._thread = serve_in_thread(self._server, self._sock, fail, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        stop_thread(self._server, self._thread, timeout)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def serve(config: MockConfig | None = None) -> Iterator[MockServer]:
    """Functional form of :class:`MockServer`."""
    with MockServer(config) as server:
        yield server
