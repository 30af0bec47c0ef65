"""Checking a cascade of env files against a schema: every problem at once, none with a secret.

The files are read in order (``.env``, ``.env.local``, ``.env.<env>``, ...) with the chosen
reader (``[env] reader``) and merged: a later file overrides an earlier one, which is not a
problem; a key set twice in one file is. With the @env-spec reader (the default) the format's
semantics apply, as varlock applies them: ``KEY=`` sets no value (what was there stays), a key no
file sets takes the schema's default, and ``${VAR}`` is resolved once every source is known. What
is checked:

- each file on its own (:mod:`devenv.envfile.reader`): encoding, size, BOM, syntax, duplicates,
  swallowed lines, ``${VAR}`` references, the lines the three readers read differently;
- against the schema: required keys missing or empty (placed at the schema line declaring
  them), values and defaults that do not match their ``@type`` (placed where the value is set),
  keys the schema does not declare (with a pointer when only letter case differs), and
  ``@required=forEnv(..)`` without any current environment (a :class:`SchemaError`).

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

from devenv.envfile import envspec_reader
from devenv.envfile.compare import describe_readings
from devenv.envfile.problems import Problem, quote, redact_all
from devenv.envfile.reader import DEFAULT_READER, EnvFile, read_file
from devenv.envfile.schema import Item, Schema


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
    reader: str = DEFAULT_READER,
) -> CheckResult:
    """Read ``sources`` in order with ``reader`` and check them (against ``schema`` if given).

    Raises :class:`~devenv.envfile.schema.SchemaError` when an item is ``@required=forEnv(..)``
    and there is no current environment at all (no ``@currentEnv`` value and no ``--env``)."""
    environ = os.environ if environ is None else environ
    files: list[EnvFile] = []
    merged: dict[str, str | None] = {}
    where: dict[str, tuple[str, int]] = {}
    for src in sources:
        if not src.path.exists():
            continue
        f = read_file(src.path, src.display, environ=environ, inherited=merged, reader=reader)
        files.append(f)
        for e in f.entries:
            if reader == "env-spec" and e.parts is None and not e.opaque and e.key in merged:
                continue  # KEY= sets no value: what an earlier file set stays
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

    from_default: set[str] = set()
    unresolved: set[str] = set()
    if reader == "env-spec":
        from_default, unresolved = _resolve_graph(schema, files, merged, where, environ, problems)

    env = current_env(schema, merged, env_name, environ)
    if schema is not None:
        _require_env(schema, env)
        if env_name and env != env_name:
            notes.append(
                f"--env {env_name} is ignored: the schema's @currentEnv "
                f"(${schema.current_env_key}) is {env!r}"
            )

    def sensitive(key: str) -> bool:
        item = schema.get(key) if schema is not None else None
        return item.is_sensitive if item is not None else True

    if schema is None:
        notes.append("no schema: only syntax and the readers' agreement were checked")
    else:
        problems.extend(
            _against_schema(schema, files, merged, where, env, reader, from_default, unresolved)
        )

    # Reader disagreements: show each reader's value where the key is not sensitive.
    shown_problems: list[Problem] = []
    for p in problems:
        if (
            p.code == "compat"
            and p.key is not None
            and not sensitive(p.key)
            and p.line in _readings_lines(files, p.file)
            and "this line differently" in p.message
        ):
            owner = next((f for f in files if f.path == p.file), None)
            if owner is not None and p.line in owner.readings:
                p = Problem(
                    p.file,
                    p.line,
                    p.key,
                    p.code,
                    f"{p.message} ({describe_readings(owner.readings[p.line])})",
                )
        shown_problems.append(p)

    order = {f.path: i for i, f in enumerate(files)}
    shown_problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line))
    secrets = _secrets(files, sensitive)
    if schema is not None:
        secrets += [
            v
            for k in from_default
            if sensitive(k)
            for v in (merged.get(k), schema.items[k].default)
            if v
        ]
    return CheckResult(
        schema=schema.path if schema is not None else None,
        files=[f.path for f in files],
        env=env,
        problems=redact_all(shown_problems, secrets),
        keys=len([k for k, v in merged.items() if v is not None or k in where]),
        notes=notes,
    )


def _readings_lines(files: list[EnvFile], path: str) -> set[int]:
    return {ln for f in files if f.path == path for ln in f.readings}


def _resolve_graph(
    schema: Schema | None,
    files: list[EnvFile],
    merged: dict[str, str | None],
    where: dict[str, tuple[str, int]],
    environ: Mapping[str, str],
    problems: list[Problem],
) -> tuple[set[str], set[str]]:
    """@env-spec values, resolved as varlock does once every source is known: a key absent
    from the files (or set with ``KEY=``) takes the schema's default, and ``${VAR}`` anywhere
    refers to the final value of VAR, wherever it comes from (a later file, a default). A
    reference to a key defined nowhere, or a cycle (``A=${A}x``), is a problem, as varlock
    refuses both. Returns the keys whose value is the schema's default, and those caught in a
    cycle (they have no value, and no further problem is reported for them)."""
    definitions: dict[str, tuple[tuple[envspec_reader.Part, ...] | None, str, int]] = {}
    if schema is not None:
        for key, item in schema.items.items():
            if item.default_parts is not None:
                definitions[key] = (item.default_parts, schema.path, item.line)
    from_default = set(definitions)
    opaque: set[str] = set()
    for f in files:
        for e in f.entries:
            if e.opaque:
                opaque.add(e.key)
                from_default.discard(e.key)
                definitions.pop(e.key, None)
            elif e.parts is not None:
                definitions[e.key] = (e.parts, f.path, e.line)
                from_default.discard(e.key)
                opaque.discard(e.key)

    #: keys that exist without a value (declared with no default, or set with KEY=)
    declared = set(schema.items if schema is not None else ()) | {
        e.key for f in files for e in f.entries
    }
    done: dict[str, str | None] = {}
    cyclic: set[str] = set()
    reported: set[tuple[str, str]] = set()

    def deps(key: str) -> list[str]:
        parts = definitions[key][0] or ()
        return [
            p.name for p in parts if isinstance(p, envspec_reader.Ref) and p.name in definitions
        ]

    def evaluate(key: str) -> None:
        parts, file, line = definitions[key]

        def lookup(name: str) -> str | None:
            if name in definitions:
                return done.get(name)
            if name in opaque or name in declared:
                return None  # a key that exists with no value: a fallback applies
            if (key, name) not in reported:
                reported.add((key, name))
                problems.append(
                    Problem(
                        file,
                        line,
                        key,
                        "undefined-ref",
                        f"${{{name}}} names a key that is neither in the schema nor in the "
                        "env files: varlock refuses the reference (devenv reads it from the "
                        "environment, else as unset)",
                    )
                )
            return environ.get(name)

        done[key] = None if key in cyclic else envspec_reader.resolve(parts, lookup)

    # Depth first with an explicit stack (a chain of thousands of references must not hit
    # Python's recursion limit); a key is evaluated once everything it refers to is.
    state: dict[str, int] = {}  # 1: on the current path, 2: evaluated
    for start in definitions:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        stack = [(start, iter(deps(start)))]
        while stack:
            key, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[key] = 2
                evaluate(key)
            elif state.get(nxt) == 1:
                loop = path[path.index(nxt) :]
                cyclic.update(loop)
                _, file, line = definitions[key]
                problems.append(
                    Problem(
                        file,
                        line,
                        key,
                        "undefined-ref",
                        f"a reference cycle ({' -> '.join([*loop, nxt])}): @env-spec cannot "
                        "resolve it",
                    )
                )
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(deps(nxt))))

    for key in definitions:
        merged[key] = done.get(key)
        if key in from_default and schema is not None:
            where[key] = (schema.path, schema.items[key].line)
    return from_default, cyclic


def _require_env(schema: Schema, env: str | None) -> None:
    """``@required=forEnv(..)`` needs a current environment; without one the requirement would
    silently vanish, so it is a schema error."""
    if env:
        return
    from devenv.envfile.schema import Issue, SchemaError

    issues = []
    for item in schema.items.values():
        if item.required_for_env is not None and item.required_for_env_at is not None:
            line, col = item.required_for_env_at
            how = (
                f"the @currentEnv item {schema.current_env_key} has no value"
                if schema.current_env_key
                else "the schema has no @currentEnv"
            )
            issues.append(
                Issue(
                    line,
                    col,
                    f"{item.key}: @required=forEnv(...) needs a current environment, but "
                    f"{how} and no --env was given; set one (e.g. @currentEnv=$APP_ENV in the "
                    "header) or pass --env",
                )
            )
    if issues:
        raise SchemaError(schema.path, issues)


def current_env(
    schema: Schema | None,
    values: Mapping[str, str | None],
    env_name: str | None,
    environ: Mapping[str, str],
) -> str | None:
    """The environment ``forEnv`` and ``.env.{env}`` use. The schema's ``@currentEnv`` item
    wins, as in varlock (from the process environment, the files, or its default); ``--env``
    counts only when the schema has no such item or it has no value."""
    if schema is not None and schema.current_env_key is not None:
        key = schema.current_env_key
        for candidate in (environ.get(key), values.get(key), schema.items[key].default):
            if candidate:
                return candidate
    return env_name or None


def _against_schema(
    schema: Schema,
    files: list[EnvFile],
    merged: Mapping[str, str | None],
    where: Mapping[str, tuple[str, int]],
    env: str | None,
    reader: str,
    from_default: set[str],
    unresolved: set[str],
) -> list[Problem]:
    out: list[Problem] = []
    read_names = ", ".join(f.path for f in files) or "the env files"
    # A file that could not be read (too large, binary, not UTF-8) says so once; what it would
    # have set is unknown, so "required, but not set" would wrongly suggest the values are missing.
    unread = [f for f in files if not f.readable]
    lower = {k.lower(): k for k in schema.items}
    case_variants: dict[str, tuple[str, int, str]] = {}
    opaque = {e.key for f in files for e in f.entries if e.opaque} | unresolved
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
        if key in opaque:
            continue
        value = merged.get(key)
        required = item.is_required(env)
        if value is None or value == "":
            if not required:
                if key not in from_default and item.default_parts is not None:
                    out.extend(_check_default(schema, item))
                continue
            when = f" in environment {env!r}" if item.required_for_env is not None else ""
            if key in where and where[key][0] != schema.path:
                file, line = where[key]
                what = (
                    "is empty"
                    if value == ""
                    else f"has no value ({key}= with nothing after it sets none)"
                )
                out.append(Problem(file, line, key, "missing", f"required{when}, but {what}"))
                continue
            if unread:
                continue
            message = f"required{when}, but not set in {read_names}"
            if key in case_variants:
                vf, vl, vk = case_variants[key]
                message += f" ({vf}:{vl} sets {vk!r} instead)"
            elif item.default and reader != "env-spec":
                shown = "" if item.is_sensitive else f" {quote(item.default)}"
                message += (
                    f" (the schema's default{shown} is not read by {_READER_APP[reader]}; "
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
            if key in from_default:
                err = f"the schema's default {err}" if err[0].islower() else err
            out.append(Problem(file, line, key, "type", err))
        elif key not in from_default and item.default_parts is not None:
            out.extend(_check_default(schema, item))
    return out


#: Who loads the env files, for messages about defaults under the other readers.
_READER_APP = {
    "python-dotenv": "an app that loads with python-dotenv",
    "compose": "Docker Compose",
    "env-spec": "varlock",
}


def _check_default(schema: Schema, item: Item) -> list[Problem]:
    """A default that is not the value in use is still checked when it is plain text (one
    with ``${VAR}`` depends on values it is not used with)."""
    parts = item.default_parts or ()
    if any(not isinstance(p, envspec_reader.Lit) for p in parts):
        return []
    value = envspec_reader.resolve(parts, lambda _n: None)
    if value is None:
        return []
    err = item.type.validate(value)
    if err is None:
        return []
    if not item.is_sensitive:
        err = f"{err} (got {quote(value)})"
    if item.type.name not in ("string", "enum"):
        err = f"expected {item.type.name}: {err}"
    return [Problem(schema.path, item.line, item.key, "type", f"the schema's default {err}")]


def _secrets(files: list[EnvFile], sensitive: Callable[[str], bool]) -> list[str]:
    """Every value of a sensitive key, as any of the three readers reads it."""
    return [v for f in files for k, v in f.values_seen if sensitive(k)]
