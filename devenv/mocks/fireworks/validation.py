"""Request validation the way the real API does it, producing normalised requests.

Every rejection is a Fireworks-shaped 400 whose ``param`` names the field by its path
(``messages[0].content[1].image_url.url``), so a client bug shows up locally with the same
answer it would get in production. The normalised request is also what the deterministic replies
hash: two requests that mean the same (string content vs. one text part, ``max_completion_tokens``
vs. ``max_tokens``, ``stream`` on or off) normalise to the same thing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from devenv.mocks.fireworks.apierrors import (
    ApiError,
    bad_request,
    reject_unknown_fields,
    unknown_model,
)
from devenv.mocks.fireworks.models import Catalog, ModelInfo

Endpoint = Literal["chat.completions", "completions", "embeddings"]

# Fields the real API accepts: the fireworks-ai SDK's parameters plus OpenAI's `stream_options`,
# which Fireworks honours. Anything else is rejected, so a typo (`max_token`) fails locally.
CHAT_FIELDS = frozenset(
    [
        "context_length_exceeded_behavior",
        "echo",
        "echo_last",
        "frequency_penalty",
        "function_call",
        "functions",
        "ignore_eos",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "messages",
        "metadata",
        "min_p",
        "mirostat_lr",
        "mirostat_target",
        "model",
        "n",
        "parallel_tool_calls",
        "perf_metrics_in_response",
        "prediction",
        "presence_penalty",
        "prompt_cache_isolation_key",
        "prompt_cache_key",
        "prompt_truncate_len",
        "raw_output",
        "reasoning_effort",
        "reasoning_history",
        "repetition_penalty",
        "response_format",
        "return_token_ids",
        "safe_tokenization",
        "seed",
        "service_tier",
        "speculation",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "thinking",
        "tool_choice",
        "tools",
        "top_k",
        "top_logprobs",
        "top_p",
        "typical_p",
        "user",
    ]
)
COMPLETION_FIELDS = frozenset(
    [
        "context_length_exceeded_behavior",
        "echo",
        "echo_last",
        "frequency_penalty",
        "ignore_eos",
        "images",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "min_p",
        "mirostat_lr",
        "mirostat_target",
        "model",
        "n",
        "perf_metrics_in_response",
        "prediction",
        "presence_penalty",
        "prompt",
        "prompt_cache_isolation_key",
        "prompt_cache_key",
        "raw_output",
        "reasoning_effort",
        "reasoning_history",
        "repetition_penalty",
        "response_format",
        "return_token_ids",
        "seed",
        "service_tier",
        "speculation",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "thinking",
        "top_k",
        "top_logprobs",
        "top_p",
        "typical_p",
        "user",
    ]
)
EMBEDDING_FIELDS = frozenset(
    {
        "input",
        "model",
        "dimensions",
        "encoding_format",
        "user",
        "prompt_template",
        "normalize",
        "return_logits",
        # Accepted by the real endpoint (not in OpenAI's): see the API reference's request body.
        "prompt_cache_key",
        "raw_output",
        "perf_metrics_in_response",
    }
)

# Not part of what the model generates from: left out of the hash, so e.g. a streamed and a
# non-streamed request get the same reply.
_NOT_HASHED = frozenset(
    {
        "context_length_exceeded_behavior",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "prompt_cache_key",
        "prompt_cache_isolation_key",
        "perf_metrics_in_response",
        "service_tier",
        "return_token_ids",
        "max_completion_tokens",
        "echo",
        "logprobs",
        "top_logprobs",
        "raw_output",
    }
)

ROLES = frozenset({"system", "user", "assistant", "tool"})
# MIME subtype -> the format its bytes must sniff as. The vision guide's supported formats are
# .png, .jpg, .jpeg, .gif, .bmp, .tiff and .ppm; webp is kept because OpenAI clients send it.
IMAGE_FORMATS = {
    "png": "png",
    "jpeg": "jpeg",
    "jpg": "jpeg",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "x-ms-bmp": "bmp",
    "tiff": "tiff",
    "x-portable-pixmap": "ppm",
    "ppm": "ppm",
}
VIDEO_FORMATS = frozenset({"mp4", "webm", "quicktime", "x-matroska", "mpeg"})
# Whatever counts as one token here (words and punctuation): stable, cheap, close enough.
_TOKEN = re.compile(r"\w+|[^\w\s]")
# Roughly what a chat template adds per message, and what an image or a video costs.
PER_MESSAGE = 4
PER_IMAGE = 256
PER_VIDEO = 1024
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DATA_URL = re.compile(r"^data:([^;,]*)(;[^,]*)?,", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Limits:
    """Image limits, as the vision guide's "Known limitations" give them: at most 30 images per
    request, and the base64 of all inline images together must be under 10 MB."""

    max_images: int = 30
    max_base64_bytes: int = 10 * 1024 * 1024


def count_tokens(text: str) -> int:
    """An approximate tokenizer (words and punctuation): stable, cheap, close enough for usage."""
    return len(_TOKEN.findall(text))


@dataclass(slots=True)
class Image:
    # `https://...` as given, or `data:image/png;sha256=<hex>` for inline images, so the journal
    # and the hash never carry megabytes of base64.
    ref: str
    sha256: str
    format: str | None
    size: int | None


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class GenRequest:
    """A validated chat or completions request."""

    endpoint: Endpoint
    model: ModelInfo
    normalised: dict[str, Any]
    # What stubs match on: the last user message (chat) or the prompt (completions).
    text: str
    prompts: list[str] = field(default_factory=list)
    all_text: str = ""
    images: list[Image] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    last_role: str = "user"
    schema: dict[str, Any] | None = None
    json_mode: bool = False
    n: int = 1
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    echo: bool = False
    videos: list[Image] = field(default_factory=list)
    prompt_tokens: int = 1
    # Reasoning: on or off, the effort level, and a hard token cap (an integer effort).
    reasoning: bool = False
    effort: str = "medium"
    reasoning_cap: int | None = None
    grammar: str | None = None
    # logprobs: None, "new" (chat `logprobs: true`) or "legacy" (an integer N); `top` is how many
    # alternatives per position.
    logprobs: str | None = None
    top_logprobs: int = 0
    perf_metrics: bool = False
    raw_output: bool = False
    token_ids: bool = False
    include_usage: bool = False
    # Hex digest of the normalised request: the key of the deterministic reply.
    digest: str = ""


@dataclass(slots=True)
class EmbeddingRequest:
    model: ModelInfo
    inputs: list[str]
    dimensions: int
    encoding_format: Literal["float", "base64"]
    normalised: dict[str, Any]
    digest: str = ""


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise bad_request("The request body is empty; send a JSON object", None)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}", None) from None


def _normalised(
    body: dict[str, Any],
    endpoint: str,
    fields: dict[str, Any],
    n: int,
    max_tokens: int | None,
    stop: list[str],
    schema: dict[str, Any] | None,
    json_mode: bool,
) -> dict[str, Any]:
    """What a generation request's reply is keyed on: the body without transport-only fields,
    with the parsed values in place of the raw ones (so equivalent spellings hash alike)."""
    normalised = {k: v for k, v in body.items() if k not in _NOT_HASHED}
    normalised.update(fields)
    normalised.update(max_tokens=max_tokens, stop=stop, n=n, endpoint=endpoint)
    if "response_format" in normalised:
        normalised["response_format"] = {"schema": schema, "json": json_mode}
    return normalised


def digest_of(normalised: dict[str, Any]) -> str:
    # Sorted keys: the same request from any client, in any key order, in any process.
    return hashlib.sha256(orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)).hexdigest()


# --- small typed checks -----------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _wrong(param: str, expected: str, value: Any) -> ApiError:
    return bad_request(f"'{param}' must be {expected}, got {_type_name(value)}", param)


def _int(
    body: dict[str, Any], key: str, lo: int | None = None, hi: int | None = None
) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise _wrong(key, "an integer", value)
    if lo is not None and value < lo:
        raise bad_request(f"'{key}' must be at least {lo}, got {value}", key)
    if hi is not None and value > hi:
        raise bad_request(f"'{key}' must be at most {hi}, got {value}", key)
    return value


def _number(body: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(key, "a number", value)
    if not lo <= value <= hi:
        raise bad_request(f"'{key}' must be between {lo:g} and {hi:g}, got {value}", key)
    return float(value)


def _bool(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _wrong(key, "a boolean", value)
    return value


def _model(body: dict[str, Any], catalog: Catalog) -> ModelInfo:
    model = body.get("model")
    if model is None:
        raise bad_request("'model' is required", "model")
    if not isinstance(model, str):
        raise _wrong("model", "a string", model)
    info = catalog.get(model)
    if info is None:
        raise unknown_model(model)
    return info


# Ranges as the API reference gives them ("Required range"); floats for numbers, ints for integers.
_RANGES: dict[str, tuple[float, float] | tuple[int | None, int | None]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "typical_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
    "repetition_penalty": (0.0, 2.0),
    "top_k": (0, 100),
    "top_logprobs": (0, 5),
    "seed": (None, None),
}


def _common_sampling(body: dict[str, Any], model: ModelInfo) -> tuple[int, int | None, list[str]]:
    n = _int(body, "n", 1, 128) or 1
    max_tokens = _int(body, "max_tokens", 1)
    max_completion = _int(body, "max_completion_tokens", 1)
    if max_tokens is not None and max_completion is not None:
        raise bad_request(
            "'max_completion_tokens' is an alias for 'max_tokens'; give only one",
            "max_completion_tokens",
        )
    if max_tokens is None:
        max_tokens = max_completion
    # Only the fields present are checked: a request names few of them, and this is hot.
    for key in body.keys() & _RANGES.keys():
        lo, hi = _RANGES[key]
        if isinstance(lo, float) and isinstance(hi, float):
            _number(body, key, lo, hi)
        else:
            _int(body, key, None if lo is None else int(lo), None if hi is None else int(hi))
    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool | int):
        raise _wrong("logprobs", "a boolean or an integer", logprobs)
    if type(logprobs) is int and not 0 <= logprobs <= 5:
        raise bad_request(f"'logprobs' must be between 0 and 5, got {logprobs}", "logprobs")
    stop_value = body.get("stop")
    stop: list[str]
    if stop_value is None:
        stop = []
    elif isinstance(stop_value, str):
        stop = [stop_value]
    elif isinstance(stop_value, list):
        if len(stop_value) > 4:
            raise bad_request(f"'stop' allows at most 4 sequences, got {len(stop_value)}", "stop")
        for i, s in enumerate(stop_value):
            if not isinstance(s, str):
                raise _wrong(f"stop[{i}]", "a string", s)
        stop = list(stop_value)
    else:
        raise _wrong("stop", "a string or an array of strings", stop_value)
    if any(s == "" for s in stop):
        raise bad_request("'stop' sequences must not be empty", "stop")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise _wrong("stream_options", "an object", stream_options)
    return n, max_tokens, stop


def _response_format(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool, str | None]:
    """Returns (schema or None, json_mode, grammar or None)."""
    rf = body.get("response_format")
    if rf is None:
        return None, False, None
    if not isinstance(rf, dict):
        raise _wrong("response_format", "an object", rf)
    kind = rf.get("type")
    if kind not in ("text", "json_object", "json_schema", "grammar"):
        raise bad_request(
            "'response_format.type' must be one of text, json_object, json_schema, grammar, "
            f"got {kind!r}",
            "response_format.type",
        )
    if kind == "text":
        return None, False, None
    if kind == "grammar":
        if not isinstance(rf.get("grammar"), str) or not rf["grammar"].strip():
            raise bad_request(
                "'response_format.grammar' must be a non-empty GBNF grammar string",
                "response_format.grammar",
            )
        from devenv.mocks.fireworks.grammar import GrammarError, parse

        try:
            parse(rf["grammar"])
        except GrammarError as exc:
            raise bad_request(
                f"'response_format.grammar' is not a valid GBNF grammar: {exc}",
                "response_format.grammar",
            ) from None
        return None, False, rf["grammar"]
    schema: Any = None
    param = "response_format.schema"
    if kind == "json_schema":
        js = rf.get("json_schema")
        param = "response_format.json_schema"
        if js is None:
            raise bad_request(
                "'response_format.json_schema' is required when type is json_schema", param
            )
        if isinstance(js, str):
            schema = _parse_schema_string(js, param)
        elif isinstance(js, dict):
            # OpenAI's wrapper {"name", "schema", "strict"}, or (Fireworks) the schema itself.
            if "schema" in js:
                schema, param = js["schema"], "response_format.json_schema.schema"
                if isinstance(schema, str):
                    schema = _parse_schema_string(schema, param)
            elif "name" in js and not ({"type", "properties", "$ref", "anyOf"} & js.keys()):
                raise bad_request(
                    "'response_format.json_schema.schema' is required", param + ".schema"
                )
            else:
                schema = js
        else:
            raise _wrong(param, "an object", js)
    else:
        schema = rf.get("schema")
        if isinstance(schema, str):
            schema = _parse_schema_string(schema, param)
    if schema is None:
        return None, True, None
    check_schema(schema, param)
    return schema, True, None


def _parse_schema_string(text: str, param: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"'{param}' is not valid JSON: {exc}", param) from None


def check_schema(schema: Any, param: str) -> None:
    if not isinstance(schema, dict):
        raise _wrong(param, "a JSON Schema object", schema)
    from jsonschema import SchemaError, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise bad_request(
            f"'{param}' is not a valid JSON Schema: {exc.message}"
            + (f" at {where}" if where else ""),
            param,
        ) from None


def _tools(body: dict[str, Any]) -> tuple[list[Tool], str | dict[str, Any]]:
    raw = body.get("tools")
    tools: list[Tool] = []
    if raw is not None:
        if not isinstance(raw, list):
            raise _wrong("tools", "an array", raw)
        seen: set[str] = set()
        for i, t in enumerate(raw):
            p = f"tools[{i}]"
            if not isinstance(t, dict):
                raise _wrong(p, "an object", t)
            if t.get("type", "function") != "function":
                raise bad_request(f"'{p}.type' must be 'function'", f"{p}.type")
            fn = t.get("function")
            if not isinstance(fn, dict):
                raise _wrong(f"{p}.function", "an object", fn)
            name = fn.get("name")
            if not isinstance(name, str) or not _TOOL_NAME.match(name):
                raise bad_request(
                    f"'{p}.function.name' must be 1-64 characters of a-z, A-Z, 0-9, _ or -",
                    f"{p}.function.name",
                )
            if name in seen:
                raise bad_request(f"Duplicate tool name '{name}'", f"{p}.function.name")
            seen.add(name)
            desc = fn.get("description", "")
            if desc is not None and not isinstance(desc, str):
                raise _wrong(f"{p}.function.description", "a string", desc)
            params = fn.get("parameters")
            if params is None:
                params = {"type": "object", "properties": {}}
            check_schema(params, f"{p}.function.parameters")
            tools.append(Tool(name, desc or "", params))
    choice = body.get("tool_choice")
    if choice is None:
        choice = "auto"
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required", "any"):
            raise bad_request(
                f"'tool_choice' must be none, auto, required or an object, got {choice!r}",
                "tool_choice",
            )
        if choice in ("required", "any") and not tools:
            raise bad_request(f"'tool_choice' is {choice!r} but no tools are given", "tool_choice")
    elif isinstance(choice, dict):
        # Both forms the API reference gives: {"type": "function", "name": ...} and OpenAI's
        # {"type": "function", "function": {"name": ...}}.
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else choice.get("name")
        if choice.get("type") != "function" or not isinstance(name, str):
            raise bad_request(
                '\'tool_choice\' object must be {"type": "function", "name": ...} or '
                '{"type": "function", "function": {"name": ...}}',
                "tool_choice",
            )
        choice = {"type": "function", "function": {"name": name}}
        if name not in {t.name for t in tools}:
            raise bad_request(
                f"'tool_choice' names function '{name}', which is not in 'tools'",
                "tool_choice.function.name",
            )
    else:
        raise _wrong("tool_choice", "a string or an object", choice)
    return tools, choice


# --- images -----------------------------------------------------------------------------------


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:2] in (b"P6", b"P3") and data[2:3].isspace():
        return "ppm"
    return None


class _Budget:
    """The base64 characters of inline media a request has used so far: the vision guide's
    limit is on the total ("Total base64-encoded images must be less than 10MB"), not per image."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0

    def take(self, payload: str, param: str, limits: Limits) -> None:
        self.used += len(payload)
        if self.used >= limits.max_base64_bytes:
            raise bad_request(
                f"'{param}': the base64 of all images in the request is {self.used} bytes; "
                f"together they must be under {limits.max_base64_bytes} bytes (10 MB). "
                "Send images by https:// URL or make them smaller",
                param,
            )


