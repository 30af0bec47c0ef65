"""Kong's declared routes and its own answers; the mail suite's link handling and its skip."""

from __future__ import annotations

import httpx

from devenv.contracts import pytest_support
from devenv.contracts.core import SKIP
from devenv.contracts.suites.kong import KongSuite, declared_routes, kong_answered
from devenv.contracts.suites.mail import MailSuite, fragment_session, recovery_link
from devenv.contracts.target import Target, default_kong_config


def test_routes_come_from_the_shipped_kong_config() -> None:
    path = default_kong_config()
    assert path is not None
    routes = {r.name: r for r in declared_routes(path)}
    assert routes["auth-v1-all"].path == "/auth/v1/"
    assert routes["auth-v1-all"].key_auth and routes["auth-v1-all"].anon_allowed
    assert not routes["auth-v1-open"].key_auth
    names = KongSuite.names_for(Target(kong_config=path))
    assert "route:auth-v1-all" in names and "route:auth-v1-open-callback" in names
    assert names[: len(KongSuite.check_names())] == KongSuite.check_names()


def test_kong_answers_are_told_from_the_services() -> None:
    kong_401 = httpx.Response(401, json={"message": "No API key found in request"})
    gotrue_401 = httpx.Response(401, json={"code": 401, "msg": "no token"})
    assert kong_answered(kong_401)
    assert not kong_answered(gotrue_401)
    assert kong_answered(httpx.Response(502, text="bad gateway"))
    assert not kong_answered(httpx.Response(200, text="ok"))


def test_recovery_link_from_mailpit_message() -> None:
    link = "http://127.0.0.1:54321/auth/v1/verify?token=abc&amp;type=recovery&amp;redirect_to=x"
    msg = {"HTML": f'<p><a href="{link}">Reset Password</a></p>', "Text": ""}
    assert recovery_link(msg) == link.replace("&amp;", "&")
    text_only = {"HTML": "", "Text": "Reset: http://h/auth/v1/verify?token=t&type=recovery\n"}
    assert recovery_link(text_only) == "http://h/auth/v1/verify?token=t&type=recovery"
    assert recovery_link({"HTML": '<a href="http://h/other">x</a>'}) is None
    session = fragment_session("http://localhost:3000/#access_token=tok&type=recovery&x=1")
    assert session["access_token"] == "tok" and session["type"] == "recovery"


def test_mail_suite_skips_cleanly_without_a_mail_service() -> None:
    out = MailSuite(Target(api_url="http://127.0.0.1:1", anon_key="k")).run()
    assert {o.status for o in out} == {SKIP}
    assert all("no mail service" in o.message for o in out)


def test_pytest_ids_cover_every_suite() -> None:
    ids = pytest_support.check_ids()
    assert ids[0] == "postgres.reachable"
    assert "gotrue.access_token_claims" in ids and "kong.route:auth-v1-all" in ids
    assert "mail.recovery_link_signs_in" in ids and ids[-1] == "fireworks.bad_key_401"
    assert len(ids) == len(set(ids))
