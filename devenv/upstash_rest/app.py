"""The Upstash Redis REST API in front of a real Redis, as a plain ASGI app (uvicorn runs it).

What the official clients (``@upstash/redis``, ``upstash-redis`` for Python) use, as Upstash
documents it (docs: redis/features/restapi):

- ``POST /`` with a JSON array ``["SET", "k", "v", "EX", 100]``; ``GET|POST /set/k/v/EX/100``
  (path segments, then a POST body as the last argument, then query parameters as name/value
  pairs); ``POST /pipeline`` and ``POST /multi-exec`` with an array of such arrays.
- ``Authorization: Bearer TOKEN`` or ``?_token=TOKEN``; anything else answers 401
  ``{"error":"Unauthorized"}``.
- ``{"result": ...}`` with 200, or ``{"error": "<Redis' error text>"}`` with 400. Pipelines and
  transactions answer 200 with one ``{"result"}``/``{"error"}`` per command; a transaction Redis
  discards as a whole (a command that fails to queue) answers 400 with that command's error.
- ``Upstash-Encoding: base64`` (both clients send it by default): every string in the result is
  base64 of Redis' bytes, except ``"OK"``. Without it, strings are UTF-8 with U+FFFD for
  invalid bytes, as Upstash does.
- Methods other than HEAD, GET, POST and PUT answer 405.

Not served: ``/monitor``, ``/subscribe`` (server-sent events), the read-only token, the
``Upstash-Response-Format: resp2`` option (400 here). Commands that change the state of a
pooled connection (MULTI, SELECT, SUBSCRIBE, ...) answer 400, as a stateless REST API must.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import orjson

from devenv.upstash_rest.resp import Pool, ProtocolError, ReplyError, Target

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_METHODS = frozenset({"HEAD", "GET", "POST", "PUT"})
_UNAUTHORIZED = orjson.dumps({"error": "Unauthorized"})
#: Commands that would leave a pooled connection in another state than the next request expects.
_STATEFUL = frozenset(
    {
        b"MULTI", b"EXEC", b"DISCARD", b"WATCH", b"UNWATCH", b"SELECT", b"AUTH", b"HELLO",
        b"RESET", b"QUIT", b"MONITOR", b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE",
        b"UNSUBSCRIBE", b"PUNSUBSCRIBE", b"SUNSUBSCRIBE", b"CLIENT",
    }
)  # fmt: skip
_MAX_BODY = 64 * 1024 * 1024


class BadRequest(Exception):
    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def _arg(value: object) -> bytes:
    """A JSON value as a command argument, the way Redis would read its text."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):  # before int: bool is an int in Python
        return b"true" if value else b"false"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return repr(value).encode()
    raise BadRequest(
        f"ERR invalid argument {orjson.dumps(value).decode()}: expected a string or a number"
    )


def _command(value: object) -> list[bytes]:
    if not isinstance(value, list) or not value:
        raise BadRequest('ERR a command is a non-empty JSON array, e.g. ["GET", "key"]')
    args = [_arg(v) for v in value]
    name = args[0].upper()
    if name in _STATEFUL:
        raise BadRequest(
            f"ERR Command is not available over REST: '{args[0].decode(errors='replace')}'"
        )
    return args


def _commands(value: object) -> list[list[bytes]]:
    if not isinstance(value, list) or not value:
        raise BadRequest('ERR expected a JSON array of commands, e.g. [["SET", "k", "v"]]')
    return [_command(c) for c in value]


def _json(reply: object, b64: bool) -> object:
    """A Redis reply as Upstash renders it in JSON."""
    if isinstance(reply, bytes):
        if reply == b"OK":
            return "OK"
        if b64:
            return base64.b64encode(reply).decode("ascii")
        return reply.decode("utf-8", "replace")
    if isinstance(reply, list):
        return [_json(r, b64) for r in reply]
    if isinstance(reply, ReplyError):
        return reply.text
    return reply  # int or None


def _item(reply: object, b64: bool) -> dict[str, object]:
    if isinstance(reply, ReplyError):
        return {"error": reply.text}
    return {"result": _json(reply, b64)}