def _image(url: Any, param: str, limits: Limits, budget: _Budget, video: bool = False) -> Image:
    if not isinstance(url, str):
        raise _wrong(param, "a string", url)
    what = "video" if video else "image"
    if url.startswith("data:"):
        m = _DATA_URL.match(url)
        if not m:
            raise bad_request(
                f"'{param}' is not a valid data: URL (expected data:{what}/...;base64,...)", param
            )
        mime, params = m.group(1).lower(), (m.group(2) or "").lower()
        sub = mime.partition("/")[2]
        if video:
            if not mime.startswith("video/") or sub not in VIDEO_FORMATS:
                raise bad_request(
                    f"'{param}' has unsupported media type '{mime or 'none'}'; "
                    "use video/mp4, video/webm or video/quicktime",
                    param,
                )
        elif not mime.startswith("image/") or sub not in IMAGE_FORMATS:
            raise bad_request(
                f"'{param}' has unsupported media type '{mime or 'none'}'; use image/png, "
                "image/jpeg, image/gif, image/bmp, image/tiff or image/x-portable-pixmap",
                param,
            )
        if ";base64" not in params:
            raise bad_request(f"'{param}' must be base64-encoded (data:{mime};base64,...)", param)
        payload = url[m.end() :]
        budget.take(payload, param, limits)
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"'{param}' is not valid base64 {what} data", param) from None
        if not data:
            raise bad_request(f"'{param}' holds no {what} data", param)
        digest = hashlib.sha256(data).hexdigest()
        if video:
            return Image(f"data:{mime};sha256={digest}", digest, sub, len(data))
        fmt = _sniff(data)
        if fmt is None:
            raise bad_request(
                f"'{param}' could not be decoded as an image "
                "(PNG, JPEG, GIF, BMP, TIFF, PPM or WebP)",
                param,
            )
        if fmt != IMAGE_FORMATS[sub]:
            raise bad_request(f"'{param}' declares {mime} but the data is {fmt}", param)
        return Image(f"data:{mime};sha256={digest}", digest, fmt, len(data))
    if url.startswith("https://") and len(url) > len("https://") and url[8] not in "/?#":
        return Image(url, hashlib.sha256(url.encode()).hexdigest(), None, None)
    raise bad_request(f"'{param}' must be an https:// URL or a base64 data: URL", param)


