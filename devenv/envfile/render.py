"""Writing env files: ``.env.example`` from the schema, ``.env`` from the schema's defaults and the
running stack's values (``init``), and the schema / ``.env`` / ``.env.example`` comparison.

Values are written so python-dotenv, Docker Compose and @env-spec read them back identically
wherever one spelling allows it (see :func:`format_value`).

``init`` never changes a value the user set. It appends keys the file lacks and fills keys that
are present with an empty value (or none), rewriting only those lines; every other byte of the
file (comments, order, line endings, a BOM) stays. New files are created with mode 0600 (they hold
keys), and every write is atomic (a temporary file renamed over the target).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.envfile.problems import quote as quote_for_message
from devenv.envfile.schema import Block, Item, Schema
from devenv.errors import EnvFileError

_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=~^\-]*")


def format_value(value: str) -> str:
    """``value`` as it must be written after ``KEY=`` for python-dotenv, Docker Compose and
    @env-spec (varlock) to read it back alike: plain when it holds only safe characters (and is
    not the word ``undefined``, which @env-spec reads as no value), else in single quotes, which
    all three keep literally when there is no quote, backslash, ``${`` or line break inside;
    else in double quotes with ``\\``, ``"`` and line breaks escaped (read alike by python-dotenv
    and Compose; @env-spec keeps ``\\`` as two characters, ``devenv env check`` says so)."""
    if _PLAIN.fullmatch(value) and value != "undefined":
        return value
    if not re.search(r"['\\\n\r]|\$\{", value):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _hint(item: Item) -> str:
    bits = []
    if item.required_for_env is not None:
        bits.append(f"required in {', '.join(item.required_for_env)}")
    elif item.is_required(None):
        bits.append("required")
    else:
        bits.append("optional")
    if item.is_sensitive:
        bits.append("secret")
    if not item.type.inferred or item.type.name != "string":
        bits.append(item.type.detail())
    line = ", ".join(bits)
    if item.example is not None:
        line += f"; e.g. {item.example}"
    return line


def render_example(schema: Schema, schema_name: str = ".env.schema") -> str:
    """``.env.example``: every item with its description and a hint line; values are the
    non-sensitive defaults, sensitive values are blank."""
    out = [
        f"# Generated from {schema_name} by `devenv env example`: edit the schema, not this file.",
        "# Copy it to .env (or run `devenv env init`) and fill in the blanks.",
    ]
    for node in schema.layout:
        if isinstance(node, Block):
            out.append("")
            out.extend(f"# {t}" if t else "#" for t in node.lines)
            if node.divider:
                out.append(node.divider)
            continue
        out.append("")
        out.extend(f"# {t}" for t in node.description)
        for desc, url in node.docs:
            out.append(f"# docs: {desc + ' ' if desc else ''}{url}")
        out.append(f"# {_hint(node)}")
        value = "" if node.is_sensitive or node.default is None else format_value(node.default)
        out.append(f"{node.key}={value}")
    return "\n".join(out) + "\n"


# ---- init ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    key: str
    action: str  # "add" | "fill" | "keep" | "skip"
    source: str  # "stack" | "default" | "none" | "user"
    sensitive: bool
    value: str | None  # what is written; None for keep/skip
    note: str = ""
    required: bool = False

    def as_dict(self, show_values: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "key": self.key,
            "action": self.action,
            "source": self.source,
            "sensitive": self.sensitive,
        }
        if self.value is not None and show_values and not self.sensitive:
            d["value"] = self.value
        if self.note:
            d["note"] = self.note
        return d

    def describe(self) -> str:
        shown = self.key
        if self.value is not None and not self.sensitive:
            shown = f"{self.key}={quote_for_message(self.value)}"
        elif self.value is not None:
            shown = f"{self.key} (secret, value not shown)"
        origin = {
            "stack": "from the running stack",
            "default": "the schema's default",
            "none": "no value known: fill it in",
            "user": "set by you",
        }[self.source]
        tail = f"; {self.note}" if self.note else ""
        return f"{self.action:<5} {shown}  ({origin}{tail})"


@dataclass
class InitPlan:
    path: Path
    existed: bool
    text: str
    original: str
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.action in ("add", "fill")]

    @property
    def needs_value(self) -> list[str]:
        """Required keys init could find no value for: the user must fill them in."""
        return [c.key for c in self.changes if c.source == "none" and c.required]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "exists": self.existed,
            "changed": self.changed,
            "changes": [c.as_dict() for c in self.changes],
            "needs_value": self.needs_value,
        }


def plan_init(
    schema: Schema | None,
    path: Path,
    stack: Mapping[str, str],
    *,
    existing: str | None = None,
    env: str | None = None,
) -> InitPlan:
    """What ``init`` would write to ``path``: schema defaults and ``stack`` values for keys the
    file lacks or leaves empty. ``existing`` is the file's text (read from ``path`` if None)."""
    from dotenv.parser import parse_stream

    existed = existing is not None or path.exists()
    if existing is None and existed:
        existing = _read_for_update(path)
    text = existing or ""
    bom = text.startswith("\ufeff")
    body = text[1:] if bom else text
    newline = "\r\n" if "\r\n" in body else "\n"

    # Statements as python-dotenv sees them; the last one of a key decides its value.
    segments: list[str] = []
    last: dict[str, int] = {}
    values: dict[str, str | None] = {}
    for binding in parse_stream(io.StringIO(body)):
        segments.append(binding.original.string)
        if binding.key is not None and not binding.error:
            last[binding.key] = len(segments) - 1
            values[binding.key] = binding.value

    if env is None and schema is not None and schema.current_env_key is not None:
        key = schema.current_env_key
        env = values.get(key) or stack.get(key) or schema.items[key].default
    keys: list[str] = list(schema.items) if schema is not None else []
    keys += [k for k in stack if k not in keys and schema is None]
    changes: list[Change] = []
    appended: list[str] = []
    for key in keys:
        item = schema.items[key] if schema is not None else None
        sensitive = item.is_sensitive if item is not None else True
        required = item.is_required(env) if item is not None else False
        if key in stack:
            new, source = stack[key], "stack"
        elif item is not None and item.default:
            new, source = item.default, "default"
        else:
            new, source = "", "none"
        current = values.get(key)
        if current:
            note = (
                "differs from the running stack" if key in stack and stack[key] != current else ""
            )
            changes.append(Change(key, "keep", "user", sensitive, None, note))
            continue
        line = f"{key}={format_value(new)}"
        if key in last and not new:  # present, empty, and nothing to put there
            changes.append(Change(key, "keep", "none", sensitive, None, "still empty", required))
            continue
        if key in last:
            i = last[key]
            segments[i] = _replace_statement(segments[i], line)
            changes.append(
                Change(key, "fill", source, sensitive, new if new else None, "", required)
            )
        else:
            appended.append(line)
            changes.append(
                Change(key, "add", source, sensitive, new if new else None, "", required)
            )
    if schema is not None:
        for key in stack:
            if key not in schema.items:
                changes.append(
                    Change(key, "skip", "stack", True, None, f"not declared in {schema.path}")
                )

    new_body = "".join(segments)
    if appended:
        if not existed or not new_body.strip():
            header = [
                "# Written by `devenv env init` from the schema's defaults and the running stack.",
                "# Your values are never overwritten: edit freely, re-run to fill in new keys.",
                "",
            ]
            new_body = newline.join(header + appended) + newline
        else:
            if not new_body.endswith(("\n", "\r")):
                new_body += newline
            new_body += newline.join(["", "# Added by `devenv env init`", *appended]) + newline
    return InitPlan(path, existed, ("\ufeff" if bom else "") + new_body, text, changes)


