"""The allow-list of deployed models the mock serves, with what each can do.

The default list names real serverless ids so an app's configured model works unchanged; a
``models.yaml`` in the stub directory replaces it (see :mod:`devenv.mocks.fireworks.stubs`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["chat", "embedding"]

_PREFIX = "accounts/fireworks/models/"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    kind: Kind = "chat"
    vision: bool = False
    context_length: int = 131072
    # Only for embedding models: the full vector length (``dimensions`` may ask for fewer).
    dimensions: int = 768

    def openai_object(self, created: int) -> dict[str, Any]:
        """The entry in ``GET /models`` (OpenAI's list shape, as Fireworks serves it)."""
        return {
            "id": self.id,
            "object": "model",
            "owned_by": self.id.split("/")[1] if self.id.startswith("accounts/") else "fireworks",
            "created": created,
            "kind": "HF_BASE_MODEL",
            "supports_chat": self.kind == "chat",
            "supports_image_input": self.vision,
            "supports_tools": self.kind == "chat",
            "context_length": self.context_length,
        }

    def control_plane_object(self) -> dict[str, Any]:
        """The entry in ``GET /v1/accounts/{account}/models`` (what the fireworks-ai SDK lists)."""
        return {
            "name": self.id,
            "displayName": self.id.rsplit("/", 1)[-1],
            "kind": "EMBEDDING_MODEL" if self.kind == "embedding" else "HF_BASE_MODEL",
            "state": "READY",
            "public": True,
            "supportsImageInput": self.vision,
            "supportsTools": self.kind == "chat",
            "contextLength": self.context_length,
        }


DEFAULT_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(_PREFIX + "llama-v3p1-8b-instruct"),
    ModelInfo(_PREFIX + "llama-v3p1-70b-instruct"),
    ModelInfo(_PREFIX + "llama-v3p3-70b-instruct"),
    ModelInfo(_PREFIX + "llama-v3p1-405b-instruct"),
    ModelInfo(_PREFIX + "deepseek-v3", context_length=163840),
    ModelInfo(_PREFIX + "deepseek-r1", context_length=163840),
    ModelInfo(_PREFIX + "qwen3-235b-a22b"),
    ModelInfo(_PREFIX + "mixtral-8x22b-instruct", context_length=65536),
    ModelInfo(_PREFIX + "firefunction-v2", context_length=8192),
    ModelInfo(_PREFIX + "qwen2p5-vl-32b-instruct", vision=True, context_length=128000),
    ModelInfo(_PREFIX + "llama4-maverick-instruct-basic", vision=True, context_length=1048576),
    ModelInfo(_PREFIX + "llama4-scout-instruct-basic", vision=True, context_length=1048576),
    ModelInfo(_PREFIX + "phi-3-vision-128k-instruct", vision=True, context_length=32064),
    ModelInfo("nomic-ai/nomic-embed-text-v1.5", kind="embedding", context_length=8192),
    ModelInfo(_PREFIX + "nomic-embed-text-v1.5", kind="embedding", context_length=8192),
    ModelInfo(
        _PREFIX + "qwen3-embedding-8b", kind="embedding", dimensions=4096, context_length=40960
    ),
)


class Catalog:
    """Model lookup by id. A short name (``llama-v3p1-8b-instruct``) is not an id: like the real
    API, only the full ``accounts/...`` id resolves."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self.models: dict[str, ModelInfo] = {m.id: m for m in models}

    def get(self, model_id: str) -> ModelInfo | None:
        return self.models.get(model_id)

    def __iter__(self) -> Any:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)