# --- chat -------------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if p.get("type") == "text")
    return ""


def _message(
    i: int,
    msg: Any,
    model: ModelInfo,
    limits: Limits,
    images: list[Image],
    videos: list[Image],
    budget: _Budget,
) -> dict[str, Any]:
    p = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise _wrong(p, "an object", msg)
    role = msg.get("role")
    if role is None:
        raise bad_request(f"'{p}.role' is required", f"{p}.role")
    if role not in ROLES:
        raise bad_request(
            f"'{p}.role' must be one of system, user, assistant, tool, got {role!r}", f"{p}.role"
        )
    out: dict[str, Any] = {"role": role}
    content = msg.get("content")
    tool_calls = msg.get("tool_calls")
    if content is None:
        if not (role == "assistant" and tool_calls):
            raise bad_request(f"'{p}.content' is required for a {role} message", f"{p}.content")
        out["content"] = None
    elif isinstance(content, str):
        out["content"] = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(content):
            pp = f"{p}.content[{j}]"
            if not isinstance(part, dict):
                raise _wrong(pp, "an object", part)
            kind = part.get("type")
            if kind == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise _wrong(f"{pp}.text", "a string", text)
                parts.append({"type": "text", "text": text})
            elif kind == "image_url":
                if role != "user":
                    raise bad_request(f"'{pp}': images are only allowed in user messages", pp)
                if not model.vision:
                    raise bad_request(
                        f"Model {model.id} does not support image inputs; use a vision model",
                        pp,
                    )
                iu = part.get("image_url")
                if not isinstance(iu, dict):
                    raise _wrong(f"{pp}.image_url", "an object with 'url'", iu)
                detail = iu.get("detail")
                if detail is not None and detail not in ("auto", "low", "high"):
                    raise bad_request(
                        f"'{pp}.image_url.detail' must be auto, low or high",
                        f"{pp}.image_url.detail",
                    )
                if len(images) >= limits.max_images:
                    raise bad_request(
                        f"Too many images: at most {limits.max_images} per request", pp
                    )
                image = _image(iu.get("url"), f"{pp}.image_url.url", limits, budget)
                images.append(image)
                parts.append({"type": "image", "sha256": image.sha256})
            elif kind == "video_url":
                # The SDK's ChatMessage content part: video_url {url, detail, max_frames,
                # sample_fps, spatial_limit}, for models that take video.
                if role != "user":
                    raise bad_request(f"'{pp}': videos are only allowed in user messages", pp)
                if not model.video:
                    raise bad_request(
                        f"Model {model.id} does not support video inputs; use a model that "
                        "takes video (see GET /models, supports_video_input)",
                        pp,
                    )
                vu = part.get("video_url")
                if not isinstance(vu, dict):
                    raise _wrong(f"{pp}.video_url", "an object with 'url'", vu)
                for key in ("max_frames", "spatial_limit"):
                    _int(vu, key, 1)
                if vu.get("sample_fps") is not None:
                    _number(vu, "sample_fps", 0.0, 120.0)
                video = _image(vu.get("url"), f"{pp}.video_url.url", limits, budget, video=True)
                videos.append(video)
                parts.append({"type": "video", "sha256": video.sha256})
            else:
                raise bad_request(
                    f"'{pp}.type' must be 'text', 'image_url' or 'video_url', got {kind!r}",
                    f"{pp}.type",
                )
        out["content"] = parts
    else:
        raise _wrong(f"{p}.content", "a string or an array of content parts", content)
    if tool_calls is not None:
        if role != "assistant":
            raise bad_request(
                f"'{p}.tool_calls' is only allowed on assistant messages", f"{p}.tool_calls"
            )
        if not isinstance(tool_calls, list):
            raise _wrong(f"{p}.tool_calls", "an array", tool_calls)
        calls = []
        for k, call in enumerate(tool_calls):
            cp = f"{p}.tool_calls[{k}]"
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise bad_request(f"'{cp}.function.name' is required", f"{cp}.function.name")
            args = fn.get("arguments", "")
            if not isinstance(args, str):
                raise _wrong(f"{cp}.function.arguments", "a string of JSON", args)
            calls.append({"id": call.get("id"), "name": fn["name"], "arguments": args})
        out["tool_calls"] = calls
    if role == "tool":
        tcid = msg.get("tool_call_id")
        if not isinstance(tcid, str) or not tcid:
            raise bad_request(
                f"'{p}.tool_call_id' is required for a tool message", f"{p}.tool_call_id"
            )
        out["tool_call_id"] = tcid
    name = msg.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise _wrong(f"{p}.name", "a string", name)
        out["name"] = name
    return out


