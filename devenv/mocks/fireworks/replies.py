"""Deterministic replies: the same normalised request gives the same answer, in any process.

Everything random here is drawn from ``random.Random`` seeded with a string derived from the
request's SHA-256 digest; string seeds are hashed with SHA-512 by ``random`` itself, so the
sequence does not depend on ``PYTHONHASHSEED`` or the process. Response bodies are built as
dicts and serialised with orjson by the app.
"""

from __future__ import annotations

import base64
import math
import random
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from devenv.mocks.fireworks.validation import EmbeddingRequest, GenRequest, Tool

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])")

_WORDS = [
    "the",
    "a",
    "pump",
    "valve",
    "motor",
    "bearing",
    "housing",
    "filter",
    "sensor",
    "panel",
    "unit",
    "model",
    "series",
    "serial",
    "label",
    "plate",
    "shows",
    "reads",
    "appears",
    "likely",
    "indicates",
    "consistent",
    "with",
    "industrial",
    "standard",
    "compact",
    "heavy",
    "duty",
    "rated",
    "input",
    "output",
    "pressure",
    "flow",
    "speed",
    "voltage",
    "phase",
    "frame",
    "mount",
    "assembly",
    "cover",
    "inlet",
    "outlet",
    "seal",
    "gasket",
    "bolt",
    "casing",
    "impeller",
    "shaft",
    "coupling",
    "gear",
    "drive",
    "belt",
    "fan",
    "blade",
    "grille",
    "vent",
    "display",
    "switch",
    "relay",
    "breaker",
    "cable",
    "connector",
    "terminal",
    "check",
    "inspect",
    "confirm",
    "replace",
    "adjust",
    "service",
    "clean",
    "tighten",
    "measure",
    "record",
    "note",
]

# Roughly what a chat template adds per message, and what an image costs in prompt tokens.
_PER_MESSAGE = 4
_PER_IMAGE = 256


def count_tokens(text: str) -> int:
    """An approximate tokenizer (words and punctuation): stable, cheap, close enough for usage."""
    return len(_TOKEN.findall(text))


def pieces(text: str) -> list[str]:
    """Split text into token-sized pieces whose concatenation is the text (for streaming)."""
    out = _PIECE.findall(text)
    rest = text[sum(map(len, out)) :]
    if rest:
        out.append(rest)
    return out


def response_id(digest: str) -> str:
    return str(uuid.UUID(digest[:32]))


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(slots=True)
class Choice:
    index: int
    content: str | None
    tool_calls: list[ToolCall] | None
    finish_reason: str
    completion_tokens: int


@dataclass(slots=True)
class StubReply:
    """What a stub answers with (see :mod:`devenv.mocks.fireworks.stubs`)."""

    content: str | None = None
    tool_calls: list[tuple[str, str]] | None = None  # (name, JSON arguments)
    finish_reason: str | None = None


# --- text -------------------------------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    chosen = rng.choices(_WORDS, k=words)
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + "."


def generated_text(rng: random.Random) -> str:
    return " ".join(_sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(1, 3)))


def _limit(text: str, max_tokens: int | None, stop: list[str]) -> tuple[str, str, int]:
    """Apply stop sequences, then the token limit. Returns (text, finish_reason, tokens)."""
    finish = "stop"
    if stop:
        cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
    tokens = count_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        for k, m in enumerate(_TOKEN.finditer(text)):
            if k == max_tokens:
                return text[: m.start()].rstrip(), "length", max_tokens
    return text, finish, tokens


# --- JSON Schema instances --------------------------------------------------------------------


