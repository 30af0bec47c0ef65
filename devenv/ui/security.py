"""Who may read the page and who may change the stack through it (Jupyter's model, with a
same-origin check on top).

- The server listens on 127.0.0.1 only, and answers only requests whose ``Host`` is its own
  (``127.0.0.1:PORT`` or ``localhost:PORT``): a page on another site that makes its name resolve
  to 127.0.0.1 (DNS rebinding) is refused.
- A random token (``secrets.token_urlsafe``) is printed in the URL. Opening that URL sets it as a
  cookie (``HttpOnly``, ``SameSite=Strict``) and redirects to the bare page, so the token leaves
  the address bar. Every request but the token exchange needs it, from the cookie or the
  ``X-Devenv-Token`` header: another local user who finds the port reads nothing.
- A request that changes something (``POST``) also needs the same origin: an ``Origin`` header,
  where one is sent, must be the page's own, ``Sec-Fetch-Site`` must be ``same-origin``, and the
  body must be JSON (a cross-site form cannot send that without the browser asking first). A
  client that sends neither header (curl, a script) must give the token in the header, not only
  as a cookie.
- Secrets (the service_role key, the JWT secret, the database password) are masked everywhere
  and shown only in the answer to a ``POST`` that asks for them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

TOKEN_HEADER = "x-devenv-token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    """Cookies are per host, not per port: two UIs on one machine must not overwrite each
    other's token."""
    return f"devenv_ui_{port}"


@dataclass(frozen=True)
class Guard:
    """The checks for one server: its token and the host names it answers to."""

    token: str
    port: int
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def local(cls, token: str, port: int) -> Guard:
        return cls(token, port, frozenset({f"127.0.0.1:{port}", f"localhost:{port}"}))

    @property
    def cookie(self) -> str:
        return cookie_name(self.port)

    def host_ok(self, headers: Mapping[str, str]) -> bool:
        return headers.get("host", "").lower() in self.hosts

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.token.encode())

    def authorised(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
        """The token came with the request (header or cookie)."""
        return self.token_ok(headers.get(TOKEN_HEADER)) or self.token_ok(cookies.get(self.cookie))

    def change_refusal(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        """Why a state-changing request is refused, or None when it may go ahead."""
        if not self.authorised(headers, cookies):
            return "no token: open the URL `devenv ui` printed (it carries the token)"
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in self.hosts}:
            return "cross-origin request refused"
        if fetch_site is not None and fetch_site.lower() != "same-origin":
            return "cross-site request refused"
        if origin is None and fetch_site is None and not self.token_ok(headers.get(TOKEN_HEADER)):
            # Not a current browser (they send one or the other on POST): the token must be the
            # caller's own, in the header, not a cookie a browser attached on its own.
            return f"give the token in the {TOKEN_HEADER} header"
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return "the body must be JSON (content-type: application/json)"
        return None
