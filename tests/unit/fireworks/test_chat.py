"""Chat completions through the real openai and fireworks-ai SDKs, sync and async, streamed and
not, against the mock over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import fireworks
import httpx
import jsonschema
import openai
import pytest

from devenv.mocks.fireworks.server import MockServer
from tests.unit.fireworks.conftest import (
    CHAT,
    KEY,
    REPO,
    VISION,
    Wire,
    data_url,
    function_call,
    journal,
    png,
)

MESSAGES: Wire = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Describe a gearbox in one sentence."},
]


def test_openai_sdk_chat_has_content_usage_and_fireworks_headers(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(model=CHAT, messages=MESSAGES)
    reply = raw.parse()
    assert reply.object == "chat.completion"
    assert reply.model == CHAT
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.finish_reason == "stop"
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert raw.headers["fireworks-prompt-tokens"] == str(usage.prompt_tokens)
    assert raw.headers["x-request-id"]
    assert raw.headers["content-type"] == "application/json"


def test_fireworks_sdk_posts_under_v1_and_gets_the_same_reply(
    oai: openai.OpenAI, fw: fireworks.Fireworks, mock: MockServer
) -> None:
    a = oai.chat.completions.create(model=CHAT, messages=MESSAGES)
    b = fw.chat.completions.create(model=CHAT, messages=MESSAGES)
    assert b.choices[0].message.content == a.choices[0].message.content
    assert a.usage is not None and b.usage is not None
    assert b.usage.completion_tokens == a.usage.completion_tokens
    paths = [e["path"] for e in journal(mock)["entries"]]
    assert paths == ["/inference/v1/chat/completions", "/v1/chat/completions"]


def test_same_request_same_reply_different_request_different_reply(oai: openai.OpenAI) -> None:
    """Content is deterministic; the `id` is not: the API reference calls it "A unique
    identifier of the response", and the real API gives every response a fresh one."""
    first = oai.chat.completions.create(model=CHAT, messages=MESSAGES, seed=1)
    again = oai.chat.completions.create(model=CHAT, messages=MESSAGES, seed=1)
    other_seed = oai.chat.completions.create(model=CHAT, messages=MESSAGES, seed=2)
    assert first.choices[0].message.content == again.choices[0].message.content
    assert first.id != again.id
    assert other_seed.choices[0].message.content != first.choices[0].message.content


def test_normalisation_string_content_equals_one_text_part(oai: openai.OpenAI) -> None:
    as_string = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "hello there"}]
    )
    as_parts = oai.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
    )
    assert as_string.choices[0].message.content == as_parts.choices[0].message.content


