"""Kong, the API gateway: the routes compose/kong/kong.yml declares, its key-auth and ACL answers
(Kong 2.8's own bodies, as hosted Supabase gives them) and CORS.

A route "reaches its service" when the answer did not come from Kong itself: not its 401/403
plugin bodies, not 404 "no Route matched", not a 502/503/504 for an upstream it cannot reach.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.contracts.core import CheckFailed, Suite, check, describe_response, expect, register
from devenv.contracts.suites import _http
from devenv.contracts.target import Target

if TYPE_CHECKING:
    import httpx

NO_KEY = {"message": "No API key found in request"}
BAD_KEY = {"message": "Invalid authentication credentials"}
ACL_DENIED = {"message": "You cannot consume this service"}
NO_ROUTE = {"message": "no Route matched with those values"}
KONG_BODIES = [NO_KEY, BAD_KEY, ACL_DENIED, NO_ROUTE]
#: What a route's probe request asks for, by the service it fronts (a path on GoTrue that
#: answers quickly without side effects); the route's prefix otherwise.
PROBES = {"/auth/v1/": "/auth/v1/health"}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    key_auth: bool
    allow: tuple[str, ...]  # ACL groups allowed; () = no ACL

    @property
    def anon_allowed(self) -> bool:
        return not self.allow or "anon" in self.allow


def declared_routes(path: Path) -> list[Route]:
    """Every route (name and path) in a Kong declarative config, with its service's plugins."""
    import yaml

    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[Route] = []
    for svc in data.get("services") or []:
        plugins = {p.get("name"): p.get("config") or {} for p in svc.get("plugins") or []}
        allow = tuple(plugins["acl"].get("allow") or ()) if "acl" in plugins else ()
        for route in svc.get("routes") or []:
            for i, p in enumerate(route.get("paths") or []):
                name = str(route.get("name") or svc.get("name"))
                out.append(
                    Route(name if i == 0 else f"{name}-{i}", p, "key-auth" in plugins, allow)
                )
    return out


def kong_answered(resp: httpx.Response) -> bool:
    """True if Kong itself (a plugin, no route, no upstream) made this answer."""
    if resp.status_code in (502, 503, 504):
        return True
    try:
        body = resp.json()
    except ValueError:
        return False
    return resp.status_code in (401, 403, 404) and body in KONG_BODIES


@register
class KongSuite(Suite):
    service = "kong"

    def unavailable(self) -> str | None:
        if not self.target.api_url:
            return "no gateway URL (SUPABASE_URL) for this target"
        if not self.target.anon_key:
            return "no anon key (SUPABASE_ANON_KEY) for this target"
        return None

    @property
    def http(self) -> httpx.Client:
        return self.http_client("http", self.target.api_url)

    @classmethod
    def routes_of(cls, path: Path | None) -> list[Route]:
        return declared_routes(path) if path is not None and path.is_file() else []

    @classmethod
    def names_for(cls, target: Target) -> list[str]:
        return cls.check_names() + [f"route:{r.name}" for r in cls.routes_of(target.kong_config)]

    def extra_checks(self) -> list[tuple[str, Callable[[], None]]]:
        if self.target.kong_config is None:
            raise FileNotFoundError("compose/kong/kong.yml is not in this installation")
        out: list[tuple[str, Callable[[], None]]] = []
        for route in self.routes_of(self.target.kong_config):
            out.append((f"route:{route.name}", functools.partial(self._route, route)))
        return out

    def _route(self, route: Route) -> None:
        """The route answers from its service: with the anon key where key-auth guards it, with
        no key at all where it is open (email links and OAuth callbacks carry none)."""
        path = PROBES.get(route.path, route.path)
        headers = {"apikey": self.target.anon_key} if route.key_auth else {}
        if route.key_auth and not route.anon_allowed:
            key = self.target.service_role_key
            if not key:
                from devenv.contracts.core import Skip

                raise Skip("an admin-only route, and no service_role key for this target")
            headers = {"apikey": key}
        r = self.http.get(path, headers=headers)
        if kong_answered(r):
            who = "with the anon key" if route.key_auth else "without a key (an open route)"
            raise CheckFailed(
                f"expected GET {path} {who} to reach the route's service, got Kong's own"
                f" {describe_response(r)}"
            )

    def _body(self, r: httpx.Response, status: int, body: dict[str, str]) -> None:
        _http.status(r, status)
        got = _http.json_of(r)
        expect(got == body, f"Kong's body {body}", got)

    @check("no_key_401")
    def no_key(self) -> None:
        r = self.http.get("/auth/v1/health")
        self._body(r, 401, NO_KEY)

    @check("wrong_key_401")
    def wrong_key(self) -> None:
        r = self.http.get("/auth/v1/health", headers={"apikey": "not-a-key-of-this-project"})
        self._body(r, 401, BAD_KEY)

    @check("key_in_query")
    def key_in_query(self) -> None:
        r = self.http.get("/auth/v1/health", params={"apikey": self.target.anon_key})
        _http.status(r, 200)

    @check("anon_denied_admin")
    def anon_denied_admin(self) -> None:
        """The anon key reaches no admin-only route: Kong's ACL for routes that do not allow the
        anon group, and GoTrue's admin API behind the auth route."""
        key = self.target.anon_key
        for route in self.routes_of(self.target.kong_config):
            if route.key_auth and not route.anon_allowed:
                r = self.http.get(route.path, headers={"apikey": key})
                self._body(r, 403, ACL_DENIED)
        r = self.http.get(
            "/auth/v1/admin/users", headers={"apikey": key, "Authorization": f"Bearer {key}"}
        )
        _http.status(r, 403)

    @check("unknown_path_404")
    def unknown_path(self) -> None:
        r = self.http.get("/no-such-route/v1/", headers={"apikey": self.target.anon_key})
        self._body(r, 404, NO_ROUTE)

    @check("cors_preflight")
    def cors_preflight(self) -> None:
        origin = "http://localhost:3000"
        r = self.http.options(
            "/auth/v1/token",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "apikey,authorization,content-type",
            },
        )
        expect(
            r.status_code in (200, 204), "the preflight answered 200 or 204", describe_response(r)
        )
        allow_origin = r.headers.get("access-control-allow-origin", "")
        expect(
            allow_origin in ("*", origin),
            f"Access-Control-Allow-Origin * or {origin}",
            allow_origin or "no such header",
        )
        methods = r.headers.get("access-control-allow-methods", "").upper()
        expect("POST" in methods, "POST in Access-Control-Allow-Methods", methods or "none")
        allowed = r.headers.get("access-control-allow-headers", "").lower()
        expect(
            allowed == "*" or "apikey" in allowed,
            "apikey in Access-Control-Allow-Headers",
            allowed or "none",
        )
