"""The mock as a plain ASGI application, run by uvicorn (httptools parser, uvloop loop).

Why plain ASGI rather than Starlette's Request/Response: faults need control of the wire that
response classes hide (a body cut half-way, a connection closed without an answer), and the hot
path (about 1 ms of budget at the target rate) stays a dict lookup, one orjson parse and one
orjson dump. Routing is a table keyed on the path below ``/inference/v1`` or ``/v1``; requests
below ``/__devenv/`` go to the control API (:mod:`devenv.mocks.fireworks.control`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from devenv.mocks.fireworks import messages_api, replies, responses_api, validation, wire
from devenv.mocks.fireworks.apierrors import (
    UNAUTHORIZED_BODY,
    ApiError,
    bad_request,
    internal_error,
    method_not_allowed,
    not_found,
    overloaded,
    rate_limited,
    unknown_model,
)
from devenv.mocks.fireworks.asgi import (
    JSON,
    Drop,
    Receive,
    Scope,
    Send,
    read_body,
    send_json,
)
from devenv.mocks.fireworks.control import Control
from devenv.mocks.fireworks.faults import ERROR_KINDS, Faults, Step, parse_plan
from devenv.mocks.fireworks.journal import Entry, Journal
from devenv.mocks.fireworks.models import Catalog, ModelInfo, default_models
from devenv.mocks.fireworks.stubs import Stub, StubSet, merge_models
from devenv.mocks.fireworks.stubs import load as load_stubs

_PREFIXES = ("/inference/v1", "/v1")
_MODELS_CREATED = 1_700_000_000


@dataclass
class Timing:
    """Delays, all in milliseconds; changeable at run time through ``/__devenv/config``."""

    latency_ms: int = 0
    ttft_ms: int = 0
    chunk_delay_ms: int = 0
    retry_after_ms: int = 50


@dataclass
class MockConfig:
    """What the mock is started with. ``keys`` None accepts any non-empty API key."""

    keys: frozenset[str] | None = None
    stubs_dir: Path | None = None
    models: tuple[ModelInfo, ...] = field(default_factory=default_models)
    journal_size: int = 1000
    journal_body_limit: int = 64 * 1024
    timing: Timing = field(default_factory=Timing)
    limits: validation.Limits = field(default_factory=validation.Limits)
    max_body_bytes: int = 64 * 1024 * 1024


def _header(scope: Scope, name: bytes) -> str | None:
    # One dict per request instead of a scan of the header list per lookup (six per request).
    headers = scope.get("devenv.headers")
    if headers is None:
        headers = scope["devenv.headers"] = dict(scope["headers"])
    value = headers.get(name)
    return None if value is None else str(value.decode("latin-1"))


def _ms_header(scope: Scope, name: str) -> int | None:
    value = _header(scope, name.encode())
    if value is None:
        return None
    if not value.isdigit():
        raise bad_request(f"header {name} must be whole milliseconds, got {value!r}", name)
    return int(value)


async def _close_connection(receive: Receive, send: Send) -> bool:
    """Close the client's connection from inside the app. ASGI has no message for this, so this
    reaches uvicorn's transport through the bound ``send`` (both its HTTP protocols keep it on
    the request cycle) and waits until uvicorn has seen the disconnect, so it does not answer a
    500 in our place. Returns False on a server without that attribute."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "close"):
        return False
    transport.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receive(), timeout=2.0)
    return True