_EFFORTS = ("low", "medium", "high", "none")


def _reasoning(body: dict[str, Any], model: ModelInfo) -> tuple[bool, str, int | None]:
    """(on, effort level, token cap) from `reasoning_effort` or `thinking`, per the parameter's
    documented model-specific behaviour."""
    effort = body.get("reasoning_effort")
    thinking = body.get("thinking")
    if effort is not None and thinking is not None:
        raise bad_request(
            "'thinking' cannot be specified together with 'reasoning_effort'", "thinking"
        )
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
            raise bad_request(
                '\'thinking\' must be {"type": "enabled"} (optionally with budget_tokens) or '
                '{"type": "disabled"}',
                "thinking",
            )
        if thinking["type"] == "disabled":
            effort = "none"
        else:
            budget = thinking.get("budget_tokens")
            if budget is not None and (type(budget) is not int or budget < 1024):
                raise bad_request(
                    f"'thinking.budget_tokens' must be an integer >= 1024, got {budget!r}",
                    "thinking.budget_tokens",
                )
            effort = budget if budget is not None else True
    if effort is None:
        return model.reasoning is not None and model.reasoning_default, "medium", None
    if not (isinstance(effort, str | bool) or type(effort) is int):
        raise _wrong(
            "reasoning_effort", "'low', 'medium', 'high', 'none', a boolean or an integer", effort
        )
    if isinstance(effort, str) and effort not in _EFFORTS:
        raise bad_request(
            f"'reasoning_effort' must be low, medium, high or none, got {effort!r}",
            "reasoning_effort",
        )
    if type(effort) is int and effort < 1:
        raise bad_request("'reasoning_effort' as an integer must be positive", "reasoning_effort")
    if model.reasoning is None:
        return False, "none", None  # no reasoning to control; the real API ignores it too
    raw = effort
    # "Boolean values are normalized internally: true becomes 'medium', and false becomes 'none'.
    # This normalization happens before model-specific validation."
    if isinstance(effort, bool):
        effort = "medium" if effort else "none"
    rule = model.reasoning_effort
    if rule in ("harmony", "required") and (
        effort == "none" or type(effort) is int or (rule == "required" and isinstance(raw, bool))
    ):
        raise bad_request(f"Invalid reasoning effort: {effort}", "reasoning_effort")
    if effort == "none":
        return False, "none", None
    if type(effort) is int:
        # "A positive integer to set a hard token limit on reasoning output (only effective for
        # grammar-based reasoning models)".
        return True, "medium", effort if rule == "graded" else None
    level = str(effort)
    # Binary models: "effort levels and integers have no additional effect".
    return True, "medium" if rule == "binary" else level, None


