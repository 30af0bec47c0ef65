"""devenv.toml -> a typed, validated :class:`Config`.

Every problem is collected and raised at once as one :class:`~devenv.errors.ConfigError` whose
``problems`` each name the file, the key and what is expected, so a user fixes a file in one pass.
Unknown sections and keys are problems too: a typo (``[port]``) must not be silently ignored.

The file is optional: a repository without devenv.toml gets the defaults, with the project name
taken from the directory.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from devenv import environ as environ_mod
from devenv import postgres_spec
from devenv import services as svcs
from devenv.assets import compose_dir
from devenv.errors import ConfigError, UsageError

CONFIG_FILE = "devenv.toml"


_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: A host name, an IPv4 address, or an IPv6 address in brackets.
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$")


@dataclass(frozen=True)
class AuthConfig:
    site_url: str = "http://localhost:3000"
    jwt_expiry: int = 3600
    additional_redirect_urls: tuple[str, ...] = ()
    enable_signup: bool = True
    #: Off as in `supabase start`: signup returns a session at once. On: signup returns none and
    #: the confirmation mail waits in the mail catcher.
    enable_confirmations: bool = False


@dataclass(frozen=True)
class DbConfig:
    migrations: str = "migrations"
    seeds: str = "seeds"
    default_seed: str = "default"
    #: The app's own migration tool (argv, run from the project root with DATABASE_URL set) in
    #: place of devenv's SQL runner; empty: devenv applies ``migrations`` itself.
    migrate: tuple[str, ...] = ()
    #: Files (globs, project-relative, in order) that make up the default seed set instead of
    #: ``seeds/<default_seed>/`` — how a Supabase CLI project's ``supabase/seed.sql`` is used.
    seed_paths: tuple[str, ...] = ()
    #: Extensions the Postgres image devenv builds carries, named as ``create extension`` takes
    #: them (devenv.postgres_spec.CATALOGUE); unused when [images] postgres is set.
    extensions: tuple[str, ...] = postgres_spec.DEFAULT_EXTENSIONS
    #: The Postgres major devenv's image is built for (postgres:<major> + postgresql-<major>-*).
    major_version: int = postgres_spec.MAJOR


@dataclass(frozen=True)
class EnvConfig:
    schema: str = ".env.schema"
    example: str = ".env.example"
    files: tuple[str, ...] = (".env",)
    #: whose reading of .env files is checked: "env-spec" (varlock), "python-dotenv", "compose"
    reader: str = "env-spec"


@dataclass(frozen=True)
class Config:
    """A project's validated configuration. Paths are absolute, resolved against ``root``."""

    root: Path
    name: str
    services: tuple[str, ...]
    ports: dict[str, int]
    images: dict[str, str]
    registry: str = ""
    auth: AuthConfig = field(default_factory=AuthConfig)
    db: DbConfig = field(default_factory=DbConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    source: Path | None = None
    #: DEVENV_IMAGE_<SERVICE> overrides, resolved once when the config is made (see devenv.environ).
    image_overrides: Mapping[str, str] = field(default_factory=dict)
    #: Services whose image devenv.toml names (the rest take their default, devenv.services).
    images_set: frozenset[str] = frozenset()
    #: DEVENV_POSTGRES_BASE_IMAGE: what devenv's Postgres image is built FROM, not postgres:15.
    postgres_base: str = ""
    #: [project] host: where the stack's published ports are reached ("": the engine's host).
    host: str = ""

    @property
    def state_dir(self) -> Path:
        """Per-project private state (keys, rendered configs): mode 0700, git-ignored."""
        return self.root / ".devenv"

    def path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def image(self, service: str) -> str:
        """The image for ``service``: DEVENV_IMAGE_<SERVICE> wins, then devenv.toml, then default.

        The registry prefix applies to devenv.toml and default images, not to the environment
        override, which is taken verbatim (it is how CI and air-gapped machines pin exact images).
        """
        service = svcs.image_service(service)
        override = self.image_overrides.get(service)
        if override:
            return override
        if service == "postgres":
            spec = self.postgres_build()
            if spec is not None:
                return _postgres_tag(spec)
        return self._prefixed(self.images.get(service, svcs.default_images().get(service, "")))

    def built_here(self, service: str) -> bool:
        """devenv builds the image ``service`` runs when it is missing, rather than pulling it:
        its own mock's, and its Postgres image unless one is named (devenv.services)."""
        kind = svcs.built_by_devenv(service)
        return kind == "fireworks" or (kind == "postgres" and self.postgres_build() is not None)

    def _prefixed(self, image: str) -> str:
        return f"{self.registry.rstrip('/')}/{image}" if self.registry else image

    def postgres_build(self) -> postgres_spec.Build | None:
        """The Postgres image devenv builds (base + [db] extensions), or None when the image is
        given (DEVENV_IMAGE_POSTGRES, [images] postgres: run as it is) or no extension is wanted
        (then plain postgres:15 runs)."""
        if self.image_overrides.get("postgres") or "postgres" in self.images_set:
            return None
        if not self.db.extensions:
            return None
        base = self.postgres_base or self._prefixed(f"postgres:{self.db.major_version}")
        return postgres_spec.make_build(base, self.db.extensions, self.db.major_version)

    def seed_files(self) -> dict[str, list[Path]]:
        """Seed sets given as files (``[db] seed_paths``) rather than folders: {set: files}.
        Globs expand in name order, each pattern's matches after the previous pattern's."""
        if not self.db.seed_paths:
            return {}
        files: list[Path] = []
        for pattern in self.db.seed_paths:
            matches = (
                sorted(self.root.glob(pattern))
                if any(c in pattern for c in "*?[")
                else [self.root / pattern]
            )
            files += [m.resolve() for m in matches if m.resolve() not in files]
        return {self.db.default_seed: files}

    def check_services(self, names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Validate service names given on the command line; unknown ones are a usage error."""
        unknown = [n for n in names if n not in svcs.names()]
        if unknown:
            raise UsageError(
                f"unknown service {', '.join(repr(n) for n in unknown)}",
                f"known services: {', '.join(svcs.names())}",
            )
        disabled = [n for n in names if n not in self.services]
        if disabled:
            raise UsageError(
                f"service {', '.join(repr(n) for n in disabled)} is not enabled in {CONFIG_FILE}",
                "add it to [project] services",
            )
        return tuple(names)


@functools.lru_cache(maxsize=8)
def _postgres_tag(spec: postgres_spec.Build) -> str:
    # Hashes two small files; a command asks for the image several times.
    return spec.tag(compose_dir())


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding devenv.toml, else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    for candidate in (here, *here.parents):
        if (candidate / "supabase" / "config.toml").is_file():  # an adopted Supabase project
            return candidate
    return here


def load(root: Path | None = None, env: environ_mod.Environ | None = None) -> Config:
    """Load and validate ``devenv.toml`` under ``root`` (found upward from cwd by default).

    ``env`` is the invocation's DEVENV_* settings (read from the process environment when not
    given); image overrides are resolved here, once."""
    root = find_root(root) if root is None else root.resolve()
    env = environ_mod.read() if env is None else env
    path = root / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message already carries "(at line L, column C)".
            raise ConfigError(
                f"{path}: not valid TOML: {exc}", "fix the syntax at that line and run again"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: cannot read: {exc}", "check the file's permissions"
            ) from None
    source: Path | None = path if path.is_file() else None
    if source is None:
        adopted = adopt_supabase(root)
        if adopted is not None:
            # A Supabase CLI project without devenv.toml: its paths, ports and auth settings.
            raw, source = adopted.sections, adopted.source
    cfg = _validate(root, source, raw)
    return with_environ(cfg, env)


def with_environ(cfg: Config, env: environ_mod.Environ) -> Config:
    """``cfg`` with the invocation's image settings (DEVENV_IMAGE_*, the Postgres base)."""
    return replace(cfg, image_overrides=dict(env.images), postgres_base=env.postgres_base_image)


def adopt_supabase(root: Path) -> Any:
    """``root``'s Supabase CLI project as devenv.toml tables (devenv.supabase_cli.Adoption), or
    None. Only settings this devenv's devenv.toml accepts are taken."""
    from devenv import supabase_cli

    return supabase_cli.adopt(
        root,
        known_auth=set(sections()["auth"]),
        known_ports=set(svcs.default_ports()),
        services=svcs.default_names(),
    )


def in_memory(
    root: Path,
    *,
    name: str,
    services: Iterable[str] | None = None,
    ports: Mapping[str, int] | None = None,
    env: environ_mod.Environ | None = None,
    **sections: Mapping[str, Any],
) -> Config:
    """A validated Config built without a devenv.toml (ephemeral stacks, the pytest plugin).

    ``sections`` are devenv.toml tables by name (``db={"seeds": "seeds"}``), validated exactly as
    the file would be. ``ports`` override the defaults (throw-away stacks pass free ones, so
    parallel stacks never collide on a fixed port: devenv.stack.ports.free_for).
    """
    raw: dict[str, Any] = {k: dict(v) for k, v in sections.items()}
    chosen_services = svcs.names() if services is None else services
    raw["project"] = {"name": name, "services": list(chosen_services)}
    raw["ports"] = {**dict(raw.get("ports", {})), **dict(ports or {})}
    cfg = _validate(root.resolve(), None, raw)
    env = environ_mod.read() if env is None else env
    return with_environ(cfg, env)


class _Problems:
    def __init__(self, file: str):
        self.file = file
        self.items: list[str] = []

    def add(self, key: str, text: str) -> None:
        self.items.append(f"{self.file}: {key}: {text}")


def sections() -> dict[str, set[str]]:
    """devenv.toml's tables and the keys each takes (ports and images: one per service)."""
    return {
        "project": {"name", "services", "host"},
        "ports": set(svcs.default_ports()),
        "images": {*svcs.default_images(), "registry"},
        "auth": {
            "site_url",
            "jwt_expiry",
            "additional_redirect_urls",
            "enable_signup",
            "enable_confirmations",
        },
        "db": {
            "migrations",
            "seeds",
            "default_seed",
            "migrate",
            "seed_paths",
            "extensions",
            "major_version",
        },
        "env": {"schema", "example", "files", "reader"},
    }


def _str(p: _Problems, table: dict[str, Any], section: str, key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        p.add(f"{section}.{key}", f"expected a non-empty string, got {value!r}")
        return default
    return value


def _str_list(
    p: _Problems, table: dict[str, Any], section: str, key: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(f"{section}.{key}", f"expected a list of strings, got {value!r}")
        return default
    return tuple(value)


def _command(p: _Problems, table: dict[str, Any], section: str, key: str) -> tuple[str, ...]:
    """A command as a string (split like a POSIX shell does, but run without one) or a list of
    arguments; "" or [] means none."""
    import shlex

    value = table.get(key, "")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            p.add(f"{section}.{key}", f"cannot split {value!r} into arguments: {exc}")
            return ()
    p.add(f"{section}.{key}", f"expected a command string or a list of strings, got {value!r}")
    return ()


def _validate(root: Path, path: Path | None, raw: dict[str, Any]) -> Config:
    p = _Problems(str(path or root / CONFIG_FILE))
    known_keys = sections()
    for section, value in raw.items():
        if section not in known_keys:
            p.add(section, f"unknown section; known: {', '.join(sorted(known_keys))}")
        elif not isinstance(value, dict):
            p.add(section, "expected a table")
        else:
            for key in value:
                if key not in known_keys[section]:
                    p.add(
                        f"{section}.{key}",
                        f"unknown key; known: {', '.join(sorted(known_keys[section]))}",
                    )

    def table(name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        return value if isinstance(value, dict) else {}

    project = table("project")
    default_name = re.sub(r"[^a-z0-9_-]", "-", root.name.lower()).strip("-_") or "devenv"
    name = _str(p, project, "project", "name", default_name)
    if not _NAME_RE.match(name):
        p.add("project.name", f"{name!r} must be lower-case letters, digits, '-' or '_'")
        name = default_name

    host = project.get("host", "")
    if not isinstance(host, str) or (host and not _HOST_RE.match(host)):
        p.add("project.host", f"expected a host name or address (no scheme or port), got {host!r}")
        host = ""
    every = svcs.names()
    services = _str_list(p, project, "project", "services", svcs.default_names())
    for s in services:
        if s not in every:
            p.add("project.services", f"unknown service {s!r}; known: {', '.join(every)}")
    services = tuple(s for s in every if s in services)  # canonical start order, no dupes
    for s in services:
        for need in svcs.get(s).needs:
            if need not in services:
                p.add("project.services", f"{s!r} needs {need!r}; enable it too")

    ports = svcs.default_ports()
    for key, value in table("ports").items():
        if key not in ports:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            p.add(f"ports.{key}", f"expected a port number 1-65535, got {value!r}")
        else:
            ports[key] = value
    seen: dict[int, str] = {}
    for svc in services:
        port = ports[svc]
        if port in seen:
            p.add(f"ports.{svc}", f"port {port} is also given to {seen[port]}")
        seen[port] = svc

    images_t = table("images")
    default_images = svcs.default_images()
    images = dict(default_images)
    for key in default_images:
        if key in images_t:
            images[key] = _str(p, images_t, "images", key, default_images[key])
    registry = images_t.get("registry", "")
    if not isinstance(registry, str):
        p.add("images.registry", f"expected a string, got {registry!r}")
        registry = ""

    auth_t = table("auth")
    expiry = auth_t.get("jwt_expiry", 3600)
    if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry <= 0:
        p.add("auth.jwt_expiry", f"expected a positive number of seconds, got {expiry!r}")
        expiry = 3600
    signup = auth_t.get("enable_signup", True)
    if not isinstance(signup, bool):
        p.add("auth.enable_signup", f"expected true or false, got {signup!r}")
        signup = True
    confirmations = auth_t.get("enable_confirmations", False)
    if not isinstance(confirmations, bool):
        p.add("auth.enable_confirmations", f"expected true or false, got {confirmations!r}")
        confirmations = False
    auth = AuthConfig(
        site_url=_str(p, auth_t, "auth", "site_url", AuthConfig.site_url),
        jwt_expiry=expiry,
        additional_redirect_urls=_str_list(p, auth_t, "auth", "additional_redirect_urls", ()),
        enable_signup=signup,
        enable_confirmations=confirmations,
    )

    db_t = table("db")
    major = db_t.get("major_version", DbConfig.major_version)
    if isinstance(major, bool) or major not in postgres_spec.MAJORS:
        known = ", ".join(map(str, postgres_spec.MAJORS))
        p.add("db.major_version", f"expected one of {known}, got {major!r}")
        major = DbConfig.major_version
    db = DbConfig(
        migrations=_str(p, db_t, "db", "migrations", DbConfig.migrations),
        seeds=_str(p, db_t, "db", "seeds", DbConfig.seeds),
        default_seed=_str(p, db_t, "db", "default_seed", DbConfig.default_seed),
        migrate=_command(p, db_t, "db", "migrate"),
        seed_paths=_str_list(p, db_t, "db", "seed_paths", ()),
        extensions=_str_list(p, db_t, "db", "extensions", DbConfig.extensions),
        major_version=major,
    )
    unknown_ext = [e for e in db.extensions if e not in postgres_spec.CATALOGUE]
    if unknown_ext:
        named = ", ".join(
            f"{e!r}" + (f" (part of {part!r})" if (part := postgres_spec.entry(e)) else "")
            for e in unknown_ext
        )
        p.add(
            "db.extensions",
            f"devenv cannot build {named} into its Postgres image;"
            f" known: {', '.join(postgres_spec.CATALOGUE)}",
        )
    env_t = table("env")
    env = EnvConfig(
        schema=_str(p, env_t, "env", "schema", EnvConfig.schema),
        example=_str(p, env_t, "env", "example", EnvConfig.example),
        files=_str_list(p, env_t, "env", "files", EnvConfig.files),
        reader=_str(p, env_t, "env", "reader", EnvConfig.reader),
    )
    if env.reader not in ("env-spec", "python-dotenv", "compose"):
        p.add("env.reader", f"expected env-spec, python-dotenv or compose, got {env.reader!r}")

    if p.items:
        n = len(p.items)
        raise ConfigError(
            f"{p.file}: {n} problem{'s' if n > 1 else ''} in the configuration",
            "fix each line below and run again",
            p.items,
        )
    return Config(
        root=root,
        name=name,
        services=services,
        ports=ports,
        images=images,
        images_set=frozenset(k for k in default_images if k in images_t),
        registry=registry,
        auth=auth,
        db=db,
        env=env,
        source=path,
        host=host,
    )
