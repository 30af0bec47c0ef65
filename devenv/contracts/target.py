"""What a contract run is pointed at: URLs and keys, from the running stack or given explicitly.

The names are those of ``devenv status -o env`` (and so of an app's ``.env``): a target can be
read from the stack's handle, from an env file (a hosted environment's), or from options, and a
suite whose service has no URL here skips, saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devenv.stack.handle import Stack

#: Target field -> the env name it is read from (``status -o env`` names, plus MAILPIT_URL).
ENV_NAMES: dict[str, str] = {
    "api_url": "SUPABASE_URL",
    "anon_key": "SUPABASE_ANON_KEY",
    "service_role_key": "SUPABASE_SERVICE_ROLE_KEY",
    "jwt_secret": "SUPABASE_JWT_SECRET",
    "gotrue_url": "GOTRUE_URL",
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "fireworks_url": "FIREWORKS_BASE_URL",
    "fireworks_key": "FIREWORKS_API_KEY",
    "mail_url": "MAILPIT_URL",
}

SECRET_FIELDS = ("anon_key", "service_role_key", "jwt_secret", "database_url", "fireworks_key")


@dataclass(frozen=True)
class Target:
    api_url: str = ""  # the gateway (Kong): SUPABASE_URL
    anon_key: str = field(default="", repr=False)
    service_role_key: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    gotrue_url: str = ""  # GoTrue itself; empty: through the gateway at /auth/v1
    database_url: str = field(default="", repr=False)
    redis_url: str = ""
    fireworks_url: str = ""  # the OpenAI-compatible base, .../inference/v1
    fireworks_key: str = field(default="", repr=False)
    mail_url: str = ""  # the mail catcher's web/API root (Mailpit)
    #: The app's migrations folder (the postgres suite compares it with what was applied).
    migrations_dir: Path | None = None
    #: Kong's declarative config whose routes the kong suite walks (the shipped template).
    kong_config: Path | None = None
    #: Where this target came from, for the report's header: a stack name or "env file X".
    label: str = ""
    #: The services a stack target has (None: not known, e.g. a hosted environment); a suite
    #: for a service the stack does not have skips.
    services: tuple[str, ...] | None = None

    def lacks(self, service: str) -> bool:
        return self.services is not None and service not in self.services

    @property
    def auth_url(self) -> str:
        """GoTrue's base: its own URL when known, else through the gateway."""
        if self.gotrue_url:
            return self.gotrue_url.rstrip("/")
        return f"{self.api_url.rstrip('/')}/auth/v1" if self.api_url else ""

    def secret_values(self) -> list[str]:
        out = [getattr(self, f) for f in SECRET_FIELDS]
        if self.database_url:
            from urllib.parse import urlsplit

            pw = urlsplit(self.database_url).password
            if pw:
                out.append(pw)
        return [v for v in out if v]

    def with_values(self, values: Mapping[str, str | None]) -> Target:
        """This target with the non-empty ``values`` (field names) replacing its own."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in values.items() if v and k in known}
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, values: Mapping[str, str | None], label: str = "") -> Target:
        """From env names (``SUPABASE_URL`` ...), as in an app's .env or ``status -o env``."""
        picked = {f: values.get(name) or "" for f, name in ENV_NAMES.items()}
        return cls(label=label, kong_config=default_kong_config()).with_values(picked)

    @classmethod
    def from_env_file(cls, path: Path) -> Target:
        from dotenv import dotenv_values

        from devenv.errors import UsageError

        if not path.is_file():
            raise UsageError(f"env file {path} not found", "give the path of an existing file")
        return cls.from_env(dotenv_values(path), label=f"env file {path}")

    @classmethod
    def from_stack(cls, st: Stack) -> Target:
        """The stack's configured URLs and keys, for every enabled service, running or not: a
        service that is down fails its suite (connection refused), it does not skip."""
        keys = st.keys()
        env = st.env_for(st.cfg.services, keys)
        if keys is not None and "postgres" in st.cfg.services:
            env["DATABASE_URL"] = st.database_url()  # DEVENV_DATABASE_URL when it is set
        values = {f: env.get(name, "") for f, name in ENV_NAMES.items()}
        migrations = st.cfg.path(st.cfg.db.migrations)
        return replace(
            cls(label=f"stack {st.cfg.name!r}", kong_config=default_kong_config()).with_values(
                values
            ),
            migrations_dir=migrations if migrations.is_dir() else None,
            services=tuple(st.cfg.services),
        )


def default_kong_config() -> Path | None:
    from devenv.assets import compose_dir

    try:
        path = compose_dir() / "kong" / "kong.yml"
    except Exception:  # an installation without compose/: the kong suite says so
        return None
    return path if path.is_file() else None
