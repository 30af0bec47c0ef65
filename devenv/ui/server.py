"""Serving the page: on 127.0.0.1 only, on a free port unless one is asked for, with a fresh token
in the URL. In the foreground (``devenv ui``, ``devenv up --ui``) until Ctrl-C, or in a background
thread (tests, scripts) as a context manager."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from devenv.errors import MockError, PortInUse, StackError
from devenv.serving import ThreadedServer, bind
from devenv.ui.board import Board
from devenv.ui.live import Hub
from devenv.ui.security import Guard, new_token
from devenv.ui.web import make_app

if TYPE_CHECKING:
    from devenv.stack.handle import Stack

#: The one address the page is served on: never another interface.
HOST = "127.0.0.1"


class UIServer(ThreadedServer):
    """``devenv ui`` for one stack: ``url`` (with the token) once made; :meth:`run` serves in the
    foreground, ``with UIServer(stack) as ui:`` in a background thread."""

    def __init__(self, stack: Stack, *, port: int = 0, token: str | None = None) -> None:
        import uvicorn

        try:
            sock = bind(HOST, port, "devenv ui")
        except MockError:
            raise PortInUse(
                f"devenv ui cannot listen on {HOST}:{port}: the port is in use",
                "pick another --port, or leave it out for a free one",
                port=port,
                service="ui",
            ) from None
        bound: int = sock.getsockname()[1]
        self.token = token or new_token()
        self.board = Board(stack)
        self.hub = Hub(self.board)
        hub = self.hub

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                hub.stop()  # open pages' streams end now, not after the graceful timeout
                super().handle_exit(sig, frame)

        super().__init__(
            make_app(self.board, self.hub, Guard.local(self.token, bound)),
            sock,
            StackError("devenv ui did not start", "run with DEVENV_DEBUG=1"),
            log_level="warning",
            server_cls=_Server,
        )

    def warm(self) -> None:
        """Know the stack before anyone asks: the first status and the engine client (the Docker
        SDK's import is most of a second on a busy machine), so the first page opened shows the
        services at once."""
        self.hub.refresh_services()
        with contextlib.suppress(Exception):
            _ = self.board.stack.engine.client

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: it carries the token (print it, never log it elsewhere)."""
        return f"{self.base}/?token={self.token}"

    def stop(self, timeout: float = 10.0) -> None:
        self.hub.stop()
        super().stop(timeout)

    def close(self) -> None:
        self.hub.stop()
        self.board.close()
        super().close()


def require_running(stack: Stack) -> None:
    """A clear line when there is nothing to show: no container of the stack exists."""
    if not stack.runner.ps():
        raise StackError(
            f"the stack {stack.cfg.name!r} is not running",
            "start it with `devenv up`, or `devenv up --ui` for both at once",
        )


def serve(
    stack: Stack,
    *,
    port: int = 0,
    open_browser: bool = True,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the page for ``stack`` in the foreground until Ctrl-C. ``announce`` hears the URL
    (with its token) once the socket listens; the browser opens it unless ``open_browser`` is
    false."""
    ui = UIServer(stack, port=port)
    ui.warm()
    if announce is not None:
        announce(ui.url)
    if open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(ui.url,), daemon=True).start()
    ui.run()
