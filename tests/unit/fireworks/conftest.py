"""A real Fireworks mock on a random loopback port, and the real SDKs pointed at it.

One server per module (started in a background thread; it stops when the module ends), reset
before every test so tests do not see each other's journal, faults or timing.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fireworks
import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageFunctionToolCall

from devenv.mocks.fireworks.app import MockConfig
from devenv.mocks.fireworks.server import MockServer

REPO = Path(__file__).resolve().parents[3]
STUBS = REPO / "fixtures" / "fireworks"
CHAT = "accounts/fireworks/models/llama-v3p1-8b-instruct"
VISION = "accounts/fireworks/models/qwen2p5-vl-32b-instruct"
EMBED = "nomic-ai/nomic-embed-text-v1.5"
KEY = "test-key"

#: A request part as these tests write it: JSON for the wire, handed alike to the openai and the
#: fireworks-ai SDKs (and to httpx). Each SDK types it with TypedDicts of its own, which one literal
#: shared between them cannot be, and some are deliberately invalid (the mock must refuse them).
Wire = Any


def png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG (valid chunks and CRCs), made here so tests need no image files."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(stubs_dir=STUBS)) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> None:
    if "mock" in request.fixturenames:
        server: MockServer = request.getfixturevalue("mock")
        httpx.post(server.url + "/__devenv/reset").raise_for_status()


@pytest.fixture
def http(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


@pytest.fixture
def oai(mock: MockServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock.url + "/inference/v1", api_key=KEY) as client:
        yield client


@pytest.fixture
def fw(mock: MockServer) -> Iterator[fireworks.Fireworks]:
    with fireworks.Fireworks(base_url=mock.url, api_key=KEY, account_id="fireworks") as client:
        yield client


def journal(server: MockServer, **params: str) -> dict[str, Any]:
    response = httpx.get(server.url + "/__devenv/journal", params=params)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def function_call(message: ChatCompletionMessage) -> ChatCompletionMessageFunctionToolCall:
    """The message's first tool call, which must be a function call (the mock makes no others)."""
    assert message.tool_calls, message
    call = message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall), call
    return call


def error_body(exc: openai.APIError) -> dict[str, Any]:
    """The error object of an SDK error (the SDK types it as object)."""
    assert isinstance(exc.body, dict), exc.body
    return exc.body
