"""Features of the real API the mock now serves (issue 13, "Missing features"): the current model
catalogue, reasoning, logprobs, perf metrics and rate-limit headers, raw output and token ids,
grammar mode and video input. Each test names the documentation it follows; clients are the real
`openai` and `fireworks-ai` SDKs."""

from __future__ import annotations

import json
import re

import fireworks
import httpx
import openai
import pytest

from devenv.mocks.fireworks.models import CATALOGUE_FILE
from tests.unit.fireworks.conftest import CHAT, VISION, Wire

M = "accounts/fireworks/models/"
USER: Wire = [{"role": "user", "content": "What is 25 * 37?"}]


# --- 1. the catalogue ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "context"),
    [
        ("kimi-k2-instruct-0905", 262144),
        ("deepseek-v3p1", 163840),
        ("gpt-oss-120b", 131072),
        ("qwen3-235b-a22b", 131072),
        ("qwen3-coder-480b-a35b-instruct", 262144),
        ("glm-4p5", 131072),
        ("glm-4p5-air", 131072),
    ],
)
def test_current_models_answer_with_their_context(
    fw: fireworks.Fireworks, oai: openai.OpenAI, model: str, context: int
) -> None:
    """The models the API reference uses in its examples (`kimi-k2-instruct-0905`) and the
    current serverless families answer; their context lengths are the published ones."""
    reply = fw.chat.completions.create(model=M + model, messages=USER, max_tokens=20)
    assert reply.model == M + model and reply.choices[0].message.content is not None
    listed = {m.id: m for m in oai.models.list()}
    assert listed[M + model].model_extra["context_length"] == context  # type: ignore[index]
    # The context is what max_tokens is fitted to: one token more than fits is lowered.
    fitted = fw.chat.completions.create(model=M + model, messages=USER, max_tokens=context)
    assert fitted.choices[0].finish_reason in ("stop", "length")


def test_models_list_is_the_catalogue_file_with_flags(oai: openai.OpenAI) -> None:
    """`GET /models` lists every model of the one data file, with vision, video and reasoning
    flags; embedding models are listed as such."""
    shipped = json.loads(CATALOGUE_FILE.read_text())["models"]
    listed = {m.id: m.model_extra for m in oai.models.list()}
    assert set(listed) >= {m["id"] for m in shipped}
    assert listed[M + "gpt-oss-120b"]["supports_reasoning"] is True  # type: ignore[index]
    assert listed[CHAT]["supports_reasoning"] is False  # type: ignore[index]
    assert listed[VISION]["supports_image_input"] is True  # type: ignore[index]
    assert listed[M + "qwen3-vl-235b-a22b-instruct"]["supports_video_input"] is True  # type: ignore[index]
    assert listed[M + "qwen3-embedding-8b"]["supports_chat"] is False  # type: ignore[index]


# --- 2. reasoning -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-oss-120b", "glm-4p5", "deepseek-v3p2"])
def test_reasoning_models_put_reasoning_in_reasoning_content(
    fw: fireworks.Fireworks, model: str
) -> None:
    """Reasoning guide: "Fireworks provides access to the model's reasoning process through the
    `reasoning_content` field", separate from the final answer in `content`."""
    reply = fw.chat.completions.create(model=M + model, messages=USER)
    message = reply.choices[0].message
    assert message.reasoning_content and message.content
    assert "<think>" not in message.content
    assert isinstance(message.content, str)
    assert reply.usage is not None and reply.usage.completion_tokens is not None
    assert reply.usage.completion_tokens > len(message.content.split())


def test_think_tag_families_emit_think_blocks_in_content(oai: openai.OpenAI) -> None:
    """DeepSeek R1 FAQ: "Fireworks defaults to the simplest approach of returning
    <think>...</think> in the response"; Qwen3 reasons by default the same way."""
    for model in ("deepseek-r1-0528", "qwen3-235b-a22b"):
        content = oai.chat.completions.create(model=M + model, messages=USER).choices[0]
        assert re.match(r"(?s)^<think>\n.+\n</think>\n\n\S", content.message.content or "")


