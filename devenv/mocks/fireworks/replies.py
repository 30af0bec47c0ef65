"""Deterministic replies: the same normalised request gives the same content, in any process.

Content is drawn from the request's SHA-256 digest: generated text from SHAKE-256 bytes of a
seed derived from it (cheap, and independent of ``PYTHONHASHSEED`` and the process), structured
values (JSON Schema instances, grammar output, logprobs) from ``random.Random`` seeded with such
a string. Only the response ``id`` differs between two identical requests, as the real API gives
every response a fresh one. Response bodies are built as dicts and serialised by the app.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import os
import random
import re
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from devenv.mocks.fireworks.validation import (
    EmbeddingRequest,
    GenRequest,
    Tool,
    count_tokens,
)

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

_NWORDS = len(_WORDS)
_CAPS = [w.capitalize() for w in _WORDS]
_SPACED = [" " + w for w in _WORDS]
_SPACED_CAPS = [" " + w for w in _CAPS]
_BYTE_WORD = [_SPACED[i % _NWORDS] for i in range(256)]  # a hash byte -> a word, in C
# Token ids: a stable id per token text, in a vocabulary of a realistic size.
_VOCAB = 151_936
_SPECIAL = 151_643  # chat-template tokens (role markers) sit above the text vocabulary


def pieces(text: str) -> list[str]:
    """Split text into token-sized pieces whose concatenation is the text (for streaming)."""
    out = _PIECE.findall(text)
    rest = text[sum(map(len, out)) :]
    if rest:
        out.append(rest)
    return out


def token_id(piece: str) -> int:
    return zlib.crc32(piece.encode()) % _SPECIAL


# Response and request ids: unique per response (a random 128-bit base per process plus a
# counter), formatted as UUIDs like the real ones; far cheaper than uuid4() per response.
_ID_BASE = int.from_bytes(os.urandom(16), "big")
_ID_COUNTER = itertools.count()


def fresh_id() -> str:
    h = "%032x" % ((_ID_BASE + next(_ID_COUNTER)) & ((1 << 128) - 1))
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def request_id() -> bytes:
    return b"%032x" % ((_ID_BASE ^ (next(_ID_COUNTER) << 64)) & ((1 << 128) - 1))


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
    # The reasoning, for models that put it in `reasoning_content` (None otherwise; models that
    # emit `<think>` have it inside `content`).
    reasoning: str | None = None
    seed: str = ""
    # The content's token pieces when already known (generated text), else split on demand.
    content_pieces: list[str] | None = field(default=None, repr=False)

    def pieces(self) -> list[str]:
        if self.content_pieces is None:
            self.content_pieces = pieces(self.content or "")
        return self.content_pieces


@dataclass(slots=True)
class StubReply:
    """What a stub answers with (see :mod:`devenv.mocks.fireworks.stubs`)."""

    content: str | None = None
    tool_calls: list[tuple[str, str]] | None = None  # (name, JSON arguments)
    finish_reason: str | None = None


# --- text -------------------------------------------------------------------------------------


def generated_pieces(seed: str, sentences: tuple[int, int] = (1, 3)) -> list[str]:
    """Sentences of 6-14 words as token pieces (their concatenation is the text). One SHAKE-256
    call supplies every choice, so this is the cheap part of a reply."""
    lo, hi = sentences
    b = hashlib.shake_256(seed.encode()).digest(16 * (hi + 1))
    count = lo + b[0] % (hi - lo + 1)
    out: list[str] = []
    at = 1 + hi
    for k in range(count):
        length = 6 + b[1 + k] % 9
        first = b[at] % _NWORDS
        out.append(_SPACED_CAPS[first] if out else _CAPS[first])
        out.extend(map(_BYTE_WORD.__getitem__, b[at + 1 : at + length]))
        out.append(".")
        at += length
    return out


def generated_text(seed: str) -> str:
    return "".join(generated_pieces(seed))


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


def _limit_pieces(
    parts: list[str], max_tokens: int | None, stop: list[str]
) -> tuple[list[str], str]:
    """The same on known pieces, without re-tokenising (the common path)."""
    if stop:
        text = "".join(parts)
        if any(s in text for s in stop):
            cut, finish, _ = _limit(text, max_tokens, stop)
            return pieces(cut), finish
    if max_tokens is not None and len(parts) > max_tokens:
        return parts[:max_tokens], "length"
    return parts, "stop"


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
        obj: Any = {"answer": generated_text(seed), "confidence": round(rng.random(), 4)}
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


# --- reasoning --------------------------------------------------------------------------------

# How much a model reasons at each effort (sentences), in the mock's small scale.
_EFFORT_SENTENCES = {"low": (1, 1), "medium": (2, 3), "high": (4, 6)}


def _reasoning_pieces(req: GenRequest, seed: str) -> list[str]:
    thought = generated_pieces(seed + ":reasoning", _EFFORT_SENTENCES[req.effort])
    parts = ["Let", " me", " think", ".", " " + thought[0], *thought[1:]]
    if req.reasoning_cap is not None:
        parts = parts[: req.reasoning_cap]
    return parts


def _with_reasoning(
    req: GenRequest, seed: str, answer: list[str], budget: int | None
) -> tuple[str | None, list[str], str]:
    """(reasoning_content, content pieces, finish) for a reasoning model: the reasoning goes to
    its own field or, for models that emit them, into `<think>` tags before the answer. The
    reasoning counts against max_tokens first, as it does on the real API."""
    thought = _reasoning_pieces(req, seed)
    finish = "stop"
    if budget is not None and len(thought) >= budget:
        thought, answer, finish = thought[:budget], [], "length"
    elif budget is not None and len(answer) > budget - len(thought):
        answer, finish = answer[: budget - len(thought)], "length"
    if req.model.reasoning == "field":
        return "".join(thought).strip(), answer, finish
    head = ["<think>", "\n", *(p for p in thought)]
    if finish == "length" and not answer:
        return None, head, finish
    return None, [*head, "\n", "</think>", "\n\n", *answer], finish


# --- choices ----------------------------------------------------------------------------------


def choices(req: GenRequest, stub: StubReply | None) -> list[Choice]:
    out: list[Choice] = []
    prompts = req.prompts or [req.text]
    count = req.n * (len(prompts) if req.endpoint == "completions" else 1)
    reasoning = req.reasoning and stub is None
    for index in range(count):
        seed = f"{req.digest}:{index}"
        calls: list[ToolCall] | None = None
        content: str | None
        parts: list[str] | None = None
        thought: str | None = None
        finish = "stop"
        if stub is not None and stub.tool_calls:
            calls = [
                ToolCall(_call_id(f"{seed}:{k}"), n, a) for k, (n, a) in enumerate(stub.tool_calls)
            ]
            content, finish = stub.content, "tool_calls"
        elif stub is not None:
            content, finish, _ = _limit(stub.content or "", req.max_tokens, req.stop)
        else:
            tool = _pick_tool(req) if req.endpoint == "chat.completions" else None
            if tool is not None:
                args = orjson.dumps(schema_instance(tool.parameters, seed)).decode()
                calls = [ToolCall(_call_id(seed), tool.name, args)]
                parts, finish = [], "tool_calls"
            elif req.grammar is not None:
                from devenv.mocks.fireworks.grammar import generate

                parts = pieces(generate(req.grammar, seed))
            elif req.json_mode:
                parts = pieces(_json_text(req.schema, seed))
            else:
                parts = generated_pieces(seed)
                if req.endpoint == "completions":
                    parts[0] = " " + parts[0]  # a continuation of the prompt
            budget = req.max_tokens
            if reasoning:
                thought, parts, cut = _with_reasoning(req, seed, parts, budget)
                if cut == "length":
                    finish = "length"
            elif calls is None:
                parts, finish = _limit_pieces(parts, budget, req.stop)
            content = "".join(parts) if parts or calls is None else None
            if calls is not None and not content:
                content = None
        if stub is not None and stub.finish_reason:
            finish = stub.finish_reason
        choice = Choice(index, content, calls, finish, 0, thought, seed, parts)
        tokens = len(choice.pieces()) if parts is not None else count_tokens(content or "")
        if thought:
            tokens += count_tokens(thought)
        if calls:
            tokens += sum(count_tokens(c.arguments) + 1 for c in calls)
        choice.completion_tokens = tokens
        out.append(choice)
    return out


def prompt_tokens(req: GenRequest) -> int:
    return req.prompt_tokens


def usage(req: GenRequest, chs: list[Choice]) -> dict[str, int]:
    p = req.prompt_tokens
    c = sum(ch.completion_tokens for ch in chs)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


# --- logprobs, token ids, raw output ----------------------------------------------------------


def _lp_entries(ch: Choice, top: int) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """Per content token: (token, logprob, alternatives best first), from the choice's seed."""
    rng = random.Random(ch.seed + ":logprobs")
    out = []
    for piece in ch.pieces():
        lp = -round(rng.random() ** 3 * 2.5, 6)
        alts = [(piece, lp)]
        lead = " " if piece.startswith(" ") else ""
        seen = {piece}
        floor = lp
        while len(alts) < top:
            alt = lead + _WORDS[rng.randrange(_NWORDS)]
            if alt in seen:
                continue
            seen.add(alt)
            floor = round(floor - 0.5 - rng.random() * 2, 6)
            alts.append((alt, floor))
        out.append((piece, lp, alts[:top]))
    return out


