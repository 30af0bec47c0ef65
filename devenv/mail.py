"""The stack's mail catcher (Mailpit), read through its REST API.

GoTrue sends every mail (signup confirmation, magic link, recovery, invite, email change) to the
``mail`` service over SMTP; this module lists and reads them so a developer, a test or
``devenv mail`` can finish those flows without a real inbox.

The contract (Mailpit ``/api/v1``, checked against v1.33.1):

- ``GET /api/v1/messages?limit=N`` -> ``{"total", "messages": [summary, ...]}``, newest first;
  a summary has ``ID``, ``From {Name, Address}``, ``To [{Name, Address}]``, ``Subject``,
  ``Created`` (RFC 3339) and ``Snippet``.
- ``GET /api/v1/search?query=to:ADDRESS&limit=N`` -> the same shape, filtered.
- ``GET /api/v1/message/{ID}`` -> the message with ``Text`` and ``HTML``; 404 if it is gone.
- ``DELETE /api/v1/messages`` -> every message deleted.
- ``GET /readyz`` -> 200 once it accepts mail.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from devenv.errors import StackError

if TYPE_CHECKING:
    from devenv.config import Config
    from devenv.environ import Environ


class MailError(StackError):
    """The mail catcher is unreachable, off, or has no such message."""


@dataclass(frozen=True)
class Message:
    """One caught mail. ``text``, ``html`` and ``links`` are filled only by :meth:`Mailbox.get`."""

    id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    created: str
    snippet: str = ""
    text: str = field(default="", repr=False)
    html: str = field(default="", repr=False)
    links: tuple[str, ...] = ()

    def as_dict(self, *, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "from": self.sender,
            "to": list(self.to),
            "subject": self.subject,
            "created": self.created,
        }
        if full:
            out["links"] = list(self.links)
            out["text"] = self.text
        else:
            out["snippet"] = self.snippet
        return out

    def auth_link(self) -> str | None:
        """The GoTrue link in the mail (``/auth/v1/verify``), else the first link, else None."""
        for link in self.links:
            if "/verify?" in link:
                return link
        return self.links[0] if self.links else None


class _Links(HTMLParser):
    """href values of <a> elements, entities decoded, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value and re.match(r"https?://", value.strip()):
                    self.found.append(value.strip())


_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")


def links_in(html: str, text: str) -> tuple[str, ...]:
    """Every http(s) link of a mail: the HTML part's anchors first, then URLs in the text part,
    each once."""
    parser = _Links()
    if html:
        parser.feed(html)
        parser.close()
    found = parser.found + _URL_IN_TEXT.findall(text or "")
    return tuple(dict.fromkeys(found))


def _address(entry: Any) -> str:
    return str(entry.get("Address", "")) if isinstance(entry, dict) else ""


def _message(data: dict[str, Any], *, full: bool = False) -> Message:
    text = str(data.get("Text") or "") if full else ""
    html = str(data.get("HTML") or "") if full else ""
    return Message(
        id=str(data.get("ID", "")),
        sender=_address(data.get("From")),
        to=tuple(_address(t) for t in data.get("To") or []),
        subject=str(data.get("Subject", "")),
        created=str(data.get("Created") or data.get("Date") or ""),
        snippet=str(data.get("Snippet", "")),
        text=text,
        html=html,
        links=links_in(html, text) if full else (),
    )


class Mailbox:
    """A client for one Mailpit, at ``url`` (its web UI and API root)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self._client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise MailError(
                f"cannot reach the mail catcher at {self.url}: {type(exc).__name__}",
                "is the stack up with its mail service? see `devenv status`",
            ) from None
        if r.status_code == 404 and path.startswith("/api/v1/message/"):
            raise MailError(
                f"no message {path.rsplit('/', 1)[-1]!r} in the mail catcher at {self.url}",
                "list the messages with `devenv mail list`",
            )
        if r.status_code >= 400:
            raise MailError(
                f"the mail catcher at {self.url} answered {method} {path} with HTTP"
                f" {r.status_code}: {r.text[:200].strip()}",
                "see `devenv logs mail`",
            )
        return r.json() if r.content and method != "DELETE" else None

    def list(self, *, to: str | None = None, limit: int = 20) -> list[Message]:
        """The newest ``limit`` messages, only those to ``to`` if given."""
        if to:
            # Mailpit's `to:` search is a substring match (a@x.com finds ba@x.com too): ask for
            # more, keep the exact recipient.
            data = self._request(
                "GET", "/api/v1/search", params={"query": f"to:{to}", "limit": max(limit, 50)}
            )
        else:
            data = self._request("GET", "/api/v1/messages", params={"limit": limit})
        messages = [_message(m) for m in (data or {}).get("messages") or []]
        if to:
            wanted = to.strip().lower()
            messages = [m for m in messages if wanted in (a.lower() for a in m.to)]
        return messages[:limit]

    def get(self, message_id: str) -> Message:
        """One message with its text, HTML and links."""
        data = self._request("GET", f"/api/v1/message/{message_id}")
        return _message(data or {}, full=True)

    def latest(self, *, to: str | None = None, wait: float = 0.0) -> Message:
        """The newest message (to ``to`` if given), waiting up to ``wait`` seconds for one."""
        deadline = time.monotonic() + wait
        while True:
            found = self.list(to=to, limit=1)
            if found:
                return self.get(found[0].id)
            if time.monotonic() >= deadline:
                who = f" to {to}" if to else ""
                waited = f" within {wait:g} s" if wait else ""
                raise MailError(
                    f"no mail{who} in the mail catcher at {self.url}{waited}",
                    "trigger the mail first (signup, magic link, recovery), or wait for it"
                    " with --wait SECONDS",
                )
            time.sleep(0.1)

    def clear(self) -> None:
        """Delete every message."""
        self._request("DELETE", "/api/v1/messages")


def mailbox_url(cfg: Config, env: Environ) -> str:
    """The project's mail catcher URL: ``DEVENV_MAIL_URL`` if set (a catcher elsewhere, e.g. a CI
    service container), else the stack's; an error if the ``mail`` service is off."""
    from devenv.config import CONFIG_FILE

    if env.mail_url:
        return env.mail_url
    if "mail" not in cfg.services:
        raise MailError(
            f"the mail service is not enabled in {cfg.root / CONFIG_FILE}",
            'add "mail" to [project] services, then `devenv up`',
        )
    from devenv.stack.project import stack_host

    return f"http://{stack_host(cfg, env)}:{cfg.ports['mail']}"


def mailbox(cfg: Config, env: Environ) -> Mailbox:
    """A client for the project's mail catcher."""
    return Mailbox(mailbox_url(cfg, env))