def test_reply_is_the_same_in_another_process(oai: openai.OpenAI) -> None:
    """The hash and the generator do not depend on the process (PYTHONHASHSEED, start time)."""
    here = oai.chat.completions.create(model=CHAT, messages=MESSAGES).choices[0].message.content
    code = (
        "import json, sys\n"
        "from devenv.mocks.fireworks import replies, validation\n"
        "from devenv.mocks.fireworks.models import Catalog, default_models\n"
        "req = validation.chat_request(json.loads(sys.argv[1]), Catalog(default_models()),"
        " validation.Limits())\n"
        "print(replies.choices(req, None)[0].content)\n"
    )
    body = json.dumps({"model": CHAT, "messages": MESSAGES})
    out = subprocess.run(
        [sys.executable, "-c", code, body],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == here


def test_stream_sync_role_content_final_usage_done(oai: openai.OpenAI, http: httpx.Client) -> None:
    whole = oai.chat.completions.create(model=CHAT, messages=MESSAGES)
    chunks = list(oai.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    # On the wire: data-only SSE ending in [DONE].
    raw = http.post(
        "/inference/v1/chat/completions", json={"model": CHAT, "messages": MESSAGES, "stream": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = [line for line in raw.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert "event:" not in raw.text


def test_stream_fireworks_sdk(fw: fireworks.Fireworks, oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.create(model=CHAT, messages=MESSAGES)
    stream = fw.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == whole.choices[0].message.content


def test_async_clients_plain_and_streaming(mock: MockServer) -> None:
    async def run() -> tuple[str, str, str]:
        async with openai.AsyncOpenAI(base_url=mock.url + "/inference/v1", api_key=KEY) as oa:
            plain = await oa.chat.completions.create(model=CHAT, messages=MESSAGES)
            stream = await oa.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
            streamed = "".join(
                [c.choices[0].delta.content or "" async for c in stream if c.choices]
            )
        async with fireworks.AsyncFireworks(base_url=mock.url, api_key=KEY) as fa:
            fstream = await fa.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
            fstreamed = "".join(
                [c.choices[0].delta.content or "" async for c in fstream if c.choices]
            )
        return plain.choices[0].message.content or "", streamed, fstreamed

    plain, streamed, fstreamed = asyncio.run(run())
    assert plain and plain == streamed == fstreamed


def test_async_concurrent_requests_are_all_answered(mock: MockServer) -> None:
    async def run() -> list[str]:
        async with openai.AsyncOpenAI(base_url=mock.url + "/inference/v1", api_key=KEY) as oa:
            replies = await asyncio.gather(
                *(
                    oa.chat.completions.create(
                        model=CHAT, messages=[{"role": "user", "content": f"question {i}"}]
                    )
                    for i in range(40)
                )
            )
        return [r.choices[0].message.content or "" for r in replies]

    answers = asyncio.run(run())
    assert len(answers) == 40 and all(answers)
    assert len(set(answers)) > 30  # different questions, (almost always) different answers


def test_stream_timing_ttft_and_chunk_delay(oai: openai.OpenAI, http: httpx.Client) -> None:
    import time

    http.post("/__devenv/config", json={"ttft_ms": 150, "chunk_delay_ms": 5}).raise_for_status()
    t0 = time.perf_counter()
    stream = oai.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
    first = next(iter(stream))
    t_first = time.perf_counter() - t0
    rest = list(stream)
    t_all = time.perf_counter() - t0
    assert first.choices[0].delta.role == "assistant"
    assert t_first >= 0.15
    assert t_all >= 0.15 + 0.005 * (len(rest) - 1)
    # Per request, by header, overriding the run-time setting.
    t0 = time.perf_counter()
    list(
        oai.chat.completions.create(
            model=CHAT,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-devenv-ttft-ms": "0", "x-devenv-chunk-delay-ms": "0"},
        )
    )
    assert time.perf_counter() - t0 < 0.15


def test_n_choices_and_stream_indexes(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(model=CHAT, messages=MESSAGES, n=3)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert len({c.message.content for c in reply.choices}) == 3
    chunks = list(oai.chat.completions.create(model=CHAT, messages=MESSAGES, n=3, stream=True))
    texts = {0: "", 1: "", 2: ""}
    for chunk in chunks:
        for c in chunk.choices:
            texts[c.index] += c.delta.content or ""
    assert [texts[i] for i in range(3)] == [c.message.content for c in reply.choices]


def test_max_tokens_cuts_with_length_and_stop_sequences(oai: openai.OpenAI) -> None:
    full = oai.chat.completions.create(model=CHAT, messages=MESSAGES)
    text = full.choices[0].message.content or ""
    cut = oai.chat.completions.create(model=CHAT, messages=MESSAGES, max_tokens=3)
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None and cut.usage.completion_tokens == 3
    # The same request with the newer spelling is the same request.
    cut2 = oai.chat.completions.create(model=CHAT, messages=MESSAGES, max_completion_tokens=3)
    assert cut2.choices[0].message.content == cut.choices[0].message.content
    word = text.split()[2]
    stopped = oai.chat.completions.create(model=CHAT, messages=MESSAGES, stop=[word])
    content = stopped.choices[0].message.content or ""
    assert word not in content and stopped.choices[0].finish_reason == "stop"


SCHEMA = {
    "type": "object",
    "properties": {
        "machine": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "parts": {"type": "array", "items": {"$ref": "#/$defs/part"}, "minItems": 2},
        "status": {"enum": ["ok", "worn", "broken"]},
        "serviced": {"type": "string", "format": "date"},
        "count": {"type": "integer", "minimum": 5, "maximum": 9},
        "notes": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 12}]},
    },
    "required": ["machine", "confidence", "parts", "status"],
    "additionalProperties": False,
    "$defs": {
        "part": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
            "required": ["name", "qty"],
        }
    },
}


@pytest.mark.parametrize(
    "response_format",
    [
        {
            "type": "json_schema",
            "json_schema": {"name": "machine", "schema": SCHEMA, "strict": True},
        },
        {"type": "json_object", "schema": SCHEMA},
    ],
    ids=["openai-json_schema", "fireworks-json_object-schema"],
)
def test_json_schema_reply_is_valid_against_the_schema(
    oai: openai.OpenAI, response_format: Any
) -> None:
    for question in ("pump", "fan", "motor", "valve"):
        reply = oai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": f"Describe the {question} as JSON."}],
            response_format=response_format,
        )
        obj = json.loads(reply.choices[0].message.content or "")
        jsonschema.validate(obj, SCHEMA)


def test_json_object_without_schema_is_json(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=CHAT, messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


WEATHER_TOOL: Wire = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME_TOOL: Wire = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"tz": {"type": "string"}},
            "required": ["tz"],
        },
    },
}


def test_tools_give_a_well_formed_call_then_text_after_the_result(oai: openai.OpenAI) -> None:
    messages: list[Wire] = [{"role": "user", "content": "Use get_time for Paris please"}]
    reply = oai.chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER_TOOL, TIME_TOOL]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = function_call(choice.message)
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_time"  # named in the message
    jsonschema.validate(json.loads(call.function.arguments), TIME_TOOL["function"]["parameters"])
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "14:00"},
    ]
    final = oai.chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER_TOOL, TIME_TOOL]
    )
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content


