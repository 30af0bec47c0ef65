"""Where the mock follows the real API's documented behaviour (issue 13, "Behaviour that
differs"): each test names the documentation it follows. Clients are the real `openai` and
`fireworks-ai` SDKs, raw HTTP where no SDK call covers the case."""

from __future__ import annotations

import re
from typing import Any

import fireworks
import httpx
import openai
import pytest

from tests.unit.fireworks.conftest import CHAT, EMBED, VISION, Wire, data_url, png

URL = "/inference/v1/chat/completions"
USER: Wire = [{"role": "user", "content": "Describe a gearbox."}]
SMALL = "accounts/fireworks/models/firefunction-v2"  # 8,192-token context in the catalogue


def _error(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["param"] == param
    return error


# --- 1. ids -------------------------------------------------------------------------------------


def test_every_response_gets_a_fresh_id_and_the_same_content(
    oai: openai.OpenAI, fw: fireworks.Fireworks
) -> None:
    """API reference, chat completion response: `id` is "A unique identifier of the response".
    Content stays deterministic (the mock's contract); ids never repeat, streamed or not."""
    replies: list[openai.types.chat.ChatCompletion | fireworks.types.chat.CompletionCreateResponse]
    replies = [oai.chat.completions.create(model=CHAT, messages=USER) for _ in range(3)]
    replies.append(fw.chat.completions.create(model=CHAT, messages=USER))
    assert len({r.id for r in replies}) == 4
    assert len({r.choices[0].message.content for r in replies}) == 1
    ids = {
        chunk.id for chunk in oai.chat.completions.create(model=CHAT, messages=USER, stream=True)
    }
    assert len(ids) == 1 and ids.isdisjoint({r.id for r in replies})


# --- 2. max_tokens above the context ------------------------------------------------------------


def test_max_tokens_above_the_context_is_lowered_by_default(fw: fireworks.Fireworks) -> None:
    """`context_length_exceeded_behavior`: "Passing `truncate` limits the `max_tokens` to at most
    `context_window_length - prompt_length`. This is the default." No 400."""
    reply = fw.chat.completions.create(model=SMALL, messages=USER, max_tokens=100_000)
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens <= 8192
    explicit = fw.chat.completions.create(
        model=SMALL,
        messages=USER,
        max_tokens=100_000,
        context_length_exceeded_behavior="truncate",
    )
    assert explicit.choices[0].message.content == reply.choices[0].message.content


def test_max_tokens_above_the_context_with_error_behaviour_is_400(
    fw: fireworks.Fireworks, http: httpx.Client
) -> None:
    """`context_length_exceeded_behavior: "error"`: "Passing `error` would trigger a request
    error"."""
    with pytest.raises(fireworks.BadRequestError) as exc:
        fw.chat.completions.create(
            model=SMALL, messages=USER, max_tokens=9000, context_length_exceeded_behavior="error"
        )
    assert exc.value.status_code == 400
    assert "context length of 8192" in str(exc.value)
    # Within the context, "error" changes nothing.
    ok = http.post(
        URL,
        json={
            "model": SMALL,
            "messages": USER,
            "max_tokens": 100,
            "context_length_exceeded_behavior": "error",
        },
    )
    assert ok.status_code == 200
    _error(
        http.post(
            URL,
            json={"model": SMALL, "messages": USER, "context_length_exceeded_behavior": "cut"},
        ),
        400,
        "context_length_exceeded_behavior",
    )


def test_a_prompt_longer_than_the_context_is_400_either_way(http: httpx.Client) -> None:
    """`max_tokens` can be lowered to fit, a prompt cannot: the reference's `prompt_truncate_len`
    note says without it "you may receive 'prompt too long' errors"."""
    long = [{"role": "user", "content": "word " * 9000}]
    error = _error(http.post(URL, json={"model": SMALL, "messages": long}), 400, "messages")
    assert "too long" in error["message"]


# --- 3. parameter ranges ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad", "good"),
    [
        ("top_k", 101, 100),  # "Required range: 0 <= x <= 100"
        ("top_k", -1, 0),
        ("top_logprobs", 6, 5),  # "Required range: 0 <= x <= 5"
        ("repetition_penalty", 2.5, 2.0),  # "Required range: 0 <= x <= 2"
        ("repetition_penalty", -0.1, 0.0),
    ],
)
def test_documented_parameter_ranges(
    http: httpx.Client, field: str, bad: float, good: float
) -> None:
    """The API reference's "Required range" for top_k, top_logprobs and repetition_penalty: out
    of range is a 400 naming the field; the bounds themselves are accepted."""
    extra = {"logprobs": True} if field == "top_logprobs" else {}
    body = {"model": CHAT, "messages": USER, **extra}
    error = _error(http.post(URL, json={**body, field: bad}), 400, field)
    assert field in error["message"]
    assert http.post(URL, json={**body, field: good}).status_code == 200