def chat_logprobs(ch: Choice, req: GenRequest) -> dict[str, Any] | None:
    if req.logprobs is None:
        return None
    if req.logprobs == "legacy":
        return legacy_logprobs(ch, req)
    content = []
    offset = 0
    for token, lp, alts in _lp_entries(ch, req.top_logprobs):
        content.append(
            {
                "token": token,
                "logprob": lp,
                "bytes": list(token.encode()),
                "token_id": token_id(token),
                "text_offset": offset,
                "top_logprobs": [
                    {"token": t, "logprob": v, "token_id": token_id(t), "bytes": list(t.encode())}
                    for t, v in alts
                ],
            }
        )
        offset += len(token)
    return {"content": content}


def legacy_logprobs(ch: Choice, req: GenRequest, start: int = 0) -> dict[str, Any]:
    """The completions shape: tokens, token_logprobs, top_logprobs (one dict per position with
    the sampled token and up to N alternatives), text_offset, token_ids."""
    tokens, lps, tops, offsets, ids = [], [], [], [], []
    offset = start
    # The sampled token plus N alternatives: "up to logprobs+1 elements".
    for token, lp, alts in _lp_entries(ch, req.top_logprobs + 1):
        tokens.append(token)
        lps.append(lp)
        tops.append(dict(alts) if req.top_logprobs else {token: lp})
        offsets.append(offset)
        ids.append(token_id(token))
        offset += len(token)
    return {
        "tokens": tokens,
        "token_logprobs": lps,
        "top_logprobs": tops,
        "text_offset": offsets,
        "token_ids": ids,
    }


