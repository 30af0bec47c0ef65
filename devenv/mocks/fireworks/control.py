"""The mock's control API, below ``/__devenv/``: health, the request journal, fault rules, the
timing, the stub set (replaced whole by ``PUT /__devenv/stubs``) and a reset. Tests, the pytest
plugin and ``devenv mock ...`` drive the mock through it; it needs no API key.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from devenv import __version__
from devenv.errors import MockError
from devenv.mocks.fireworks import validation
from devenv.mocks.fireworks.apierrors import ApiError, bad_request, method_not_allowed, not_found
from devenv.mocks.fireworks.asgi import Receive, Scope, Send, read_body, send_json
from devenv.mocks.fireworks.stubs import load_texts as load_stub_texts
from devenv.mocks.fireworks.stubs import stub_files

if TYPE_CHECKING:
    from devenv.mocks.fireworks.app import FireworksMock


class Control:
    """The control routes of one mock; they read and change its state."""

    def __init__(self, mock: FireworksMock) -> None:
        self.mock = mock
        self._routes: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
            "/__devenv/health": self._health,
            "/__devenv/journal": self._journal,
            "/__devenv/journal/unmatched": self._journal_unmatched,
            "/__devenv/faults": self._faults,
            "/__devenv/config": self._config,
            "/__devenv/stubs": self._stubs,
            "/__devenv/reset": self._reset,
        }

    async def route(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request below ``/__devenv/``; an error is the API's JSON error body."""
        handler = self._routes.get(path)
        if handler is None and path.startswith("/__devenv/faults/"):
            handler = self._fault_rule
        try:
            if handler is None:
                raise not_found(path)
            await handler(scope, receive, send)
        except ApiError as exc:
            await send_json(send, exc.status, exc.body())

    async def _control_body(self, receive: Receive) -> dict[str, Any]:
        raw = await read_body(receive, self.mock.config.max_body_bytes)
        if not raw.strip():
            return {}
        body = validation.parse_json(raw)
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object", None)
        return body

    @staticmethod
    def _query(scope: Scope) -> dict[str, str]:
        qs = scope.get("query_string", b"").decode()
        return {k: v[-1] for k, v in parse_qs(qs).items()}

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(
            send,
            200,
            {
                "status": "ok",
                "service": "fireworks-mock",
                "version": __version__,
                "uptime_s": round(time.time() - self.mock.started, 3),
                "models": len(self.mock.catalog),
                "stubs": len(self.mock.stubs.stubs),
                "journal": {
                    "entries": len(self.mock.journal),
                    "size": self.mock.journal.size,
                    "total": self.mock.journal.total,
                },
            },
        )

    def _journal_list(self, scope: Scope, unmatched: bool | None) -> dict[str, Any]:
        q = self._query(scope)
        if unmatched is None and "unmatched" in q:
            unmatched = q["unmatched"].lower() in ("1", "true", "yes")
        limit = q.get("limit")
        if limit is not None and not limit.isdigit():
            raise bad_request("query parameter limit must be a whole number", "limit")
        entries = self.mock.journal.entries(
            path=q.get("path"),
            test_id=q.get("test_id"),
            unmatched=unmatched,
            limit=int(limit) if limit is not None else None,
        )
        return {
            "total": self.mock.journal.total,
            "size": self.mock.journal.size,
            "count": len(entries),
            "entries": [e.as_dict() for e in entries],
        }

    async def _journal(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _allow(scope, "GET", "DELETE") == "GET":
            await send_json(send, 200, self._journal_list(scope, None))
        else:
            cleared = self.mock.journal.clear(self._query(scope).get("test_id"))
            await send_json(send, 200, {"cleared": cleared})

    async def _journal_unmatched(self, scope: Scope, receive: Receive, send: Send) -> None:
        _allow(scope, "GET")
        await send_json(send, 200, self._journal_list(scope, True))

    async def _faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = _allow(scope, "GET", "POST", "DELETE")
        if method == "GET":
            await send_json(send, 200, {"rules": [r.as_dict() for r in self.mock.faults.rules()]})
        elif method == "POST":
            body = await self._control_body(receive)
            plan = body.get("plan")
            if not isinstance(plan, str):
                raise bad_request("'plan' is required: a fault plan such as \"429,ok\"", "plan")
            for key in body:
                if key not in ("plan", "repeat", "path", "model", "test_id"):
                    raise bad_request(f"unknown field '{key}'", key)
            for key in ("path", "model", "test_id"):
                if body.get(key) is not None and not isinstance(body[key], str):
                    raise bad_request(f"'{key}' must be a string", key)
            if not isinstance(body.get("repeat", False), bool):
                raise bad_request("'repeat' must be true or false", "repeat")
            try:
                rule = self.mock.faults.add(
                    plan,
                    repeat=body.get("repeat", False),
                    path=body.get("path"),
                    model=body.get("model"),
                    test_id=body.get("test_id"),
                )
            except ValueError as exc:
                raise bad_request(str(exc), "plan") from None
            await send_json(send, 201, rule.as_dict())
        else:
            n = len(self.mock.faults.rules())
            self.mock.faults.clear()
            await send_json(send, 200, {"cleared": n})

    async def _fault_rule(self, scope: Scope, receive: Receive, send: Send) -> None:
        _allow(scope, "DELETE")
        rule_id = scope["path"].rsplit("/", 1)[-1]
        if not rule_id.isdigit() or not self.mock.faults.remove(int(rule_id)):
            raise ApiError(404, f"No fault rule {rule_id}", code="NOT_FOUND")
        await send_json(send, 200, {"removed": int(rule_id)})

    async def _config(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _allow(scope, "GET", "POST") == "POST":
            body = await self._control_body(receive)
            fields = set(asdict(self.mock.timing))
            for key, value in body.items():
                if key not in fields:
                    raise bad_request(
                        f"unknown field '{key}'; known: {', '.join(sorted(fields))}", key
                    )
                if type(value) is not int or value < 0:
                    raise bad_request(f"'{key}' must be whole milliseconds >= 0", key)
            for key, value in body.items():
                setattr(self.mock.timing, key, value)
        await send_json(
            send,
            200,
            {
                "timing": asdict(self.mock.timing),
                "keys": "any" if self.mock.config.keys is None else "configured",
            },
        )

    async def _stubs(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _allow(scope, "GET", "PUT") == "PUT":
            await self._reload_stubs(receive)
        await send_json(
            send,
            200,
            {
                "files": self.mock.stubs.files,
                "stubs": [s.describe() for s in self.mock.stubs.stubs],
            },
        )

    async def _reload_stubs(self, receive: Receive) -> None:
        """``PUT /__devenv/stubs`` with ``{"files": [{"name": ..., "text": ...}, ...]}``: the
        whole stub set, replaced at once (``devenv up`` and ``devenv mock reload`` send the
        project's files, so no host folder is mounted and an edit needs no restart). A bad file
        is a 400 naming file and line, and the stubs in use stay as they were. The files are
        also written to the stub directory, so a restarted container starts with them."""
        body = await self._control_body(receive)
        files = body.get("files")
        if not isinstance(files, list) or not all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("text"), str)
            for f in files
        ):
            raise bad_request('\'files\' must be a list of {"name": ..., "text": ...}', "files")
        texts = [(str(f["name"]), str(f["text"])) for f in files]
        try:
            stubs = load_stub_texts(texts, "fix the file, then run `devenv mock reload`")
        except MockError as exc:
            raise bad_request(exc.message, "files") from None
        self.mock.use_stubs(stubs)
        self._keep_stub_files(texts)

    def _keep_stub_files(self, texts: list[tuple[str, str]]) -> None:
        directory = self.mock.config.stubs_dir
        if directory is None:
            return
        try:
            for old in stub_files(directory):
                old.unlink()
            for i, (name, text) in enumerate(texts):
                # Numbered, so the directory's name order is the order the stubs were sent in.
                safe = Path(name).name
                (directory / f"{i:04d}-{safe}").write_text(text, encoding="utf-8")
        except OSError:
            pass  # a read-only stub directory: the reload holds until the mock restarts

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        _allow(scope, "POST")
        self.mock.reset()
        await send_json(send, 200, {"reset": True})


def _allow(scope: Scope, *methods: str) -> str:
    """The request's method when it is one of ``methods``, else a 405."""
    method: str = scope["method"]
    if method not in methods:
        raise method_not_allowed(method, scope["path"])
    return method
