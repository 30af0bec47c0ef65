"""Bad requests get Fireworks' error bodies, naming the field; each case has its own test."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import fireworks
import httpx
import openai
import pytest

from devenv.mocks.fireworks.server import MockServer
from tests.unit.fireworks.conftest import (
    CHAT,
    EMBED,
    VISION,
    Wire,
    data_url,
    error_body,
    journal,
    png,
)

URL = "/inference/v1/chat/completions"
USER: Wire = [{"role": "user", "content": "hi"}]


def _error(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"object", "type", "message", "param", "code"}
    assert error["object"] == "error"
    assert error["param"] == param
    return error


def test_missing_key_is_401_with_fireworks_body(mock: MockServer) -> None:
    response = httpx.post(mock.url + URL, json={"model": CHAT, "messages": USER})
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "The API key you provided is invalid.",
            "code": "UNAUTHORIZED",
            "type": "error",
        }
    }


def test_bearer_without_a_key_and_basic_auth_are_401(mock: MockServer) -> None:
    response = httpx.post(
        mock.url + URL, json={"model": CHAT, "messages": USER}, headers={"Authorization": "Bearer"}
    )
    assert response.status_code == 401
    basic = httpx.post(mock.url + URL, json={"model": CHAT, "messages": USER}, auth=("u", "p"))
    assert basic.status_code == 401


def test_configured_keys_reject_others_through_both_sdks(tmp_path: Path) -> None:
    from devenv.mocks.fireworks.app import MockConfig

    with MockServer(MockConfig(keys=frozenset({"good"}))) as server:
        bad = openai.OpenAI(base_url=server.url + "/inference/v1", api_key="bad")
        with pytest.raises(openai.AuthenticationError) as exc:
            bad.chat.completions.create(model=CHAT, messages=USER)
        assert exc.value.status_code == 401
        fw_bad = fireworks.Fireworks(base_url=server.url, api_key="bad")
        with pytest.raises(fireworks.AuthenticationError):
            fw_bad.chat.completions.create(model=CHAT, messages=USER)
        good = openai.OpenAI(base_url=server.url + "/inference/v1", api_key="good")
        assert good.chat.completions.create(model=CHAT, messages=USER).choices


def test_unknown_model_is_404_naming_model(http: httpx.Client, oai: openai.OpenAI) -> None:
    """Fireworks' 404 message for an unknown model is exactly this sentence (no model name in it;
    `param` names the field)."""
    error = _error(
        http.post(URL, json={"model": "accounts/x/models/nope", "messages": USER}), 404, "model"
    )
    assert error["code"] == "NOT_FOUND"
    assert error["message"] == "Model not found, inaccessible, and/or not deployed"
    with pytest.raises(openai.NotFoundError) as exc:
        oai.chat.completions.create(model="llama-v3p1-8b-instruct", messages=USER)  # short name
    assert error_body(exc.value)["param"] == "model"


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        URL, content=b'{"model": "x", "messages": [', headers={"Content-Type": "application/json"}
    )
    error = _error(response, 400, None)
    assert "not valid JSON" in error["message"] and error["type"] == "invalid_request_error"


def test_empty_body_and_non_object_body_are_400(http: httpx.Client) -> None:
    _error(http.post(URL, content=b""), 400, None)
    _error(http.post(URL, json=[1, 2]), 400, None)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": 7, "messages": USER}, "model"),
        ({"model": CHAT}, "messages"),
        ({"model": CHAT, "messages": "hi"}, "messages"),
        ({"model": CHAT, "messages": []}, "messages"),
        ({"model": CHAT, "messages": [{"content": "hi"}]}, "messages[0].role"),
        ({"model": CHAT, "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"model": CHAT, "messages": [{"role": "user"}]}, "messages[0].content"),
        ({"model": CHAT, "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"model": CHAT, "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "model": CHAT,
                "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}],
            },
            "messages[0].content[0].text",
        ),
        (
            {"model": CHAT, "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        ({"model": CHAT, "messages": USER, "max_tokens": "10"}, "max_tokens"),
        ({"model": CHAT, "messages": USER, "max_tokens": 0}, "max_tokens"),
        ({"model": CHAT, "messages": USER, "max_tokens": True}, "max_tokens"),
        ({"model": CHAT, "messages": USER, "temperature": 3}, "temperature"),
        ({"model": CHAT, "messages": USER, "temperature": "hot"}, "temperature"),
        ({"model": CHAT, "messages": USER, "n": 0}, "n"),
        ({"model": CHAT, "messages": USER, "n": 1.5}, "n"),
        ({"model": CHAT, "messages": USER, "stop": 3}, "stop"),
        ({"model": CHAT, "messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": CHAT, "messages": USER, "stop": ["a", 1]}, "stop[1]"),
        ({"model": CHAT, "messages": USER, "seed": "x"}, "seed"),
        ({"model": CHAT, "messages": USER, "stream": "yes"}, "stream"),
        (
            {"model": CHAT, "messages": USER, "response_format": {"type": "xml"}},
            "response_format.type",
        ),
        (
            {"model": CHAT, "messages": USER, "response_format": {"type": "json_schema"}},
            "response_format.json_schema",
        ),
        (
            {
                "model": CHAT,
                "messages": USER,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "objekt"}},
                },
            },
            "response_format.json_schema.schema",
        ),
        ({"model": CHAT, "messages": USER, "tools": {"a": 1}}, "tools"),
        (
            {
                "model": CHAT,
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "bad name!"}}],
            },
            "tools[0].function.name",
        ),
        ({"model": CHAT, "messages": USER, "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": CHAT, "messages": USER, "tool_choice": "required"}, "tool_choice"),
        (
            {
                "model": CHAT,
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "a"}}],
                "tool_choice": {"type": "function", "function": {"name": "b"}},
            },
            "tool_choice.function.name",
        ),
        ({"model": EMBED, "messages": USER}, "model"),
    ],
)
def test_wrong_types_and_values_name_the_field(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    _error(http.post(URL, json=body), 400, param)


def test_unknown_field_is_rejected_by_name(http: httpx.Client, oai: openai.OpenAI) -> None:
    error = _error(
        http.post(URL, json={"model": CHAT, "messages": USER, "max_token": 5}), 400, "max_token"
    )
    assert "max_token" in error["message"]
    with pytest.raises(openai.BadRequestError) as exc:
        oai.chat.completions.create(model=CHAT, messages=USER, extra_body={"temprature": 0.1})
    assert error_body(exc.value)["param"] == "temprature"


def _image_message(url: str) -> list[Wire]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def test_image_on_a_text_model_is_rejected(http: httpx.Client) -> None:
    error = _error(
        http.post(URL, json={"model": CHAT, "messages": _image_message(data_url(png()))}),
        400,
        "messages[0].content[1]",
    )
    assert "does not support image" in error["message"]


def test_undecodable_base64_image_is_rejected(http: httpx.Client) -> None:
    body = {"model": VISION, "messages": _image_message("data:image/png;base64,@@not-base64@@")}
    error = _error(http.post(URL, json=body), 400, "messages[0].content[1].image_url.url")
    assert "base64" in error["message"]


def test_bytes_that_are_not_an_image_are_rejected(http: httpx.Client) -> None:
    body = {"model": VISION, "messages": _image_message(data_url(b"hello, not an image at all"))}
    error = _error(http.post(URL, json=body), 400, "messages[0].content[1].image_url.url")
    assert "could not be decoded as an image" in error["message"]


def test_declared_format_must_match_the_data(http: httpx.Client) -> None:
    body = {"model": VISION, "messages": _image_message(data_url(png(), mime="image/jpeg"))}
    error = _error(http.post(URL, json=body), 400, "messages[0].content[1].image_url.url")
    assert "image/jpeg" in error["message"] and "png" in error["message"]


def test_unsupported_image_type_and_plain_http_urls_are_rejected(http: httpx.Client) -> None:
    svg = "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode()
    _error(
        http.post(URL, json={"model": VISION, "messages": _image_message(svg)}),
        400,
        "messages[0].content[1].image_url.url",
    )
    _error(
        http.post(
            URL, json={"model": VISION, "messages": _image_message("http://example.com/a.png")}
        ),
        400,
        "messages[0].content[1].image_url.url",
    )


def test_oversized_and_too_many_images_are_rejected() -> None:
    from devenv.mocks.fireworks.app import MockConfig
    from devenv.mocks.fireworks.server import MockServer
    from devenv.mocks.fireworks.validation import Limits

    with MockServer(MockConfig(limits=Limits(max_images=2, max_base64_bytes=1000))) as server:
        client = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer k"})
        big = png(64, 64) + b"\x00" * 2000  # a PNG header followed by more than the limit
        error = _error(
            client.post(URL, json={"model": VISION, "messages": _image_message(data_url(big))}),
            400,
            "messages[0].content[1].image_url.url",
        )
        assert "under 1000 bytes" in error["message"]
        three = [{"type": "image_url", "image_url": {"url": data_url(png())}}] * 3
        error = _error(
            client.post(
                URL, json={"model": VISION, "messages": [{"role": "user", "content": three}]}
            ),
            400,
            "messages[0].content[2]",
        )
        assert "at most 2" in error["message"]


def test_request_body_over_the_limit_is_413() -> None:
    from devenv.mocks.fireworks.app import MockConfig
    from devenv.mocks.fireworks.server import MockServer

    with MockServer(MockConfig(max_body_bytes=1000)) as server:
        response = httpx.post(
            server.url + URL,
            json={"model": CHAT, "messages": [{"role": "user", "content": "x" * 2000}]},
            headers={"Authorization": "Bearer k"},
        )
        assert response.status_code == 413


def test_completions_and_embeddings_validate_too(http: httpx.Client) -> None:
    _error(http.post("/v1/completions", json={"model": CHAT}), 400, "prompt")
    _error(
        http.post("/v1/completions", json={"model": CHAT, "prompt": "x", "suffix": "y"}),
        400,
        "suffix",
    )
    _error(http.post("/v1/embeddings", json={"model": EMBED}), 400, "input")
    _error(http.post("/v1/embeddings", json={"model": EMBED, "input": ""}), 400, "input")
    _error(
        http.post("/v1/embeddings", json={"model": EMBED, "input": "x", "dimensions": 100000}),
        400,
        "dimensions",
    )
    _error(
        http.post("/v1/embeddings", json={"model": EMBED, "input": "x", "encoding_format": "hex"}),
        400,
        "encoding_format",
    )
    _error(http.post("/v1/embeddings", json={"model": CHAT, "input": "x"}), 400, "model")


def test_unknown_route_and_wrong_method(http: httpx.Client) -> None:
    assert http.post("/inference/v1/chat/complete", json={}).status_code == 404
    assert http.post("/somewhere", json={}).status_code == 404
    assert http.get(URL).status_code == 405


def test_rejected_requests_are_journaled_as_unmatched(http: httpx.Client, mock: MockServer) -> None:
    http.post(URL, json={"model": CHAT, "messages": USER, "max_token": 5})
    entry = journal(mock)["entries"][-1]
    assert entry["status"] == 400 and entry["unmatched"] and "max_token" in entry["error"]