def _flags(body: dict[str, Any], req: GenRequest, chat: bool) -> None:
    """The response options: logprobs, perf metrics, raw output, token ids, stream usage."""
    logprobs = body.get("logprobs")
    top = body.get("top_logprobs")
    if logprobs is True and chat:
        req.logprobs, req.top_logprobs = "new", top or 0
    elif type(logprobs) is int and not isinstance(logprobs, bool):
        req.logprobs, req.top_logprobs = "legacy", top if top is not None else logprobs
    elif logprobs is True:
        req.logprobs, req.top_logprobs = "legacy", top or 0
    elif top and logprobs is None:
        raise bad_request("'top_logprobs' needs 'logprobs' to be set", "top_logprobs")
    req.perf_metrics = bool(_bool(body, "perf_metrics_in_response"))
    req.raw_output = bool(_bool(body, "raw_output"))
    req.token_ids = bool(_bool(body, "return_token_ids"))
    options = body.get("stream_options")
    if isinstance(options, dict):
        include = options.get("include_usage")
        if include is not None and not isinstance(include, bool):
            raise _wrong("stream_options.include_usage", "a boolean", include)
        req.include_usage = bool(include)


def _fit_context(body: dict[str, Any], req: GenRequest) -> None:
    """`context_length_exceeded_behavior`: "truncate" (the default) lowers max_tokens to
    context - prompt; "error" answers 400 when prompt + max_tokens exceeds the context."""
    behaviour = body.get("context_length_exceeded_behavior", "truncate")
    if behaviour not in ("truncate", "error"):
        raise bad_request(
            f"'context_length_exceeded_behavior' must be truncate or error, got {behaviour!r}",
            "context_length_exceeded_behavior",
        )
    context = req.model.context_length
    if req.prompt_tokens >= context:
        raise bad_request(
            f"The prompt is too long: {req.prompt_tokens} tokens, the context length of "
            f"{req.model.id} is {context} tokens",
            "messages" if req.endpoint == "chat.completions" else "prompt",
        )
    if req.max_tokens is None or req.prompt_tokens + req.max_tokens <= context:
        return
    if behaviour == "error":
        raise bad_request(
            f"The prompt is {req.prompt_tokens} tokens and max_tokens is {req.max_tokens}, "
            f"which together exceed the context length of {context} tokens; lower max_tokens "
            "or use context_length_exceeded_behavior: truncate",
            "max_tokens",
        )
    req.max_tokens = context - req.prompt_tokens
    req.normalised["max_tokens"] = req.max_tokens