def _replace_statement(segment: str, line: str) -> str:
    """A statement's text with its ``KEY=...`` replaced, keeping leading blank lines,
    an ``export`` prefix and the line ending."""
    m = re.match(r"(\s*?)([ \t]*)(export[ \t]+)?([^\r\n]*?)(\r\n|\n|\r)?\Z", segment, re.S)
    if m is None:  # a multi-line statement: keep its leading whitespace, replace the rest
        lead = re.match(r"\s*", segment)
        n = lead.end() if lead else 0
        ending = "\n" if segment.endswith("\n") else ""
        return segment[:n] + line + ending
    return f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{line}{m.group(5) or ''}"


def _read_for_update(path: Path) -> str:
    from devenv.envfile.reader import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:
            raise EnvFileError(
                f"{path}: over 1 MB; not updating it", "is this the right file? move it aside"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise EnvFileError(
            f"{path}: cannot read: {exc.strerror}", "check its permissions"
        ) from None
    if b"\0" in data:
        raise EnvFileError(
            f"{path}: holds binary data; not updating it", "fix or move the file, then re-run"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvFileError(
            f"{path}: is not UTF-8 text; not updating it", "save it as UTF-8, then re-run"
        ) from None


def write_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` in one rename; keeps an existing file's mode."""
    if path.is_symlink():  # update the file the link points at; keep the link
        path = path.resolve()
    try:
        current = path.stat().st_mode & 0o777
    except FileNotFoundError:
        current = mode if mode is not None else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, current)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_init(plan: InitPlan) -> bool:
    """Write the plan; False when there was nothing to change."""
    if not plan.changed:
        return False
    write_atomic(plan.path, plan.text, mode=0o600)
    return True


# ---- diff ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    key: str
    schema: str  # "required" | "optional" | "-"
    env: bool
    example: bool


@dataclass
class DiffResult:
    schema: str
    env_files: list[str]
    example: str
    rows: list[DiffRow]
    example_stale: bool
    example_exists: bool

    @property
    def ok(self) -> bool:
        return not self.rows and not self.example_stale

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "schema": self.schema,
            "env_files": self.env_files,
            "example": self.example,
            "example_exists": self.example_exists,
            "example_stale": self.example_stale,
            "differences": [
                {"key": r.key, "schema": r.schema, "env": r.env, "example": r.example}
                for r in self.rows
            ],
            "missing_from_env": [r.key for r in self.rows if r.schema != "-" and not r.env],
            "not_in_schema": [r.key for r in self.rows if r.schema == "-"],
            "missing_from_example": [r.key for r in self.rows if r.schema != "-" and not r.example],
        }


def diff(
    schema: Schema,
    env_keys: Mapping[str, Any],
    env_files: list[str],
    example_text: str | None,
    example_name: str,
    env: str | None = None,
) -> DiffResult:
    """Keys present in some but not all of schema, env files and example (both directions)."""
    from dotenv.parser import parse_stream

    example_keys: set[str] = set()
    if example_text is not None:
        example_keys = {
            b.key
            for b in parse_stream(io.StringIO(example_text.removeprefix("\ufeff")))
            if b.key is not None and not b.error
        }
    rows: list[DiffRow] = []
    ordered = list(schema.items) + sorted((set(env_keys) | example_keys) - set(schema.items))
    for key in ordered:
        item = schema.items.get(key)
        state = "-" if item is None else ("required" if item.is_required(env) else "optional")
        row = DiffRow(key, state, key in env_keys, key in example_keys)
        if item is not None and row.env and row.example:
            continue
        rows.append(row)
    stale = example_text is None or example_text != render_example(schema, _name(schema.path))
    return DiffResult(schema.path, env_files, example_name, rows, stale, example_text is not None)


def _name(path: str) -> str:
    return Path(path).name
