"""What a Config means to compose: the shipped compose/ folder, labels, URLs, and the environment
compose.yaml interpolates. Pure functions of the config and keys (no engine, no I/O beyond
locating compose/)."""

from __future__ import annotations

from pathlib import Path

from devenv import services as svcs
from devenv.assets import compose_dir, compose_file
from devenv.config import Config
from devenv.environ import Environ
from devenv.stack import cluster_cache, secrets
from devenv.stack.secrets import Keys

LABEL_PROJECT = "dev.devenv.project"
LABEL_ROOT = "dev.devenv.root"
LABEL_STACK = "dev.devenv.stack"
LABEL_OWNER = "dev.devenv.owner"
LABEL_CONFIG = "dev.devenv.config"

#: Where a project keeps its Fireworks stub files (mounted read-only into the mock).
#: Where compose mounts compose/postgres/bootstrap.sh. The name sorts after Supabase's image's own
#: init script (migrate.sh, which makes the roles), so on that image the bootstrap finds them.
BOOTSTRAP_TARGET = "/docker-entrypoint-initdb.d/zz-devenv-bootstrap.sh"

FIREWORKS_STUBS = "fixtures/fireworks"


#: Prefixes front-end frameworks require before they hand a variable to browser or app code
#: (Next.js, Expo, Vite, SvelteKit, Create React App, Nuxt).
PUBLIC_PREFIXES = ("NEXT_PUBLIC_", "EXPO_PUBLIC_", "VITE_", "PUBLIC_", "REACT_APP_", "NUXT_PUBLIC_")
#: Values that may be shipped to a browser: the API URL and the anon key, never the service_role
#: key, the JWT secret or a database URL.
PUBLIC_KEYS = ("SUPABASE_URL", "SUPABASE_ANON_KEY")


def with_public_aliases(values: dict[str, str]) -> dict[str, str]:
    """``values`` plus the framework-prefixed names of its public keys
    (``NEXT_PUBLIC_SUPABASE_URL``, ``EXPO_PUBLIC_SUPABASE_ANON_KEY``, ...)."""
    out = dict(values)
    for key in PUBLIC_KEYS:
        if key in values:
            for prefix in PUBLIC_PREFIXES:
                out[prefix + key] = values[key]
    return out


def stack_id(cfg: Config) -> str:
    """Stable id of one checkout's stack: the same project name in two checkouts differs here."""
    import hashlib  # here, not at the top: OpenSSL's load is a cost `doctor engine` need not pay

    return hashlib.sha256(f"{cfg.name}\0{cfg.root}".encode()).hexdigest()[:12]


def fireworks_stubs(cfg: Config) -> Path | None:
    """The project's stub folder (sent to the running mock by `up` and `devenv mock reload`),
    or None when it has none."""
    own = cfg.path(FIREWORKS_STUBS)
    return own if own.is_dir() else None


def postgres_bootstrap() -> str:
    """compose/postgres/bootstrap.sh, which compose copies into the Postgres container (a
    config with this text as its content: nothing of the host is mounted)."""
    return (compose_dir() / "postgres" / "bootstrap.sh").read_text(encoding="utf-8")


def cluster_key(cfg: Config, bootstrap: str | None = None) -> str:
    """The cluster cache entry a first start of this stack's Postgres uses (cluster_cache);
    ``bootstrap``: the script's text when the caller has read it already."""
    images = {s: cfg.image(s) for s in ("postgres", "gotrue")}
    return cluster_cache.key(images, cfg.services, bootstrap or postgres_bootstrap())


def stack_host(cfg: Config, env: Environ) -> str:
    """Where the stack's published ports are reached, which every URL devenv prints, writes,
    probes or hands to the data step uses: DEVENV_HOST, else [project] host, else a remote
    engine's host (DOCKER_HOST tcp://H or ssh://user@H gives H), else 127.0.0.1."""
    from devenv.stack.engine_api import remote_host

    return env.host or cfg.host or remote_host(env.docker_host) or svcs.LOCAL_HOST


#: ``bind_address`` for "every address of the engine's host". Empty, not 0.0.0.0: compose then
#: publishes with no host address, which Docker and Podman both take as every address, while
#: Podman's netavark takes a literal 0.0.0.0 as a destination to match, and never answers.
ALL_ADDRESSES = ""


