"""Checking a cascade of env files against a schema: every problem at once, none with a secret.

The files are read in order (``.env``, ``.env.local``, ``.env.<env>``, ...) and merged the way
python-dotenv loading them one after another would: a later file overrides an earlier one, which
is not a problem; a key set twice in one file is. What is checked:

- each file on its own (:mod:`devenv.envfile.reader`): encoding, size, BOM, syntax, duplicates,
  swallowed lines, ``${VAR}`` references, python-dotenv vs Docker Compose;
- against the schema: required keys missing or empty (placed at the schema line declaring
  them), values that do not match their ``@type`` (placed where the value is set), and keys the
  schema does not declare, with a pointer when only letter case differs.

A value is shown in a message only when the schema declares its key non-sensitive. Keys the
schema does not know, and every key when there is no schema, count as sensitive. Every message
then goes through :func:`~devenv.envfile.problems.redact` with all sensitive values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.envfile.problems import Problem, quote, redact_all
from devenv.envfile.reader import EnvFile, describe_readings, read_file
from devenv.envfile.spec import Schema


@dataclass(frozen=True)
class Source:
    """One env file to read: where it is and how to show its name."""

    path: Path
    display: str


@dataclass
class CheckResult:
    schema: str | None
    files: list[str]
    env: str | None
    problems: list[Problem]
    keys: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.code] = counts.get(p.code, 0) + 1
        return {
            "ok": self.ok,
            "schema": self.schema,
            "files": self.files,
            "env": self.env,
            "keys": self.keys,
            "counts": counts,
            "problems": [p.as_dict() for p in self.problems],
            "notes": self.notes,
        }


def check(
    schema: Schema | None,
    sources: Sequence[Source],
    *,
    env_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CheckResult:
    """Read ``sources`` in order and check them (against ``schema`` when given)."""
    environ = os.environ if environ is None else environ
    files: list[EnvFile] = []
    merged: dict[str, str | None] = {}
    where: dict[str, tuple[str, int]] = {}
    for src in sources:
        if not src.path.exists():
            continue
        f = read_file(src.path, src.display, environ=environ, inherited=merged)
        files.append(f)
        for e in f.entries:
            merged[e.key] = e.value
            where[e.key] = (f.path, e.line)

    problems: list[Problem] = []
    notes: list[str] = []
    if not files and sources:
        shown = sources[0].display
        problems.append(
            Problem(
                shown,
                0,
                None,
                "no-file",
                "not found; create it with `devenv env init` (or copy .env.example)",
            )
        )
    for f in files:
        problems.extend(f.problems)

    env = current_env(schema, merged, env_name, environ)

    def sensitive(key: str) -> bool:
        item = schema.get(key) if schema is not None else None
        return item.is_sensitive if item is not None else True

    if schema is None:
        notes.append("no schema: only syntax and Docker Compose compatibility were checked")
    else:
        problems.extend(_against_schema(schema, files, merged, where, env))

    # Compose/python-dotenv disagreements: show both readings where the key is not sensitive.
    shown_problems: list[Problem] = []
    for p in problems:
        if p.code == "compat" and p.key is not None and not sensitive(p.key):
            owner = next((f for f in files if f.path == p.file), None)
            if owner is not None and p.line in owner.readings:
                d, c = owner.readings[p.line]
                p = Problem(
                    p.file, p.line, p.key, p.code, f"{p.message} ({describe_readings(d, c)})"
                )
        shown_problems.append(p)

    order = {f.path: i for i, f in enumerate(files)}
    shown_problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line))
    return CheckResult(
        schema=schema.path if schema is not None else None,
        files=[f.path for f in files],
        env=env,
        problems=redact_all(shown_problems, _secrets(files, sensitive)),
        keys=len(merged),
        notes=notes,
    )


def current_env(
    schema: Schema | None,
    values: Mapping[str, str | None],
    env_name: str | None,
    environ: Mapping[str, str],
) -> str | None:
    """The environment ``forEnv`` and ``.env.{env}`` use: ``--env``, else the ``@currentEnv``
    item from the process environment, the files, or the schema's default."""
    if env_name:
        return env_name
    if schema is None or schema.current_env_key is None:
        return None
    key = schema.current_env_key
    for candidate in (environ.get(key), values.get(key), schema.items[key].default):
        if candidate:
            return candidate
    return None


def _against_schema(
    schema: Schema,
    files: list[EnvFile],
    merged: Mapping[str, str | None],
    where: Mapping[str, tuple[str, int]],
    env: str | None,
) -> list[Problem]:
    out: list[Problem] = []
    read_names = ", ".join(f.path for f in files) or "the env files"
    lower = {k.lower(): k for k in schema.items}
    case_variants: dict[str, tuple[str, int, str]] = {}
    for f in files:
        reported: set[str] = set()
        for e in f.entries:
            if e.key in schema.items or e.key in reported:
                continue
            reported.add(e.key)
            twin = lower.get(e.key.lower())
            if twin is not None:
                case_variants[twin] = (f.path, e.line, e.key)
                out.append(
                    Problem(
                        f.path,
                        e.line,
                        e.key,
                        "case",
                        f"the schema declares {twin}; names are case-sensitive, so this does "
                        f"not set {twin}",
                    )
                )
            else:
                out.append(
                    Problem(f.path, e.line, e.key, "unknown", f"not declared in {schema.path}")
                )

    for key, item in schema.items.items():
        value = merged.get(key)
        required = item.is_required(env)
        if value is None or value == "":
            if not required:
                continue
            when = f" in environment {env!r}" if item.required_for_env is not None else ""
            if key in merged:
                file, line = where[key]
                what = "is empty" if value == "" else "has no value (no '=')"
                out.append(Problem(file, line, key, "missing", f"required{when}, but {what}"))
                continue
            message = f"required{when}, but not set in {read_names}"
            if key in case_variants:
                vf, vl, vk = case_variants[key]
                message += f" ({vf}:{vl} sets {vk!r} instead)"
            elif item.default:
                shown = "" if item.is_sensitive else f" {quote(item.default)}"
                message += (
                    f" (the schema's default{shown} is not read by the app; "
                    "`devenv env init` writes it)"
                )
            out.append(Problem(schema.path, item.line, key, "missing", message))
            continue
        err = item.type.validate(value)
        if err is not None:
            file, line = where[key]
            if not item.is_sensitive:
                err = f"{err} (got {quote(value)})"
            if item.type.name not in ("string", "enum"):
                err = f"expected {item.type.name}: {err}"
            out.append(Problem(file, line, key, "type", err))
    return out


def _secrets(files: list[EnvFile], sensitive: Callable[[str], bool]) -> list[str]:
    out: list[str] = []
    for f in files:
        for e in f.entries:
            if sensitive(e.key):
                out.extend(v for v in (e.raw, e.value) if v)
                reading = f.readings.get(e.line)
                if reading is not None:
                    out.extend(v for v in reading if v)
    return out