def test_reasoning_effort_is_honoured(fw: fireworks.Fireworks, http: httpx.Client) -> None:
    """`reasoning_effort` model-specific behaviour: GPT-OSS takes only low/medium/high and
    "does not support 'none', false, or integer values" ("Invalid reasoning effort: none");
    lower effort gives shorter reasoning. DeepSeek V3.1 is off by default and turned on by
    `true`; Qwen3 is on by default, off with 'none', and an integer caps the reasoning tokens."""
    oss = M + "gpt-oss-120b"
    low = fw.chat.completions.create(model=oss, messages=USER, reasoning_effort="low")
    high = fw.chat.completions.create(model=oss, messages=USER, reasoning_effort="high")
    assert len(low.choices[0].message.reasoning_content or "") < len(
        high.choices[0].message.reasoning_content or ""
    )
    for bad in ("none", False, 500):
        response = http.post(
            "/inference/v1/chat/completions",
            json={"model": oss, "messages": USER, "reasoning_effort": bad},
        )
        assert response.status_code == 400, bad
        assert response.json()["error"]["message"].startswith("Invalid reasoning effort")

    v31 = M + "deepseek-v3p1"
    assert (
        fw.chat.completions.create(model=v31, messages=USER).choices[0].message.reasoning_content
        is None
    )
    on = fw.chat.completions.create(model=v31, messages=USER, reasoning_effort=True)
    assert on.choices[0].message.reasoning_content

    qwen = M + "qwen3-235b-a22b"
    off = fw.chat.completions.create(model=qwen, messages=USER, reasoning_effort="none")
    assert "<think>" not in (off.choices[0].message.content or "")
    capped = fw.chat.completions.create(model=qwen, messages=USER, reasoning_effort=6)
    content = capped.choices[0].message.content or ""
    assert isinstance(content, str)
    think = content.split("</think>")[0]
    assert len(re.findall(r"\w+|[^\w\s]", think.removeprefix("<think>"))) == 6


def test_thinking_and_reasoning_effort_together_are_rejected(fw: fireworks.Fireworks) -> None:
    """`thinking`: "Cannot be specified together with `reasoning_effort`. If both are provided,
    a validation error will be raised." `{"type": "disabled"}` turns reasoning off."""
    with pytest.raises(fireworks.BadRequestError):
        fw.chat.completions.create(
            model=M + "glm-4p5",
            messages=USER,
            reasoning_effort="low",
            thinking={"type": "enabled"},
        )
    off = fw.chat.completions.create(
        model=M + "glm-4p5", messages=USER, thinking={"type": "disabled"}
    )
    assert off.choices[0].message.reasoning_content is None
    # "budget_tokens ... Must be >= 1024 if specified."
    with pytest.raises(fireworks.BadRequestError) as exc:
        fw.chat.completions.create(
            model=M + "qwen3-8b",
            messages=USER,
            thinking={"type": "enabled", "budget_tokens": 100},
        )
    assert "thinking.budget_tokens" in str(exc.value)
    budgeted = fw.chat.completions.create(
        model=M + "qwen3-8b", messages=USER, thinking={"type": "enabled", "budget_tokens": 2048}
    )
    budgeted_content = budgeted.choices[0].message.content or ""
    assert isinstance(budgeted_content, str) and budgeted_content.startswith("<think>")


