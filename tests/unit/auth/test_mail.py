"""devenv.mail without a running catcher: links out of GoTrue's mails, where the catcher is, and
the one-line errors when it is off or unreachable. The client against a real Mailpit is exercised
in tests/integration/test_auth_mail.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devenv import config, environ
from devenv.mail import Mailbox, MailError, Message, links_in, mailbox_url

# The shape of GoTrue v2.196.0's default confirmation mail as Mailpit hands it over: the HTML
# part's anchor (entities escaped) and Mailpit's text rendering of it.
LINK = "http://127.0.0.1:54321/auth/v1/verify?token=abc123&type=signup&redirect_to=http://localhost:3000"
HTML = (
    "<h2>Confirm your signup</h2><p>Follow this link to confirm your user:</p>"
    f'<p><a href="{LINK.replace("&", "&amp;")}">Confirm your mail</a></p>'
    '<p><a href="mailto:help@example.com">help</a></p>'
)
TEXT = f"Confirm your signup\n\nConfirm your mail ( {LINK} )\n\nMore: https://example.com/docs."


def test_links_from_html_decoded_and_from_text_once() -> None:
    assert links_in(HTML, TEXT) == (LINK, "https://example.com/docs.")
    assert links_in("", TEXT)[0] == LINK
    assert links_in(HTML, "") == (LINK,)  # mailto: is not a link to follow
    assert links_in("", "") == ()


def test_auth_link_prefers_the_verify_link() -> None:
    msg = Message("1", "a@x", ("b@x",), "s", "t", links=("https://example.com/", LINK))
    assert msg.auth_link() == LINK
    assert Message("1", "a@x", ("b@x",), "s", "t", links=("https://e.com/",)).auth_link() == (
        "https://e.com/"
    )
    assert Message("1", "a@x", ("b@x",), "s", "t").auth_link() is None


def test_as_dict_full_has_links_and_text() -> None:
    msg = Message("ID1", "a@x", ("b@x",), "Hi", "2026-01-01T00:00:00Z", "snip", TEXT, HTML, (LINK,))
    assert msg.as_dict() == {
        "id": "ID1",
        "from": "a@x",
        "to": ["b@x"],
        "subject": "Hi",
        "created": "2026-01-01T00:00:00Z",
        "snippet": "snip",
    }
    full = msg.as_dict(full=True)
    assert full["links"] == [LINK] and full["text"] == TEXT and "html" not in full


def test_mailbox_url_from_ports_override_and_off(tmp_path: Path) -> None:
    none = environ.read({})
    (tmp_path / "devenv.toml").write_text("[ports]\nmail = 60001\n")
    assert mailbox_url(config.load(tmp_path, none), none) == "http://127.0.0.1:60001"
    ci = environ.read({"DEVENV_MAIL_URL": "http://mail.ci:8025"})
    assert mailbox_url(config.load(tmp_path, ci), ci) == "http://mail.ci:8025"
    (tmp_path / "devenv.toml").write_text('[project]\nservices = ["postgres"]\n')
    with pytest.raises(MailError) as err:
        mailbox_url(config.load(tmp_path, none), none)
    assert "mail service is not enabled" in err.value.one_line()
    assert str(tmp_path / "devenv.toml") in err.value.one_line()


def test_unreachable_catcher_is_one_line() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Mailbox(f"http://127.0.0.1:{port}", timeout=2) as box, pytest.raises(MailError) as err:
        box.list()
    line = err.value.one_line()
    assert f"cannot reach the mail catcher at http://127.0.0.1:{port}" in line
    assert "devenv status" in line and "\n" not in line
