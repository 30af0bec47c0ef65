"""The services the stack knows: one record each, the one place a service's facts live.

Everything else reads this table: the config (which services, ports and images devenv.toml
accepts, what each needs), the values compose.yaml interpolates, ``status`` and its URLs, the
env names ``status -o env`` and ``env init`` write, the contract targets, the doctor (which
images devenv builds, what to probe) and the test stacks. compose/compose.yaml defines the
containers themselves; a unit test holds the two to the same services and container ports.

Adding a service is one record here plus its block in compose.yaml.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from devenv import __version__

#: How devenv decides a service is ready (devenv.stack.probes), from its side, at the published
#: port: Postgres' startup message (pg_isready's question), Redis' PING, an HTTP GET of
#: ``Service.health_path`` answered 200, or (``http-any``) answered at all.
Probe = Literal["postgres", "redis", "http", "http-any"]

#: Where published ports are reached on a local engine.
LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Service:
    name: str
    #: Host port, fixed and documented (Supabase CLI's neighbourhood, so teams recognise them).
    port: int
    #: The port the service listens on inside its container (compose.yaml publishes it).
    container_port: int
    #: The official image, or devenv's own tag; overridable ([images], DEVENV_IMAGE_<SERVICE>).
    image: str
    #: devenv builds this image itself when it is missing (never pulled): "fireworks" (the
    #: package's own mock), "postgres" (the base plus the [db] extensions), or "".
    builds: Literal["", "fireworks", "postgres"] = ""
    #: Runs another service's image (the Upstash REST endpoint runs devenv's own, as the mock).
    image_of: str = ""
    #: Services that must run beside it (checked when services are enabled in devenv.toml).
    needs: tuple[str, ...] = ()
    #: Left out of the default stack; a project turns it on in [project] services.
    opt_in: bool = False
    probe: Probe = "http"
    health_path: str = "/"
    #: Headers of the HTTP probe: templates over the stack's keys, as ``env``'s values.
    probe_headers: Mapping[str, str] = field(default_factory=dict)
    #: Its URL, from ``host``, ``port`` and the database ``password`` (masked unless asked for).
    url: str = "http://{host}:{port}"
    #: What it gives an app's .env (``status -o env``, ``env init``): name -> template over
    #: ``url`` and the stack's keys (``anon_key``, ``service_role_key``, ``jwt_secret``,
    #: ``upstash_token``, ``fireworks_key``).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Database schemas the service makes (GoTrue: auth): a migration that uses one fails on a
    #: stack without the service, and the error names it.
    schemas: tuple[str, ...] = ()
    #: One line for docs and ``status``.
    role: str = ""


#: The key `status -o env` hands apps for the mock. Not a secret: the mock accepts any non-empty
#: key unless DEVENV_FIREWORKS_KEYS narrows it, so a developer's real key works as well.
FIREWORKS_LOCAL_KEY = "fw-devenv-local"

_SUPABASE_KEYS = {
    "SUPABASE_ANON_KEY": "{anon_key}",
    "SUPABASE_SERVICE_ROLE_KEY": "{service_role_key}",
    "SUPABASE_JWT_SECRET": "{jwt_secret}",
}

#: In start order.
_BUILTIN: tuple[Service, ...] = (
    Service(
        "postgres",
        54322,
        5432,
        # devenv builds its image FROM this one with the [db] extensions, unless [images]
        # postgres names one (devenv/stack/postgres_image.py).
        "postgres:15",
        builds="postgres",
        probe="postgres",
        url="postgresql://postgres:{password}@{host}:{port}/postgres",
        env={"DATABASE_URL": "{url}"},
        role="app database, auth schema",
    ),
    Service(
        "gotrue",
        54326,
        9999,
        "supabase/gotrue:v2.196.0",  # pinned: the stack was checked against this release
        needs=("postgres",),
        health_path="/health",
        env={"GOTRUE_URL": "{url}", **_SUPABASE_KEYS},
        schemas=("auth",),
        role="Supabase Auth",
    ),
    Service(
        "kong",
        54321,
        8000,
        "kong:2.8.1",
        # Kong starts without GoTrue (its /auth/v1 routes then answer 502 with a valid key), so
        # a stack can run the gateway alone, e.g. where no GoTrue image is available. Ready when
        # it answers at all; `up` then asks /auth/v1/health through it with the anon key.
        probe="http-any",
        env={"SUPABASE_URL": "{url}", **_SUPABASE_KEYS},
        role="API gateway (Supabase's URL)",
    ),
    Service(
        "redis",
        54379,
        6379,
        "redis:7",
        probe="redis",
        url="redis://{host}:{port}/0",
        env={"REDIS_URL": "{url}"},
        role="cache",
    ),
    Service(
        "fireworks",
        54380,
        8000,
        # The mock is this package: its image is devenv's own, built locally when missing.
        "devenv-fireworks:{version}",
        builds="fireworks",
        health_path="/__devenv/health",
        # The OpenAI-compatible base the `openai` SDK takes; the `fireworks-ai` SDK takes the
        # same URL without /inference/v1 (the mock serves /v1 too).
        url="http://{host}:{port}/inference/v1",
        env={"FIREWORKS_BASE_URL": "{url}", "FIREWORKS_API_KEY": "{fireworks_key}"},
        role="Fireworks AI API mock",
    ),
    Service(
        "mail",
        # The mail catcher's web UI and API, as `supabase start` publishes it. GoTrue sends its
        # mail here; without it GoTrue drops mail (its no-op mailer): neither needs the other.
        54324,
        8025,
        "axllent/mailpit:v1.33.1",
        health_path="/readyz",
        # For an app's e2e tests (`supabase status` shows the same catcher as "Mailpit URL").
        env={"MAILPIT_URL": "{url}"},
        role="GoTrue's SMTP server and mail catcher",
    ),
    Service(
        "pooler",
        # Supabase CLI's pooler port: PgBouncer in transaction mode, as Supabase's (6543 there).
        54329,
        6543,
        # Its environment interface is what compose.yaml sets (checked against its entrypoint).
        "edoburu/pgbouncer:v1.25.2-p0",
        needs=("postgres",),
        opt_in=True,
        probe="postgres",
        url="postgresql://postgres:{password}@{host}:{port}/postgres",
        env={
            "DATABASE_POOLED_URL": "{url}",
            # Prisma's form: it must not use named prepared statements through a pooler.
            "DATABASE_POOLED_PRISMA_URL": "{url}?pgbouncer=true",
        },
        role="transaction-mode pooler (Supavisor's port)",
    ),
    Service(
        "upstash",
        54381,
        8000,
        "",
        image_of="fireworks",
        needs=("redis",),
        opt_in=True,
        # PING through the endpoint: Redis answers through it, token included.
        health_path="/ping",
        probe_headers={"Authorization": "Bearer {upstash_token}"},
        env={"UPSTASH_REDIS_REST_URL": "{url}", "UPSTASH_REDIS_REST_TOKEN": "{upstash_token}"},
        role="Upstash REST endpoint in front of Redis",
    ),
)

_TABLE: dict[str, Service] = {s.name: s for s in _BUILTIN}


def all_services() -> tuple[Service, ...]:
    """Every service, in start order."""
    return tuple(_TABLE.values())


def names() -> tuple[str, ...]:
    return tuple(_TABLE)


def get(name: str) -> Service:
    return _TABLE[name]


def default_names() -> tuple[str, ...]:
    """The default stack: every service but the opt-in ones."""
    return tuple(s.name for s in _TABLE.values() if not s.opt_in)


def opt_in_names() -> tuple[str, ...]:
    return tuple(s.name for s in _TABLE.values() if s.opt_in)


def default_ports() -> dict[str, int]:
    return {s.name: s.port for s in _TABLE.values()}


def default_images() -> dict[str, str]:
    """Each service's default image (services that run another's image are left out)."""
    return {s.name: s.image.format(version=__version__) for s in _TABLE.values() if s.image}


def image_service(name: str) -> str:
    """The service whose image ``name`` runs: its own, or the one it borrows."""
    return _TABLE[name].image_of or name


def built_by_devenv(name: str) -> str:
    """ "fireworks" or "postgres" when devenv builds the image ``name`` runs, else ""."""
    return _TABLE[image_service(name)].builds


def with_needs(chosen: Iterable[str]) -> tuple[str, ...]:
    """``chosen`` and everything they need, in start order."""
    need: set[str] = set()
    todo = list(chosen)
    while todo:
        s = todo.pop()
        if s not in need:
            need.add(s)
            todo.extend(_TABLE[s].needs)
    return tuple(s for s in _TABLE if s in need)


def giver(env_name: str) -> str:
    """The first service (in start order) whose .env names include ``env_name``."""
    return next(s.name for s in _TABLE.values() if env_name in s.env)


def url(name: str, host: str, port: int, password: str = "") -> str:
    return _TABLE[name].url.format(host=host, port=port, password=password)


def env_values(
    running: Iterable[str], urls: Mapping[str, str], values: Mapping[str, str]
) -> dict[str, str]:
    """The .env names the ``running`` services give (in start order), filled from their
    ``urls`` and ``values`` (the keys' templates: see ``Service.env``)."""
    on = set(running)
    out: dict[str, str] = {}
    for s in _TABLE.values():
        if s.name in on:
            for key, template in s.env.items():
                out[key] = template.format(url=urls[s.name], **values)
    return out


@contextlib.contextmanager
def extended(*extra: Service) -> Iterator[None]:
    """The table with ``extra`` services added (after the others) for the block: how a test
    proves that one record is all a new service takes."""
    saved = dict(_TABLE)
    for s in extra:
        _TABLE[s.name] = s
    try:
        yield
    finally:
        _TABLE.clear()
        _TABLE.update(saved)
