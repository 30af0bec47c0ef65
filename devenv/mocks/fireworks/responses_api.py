"""The OpenAI Responses API (``POST /v1/responses``, ``GET /v1/responses/{id}``), as Fireworks
serves it.

A Responses request (``input`` as text or items, ``instructions``, function tools,
``text.format``, ``reasoning.effort``, ``max_output_tokens``) is translated into the
chat-completions request it means and validated, stub-matched, faulted and journaled exactly
like one, so the reply is the same deterministic content as Responses output items
(``reasoning``, ``message`` with ``output_text``, ``function_call``). Responses are stored
(``store`` defaults to true, as on Fireworks) in a bounded in-memory store, so
``previous_response_id`` continues a conversation and ``GET /v1/responses/{id}`` returns it.
Streaming uses the Responses event sequence (``response.created`` ... ``response.completed``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from devenv.mocks.fireworks import replies
from devenv.mocks.fireworks.apierrors import ApiError, bad_request, reject_unknown_fields
from devenv.mocks.fireworks.validation import GenRequest

FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt_cache_key",
        "reasoning",
        "service_tier",
        "store",
        "stream",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_p",
        "truncation",
        "user",
        "include",
    }
)


class ResponseStore:
    """The stored responses, oldest dropped first past ``size`` (memory stays bounded)."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = OrderedDict()

    def put(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        self._items[response["id"]] = (response, conversation)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, response_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        return self._items.get(response_id)

    def clear(self) -> None:
        self._items.clear()


def not_found(response_id: str) -> ApiError:
    return ApiError(
        404, f"Response with id '{response_id}' not found.", param="response_id", code="NOT_FOUND"
    )


def _content(value: Any, where: str, role: str) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise bad_request(f"'{where}' must be a string or an array of content parts", where)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(value):
        pp = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and role == "user":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise bad_request(f"'{pp}.image_url' is required", f"{pp}.image_url")
            image: dict[str, Any] = {"url": url}
            if part.get("detail") is not None:
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise bad_request(f"'{pp}.type' {kind!r} is not allowed here", f"{pp}.type")
    return parts


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise bad_request("'input' must be a string or a non-empty array of items", "input")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        p = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"'{p}' must be an object", p)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise bad_request(f"'{p}.role' must be user, assistant, system or developer", p)
            out.append(
                {
                    "role": "system" if role == "developer" else role,
                    "content": _content(item.get("content"), f"{p}.content", role),
                }
            )
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments", "")},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": output if isinstance(output, str) else orjson.dumps(output).decode(),
                }
            )
        elif kind == "reasoning":
            continue
        else:
            raise bad_request(f"'{p}.type' {kind!r} is not supported", f"{p}.type")
    return out


def to_chat(body: Any, store: ResponseStore) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the chat-completions body the request means, the conversation to store with it)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object", None)
    reject_unknown_fields(body, FIELDS)
    if body.get("input") is None:
        raise bad_request("'input' is required", "input")
    history: list[dict[str, Any]] = []
    previous = body.get("previous_response_id")
    if previous is not None:
        stored = store.get(previous) if isinstance(previous, str) else None
        if stored is None:
            raise not_found(str(previous))
        history = [m for m in stored[1] if m["role"] != "system"]
    conversation = [*history, *_items(body["input"])]
    messages = list(conversation)
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("'instructions' must be a string", "instructions")
        messages.insert(0, {"role": "system", "content": instructions})
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p", "stream", "parallel_tool_calls", "user"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("prompt_cache_key") is not None:
        chat["prompt_cache_key"] = body["prompt_cache_key"]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request("'tools' must be an array", "tools")
        converted = []
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise bad_request(
                    f"'tools[{i}].type': the mock runs function tools only (MCP and other "
                    "server-side tools need the real service)",
                    f"tools[{i}].type",
                )
            fn = {"name": tool.get("name"), "parameters": tool.get("parameters") or {}}
            if tool.get("description") is not None:
                fn["description"] = tool["description"]
            converted.append({"type": "function", "function": fn})
        chat["tools"] = converted
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = body["tool_choice"]
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            chat["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": fmt.get("name", "schema"), "schema": fmt.get("schema")},
            }
        elif fmt.get("type") in ("json_object", "text"):
            chat["response_format"] = {"type": fmt["type"]}
    return chat, conversation


