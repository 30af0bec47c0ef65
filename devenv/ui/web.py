"""The page and its API: a Starlette app over a :class:`~devenv.ui.board.Board` and its
:class:`~devenv.ui.live.Hub`.

Starlette earns its place here (the mocks stay raw ASGI for control of the wire): routing, request
parsing, and ``StreamingResponse`` for the server-sent event streams, which it ends when the page
goes away. The page is one HTML document with the stack's state already in it (so a page opened
shows the services at once, with no second round trip), a plain script (``EventSource`` and
``fetch``, no build step, no client library) and a style sheet, all package data.

Reading needs the token; changing needs the token and the same origin (devenv.ui.security).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from devenv.errors import DevenvError, UsageError
from devenv.ui.board import Board, error_line
from devenv.ui.live import CLOSED, Hub
from devenv.ui.logs import Follower
from devenv.ui.security import Guard

#: Sent with every answer: nothing from elsewhere runs or is fetched, the page is never framed,
#: and no address (with a token in it) is handed on in a Referer.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

STATIC = {"app.js": "text/javascript", "style.css": "text/css"}

#: The SSE comment that keeps an idle stream (and any proxy) from timing out.
_KEEPALIVE_S = 15.0


@functools.cache
def _asset(name: str) -> str:
    return resources.files("devenv.ui").joinpath("static", name).read_text(encoding="utf-8")


class _HostCheck:
    """Refuses a request for another host name (DNS rebinding) before any route sees it, and
    adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.guard.host_ok(headers):
            await _plain(403, "devenv ui: unknown host")(scope, receive, send)
            return

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain")