def test_reasoning_streams_as_reasoning_content_deltas(fw: fireworks.Fireworks) -> None:
    """Streaming: the chunk delta's `reasoning_content` carries the reasoning before the answer's
    `content` deltas; together they equal the non-streamed reply."""
    kwargs = {"model": M + "glm-4p5", "messages": USER}
    whole = fw.chat.completions.create(**kwargs).choices[0].message
    reasoning, content, order = "", "", []
    for chunk in fw.chat.completions.create(stream=True, **kwargs):
        delta = chunk.choices[0].delta
        if delta.reasoning_content:
            reasoning += delta.reasoning_content
            order.append("r")
        if delta.content:
            content += delta.content
            order.append("c")
    assert (reasoning, content) == (whole.reasoning_content, whole.content)
    assert "".join(order).startswith("r") and "cr" not in "".join(order)


# --- 3. logprobs --------------------------------------------------------------------------------


def test_chat_logprobs_with_top_alternatives(oai: openai.OpenAI, fw: fireworks.Fireworks) -> None:
    """`logprobs: true`: "log probabilities are included and the number of alternatives can be
    controlled via `top_logprobs`" (OpenAI's `logprobs.content[]`). Deterministic like the
    content; the tokens spell the content."""
    a = oai.chat.completions.create(model=CHAT, messages=USER, logprobs=True, top_logprobs=3)
    b = fw.chat.completions.create(model=CHAT, messages=USER, logprobs=True, top_logprobs=3)
    entries = a.choices[0].logprobs.content  # type: ignore[union-attr]
    assert entries and "".join(e.token for e in entries) == a.choices[0].message.content
    for e in entries:
        assert e.logprob <= 0 and len(e.top_logprobs) == 3
        assert e.top_logprobs[0].token == e.token
        assert [t.logprob for t in e.top_logprobs] == sorted(
            (t.logprob for t in e.top_logprobs), reverse=True
        )
    assert [e.logprob for e in b.choices[0].logprobs.content] == [e.logprob for e in entries]  # type: ignore[union-attr]


def test_completions_integer_logprobs_gives_the_legacy_shape(oai: openai.OpenAI) -> None:
    """`logprobs` as an integer N: "include log probabilities for up to N most likely tokens
    per position in the legacy format", "up to `logprobs+1` elements"."""
    reply = oai.completions.create(model=CHAT, prompt="The pump", logprobs=2, max_tokens=8)
    lp = reply.choices[0].logprobs
    assert lp is not None and lp.tokens and "".join(lp.tokens) == reply.choices[0].text
    assert len(lp.token_logprobs) == len(lp.tokens) == len(lp.top_logprobs)  # type: ignore[arg-type]
    assert all(1 <= len(top) <= 3 for top in lp.top_logprobs)  # type: ignore[union-attr]
    assert lp.text_offset is not None
    assert lp.text_offset[0] == 0 and lp.text_offset == sorted(lp.text_offset)


def test_streamed_logprobs_match_the_whole_reply(oai: openai.OpenAI) -> None:
    """Chunk `logprobs` (ChatCompletionChunk choices carry `logprobs`): one entry per streamed
    token, the same as the non-streamed reply's."""
    whole = oai.chat.completions.create(model=CHAT, messages=USER, logprobs=True, top_logprobs=1)
    streamed = [
        e
        for c in oai.chat.completions.create(
            model=CHAT, messages=USER, logprobs=True, top_logprobs=1, stream=True
        )
        if c.choices and c.choices[0].logprobs
        for e in c.choices[0].logprobs.content or ()
    ]
    assert [e.token for e in streamed] == [e.token for e in whole.choices[0].logprobs.content]  # type: ignore[union-attr]


# --- 4. perf metrics and headers ----------------------------------------------------------------


