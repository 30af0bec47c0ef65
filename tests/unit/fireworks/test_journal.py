"""The request journal: list, filter, unmatched, clear; bounded under load."""

from __future__ import annotations

import asyncio

import httpx
import openai

from devenv.mocks.fireworks.app import MockConfig
from devenv.mocks.fireworks.server import MockServer
from tests.unit.fireworks.conftest import CHAT, EMBED, KEY, Wire, journal

MESSAGES: Wire = [{"role": "user", "content": "hello"}]


def test_list_filter_by_path_and_test_id(
    oai: openai.OpenAI, http: httpx.Client, mock: MockServer
) -> None:
    oai.chat.completions.create(
        model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-test-id": "a"}
    )
    oai.embeddings.create(model=EMBED, input="x", extra_headers={"x-devenv-test-id": "b"})
    oai.completions.create(model=CHAT, prompt="x", extra_headers={"x-devenv-test-id": "a"})
    everything = journal(mock)
    assert everything["count"] == 3 and everything["total"] == 3
    first = everything["entries"][0]
    assert first["model"] == CHAT and first["status"] == 200 and first["test_id"] == "a"
    assert first["request_hash"] and first["body"]["messages"] == MESSAGES
    assert [e["path"] for e in journal(mock, test_id="a")["entries"]] == [
        "/inference/v1/chat/completions",
        "/inference/v1/completions",
    ]
    assert [e["test_id"] for e in journal(mock, path="embeddings")["entries"]] == ["b"]
    assert journal(mock, limit="1")["entries"][0]["path"].endswith("/completions")


def test_unmatched_lists_requests_no_stub_answered(
    oai: openai.OpenAI, http: httpx.Client, mock: MockServer
) -> None:
    oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Which machine is this?"}]
    )
    oai.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "something new"}])
    entries = journal(mock)["entries"]
    assert entries[0]["stub"] == "identify-by-description" and not entries[0]["unmatched"]
    unmatched = http.get("/__devenv/journal/unmatched").json()["entries"]
    assert [e["body"]["messages"][0]["content"] for e in unmatched] == ["something new"]
    assert journal(mock, unmatched="true")["count"] == 1


def test_clear_all_or_one_test_id(oai: openai.OpenAI, http: httpx.Client, mock: MockServer) -> None:
    for tid in ("a", "b", "a"):
        oai.chat.completions.create(
            model=CHAT, messages=MESSAGES, extra_headers={"x-devenv-test-id": tid}
        )
    assert http.delete("/__devenv/journal", params={"test_id": "a"}).json() == {"cleared": 2}
    assert [e["test_id"] for e in journal(mock)["entries"]] == ["b"]
    assert http.delete("/__devenv/journal").json() == {"cleared": 1}
    assert journal(mock)["count"] == 0


def test_journal_stays_bounded_under_load() -> None:
    with MockServer(MockConfig(journal_size=50)) as server:

        async def load() -> int:
            async with httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
            ) as client:

                async def worker(w: int) -> int:
                    ok = 0
                    for i in range(60):
                        r = await client.post(
                            "/v1/chat/completions",
                            json={
                                "model": CHAT,
                                "messages": [{"role": "user", "content": f"{w}.{i}"}],
                            },
                        )
                        ok += r.status_code == 200
                    return ok

                return sum(await asyncio.gather(*(worker(w) for w in range(16))))

        assert asyncio.run(load()) == 960
        state = journal(server)
        assert state["count"] == 50 and state["size"] == 50 and state["total"] == 960
        seqs = [e["seq"] for e in state["entries"]]
        assert seqs == list(range(911, 961))  # the newest 50, in order
        health = httpx.get(server.url + "/__devenv/health").json()
        assert health["journal"] == {"entries": 50, "size": 50, "total": 960}


def test_large_bodies_are_kept_as_a_summary() -> None:
    with MockServer(MockConfig(journal_body_limit=500)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY)
        client.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "x" * 1000}]
        )
        body = journal(server)["entries"][0]["body"]
        assert body["truncated"] is True and body["bytes"] > 1000 and "messages" in body["keys"]