def make_app(board: Board, hub: Hub, guard: Guard, *, start_hub: bool = True) -> ASGIApp:
    """The ASGI app for one board. ``start_hub`` starts the live threads with the app's lifespan
    (tests that drive the hub themselves pass False)."""
    busy = asyncio.Lock()
    current: dict[str, str] = {}

    def authorised(request: Request) -> bool:
        return guard.authorised(request.headers, request.cookies)

    def refuse() -> Response:
        return JSONResponse(
            {"error": "no token: open the URL `devenv ui` printed (it carries the token)"}, 403
        )

    async def index(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            if not guard.token_ok(token):
                return HTMLResponse(_page_refused(), 403)
            # The token becomes a cookie and leaves the address bar (and the history).
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(guard.cookie, token, httponly=True, samesite="strict", path="/")
            return resp
        if not authorised(request):
            return HTMLResponse(_page_refused(), 403)
        if hub.services is None and not hub.services_error:
            await asyncio.to_thread(hub.refresh_services)  # the first page, before any refresh
        return HTMLResponse(_page(hub, guard.port))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return _plain(404, "not found")
        return Response(_asset(name), media_type=STATIC[name])

    def reader(
        fn: Callable[[Request], Any],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not authorised(request):
                return refuse()
            try:
                return JSONResponse(await asyncio.to_thread(fn, request))
            except DevenvError as exc:
                return JSONResponse({"error": exc.one_line()}, 409)
            except Exception as exc:
                return JSONResponse({"error": error_line(exc)}, 500)

        return endpoint

    def changer(
        what: str,
        fn: Callable[[dict[str, Any]], Any],
        *,
        exclusive: bool = True,
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST: token, same origin, a JSON body; ``exclusive`` ones run one at a time and are
        announced on the event stream while they run."""

        async def endpoint(request: Request) -> Response:
            refusal = guard.change_refusal(request.headers, request.cookies)
            if refusal is not None:
                return JSONResponse({"error": refusal}, 403)
            try:
                raw = await request.body()
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                return JSONResponse({"error": "the body must be a JSON object"}, 400)
            if exclusive and busy.locked():
                return JSONResponse(
                    {"error": f"another action is running: {current.get('what', '?')}"}, 409
                )
            lock: contextlib.AbstractAsyncContextManager[Any] = (
                busy if exclusive else contextlib.nullcontext()
            )
            async with lock:
                label = _label(what, body)
                if exclusive:
                    current["what"] = label
                    hub.publish("action", {"what": label, "state": "running"})
                try:
                    result = await asyncio.to_thread(fn, body)
                except DevenvError as exc:
                    if exclusive:
                        hub.publish(
                            "action", {"what": label, "state": "failed", "error": exc.one_line()}
                        )
                    return JSONResponse({"error": exc.one_line()}, 400 if _bad(exc) else 409)
                except Exception as exc:
                    if exclusive:
                        hub.publish(
                            "action", {"what": label, "state": "failed", "error": error_line(exc)}
                        )
                    return JSONResponse({"error": error_line(exc)}, 500)
                finally:
                    current.pop("what", None)
                    hub.refresh_now()
                if exclusive:
                    hub.publish("action", {"what": label, "state": "done"})
                return JSONResponse({"ok": True, "result": result})

        return endpoint

    async def events(request: Request) -> Response:
        if not authorised(request):
            return refuse()
        queue = hub.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), _KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if message == CLOSED:
                        return  # the server is stopping
                    yield message
            finally:
                hub.unsubscribe(queue)

        return _sse(stream())

    async def logs(request: Request) -> Response:
        if not authorised(request):
            return refuse()
        wanted = [s for s in request.query_params.getlist("service") if s]
        try:
            services = board.cfg.check_services(wanted) if wanted else list(board.cfg.services)
            tail = int(request.query_params.get("tail", "200"))
        except (DevenvError, ValueError) as exc:
            text = exc.one_line() if isinstance(exc, DevenvError) else "tail must be a number"
            return JSONResponse({"error": text}, 400)
        follower = Follower(board, services, tail=max(0, min(tail, 5000)))
        hub.track(follower)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                async for batch in follower.lines():
                    rows = [{"t": t, "s": s, "m": m} for t, s, m in batch]
                    yield f"event: lines\ndata: {json.dumps(rows)}\n\n"
            finally:
                follower.close()
                hub.untrack(follower)

        return _sse(stream())

    def _mail(_: Request) -> Any:
        return {"messages": board.mail()}

    def _services(_: Request) -> Any:
        return hub.services or board.services()

    def _journal(request: Request) -> Any:
        return board.journal(int(request.query_params.get("limit", "100")))

    def fault_add(body: dict[str, Any]) -> Any:
        plan = body.get("plan")
        if not isinstance(plan, str) or not plan.strip():
            raise UsageError("a fault plan is required, such as 429 or 500,ok")
        path = body.get("path")
        return board.add_fault(
            plan.strip(),
            repeat=bool(body.get("repeat")),
            path=str(path) if path else None,
        )

    def name_of(body: dict[str, Any]) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise UsageError("a snapshot name is required")
        return name

    def service_of(body: dict[str, Any]) -> str:
        name = body.get("service")
        if not isinstance(name, str) or not name:
            raise UsageError("a service name is required")
        return name

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/events", events),
        Route("/api/logs", logs),
        Route("/api/services", reader(_services)),
        Route("/api/trace", reader(lambda _: {"trace": board.trace()})),
        Route("/api/mail", reader(_mail)),
        Route("/api/journal", reader(_journal)),
        Route("/api/faults", reader(lambda _: {"rules": board.faults()})),
        Route("/api/data", reader(lambda _: board.data())),
        Route("/api/doctor", reader(lambda _: board.doctor())),
        Route(
            "/api/reveal",
            changer("reveal", lambda _: board.reveal(), exclusive=False),
            methods=["POST"],
        ),
        Route(
            "/api/faults/add",
            changer("fault", fault_add, exclusive=False),
            methods=["POST"],
        ),
        Route(
            "/api/faults/remove",
            changer("fault", lambda b: board.remove_fault(int(b.get("id", -1))), exclusive=False),
            methods=["POST"],
        ),
        Route(
            "/api/faults/clear",
            changer("faults", lambda _: board.clear_faults(), exclusive=False),
            methods=["POST"],
        ),
        Route(
            "/api/actions/restart",
            changer("restart", lambda b: board.restart(service_of(b))),
            methods=["POST"],
        ),
        Route("/api/actions/up", changer("up", lambda _: board.up()), methods=["POST"]),
        Route("/api/actions/down", changer("down", lambda _: board.down()), methods=["POST"]),
        Route(
            "/api/snapshots/save",
            changer("snapshot save", lambda b: board.snapshot_save(name_of(b))),
            methods=["POST"],
        ),
        Route(
            "/api/snapshots/restore",
            changer("snapshot restore", lambda b: board.snapshot_restore(name_of(b))),
            methods=["POST"],
        ),
        Route(
            "/api/snapshots/delete",
            changer("snapshot delete", lambda b: board.snapshot_delete(name_of(b))),
            methods=["POST"],
        ),
        Route(
            "/api/db/reset",
            changer("db reset", lambda b: board.db_reset(seed=b.get("seed", True) is not False)),
            methods=["POST"],
        ),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if start_hub:
            hub.start()
        try:
            yield
        finally:
            hub.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    return _HostCheck(app, guard)


def _label(what: str, body: dict[str, Any]) -> str:
    for key in ("service", "name"):
        if isinstance(body.get(key), str):
            return f"{what} {body[key]}"
    return what


def _bad(exc: DevenvError) -> bool:
    """A mistake in what was asked (400) rather than a state that refuses it (409)."""
    return isinstance(exc, UsageError)


def _sse(body: AsyncIterator[str]) -> Response:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )


def _page(hub: Hub, port: int) -> str:
    """The page, with the latest services snapshot in it (read by the script at once)."""
    initial = {"services": hub.services, "error": hub.services_error}
    # JSON inside <script>: "<" escaped, so no "</script>" in a value can end the element.
    data = json.dumps(initial, default=str).replace("<", "\\u003c")
    project = html.escape(hub.board.cfg.name)
    return (
        _asset("index.html")
        .replace("{{project}}", project)
        .replace("{{port}}", str(port))
        .replace("{{initial}}", data)
    )


def _page_refused() -> str:
    return (
        "<!doctype html><meta charset=utf-8><title>devenv ui</title>"
        "<p>This page needs its token: open the URL <code>devenv ui</code> printed"
        " (<code>http://127.0.0.1:PORT/?token=...</code>).</p>"
    )