class FireworksMock:
    """The ASGI app. ``stubs`` may be given pre-loaded (tests, the pytest plugin); otherwise they
    are read from ``config.stubs_dir``, and a bad file raises MockError here, before serving."""

    def __init__(self, config: MockConfig | None = None, stubs: StubSet | None = None) -> None:
        self.config = config or MockConfig()
        self.stubs = stubs if stubs is not None else load_stubs(self.config.stubs_dir)
        self.catalog = Catalog(merge_models(self.config.models, self.stubs.models))
        self.journal = Journal(self.config.journal_size, self.config.journal_body_limit)
        self.responses = responses_api.ResponseStore()
        # Recently answered request bodies -> (validated request, generated choices).
        self._memo: dict[tuple[str, bytes], tuple[validation.GenRequest, list[replies.Choice]]]
        self._memo = {}
        self.faults = Faults()
        self.timing = Timing(**asdict(self.config.timing))
        self.started = time.time()
        self._api: dict[str, tuple[str, Callable[..., Awaitable[None]]]] = {
            "/chat/completions": ("POST", self._chat),
            "/completions": ("POST", self._completions),
            "/embeddings": ("POST", self._embeddings),
            "/messages": ("POST", self._messages),
            "/responses": ("POST", self._responses),
            "/models": ("GET", self._models),
        }
        self.control = Control(self)

    def use_stubs(self, stubs: StubSet) -> None:
        """Answer with ``stubs`` from now on (and the models they add)."""
        self.stubs = stubs
        self.catalog = Catalog(merge_models(self.config.models, stubs.models))
        self._memo.clear()  # a memo holds requests validated against the old catalogue

    def reset(self) -> None:
        """Empty the journal, the fault rules and the stored responses; the timing as started."""
        self.journal.clear()
        self.faults.clear()
        self.responses.clear()
        self.timing = Timing(**asdict(self.config.timing))

    # --- ASGI entry -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    # Everything alive now (modules, the catalogue, stubs) lives as long as the
                    # server: moved out of the collector's generations, full collections no
                    # longer walk it, which is most of their cost (and of the p99) under load.
                    gc.collect()
                    gc.freeze()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith("/__devenv/"):
            await self.control.route(path, scope, receive, send)
            return
        for prefix in _PREFIXES:
            if path.startswith(prefix):
                sub = path[len(prefix) :]
                break
        else:
            sub = None
        entry = self.journal.start(scope["method"], path)
        entry.test_id = _header(scope, b"x-devenv-test-id")
        retry = _header(scope, b"x-stainless-retry-count")
        entry.retry_count = int(retry) if retry is not None and retry.isdigit() else None
        t0 = time.perf_counter()
        try:
            await self._api_route(sub, path, entry, scope, receive, send)
        except ApiError as exc:
            entry.unmatched = True
            entry.status = exc.status
            entry.error = exc.message
            if sub == "/messages":
                body = messages_api.error_body(exc)  # what Anthropic clients parse
            else:
                body = UNAUTHORIZED_BODY if exc.status == 401 else exc.body()
            extra = [(k.encode(), v.encode()) for k, v in exc.headers.items()]
            extra.append((b"x-request-id", replies.request_id()))
            await send_json(send, exc.status, body, extra)
        except Drop:
            entry.status = 0
            entry.unmatched = True
        finally:
            entry.duration_ms = (time.perf_counter() - t0) * 1000

    def _request_id(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", replies.request_id()), *_RATE_LIMIT_HEADERS]

    async def _api_route(
        self, sub: str | None, path: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        method = scope["method"]
        if sub is None:
            raise not_found(path)
        route = self._api.get(sub)
        if route is None:
            if sub.startswith("/models/"):
                route = ("GET", self._model)
            elif sub.startswith("/responses/"):
                route = ("GET", self._stored_response)
            elif path.startswith("/v1/accounts/") and _ACCOUNT_MODELS.match(sub):
                route = ("GET", self._account_models)
            else:
                raise not_found(path)
        want, handler = route
        if method != want:
            raise method_not_allowed(method, path)
        self._authorize(scope)
        await handler(sub, entry, scope, receive, send)

    def _authorize(self, scope: Scope) -> None:
        auth = _header(scope, b"authorization")
        key = ""
        if auth is not None and auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        if not key or (self.config.keys is not None and key not in self.config.keys):
            raise ApiError(401, "The API key you provided is invalid.", code="UNAUTHORIZED")

    # --- faults -------------------------------------------------------------------------------

    def _fault_step(self, scope: Scope, path: str, entry: Entry) -> Step | None:
        plan = _header(scope, b"x-devenv-fault")
        if plan is not None:
            try:
                return self.faults.from_header(
                    plan, _header(scope, b"x-stainless-retry-count"), entry.test_id
                )
            except ValueError as exc:
                raise bad_request(f"header x-devenv-fault: {exc}", "x-devenv-fault") from None
        return self.faults.take(path, entry.model, entry.test_id)

    async def _apply_before(
        self, step: Step | None, entry: Entry, receive: Receive, send: Send
    ) -> None:
        if step is None or step.kind == "ok":
            return
        entry.fault = str(step)
        if step.kind in ERROR_KINDS:
            if step.kind == "rate_limit":
                raise rate_limited(step.arg if step.arg is not None else self.timing.retry_after_ms)
            raise internal_error() if step.kind == "error" else overloaded()
        if step.kind == "latency":
            await asyncio.sleep((step.arg or 0) / 1000)
        elif step.kind == "drop":
            if not await _close_connection(receive, send):
                # No transport to close: the nearest thing is an answer that never finishes.
                await send({"type": "http.response.start", "status": 200, "headers": [JSON]})
            raise Drop

    # --- API handlers -------------------------------------------------------------------------

    async def _generation(
        self,
        endpoint: str,
        entry: Entry,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        t0 = time.perf_counter()
        raw = await read_body(receive, self.config.max_body_bytes)
        memo_key = (endpoint, raw) if len(raw) <= _MEMO_BODY_LIMIT else None
        memo = self._memo.get(memo_key) if memo_key is not None else None
        if memo is not None:
            # The same bytes as a request answered before: validation and the generated
            # choices are pure functions of them, so both are reused (faults, stubs, timing,
            # ids and the journal still happen per request, below).
            req, memo_choices = memo
            entry.model = req.model.id
            step = self._fault_step(scope, entry.path, entry)
            await self._apply_before(step, entry, receive, send)
            self.journal.keep_body(entry, None, len(raw), raw)
            request: Any = None
            conversation: list[dict[str, Any]] = []
        else:
            body = validation.parse_json(raw)
            if isinstance(body, dict) and isinstance(body.get("model"), str):
                entry.model = body["model"]
            step = self._fault_step(scope, entry.path, entry)
            await self._apply_before(step, entry, receive, send)
            request = body
            conversation = []
            # The Messages and Responses shapes are translated into the chat request they mean,
            # so validation, stubs, faults, determinism and the journal are the same for all.
            if endpoint == "messages":
                body = messages_api.to_chat(body)
            elif endpoint == "responses":
                body, conversation = responses_api.to_chat(body, self.responses)
            if endpoint == "completions":
                req = validation.completion_request(body, self.catalog, self.config.limits)
            else:
                req = validation.chat_request(body, self.catalog, self.config.limits)
            memo_choices = None
            if req.images or req.videos:
                kept = validation.sanitised_body(body, req.images, req.videos)
                self.journal.keep_body(entry, kept, len(raw))
            else:
                self.journal.keep_body(entry, body, len(raw), raw)
        entry.request_hash = req.digest
        stub = self.stubs.find(req, entry.test_id) if self.stubs.stubs else None
        if stub is not None:
            entry.stub = stub.name
            step = await self._stub_faults(stub, step, scope, entry, receive, send)
        else:
            entry.unmatched = True
        ttft = _ms_header(scope, "x-devenv-ttft-ms")
        delay = _ms_header(scope, "x-devenv-chunk-delay-ms")
        if self.timing.latency_ms:
            await asyncio.sleep(self.timing.latency_ms / 1000)
        if stub is not None:
            chs = replies.choices(req, stub.reply)
        elif memo_choices is not None:
            chs = memo_choices
        else:
            chs = replies.choices(req, None)
            # Only the shapes whose replies depend on nothing but the bytes are remembered
            # (Responses may depend on stored responses), and only text: no inline media.
            if memo_key is not None and endpoint in _MEMO_ENDPOINTS and not req.images + req.videos:
                if len(self._memo) >= _MEMO_SIZE:
                    del self._memo[next(iter(self._memo))]
                self._memo[memo_key] = (req, chs)
        created = int(time.time())
        # Few headers on purpose: uvicorn checks each one in Python (about 1 us apiece at the
        # target rate). The request hash is in the journal (`request_hash`).
        headers = [
            *self._request_id(),
            (b"fireworks-prompt-tokens", b"%d" % req.prompt_tokens),
            (b"fireworks-cached-prompt-tokens", b"0"),
        ]
        if stub is not None:
            headers.append((b"x-devenv-stub", stub.name.encode()))
        kind = step.kind if step is not None else "ok"
        if endpoint == "responses":
            response = responses_api.body(req, chs, created, request)
            if response["store"]:
                self.responses.put(
                    response, [*conversation, *responses_api.assistant_turn(response)]
                )
            if req.stream:
                first = self.timing.ttft_ms if ttft is None else ttft
                gap = self.timing.chunk_delay_ms if delay is None else delay
                entry.status = 200
                events = responses_api.stream(response)
                await self._stream(events, first, gap, kind, step, headers, receive, send, None)
                return
            payload = orjson.dumps(response)
            await self._send_payload(payload, kind, headers, t0, entry, receive, send)
            return
        if req.stream:
            make = {
                "chat.completions": wire.chat_stream,
                "completions": wire.completion_stream,
                "messages": messages_api.stream,
            }[endpoint]
            first = self.timing.ttft_ms if ttft is None else ttft
            gap = self.timing.chunk_delay_ms if delay is None else delay
            perf = None
            if req.perf_metrics:
                # The whole stream is planned now; its processing time is the planned one.
                spent = time.perf_counter() - t0 + first / 1000
                n_events = max(1, sum(len(ch.pieces()) for ch in chs))
                perf = wire.perf_metrics(req, spent, spent + gap * n_events / 1000)
            events = make(req, chs, created, perf)
            headers.append((b"fireworks-server-time-to-first-token", b"%.3f" % (first / 1000)))
            entry.status = 200
            done = None if endpoint == "messages" else wire.DONE
            await self._stream(events, first, gap, kind, step, headers, receive, send, done)
            return
        make_body = {
            "chat.completions": wire.chat_body,
            "completions": wire.completion_body,
            "messages": messages_api.body,
        }[endpoint]
        spent = time.perf_counter() - t0
        # Non-streaming replies carry the same metrics in headers (the docs: "Performance
        # metrics are always included in response headers"); a whole reply's first token is
        # its processing time here, as nothing is generated incrementally.
        perf = wire.perf_metrics(req, spent, spent) if req.perf_metrics else None
        payload = orjson.dumps(make_body(req, chs, created, perf))
        headers.append((b"fireworks-server-time-to-first-token", b"%.4f" % spent))
        await self._send_payload(payload, kind, headers, t0, entry, receive, send)

    async def _send_payload(
        self,
        payload: bytes,
        kind: str,
        headers: list[tuple[bytes, bytes]],
        t0: float,
        entry: Entry,
        receive: Receive,
        send: Send,
    ) -> None:
        headers.append((b"fireworks-server-processing-time", b"%.4f" % (time.perf_counter() - t0)))
        entry.status = 200
        if kind == "malformed":
            payload = payload[: len(payload) // 2] + b"<<not json"
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [JSON, (b"content-length", b"%d" % len(payload)), *headers],
        }
        await send(start)
        if kind == "cut":
            await send(
                {
                    "type": "http.response.body",
                    "body": payload[: len(payload) // 2],
                    "more_body": True,
                }
            )
            await _close_connection(receive, send)
            raise Drop
        await send({"type": "http.response.body", "body": payload})

    async def _stub_faults(
        self,
        stub: Stub,
        step: Step | None,
        scope: Scope,
        entry: Entry,
        receive: Receive,
        send: Send,
    ) -> Step | None:
        if stub.fault is not None and step is None:
            step = self.faults.from_header(
                stub.fault, _header(scope, b"x-stainless-retry-count"), entry.test_id
            )
            await self._apply_before(step, entry, receive, send)
        if stub.latency_ms:
            await asyncio.sleep(stub.latency_ms / 1000)
        if stub.error is not None:
            raise stub.error
        return step

    async def _stream(
        self,
        events: list[bytes],
        ttft_ms: int,
        gap_ms: int,
        kind: str,
        step: Step | None,
        headers: list[tuple[bytes, bytes]],
        receive: Receive,
        send: Send,
        done: bytes | None = wire.DONE,
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    *headers,
                ],
            }
        )
        if kind == "cut":
            events = events[: step.arg if step is not None and step.arg is not None else 2]
        elif kind == "malformed":
            at = step.arg if step is not None and step.arg is not None else 1
            events = [*events[:at], b'data: {"id": "truncated", "choices": [\n\n', *events[at:]]
        if kind != "cut" and done is not None:
            events = [*events, done]
        if ttft_ms:
            await asyncio.sleep(ttft_ms / 1000)
        if gap_ms:
            for i, event in enumerate(events):
                if i:
                    await asyncio.sleep(gap_ms / 1000)
                await send({"type": "http.response.body", "body": event, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b"".join(events), "more_body": True})
        if kind == "cut":
            await _close_connection(receive, send)
            raise Drop
        await send({"type": "http.response.body", "body": b""})

    async def _chat(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self._generation("chat.completions", entry, scope, receive, send)

    async def _messages(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self._generation("messages", entry, scope, receive, send)

    async def _responses(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self._generation("responses", entry, scope, receive, send)

    async def _stored_response(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response_id = sub[len("/responses/") :]
        stored = self.responses.get(response_id)
        if stored is None:
            raise responses_api.not_found(response_id)
        entry.status = 200
        await send_json(send, 200, stored[0], self._request_id())

    async def _completions(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self._generation("completions", entry, scope, receive, send)

    async def _embeddings(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raw = await read_body(receive, self.config.max_body_bytes)
        body = validation.parse_json(raw)
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            entry.model = body["model"]
        await self._apply_before(self._fault_step(scope, entry.path, entry), entry, receive, send)
        req = validation.embedding_request(body, self.catalog)
        self.journal.keep_body(entry, body, len(raw), raw)
        entry.request_hash = req.digest
        entry.unmatched = True
        if self.timing.latency_ms:
            await asyncio.sleep(self.timing.latency_ms / 1000)
        entry.status = 200
        await send_json(send, 200, wire.embedding_body(req), self._request_id())

    async def _models(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        entry.status = 200
        data = [m.openai_object(_MODELS_CREATED) for m in self.catalog]
        await send_json(send, 200, {"object": "list", "data": data}, self._request_id())

    async def _model(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        model_id = sub[len("/models/") :]
        info = self.catalog.get(model_id)
        if info is None:
            raise unknown_model(model_id)
        entry.status = 200
        await send_json(send, 200, info.openai_object(_MODELS_CREATED), self._request_id())

    async def _account_models(
        self, sub: str, entry: Entry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        m = _ACCOUNT_MODELS.match(sub)
        assert m is not None
        account, model_id = m.group(1), m.group(2)
        if model_id:
            info = self.catalog.get(f"accounts/{account}/models/{model_id}")
            if info is None:
                raise unknown_model(f"accounts/{account}/models/{model_id}")
            entry.status = 200
            await send_json(send, 200, info.control_plane_object(), self._request_id())
            return
        prefix = f"accounts/{account}/models/"
        items = [m.control_plane_object() for m in self.catalog if m.id.startswith(prefix)]
        entry.status = 200
        await send_json(
            send,
            200,
            {"models": items, "nextPageToken": "", "totalSize": len(items)},
            self._request_id(),
        )


# The memo of recent request bodies: bounded in entries and in the size of a body it keeps.
_MEMO_SIZE = 512
_MEMO_BODY_LIMIT = 16 * 1024
_MEMO_ENDPOINTS = frozenset({"chat.completions", "completions", "messages"})
_ACCOUNT_MODELS = re.compile(r"^/accounts/([^/]+)/models(?:/([^/]+))?$")
# On every success, as the real API sends them: the adaptive token limits
# (the rate-limits guide: "Your current effective rate limits are in the response headers
# X-Ratelimit-Limit-Tokens-Prompt and X-Ratelimit-Limit-Tokens-Generated"; the starting limits
# are 3.6 million prompt and 36,000 generated tokens per minute).
_RATE_LIMIT_HEADERS = (
    (b"x-ratelimit-limit-tokens-prompt", b"3600000"),
    (b"x-ratelimit-limit-tokens-generated", b"36000"),
)


def create_app(config: MockConfig | None = None) -> FireworksMock:
    """Build the app; raises MockError (bad stub file, missing stub directory) before serving."""
    return FireworksMock(config)


__all__ = ["FireworksMock", "MockConfig", "Timing", "create_app", "parse_plan"]