class _Gen:
    """Builds an instance valid against a JSON Schema (the subset structured output supports:
    types, properties/required, items, enum/const, anyOf/oneOf/allOf, $ref, numeric and length
    bounds, common string formats)."""

    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def value(self, schema: Any, name: str = "value", depth: int = 0) -> Any:
        if schema is True or not isinstance(schema, dict):
            return self._string({}, name)
        if depth > 12:
            return None
        if "$ref" in schema:
            merged = {
                **self._resolve(schema["$ref"]),
                **{k: v for k, v in schema.items() if k != "$ref"},
            }
            return self.value(merged, name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                options = [
                    o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")
                ]
                base = {k: v for k, v in schema.items() if k != key}
                return self.value({**base, **(options or schema[key])[0]}, name, depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for sub in schema["allOf"]:
                if isinstance(sub, dict):
                    sub = self._resolve(sub["$ref"]) if "$ref" in sub else sub
                    props = {**merged.get("properties", {}), **sub.get("properties", {})}
                    required = [*merged.get("required", []), *sub.get("required", [])]
                    merged = {**merged, **sub, "properties": props, "required": required}
            return self.value(merged, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            if "properties" in schema:
                kind = "object"
            elif "items" in schema:
                kind = "array"
            else:
                kind = "string"
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        out = {key: self.value(sub, key, depth + 1) for key, sub in props.items()}
        for key in schema.get("required") or ():
            if key not in out:
                extra = schema.get("additionalProperties")
                out[key] = self.value(extra if isinstance(extra, dict) else {}, key, depth + 1)
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        lo = int(schema.get("minItems", 1))
        hi = int(schema.get("maxItems", max(lo, 3)))
        count = self.rng.randint(lo, max(lo, min(hi, lo + 2)))
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        out = [self.value(p, name, depth + 1) for p in prefix[:count]]
        while len(out) < count:
            value = self.value(items, name, depth + 1)
            if schema.get("uniqueItems") and value in out:
                value = self._unique(items, name, out, depth)
                if value is _MISSING:
                    break
            out.append(value)
        return out

    def _unique(self, items: Any, name: str, seen: list[Any], depth: int) -> Any:
        for _ in range(20):
            value = self.value(items, name, depth + 1)
            if value not in seen:
                return value
        return _MISSING

    def _integer(self, schema: dict[str, Any]) -> int:
        lo = schema.get("minimum", 0)
        hi = schema.get("maximum", max(lo, 0) + 100)
        if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
            lo = max(lo, math.floor(schema["exclusiveMinimum"]) + 1)
        if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
            hi = min(hi, math.ceil(schema["exclusiveMaximum"]) - 1)
        lo, hi = math.ceil(lo), math.floor(hi)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first = -(-lo // step) * step
            return int(first + step * self.rng.randint(0, max(0, (hi - first) // step)))
        return self.rng.randint(lo, max(lo, hi))

    def _number(self, schema: dict[str, Any]) -> float | int:
        if "multipleOf" in schema:
            return self._integer({**schema, "multipleOf": schema["multipleOf"]})
        lo = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
        hi = float(schema.get("maximum", schema.get("exclusiveMaximum", lo + 1.0)))
        value = round(lo + (hi - lo) * (0.05 + 0.9 * self.rng.random()), 4)
        return min(max(value, lo), hi)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        r = self.rng
        if fmt == "date-time":
            day = f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
            value = f"{day}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00Z"
        elif fmt == "date":
            value = f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        elif fmt == "time":
            value = f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00"
        elif fmt == "email":
            value = f"{r.choice(_WORDS)}.{r.choice(_WORDS)}@example.com"
        elif fmt in ("uri", "url"):
            value = f"https://example.com/{r.choice(_WORDS)}/{r.randint(1, 999)}"
        elif fmt == "uuid":
            value = str(uuid.UUID(int=r.getrandbits(128), version=4))
        elif fmt in ("ipv4",):
            value = f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        else:
            words = [r.choice(_WORDS) for _ in range(r.randint(1, 3))]
            value = " ".join(words) if name == "value" else f"{name} {' '.join(words)}"
        lo = int(schema.get("minLength", 0))
        hi = schema.get("maxLength")
        while len(value) < lo:
            value += " " + r.choice(_WORDS)
        if isinstance(hi, int):
            value = value[:hi]
        return value


_MISSING = object()


def schema_instance(schema: dict[str, Any], seed: str) -> Any:
    return _Gen(schema, random.Random(seed)).value(schema)


def _json_text(schema: dict[str, Any] | None, seed: str) -> str:
    if schema is None:
        rng = random.Random(seed)
        obj: Any = {"answer": generated_text(rng), "confidence": round(rng.random(), 4)}
    else:
        obj = schema_instance(schema, seed)
    return orjson.dumps(obj).decode()


# --- tool calls -------------------------------------------------------------------------------


def _pick_tool(req: GenRequest) -> Tool | None:
    if not req.tools or req.tool_choice == "none":
        return None
    if isinstance(req.tool_choice, dict):
        name = req.tool_choice["function"]["name"]
        return next(t for t in req.tools if t.name == name)
    # "auto" answers the tool's result in text, so a call -> result -> answer loop ends.
    if req.tool_choice == "auto" and req.last_role == "tool":
        return None
    text = req.text.lower()
    return next((t for t in req.tools if t.name.lower() in text), req.tools[0])


def _call_id(seed: str) -> str:
    return "call_" + random.Random(seed + ":id").getrandbits(96).to_bytes(12, "big").hex()


# --- choices ----------------------------------------------------------------------------------


def choices(req: GenRequest, stub: StubReply | None) -> list[Choice]:
    out: list[Choice] = []
    prompts = req.prompts or [req.text]
    count = req.n * (len(prompts) if req.endpoint == "completions" else 1)
    for index in range(count):
        seed = f"{req.digest}:{index}"
        calls: list[ToolCall] | None = None
        content: str | None
        finish = "stop"
        tokens = 0
        if stub is not None and stub.tool_calls:
            calls = [
                ToolCall(_call_id(f"{seed}:{k}"), n, a) for k, (n, a) in enumerate(stub.tool_calls)
            ]
            content, finish = stub.content, "tool_calls"
        elif stub is not None:
            content, finish, tokens = _limit(stub.content or "", req.max_tokens, req.stop)
        else:
            tool = _pick_tool(req) if req.endpoint == "chat.completions" else None
            if tool is not None:
                args = orjson.dumps(schema_instance(tool.parameters, seed)).decode()
                calls = [ToolCall(_call_id(seed), tool.name, args)]
                content, finish = None, "tool_calls"
            elif req.json_mode:
                content, finish, tokens = _limit(_json_text(req.schema, seed), req.max_tokens, [])
            else:
                text = generated_text(random.Random(seed))
                if req.endpoint == "completions":
                    text = " " + text  # a continuation of the prompt
                content, finish, tokens = _limit(text, req.max_tokens, req.stop)
        if stub is not None and stub.finish_reason:
            finish = stub.finish_reason
        if calls:
            tokens = count_tokens(content or "") + sum(count_tokens(c.arguments) + 1 for c in calls)
        out.append(Choice(index, content, calls, finish, tokens))
    return out


def prompt_tokens(req: GenRequest) -> int:
    tokens = count_tokens(req.all_text) + _PER_IMAGE * len(req.images)
    if req.endpoint == "chat.completions":
        tokens += _PER_MESSAGE * len(req.normalised["messages"])
        for tool in req.tools:
            tokens += count_tokens(tool.name + " " + tool.description) + count_tokens(
                orjson.dumps(tool.parameters).decode()
            )
    return max(tokens, 1)


def usage(req: GenRequest, chs: list[Choice]) -> dict[str, int]:
    p = prompt_tokens(req)
    c = sum(ch.completion_tokens for ch in chs)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def chat_body(req: GenRequest, chs: list[Choice], created: int) -> dict[str, Any]:
    return {
        "id": response_id(req.digest),
        "object": "chat.completion",
        "created": created,
        "model": req.model.id,
        "choices": [
            {
                "index": ch.index,
                "message": {
                    "role": "assistant",
                    "content": ch.content,
                    **(
                        {"tool_calls": [c.as_dict() for c in ch.tool_calls]}
                        if ch.tool_calls
                        else {}
                    ),
                },
                "finish_reason": ch.finish_reason,
                "logprobs": None,
            }
            for ch in chs
        ],
        "usage": usage(req, chs),
    }


def completion_body(req: GenRequest, chs: list[Choice], created: int) -> dict[str, Any]:
    prompts = req.prompts
    return {
        "id": response_id(req.digest),
        "object": "text_completion",
        "created": created,
        "model": req.model.id,
        "choices": [
            {
                "index": ch.index,
                "text": (prompts[ch.index // req.n] if req.echo else "") + (ch.content or ""),
                "finish_reason": ch.finish_reason,
                "logprobs": None,
            }
            for ch in chs
        ],
        "usage": usage(req, chs),
    }


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def chat_stream(req: GenRequest, chs: list[Choice], created: int) -> list[bytes]:
    """Data-only SSE events: a role chunk, content (or tool-call) chunks, a final chunk per choice
    with finish_reason, usage on the last one; the caller appends ``[DONE]``."""
    head = {
        "id": response_id(req.digest),
        "object": "chat.completion.chunk",
        "created": created,
        "model": req.model.id,
    }

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **head,
            "choices": [
                {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
            ],
        }

    events: list[bytes] = []
    for ch in chs:
        events.append(
            _event(chunk(ch.index, {"role": "assistant", "content": None if ch.tool_calls else ""}))
        )
        if ch.content:
            events.extend(_event(chunk(ch.index, {"content": p})) for p in pieces(ch.content))
        for k, call in enumerate(ch.tool_calls or ()):
            first = {
                "index": k,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(_event(chunk(ch.index, {"tool_calls": [first]})))
            events.extend(
                _event(
                    chunk(ch.index, {"tool_calls": [{"index": k, "function": {"arguments": p}}]})
                )
                for p in pieces(call.arguments)
            )
    for n, ch in enumerate(chs):
        final = chunk(ch.index, {}, ch.finish_reason)
        if n == len(chs) - 1:
            final["usage"] = usage(req, chs)
        events.append(_event(final))
    return events


def completion_stream(req: GenRequest, chs: list[Choice], created: int) -> list[bytes]:
    head = {
        "id": response_id(req.digest),
        "object": "text_completion",
        "created": created,
        "model": req.model.id,
    }

    def chunk(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
        return {
            **head,
            "choices": [{"index": index, "text": text, "finish_reason": finish, "logprobs": None}],
        }

    events: list[bytes] = []
    for ch in chs:
        if req.echo:
            events.append(_event(chunk(ch.index, req.prompts[ch.index // req.n])))
        events.extend(_event(chunk(ch.index, p)) for p in pieces(ch.content or ""))
    for n, ch in enumerate(chs):
        final = chunk(ch.index, "", ch.finish_reason)
        if n == len(chs) - 1:
            final["usage"] = usage(req, chs)
        events.append(_event(final))
    return events


# --- embeddings -------------------------------------------------------------------------------


def embedding_vector(model: str, dims: int, text: str) -> list[float]:
    """A unit vector that depends only on (model, text): the same text embeds the same in any
    batch, and the truncation to ``dims`` is re-normalised as Matryoshka models do."""
    rng = random.Random(f"{model}\x00{text}")
    vec = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def embedding_body(req: EmbeddingRequest) -> dict[str, Any]:
    data = []
    for i, text in enumerate(req.inputs):
        vec = embedding_vector(req.model.id, req.dimensions, text)
        emb: Any = vec
        if req.encoding_format == "base64":
            emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = sum(count_tokens(t) for t in req.inputs)
    return {
        "object": "list",
        "model": req.model.id,
        "data": data,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
