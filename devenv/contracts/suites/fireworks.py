"""Fireworks AI (the mock locally, the real API when pointed there): the calls an app makes
through the ``openai`` SDK, sent with the SDK's request shapes (path, headers, JSON body: the
unit tests compare them with what the SDK itself sends) and checked against Fireworks' answers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devenv.contracts.core import CheckFailed, Suite, check, expect, expect_eq, register
from devenv.contracts.suites import _http

if TYPE_CHECKING:
    import httpx

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
VISION_MODEL = "accounts/fireworks/models/qwen2p5-vl-32b-instruct"
UNKNOWN_MODEL = "accounts/fireworks/models/devenv-contract-no-such-model"
#: A 1x1 PNG, as an app sends a picture: a data URL in an image_url content part.
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def headers(key: str) -> dict[str, str]:
    """The headers the openai SDK sends on every call (the X-Stainless telemetry aside)."""
    return {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


def chat_body(**kw: Any) -> dict[str, Any]:
    """``client.chat.completions.create(**kw)``'s JSON body: the given arguments, as given."""
    return dict(kw)


def hello() -> list[dict[str, Any]]:
    return [{"role": "user", "content": "Say hello in one word."}]


@register
class FireworksSuite(Suite):
    service = "fireworks"
    #: Model calls on a hosted API take longer than a local answer.
    timeout = 30.0

    def unavailable(self) -> str | None:
        if not self.target.fireworks_url:
            return "no Fireworks base URL (FIREWORKS_BASE_URL) for this target"
        if not self.target.fireworks_key:
            return "no Fireworks API key (FIREWORKS_API_KEY) for this target"
        return None

    @property
    def http(self) -> httpx.Client:
        return self.http_client("http", self.target.fireworks_url.rstrip("/") + "/")

    def _chat(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        k = self.target.fireworks_key if key is None else key
        h = headers(k)
        if not k:
            del h["Authorization"]
        return self.http.post("chat/completions", headers=h, json=body)

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self._chat(body)
        _http.status(r, 200)
        data = _http.json_of(r)
        expect_eq(data.get("object"), "chat.completion", "object")
        choices = data.get("choices")
        expect(isinstance(choices, list) and choices, "at least one choice", data)
        assert isinstance(choices, list)
        msg = choices[0].get("message") or {}
        expect(
            msg.get("role") == "assistant" and isinstance(msg.get("content"), str),
            "an assistant message with text content",
            msg,
        )
        usage = data.get("usage") or {}
        expect(
            isinstance(usage, dict) and "total_tokens" in usage, "usage with total_tokens", usage
        )
        return data

    @check("chat_completion")
    def chat_completion(self) -> None:
        data = self._completion(chat_body(messages=hello(), model=MODEL, max_tokens=16))
        expect_eq(data.get("model"), MODEL, "model")

    @check("streaming")
    def streaming(self) -> None:
        body = chat_body(messages=hello(), model=MODEL, max_tokens=16, stream=True)
        k = self.target.fireworks_key
        with self.http.stream("POST", "chat/completions", headers=headers(k), json=body) as r:
            if r.status_code != 200:
                r.read()
                _http.status(r, 200)
            ctype = r.headers.get("content-type", "")
            expect(ctype.startswith("text/event-stream"), "Content-Type text/event-stream", ctype)
            chunks: list[dict[str, Any]] = []
            done = False
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                    break
                chunks.append(json.loads(payload))
        expect(chunks, "at least one chunk", "none")
        expect(
            all(c.get("object") == "chat.completion.chunk" for c in chunks),
            'every chunk an object "chat.completion.chunk"',
            chunks[0],
        )
        expect(done, "the stream to end with data: [DONE]", "no [DONE]")
        finish = [c["choices"][0].get("finish_reason") for c in chunks if c.get("choices")]
        expect(any(finish), "a finish_reason in the last chunks", finish[-3:])

    @check("vision")
    def vision(self) -> None:
        content = [
            {"type": "text", "text": "What colour is this pixel?"},
            {"type": "image_url", "image_url": {"url": PIXEL}},
        ]
        self._completion(
            chat_body(
                messages=[{"role": "user", "content": content}], model=VISION_MODEL, max_tokens=16
            )
        )

    @check("json_mode")
    def json_mode(self) -> None:
        data = self._completion(
            chat_body(
                messages=[{"role": "user", "content": "Give a JSON object with a name."}],
                model=MODEL,
                max_tokens=64,
                response_format={"type": "json_object"},
            )
        )
        text = data["choices"][0]["message"]["content"]
        try:
            parsed = json.loads(text)
        except ValueError:
            raise CheckFailed(f"expected JSON content in JSON mode, got {text[:120]!r}") from None
        expect(isinstance(parsed, dict), "a JSON object", parsed)

    @check("unknown_model_404")
    def unknown_model(self) -> None:
        r = self._chat(chat_body(messages=hello(), model=UNKNOWN_MODEL))
        _http.status(r, 404)
        err = _http.json_of(r).get("error")
        expect(
            isinstance(err, dict) and "message" in err, 'an {"error": {"message": ...}} body', err
        )
        assert isinstance(err, dict)
        expect(
            UNKNOWN_MODEL in str(err.get("message")) or err.get("code") == "NOT_FOUND",
            "the error to name the model",
            err,
        )

    @check("bad_key_401")
    def bad_key(self) -> None:
        # No key at all: refused by the mock and by Fireworks alike. (The mock accepts any
        # non-empty key unless DEVENV_FIREWORKS_KEYS narrows it, so that a developer's real key
        # works locally; an empty one cannot be sent: "Bearer " is not a valid header value.)
        r = self._chat(chat_body(messages=hello(), model=MODEL), key="")
        _http.status(r, 401)
        err = _http.json_of(r).get("error")
        expect(
            isinstance(err, dict) and err.get("message"), 'an {"error": {"message": ...}} body', err
        )
