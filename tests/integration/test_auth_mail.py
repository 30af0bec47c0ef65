"""Auth as Supabase users know it, against the real GoTrue and a real Mailpit: confirmations, magic
links and recovery finished through `devenv mail` and the gateway, the token's issuer, the seeding
hint for a taken id, and GoTrue's healthcheck on the image the harness built."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from devenv import config
from devenv.stack.engine import Engine
from tests.conftest import unavailable
from tests.integration.conftest import Project, destroy, make_project

pytestmark = pytest.mark.engine

PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def mail_image(engine: None) -> None:
    from docker.errors import ImageNotFound

    image = config.load(Path("/")).image("mail")
    try:
        Engine().client.images.get(image)
    except ImageNotFound:
        unavailable(f"image {image} for mail is missing; run tests/hermetic/setup")


@pytest.fixture(scope="module")
def stack(
    gotrue: None, mail_image: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """One stack for the module: GoTrue behind the gateway, mailing the catcher, confirmations
    on; every test uses its own addresses."""
    p = make_project(
        tmp_path_factory.mktemp("auth"),
        ["postgres", "gotrue", "kong", "mail"],
        auth='site_url = "http://app.test:3000"\n'
        'additional_redirect_urls = ["http://app.test:3000/**"]\n'
        "enable_confirmations = true",
    )
    try:
        proc = p.cli("up", "--no-seed")
        assert proc.returncode == 0, proc.stderr
        yield p
    finally:
        destroy(p)


def keys(p: Project) -> dict[str, str]:
    data: dict[str, str] = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    return data


def auth_url(p: Project) -> str:
    return f"http://127.0.0.1:{p.cfg.ports['kong']}/auth/v1"


def client(p: Project) -> httpx.Client:
    return httpx.Client(base_url=auth_url(p), headers={"apikey": keys(p)["anon_key"]}, timeout=15)


def email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def mail_link(p: Project, to: str) -> str:
    """The auth link of the newest mail to ``to``, as a developer gets it from the terminal."""
    proc = p.cli("mail", "show", "--to", to, "--link", "--wait", "10")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def follow(link: str) -> dict[str, str]:
    """Open an email link as a browser does, through the gateway; GoTrue redirects to the app
    with the session in the fragment. Returns the fragment's fields."""
    assert link.startswith("http://127.0.0.1:") and "/auth/v1/verify?" in link, link
    r = httpx.get(link, follow_redirects=False, timeout=15)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    location = r.headers["location"]
    assert location.startswith("http://app.test:3000"), location
    fragment = parse_qs(urlsplit(location).fragment)
    assert "error" not in fragment, fragment
    return {k: v[0] for k, v in fragment.items()}


