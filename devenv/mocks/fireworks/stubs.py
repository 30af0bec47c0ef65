"""Stub files: canned replies matched on the request, read once at start.

Every ``*.yaml``, ``*.yml`` and ``*.json`` file in the stub directory (sorted by name) holds::

    models:                       # optional: extra deployed models (fine-tunes, ...)
      - id: accounts/acme/models/machine-vision-ft
        vision: true              # any key of models.json: kind, context_length, video, ...
    stubs:
      - name: identify-pump       # shown in the journal and the x-devenv-stub header
        match:                    # every key given must match; all optional
          endpoint: chat.completions    # or completions
          model: accounts/fireworks/models/qwen2p5-vl-32b-instruct
          model_regex: "qwen.*vl"
          content: "which machine"      # substring of the last user message (or prompt)
          content_regex: "(?i)machine"
          image_sha256: 9f86d0...       # SHA-256 of an inline image's bytes
          image_url: https://example.com/pump.jpg
          tools: [lookup_part]          # these tool names are offered
          test_id: checkout-flow        # the X-Devenv-Test-Id header
        reply:                    # one of content | json | tool_calls | error
          content: "A centrifugal pump, model CP-200."
          json: {make: Acme, model: CP-200}
          tool_calls: [{name: lookup_part, arguments: {part: CP-200}}]
          error: {status: 400, message: "...", code: INVALID_ARGUMENT, param: messages}
          finish_reason: stop
        fault: "429,ok"           # optional fault plan (see faults), applied before the reply
        latency_ms: 150           # optional

The first stub that matches wins. A file that does not parse, or has an unknown key or a wrong
type, stops the mock from starting with a :class:`devenv.errors.MockError` naming file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from devenv.errors import MockError
from devenv.mocks.fireworks.apierrors import ApiError
from devenv.mocks.fireworks.faults import parse_plan
from devenv.mocks.fireworks.models import CatalogueError, ModelInfo, model_from_mapping
from devenv.mocks.fireworks.replies import StubReply
from devenv.mocks.fireworks.validation import GenRequest

_MATCH_KEYS = {
    "endpoint",
    "model",
    "model_regex",
    "content",
    "content_regex",
    "image_sha256",
    "image_url",
    "tools",
    "test_id",
}
_REPLY_KEYS = {"content", "json", "tool_calls", "error", "finish_reason"}
_STUB_KEYS = {"name", "match", "reply", "fault", "latency_ms"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(slots=True)
class Stub:
    name: str
    source: str  # file:line
    endpoint: str | None = None
    model: str | None = None
    model_re: re.Pattern[str] | None = None
    content: str | None = None
    content_re: re.Pattern[str] | None = None
    image_sha256: str | None = None
    image_url: str | None = None
    tools: frozenset[str] = frozenset()
    test_id: str | None = None
    reply: StubReply | None = None
    error: ApiError | None = None
    fault: str | None = None
    latency_ms: int = 0

    def matches(self, req: GenRequest, test_id: str | None) -> bool:
        if self.endpoint is not None and self.endpoint != req.endpoint:
            return False
        if self.model is not None and self.model != req.model.id:
            return False
        if self.model_re is not None and not self.model_re.search(req.model.id):
            return False
        if self.test_id is not None and self.test_id != test_id:
            return False
        if self.content is not None and self.content not in req.text:
            return False
        if self.content_re is not None and not self.content_re.search(req.text):
            return False
        if self.image_sha256 is not None and not any(
            im.sha256 == self.image_sha256 and im.size is not None for im in req.images
        ):
            return False
        if self.image_url is not None and not any(im.ref == self.image_url for im in req.images):
            return False
        return not (self.tools and not self.tools <= {t.name for t in req.tools})

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source}


@dataclass(slots=True)
class StubSet:
    stubs: list[Stub] = field(default_factory=list)
    models: list[ModelInfo] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def find(self, req: GenRequest, test_id: str | None) -> Stub | None:
        for stub in self.stubs:
            if stub.matches(req, test_id):
                return stub
        return None


# --- loading with line numbers ----------------------------------------------------------------


class _Map(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise _Problem(line, f"keys must be strings, got {key!r}")
        if key in out:
            raise _Problem(line, f"duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _Problem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(container: Any, key: Any = None) -> int | None:
    if isinstance(container, _Map):
        return container.key_lines.get(key, container.line) if key is not None else container.line
    if isinstance(container, _Seq):
        return container.line
    return None


def _require_map(value: Any, where: str, parent: Any, key: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem(_line(parent, key), f"{where} must be a mapping")
    return value


def _check_keys(value: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise _Problem(
                _line(value, key),
                f"unknown key {key!r} in {where}; allowed: {', '.join(sorted(allowed))}",
            )


def _str(value: dict[str, Any], key: str, where: str) -> str | None:
    v = value.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise _Problem(_line(value, key), f"{where}.{key} must be a string")
    return v


def _regex(value: dict[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    text = _str(value, key, where)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise _Problem(_line(value, key), f"{where}.{key} is not a valid regex: {exc}") from None


def _stub(raw: Any, index: int, parent: Any, source_file: str) -> Stub:
    where = f"stubs[{index}]"
    item = _require_map(raw, where, parent, None)
    _check_keys(item, _STUB_KEYS, where)
    name = _str(item, "name", where) or f"{Path(source_file).stem}#{index}"
    stub = Stub(name=name, source=f"{source_file}:{_line(item)}")
    match = item.get("match")
    if match is not None:
        match = _require_map(match, f"{where}.match", item, "match")
        mw = f"{where}.match"
        _check_keys(match, _MATCH_KEYS, mw)
        stub.endpoint = _str(match, "endpoint", mw)
        if stub.endpoint not in (None, "chat.completions", "completions"):
            raise _Problem(
                _line(match, "endpoint"), f"{mw}.endpoint must be chat.completions or completions"
            )
        stub.model = _str(match, "model", mw)
        stub.model_re = _regex(match, "model_regex", mw)
        stub.content = _str(match, "content", mw)
        stub.content_re = _regex(match, "content_regex", mw)
        stub.image_sha256 = _str(match, "image_sha256", mw)
        if stub.image_sha256 is not None:
            stub.image_sha256 = stub.image_sha256.lower()
            if not _SHA256.match(stub.image_sha256):
                raise _Problem(
                    _line(match, "image_sha256"), f"{mw}.image_sha256 must be 64 hex digits"
                )
        stub.image_url = _str(match, "image_url", mw)
        stub.test_id = _str(match, "test_id", mw)
        tools = match.get("tools")
        if tools is not None:
            if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
                raise _Problem(_line(match, "tools"), f"{mw}.tools must be a list of tool names")
            stub.tools = frozenset(tools)
    reply = item.get("reply")
    if reply is None:
        raise _Problem(_line(item), f"{where} needs a reply")
    reply = _require_map(reply, f"{where}.reply", item, "reply")
    rw = f"{where}.reply"
    _check_keys(reply, _REPLY_KEYS, rw)
    given = [k for k in ("content", "json", "tool_calls", "error") if k in reply]
    if len(given) != 1 and given != ["content", "tool_calls"]:
        raise _Problem(_line(reply), f"{rw} needs exactly one of content, json, tool_calls, error")
    finish = _str(reply, "finish_reason", rw)
    if finish is not None and finish not in ("stop", "length", "tool_calls", "content_filter"):
        raise _Problem(
            _line(reply, "finish_reason"),
            f"{rw}.finish_reason must be stop, length, tool_calls or content_filter",
        )
    if "error" in reply:
        err = _require_map(reply["error"], f"{rw}.error", reply, "error")
        _check_keys(err, {"status", "message", "code", "param", "type"}, f"{rw}.error")
        status = err.get("status", 400)
        if type(status) is not int or not 400 <= status <= 599:
            raise _Problem(
                _line(err, "status"), f"{rw}.error.status must be an HTTP error status (400-599)"
            )
        stub.error = ApiError(
            status,
            _str(err, "message", f"{rw}.error") or "Error (stubbed by the devenv Fireworks mock)",
            param=_str(err, "param", f"{rw}.error"),
            code=_str(err, "code", f"{rw}.error") or "INVALID_ARGUMENT",
            type=_str(err, "type", f"{rw}.error") or "invalid_request_error",
        )
    else:
        calls: list[tuple[str, str]] | None = None
        if "tool_calls" in reply:
            raw_calls = reply["tool_calls"]
            if not isinstance(raw_calls, list) or not raw_calls:
                raise _Problem(
                    _line(reply, "tool_calls"), f"{rw}.tool_calls must be a non-empty list"
                )
            calls = []
            for k, call in enumerate(raw_calls):
                cw = f"{rw}.tool_calls[{k}]"
                call = _require_map(call, cw, reply, "tool_calls")
                _check_keys(call, {"name", "arguments"}, cw)
                fn_name = _str(call, "name", cw)
                if not fn_name:
                    raise _Problem(_line(call), f"{cw}.name is required")
                args = call.get("arguments", {})
                if isinstance(args, str):
                    try:
                        json.loads(args)
                    except ValueError:
                        raise _Problem(
                            _line(call, "arguments"), f"{cw}.arguments is a string but not JSON"
                        ) from None
                    arg_text = args
                else:
                    arg_text = orjson.dumps(args).decode()
                calls.append((fn_name, arg_text))
        if "json" in reply:
            content: str | None = orjson.dumps(reply["json"]).decode()
        else:
            content = reply.get("content")
            if content is not None and not isinstance(content, str):
                raise _Problem(_line(reply, "content"), f"{rw}.content must be a string")
        stub.reply = StubReply(content=content, tool_calls=calls, finish_reason=finish)
    fault = _str(item, "fault", where)
    if fault is not None:
        try:
            parse_plan(fault)
        except ValueError as exc:
            raise _Problem(_line(item, "fault"), f"{where}.fault: {exc}") from None
        stub.fault = fault
    latency = item.get("latency_ms", 0)
    if type(latency) is not int or latency < 0:
        raise _Problem(_line(item, "latency_ms"), f"{where}.latency_ms must be a whole number >= 0")
    stub.latency_ms = latency
    return stub


def _model(raw: Any, index: int, parent: Any) -> ModelInfo:
    where = f"models[{index}]"
    item = _require_map(raw, where, parent, None)
    try:
        return model_from_mapping(item)
    except CatalogueError as exc:
        line = _line(item, exc.key) if exc.key in item else _line(item)
        raise _Problem(line, f"{where}: {exc}") from None


def _parse_text(name: str, text: str) -> tuple[list[Stub], list[ModelInfo]]:
    """One stub file's text; ``name`` (a path, or the name a reload sent) says where in errors
    and in each stub's source, and its suffix says JSON or YAML."""
    if name.endswith(".json"):
        try:
            doc: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _Problem(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    else:
        try:
            doc = yaml.load(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            what = f"not valid YAML: {exc.problem or exc.context}"
            ctx = exc.context_mark
            if exc.context and ctx is not None and ctx.line + 1 != line:
                what += f" ({exc.context} at line {ctx.line + 1})"
            raise _Problem(line, what) from None
        except yaml.YAMLError as exc:
            raise _Problem(None, f"not valid YAML: {exc}") from None
    if doc is None:
        return [], []
    if not isinstance(doc, dict):
        raise _Problem(
            _line(doc) or 1, "the top level must be a mapping with 'stubs' and/or 'models'"
        )
    _check_keys(doc, {"stubs", "models"}, "the top level")
    stubs_raw = doc.get("stubs") or []
    models_raw = doc.get("models") or []
    for key, value in (("stubs", stubs_raw), ("models", models_raw)):
        if not isinstance(value, list):
            raise _Problem(_line(doc, key), f"'{key}' must be a list")
    stubs = [_stub(s, i, stubs_raw, name) for i, s in enumerate(stubs_raw)]
    models = [_model(m, i, models_raw) for i, m in enumerate(models_raw)]
    return stubs, models


STUB_SUFFIXES = (".yaml", ".yml", ".json")


def stub_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in STUB_SUFFIXES and p.is_file())


def load(directory: Path | str | None) -> StubSet:
    """Load every stub file in ``directory`` (None: no stubs). MockError names file and line."""
    if directory is None:
        return StubSet()
    directory = Path(directory)
    if not directory.is_dir():
        raise MockError(
            f"stub directory {directory} does not exist",
            "create it, or pass --stubs with an existing directory",
        )
    texts: list[tuple[str, str]] = []
    for path in stub_files(directory):
        try:
            texts.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise MockError(f"stub file {path} cannot be read: {exc}", "check the file") from None
    return load_texts(
        texts, "fix the file, or move it out of the stub directory; the mock did not start"
    )


def load_texts(files: Iterable[tuple[str, str]], fix: str) -> StubSet:
    """Stub files given as (name, text), in order: what a directory holds, or what a reload
    (``PUT /__devenv/stubs``) sends. MockError names file and line, with ``fix`` as the hint."""
    result = StubSet()
    names: dict[str, str] = {}
    for name, text in files:
        if not name.endswith(STUB_SUFFIXES):
            raise MockError(f"stub file {name}: not a .yaml, .yml or .json file", fix)
        try:
            stubs, models = _parse_text(name, text)
        except _Problem as exc:
            where = f"{name}:{exc.line}" if exc.line else name
            raise MockError(f"stub file {where}: {exc.message}", fix) from None
        for stub in stubs:
            if stub.name in names:
                raise MockError(
                    f"stub file {stub.source}: stub name {stub.name!r} is already used "
                    f"at {names[stub.name]}",
                    "give every stub a unique name",
                )
            names[stub.name] = stub.source
        result.stubs.extend(stubs)
        result.models.extend(models)
        result.files.append(name)
    return result


def merge_models(defaults: Iterable[ModelInfo], extra: Iterable[ModelInfo]) -> list[ModelInfo]:
    out = {m.id: m for m in defaults}
    out.update({m.id: m for m in extra})
    return list(out.values())