def test_logprobs_integer_form_is_at_most_5(http: httpx.Client) -> None:
    """`logprobs`: "The maximum value for the integer form is 5"."""
    body = {"model": CHAT, "prompt": "The pump"}
    _error(http.post("/inference/v1/completions", json={**body, "logprobs": 6}), 400, "logprobs")
    assert http.post("/inference/v1/completions", json={**body, "logprobs": 5}).status_code == 200


# --- 4. unknown parameters ----------------------------------------------------------------------

_FIELD = re.compile(r"field: '([^']+)'")


def test_unknown_parameter_message_names_the_field_the_way_fireworks_does(
    oai: openai.OpenAI,
) -> None:
    """Fireworks answers an unknown body field with "Extra inputs are not permitted, field:
    'NAME', value: ..."; clients parse `field: '...'` out of the message, drop the field and
    retry. This does exactly that through the openai SDK."""
    extra = {"reasoning": {"effort": "low"}, "max_token": 5}
    for _ in range(3):
        try:
            reply = oai.chat.completions.create(model=CHAT, messages=USER, extra_body=extra)
            break
        except openai.BadRequestError as exc:
            message = exc.body["message"]  # type: ignore[index]
            assert message.startswith("Extra inputs are not permitted, field: ")
            match = _FIELD.search(message)
            assert match is not None and ", value: " in message
            assert exc.body["param"] == match.group(1)  # type: ignore[index]
            extra.pop(match.group(1))
    else:
        pytest.fail("the retry loop never succeeded")
    assert extra == {} and reply.choices[0].message.content


def test_unknown_parameter_value_is_shown(http: httpx.Client) -> None:
    response = http.post(URL, json={"model": CHAT, "messages": USER, "max_token": 5})
    error = _error(response, 400, "max_token")
    assert error["message"] == "Extra inputs are not permitted, field: 'max_token', value: 5"


# --- 5. flat tool_choice ------------------------------------------------------------------------

TOOLS: Wire = [
    {
        "type": "function",
        "function": {
            "name": "lookup_part",
            "parameters": {"type": "object", "properties": {"part": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "order_part",
            "parameters": {
                "type": "object",
                "properties": {"qty": {"type": "integer"}},
                "required": ["qty"],
            },
        },
    },
]


def test_tool_choice_flat_form_forces_that_function(fw: fireworks.Fireworks) -> None:
    """`tool_choice`: "To force a specific function, pass an object of the form
    `{ "type": "function", "name": "my_function" }` or `{ "type": "function", "function": {
    "name": "my_function" } }` for OpenAI compatibility." Both give the same call."""
    # The flat form is in the API reference quoted above, not in fireworks-ai's types.
    flat = fw.chat.completions.create(  # type: ignore[call-overload]
        model=CHAT,
        messages=USER,
        tools=TOOLS,
        tool_choice={"type": "function", "name": "order_part"},
    )
    nested = fw.chat.completions.create(
        model=CHAT,
        messages=USER,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "order_part"}},
    )
    call = flat.choices[0].message.tool_calls[0]
    assert call.function.name == "order_part"
    assert nested.choices[0].message.tool_calls
    nested_function = nested.choices[0].message.tool_calls[0].function
    assert not isinstance(nested_function, str)
    assert call.function.arguments == nested_function.arguments