def _prompt_tokens(req: GenRequest, messages: int) -> int:
    tokens = count_tokens(req.all_text) + PER_IMAGE * len(req.images) + PER_VIDEO * len(req.videos)
    tokens += PER_MESSAGE * messages
    for tool in req.tools:
        tokens += count_tokens(tool.name + " " + tool.description) + count_tokens(
            orjson.dumps(tool.parameters).decode()
        )
    return max(tokens, 1)


def chat_request(body: Any, catalog: Catalog, limits: Limits) -> GenRequest:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object", None)
    model = _model(body, catalog)
    if model.kind != "chat":
        raise bad_request(f"Model {model.id} is an embedding model; it cannot chat", "model")
    reject_unknown_fields(body, CHAT_FIELDS)
    messages = body.get("messages")
    if messages is None:
        raise bad_request("'messages' is required", "messages")
    if not isinstance(messages, list):
        raise _wrong("messages", "an array", messages)
    if not messages:
        raise bad_request("'messages' must contain at least one message", "messages")
    images: list[Image] = []
    videos: list[Image] = []
    budget = _Budget()
    norm_messages = [
        _message(i, m, model, limits, images, videos, budget) for i, m in enumerate(messages)
    ]
    if len(images) > limits.max_images:
        raise bad_request(f"Too many images: at most {limits.max_images} per request", "messages")
    n, max_tokens, stop = _common_sampling(body, model)
    stream = bool(_bool(body, "stream"))
    schema, json_mode, grammar = _response_format(body)
    tools, tool_choice = _tools(body)
    if body.get("functions") is not None and not isinstance(body["functions"], list):
        raise _wrong("functions", "an array", body["functions"])
    reasoning, effort, cap = _reasoning(body, model)

    texts = [_text_of(m["content"]) for m in norm_messages]
    last_user = ""
    for m, text in zip(reversed(norm_messages), reversed(texts), strict=True):
        if m["role"] == "user":
            last_user = text
            break
    all_text = "\n".join(texts)
    fields: dict[str, Any] = {"messages": norm_messages}
    if isinstance(tool_choice, dict):
        fields["tool_choice"] = tool_choice
    normalised = _normalised(
        body, "chat.completions", fields, n, max_tokens, stop, schema, json_mode
    )
    req = GenRequest(
        endpoint="chat.completions",
        model=model,
        normalised=normalised,
        text=last_user,
        all_text=all_text,
        images=images,
        tools=tools,
        tool_choice=tool_choice,
        last_role=norm_messages[-1]["role"],
        schema=schema,
        json_mode=json_mode,
        n=n,
        max_tokens=max_tokens,
        stop=stop,
        stream=stream,
        videos=videos,
        reasoning=reasoning,
        effort=effort,
        reasoning_cap=cap,
        grammar=grammar,
    )
    _flags(body, req, chat=True)
    req.prompt_tokens = _prompt_tokens(req, len(norm_messages))
    _fit_context(body, req)
    req.digest = digest_of(normalised)
    return req


