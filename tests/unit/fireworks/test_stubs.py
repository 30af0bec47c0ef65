"""Stub files: matching through the SDKs, and files that do not parse stop the mock from starting
with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from devenv.errors import MockError
from devenv.mocks.fireworks import stubs
from devenv.mocks.fireworks.app import MockConfig
from devenv.mocks.fireworks.server import MockServer
from tests.unit.fireworks.conftest import (
    CHAT,
    KEY,
    STUBS,
    VISION,
    Wire,
    data_url,
    error_body,
    function_call,
    png,
)

PUMP = (STUBS / "images" / "pump.png").read_bytes()


def test_image_stub_matches_by_hash_and_answers_json(oai: openai.OpenAI, mock: MockServer) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model=VISION,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Identify this machine as JSON."},
                    {"type": "image_url", "image_url": {"url": data_url(PUMP)}},
                ],
            }
        ],
    )
    assert raw.headers["x-devenv-stub"] == "identify-pump-photo"
    assert json.loads(raw.parse().choices[0].message.content or "")["model"] == "CP-200"
    # Another image does not match: a generated answer instead.
    other = oai.chat.completions.with_raw_response.create(
        model=VISION,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Identify this machine as JSON."},
                    {"type": "image_url", "image_url": {"url": data_url(png())}},
                ],
            }
        ],
    )
    assert "x-devenv-stub" not in other.headers


def test_regex_stub_streams_its_content(oai: openai.OpenAI) -> None:
    text = "".join(
        c.choices[0].delta.content or ""
        for c in oai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "WHICH MACHINE IS THIS?"}],
            stream=True,
        )
        if c.choices
    )
    assert text == "This is an Acme CP-200 centrifugal pump."


def test_tool_stub_needs_the_tool_offered(oai: openai.OpenAI) -> None:
    tool: Wire = {
        "type": "function",
        "function": {"name": "lookup_part", "parameters": {"type": "object", "properties": {}}},
    }
    messages: Wire = [{"role": "user", "content": "I need a spare impeller"}]
    reply = oai.chat.completions.create(model=CHAT, messages=messages, tools=[tool])
    call = function_call(reply.choices[0].message)
    assert json.loads(call.function.arguments) == {"model": "CP-200", "part": "impeller"}
    without = oai.chat.completions.create(model=CHAT, messages=messages)
    assert without.choices[0].message.tool_calls is None


def test_error_stub_answers_its_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        oai.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "__devenv_context_too_long__"}]
        )
    assert (
        error_body(exc.value)["param"] == "messages"
        and "too long" in error_body(exc.value)["message"]
    )


def test_finish_reason_from_stub(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "please trigger a content filter"}]
    )
    assert reply.choices[0].finish_reason == "content_filter"


def test_stub_scoped_to_test_id_and_models_from_stub_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps(
            {
                "models": [{"id": "accounts/acme/models/ft-1"}],
                "stubs": [
                    {
                        "name": "only-for-t1",
                        "match": {"test_id": "t1", "model": "accounts/acme/models/ft-1"},
                        "reply": {"content": "scoped"},
                    }
                ],
            }
        )
    )
    with MockServer(MockConfig(stubs_dir=tmp_path)) as server:
        client = openai.OpenAI(base_url=server.url + "/inference/v1", api_key=KEY)
        msgs: Wire = [{"role": "user", "content": "x"}]
        model = "accounts/acme/models/ft-1"
        hit = client.chat.completions.create(
            model=model, messages=msgs, extra_headers={"x-devenv-test-id": "t1"}
        )
        miss = client.chat.completions.create(model=model, messages=msgs)
        assert hit.choices[0].message.content == "scoped"
        assert miss.choices[0].message.content != "scoped"
        # The same bytes again, now remembered by the mock: stubs, faults scoped to the model and
        # the journal still apply per request.
        again = client.chat.completions.create(
            model=model, messages=msgs, extra_headers={"x-devenv-test-id": "t1"}
        )
        assert again.choices[0].message.content == "scoped" and again.id != hit.id
        httpx.post(
            server.url + "/__devenv/faults", json={"plan": "503", "model": model}
        ).raise_for_status()
        with pytest.raises(openai.InternalServerError):
            client.with_options(max_retries=0).chat.completions.create(model=model, messages=msgs)
        entries = httpx.get(server.url + "/__devenv/journal").json()["entries"]
        assert [e["status"] for e in entries] == [200, 200, 200, 503]
        assert entries[2]["stub"] == "only-for-t1" and entries[3]["model"] == model
        assert entries[2]["body"] == {"model": model, "messages": msgs}


def test_fixture_stub_files_load() -> None:
    loaded = stubs.load(STUBS)
    assert {"identify-pump-photo", "flaky-once"} <= {s.name for s in loaded.stubs}


BAD = [
    ("syntax.yaml", "stubs:\n  - name: a\n    reply: {content: 'x'\n", 4, "mapping at line 3"),
    ("tabs.yaml", "stubs:\n\t- name: a\n", 2, "not valid YAML"),
    (
        "unknown.yaml",
        "stubs:\n  - name: a\n    reply:\n      content: x\n    mtach: {}\n",
        5,
        "unknown key 'mtach'",
    ),
    (
        "type.yaml",
        "stubs:\n  - name: a\n    reply:\n      content: 5\n",
        4,
        "content must be a string",
    ),
    (
        "regex.yaml",
        "stubs:\n  - match:\n      content_regex: '(unclosed'\n    reply: {content: x}\n",
        3,
        "not a valid regex",
    ),
    ("noreply.yaml", "stubs:\n  - name: a\n    match: {content: x}\n", 2, "needs a reply"),
    ("two.yaml", "stubs:\n  - reply:\n      content: x\n      json: {a: 1}\n", 3, "exactly one of"),
    (
        "fault.yaml",
        "stubs:\n  - reply: {content: x}\n    fault: '429,boom'\n",
        3,
        "unknown fault 'boom'",
    ),
    ("dup.yaml", "stubs:\n  - reply: {content: x}\n    reply: {content: y}\n", 3, "duplicate key"),
    ("top.yaml", "- a\n- b\n", 1, "top level must be a mapping"),
    ("sha.yaml", "stubs:\n  - match: {image_sha256: abc}\n    reply: {content: x}\n", 2, "64 hex"),
    ("model.yaml", "models:\n  - id: m\n    kind: video\n", 3, "kind must be chat or embedding"),
    ("bad.json", '{"stubs": [\n  {"reply": {"content": "x"},}\n]}\n', 2, "not valid JSON"),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_stub_file_refuses_to_start_naming_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    (tmp_path / "00-good.yaml").write_text("stubs:\n  - reply: {content: fine}\n")
    (tmp_path / name).write_text(text)
    with pytest.raises(MockError) as exc:
        MockServer(MockConfig(stubs_dir=tmp_path))
    assert f"{tmp_path / name}:{line}:" in exc.value.message
    assert message in exc.value.message
    assert "did not start" in exc.value.one_line()


def test_duplicate_stub_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("stubs:\n  - name: same\n    reply: {content: x}\n")
    (tmp_path / "b.yaml").write_text("stubs:\n  - name: same\n    reply: {content: y}\n")
    with pytest.raises(MockError, match="already used"):
        stubs.load(tmp_path)


def test_missing_stub_directory(tmp_path: Path) -> None:
    with pytest.raises(MockError, match="does not exist"):
        stubs.load(tmp_path / "nope")
