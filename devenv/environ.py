"""Every ``DEVENV_*`` environment variable devenv reads, in one place, read once.

The environment is an input like devenv.toml: :func:`read` turns it into an :class:`Environ`
when a command (or a library caller) makes its :class:`~devenv.stack.handle.Stack`, and nothing
below that reads ``os.environ`` again. Tests and the pytest plugin pass their own ``Environ``.

=============================== ==============================================================
``DEVENV_IMAGE_<SERVICE>``      exact image for a service (wins over devenv.toml, no registry
                                prefix): how CI and air-gapped machines pin images
``DEVENV_FIREWORKS_KEYS``       API keys the Fireworks mock accepts (comma-separated)
``DEVENV_FIREWORKS_BASE_IMAGE`` base image the mock's image is built on (python3 X.Y + pip)
``DEVENV_POSTGRES_BASE_IMAGE`` base image devenv's Postgres image is built on (postgres:15)
``DEVENV_FIREWORKS_STUBS``      stub folder for ``devenv mock fireworks``
``DEVENV_DATABASE_URL``         `db`/`seed` talk to this Postgres instead of the stack's
``DEVENV_GOTRUE_URL``           with ``DEVENV_SERVICE_ROLE_KEY``: GoTrue for seeded auth users
``DEVENV_SERVICE_ROLE_KEY``     the service_role JWT for ``DEVENV_GOTRUE_URL``
``DEVENV_MAIL_URL``             `devenv mail` reads this Mailpit instead of the stack's
``DEVENV_DEBUG``                ``1``: tracebacks instead of the one error line
``DEVENV_HOST``                 where the stack's published ports are reached (wins over
                                ``[project] host`` and the engine's own host)
``DOCKER_HOST``                 the engine (read here too: a remote engine's host is where
                                its published ports are)
``DEVENV_PORT_RANGE``           ``LOW-HIGH``: where throw-away (test) stacks take their host
                                ports, e.g. the range a CI runner's engine publishes
``DEVENV_CLUSTER_CACHE``        ``off``: every first start of Postgres runs initdb instead of
                                copying a kept cluster (devenv.stack.cluster_cache)
=============================== ==============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

IMAGE_PREFIX = "DEVENV_IMAGE_"
FIREWORKS_KEYS = "DEVENV_FIREWORKS_KEYS"
FIREWORKS_BASE_IMAGE = "DEVENV_FIREWORKS_BASE_IMAGE"
FIREWORKS_STUBS = "DEVENV_FIREWORKS_STUBS"
POSTGRES_BASE_IMAGE = "DEVENV_POSTGRES_BASE_IMAGE"
DATABASE_URL = "DEVENV_DATABASE_URL"
GOTRUE_URL = "DEVENV_GOTRUE_URL"
SERVICE_ROLE_KEY = "DEVENV_SERVICE_ROLE_KEY"
MAIL_URL = "DEVENV_MAIL_URL"
DEBUG = "DEVENV_DEBUG"
HOST = "DEVENV_HOST"
PORT_RANGE = "DEVENV_PORT_RANGE"
CLUSTER_CACHE = "DEVENV_CLUSTER_CACHE"
DOCKER_HOST = "DOCKER_HOST"


@dataclass(frozen=True)
class Environ:
    """The ``DEVENV_*`` settings of one invocation."""

    images: Mapping[str, str] = field(default_factory=dict)  # service -> exact image
    fireworks_keys: str = ""
    fireworks_base_image: str = ""
    postgres_base_image: str = ""
    database_url: str = field(default="", repr=False)  # may carry a password
    gotrue_url: str = ""
    service_role_key: str = field(default="", repr=False)
    mail_url: str = ""
    debug: bool = False
    host: str = ""
    docker_host: str = ""
    port_range: tuple[int, int] | None = None
    cluster_cache: bool = True

    @property
    def external_database(self) -> bool:
        """`db`/`seed` point at a database outside the stack."""
        return bool(self.database_url)


def read(environ: Mapping[str, str] | None = None) -> Environ:
    env = os.environ if environ is None else environ
    images = {
        k[len(IMAGE_PREFIX) :].lower(): v
        for k, v in env.items()
        if k.startswith(IMAGE_PREFIX) and v
    }
    return Environ(
        images=images,
        fireworks_keys=env.get(FIREWORKS_KEYS, ""),
        fireworks_base_image=env.get(FIREWORKS_BASE_IMAGE, ""),
        postgres_base_image=env.get(POSTGRES_BASE_IMAGE, ""),
        database_url=env.get(DATABASE_URL, ""),
        gotrue_url=env.get(GOTRUE_URL, ""),
        service_role_key=env.get(SERVICE_ROLE_KEY, ""),
        mail_url=env.get(MAIL_URL, ""),
        debug=env.get(DEBUG) == "1",
        host=env.get(HOST, ""),
        docker_host=env.get(DOCKER_HOST, ""),
        port_range=_port_range(env.get(PORT_RANGE, "")),
        cluster_cache=env.get(CLUSTER_CACHE, "").strip().lower() not in ("off", "0", "false", "no"),
    )


def _port_range(text: str) -> tuple[int, int] | None:
    """``LOW-HIGH`` (inclusive), or None when unset. ConfigError (one line) when malformed."""
    if not text.strip():
        return None
    low, sep, high = text.strip().partition("-")
    try:
        pair = (int(low), int(high)) if sep else None
    except ValueError:
        pair = None
    if pair is None or not 1024 <= pair[0] <= pair[1] <= 65535:
        from devenv.errors import ConfigError

        raise ConfigError(
            f"{PORT_RANGE}={text!r} is not a port range",
            f"write it as LOW-HIGH with 1024 <= LOW <= HIGH <= 65535 (e.g. 54300-54399), or unset"
            f" {PORT_RANGE}",
        )
    return pair
