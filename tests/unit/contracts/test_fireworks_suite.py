"""The fireworks suite against the real mock (in-process, random port), and its request shapes
compared with what the `openai` SDK itself sends for the same calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from devenv.contracts.core import FAIL, PASS
from devenv.contracts.suites import fireworks as fw
from devenv.contracts.suites.fireworks import FireworksSuite
from devenv.contracts.target import Target
from devenv.mocks.fireworks.app import MockConfig
from devenv.mocks.fireworks.server import MockServer
from devenv.stack.ports import free_port


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig()) as server:
        yield server


def test_every_check_passes_against_the_mock(mock: MockServer) -> None:
    target = Target(fireworks_url=mock.url + "/inference/v1", fireworks_key="any-key")
    out = FireworksSuite(target).run()
    assert [(o.check, o.status, o.message) for o in out if o.status != PASS] == []
    assert [o.check for o in out] == FireworksSuite.check_names()


def test_a_dead_service_fails_each_check_by_name() -> None:
    target = Target(fireworks_url=f"http://127.0.0.1:{free_port()}/inference/v1", fireworks_key="k")
    out = FireworksSuite(target).run()
    assert {o.status for o in out} == {FAIL}
    assert all("cannot connect" in o.message for o in out)


class Recorder:
    """An httpx transport that keeps the request and answers as Fireworks would."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "{}"},
                    "finish_reason": "stop",
                }
            ],
        }
        return httpx.Response(200, json=body)


def sdk_request(**kw: Any) -> httpx.Request:
    rec = Recorder()
    client = openai.OpenAI(
        base_url="http://fw.test/inference/v1",
        api_key="sdk-key",
        # openai annotates http_client as httpx2's Client; httpx's, which the suite uses, works.
        http_client=httpx.Client(transport=httpx.MockTransport(rec)),  # type: ignore[arg-type]
        max_retries=0,
    )
    client.chat.completions.create(**kw)
    return rec.requests[0]


def suite_request(body: dict[str, Any]) -> httpx.Request:
    rec = Recorder()
    suite = FireworksSuite(
        Target(fireworks_url="http://fw.test/inference/v1", fireworks_key="sdk-key")
    )
    suite._clients["http"] = httpx.Client(
        base_url="http://fw.test/inference/v1/", transport=httpx.MockTransport(rec)
    )
    suite._chat(body)
    return rec.requests[0]


@pytest.mark.parametrize(
    "kw",
    [
        {"messages": fw.hello(), "model": fw.MODEL, "max_tokens": 16},
        {
            "messages": [{"role": "user", "content": "Give a JSON object with a name."}],
            "model": fw.MODEL,
            "max_tokens": 64,
            "response_format": {"type": "json_object"},
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What colour is this pixel?"},
                        {"type": "image_url", "image_url": {"url": fw.PIXEL}},
                    ],
                }
            ],
            "model": fw.VISION_MODEL,
            "max_tokens": 16,
        },
    ],
    ids=["chat", "json_mode", "vision"],
)
def test_request_shapes_match_the_openai_sdk(kw: dict[str, Any]) -> None:
    theirs = sdk_request(**kw)
    ours = suite_request(fw.chat_body(**kw))
    assert ours.method == theirs.method == "POST"
    assert ours.url == theirs.url
    assert json.loads(ours.content) == json.loads(theirs.content)
    for h in ("authorization", "content-type", "accept"):
        assert ours.headers.get(h) == theirs.headers.get(h), h
