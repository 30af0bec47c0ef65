"""The env-file operations of a devenv project (devenv.toml's ``[env]``): which files, which
schema, and the entry points the CLI and ``devenv up`` call.

``[env] files`` is the cascade, read in order, later files overriding earlier ones. An entry may
contain ``{env}``, replaced by the current environment (the schema's ``@currentEnv`` item from
the process environment, the untemplated files, or its default; else ``--env``); without one,
such entries are skipped. ``[env] reader`` says whose reading of the files is checked
(``env-spec``, ``python-dotenv`` or ``compose``). For example::

    [env]
    files = [".env", ".env.local", ".env.{env}", ".env.{env}.local"]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from devenv.config import Config
from devenv.envfile.check import CheckResult, Source, check, current_env
from devenv.envfile.problems import Problem
from devenv.envfile.render import (
    DiffResult,
    InitPlan,
    diff,
    plan_init,
    render_example,
    write_atomic,
)
from devenv.envfile.schema import Schema, load_schema
from devenv.errors import EnvFileError

ENV_PLACEHOLDER = "{env}"


def display(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def schema_path(cfg: Config) -> Path:
    return cfg.path(cfg.env.schema)


def load_project_schema(cfg: Config, *, required: bool = True) -> Schema | None:
    path = schema_path(cfg)
    if not path.exists() and not required:
        return None
    return load_schema(path, display(path))


def sources(
    cfg: Config,
    schema: Schema | None,
    *,
    env_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    files: Sequence[str] = (),
) -> list[Source]:
    """The env files to read, in order: ``files`` if given, else ``[env] files``."""
    environ = os.environ if environ is None else environ
    if files:
        return [Source(Path(f), display(Path(f))) for f in files]
    entries = list(cfg.env.files)
    plain = [e for e in entries if ENV_PLACEHOLDER not in e]
    env = env_name
    if len(plain) < len(entries) and (env is None or _has_current_env(schema)):
        from devenv.envfile.reader import read_file

        values: dict[str, str | None] = {}
        for e in plain:
            p = cfg.path(e)
            if p.is_file():
                got = read_file(p, environ=environ, inherited=values, reader=cfg.env.reader)
                values.update({k: v for k, v in got.values().items() if v is not None})
        env = current_env(schema, values, env_name, environ)
    out = []
    for e in entries:
        if ENV_PLACEHOLDER in e:
            if not env:
                continue
            e = e.replace(ENV_PLACEHOLDER, env)
        p = cfg.path(e)
        out.append(Source(p, display(p)))
    return out


def _has_current_env(schema: Schema | None) -> bool:
    return schema is not None and schema.current_env_key is not None


def check_files(
    cfg: Config,
    files: Sequence[str] = (),
    *,
    env_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CheckResult:
    """``devenv env check``: the schema must parse (EnvFileError, exit 2, otherwise); a missing
    schema only narrows the check to syntax and compatibility."""
    schema = load_project_schema(cfg, required=False)
    srcs = sources(cfg, schema, env_name=env_name, environ=environ, files=files)
    result = check(schema, srcs, env_name=env_name, environ=environ, reader=cfg.env.reader)
    if schema is None:
        result.notes.insert(0, f"no schema at {display(schema_path(cfg))}")
    return result


def check_project(cfg: Config) -> list[Problem]:
    """For ``devenv up`` to warn with, never to fail on: the project's env problems, or [] when
    it has no schema or no env file. A malformed schema comes back as one problem."""
    path = schema_path(cfg)
    if not path.is_file():
        return []
    try:
        schema = load_schema(path, display(path))
    except EnvFileError as exc:
        return [Problem(display(path), 0, None, "schema", exc.one_line())]
    srcs = sources(cfg, schema)
    if not any(s.path.exists() for s in srcs):
        return []
    try:
        return check(schema, srcs, reader=cfg.env.reader).problems
    except EnvFileError as exc:
        return [Problem(display(path), 0, None, "schema", exc.one_line())]


def init_plan(cfg: Config, stack: Mapping[str, str], *, target: str | None = None) -> InitPlan:
    """What ``devenv env init`` writes to the first env file (or ``target``)."""
    schema = load_project_schema(cfg, required=False)
    name = target or (cfg.env.files[0] if cfg.env.files else ".env")
    if ENV_PLACEHOLDER in name:
        raise EnvFileError(
            f"[env] files starts with {name!r}; init needs a plain file first",
            "list .env first in devenv.toml",
        )
    return plan_init(schema, cfg.path(name), stack)


def example_text(cfg: Config) -> tuple[Path, str, str | None]:
    """(path of .env.example, what it should contain, what it contains now or None)."""
    schema = load_project_schema(cfg)
    assert schema is not None
    path = cfg.path(cfg.env.example)
    want = render_example(schema, Path(cfg.env.schema).name)
    try:
        have: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        have = None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"{display(path)}: cannot read: {exc}", "fix or remove it") from None
    return path, want, have


def write_example(cfg: Config) -> tuple[Path, bool]:
    """Regenerate .env.example; (path, whether it changed)."""
    path, want, have = example_text(cfg)
    if have == want:
        return path, False
    write_atomic(path, want)
    return path, True


def diff_project(
    cfg: Config, *, env_name: str | None = None, environ: Mapping[str, str] | None = None
) -> DiffResult:
    schema = load_project_schema(cfg)
    assert schema is not None
    srcs = sources(cfg, schema, env_name=env_name, environ=environ)
    from devenv.envfile.reader import read_file

    present = [s for s in srcs if s.path.is_file()]
    keys: dict[str, str | None] = {}
    for s in present:
        keys.update(read_file(s.path, s.display, environ={}, reader=cfg.env.reader).values())
    ex_path, _want, have = example_text(cfg)
    env = current_env(schema, keys, env_name, environ if environ is not None else os.environ)
    return diff(schema, keys, [s.display for s in present], have, display(ex_path), env)
