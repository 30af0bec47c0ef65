"""What the servers devenv runs in containers share (the Fireworks mock, the Upstash REST
adapter): uvicorn tuned for one fast worker, and a listening socket bound before uvicorn starts
(so a port in use is one clear line, and port 0 reports the real port)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

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