def bind_address(cfg: Config, env: Environ) -> str:
    """The address the engine publishes ports on. A local engine reached on a loopback address
    publishes on that address only (127.0.0.1 by default: nothing else on the network sees the
    stack); a remote engine, or a host that is not loopback, on every address of the engine's
    host (ALL_ADDRESSES; `devenv up` says so)."""
    import ipaddress

    from devenv.stack.engine_api import remote_host

    host = stack_host(cfg, env)
    if remote_host(env.docker_host) is not None:
        return ALL_ADDRESSES
    if host == "localhost":
        return svcs.LOCAL_HOST
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return ALL_ADDRESSES
    return str(ip) if ip.version == 4 and ip.is_loopback else ALL_ADDRESSES


def urls(
    cfg: Config, keys: Keys | None, *, show_secrets: bool = False, host: str = svcs.LOCAL_HOST
) -> dict[str, str]:
    """Every service's URL (devenv.services), at ``host`` and the project's ports; the database
    password masked unless ``show_secrets``."""
    pw = ""
    if keys is not None:
        pw = keys.postgres_password if show_secrets else secrets.mask(keys.postgres_password)
    return {s: svcs.url(s, host, cfg.ports[s], pw) for s in svcs.names()}


def compose_env(cfg: Config, keys: Keys | None, env: Environ, *, owner: str = "") -> dict[str, str]:
    """Everything compose.yaml interpolates. Secrets travel here, never in argv.

    Without keys (``down``, ``logs``: commands that create nothing) the secret variables are
    left out; compose.yaml's defaults fill them, and nothing is created with them.
    """
    out = {
        "DEVENV_PROJECT": cfg.name,
        "DEVENV_ROOT": str(cfg.root),
        "DEVENV_STACK_ID": stack_id(cfg),
        "DEVENV_OWNER": owner,
        "DEVENV_JWT_EXPIRY": str(cfg.auth.jwt_expiry),
        "DEVENV_SITE_URL": cfg.auth.site_url,
        "DEVENV_REDIRECT_URLS": ",".join(cfg.auth.additional_redirect_urls),
        "DEVENV_DISABLE_SIGNUP": "false" if cfg.auth.enable_signup else "true",
        "DEVENV_MAILER_AUTOCONFIRM": "false" if cfg.auth.enable_confirmations else "true",
        # GoTrue's SMTP host: the mail catcher, or none (GoTrue's no-op mailer) when it is off.
        "DEVENV_SMTP_HOST": "mail" if "mail" in cfg.services else "",
        "DEVENV_API_URL": f"http://{stack_host(cfg, env)}:{cfg.ports['kong']}",
        "DEVENV_BIND": bind_address(cfg, env),
        "DEVENV_POSTGRES_BOOTSTRAP": postgres_bootstrap(),
        "DEVENV_FIREWORKS_KEYS": env.fireworks_keys,
    }
    if keys is not None:
        out["DEVENV_POSTGRES_PASSWORD"] = keys.postgres_password
        out["DEVENV_JWT_SECRET"] = keys.jwt_secret
        out["DEVENV_KONG_CONFIG"] = kong_config(keys)
        out["DEVENV_UPSTASH_TOKEN"] = keys.upstash_token
    for service in svcs.names():
        out[f"DEVENV_IMAGE_{service.upper()}"] = cfg.image(service)
        out[f"DEVENV_PORT_{service.upper()}"] = str(cfg.ports[service])
    if keys is not None:
        # Only where containers are made (`down`, `logs`, the doctor need no hash).
        out["DEVENV_CLUSTER_KEY"] = (
            cluster_key(cfg, out["DEVENV_POSTGRES_BOOTSTRAP"]) if env.cluster_cache else ""
        )
        out["DEVENV_CONFIG_HASH"] = config_hash(out)
    return out


def kong_config(keys: Keys) -> str:
    """compose/kong/kong.yml with the project's keys, as one line of JSON for
    KONG_DECLARATIVE_CONFIG_STRING (Kong parses a config string as JSON first, then YAML)."""
    import json
    import string

    import yaml

    template = (compose_dir() / "kong" / "kong.yml").read_text(encoding="utf-8")
    text = string.Template(template).substitute(
        SUPABASE_ANON_KEY=keys.anon_key, SUPABASE_SERVICE_KEY=keys.service_role_key
    )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return json.dumps(yaml.load(text, Loader=loader), separators=(",", ":"))


def config_hash(env: dict[str, str]) -> str:
    """What the containers are made from: compose.yaml and the values it interpolates (secrets
    only as part of a SHA-256 input, never readable from the digest)."""
    import hashlib

    h = hashlib.sha256(compose_file().read_bytes())
    h.update(Path(cluster_cache.override_file()).read_bytes())
    for k in sorted(env):
        h.update(f"\0{k}={env[k]}".encode())
    return h.hexdigest()[:16]
