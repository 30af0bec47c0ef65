"""The OpenAI wire format the mock answers in (and Fireworks's additions to it): the
``chat.completion`` and ``text_completion`` objects, their streamed chunks as SSE events, usage,
logprobs, ``raw_output``, ``perf_metrics`` and the embeddings list, built as dicts from the
choices :mod:`devenv.mocks.fireworks.replies` generates (the app serialises them).
"""

from __future__ import annotations

import base64
import itertools
import struct
from typing import Any

import orjson

from devenv.mocks.fireworks.replies import (
    Choice,
    ToolCall,
    completion_token_ids,
    embedding_vector,
    fresh_id,
    logprob_entries,
    pieces,
    prompt_token_ids,
    token_id,
)
from devenv.mocks.fireworks.validation import EmbeddingRequest, GenRequest, count_tokens


def usage(req: GenRequest, chs: list[Choice]) -> dict[str, int]:
    p = req.prompt_tokens
    c = sum(ch.completion_tokens for ch in chs)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


# --- logprobs and raw output ------------------------------------------------------------------


def chat_logprobs(ch: Choice, req: GenRequest) -> dict[str, Any] | None:
    if req.logprobs is None:
        return None
    if req.logprobs == "legacy":
        return legacy_logprobs(ch, req)
    content = []
    offset = 0
    for token, lp, alts in logprob_entries(ch, req.top_logprobs):
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
    for token, lp, alts in logprob_entries(ch, req.top_logprobs + 1):
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


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _message(ch: Choice) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": ch.content}
    if ch.reasoning is not None:
        msg["reasoning_content"] = ch.reasoning
    if ch.tool_calls:
        msg["tool_calls"] = [_tool_call(c) for c in ch.tool_calls]
    return msg


def chat_body(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> dict[str, Any]:
    out_choices = [
        _choice_extras(
            {
                "index": ch.index,
                "message": _message(ch),
                "finish_reason": ch.finish_reason,
                "logprobs": chat_logprobs(ch, req),
            },
            ch,
            req,
        )
        for ch in chs
    ]
    return _body("chat.completion", req, chs, created, out_choices, perf)


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
        out_choices.append(_choice_extras(item, ch, req))
    return _body("text_completion", req, chs, created, out_choices, perf)


def _body(
    kind: str,
    req: GenRequest,
    chs: list[Choice],
    created: int,
    out_choices: list[dict[str, Any]],
    perf: dict[str, Any] | None,
) -> dict[str, Any]:
    body = {**_head(kind, req, created), "choices": out_choices, "usage": usage(req, chs)}
    return _request_extras(body, req, perf)


def _head(kind: str, req: GenRequest, created: int) -> dict[str, Any]:
    """What a body and every chunk of a stream begin with; a stream's chunks share one id."""
    return {"id": fresh_id(), "object": kind, "created": created, "model": req.model.id}


def _choice_extras(item: dict[str, Any], ch: Choice, req: GenRequest) -> dict[str, Any]:
    """A choice with what Fireworks adds to it when asked: ``raw_output``, ``token_ids``."""
    if req.raw_output:
        item["raw_output"] = raw_output(ch, req)
    if req.token_ids:
        item["token_ids"] = completion_token_ids(ch)
    return item


def _request_extras(
    obj: dict[str, Any], req: GenRequest, perf: dict[str, Any] | None
) -> dict[str, Any]:
    """A body (or a stream's final chunk) with ``prompt_token_ids`` and ``perf_metrics`` when
    asked."""
    if req.token_ids:
        obj["prompt_token_ids"] = prompt_token_ids(req)
    if perf is not None:
        obj["perf_metrics"] = perf
    return obj


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


def _final(
    final: dict[str, Any],
    ch: Choice,
    req: GenRequest,
    total: dict[str, int],
    perf: dict[str, Any] | None,
) -> dict[str, Any]:
    """A choice's last chunk (the one with finish_reason) with the usage and the extras."""
    if not req.include_usage:  # else only the extra chunk has it (OpenAI clients sum them)
        final["usage"] = total
    _choice_extras(final["choices"][0], ch, req)
    return _request_extras(final, req, perf)


def chat_stream(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> list[bytes]:
    """Data-only SSE events per choice: a role chunk, reasoning, content (or tool-call) chunks and
    a final chunk with finish_reason and the usage (with `perf_metrics` when asked, as the docs
    put it "in the final chunk (when finish_reason is set)"); choices interleave when n > 1. The
    caller appends ``[DONE]``."""
    head = _head("chat.completion.chunk", req, created)
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
        out.append(_final(final, ch, req, total, perf))
        per_choice.append(out)
    return _stream_tail(req, chs, head, _interleave(per_choice))


def completion_stream(
    req: GenRequest, chs: list[Choice], created: int, perf: dict[str, Any] | None = None
) -> list[bytes]:
    head = _head("text_completion", req, created)
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
        out.append(_final(final, ch, req, total, perf))
        per_choice.append(out)
    return _stream_tail(req, chs, head, _interleave(per_choice))


# --- embeddings -------------------------------------------------------------------------------


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