def test_tool_choice_flat_form_naming_an_absent_tool_is_400(http: httpx.Client) -> None:
    """The forced function must be one of `tools` ("To force a specific function")."""
    body = {"model": CHAT, "messages": USER, "tools": TOOLS}
    _error(
        http.post(URL, json={**body, "tool_choice": {"type": "function", "name": "nope"}}),
        400,
        "tool_choice.function.name",
    )


# --- 6. image formats and the total base64 limit ------------------------------------------------


def _bmp() -> bytes:
    pixels = b"\x00\x00\xff\x00"  # one 24-bit pixel, row padded to 4 bytes
    header = b"BM" + (58).to_bytes(4, "little") + b"\x00" * 4 + (54).to_bytes(4, "little")
    info = (40).to_bytes(4, "little") + (1).to_bytes(4, "little") * 2 + b"\x01\x00\x18\x00"
    return header + info + b"\x00" * 24 + pixels


def _tiff() -> bytes:
    return b"II*\x00\x08\x00\x00\x00\x00\x00"


def _ppm() -> bytes:
    return b"P6\n1 1\n255\n\xff\x00\x00"


@pytest.mark.parametrize(
    ("mime", "data"),
    [("image/bmp", _bmp()), ("image/tiff", _tiff()), ("image/x-portable-pixmap", _ppm())],
)
def test_bmp_tiff_and_ppm_images_are_accepted(oai: openai.OpenAI, mime: str, data: bytes) -> None:
    """Vision guide, "Known limitations": "Supported formats: .png, .jpg, .jpeg, .gif, .bmp,
    .tiff, .ppm"."""
    reply = oai.chat.completions.create(
        model=VISION,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": data_url(data, mime)}},
                ],
            }
        ],
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.prompt_tokens > 256


def test_a_tiff_declared_as_png_is_rejected(http: httpx.Client) -> None:
    """Base64 images are "prefixed with MIME types" (vision guide); the bytes must be that type."""
    url = data_url(_tiff(), "image/png")
    content = [{"type": "image_url", "image_url": {"url": url}}]
    error = _error(
        http.post(URL, json={"model": VISION, "messages": [{"role": "user", "content": content}]}),
        400,
        "messages[0].content[0].image_url.url",
    )
    assert "tiff" in error["message"]


