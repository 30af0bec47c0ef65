"""Adopting a Supabase CLI project: ``supabase/config.toml`` -> devenv.toml tables.

A team on ``supabase start`` keeps its files where they are: migrations in
``supabase/migrations/<timestamp>_name.sql``, seeds in ``[db.seed] sql_paths`` (``./seed.sql``
by default, globs relative to ``supabase/``), the ports its clients already use, and the auth
settings its app relies on. :func:`adopt` maps each setting that has a devenv counterpart and
lists, by name, the ones that have none, so ``devenv init`` can say both.

Values written ``env(NAME)`` are resolved from the environment as the Supabase CLI does; an unset
one is reported and not taken. Nothing here writes a file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.errors import ConfigError

DIR = "supabase"
CONFIG = f"{DIR}/config.toml"

#: Supabase CLI's default Postgres major version of the local stack when config.toml omits it.
_DEFAULT_MAJOR = 15
_ENV_RE = re.compile(r"^env\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)$")

#: Top-level tables devenv has no service for, with what to say.
_NO_SERVICE = {
    "realtime": "Realtime is not part of the devenv stack",
    "studio": "no Studio in the devenv stack (use `devenv db shell`)",
    "storage": "Storage (/storage/v1) is not part of the devenv stack",
    "edge_runtime": "Edge Functions are not part of the devenv stack",
    "analytics": "no log analytics in the devenv stack",
    "experimental": "experimental settings have no devenv counterpart",
    "remotes": "remote branches have no devenv counterpart",
}

#: Settings devenv reads, by their Supabase path (what is taken is reported by these names).
_AUTH_KEYS = ("site_url", "additional_redirect_urls", "jwt_expiry", "enable_signup")


@dataclass
class Adoption:
    """devenv.toml tables made from a Supabase CLI project, and what was (not) taken."""

    source: Path
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken: list[str] = field(default_factory=list)  # "api.port = 54321 -> [ports] kong"
    not_taken: list[str] = field(default_factory=list)  # "studio: no Studio in ..."

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "sections": self.sections,
            "taken": self.taken,
            "no_counterpart": self.not_taken,
        }


def find(root: Path) -> Path | None:
    path = root / CONFIG
    return path if path.is_file() else None


def read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", "fix the syntax at that line and run again"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", "check the file's permissions") from None


def adopt(
    root: Path,
    *,
    known_auth: frozenset[str] | set[str] = frozenset(_AUTH_KEYS),
    known_ports: frozenset[str] | set[str] = frozenset({"kong", "postgres"}),
    environ: dict[str, str] | None = None,
    services: tuple[str, ...] = ("postgres", "gotrue", "kong", "redis", "fireworks"),
) -> Adoption | None:
    """The adoption of ``root``'s Supabase CLI project, or None without supabase/config.toml.

    ``known_auth`` / ``known_ports`` are the [auth] keys and services this devenv accepts, so a
    setting is only taken where devenv.toml can hold it (``enable_confirmations`` and the mail
    catcher's port come with the auth and mail features)."""
    path = find(root)
    if path is None:
        return None
    env = dict(os.environ) if environ is None else environ
    raw = read(path)
    a = Adoption(path)
    s = a.sections

    def take(what: str, value: Any, section: str, key: str) -> None:
        m = _ENV_RE.match(value) if isinstance(value, str) else None
        if m:
            name = m.group("name")
            if name not in env:
                a.not_taken.append(f"{what}: env({name}) is not set here, so not taken")
                return
            value = env[name]
        s.setdefault(section, {})[key] = value
        target = f"[{section}] {key}"
        shown = value if not isinstance(value, str) else repr(value)
        a.taken.append(f"{what} = {shown} -> {target}")

    def table(d: Any, name: str) -> dict[str, Any]:
        v = d.get(name) if isinstance(d, dict) else None
        return v if isinstance(v, dict) else {}

    # --- project
    project_id = raw.get("project_id")
    if isinstance(project_id, str) and project_id:
        name = re.sub(r"[^a-z0-9_-]", "-", project_id.lower()).strip("-_")
        if name:
            take("project_id", name, "project", "name")

    chosen = list(services)
    api, auth, db = table(raw, "api"), table(raw, "auth"), table(raw, "db")
    if api.get("enabled") is False and "kong" in chosen:
        chosen.remove("kong")
        a.taken.append("api.enabled = false -> kong left out of [project] services")
    if auth.get("enabled") is False and "gotrue" in chosen:
        chosen.remove("gotrue")
        a.taken.append("auth.enabled = false -> gotrue left out of [project] services")
    inbucket = table(raw, "inbucket")
    if "mail" in chosen and inbucket.get("enabled") is False:
        chosen.remove("mail")
        a.taken.append("inbucket.enabled = false -> mail left out of [project] services")
    pooler = table(db, "pooler")
    if pooler.get("enabled") is True and "pooler" in known_ports:
        chosen.append("pooler")
        a.taken.append("db.pooler.enabled = true -> pooler in [project] services")
        if isinstance(pooler.get("port"), int):
            take("db.pooler.port", pooler["port"], "ports", "pooler")
        for key in sorted(set(pooler) - {"enabled", "port", "pool_mode"}):
            a.not_taken.append(f"db.pooler.{key}: no devenv counterpart")
        if pooler.get("pool_mode", "transaction") != "transaction":
            a.not_taken.append("db.pooler.pool_mode: devenv's pooler runs in transaction mode")
    s["project"] = {**s.get("project", {}), "services": chosen}

    # --- ports
    if isinstance(api.get("port"), int):
        take("api.port", api["port"], "ports", "kong")
    if isinstance(db.get("port"), int):
        take("db.port", db["port"], "ports", "postgres")
    if isinstance(inbucket.get("port"), int):
        if "mail" in known_ports:
            take("inbucket.port", inbucket["port"], "ports", "mail")
        else:
            a.not_taken.append("inbucket: no mail catcher in this devenv version")
    for key in ("schemas", "extra_search_path", "max_rows", "tls"):
        if key in api:
            a.not_taken.append(f"api.{key}: no PostgREST in the devenv stack (Kong answers 404)")
    skipped = ["shadow_port", "vault", "network_restrictions", "root_key"]
    if "pooler" not in chosen and pooler.get("enabled") is True:
        skipped.append("pooler")
    for key in skipped:
        if key in db:
            a.not_taken.append(f"db.{key}: no devenv counterpart")

    # --- database version
    major = db.get("major_version")
    if isinstance(major, int) and major != _DEFAULT_MAJOR:
        # devenv builds postgres:<major> with the [db] extensions, as for 15.
        take("db.major_version", major, "db", "major_version")

    # --- migrations and seeds
    mig = table(db, "migrations")
    if mig.get("enabled") is False:
        a.not_taken.append("db.migrations.enabled = false: devenv always applies migrations")
    s.setdefault("db", {})["migrations"] = f"{DIR}/migrations"
    a.taken.append(f"migrations: {DIR}/migrations -> [db] migrations")
    if mig.get("schema_paths"):
        a.not_taken.append("db.migrations.schema_paths: declarative schemas have no counterpart")
    seed = table(db, "seed")
    paths = seed.get("sql_paths", ["./seed.sql"])
    if seed.get("enabled") is False:
        a.taken.append("db.seed.enabled = false -> no seed files")
    elif isinstance(paths, list) and all(isinstance(p, str) for p in paths):
        rel = [_from_supabase_dir(p) for p in paths]
        s["db"]["seed_paths"] = rel
        a.taken.append(f"db.seed.sql_paths = {paths!r} -> [db] seed_paths = {rel!r}")

    # --- auth
    for key in _AUTH_KEYS:
        if key in auth and key in known_auth:
            take(f"auth.{key}", auth[key], "auth", key)
    email = table(auth, "email")
    if "enable_confirmations" in email:
        if "enable_confirmations" in known_auth:
            take(
                "auth.email.enable_confirmations",
                email["enable_confirmations"],
                "auth",
                "enable_confirmations",
            )
        else:
            a.not_taken.append(
                "auth.email.enable_confirmations: this devenv version always confirms at once"
            )
    for key in sorted(auth):
        if key in ("enabled", "email", *_AUTH_KEYS):
            continue
        a.not_taken.append(f"auth.{key}: no devenv counterpart")
    for key in sorted(email):
        if key != "enable_confirmations":
            a.not_taken.append(f"auth.email.{key}: no devenv counterpart")

    # --- everything else
    for key in sorted(raw):
        if key in _NO_SERVICE and table(raw, key).get("enabled", True) is not False:
            a.not_taken.append(f"{key}: {_NO_SERVICE[key]}")
        elif key not in (*_NO_SERVICE, "project_id", "api", "auth", "db", "inbucket"):
            a.not_taken.append(f"{key}: no devenv counterpart")
    return a


def _from_supabase_dir(p: str) -> str:
    """A Supabase path (relative to supabase/) as a project-root relative one."""
    rel = p[2:] if p.startswith("./") else p
    return rel if rel.startswith("/") else f"{DIR}/{rel}"
