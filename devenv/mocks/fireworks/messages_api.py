"""The Anthropic-compatible Messages API (``POST /v1/messages``), as Fireworks serves it.

A Messages request is translated into the chat-completions request it means (system prompt,
content blocks, tool_use/tool_result turns, tools, tool_choice, thinking, stop_sequences) and
validated, matched against stubs, faulted and journaled exactly like one, so replies are the
same deterministic content in Anthropic's shape: content blocks (``thinking``, ``text``,
``tool_use``), ``stop_reason`` and ``usage``; streaming as Anthropic's named SSE events
(``message_start``, ``content_block_start``/``_delta``/``_stop``, ``message_delta``,
``message_stop``). Errors use Anthropic's body, ``{"type": "error", "error": {...}}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from devenv.mocks.fireworks import replies, wire
from devenv.mocks.fireworks.apierrors import ApiError, bad_request, reject_unknown_fields
from devenv.mocks.fireworks.validation import GenRequest

FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "metadata",
        "output_config",
        "raw_output",
        "stop_sequences",
        "stream",
        "system",
        "temperature",
        "thinking",
        "tool_choice",
        "tools",
        "top_k",
        "top_p",
    }
)
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def error_body(exc: ApiError) -> dict[str, Any]:
    """Anthropic's error shape (what its SDK parses); the param, when known, leads the message."""
    message = exc.message
    if exc.status == 400 and exc.param is not None:
        message = f"{exc.param}: {message}"  # Anthropic names the field at the start
    kind = {
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
        503: "overloaded_error",
    }.get(exc.status, "api_error" if exc.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _text_blocks(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        out = []
        for i, block in enumerate(value):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise bad_request(f"'{where}[{i}]' must be a text block", f"{where}[{i}]")
            if not isinstance(block.get("text"), str):
                raise bad_request(f"'{where}[{i}].text' must be a string", f"{where}[{i}].text")
            out.append(block["text"])
        return "\n".join(out)
    raise bad_request(f"'{where}' must be a string or an array of text blocks", where)


def _image(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad_request(f"'{where}.source' is required", f"{where}.source")
    if source.get("type") == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise bad_request(
                f"'{where}.source' needs media_type and data for base64 images", f"{where}.source"
            )
        url = f"data:{media};base64,{data}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise bad_request(f"'{where}.source.type' must be base64 or url", f"{where}.source.type")
    return {"type": "image_url", "image_url": {"url": url}}


def _turns(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array", "messages")
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        p = f"messages[{i}]"
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise bad_request(f"'{p}.role' must be user or assistant", f"{p}.role")
        role, content = msg["role"], msg.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
            continue
        if not isinstance(content, list):
            raise bad_request(
                f"'{p}.content' must be a string or an array of blocks", f"{p}.content"
            )
        parts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for j, block in enumerate(content):
            bp = f"{p}.content[{j}]"
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                parts.append({"type": "text", "text": _text_blocks([block], f"{p}.content")})
            elif kind == "image" and role == "user":
                parts.append(_image(block, bp))
            elif kind == "tool_use" and role == "assistant":
                if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                    raise bad_request(f"'{bp}' needs id and name", bp)
                calls.append(
                    {
                        "id": block["id"],
                        "type": "function",
                        "function": {
                            "name": block["name"],
                            "arguments": orjson.dumps(block.get("input") or {}).decode(),
                        },
                    }
                )
            elif kind == "tool_result" and role == "user":
                if not isinstance(block.get("tool_use_id"), str):
                    raise bad_request(f"'{bp}.tool_use_id' is required", f"{bp}.tool_use_id")
                result = block.get("content", "")
                text = result if isinstance(result, str) else _text_blocks(result, f"{bp}.content")
                out.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": text})
            elif kind in ("thinking", "redacted_thinking") and role == "assistant":
                continue  # earlier reasoning is not part of the prompt
            else:
                raise bad_request(
                    f"'{bp}.type' {kind!r} is not allowed in a {role} message", f"{bp}.type"
                )
        if parts or calls:
            turn: dict[str, Any] = {"role": role, "content": parts or None}
            if calls:
                turn["tool_calls"] = calls
            out.append(turn)
    return out


def to_chat(body: Any) -> dict[str, Any]:
    """The chat-completions body a Messages request means (validated further as one)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object", None)
    reject_unknown_fields(body, FIELDS)
    if body.get("max_tokens") is None:
        raise bad_request("'max_tokens' is required", "max_tokens")
    chat: dict[str, Any] = {"model": body.get("model"), "max_tokens": body["max_tokens"]}
    messages = _turns(body.get("messages"))
    if body.get("system") is not None:
        messages.insert(0, {"role": "system", "content": _text_blocks(body["system"], "system")})
    chat["messages"] = messages
    for key in ("temperature", "top_p", "top_k", "stream", "raw_output", "thinking"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("stop_sequences") is not None:
        chat["stop"] = body["stop_sequences"]
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request("'tools' must be an array", "tools")
        converted = []
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise bad_request(f"'tools[{i}].name' is required", f"tools[{i}].name")
            fn = {"name": tool["name"], "parameters": tool.get("input_schema") or {}}
            if tool.get("description") is not None:
                fn["description"] = tool["description"]
            converted.append({"type": "function", "function": fn})
        chat["tools"] = converted
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind == "tool":
            chat["tool_choice"] = {"type": "function", "name": choice.get("name")}
        elif kind in ("auto", "none"):
            chat["tool_choice"] = kind
        elif kind == "any":
            chat["tool_choice"] = "required"
        else:
            raise bad_request(
                "'tool_choice.type' must be auto, any, tool or none", "tool_choice.type"
            )
    return chat


def _split_think(text: str | None) -> tuple[str | None, str | None]:
    """Models that reason inside `<think>` get a thinking block here, as the layer parses it."""
    if text and text.startswith("<think>\n"):
        thought, sep, rest = text[len("<think>\n") :].partition("\n</think>\n\n")
        if sep:
            return thought, rest
        return thought, None
    return None, text


def _blocks(ch: replies.Choice) -> list[dict[str, Any]]:
    thought, text = _split_think(ch.content)
    thought = ch.reasoning or thought
    blocks: list[dict[str, Any]] = []
    if thought:
        blocks.append({"type": "thinking", "thinking": thought, "signature": ""})
    if text:
        blocks.append({"type": "text", "text": text})
    for call in ch.tool_calls or ():
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_" + call.id.removeprefix("call_"),
                "name": call.name,
                "input": orjson.loads(call.arguments),
            }
        )
    return blocks


def _usage(req: GenRequest, ch: replies.Choice) -> dict[str, int]:
    return {"input_tokens": req.prompt_tokens, "output_tokens": ch.completion_tokens}


def body(
    req: GenRequest, chs: list[replies.Choice], created: int, perf: dict[str, Any] | None = None
) -> dict[str, Any]:
    ch = chs[0]
    out: dict[str, Any] = {
        "id": "msg_" + replies.fresh_id().replace("-", ""),
        "type": "message",
        "role": "assistant",
        "model": req.model.id,
        "content": _blocks(ch),
        "stop_reason": _STOP.get(ch.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": _usage(req, ch),
    }
    if req.raw_output:
        out["raw_output"] = wire.raw_output(ch, req)
    return out


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def stream(
    req: GenRequest, chs: list[replies.Choice], created: int, perf: dict[str, Any] | None = None
) -> list[bytes]:
    """Anthropic's streaming events, one content block at a time."""
    ch = chs[0]
    message = body(req, chs, created)
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": req.prompt_tokens, "output_tokens": 1},
    }
    start.pop("raw_output", None)
    events = [_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            empty: dict[str, Any] = {"type": "text", "text": ""}
        elif kind == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            empty = {**block, "input": {}}
        events.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
        )
        if kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in replies.pieces(block["text"])]
        elif kind == "thinking":
            deltas = [
                {"type": "thinking_delta", "thinking": p} for p in replies.pieces(block["thinking"])
            ]
            deltas.append({"type": "signature_delta", "signature": ""})
        else:
            arguments = orjson.dumps(block["input"]).decode()
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in replies.pieces(arguments)
            ]
        events.extend(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": d},
            )
            for d in deltas
        )
        events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": ch.completion_tokens},
            },
        )
    )
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events