def test_signup_with_confirmations_mails_a_link_that_confirms_through_the_gateway(
    stack: Project,
) -> None:
    who = email()
    with client(stack) as http:
        r = http.post("/signup", json={"email": who, "password": PASSWORD})
        assert r.status_code == 200, r.text
        body = r.json()
        # No session until the address is confirmed.
        assert "access_token" not in body and body.get("confirmation_sent_at")
        r = http.post("/token?grant_type=password", json={"email": who, "password": PASSWORD})
        assert r.status_code == 400 and r.json()["error_code"] == "email_not_confirmed"

        listed = stack.cli("mail", "list", "--to", who, "--json")
        assert listed.returncode == 0, listed.stderr
        (summary,) = json.loads(listed.stdout)
        assert summary["to"] == [who] and "confirm" in summary["subject"].lower()

        shown = stack.cli("mail", "show", summary["id"], "--json")
        full = json.loads(shown.stdout)
        (link,) = [u for u in full["links"] if "/verify?" in u]
        assert link.startswith(f"{auth_url(stack)}/verify?") and "type=signup" in link

        session = follow(link)
        assert session["type"] == "signup" and session["access_token"]
        r = http.post("/token?grant_type=password", json={"email": who, "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert r.json()["user"]["email_confirmed_at"]


def confirmed_user(p: Project) -> str:
    who = email()
    with client(p) as http:
        r = http.post(
            "/admin/users",
            headers={"Authorization": f"Bearer {keys(p)['service_role_key']}"},
            json={"email": who, "password": PASSWORD, "email_confirm": True},
        )
        assert r.status_code == 200, r.text
    return who


def test_magic_link_finished_through_devenv_mail_and_the_gateway(stack: Project) -> None:
    who = confirmed_user(stack)
    with client(stack) as http:
        r = http.post("/magiclink", json={"email": who})
        assert r.status_code == 200, r.text
        session = follow(mail_link(stack, who))
        assert session["type"] == "magiclink"
        r = http.get("/user", headers={"Authorization": f"Bearer {session['access_token']}"})
        assert r.status_code == 200 and r.json()["email"] == who


def test_password_recovery_finished_through_devenv_mail_and_the_gateway(stack: Project) -> None:
    who = confirmed_user(stack)
    with client(stack) as http:
        r = http.post(
            "/recover", json={"email": who}, params={"redirect_to": "http://app.test:3000/reset"}
        )
        assert r.status_code == 200, r.text
        link = mail_link(stack, who)
        assert "type=recovery" in link
        session = follow(link)
        assert session["type"] == "recovery"
        r = http.put(
            "/user",
            headers={"Authorization": f"Bearer {session['access_token']}"},
            json={"password": "a-new-password-2"},
        )
        assert r.status_code == 200, r.text
        r = http.post(
            "/token?grant_type=password", json={"email": who, "password": "a-new-password-2"}
        )
        assert r.status_code == 200, r.text
        r = http.post("/token?grant_type=password", json={"email": who, "password": PASSWORD})
        assert r.status_code == 400


def test_generate_link_and_the_access_tokens_issuer(stack: Project) -> None:
    who = confirmed_user(stack)
    service = keys(stack)["service_role_key"]
    with client(stack) as http:
        r = http.post(
            "/admin/generate_link",
            headers={"Authorization": f"Bearer {service}"},
            json={"type": "magiclink", "email": who},
        )
        assert r.status_code == 200, r.text
        assert r.json()["action_link"].startswith(f"{auth_url(stack)}/verify?")
        r = http.post("/token?grant_type=password", json={"email": who, "password": PASSWORD})
        assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    # As hosted Supabase and `supabase start`: iss is the API URL + /auth/v1, and an app that
    # verifies it (signature, audience, issuer) accepts the token.
    claims = jwt.decode(
        token,
        keys(stack)["jwt_secret"],
        algorithms=["HS256"],
        audience="authenticated",
        issuer=auth_url(stack),
    )
    assert claims["email"] == who


def test_open_gateway_routes_need_no_key(stack: Project) -> None:
    base = auth_url(stack)
    r = httpx.get(f"{base}/.well-known/jwks.json", timeout=10)
    assert r.status_code == 200 and "keys" in r.json()
    # A bad token on /verify is GoTrue's own answer (a redirect with the error), not Kong's 401.
    r = httpx.get(f"{base}/verify?token=nope&type=signup", follow_redirects=False, timeout=10)
    assert r.status_code == 303 and "error" in r.headers["location"]
    r = httpx.get(f"{base}/settings", timeout=10)
    assert r.status_code == 401 and r.json() == {"message": "No API key found in request"}


def test_seeded_user_with_a_taken_id_gets_the_specific_hint(stack: Project) -> None:
    uid = str(uuid.uuid4())
    for name, who in (("first", email()), ("second", email())):
        folder = stack.root / "seeds" / name
        folder.mkdir(parents=True)
        (folder / "auth.users.yaml").write_text(
            f"- email: {who}\n  password: {PASSWORD}\n  id: {uid}\n"
        )
    assert stack.cli("seed", "first").returncode == 0
    proc = stack.cli("seed", "second")
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[0]
    assert f"id {uid}" in line and "the id is probably taken by another user" in line
    assert "give the user another id" in line
    assert keys(stack)["service_role_key"] not in proc.stderr


def test_gotrue_healthcheck_is_healthy_on_the_hermetic_image(stack: Project) -> None:
    (state,) = [c for c in stack.containers() if c.service == "gotrue"]
    gotrue = Engine().client.containers.get(state.id)
    health = gotrue.attrs["State"]["Health"]
    assert health["Status"] == "healthy"
    # Docker keeps the last five checks; the newest passed (earlier ones may predate the start).
    assert health["Log"] and health["Log"][-1]["ExitCode"] == 0
    # The same command by hand, in the container: a GET that GoTrue answers 200.
    test = gotrue.attrs["Config"]["Healthcheck"]["Test"]
    assert "--spider" not in test
    code, _ = gotrue.exec_run(test[1:])
    assert code == 0


def test_mail_catcher_alone_catches_and_devenv_mail_reads(mail_image: None, tmp_path: Path) -> None:
    """No GoTrue needed: a mail sent into the catcher over SMTP, read back with `devenv mail`."""
    p = make_project(tmp_path, ["mail"])
    try:
        assert p.cli("up").returncode == 0
        st = json.loads(p.cli("status", "-o", "json").stdout)
        (mail,) = st["services"]
        port = p.cfg.ports["mail"]
        assert mail["health"] == "healthy" and mail["url"] == f"http://127.0.0.1:{port}"
        assert json.loads(p.cli("mail", "list", "--json").stdout) == []
        env = p.cli("status", "-o", "env").stdout.splitlines()
        assert f"MAILPIT_URL=http://127.0.0.1:{port}" in env

        (container,) = p.containers()
        note = (
            "From: app@example.com\r\nTo: dev@example.com\r\nSubject: Hello\r\n"
            "Content-Type: text/plain\r\n\r\nOpen http://127.0.0.1:3000/welcome?x=1 now.\r\n"
        )
        # Mailpit's own sendmail, inside the container: SMTP to the catcher on 1025.
        sent = subprocess.run(
            ["docker", "exec", "-i", container.name, "/mailpit", "sendmail", "-S",
             "127.0.0.1:1025", "-f", "app@example.com", "dev@example.com"],
            input=note, text=True, capture_output=True, timeout=30,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        shown = p.cli("mail", "show", "--to", "dev@example.com", "--wait", "5", "--json")
        assert shown.returncode == 0, shown.stderr
        msg = json.loads(shown.stdout)
        assert msg["subject"] == "Hello" and msg["from"] == "app@example.com"
        assert msg["links"] == ["http://127.0.0.1:3000/welcome?x=1"]
        assert p.cli("mail", "show", "--to", "dev@example.com", "--link").stdout.strip() == (
            "http://127.0.0.1:3000/welcome?x=1"
        )
        # Another address has nothing: one line, exit 1.
        none = p.cli("mail", "show", "--to", "other@example.com")
        assert none.returncode == 1
        assert none.stderr.strip() == (
            f"devenv: error: no mail to other@example.com in the mail catcher at "
            f"http://127.0.0.1:{port} (trigger the mail first (signup, magic link, recovery), "
            "or wait for it with --wait SECONDS)"
        )
        assert p.cli("mail", "clear").returncode == 0
        assert json.loads(p.cli("mail", "list", "--json").stdout) == []
    finally:
        destroy(p)
    # With the stack down: one line naming the catcher and what to do.
    gone = p.cli("mail", "list")
    assert gone.returncode == 1
    assert "cannot reach the mail catcher" in gone.stderr and "devenv status" in gone.stderr


@pytest.mark.parametrize(
    ("toml", "smtp_host", "autoconfirm"),
    [
        ("", "mail", "true"),
        ('[project]\nservices = ["postgres", "gotrue", "kong"]\n', "", "true"),
        ("[auth]\nenable_confirmations = true\n", "mail", "false"),
    ],
)
def test_compose_reads_the_auth_settings_devenv_passes(
    engine: None, tmp_path: Path, toml: str, smtp_host: str, autoconfirm: str
) -> None:
    """What compose itself makes of devenv.toml: GoTrue's SMTP host is the catcher, or empty when
    the mail service is off (GoTrue's no-op mailer), and confirmations flip autoconfirm."""
    from devenv import environ
    from devenv.assets import compose_file
    from devenv.stack import project, secrets
    from devenv.stack.compose import find_compose

    (tmp_path / "devenv.toml").write_text(toml)
    cfg = config.load(tmp_path)
    env = project.compose_env(cfg, secrets.generate(), environ.read({}))
    proc = subprocess.run(
        [*find_compose(), "--project-name", "h10m-config", "--file", str(compose_file()),
         "config", "--format", "json"],
        env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    gotrue = json.loads(proc.stdout)["services"]["gotrue"]["environment"]
    assert gotrue["GOTRUE_SMTP_HOST"] == smtp_host
    assert gotrue["GOTRUE_MAILER_AUTOCONFIRM"] == autoconfirm
    api_url = f"http://127.0.0.1:{cfg.ports['kong']}"
    assert gotrue["API_EXTERNAL_URL"] == api_url
    assert gotrue["GOTRUE_JWT_ISSUER"] == f"{api_url}/auth/v1"
    assert gotrue["GOTRUE_MAILER_URLPATHS_RECOVERY"] == "/auth/v1/verify"
