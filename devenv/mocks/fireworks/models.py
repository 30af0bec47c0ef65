"""The catalogue of deployed models the mock serves, with what each can do.

The list lives in one data file, ``models.json`` beside this module (it ships in the wheel), so
keeping it current is an edit to data, not code. A ``models:`` list in a stub file adds models
(fine-tunes) or replaces entries by id (see :mod:`devenv.mocks.fireworks.stubs`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

Kind = Literal["chat", "embedding"]
# Where a model's reasoning goes: the `reasoning_content` field, or `<think>...</think>` at the
# start of `content` (the docs: "For some models, the reasoning content may instead be included
# directly in the content field itself").
ReasoningStyle = Literal["field", "think"]
# Which `reasoning_effort` values a model takes (the parameter's "Model-specific behavior"):
#   binary   on/off; levels and integers have no further effect (DeepSeek V3.1/V3.2, GLM)
#   graded   levels and an integer token cap shorten the reasoning (Qwen3, DeepSeek R1)
#   harmony  only 'low' | 'medium' | 'high'; 'none', booleans and integers are errors (GPT-OSS)
#   required only 'low' | 'medium' | 'high': reasoning cannot be turned off (MiniMax M2)
EffortRule = Literal["binary", "graded", "harmony", "required"]

CATALOGUE_FILE = Path(__file__).with_name("models.json")
_KEYS = frozenset(
    {
        "id",
        "kind",
        "context_length",
        "vision",
        "video",
        "tools",
        "reasoning",
        "reasoning_default",
        "reasoning_effort",
        "dimensions",
    }
)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    kind: Kind = "chat"
    vision: bool = False
    context_length: int = 131072
    # Only for embedding models: the full vector length (``dimensions`` may ask for fewer).
    dimensions: int = 768
    video: bool = False
    tools: bool = True
    reasoning: ReasoningStyle | None = None
    reasoning_default: bool = False
    reasoning_effort: EffortRule = "binary"

    def openai_object(self, created: int) -> dict[str, Any]:
        """The entry in ``GET /models`` (OpenAI's list shape, as Fireworks serves it)."""
        chat = self.kind == "chat"
        return {
            "id": self.id,
            "object": "model",
            "owned_by": self.id.split("/")[1] if self.id.startswith("accounts/") else "fireworks",
            "created": created,
            "kind": "EMBEDDING_MODEL" if not chat else "HF_BASE_MODEL",
            "supports_chat": chat,
            "supports_image_input": self.vision,
            "supports_video_input": self.video,
            "supports_tools": chat and self.tools,
            "supports_reasoning": self.reasoning is not None,
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
            "supportsTools": self.kind == "chat" and self.tools,
            "contextLength": self.context_length,
        }


class CatalogueError(ValueError):
    """A bad model entry: ``key`` names the field (None for the entry itself)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


def model_from_mapping(item: Mapping[str, Any]) -> ModelInfo:
    """One catalogue entry (from models.json or a stub file) -> ModelInfo; CatalogueError names
    the bad key."""
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        raise CatalogueError(
            unknown[0], f"unknown key '{unknown[0]}'; known: {', '.join(sorted(_KEYS))}"
        )
    model_id = item.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise CatalogueError("id", "id is required: the full model id (accounts/...)")
    kind = item.get("kind", "chat")
    if kind not in ("chat", "embedding"):
        raise CatalogueError("kind", "kind must be chat or embedding")
    flags: dict[str, bool] = {}
    for key, flag_default in (("vision", False), ("video", False), ("tools", True)):
        value = item.get(key, flag_default)
        if not isinstance(value, bool):
            raise CatalogueError(key, f"{key} must be true or false")
        flags[key] = value
    numbers: dict[str, int] = {}
    for key, default in (("context_length", 131072), ("dimensions", 768)):
        v = item.get(key, default)
        if type(v) is not int or v < 1:
            raise CatalogueError(key, f"{key} must be a positive whole number")
        numbers[key] = v
    reasoning = item.get("reasoning")
    if reasoning not in (None, "field", "think"):
        raise CatalogueError("reasoning", "reasoning must be field, think or null")
    default_on = item.get("reasoning_default", reasoning is not None)
    if not isinstance(default_on, bool):
        raise CatalogueError("reasoning_default", "reasoning_default must be true or false")
    rule = item.get("reasoning_effort", "binary")
    if rule not in ("binary", "graded", "harmony", "required"):
        raise CatalogueError(
            "reasoning_effort", "reasoning_effort must be binary, graded, harmony or required"
        )
    return ModelInfo(
        model_id,
        kind,
        flags["vision"],
        numbers["context_length"],
        numbers["dimensions"],
        video=flags["video"],
        tools=flags["tools"],
        reasoning=reasoning,
        reasoning_default=default_on,
        reasoning_effort=rule,
    )


@cache
def default_models() -> tuple[ModelInfo, ...]:
    """The shipped catalogue (read once)."""
    data = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return tuple(model_from_mapping(m) for m in data["models"])


class Catalog:
    """Model lookup by id. A short name (``llama-v3p1-8b-instruct``) is not an id: like the real
    API, only the full ``accounts/...`` id resolves."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self.models: dict[str, ModelInfo] = {m.id: m for m in models}

    def get(self, model_id: str) -> ModelInfo | None:
        return self.models.get(model_id)

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)
