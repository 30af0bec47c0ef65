"""Running the mock: in the foreground (``devenv mock fireworks``, the container) or in a
background thread (tests, the pytest plugin), always as a real HTTP server on a real socket."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from devenv.errors import MockError
from devenv.mocks.fireworks.app import FireworksMock, MockConfig
from devenv.serving import ThreadedServer, bind


def run(
    config: MockConfig,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return. Stub problems raise MockError
    before anything listens."""
    server = MockServer(config, host, port, log_level=log_level)
    if announce is not None:
        announce(server.url)
    server.run()


class MockServer(ThreadedServer):
    """The mock on a random loopback port in a background thread::

        with MockServer(MockConfig(stubs_dir=...)) as mock:
            client = OpenAI(base_url=mock.url + "/inference/v1", api_key="k")

    The server stops when the block ends (or on :meth:`stop`).
    """

    app: FireworksMock

    def __init__(
        self,
        config: MockConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "error",
    ) -> None:
        super().__init__(
            FireworksMock(config),
            bind(host, port, "the Fireworks mock"),
            MockError(
                "the Fireworks mock did not start", "run with DEVENV_DEBUG=1 and check the log"
            ),
            log_level=log_level,
        )


@contextlib.contextmanager
def serve(config: MockConfig | None = None) -> Iterator[MockServer]:
    """Functional form of :class:`MockServer`."""
    with MockServer(config) as server:
        yield server
