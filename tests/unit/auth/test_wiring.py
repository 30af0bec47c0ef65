"""GoTrue, the gateway and the mail catcher as compose/compose.yaml and compose/kong/kong.yml wire
them, held to what GoTrue v2.196.0 reads (internal/conf/configuration.go), to self-hosted
Supabase's gateway routes and to Kong 2.8's declarative schema. Real Kong cannot start here, so
the gateway file is checked by these reads; the stand-in exercises the same file in integration.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import config, environ
from devenv import services as svcs
from devenv.assets import compose_dir
from devenv.stack import project, secrets

COMPOSE = compose_dir() / "compose.yaml"
KONG = compose_dir() / "kong" / "kong.yml"

#: Every GOTRUE_RATE_LIMIT_* variable GoTrue v2.196.0 reads (GlobalConfiguration's RateLimit*
#: fields, envconfig with split_words). GOTRUE_RATE_LIMIT_SIGN_IN_SIGN_UPS is not one of them.
GOTRUE_RATE_LIMITS = {
    "GOTRUE_RATE_LIMIT_HEADER",
    "GOTRUE_RATE_LIMIT_EMAIL_SENT",
    "GOTRUE_RATE_LIMIT_SMS_SENT",
    "GOTRUE_RATE_LIMIT_VERIFY",
    "GOTRUE_RATE_LIMIT_TOKEN_REFRESH",
    "GOTRUE_RATE_LIMIT_SSO",
    "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS",
    "GOTRUE_RATE_LIMIT_OTP",
    "GOTRUE_RATE_LIMIT_WEB3",
    "GOTRUE_RATE_LIMIT_PASSKEY",
    "GOTRUE_RATE_LIMIT_OAUTH_DYNAMIC_CLIENT_REGISTER",
}

#: Kong 2.8 declarative field names (kong/db/schema/entities/*.lua, the key-auth, acl and cors
#: plugin schemas), the subset a DB-less file like ours may use.
KONG_TOP = {"_format_version", "_transform", "consumers", "acls", "services", "routes", "plugins"}
KONG_CONSUMER = {"username", "custom_id", "tags", "keyauth_credentials", "acls"}
KONG_CREDENTIAL = {"key", "tags", "ttl"}
KONG_ACL = {"consumer", "group", "tags"}
KONG_SERVICE = {
    "name", "url", "protocol", "host", "port", "path", "retries", "connect_timeout",
    "write_timeout", "read_timeout", "tags", "routes", "plugins",
}  # fmt: skip
KONG_ROUTE = {
    "name", "paths", "methods", "hosts", "headers", "protocols", "strip_path", "preserve_host",
    "path_handling", "regex_priority", "https_redirect_status_code", "tags", "plugins",
}  # fmt: skip
KONG_PLUGIN = {"name", "config", "enabled", "protocols", "tags"}
KONG_PLUGIN_CONFIG = {
    "key-auth": {"key_names", "hide_credentials", "anonymous", "key_in_header", "key_in_query",
                 "key_in_body", "run_on_preflight"},
    "acl": {"allow", "deny", "hide_groups_header"},
    "cors": {"origins", "methods", "headers", "exposed_headers", "credentials", "max_age",
             "preflight_continue"},
}  # fmt: skip

#: The routes self-hosted Supabase leaves open (no API key): browser-facing endpoints.
OPEN_AUTH_ROUTES = {
    "/auth/v1/verify": "http://gotrue:9999/verify",
    "/auth/v1/callback": "http://gotrue:9999/callback",
    "/auth/v1/authorize": "http://gotrue:9999/authorize",
    "/auth/v1/.well-known/jwks.json": "http://gotrue:9999/.well-known/jwks.json",
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def gotrue_env() -> dict[str, str]:
    return {k: str(v) for k, v in compose()["services"]["gotrue"]["environment"].items()}


def kong() -> dict[str, Any]:
    text = string.Template(KONG.read_text()).substitute(
        SUPABASE_ANON_KEY="anon-key", SUPABASE_SERVICE_KEY="service-key"
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def routes() -> dict[str, dict[str, Any]]:
    """path -> {service, strip_path, plugins}"""
    out: dict[str, dict[str, Any]] = {}
    for svc in kong()["services"]:
        for route in svc.get("routes", []):
            for path in route["paths"]:
                out[path] = {
                    "url": svc["url"],
                    "strip_path": route.get("strip_path", True),
                    "plugins": {p["name"]: p.get("config") or {} for p in svc.get("plugins", [])},
                }
    return out


# -- healthchecks ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(compose()["services"]))
def test_healthchecks_never_send_head(service: str) -> None:
    """GNU wget --spider sends HEAD (GoTrue answers it with an error), busybox wget GET: a check
    must behave the same on any image a user overrides with."""
    test = compose()["services"][service]["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else str(test)
    assert "--spider" not in text
    assert "--head" not in text and " -I " not in f" {text} "


def test_gotrue_healthcheck_is_a_plain_get_on_ipv4() -> None:
    test = compose()["services"]["gotrue"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "wget"]
    # -O FILE makes both wget flavours GET the body; 127.0.0.1, not localhost, which Alpine may
    # resolve to ::1 while GoTrue listens on 0.0.0.0.
    assert "-O" in test and test[-1] == "http://127.0.0.1:9999/health"


# -- GoTrue's settings -------------------------------------------------------------------------


def test_rate_limit_variables_are_ones_gotrue_reads() -> None:
    env = gotrue_env()
    used = {k for k in env if k.startswith("GOTRUE_RATE_LIMIT")}
    assert used <= GOTRUE_RATE_LIMITS, used - GOTRUE_RATE_LIMITS
    # Per-IP limits apply only with the header named; the gateway sets X-Forwarded-For.
    assert env["GOTRUE_RATE_LIMIT_HEADER"] == "X-Forwarded-For"
    # Signups, magic links and recovery are limited by the OTP limit.
    assert float(env["GOTRUE_RATE_LIMIT_OTP"]) >= 1000


def test_email_links_point_at_open_gateway_routes() -> None:
    env = gotrue_env()
    paths = {k: v for k, v in env.items() if k.startswith("GOTRUE_MAILER_URLPATHS_")}
    assert set(paths) == {
        f"GOTRUE_MAILER_URLPATHS_{kind}"
        for kind in ("INVITE", "CONFIRMATION", "RECOVERY", "EMAIL_CHANGE")
    }
    open_routes = {p for p, r in routes().items() if "key-auth" not in r["plugins"]}
    for key, path in paths.items():
        assert path in open_routes, f"{key}={path} is not an open gateway route"


def test_issuer_and_oauth_callback_follow_the_api_url() -> None:
    env = gotrue_env()
    api_url = env["API_EXTERNAL_URL"]
    assert env["GOTRUE_JWT_ISSUER"] == f"{api_url}/auth/v1"
    # Custom OAuth providers call back to this + /callback: the open /auth/v1/callback route.
    assert env["GOTRUE_CUSTOM_OAUTH_EXTERNAL_URL"] == f"{api_url}/auth/v1"
    assert "/auth/v1/callback" in routes()


def test_gotrue_mails_the_catcher() -> None:
    env = gotrue_env()
    mail = compose()["services"]["mail"]
    # `-` not `:-`: devenv passes an empty host when the mail service is off (no-op mailer).
    assert env["GOTRUE_SMTP_HOST"] == "${DEVENV_SMTP_HOST-mail}"
    assert env["GOTRUE_SMTP_PORT"] == "1025"
    assert env["GOTRUE_SMTP_ADMIN_EMAIL"]
    assert mail["ports"] == ["${DEVENV_BIND-127.0.0.1}:${DEVENV_PORT_MAIL:-54324}:8025"]
    assert mail["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    assert "maildata" in compose()["volumes"]


def test_every_service_has_a_container_port_url_and_labels() -> None:
    services = compose()["services"]
    assert set(services) == set(svcs.names())
    cfg = config.Config(
        root=Path("/x"), name="x", services=svcs.names(), ports=svcs.default_ports(), images={}
    )
    urls = project.urls(cfg, None)
    for name in svcs.names():
        assert str(svcs.get(name).container_port) in services[name]["ports"][0]
        # On loopback unless devenv says otherwise (a remote engine: project.bind_address).
        assert services[name]["ports"][0].startswith("${DEVENV_BIND-127.0.0.1}:")
        assert urls[name].startswith(("http://127.0.0.1:", "postgresql://", "redis://"))
        assert services[name]["labels"]["dev.devenv.project"]


# -- devenv.toml [auth] -> compose -------------------------------------------------------------


def test_compose_env_carries_auth_settings(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text(
        '[project]\nservices = ["postgres", "gotrue", "kong"]\n'
        '[auth]\nenable_confirmations = true\nenable_signup = false\nsite_url = "http://app.test"\n'
        'additional_redirect_urls = ["http://app.test/**", "myapp://cb"]\njwt_expiry = 600\n'
    )
    env = project.compose_env(config.load(tmp_path), secrets.generate(), environ.read({}))
    assert env["DEVENV_MAILER_AUTOCONFIRM"] == "false"
    assert env["DEVENV_DISABLE_SIGNUP"] == "true"
    assert env["DEVENV_SITE_URL"] == "http://app.test"
    assert env["DEVENV_REDIRECT_URLS"] == "http://app.test/**,myapp://cb"
    assert env["DEVENV_JWT_EXPIRY"] == "600"
    assert env["DEVENV_SMTP_HOST"] == ""  # no mail service: GoTrue's no-op mailer


def test_compose_env_defaults_mail_on_confirmations_off(tmp_path: Path) -> None:
    env = project.compose_env(config.load(tmp_path), secrets.generate(), environ.read({}))
    assert env["DEVENV_MAILER_AUTOCONFIRM"] == "true"
    assert env["DEVENV_SMTP_HOST"] == "mail"
    assert env["DEVENV_PORT_MAIL"] == "54324"
    assert env["DEVENV_IMAGE_MAIL"]


# -- the gateway -------------------------------------------------------------------------------


def test_kong_field_names_are_kong_2_8s() -> None:
    data = kong()
    assert set(data) <= KONG_TOP
    assert data["_format_version"] in ("1.1", "2.1")
    for consumer in data["consumers"]:
        assert set(consumer) <= KONG_CONSUMER
        for cred in consumer.get("keyauth_credentials", []):
            assert set(cred) <= KONG_CREDENTIAL
    for acl in data["acls"]:
        assert set(acl) <= KONG_ACL
    services: list[str] = []
    route_names: list[str] = []
    for svc in data["services"]:
        assert set(svc) <= KONG_SERVICE, svc["name"]
        services.append(svc["name"])
        for route in svc["routes"]:
            assert set(route) <= KONG_ROUTE, route["name"]
            assert all(p.startswith("/") for p in route["paths"])
            route_names.append(route["name"])
        for plugin in svc.get("plugins", []):
            assert set(plugin) <= KONG_PLUGIN
            allowed = KONG_PLUGIN_CONFIG[plugin["name"]]
            assert set(plugin.get("config") or {}) <= allowed, plugin["name"]
    # Names are unique per entity (a service and its route may share one, as Supabase's do).
    assert len(services) == len(set(services))
    assert len(route_names) == len(set(route_names))


def test_kong_auth_routes_match_self_hosted_supabase() -> None:
    r = routes()
    for path, url in OPEN_AUTH_ROUTES.items():
        assert r[path]["url"] == url
        assert r[path]["strip_path"] is True
        assert set(r[path]["plugins"]) == {"cors"}, f"{path} must be open (no key-auth, no ACL)"
    rest = r["/auth/v1/"]
    assert rest["url"] == "http://gotrue:9999/"
    assert rest["plugins"]["key-auth"] == {"hide_credentials": False}
    assert rest["plugins"]["acl"] == {"hide_groups_header": True, "allow": ["admin", "anon"]}
    auth_paths = {p for p in r if p.startswith("/auth/v1")}
    assert auth_paths == {*OPEN_AUTH_ROUTES, "/auth/v1/"}