def _think(ch: replies.Choice) -> tuple[str | None, str | None]:
    text = ch.content
    if ch.reasoning:
        return ch.reasoning, text
    if text and text.startswith("<think>\n"):
        thought, sep, rest = text[len("<think>\n") :].partition("\n</think>\n\n")
        return thought, rest if sep else None
    return None, text


def _output(ch: replies.Choice, done: bool = True) -> list[dict[str, Any]]:
    thought, text = _think(ch)
    status = "completed" if done else "in_progress"
    out: list[dict[str, Any]] = []
    base = replies.fresh_id().replace("-", "")
    if thought:
        out.append(
            {
                "type": "reasoning",
                "id": "rs_" + base,
                "summary": [],
                "content": [{"type": "reasoning_text", "text": thought}],
            }
        )
    if text or not ch.tool_calls:
        out.append(
            {
                "type": "message",
                "id": "msg_" + base,
                "status": status,
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text or "", "annotations": [], "logprobs": []}
                ],
            }
        )
    for k, call in enumerate(ch.tool_calls or ()):
        out.append(
            {
                "type": "function_call",
                "id": f"fc_{base}{k}",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "status": status,
            }
        )
    return out


def body(
    req: GenRequest,
    chs: list[replies.Choice],
    created: int,
    request: dict[str, Any],
) -> dict[str, Any]:
    ch = chs[0]
    thought, _ = _think(ch)
    reasoning_tokens = len(replies.pieces(thought)) if thought else 0
    incomplete = ch.finish_reason == "length"
    tools = request.get("tools") or []
    return {
        "id": "resp_" + replies.fresh_id().replace("-", ""),
        "object": "response",
        "created_at": created,
        "status": "incomplete" if incomplete else "completed",
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": req.model.id,
        "output": _output(ch),
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": tools,
        "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation", "disabled"),
        "usage": {
            "input_tokens": req.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": ch.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": req.prompt_tokens + ch.completion_tokens,
        },
        "metadata": request.get("metadata") or {},
        "user": request.get("user"),
    }


def assistant_turn(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The response's output as chat turns, for a later `previous_response_id`."""
    text = "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
    )
    calls = [
        {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]},
        }
        for item in response["output"]
        if item["type"] == "function_call"
    ]
    turn: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        turn["tool_calls"] = calls
    return [turn]


def stream(response: dict[str, Any]) -> list[bytes]:
    """The Responses event sequence for a finished response, each with its sequence_number."""
    events: list[bytes] = []

    def emit(kind: str, data: dict[str, Any]) -> None:
        data = {"type": kind, "sequence_number": len(events), **data}
        events.append(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n")

    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    emit("response.created", {"response": pending})
    emit("response.in_progress", {"response": pending})
    for index, item in enumerate(response["output"]):
        kind = item["type"]
        if kind == "message":
            emit(
                "response.output_item.added",
                {"output_index": index, "item": {**item, "status": "in_progress", "content": []}},
            )
            part = item["content"][0]
            emit(
                "response.content_part.added",
                {
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "part": {**part, "text": ""},
                },
            )
            for piece in replies.pieces(part["text"]):
                emit(
                    "response.output_text.delta",
                    {
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": piece,
                        "logprobs": [],
                    },
                )
            emit(
                "response.output_text.done",
                {
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "text": part["text"],
                    "logprobs": [],
                },
            )
            emit(
                "response.content_part.done",
                {"item_id": item["id"], "output_index": index, "content_index": 0, "part": part},
            )
        elif kind == "function_call":
            emit(
                "response.output_item.added",
                {
                    "output_index": index,
                    "item": {**item, "arguments": "", "status": "in_progress"},
                },
            )
            for piece in replies.pieces(item["arguments"]):
                emit(
                    "response.function_call_arguments.delta",
                    {"item_id": item["id"], "output_index": index, "delta": piece},
                )
            emit(
                "response.function_call_arguments.done",
                {"item_id": item["id"], "output_index": index, "arguments": item["arguments"]},
            )
        else:
            emit("response.output_item.added", {"output_index": index, "item": item})
        emit("response.output_item.done", {"output_index": index, "item": item})
    final = "response.completed" if response["status"] == "completed" else "response.incomplete"
    emit(final, {"response": response})
    return events
