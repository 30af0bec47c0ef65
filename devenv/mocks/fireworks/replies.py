"""Deterministic replies: the same normalised request gives the same content, in any process.

Content is drawn from the request's SHA-256 digest: generated text from SHAKE-256 bytes of a
seed derived from it (cheap, and independent of ``PYTHONHASHSEED`` and the process), structured
values (JSON Schema instances, grammar output, logprobs) from ``random.Random`` seeded with such
a string. Only the response ``id`` differs between two identical requests, as the real API gives
every response a fresh one. The choices made here are put in the OpenAI wire format by
:mod:`devenv.mocks.fireworks.wire` (and in Anthropic's and the Responses API's by their modules).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import random
import re
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from devenv.mocks.fireworks.validation import (
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


# --- logprobs and token ids ------------------------------------------------------------------


def logprob_entries(ch: Choice, top: int) -> list[tuple[str, float, list[tuple[str, float]]]]:
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


# --- embeddings -------------------------------------------------------------------------------


def embedding_vector(model: str, dims: int, text: str) -> list[float]:
    """A unit vector that depends only on (model, text): the same text embeds the same in any
    batch, and the truncation to ``dims`` is re-normalised as Matryoshka models do."""
    rng = random.Random(f"{model}\x00{text}")
    vec = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]