def test_total_base64_of_all_images_must_stay_under_10_mb(http: httpx.Client) -> None:
    """Vision guide: "Base64 size limit: Total base64-encoded images must be less than 10MB".
    Three images of about 3.5 MB each pass alone and fail together, on the one that crosses."""
    big = png() + b"\x00" * (3_500_000 * 3 // 4)
    part = {"type": "image_url", "image_url": {"url": data_url(big)}}
    one = [{"role": "user", "content": [part]}]
    assert http.post(URL, json={"model": VISION, "messages": one}, timeout=60).status_code == 200
    three = [{"role": "user", "content": [part, part, part]}]
    error = _error(
        http.post(URL, json={"model": VISION, "messages": three}, timeout=60),
        400,
        "messages[0].content[2].image_url.url",
    )
    assert "10 MB" in error["message"]


# --- 7. embeddings ------------------------------------------------------------------------------


def test_embeddings_of_an_empty_list_is_200_with_no_data(
    oai: openai.OpenAI, http: httpx.Client
) -> None:
    """The real endpoint answers `input: []` with 200 and empty `data`. Raw HTTP: the openai
    SDK itself raises "No embedding data received" on an empty list, before the app sees it."""
    response = http.post("/inference/v1/embeddings", json={"model": EMBED, "input": []})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == [] and body["usage"] == {"prompt_tokens": 0, "total_tokens": 0}
    assert response.headers["x-ratelimit-limit-tokens-prompt"]
    with pytest.raises(ValueError, match="No embedding data"):
        oai.embeddings.create(model=EMBED, input=[])


def test_embeddings_objects_with_prompt_template(oai: openai.OpenAI, http: httpx.Client) -> None:
    """Embeddings API reference: "You can pass structured object(s) to use along with the
    prompt_template", e.g. `"prompt_template": "Embed this text: {text}"`. The vector is that of
    the filled-in template."""
    templated = oai.embeddings.create(
        model=EMBED,
        input=[],
        extra_body={
            "input": [{"title": "Pump", "body": "A blue pump"}],
            "prompt_template": "{title}: {body}",
        },
    )
    plain = oai.embeddings.create(model=EMBED, input="Pump: A blue pump")
    assert templated.data[0].embedding == plain.data[0].embedding
    missing = http.post(
        "/inference/v1/embeddings",
        json={"model": EMBED, "input": [{"title": "x"}], "prompt_template": "{title} {body}"},
    )
    assert _error(missing, 400, "input[0]")["message"].endswith("has no such field")
    no_template = http.post(
        "/inference/v1/embeddings", json={"model": EMBED, "input": [{"title": "x"}]}
    )
    _error(no_template, 400, "input[0]")


def test_embeddings_accept_the_fields_the_real_api_accepts(oai: openai.OpenAI) -> None:
    """The embeddings request body takes `prompt_cache_key`, `raw_output` and
    `perf_metrics_in_response` besides OpenAI's fields; they are not unknown inputs."""
    reply = oai.embeddings.create(
        model=EMBED,
        input="hello",
        extra_body={
            "prompt_cache_key": "k1",
            "raw_output": False,
            "perf_metrics_in_response": True,
        },
    )
    assert len(reply.data[0].embedding) == 768


# --- 8. streaming usage -------------------------------------------------------------------------


def test_include_usage_adds_a_final_chunk_with_empty_choices(oai: openai.OpenAI) -> None:
    """OpenAI's `stream_options.include_usage`: "an additional chunk will be streamed before the
    data: [DONE] message. The usage field on this chunk shows the token usage statistics for the
    entire request, and the choices field will always be an empty array"."""
    chunks = list(
        oai.chat.completions.create(
            model=CHAT, messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    whole = oai.chat.completions.create(model=CHAT, messages=USER)
    assert last.usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]
    assert chunks[-2].choices[0].finish_reason == "stop"
    # Only that chunk carries usage, so clients that add up per-chunk usage count it once.
    assert [c.usage is not None for c in chunks].count(True) == 1


def test_n_choices_interleave_and_each_final_chunk_carries_usage(oai: openai.OpenAI) -> None:
    """With n > 1 Fireworks streams the choices side by side (chunks of different indexes
    interleave) and every choice's final chunk (the one with finish_reason) carries `usage`."""
    chunks = list(oai.chat.completions.create(model=CHAT, messages=USER, n=3, stream=True))
    indexes = [c.choices[0].index for c in chunks]
    assert indexes[:3] == [0, 1, 2]  # the role chunks of the three choices first
    finals = [c for c in chunks if c.choices[0].finish_reason is not None]
    assert sorted(c.choices[0].index for c in finals) == [0, 1, 2]
    assert all(c.usage is not None and c.usage.completion_tokens > 0 for c in finals)
    texts = ["", "", ""]
    for c in chunks:
        texts[c.choices[0].index] += c.choices[0].delta.content or ""
    whole = oai.chat.completions.create(model=CHAT, messages=USER, n=3)
    assert texts == [ch.message.content for ch in whole.choices]
