"""Faults on demand, seen through the real SDKs (which retry twice by default)."""

from __future__ import annotations

import asyncio
import json
import time

import fireworks
import httpx
import openai
import pytest

from devenv.mocks.fireworks.server import MockServer
from tests.unit.fireworks.conftest import CHAT, KEY, Wire, error_body, journal

MESSAGES: Wire = [{"role": "user", "content": "hello"}]
URL = "/inference/v1/chat/completions"


def test_429_carries_retry_headers_and_body(http: httpx.Client) -> None:
    response = http.post(
        URL, json={"model": CHAT, "messages": MESSAGES}, headers={"x-devenv-fault": "429:1500"}
    )
    assert response.status_code == 429
    assert response.headers["retry-after-ms"] == "1500"
    assert response.headers["retry-after"] == "2"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED" and error["object"] == "error"


def test_scripted_429_then_200_is_retried_by_the_openai_sdk(
    oai: openai.OpenAI, mock: MockServer
) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "429,ok"}
    )
    assert raw.status_code == 200 and raw.retries_taken == 1
    entries = journal(mock)["entries"]
    assert [(e["status"], e["retry_count"], e["fault"]) for e in entries] == [
        (429, 0, "rate_limit"),
        (200, 1, None),
    ]


def test_500_503_then_200_uses_both_default_retries_of_the_fireworks_sdk(mock: MockServer) -> None:
    client = fireworks.Fireworks(base_url=mock.url, api_key=KEY)
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "500,503,ok"}
    )
    assert raw.http_response.status_code == 200 and raw.retries_taken == 2


def test_persistent_503_exhausts_the_retries(oai: openai.OpenAI, mock: MockServer) -> None:
    with pytest.raises(openai.InternalServerError) as exc:
        oai.chat.completions.create(
            model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "503"}
        )
    assert exc.value.status_code == 503
    assert error_body(exc.value)["code"] == "UNAVAILABLE"
    assert journal(mock)["count"] == 3  # the first try and the SDK's two retries


def test_latency_fault_delays_the_answer(oai: openai.OpenAI) -> None:
    t0 = time.perf_counter()
    oai.chat.completions.create(
        model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "latency:200"}
    )
    assert time.perf_counter() - t0 >= 0.2


def test_latency_beyond_the_client_timeout_is_a_timeout(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.2, max_retries=0).chat.completions.create(
            model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "latency:1000"}
        )


def test_dropped_connection_is_a_connection_error_and_retried(
    oai: openai.OpenAI, mock: MockServer
) -> None:
    with pytest.raises(openai.APIConnectionError):
        oai.with_options(max_retries=0).chat.completions.create(
            model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "drop"}
        )
    raw = oai.chat.completions.with_raw_response.create(
        model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-fault": "drop,ok"}
    )
    assert raw.retries_taken == 1
    statuses = [e["status"] for e in journal(mock)["entries"]]
    assert statuses == [0, 0, 200]


def test_stream_cut_mid_way(oai: openai.OpenAI) -> None:
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.with_options(max_retries=0).chat.completions.create(
            model=CHAT, messages=MESSAGES, stream=True, extra_headers={"x-devenv-fault": "cut:3"}
        ):
            got.append(chunk)
    assert len(got) == 3  # role chunk and two content chunks, then the connection went


def test_non_streaming_cut_sends_half_a_body(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(
            URL, json={"model": CHAT, "messages": MESSAGES}, headers={"x-devenv-fault": "cut"}
        )


def test_malformed_chunk_breaks_the_sdk_parser(oai: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(json.JSONDecodeError):
        list(
            oai.chat.completions.create(
                model=CHAT,
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-devenv-fault": "malformed:2"},
            )
        )
    raw = http.post(
        URL, json={"model": CHAT, "messages": MESSAGES}, headers={"x-devenv-fault": "malformed"}
    )
    assert raw.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw.text)


def test_bad_fault_header_is_400_naming_it(http: httpx.Client) -> None:
    response = http.post(
        URL, json={"model": CHAT, "messages": MESSAGES}, headers={"x-devenv-fault": "explode"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "x-devenv-fault"
    assert "explode" in response.json()["error"]["message"]


def test_control_endpoint_rule_applies_in_order_then_expires(
    oai: openai.OpenAI, http: httpx.Client, mock: MockServer
) -> None:
    rule = http.post("/__devenv/faults", json={"plan": "429,500", "path": "chat/completions"})
    assert rule.status_code == 201
    assert http.get("/__devenv/faults").json()["rules"][0]["plan"] == "rate_limit,error"
    raw = oai.chat.completions.with_raw_response.create(model=CHAT, messages=MESSAGES)
    assert raw.retries_taken == 2
    assert http.get("/__devenv/faults").json()["rules"] == []
    assert [e["status"] for e in journal(mock)["entries"]] == [429, 500, 200]


def test_control_rule_scoped_to_a_test_id_and_repeating(
    oai: openai.OpenAI, http: httpx.Client
) -> None:
    http.post(
        "/__devenv/faults", json={"plan": "503", "repeat": True, "test_id": "t-1"}
    ).raise_for_status()
    client = oai.with_options(max_retries=0)
    assert client.chat.completions.create(model=CHAT, messages=MESSAGES).choices  # other callers
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(
                model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-test-id": "t-1"}
            )
    rule_id = http.get("/__devenv/faults").json()["rules"][0]["id"]
    assert http.delete(f"/__devenv/faults/{rule_id}").status_code == 200
    assert client.chat.completions.create(
        model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-test-id": "t-1"}
    ).choices
    assert http.delete("/__devenv/faults/999").status_code == 404


def test_bad_control_requests_are_400(http: httpx.Client) -> None:
    assert http.post("/__devenv/faults", json={}).status_code == 400
    assert http.post("/__devenv/faults", json={"plan": "latency"}).status_code == 400
    assert http.post("/__devenv/faults", json={"plan": "ok", "colour": 1}).status_code == 400
    assert http.post("/__devenv/config", json={"ttft_ms": -1}).status_code == 400
    assert http.post("/__devenv/config", json={"speed": 1}).status_code == 400
    assert http.post("/__devenv/config", content=b"{").status_code == 400


def test_global_latency_via_config(oai: openai.OpenAI, http: httpx.Client) -> None:
    http.post("/__devenv/config", json={"latency_ms": 150}).raise_for_status()
    t0 = time.perf_counter()
    oai.chat.completions.create(model=CHAT, messages=MESSAGES)
    assert time.perf_counter() - t0 >= 0.15
    assert http.get("/__devenv/config").json()["timing"]["latency_ms"] == 150


def test_stub_with_a_fault_plan_recovers_on_retry(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model=CHAT, messages=[{"role": "user", "content": "__devenv_flaky__"}]
    )
    assert raw.retries_taken == 1
    assert raw.parse().choices[0].message.content == "Recovered after one retry."


def test_concurrent_callers_with_the_same_plan_each_get_their_own_sequence(
    mock: MockServer,
) -> None:
    """Attempts are counted per caller through x-stainless-retry-count, not globally."""

    async def run() -> list[int]:
        async with openai.AsyncOpenAI(base_url=mock.url + "/inference/v1", api_key=KEY) as client:
            raws = await asyncio.gather(
                *(
                    client.chat.completions.with_raw_response.create(
                        model=CHAT,
                        messages=[{"role": "user", "content": f"q{i}"}],
                        extra_headers={"x-devenv-fault": "429,ok"},
                    )
                    for i in range(10)
                )
            )
        return [r.retries_taken for r in raws]

    assert asyncio.run(run()) == [1] * 10