# --- completions ------------------------------------------------------------------------------


def _prompts(value: Any) -> list[str]:
    if value is None:
        raise bad_request("'prompt' is required", "prompt")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(type(t) is int for t in value):
            return [" ".join(f"<{t}>" for t in value)]
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list) and all(type(t) is int for t in item):
                out.append(" ".join(f"<{t}>" for t in item))
            else:
                raise _wrong(f"prompt[{i}]", "a string or an array of token ids", item)
        return out
    raise _wrong("prompt", "a string, an array of strings or an array of token ids", value)


def completion_request(body: Any, catalog: Catalog, limits: Limits) -> GenRequest:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object", None)
    model = _model(body, catalog)
    if model.kind != "chat":
        raise bad_request(f"Model {model.id} is an embedding model; it cannot complete", "model")
    reject_unknown_fields(body, COMPLETION_FIELDS)
    prompts = _prompts(body.get("prompt"))
    images: list[Image] = []
    raw_images = body.get("images")
    if raw_images is not None:
        if not isinstance(raw_images, list):
            raise _wrong("images", "an array of image URLs", raw_images)
        if raw_images and not model.vision:
            raise bad_request(
                f"Model {model.id} does not support image inputs; use a vision model", "images"
            )
        if len(raw_images) > limits.max_images:
            raise bad_request(f"Too many images: at most {limits.max_images} per request", "images")
        budget = _Budget()
        images = [_image(u, f"images[{i}]", limits, budget) for i, u in enumerate(raw_images)]
    n, max_tokens, stop = _common_sampling(body, model)
    stream = bool(_bool(body, "stream"))
    echo = bool(_bool(body, "echo"))
    schema, json_mode, grammar = _response_format(body)
    reasoning, effort, cap = _reasoning(body, model)
    fields: dict[str, Any] = {"prompt": prompts}
    if images:
        fields["images"] = [im.sha256 for im in images]
    normalised = _normalised(body, "completions", fields, n, max_tokens, stop, schema, json_mode)
    req = GenRequest(
        endpoint="completions",
        model=model,
        normalised=normalised,
        text=prompts[-1],
        prompts=prompts,
        all_text="\n".join(prompts),
        images=images,
        schema=schema,
        json_mode=json_mode,
        n=n,
        max_tokens=max_tokens,
        stop=stop,
        stream=stream,
        echo=echo,
        reasoning=reasoning,
        effort=effort,
        reasoning_cap=cap,
        grammar=grammar,
    )
    _flags(body, req, chat=False)
    req.prompt_tokens = _prompt_tokens(req, 0)
    _fit_context(body, req)
    req.digest = digest_of(normalised)
    return req