def test_perf_metrics_in_body_and_headers(fw: fireworks.Fireworks) -> None:
    """`perf_metrics_in_response`: "Non-streaming requests: Performance metrics are always
    included in response headers (e.g. `fireworks-prompt-tokens`,
    `fireworks-server-time-to-first-token`). Setting this to `true` additionally includes the same
    metrics in the response body under the `perf_metrics` field." The rate-limits guide: the
    effective limits are in `X-Ratelimit-Limit-Tokens-Prompt` and `-Generated`."""
    raw = fw.chat.completions.with_raw_response.create(
        model=CHAT, messages=USER, perf_metrics_in_response=True
    )
    reply = raw.parse()
    metrics = reply.perf_metrics
    assert metrics is not None and reply.usage is not None
    assert metrics["prompt-tokens"] == reply.usage.prompt_tokens
    assert int(raw.headers["fireworks-prompt-tokens"]) == reply.usage.prompt_tokens
    assert float(raw.headers["fireworks-server-time-to-first-token"]) >= 0
    assert {"server-time-to-first-token", "server-processing-time"} <= set(metrics)
    assert raw.headers["x-ratelimit-limit-tokens-prompt"] == "3600000"
    assert raw.headers["x-ratelimit-limit-tokens-generated"] == "36000"
    plain = fw.chat.completions.create(model=CHAT, messages=USER)
    assert plain.perf_metrics is None


def test_perf_metrics_in_the_final_stream_chunk(fw: fireworks.Fireworks) -> None:
    """ "Streaming requests: Performance metrics are only included in the response body under
    the `perf_metrics` field in the final chunk (when `finish_reason` is set)"."""
    chunks = list(
        fw.chat.completions.create(
            model=CHAT, messages=USER, stream=True, perf_metrics_in_response=True
        )
    )
    with_metrics = [c for c in chunks if c.perf_metrics]
    assert len(with_metrics) == 1 and with_metrics[0].choices[0].finish_reason == "stop"


def test_rate_limit_headers_on_every_success(http: httpx.Client) -> None:
    """Rate-limits guide: the effective limits are in the response headers; on every success, not
    only chat."""
    for response in (
        http.get("/inference/v1/models"),
        http.post("/inference/v1/completions", json={"model": CHAT, "prompt": "x"}),
        http.post(
            "/inference/v1/embeddings",
            json={"model": "nomic-ai/nomic-embed-text-v1.5", "input": "x"},
        ),
    ):
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit-tokens-prompt"] == "3600000"
        assert response.headers["x-ratelimit-limit-tokens-generated"] == "36000"


# --- 5. raw output and token ids ----------------------------------------------------------------


def test_raw_output_and_token_ids(fw: fireworks.Fireworks) -> None:
    """`raw_output: true` adds `choices[].raw_output` ("low-level interaction of what the model
    sees, including the formatted prompt and function calls"); `return_token_ids: true` adds
    `prompt_token_ids` and `choices[].token_ids`. The ids agree with each other and with usage."""
    reply = fw.chat.completions.create(
        model=CHAT, messages=USER, raw_output=True, return_token_ids=True, max_tokens=12
    )
    choice = reply.choices[0]
    raw = choice.raw_output
    assert raw is not None and reply.usage is not None
    assert raw.completion == choice.message.content
    assert "What is 25 * 37?" in "".join(str(f) for f in raw.prompt_fragments)
    assert reply.prompt_token_ids == raw.prompt_token_ids
    assert len(reply.prompt_token_ids or ()) == reply.usage.prompt_tokens
    assert choice.token_ids == raw.completion_token_ids
    assert len(choice.token_ids or ()) == reply.usage.completion_tokens