def _fragments(req: GenRequest) -> list[str]:
    """The prompt as a chat template would lay it out (a ChatML-like rendering)."""
    if req.endpoint == "completions":
        return list(req.prompts)
    out = []
    for m in req.normalised["messages"]:
        text = "".join(p.get("text", "<image>") for p in m["content"] or ())
        out.append(f"<|im_start|>{m['role']}\n{text}<|im_end|>\n")
    out.append("<|im_start|>assistant\n")
    return out


def prompt_token_ids(req: GenRequest) -> list[int]:
    """As many ids as usage.prompt_tokens: the text's tokens, then template tokens."""
    ids = [token_id(t) for t in _TOKEN.findall(req.all_text)][: req.prompt_tokens]
    ids.extend(_SPECIAL + (k % 64) for k in range(req.prompt_tokens - len(ids)))
    return ids


def completion_token_ids(ch: Choice) -> list[int]:
    ids = [token_id(p) for p in pieces(ch.reasoning)] if ch.reasoning else []
    ids.extend(token_id(p) for p in ch.pieces())
    for call in ch.tool_calls or ():
        ids.extend(token_id(p) for p in pieces(call.arguments))
    return ids


def _raw_completion(ch: Choice) -> str:
    text = ""
    if ch.reasoning:
        text += f"<think>\n{ch.reasoning}\n</think>\n\n"
    text += ch.content or ""
    for call in ch.tool_calls or ():
        text += (
            '<tool_call>{"name": '
            + orjson.dumps(call.name).decode()
            + ', "arguments": '
            + call.arguments
            + "}</tool_call>"
        )
    return text