class UpstashRest:
    """The ASGI app. ``token`` is the one bearer token accepted; ``redis_url`` the Redis behind."""

    def __init__(self, redis_url: str, token: str) -> None:
        if not token:
            raise ValueError("the REST token must not be empty")
        self.target = Target.parse(redis_url)
        self._token = token.encode()
        self._pool: Pool | None = None

    @property
    def pool(self) -> Pool:
        # Made on first use, inside the server's event loop.
        if self._pool is None:
            self._pool = Pool(self.target)
        return self._pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._pool is not None:
                        await self._pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    def _authorized(self, scope: Scope, query: list[tuple[str, str]]) -> bool:
        given: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, rest = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = rest.strip()
                break
        if given is None:
            given = next((v.encode() for k, v in query if k == "_token"), None)
        return given is not None and hmac.compare_digest(given, self._token)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not self._authorized(scope, query):
            await _send(send, 401, _UNAUTHORIZED)
            return
        method: str = scope["method"]
        b64 = False
        for key, value in scope["headers"]:
            if key == b"upstash-encoding":
                b64 = value.lower() == b"base64"
            elif key == b"upstash-response-format" and value.lower() != b"json":
                await _send_error(send, 400, "ERR devenv serves Upstash-Response-Format json only")
                return
        if method not in _METHODS:
            await _send_error(send, 405, f"ERR method {method} is not allowed")
            return
        try:
            body = await _body(receive)
            path: str = scope["path"]
            if path == "/pipeline" or path == "/multi-exec":
                if method not in ("POST", "PUT"):
                    raise BadRequest(f"ERR {path} takes POST with a JSON array of commands", 405)
                commands = _commands(_parse(body))
                if path == "/pipeline":
                    replies = await self._run(commands)
                    out: object = [_item(r, b64) for r in replies]
                else:
                    out = await self._transaction(commands, b64)
                await _send(send, 200, orjson.dumps(out))
                return
            if path in ("", "/"):
                if not body:
                    raise BadRequest('ERR no command: POST a JSON array such as ["PING"]')
                command = _command(_parse(body))
            else:
                command = self._path_command(scope, path, body, query)
            (reply,) = await self._run([command])
        except BadRequest as exc:
            await _send_error(send, exc.status, exc.text)
            return
        if isinstance(reply, ReplyError):
            await _send_error(send, 400, reply.text)
            return
        await _send(send, 200, orjson.dumps({"result": _json(reply, b64)}))

    @staticmethod
    def _path_command(
        scope: Scope, path: str, body: bytes, query: list[tuple[str, str]]
    ) -> list[bytes]:
        raw = scope.get("raw_path") or path.encode()
        raw = raw.split(b"?", 1)[0]
        args = [unquote_to_bytes(seg) for seg in raw.strip(b"/").split(b"/")]
        if body:
            args.append(body)
        for key, value in query:
            if key != "_token":
                args += [key.encode(), value.encode()]
        if args[0].upper() in _STATEFUL:
            raise BadRequest(
                f"ERR Command is not available over REST: '{args[0].decode(errors='replace')}'"
            )
        return args

    async def _run(self, commands: list[list[bytes]]) -> list[object]:
        try:
            async with self.pool.connection() as conn:
                return await conn.execute_many(commands)
        except ReplyError as exc:  # AUTH/SELECT on a new connection
            raise BadRequest(exc.text, 500) from None
        except (OSError, ProtocolError, EOFError) as exc:
            raise BadRequest(
                f"ERR devenv: Redis at {self.target} is unreachable ({type(exc).__name__}: {exc})",
                503,
            ) from None

    async def _transaction(self, commands: list[list[bytes]], b64: bool) -> object:
        replies = await self._run([[b"MULTI"], *commands, [b"EXEC"]])
        queued, result = replies[1:-1], replies[-1]
        if isinstance(result, ReplyError):
            # Discarded as a whole (EXECABORT): name the command that failed to queue.
            first = next((q for q in queued if isinstance(q, ReplyError)), result)
            raise BadRequest(first.text)
        if not isinstance(result, list):
            raise BadRequest("ERR transaction aborted")
        return [_item(r, b64) for r in result]


def _parse(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("ERR the request body is not valid JSON") from None


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            raise BadRequest("ERR max request size exceeded")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, text: str) -> None:
    await _send(send, status, orjson.dumps({"error": text}))
