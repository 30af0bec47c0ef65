"""Plain ASGI plumbing the mock's public API (:mod:`.app`) and its control API (:mod:`.control`)
share: the callable types, a JSON answer, a bounded request body, and the exception that ends a
request without an answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from devenv.mocks.fireworks.apierrors import ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = (b"content-type", b"application/json")


class Drop(Exception):
    """Raised to close the connection without an answer (a fault, a client gone)."""


async def send_json(
    send: Send, status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(obj)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [JSON, (b"content-length", b"%d" % len(body)), *(headers or ())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (else a 413); Drop if the client leaves."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Drop
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(
                413, f"Request body is larger than {limit} bytes", code="PAYLOAD_TOO_LARGE"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