def test_tool_choice_forces_a_function_and_none_forbids(oai: openai.OpenAI) -> None:
    forced = oai.chat.completions.create(
        model=CHAT,
        messages=MESSAGES,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    args = json.loads(function_call(forced.choices[0].message).function.arguments)
    jsonschema.validate(args, WEATHER_TOOL["function"]["parameters"])
    none = oai.chat.completions.create(
        model=CHAT, messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content


def test_streamed_tool_call_reassembles(oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.create(model=CHAT, messages=MESSAGES, tools=[WEATHER_TOOL])
    expected = function_call(whole.choices[0].message)
    name, args, call_id = "", "", ""
    last = None
    for chunk in oai.chat.completions.create(
        model=CHAT, messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
    ):
        for c in chunk.choices:
            last = c.finish_reason or last
            for tc in c.delta.tool_calls or ():
                call_id = tc.id or call_id
                name += tc.function.name or "" if tc.function else ""
                args += tc.function.arguments or "" if tc.function else ""
    assert (call_id, name, args) == (
        expected.id,
        expected.function.name,
        expected.function.arguments,
    )
    assert last == "tool_calls"


def test_vision_model_with_inline_and_https_images(oai: openai.OpenAI, mock: MockServer) -> None:
    image = data_url(png())
    reply = oai.chat.completions.create(
        model=VISION,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these images?"},
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            }
        ],
    )
    assert reply.choices[0].message.content
    assert (
        reply.usage is not None and reply.usage.prompt_tokens > 2 * 256
    )  # images cost prompt tokens
    body = journal(mock)["entries"][-1]["body"]
    url = body["messages"][0]["content"][1]["image_url"]["url"]
    # The journal keeps the image's hash, not megabytes of base64.
    assert url.startswith("data:image/png;sha256=") and len(url) < 100
    # A different image is a different request.
    other = oai.chat.completions.create(
        model=VISION,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these images?"},
                    {"type": "image_url", "image_url": {"url": data_url(png(rgb=(0, 0, 0)))}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            }
        ],
    )
    assert other.choices[0].message.content != reply.choices[0].message.content


def test_completions_endpoint_plain_echo_and_stream(
    oai: openai.OpenAI, fw: fireworks.Fireworks
) -> None:
    reply = oai.completions.create(model=CHAT, prompt="Once upon a time", max_tokens=8)
    assert reply.object == "text_completion"
    text = reply.choices[0].text
    assert text and reply.usage is not None and reply.usage.completion_tokens <= 8
    echoed = oai.completions.create(model=CHAT, prompt="Once upon a time", max_tokens=8, echo=True)
    assert echoed.choices[0].text == "Once upon a time" + text
    streamed = "".join(
        c.choices[0].text
        for c in oai.completions.create(
            model=CHAT, prompt="Once upon a time", max_tokens=8, stream=True
        )
        if c.choices
    )
    assert streamed == text
    via_fw = fw.completions.create(model=CHAT, prompt="Once upon a time", max_tokens=8)
    assert via_fw.choices[0].text == text
    batch = oai.completions.create(model=CHAT, prompt=["a", "b"], n=2)
    assert [c.index for c in batch.choices] == [0, 1, 2, 3]


def test_embeddings_float_and_base64_are_the_same_unit_vectors(
    oai: openai.OpenAI, http: httpx.Client
) -> None:
    import math

    # The openai SDK asks for base64 and decodes it; ask for floats directly too.
    via_sdk = oai.embeddings.create(model="nomic-ai/nomic-embed-text-v1.5", input=["pump", "fan"])
    raw = http.post(
        "/v1/embeddings",
        json={
            "model": "nomic-ai/nomic-embed-text-v1.5",
            "input": ["pump", "fan"],
            "encoding_format": "float",
        },
    ).json()
    a = via_sdk.data[0].embedding
    b = raw["data"][0]["embedding"]
    assert len(a) == len(b) == 768
    assert all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))
    assert abs(math.sqrt(sum(x * x for x in a)) - 1) < 1e-5
    assert via_sdk.data[1].embedding != a
    # The same text embeds the same alone and in a batch; dimensions shortens.
    alone = oai.embeddings.create(
        model="nomic-ai/nomic-embed-text-v1.5", input="fan", dimensions=64
    )
    assert len(alone.data[0].embedding) == 64
    assert via_sdk.usage.prompt_tokens == 2


def test_models_list_retrieve_and_fireworks_account_models(
    oai: openai.OpenAI, fw: fireworks.Fireworks
) -> None:
    ids = [m.id for m in oai.models.list()]
    assert CHAT in ids and VISION in ids
    assert "accounts/acme/models/machine-vision-ft" in ids  # from the fixture stub file
    assert oai.models.retrieve(VISION).id == VISION
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("accounts/fireworks/models/nope")
    names = [m.name for m in fw.models.list()]
    assert CHAT in names and all((n or "").startswith("accounts/fireworks/") for n in names)
    assert fw.models.get("llama-v3p1-8b-instruct").name == CHAT
