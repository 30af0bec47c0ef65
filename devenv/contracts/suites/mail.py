"""Mail: GoTrue's recovery mail arrives in the local catcher (Mailpit, through its REST API:
``GET /api/v1/messages``, ``GET /api/v1/message/{ID}``) and its link, followed through the
gateway, signs the user in. Skips where the stack has no mail service."""

from __future__ import annotations

import contextlib
import html
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from devenv.contracts.core import CheckFailed, Skip, Suite, check, expect, expect_eq, register
from devenv.contracts.suites import _http
from devenv.contracts.suites.gotrue import PASSWORD, new_email

if TYPE_CHECKING:
    import httpx

#: How long a mail may take from GoTrue's SMTP client into the catcher.
ARRIVAL_S = 5.0
_HREF_RE = re.compile(r"""href=["']([^"']+)["']""")
_URL_RE = re.compile(r"""https?://[^\s"'<>]+""")


def recovery_link(message: dict[str, Any]) -> str | None:
    """The verify link in a Mailpit message (its HTML part, else its text part)."""
    for raw in _HREF_RE.findall(str(message.get("HTML") or "")):
        link = html.unescape(str(raw))
        if "/verify" in link and "token=" in link:
            return str(link)
    for found in _URL_RE.findall(str(message.get("Text") or "")):
        if "/verify" in found and "token=" in found:
            return str(found)
    return None


def fragment_session(location: str) -> dict[str, str]:
    """The session GoTrue puts in the redirect's fragment (``#access_token=...``)."""
    frag = urlsplit(location).fragment
    return {k: v[0] for k, v in parse_qs(frag).items() if v}


@register
class MailSuite(Suite):
    service = "mail"

    def unavailable(self) -> str | None:
        if not self.target.mail_url:
            return "this stack has no mail service (mail catcher)"
        if not self.target.api_url or not self.target.anon_key:
            return "no gateway URL and anon key for this target"
        return None

    @property
    def mail(self) -> httpx.Client:
        return self.http_client("mail_http", self.target.mail_url)

    @property
    def api(self) -> httpx.Client:
        return self.http_client("api_http", self.target.api_url)

    def close(self) -> None:
        uid = self.state.get("user_id")
        key = self.target.service_role_key
        if uid and key:
            with contextlib.suppress(Exception):  # best effort
                self.api.delete(
                    f"/auth/v1/admin/users/{uid}",
                    headers={"apikey": key, "Authorization": f"Bearer {key}"},
                )
        super().close()

    @check("catcher_api")
    def catcher_api(self) -> None:
        r = self.mail.get("/api/v1/messages", params={"limit": 1})
        _http.status(r, 200)
        body = _http.json_of(r)
        expect(
            "messages" in body and "total" in body, 'Mailpit\'s {"messages", "total"}', sorted(body)
        )

    @check("recovery_mail_arrives")
    def recovery_mail_arrives(self) -> None:
        key = self.target.service_role_key
        if not key:
            raise Skip("no service_role key to create the user with")
        email = new_email("mail")
        made = self.api.post(
            "/auth/v1/admin/users",
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            json={"email": email, "password": PASSWORD, "email_confirm": True},
        )
        _http.status(made, 200)
        self.state["user_id"] = _http.json_of(made).get("id")
        self.state["email"] = email
        r = self.api.post(
            "/auth/v1/recover", headers={"apikey": self.target.anon_key}, json={"email": email}
        )
        _http.status(r, 200)
        deadline = time.monotonic() + ARRIVAL_S
        found: dict[str, Any] | None = None
        while found is None:
            listing = self.mail.get("/api/v1/messages", params={"limit": 50})
            _http.status(listing, 200)
            messages: Any = _http.json_of(listing).get("messages") or []
            for m in messages:
                to = [str(t.get("Address", "")).lower() for t in m.get("To") or []]
                if email in to:
                    found = m
                    break
            if found is None:
                if time.monotonic() > deadline:
                    raise CheckFailed(
                        f"expected a recovery mail to {email} in the catcher within"
                        f" {ARRIVAL_S:.0f} s, got none"
                    )
                time.sleep(0.1)
        full = self.mail.get(f"/api/v1/message/{found['ID']}")
        _http.status(full, 200)
        link = recovery_link(_http.json_of(full))
        expect(link, "a verify link with a token in the mail", found.get("Subject"))
        self.state["link"] = link

    @check("recovery_link_signs_in")
    def recovery_link_signs_in(self) -> None:
        self.needs("recovery_mail_arrives")
        link: str = self.state["link"]
        api = self.target.api_url.rstrip("/")
        expect(
            link.startswith(api + "/auth/v1/"),
            f"a link through the gateway ({api}/auth/v1/)",
            link.split("?")[0],
        )
        r = self.api.get(link)
        expect(r.status_code in (302, 303), "a redirect carrying the session", _http_describe(r))
        session = fragment_session(r.headers.get("location", ""))
        expect_eq(session.get("type"), "recovery", "the redirect's type")
        token = session.get("access_token")
        expect(token, "an access_token in the redirect's fragment", sorted(session))
        me = self.api.get(
            "/auth/v1/user",
            headers={"apikey": self.target.anon_key, "Authorization": f"Bearer {token}"},
        )
        _http.status(me, 200)
        expect_eq(_http.json_of(me).get("email"), self.state["email"], "the signed-in email")


def _http_describe(resp: httpx.Response) -> str:
    from devenv.contracts.core import describe_response

    return describe_response(resp)