def raw_output(ch: Choice, req: GenRequest) -> dict[str, Any]:
    """`raw_output: true`: what the model saw and produced, before tool calls are parsed."""
    out: dict[str, Any] = {
        "prompt_fragments": _fragments(req),
        "prompt_token_ids": prompt_token_ids(req),
        "completion": _raw_completion(ch),
        "completion_token_ids": completion_token_ids(ch),
    }
    if req.grammar is not None:
        out["grammar"] = req.grammar
    if req.images:
        out["images"] = [im.ref for im in req.images]
    if req.videos:
        out["videos"] = [v.ref for v in req.videos]
    return out


def perf_metrics(req: GenRequest, ttft_s: float, processing_s: float) -> dict[str, Any]:
    """`perf_metrics_in_response`: the basic metrics every deployment reports."""
    return {
        "prompt-tokens": req.prompt_tokens,
        "cached-prompt-tokens": 0,
        "server-time-to-first-token": round(ttft_s, 6),
        "server-processing-time": round(processing_s, 6),
    }


# --- bodies -----------------------------------------------------------------------------------


def _message(ch: Choice) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": ch.content}
    if ch.reasoning is not None:
        msg["reasoning_content"] = ch.reasoning
    if ch.tool_calls:
        msg["tool_calls"] = [c.as_dict() for c in ch.tool_calls]
    return msg


