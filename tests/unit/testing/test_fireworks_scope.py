"""fireworks_mock's scope object against a real Fireworks mock (in-process server): a test sees
only its own journal entries and faults, and cleans up after itself."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from devenv.mocks.fireworks.app import MockConfig
from devenv.mocks.fireworks.server import MockServer
from devenv.testing.handles import FireworksScope

CHAT = {
    "model": "accounts/fireworks/models/llama-v3p1-8b-instruct",
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig()) as server:
        yield server


def scope(mock: MockServer, test_id: str) -> FireworksScope:
    return FireworksScope(mock.url + "/inference/v1", "fw-devenv-local", test_id)


def test_journal_and_faults_are_per_test(mock: MockServer) -> None:
    a, b = scope(mock, "tests/test_a.py::test_one"), scope(mock, "tests/test_b.py::test_two")
    try:
        a.fault("503,ok")
        oa = openai.OpenAI(**a.openai_kwargs(), max_retries=0)
        with b.client() as cb:
            assert cb.post("/chat/completions", json=CHAT).status_code == 200  # not b's fault
        with pytest.raises(openai.InternalServerError):
            oa.chat.completions.create(**CHAT)  # type: ignore[call-overload]
        assert oa.chat.completions.create(**CHAT).choices  # type: ignore[call-overload]
        assert [e["status"] for e in a.journal()] == [503, 200]
        assert [e["status"] for e in b.journal()] == [200]
        assert all(e["test_id"] == a.test_id for e in a.journal())
    finally:
        a.close()
        b.close()
    rules = httpx.get(mock.url + "/__devenv/faults").json()["rules"]
    assert rules == []
    assert a.journal() == [] and b.journal() == []
    a.close()


def test_close_leaves_other_tests_alone(mock: MockServer) -> None:
    a, b = scope(mock, "a"), scope(mock, "b")
    b.fault("429", repeat=True)
    with a.client() as ca:
        ca.post("/chat/completions", json=CHAT)
    a.close()
    assert len(httpx.get(mock.url + "/__devenv/faults").json()["rules"]) == 1
    with b.client() as cb:
        assert cb.post("/chat/completions", json=CHAT).status_code == 429
    b.close()
    assert httpx.get(mock.url + "/__devenv/faults").json()["rules"] == []


def test_a_bad_plan_is_one_clear_error(mock: MockServer) -> None:
    from devenv.errors import StackError

    s = scope(mock, "bad")
    with pytest.raises(StackError) as err:
        s.fault("teapot")
    assert "refused fault 'teapot'" in err.value.message
    s.close()