# --- embeddings -------------------------------------------------------------------------------


def embedding_request(body: Any, catalog: Catalog) -> EmbeddingRequest:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object", None)
    model = _model(body, catalog)
    if model.kind != "embedding":
        raise bad_request(f"Model {model.id} is not an embedding model", "model")
    reject_unknown_fields(body, EMBEDDING_FIELDS)
    value = body.get("input")
    template = body.get("prompt_template")
    if template is not None and not isinstance(template, str):
        raise _wrong("prompt_template", "a string", template)
    inputs: list[str]
    if value is None:
        raise bad_request("'input' is required", "input")
    if isinstance(value, str | dict):
        value = [value]
    if isinstance(value, list):
        # An empty list is answered with empty data (the real endpoint does the same).
        if value and all(type(t) is int for t in value):
            inputs = [" ".join(f"<{t}>" for t in value)]
        else:
            inputs = []
            for i, item in enumerate(value):
                if isinstance(item, str):
                    inputs.append(_templated(template, {"text": item}, i) if template else item)
                elif isinstance(item, dict):
                    # "You can pass structured object(s) to use along with the prompt_template."
                    if template is None:
                        raise bad_request(
                            f"'input[{i}]' is an object; objects need 'prompt_template'",
                            f"input[{i}]",
                        )
                    inputs.append(_templated(template, item, i))
                elif isinstance(item, list) and item and all(type(t) is int for t in item):
                    inputs.append(" ".join(f"<{t}>" for t in item))
                else:
                    raise _wrong(
                        f"input[{i}]", "a string, an object or an array of token ids", item
                    )
    else:
        raise _wrong("input", "a string, an object or an array", value)
    if len(inputs) > 2048:
        raise bad_request(f"'input' allows at most 2048 items, got {len(inputs)}", "input")
    for i, text in enumerate(inputs):
        if text == "":
            raise bad_request(
                f"'input[{i}]' must not be empty", f"input[{i}]" if len(inputs) > 1 else "input"
            )
    dims = _int(body, "dimensions", 1, model.dimensions) or model.dimensions
    fmt: Literal["float", "base64"] = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_request(
            f"'encoding_format' must be float or base64, got {fmt!r}", "encoding_format"
        )
    _bool(body, "normalize")
    _bool(body, "raw_output")
    _bool(body, "perf_metrics_in_response")
    normalised = {"endpoint": "embeddings", "model": model.id, "dimensions": dims}
    req = EmbeddingRequest(model, inputs, dims, fmt, normalised)
    req.digest = digest_of({**normalised, "input": inputs})
    return req


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def _templated(template: str, values: dict[str, Any], index: int) -> str:
    """`prompt_template` with `{field}` placeholders filled from the input object."""
    try:
        return template.format_map(_Fields(values))
    except KeyError as exc:
        raise bad_request(
            f"'prompt_template' uses {{{exc.args[0]}}} but input[{index}] has no such field",
            f"input[{index}]",
        ) from None
    except (ValueError, IndexError, AttributeError) as exc:
        raise bad_request(
            f"'prompt_template' is not a valid template: {exc}", "prompt_template"
        ) from None


def sanitised_body(body: Any, images: list[Image], videos: list[Image] | None = None) -> Any:
    """The body for the journal: inline images and videos replaced by short references."""
    if not (images or videos) or not isinstance(body, dict):
        return body
    refs = iter(images)
    video_refs = iter(videos or ())
    out = dict(body)
    if isinstance(body.get("messages"), list):
        msgs = []
        for m in body["messages"]:
            if isinstance(m, dict) and isinstance(m.get("content"), list):
                parts = []
                for part in m["content"]:
                    if isinstance(part, dict) and part.get("type") == "image_url":
                        parts.append({"type": "image_url", "image_url": {"url": next(refs).ref}})
                    elif isinstance(part, dict) and part.get("type") == "video_url":
                        ref = next(video_refs).ref
                        parts.append({"type": "video_url", "video_url": {"url": ref}})
                    else:
                        parts.append(part)
                m = {**m, "content": parts}
            msgs.append(m)
        out["messages"] = msgs
    if isinstance(body.get("images"), list):
        out["images"] = [im.ref for im in images]
    return out
