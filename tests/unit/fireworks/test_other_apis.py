"""The other API shapes Fireworks serves: the Anthropic-compatible Messages API (`POST
/v1/messages`, the fireworks-ai SDK's `client.messages`) and the OpenAI Responses API (`POST
/v1/responses`, the openai SDK's `client.responses`), with the same determinism, stubs, faults
and journal as chat completions. The fireworks-ai SDK's `messages.create` does not stream, so
Messages streaming is read as raw SSE here."""

from __future__ import annotations

import json
from typing import Any, cast

import fireworks
import httpx
import jsonschema
import openai
import pytest

from devenv.mocks.fireworks.server import MockServer
from tests.unit.fireworks.conftest import CHAT, KEY, Wire, journal

M = "accounts/fireworks/models/"
SYSTEM = "You identify machines."
QUESTION = "Describe a gearbox in one sentence."


def _sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """Named server-sent events: (event, data) pairs."""
    out = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


# --- Messages -----------------------------------------------------------------------------------


def test_messages_reply_is_the_chat_reply_in_anthropic_shape(
    fw: fireworks.Fireworks, mock: MockServer
) -> None:
    """Fireworks' Anthropic-compatible API: `content` blocks, `stop_reason` ("end_turn"),
    `role: assistant`, `type: message`. The content is the chat completion's for the same
    conversation (deterministic, one generator)."""
    reply = fw.messages.create(
        model=CHAT,
        max_tokens=60,
        system=SYSTEM,
        messages=[{"role": "user", "content": QUESTION}],
    )
    chat = fw.chat.completions.create(
        model=CHAT,
        max_tokens=60,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    )
    assert reply.type == "message" and reply.role == "assistant"
    assert reply.stop_reason == "end_turn" and reply.id.startswith("msg_")
    assert [b.type for b in reply.content] == ["text"]
    assert reply.content[0].text == chat.choices[0].message.content  # type: ignore[union-attr]
    usage = reply.model_extra["usage"]  # type: ignore[index]
    assert usage["input_tokens"] == chat.usage.prompt_tokens  # type: ignore[union-attr]
    again = fw.messages.create(
        model=CHAT,
        max_tokens=60,
        system=SYSTEM,
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert again.content == reply.content and again.id != reply.id
    paths = [e["path"] for e in journal(mock)["entries"]]
    assert paths == ["/v1/messages", "/v1/chat/completions", "/v1/messages"]


def test_messages_tool_use_round_trip_and_thinking(fw: fireworks.Fireworks) -> None:
    """Anthropic tools (`input_schema`, `tool_choice: {"type": "any"}`) give a `tool_use` block
    with `stop_reason: "tool_use"`; the `tool_result` turn gets a text answer. A reasoning model
    (GLM 4.5) adds a `thinking` block first."""
    tools: Wire = [
        {
            "name": "lookup_part",
            "description": "Find a spare part",
            "input_schema": {
                "type": "object",
                "properties": {"part": {"type": "string"}},
                "required": ["part"],
            },
        }
    ]
    question: Wire = [{"role": "user", "content": "Find the impeller."}]
    first = fw.messages.create(
        model=M + "glm-4p5",
        max_tokens=200,
        messages=question,
        tools=tools,
        tool_choice={"type": "any"},
    )
    assert first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    call = first.content[1]
    assert call.name == "lookup_part" and isinstance(call.input["part"], str)  # type: ignore[union-attr]
    answer = fw.messages.create(
        model=M + "glm-4p5",
        max_tokens=200,
        tools=tools,
        messages=[  # the first reply's blocks, sent back as JSON
            *question,
            {"role": "assistant", "content": [cast(Wire, b.model_dump()) for b in first.content]},
            {
                "role": "user",
                "content": [
                    cast(
                        Wire,
                        {
                            "type": "tool_result",
                            "tool_use_id": call.id,  # type: ignore[union-attr]
                            "content": "P-100 in stock",
                        },
                    )
                ],
            },
        ],
    )
    assert answer.stop_reason == "end_turn" and answer.content[-1].type == "text"


def test_messages_stream_events_rebuild_the_message(http: httpx.Client) -> None:
    """Anthropic streaming: `message_start`, per block `content_block_start` / `_delta` /
    `_stop`, `message_delta` with the stop_reason and usage, `message_stop`; no `[DONE]`."""
    body = {
        "model": M + "gpt-oss-120b",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    whole = http.post("/v1/messages", json=body).json()
    response = http.post("/v1/messages", json={**body, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in response.text
    events = _sse(response)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    rebuilt: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_delta":
            delta = data["delta"]
            rebuilt[data["index"]] = rebuilt.get(data["index"], "") + delta.get(
                "text", delta.get("thinking", "")
            )
    assert rebuilt == {i: b.get("text", b.get("thinking")) for i, b in enumerate(whole["content"])}
    assert events[-2][1]["delta"]["stop_reason"] == whole["stop_reason"]


def test_messages_stubs_faults_and_errors(
    fw: fireworks.Fireworks, http: httpx.Client, mock: MockServer
) -> None:
    """Stubs match a Messages request as they match the chat request it means; a scripted 429
    is retried by the SDK; errors use Anthropic's `{"type": "error", "error": {...}}` body."""
    stubbed = fw.messages.create(
        model=CHAT,
        max_tokens=50,
        messages=[{"role": "user", "content": "Which machine is this?"}],
        extra_headers={"x-devenv-fault": "429,ok"},
    )
    assert stubbed.content[0].text == "This is an Acme CP-200 centrifugal pump."  # type: ignore[union-attr]
    entries = journal(mock, path="/v1/messages")["entries"]
    assert [e["status"] for e in entries] == [429, 200]
    assert entries[1]["stub"] == "identify-by-description"
    missing = http.post(
        "/v1/messages", json={"model": CHAT, "messages": [{"role": "user", "content": "x"}]}
    )
    assert missing.status_code == 400
    assert missing.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens: 'max_tokens' is required",
        },
    }
    with pytest.raises(fireworks.NotFoundError):
        fw.messages.create(
            model="accounts/x/models/none",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
        )


# --- Responses ----------------------------------------------------------------------------------


def test_responses_create_is_the_chat_reply_as_output_items(
    oai: openai.OpenAI, fw: fireworks.Fireworks
) -> None:
    """Fireworks' Responses API guide (`client.responses.create` with the OpenAI SDK): an
    `output` message with `output_text`, `usage`, status "completed"; `instructions` act as
    the system prompt."""
    response = oai.responses.create(model=CHAT, instructions=SYSTEM, input=QUESTION)
    chat = fw.chat.completions.create(
        model=CHAT,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    )
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.output_text == chat.choices[0].message.content
    assert response.usage is not None and response.usage.input_tokens == chat.usage.prompt_tokens  # type: ignore[union-attr]


def test_responses_continue_with_previous_response_id_and_retrieve(oai: openai.OpenAI) -> None:
    """Responses guide: "Continue conversations: Maintain context across multiple turns without
    resending the entire history" (`previous_response_id`); responses are stored by default
    (`store=false` opts out) and can be retrieved."""
    first = oai.responses.create(model=CHAT, input="Name a pump part.")
    second = oai.responses.create(model=CHAT, input="And another?", previous_response_id=first.id)
    resent = oai.responses.create(
        model=CHAT,
        input=[
            {"role": "user", "content": "Name a pump part."},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "And another?"},
        ],
    )
    assert second.output_text == resent.output_text != first.output_text
    assert oai.responses.retrieve(first.id).output_text == first.output_text
    unstored = oai.responses.create(model=CHAT, input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model=CHAT, input="x", previous_response_id="resp_missing")


def test_responses_function_calls_and_json_schema(oai: openai.OpenAI) -> None:
    """Responses guide, function tools (client-executed): a `function_call` output item, answered
    with a `function_call_output` input item; `text.format` json_schema gives conforming JSON."""
    tools: Wire = [
        {
            "type": "function",
            "name": "get_part",
            "parameters": {
                "type": "object",
                "properties": {"part": {"type": "string"}},
                "required": ["part"],
            },
        }
    ]
    called = oai.responses.create(
        model=CHAT, input="Find the impeller.", tools=tools, tool_choice="required"
    )
    call = called.output[0]
    assert call.type == "function_call" and call.name == "get_part"
    assert "part" in json.loads(call.arguments)
    answered = oai.responses.create(
        model=CHAT,
        previous_response_id=called.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "in stock"}],
    )
    assert answered.output[0].type == "message" and answered.output_text
    schema = {
        "type": "object",
        "properties": {"make": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["make", "year"],
        "additionalProperties": False,
    }
    structured = oai.responses.create(
        model=CHAT,
        input="Which machine?",
        text={"format": {"type": "json_schema", "name": "machine", "schema": schema}},
    )
    jsonschema.validate(json.loads(structured.output_text), schema)


def test_responses_stream_events(oai: openai.OpenAI) -> None:
    """The Responses streaming sequence through the openai SDK: `response.created` ...
    `response.output_text.delta` ... `response.completed`, numbered; the deltas are the text;
    a reasoning model's reasoning comes as a `reasoning` output item first."""
    events = list(oai.responses.create(model=M + "gpt-oss-120b", input=QUESTION, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response  # type: ignore[union-attr]
    assert [item.type for item in final.output] == ["reasoning", "message"]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text
    whole = oai.responses.create(model=M + "gpt-oss-120b", input=QUESTION)
    assert whole.output_text == text


def test_responses_faults_and_unknown_fields(oai: openai.OpenAI, mock: MockServer) -> None:
    """Stubs and faults apply to `/v1/responses` as to chat (the SDK retries a 503); unknown fields
    get Fireworks' "Extra inputs are not permitted" answer."""
    reply = oai.responses.create(
        model=CHAT, input="Which machine is this?", extra_headers={"x-devenv-fault": "503,ok"}
    )
    assert reply.output_text == "This is an Acme CP-200 centrifugal pump."
    statuses = [e["status"] for e in journal(mock, path="/v1/responses")["entries"]]
    assert statuses == [503, 200]
    with pytest.raises(openai.BadRequestError) as exc:
        oai.responses.create(model=CHAT, input="x", extra_body={"max_tokens": 5})
    assert "Extra inputs are not permitted, field: 'max_tokens'" in str(exc.value)


def test_responses_answer_without_key_is_401(mock: MockServer) -> None:
    """Bearer auth as on every Fireworks endpoint, under both `/v1` and `/inference/v1`."""
    response = httpx.post(mock.url + "/v1/responses", json={"model": CHAT, "input": "x"})
    assert response.status_code == 401
    ok = httpx.post(
        mock.url + "/inference/v1/responses",
        json={"model": CHAT, "input": "x"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert ok.status_code == 200 and ok.json()["object"] == "response"