def test_raw_output_shows_the_tool_call_before_parsing(fw: fireworks.Fireworks) -> None:
    tools: Wire = [
        {"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}
    ]
    reply = fw.chat.completions.create(
        model=CHAT, messages=USER, tools=tools, tool_choice="required", raw_output=True
    )
    raw_output = reply.choices[0].raw_output
    assert raw_output is not None and '"name": "calc"' in raw_output.completion


def test_no_token_ids_unless_asked(fw: fireworks.Fireworks) -> None:
    """`raw_output` and `return_token_ids` default to off: the fields are absent without them."""
    reply = fw.chat.completions.create(model=CHAT, messages=USER)
    assert reply.prompt_token_ids is None and reply.choices[0].raw_output is None


# --- 6. grammar mode ----------------------------------------------------------------------------

GRAMMAR = r"""
# an answer and a list of part numbers
root   ::= answer " " parts
answer ::= ("yes" | "no" | "maybe")
parts  ::= part ("," part){0,3}
part   ::= [A-Z]{2} "-" [0-9]+ suffix?
suffix ::= "/" [a-z]
"""
GRAMMAR_RE = re.compile(r"(yes|no|maybe) [A-Z]{2}-[0-9]+(/[a-z])?(,[A-Z]{2}-[0-9]+(/[a-z])?){0,3}")


def test_grammar_mode_output_is_accepted_by_the_grammar(fw: fireworks.Fireworks) -> None:
    """Structured output guide, grammar mode (`response_format: {"type": "grammar", "grammar":
    ...}` in GBNF): the output is one the grammar accepts. Checked against an independent regex
    equal to the grammar, for many prompts; the same request gives the same output."""
    outputs = set()
    for k in range(25):
        reply = fw.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": f"Parts for job {k}?"}],
            response_format={"type": "grammar", "grammar": GRAMMAR},
        )
        text = reply.choices[0].message.content or ""
        assert isinstance(text, str) and GRAMMAR_RE.fullmatch(text), text
        outputs.add(text)
    assert len(outputs) > 10
    again = fw.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Parts for job 0?"}],
        response_format={"type": "grammar", "grammar": GRAMMAR},
    )
    assert again.choices[0].message.content in outputs


def test_recursive_grammar_terminates_and_is_json(oai: openai.OpenAI) -> None:
    """Grammar mode with recursive rules (the JSON grammar of the GBNF examples): the output
    always ends and parses."""
    grammar = r"""
root  ::= value
value ::= object | array | number | string
object ::= "{" ( string ":" value ( "," string ":" value )* )? "}"
array  ::= "[" ( value ( "," value )* )? "]"
number ::= "-"? [1-9] [0-9]*
string ::= "\"" [a-z ]* "\""
"""
    for k in range(10):
        reply = oai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": f"json {k}"}],
            extra_body={"response_format": {"type": "grammar", "grammar": grammar}},
        )
        json.loads(reply.choices[0].message.content or "")


def test_bad_grammar_is_400(http: httpx.Client) -> None:
    """A grammar that does not parse (an undefined rule) is a 400 naming
    `response_format.grammar`."""
    response = http.post(
        "/inference/v1/chat/completions",
        json={
            "model": CHAT,
            "messages": USER,
            "response_format": {"type": "grammar", "grammar": 'root ::= "a" missing'},
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "response_format.grammar" and "missing" in error["message"]


# --- 8. video -----------------------------------------------------------------------------------

VIDEO_MODEL = M + "qwen3-vl-235b-a22b-instruct"


def _video_message(url: str) -> list[Wire]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What happens in this clip?"},
                {"type": "video_url", "video_url": {"url": url, "max_frames": 8}},
            ],
        }
    ]


def test_video_url_parts_on_models_that_take_video(
    fw: fireworks.Fireworks, http: httpx.Client
) -> None:
    """The SDK's ChatMessage content parts include `video_url` {url, detail, max_frames,
    sample_fps, spatial_limit}; models that take video answer, others reject it with a 400
    naming the part."""
    reply = fw.chat.completions.create(
        model=VIDEO_MODEL, messages=_video_message("https://example.com/clip.mp4")
    )
    assert reply.choices[0].message.content and reply.usage is not None
    assert reply.usage.prompt_tokens > 1000
    response = http.post(
        "/inference/v1/chat/completions",
        json={"model": CHAT, "messages": _video_message("https://example.com/clip.mp4")},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[1]"
    inline = http.post(
        "/inference/v1/chat/completions",
        json={"model": VIDEO_MODEL, "messages": _video_message("data:video/mp4;base64,AAAA")},
    )
    assert inline.status_code == 200
