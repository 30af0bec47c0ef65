"""devenv ui without an engine: the token and same-origin rules (a request without the token, or
from another origin, changes nothing), what a page may show (no secret unless asked for), the live
feed's fan-out, the event stream over a real socket, and the errors a user meets (port in use)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from devenv import config, environ
from devenv.errors import PortInUse, StackError
from devenv.stack.handle import Stack
from devenv.stack.secrets import Keys, mask
from devenv.ui import board as board_mod
from devenv.ui.live import Hub
from devenv.ui.security import TOKEN_HEADER, Guard
from devenv.ui.web import make_app

TOKEN = "t0ken-for-tests"
HOST = "testserver"
ORIGIN = f"http://{HOST}"

KEYS = Keys(
    jwt_secret="jwt-secret-value-123",
    postgres_password="pg-password-456",
    anon_key="anon.public.key",
    service_role_key="service.role.secret",
)


class FakeBoard:
    """What the web layer calls, recording the actions it was asked for."""

    def __init__(self, tmp: Path) -> None:
        self.cfg = config.in_memory(tmp, name="uitest", env=environ.read({}))
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: Exception | None = None
        self.hold = threading.Event()
        self.hold.set()
        #: Set once a restart has begun (it holds the action slot until ``hold`` is set).
        self.restarting = threading.Event()

    def services(self) -> dict[str, Any]:
        return {
            "project": "uitest",
            "running": True,
            "api_url": "http://127.0.0.1:1",
            "anon_key": KEYS.anon_key,
            "services": [
                {
                    "name": "redis",
                    "level": "ok",
                    "state": "running",
                    "health": "healthy",
                    "url": "redis://127.0.0.1:1/0",
                    "env": {"REDIS_URL": "redis://127.0.0.1:1/0"},
                }
            ],
            "at": time.time(),
        }

    def reveal(self) -> dict[str, Any]:
        return {"env": {"SUPABASE_SERVICE_ROLE_KEY": KEYS.service_role_key}}

    def restart(self, service: str) -> dict[str, Any]:
        self.restarting.set()
        self.hold.wait(10)
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append(("restart", service))
        return {"restarted": service}

    def down(self) -> dict[str, Any]:
        self.calls.append(("down", None))
        return {"removed": []}

    def snapshot_restore(self, name: str) -> dict[str, Any]:
        self.calls.append(("restore", name))
        return {"name": name}

    def trace(self) -> None:
        return None

    def trace_stamp(self) -> float:
        return 0.0

    def mail_enabled(self) -> bool:
        return False


@pytest.fixture
def fake(tmp_path: Path) -> FakeBoard:
    return FakeBoard(tmp_path)


@pytest.fixture
def client(fake: FakeBoard) -> Iterator[TestClient]:
    hub = Hub(fake)  # type: ignore[arg-type]
    hub.services = fake.services()
    app = make_app(fake, hub, Guard(TOKEN, 0, frozenset({HOST})), start_hub=False)  # type: ignore[arg-type]
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as c:
        yield c


def same_origin() -> dict[str, str]:
    return {"origin": ORIGIN, "sec-fetch-site": "same-origin", "content-type": "application/json"}


# -- reading ---------------------------------------------------------------------------------------


def test_the_page_needs_the_token(client: TestClient) -> None:
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/api/services").status_code == 403
    assert client.get("/api/events").status_code == 403
    assert client.get("/api/logs").status_code == 403


def test_the_token_becomes_a_strict_cookie_and_leaves_the_address(client: TestClient) -> None:
    r = client.get(f"/?token={TOKEN}")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")  # the client keeps the cookie
    assert page.status_code == 200
    assert "uitest" in page.text
    # The services are in the page itself: it shows them without another round trip.
    initial = page.text.split('id="initial">', 1)[1].split("</script>", 1)[0]
    assert json.loads(initial)["services"]["services"][0]["name"] == "redis"
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_header_token_reads_too(client: TestClient) -> None:
    r = client.get("/api/services", headers={TOKEN_HEADER: TOKEN})
    assert r.status_code == 200
    assert r.json()["services"][0]["level"] == "ok"


def test_another_host_name_is_refused(client: TestClient) -> None:
    """DNS rebinding: a site whose name resolves to 127.0.0.1 sends its own Host."""
    r = client.get("/api/services", headers={TOKEN_HEADER: TOKEN, "host": "evil.example:80"})
    assert r.status_code == 403


def test_static_files_are_served_and_nothing_else(client: TestClient) -> None:
    assert client.get("/static/app.js").status_code == 200
    assert "EventSource" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../board.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404


# -- changing: token and same origin ---------------------------------------------------------------


def test_a_change_without_the_token_changes_nothing(client: TestClient, fake: FakeBoard) -> None:
    r = client.post("/api/actions/restart", json={"service": "redis"}, headers=same_origin())
    assert r.status_code == 403
    assert "token" in r.json()["error"]
    assert client.post("/api/actions/down", json={}, headers=same_origin()).status_code == 403
    assert client.post("/api/reveal", json={}, headers=same_origin()).status_code == 403
    assert fake.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
        {"origin": "http://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # a sibling port or subdomain is another origin here
        {"origin": "null"},
    ],
)
def test_a_change_from_another_origin_changes_nothing(
    client: TestClient, fake: FakeBoard, headers: dict[str, str]
) -> None:
    client.cookies.set(f"devenv_ui_{0}", TOKEN)
    r = client.post(
        "/api/actions/restart",
        json={"service": "redis"},
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 403, r.text
    # Even with the token in the header, another origin is refused.
    r = client.post(
        "/api/snapshots/restore",
        json={"name": "before"},
        headers={**headers, "content-type": "application/json", TOKEN_HEADER: TOKEN},
    )
    assert r.status_code == 403
    assert fake.calls == []


def test_a_cookie_alone_without_origin_headers_is_not_enough(
    client: TestClient, fake: FakeBoard
) -> None:
    """A client that says nothing of its origin must show the token itself, in the header."""
    client.cookies.set("devenv_ui_0", TOKEN)
    r = client.post("/api/actions/down", json={}, headers={"content-type": "application/json"})
    assert r.status_code == 403
    assert fake.calls == []
    r = client.post("/api/actions/down", json={}, headers={TOKEN_HEADER: TOKEN})
    assert r.status_code == 200
    assert fake.calls == [("down", None)]


def test_a_form_post_is_refused(client: TestClient, fake: FakeBoard) -> None:
    """A cross-site HTML form can only send form bodies; the API takes JSON only."""
    r = client.post(
        "/api/actions/down",
        content=b"x=1",
        headers={
            TOKEN_HEADER: TOKEN,
            "origin": ORIGIN,
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert r.status_code == 403
    assert fake.calls == []


def test_the_page_changes_things_with_its_cookie(client: TestClient, fake: FakeBoard) -> None:
    client.get(f"/?token={TOKEN}")
    r = client.post("/api/actions/restart", json={"service": "redis"}, headers=same_origin())
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "result": {"restarted": "redis"}}
    assert fake.calls == [("restart", "redis")]
    revealed = client.post("/api/reveal", json={}, headers=same_origin())
    assert revealed.json()["result"]["env"]["SUPABASE_SERVICE_ROLE_KEY"] == KEYS.service_role_key


def test_an_action_error_is_one_line(client: TestClient, fake: FakeBoard) -> None:
    fake.fail_with = StackError("the stack 'uitest' is not running", "start it with `devenv up`")
    r = client.post(
        "/api/actions/restart", json={"service": "redis"}, headers={TOKEN_HEADER: TOKEN}
    )
    assert r.status_code == 409
    assert r.json()["error"] == ("the stack 'uitest' is not running (start it with `devenv up`)")


def test_bad_bodies_are_refused(client: TestClient, fake: FakeBoard) -> None:
    h = {TOKEN_HEADER: TOKEN, "content-type": "application/json"}
    assert client.post("/api/actions/restart", content=b"[1]", headers=h).status_code == 400
    assert client.post("/api/actions/restart", content=b"{", headers=h).status_code == 400
    r = client.post("/api/actions/restart", json={}, headers={TOKEN_HEADER: TOKEN})
    assert r.status_code == 400 and "service" in r.json()["error"]
    assert client.get("/api/actions/restart", headers=h).status_code == 405
    assert fake.calls == []


def test_one_action_at_a_time(client: TestClient, fake: FakeBoard) -> None:
    fake.hold.clear()
    first: dict[str, Any] = {}

    def slow() -> None:
        first["r"] = client.post(
            "/api/actions/restart", json={"service": "redis"}, headers={TOKEN_HEADER: TOKEN}
        )

    t = threading.Thread(target=slow)
    t.start()
    try:
        # Once the restart runs (it holds the action slot), another action is refused. Asking
        # before then would take the slot itself and refuse the restart instead.
        assert fake.restarting.wait(30)
        r = client.post("/api/actions/down", json={}, headers={TOKEN_HEADER: TOKEN})
        assert r.status_code == 409
        assert "another action is running: restart redis" in r.json()["error"]
    finally:
        fake.hold.set()
        t.join(10)
    assert first["r"].status_code == 200


# -- nothing secret unless asked -------------------------------------------------------------------


def test_secrets_are_masked_in_what_pages_read() -> None:
    url = f"postgresql://postgres:{KEYS.postgres_password}@127.0.0.1:5432/postgres"
    masked = board_mod.mask_secrets(url, KEYS)
    assert KEYS.postgres_password not in masked and mask(KEYS.postgres_password) in masked
    assert board_mod.mask_secrets(KEYS.service_role_key, KEYS) == mask(KEYS.service_role_key)
    assert board_mod.mask_secrets(KEYS.jwt_secret, KEYS) == mask(KEYS.jwt_secret)
    assert board_mod.mask_secrets(KEYS.upstash_token, KEYS) == mask(KEYS.upstash_token)
    assert board_mod.mask_secrets(KEYS.anon_key, KEYS) == KEYS.anon_key  # public


def test_the_service_env_is_masked(tmp_path: Path) -> None:
    cfg = config.in_memory(tmp_path, name="uitest", env=environ.read({}))
    b = board_mod.Board(Stack(cfg, env=environ.read({})))
    env = b._env_of("gotrue", KEYS, reveal=False)
    text = json.dumps(env)
    for secret in (KEYS.service_role_key, KEYS.jwt_secret, KEYS.postgres_password):
        assert secret not in text
    assert env["SUPABASE_ANON_KEY"] == KEYS.anon_key
    assert "DATABASE_URL" in b._env_of("postgres", KEYS, reveal=False)
    assert KEYS.postgres_password in b._env_of("postgres", KEYS, reveal=True)["DATABASE_URL"]


@pytest.mark.parametrize(
    ("state", "health", "why", "level"),
    [
        ("running", "healthy", "", "ok"),
        ("running", "", "", "ok"),
        ("running", "starting", "", "wait"),
        ("running", "unhealthy", "", "bad"),
        ("running", "healthy", "a sign-in answers HTTP 500", "bad"),
        ("exited", "", "", "bad"),
        ("missing", "", "", "bad"),
    ],
)
def test_levels(state: str, health: str, why: str, level: str) -> None:
    assert board_mod._level(state, health, why) == level


def test_the_last_health_check() -> None:
    attrs = {"State": {"Health": {"Log": [{"ExitCode": 0, "Output": "PONG\n", "End": "T"}]}}}
    assert board_mod._last_health_check(attrs) == ("passed: PONG", "T")
    failed = {"State": {"Health": {"Log": [{"ExitCode": 1, "Output": "", "End": "U"}]}}}
    assert board_mod._last_health_check(failed) == ("failed (exit 1)", "U")
    assert board_mod._last_health_check({}) == ("", "")


# -- the live feed ---------------------------------------------------------------------------------


def test_every_page_hears_changes_and_a_new_page_gets_the_latest(fake: FakeBoard) -> None:
    async def go() -> None:
        hub = Hub(fake)  # type: ignore[arg-type]
        first = hub.subscribe()
        hub.publish("services", {"n": 1})
        hub.publish("action", {"what": "x"}, keep=False)
        await asyncio.sleep(0)
        got = [first.get_nowait(), first.get_nowait()]
        assert got[0].startswith("event: services\n") and '"n": 1' in got[0]
        assert got[1].startswith("event: action\n")
        second = hub.subscribe()  # only what is kept
        assert second.qsize() == 1 and '"n": 1' in second.get_nowait()
        hub.unsubscribe(first)
        hub.publish("services", {"n": 2})
        await asyncio.sleep(0)
        assert first.empty() and '"n": 2' in second.get_nowait()

    asyncio.run(go())


def test_services_are_sent_only_when_they_change(fake: FakeBoard) -> None:
    async def go() -> None:
        hub = Hub(fake)  # type: ignore[arg-type]
        q = hub.subscribe()
        hub.refresh_services()
        hub.refresh_services()  # the same state, a later time
        await asyncio.sleep(0)
        assert q.qsize() == 1

    asyncio.run(go())


def test_the_event_stream_over_a_real_socket(fake: FakeBoard) -> None:
    import uvicorn

    from devenv.serving import bind, uvicorn_config

    sock = bind("127.0.0.1", 0, "test")
    port = sock.getsockname()[1]
    hub = Hub(fake)  # type: ignore[arg-type]
    app = make_app(fake, hub, Guard.local(TOKEN, port), start_hub=False)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, "error"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    try:
        while not server.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        with httpx.stream(
            "GET", f"{base}/api/events", headers={TOKEN_HEADER: TOKEN}, timeout=5
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines) == "retry: 1000"
            hub.refresh_services()
            seen = [next(lines) for _ in range(3)]
            assert seen[0] == "" and seen[1] == "event: services"
            assert json.loads(seen[2].removeprefix("data: "))["project"] == "uitest"
        # A page from another host name is refused before any route.
        r2 = httpx.get(
            f"{base}/api/services", headers={TOKEN_HEADER: TOKEN, "host": "localhost.evil:1"}
        )
        assert r2.status_code == 403
    finally:
        server.should_exit = True
        t.join(10)


# -- errors a user meets ---------------------------------------------------------------------------


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    from devenv.ui.server import UIServer

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        cfg = config.in_memory(tmp_path, name="uitest", env=environ.read({}))
        with pytest.raises(PortInUse) as err:
            UIServer(Stack(cfg, env=environ.read({})), port=port)
        assert err.value.one_line() == (
            f"devenv ui cannot listen on 127.0.0.1:{port}: the port is in use"
            " (pick another --port, or leave it out for a free one)"
        )
    finally:
        holder.close()


def test_the_server_listens_on_loopback_only(tmp_path: Path) -> None:
    from devenv.ui.server import UIServer

    cfg = config.in_memory(tmp_path, name="uitest", env=environ.read({}))
    ui = UIServer(Stack(cfg, env=environ.read({})))
    try:
        assert ui._sock.getsockname()[0] == "127.0.0.1"
        assert ui.url.startswith(f"http://127.0.0.1:{ui.port}/?token=")
        assert len(ui.token) >= 32
    finally:
        ui.close()