def chat_body(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> dict[str, Any]:
    out_choices = []
    for ch in chs:
        item: dict[str, Any] = {
            "index": ch.index,
            "message": _message(ch),
            "finish_reason": ch.finish_reason,
            "logprobs": chat_logprobs(ch, req),
        }
        if req.raw_output:
            item["raw_output"] = raw_output(ch, req)
        if req.token_ids:
            item["token_ids"] = completion_token_ids(ch)
        out_choices.append(item)
    body: dict[str, Any] = {
        "id": fresh_id(),
        "object": "chat.completion",
        "created": created,
        "model": req.model.id,
        "choices": out_choices,
        "usage": usage(req, chs),
    }
    if req.token_ids:
        body["prompt_token_ids"] = prompt_token_ids(req)
    if perf is not None:
        body["perf_metrics"] = perf
    return body


def completion_body(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> dict[str, Any]:
    prompts = req.prompts
    out_choices = []
    for ch in chs:
        echo = prompts[ch.index // req.n] if req.echo else ""
        item: dict[str, Any] = {
            "index": ch.index,
            "text": echo + (ch.content or ""),
            "finish_reason": ch.finish_reason,
            "logprobs": legacy_logprobs(ch, req, len(echo)) if req.logprobs else None,
        }
        if req.raw_output:
            item["raw_output"] = raw_output(ch, req)
        if req.token_ids:
            item["token_ids"] = completion_token_ids(ch)
        out_choices.append(item)
    body: dict[str, Any] = {
        "id": fresh_id(),
        "object": "text_completion",
        "created": created,
        "model": req.model.id,
        "choices": out_choices,
        "usage": usage(req, chs),
    }
    if req.token_ids:
        body["prompt_token_ids"] = prompt_token_ids(req)
    if perf is not None:
        body["perf_metrics"] = perf
    return body


# --- streams ----------------------------------------------------------------------------------


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def _interleave(per_choice: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """With n > 1 the choices' chunks arrive interleaved, as generation runs side by side."""
    if len(per_choice) == 1:
        return per_choice[0]
    out: list[dict[str, Any]] = []
    for group in itertools.zip_longest(*per_choice):
        out.extend(c for c in group if c is not None)
    return out


def _stream_tail(
    req: GenRequest, chs: list[Choice], head: dict[str, Any], chunks: list[dict[str, Any]]
) -> list[bytes]:
    events = [_event(c) for c in chunks]
    if req.include_usage:
        # OpenAI's stream_options.include_usage: one more chunk, empty choices, the usage.
        events.append(_event({**head, "choices": [], "usage": usage(req, chs)}))
    return events


def chat_stream(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> list[bytes]:
    """Data-only SSE events per choice: a role chunk, reasoning, content (or tool-call) chunks and
    a final chunk with finish_reason and the usage (with `perf_metrics` when asked, as the docs
    put it "in the final chunk (when finish_reason is set)"); choices interleave when n > 1. The
    caller appends ``[DONE]``."""
    head = {
        "id": fresh_id(),
        "object": "chat.completion.chunk",
        "created": created,
        "model": req.model.id,
    }
    total = usage(req, chs)

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **head,
            "choices": [
                {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
            ],
        }

    per_choice = []
    for ch in chs:
        out = [chunk(ch.index, {"role": "assistant", "content": None if ch.tool_calls else ""})]
        if ch.reasoning:
            out.extend(chunk(ch.index, {"reasoning_content": p}) for p in pieces(ch.reasoning))
        lp = chat_logprobs(ch, req)
        entries = lp["content"] if lp is not None and "content" in lp else None
        for k, p in enumerate(ch.pieces() if ch.content else ()):
            c = chunk(ch.index, {"content": p})
            if entries is not None:
                c["choices"][0]["logprobs"] = {"content": [entries[k]]}
            elif lp is not None:
                c["choices"][0]["logprobs"] = {key: v[k : k + 1] for key, v in lp.items()}
            out.append(c)
        for k, call in enumerate(ch.tool_calls or ()):
            first = {
                "index": k,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            out.append(chunk(ch.index, {"tool_calls": [first]}))
            out.extend(
                chunk(ch.index, {"tool_calls": [{"index": k, "function": {"arguments": p}}]})
                for p in pieces(call.arguments)
            )
        final = chunk(ch.index, {}, ch.finish_reason)
        if not req.include_usage:  # else only the extra chunk has it (OpenAI clients sum them)
            final["usage"] = total
        if req.raw_output:
            final["choices"][0]["raw_output"] = raw_output(ch, req)
        if req.token_ids:
            final["choices"][0]["token_ids"] = completion_token_ids(ch)
            final["prompt_token_ids"] = prompt_token_ids(req)
        if perf is not None:
            final["perf_metrics"] = perf
        out.append(final)
        per_choice.append(out)
    return _stream_tail(req, chs, head, _interleave(per_choice))


def completion_stream(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> list[bytes]:
    head = {
        "id": fresh_id(),
        "object": "text_completion",
        "created": created,
        "model": req.model.id,
    }
    total = usage(req, chs)

    def chunk(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
        return {
            **head,
            "choices": [{"index": index, "text": text, "finish_reason": finish, "logprobs": None}],
        }

    per_choice = []
    for ch in chs:
        out = []
        if req.echo:
            out.append(chunk(ch.index, req.prompts[ch.index // req.n]))
        lp = legacy_logprobs(ch, req) if req.logprobs else None
        for k, p in enumerate(ch.pieces() if ch.content else ()):
            c = chunk(ch.index, p)
            if lp is not None:
                c["choices"][0]["logprobs"] = {key: v[k : k + 1] for key, v in lp.items()}
            out.append(c)
        final = chunk(ch.index, "", ch.finish_reason)
        if not req.include_usage:  # else only the extra chunk has it (OpenAI clients sum them)
            final["usage"] = total
        if req.raw_output:
            final["choices"][0]["raw_output"] = raw_output(ch, req)
        if req.token_ids:
            final["choices"][0]["token_ids"] = completion_token_ids(ch)
            final["prompt_token_ids"] = prompt_token_ids(req)
        if perf is not None:
            final["perf_metrics"] = perf
        out.append(final)
        per_choice.append(out)
    return _stream_tail(req, chs, head, _interleave(per_choice))


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
