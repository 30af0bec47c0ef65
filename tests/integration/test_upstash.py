"""The Upstash REST endpoint against a real Redis (the stack's image in a container), driven by the
official clients: `upstash-redis` from PyPI, and `@upstash/redis` on Node where node is present
(installed into a cache folder by the fixture, as CI on a fresh machine needs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis
from upstash_redis import Redis
from upstash_redis.errors import UpstashError

from devenv import config
from devenv.upstash_rest.server import RestServer
from tests.conftest import unavailable

pytestmark = pytest.mark.engine

TOKEN = "test-" + uuid.uuid4().hex
NODE_CLIENT = "@upstash/redis@1.39.0"


@pytest.fixture(scope="module")
def redis_url(engine: None) -> Iterator[str]:
    """A throw-away Redis from the stack's own image, on a random loopback port."""
    from devenv.stack import engine as eng

    image = config.load(Path("/")).image("redis")
    client = eng.Engine().client
    container = client.containers.run(
        image,
        name=f"it-upstash-{uuid.uuid4().hex[:8]}",
        detach=True,
        ports={"6379/tcp": ("127.0.0.1", None)},
        labels={"dev.devenv.test": "upstash"},
    )
    try:
        port = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            container.reload()
            bound = (container.attrs["NetworkSettings"]["Ports"] or {}).get("6379/tcp")
            if bound:
                port = int(bound[0]["HostPort"])
                try:
                    if redis.Redis(port=port, socket_timeout=1).ping():
                        break
                except redis.RedisError:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail(f"Redis ({image}) did not answer: {container.logs()[-500:]!r}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def rest(redis_url: str) -> Iterator[RestServer]:
    with RestServer(redis_url, TOKEN) as srv:
        yield srv


@pytest.fixture
def client(rest: RestServer) -> Redis:
    return Redis(url=rest.url, token=TOKEN, allow_telemetry=False, rest_retries=0)


@pytest.fixture
def direct(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def key() -> str:
    return f"k:{uuid.uuid4().hex}"


def test_client_sends_base64_encoding_by_default(client: Redis) -> None:
    """What the REST side must honour: the client asks for base64 unless told otherwise."""
    assert client._headers.get("Upstash-Encoding") == "base64"


def test_strings_numbers_nil_and_ttl_through_the_python_client(
    client: Redis, direct: redis.Redis
) -> None:
    k = key()
    # set()'s stubs say str | None (the old value, with get=True); without get it answers True.
    assert cast(object, client.set(k, "grüße ✓")) is True
    assert client.get(k) == "grüße ✓"
    assert direct.get(k) == "grüße ✓".encode()  # the same Redis, over RESP
    assert client.get(key()) is None
    n = key()
    assert client.incr(n) == 1
    assert client.incrby(n, 41) == 42
    assert cast(object, client.set(k, "v", ex=100)) is True
    assert 0 < client.ttl(k) <= 100
    assert client.ping() == "PONG"
    assert client.exists(k, key()) == 1


def test_hashes_lists_and_sets(client: Redis) -> None:
    h, lst, st = key(), key(), key()
    assert client.hset(h, values={"a": "1", "b": "2"}) == 2
    assert client.hgetall(h) == {"a": "1", "b": "2"}
    assert client.rpush(lst, "x", "y", "z") == 3
    assert client.lrange(lst, 0, -1) == ["x", "y", "z"]
    assert client.sadd(st, "m") == 1
    assert client.smembers(st) == ["m"]


def test_pipeline_runs_every_command_and_returns_each_result(client: Redis) -> None:
    k = key()
    p = client.pipeline()
    p.set(k, "1")
    p.incr(k)
    p.get(k)
    assert p.exec() == [True, 2, "2"]


def test_transaction_is_atomic_and_reports_a_failing_command(
    client: Redis, direct: redis.Redis
) -> None:
    k, s = key(), key()
    t = client.multi()
    t.set(k, "10")
    t.incr(k)
    assert t.exec() == [True, 11]
    # A command that fails at run time: the others still ran (Redis' semantics); the client
    # raises with Redis' own text.
    t = client.multi()
    t.set(s, "text")
    t.incr(s)
    with pytest.raises(UpstashError, match="ERR value is not an integer or out of range"):
        t.exec()
    assert direct.get(s) == b"text"


def test_transaction_discarded_as_a_whole(rest: RestServer, direct: redis.Redis) -> None:
    k = key()
    r = httpx.post(
        f"{rest.url}/multi-exec",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json=[["SET", k, "1"], ["GET"]],
    )
    assert r.status_code == 400
    assert r.json() == {"error": "ERR wrong number of arguments for 'get' command"}
    assert direct.get(k) is None  # nothing ran


def test_redis_errors_keep_their_text(client: Redis) -> None:
    with pytest.raises(UpstashError, match=r"^ERR wrong number of arguments for 'get' command$"):
        client.execute(["GET"])
    h = key()
    client.hset(h, "f", "v")
    with pytest.raises(UpstashError, match=r"^WRONGTYPE "):
        client.get(h)


def test_binary_values_exact_with_base64_and_replaced_without(
    rest: RestServer, direct: redis.Redis
) -> None:
    k = key()
    direct.set(k, b"\xff\x00ok")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(rest.url, headers={**auth, "Upstash-Encoding": "base64"}, json=["GET", k])
    assert r.json() == {"result": "/wBvaw=="}
    r = httpx.post(rest.url, headers=auth, json=["GET", k])
    assert r.json() == {"result": "\ufffd\x00ok"}
    # "OK" is never encoded; other status replies are.
    r = httpx.post(rest.url, headers={**auth, "Upstash-Encoding": "base64"}, json=["SET", k, "v"])
    assert r.json() == {"result": "OK"}
    r = httpx.post(rest.url, headers={**auth, "Upstash-Encoding": "base64"}, json=["PING"])
    assert r.json() == {"result": "UE9ORw=="}


def test_path_form_query_token_and_post_body_as_last_argument(
    rest: RestServer, direct: redis.Redis
) -> None:
    k = key()
    r = httpx.get(f"{rest.url}/set/{k}/a%2Fb", params={"_token": TOKEN})
    assert (r.status_code, r.json()) == (200, {"result": "OK"})
    assert direct.get(k) == b"a/b"
    r = httpx.post(
        f"{rest.url}/set/{k}",
        params={"EX": "100"},
        content=b'{"json": true}',
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.json() == {"result": "OK"}
    assert direct.get(k) == b'{"json": true}'
    assert 0 < int(direct.ttl(k)) <= 100


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_no_valid_token_is_401_unauthorized(rest: RestServer, headers: dict[str, str]) -> None:
    r = httpx.post(rest.url, headers=headers, json=["PING"])
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})


def test_wrong_token_through_the_client(rest: RestServer) -> None:
    bad = Redis(url=rest.url, token="nope", allow_telemetry=False, rest_retries=0)
    with pytest.raises(UpstashError, match=r"^Unauthorized$"):
        bad.get("x")


def test_bad_requests(rest: RestServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    cases = [
        (httpx.post(rest.url, headers=auth, content=b"[not json"), 400, "not valid JSON"),
        (httpx.post(rest.url, headers=auth, json=[]), 400, "non-empty JSON array"),
        (httpx.post(rest.url, headers=auth, json=["SET", "k", {"a": 1}]), 400, "invalid argument"),
        (httpx.post(rest.url, headers=auth, json=["SUBSCRIBE", "c"]), 400, "not available"),
        (httpx.post(f"{rest.url}/pipeline", headers=auth, json=["GET", "k"]), 400, "non-empty"),
        (httpx.delete(f"{rest.url}/get/k", headers=auth), 405, "not allowed"),
    ]
    for r, status, text in cases:
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"error"} and text in body["error"], body


def test_redis_unreachable_is_one_clear_error() -> None:
    from tests.support.localpg import free_port

    with RestServer(f"redis://127.0.0.1:{free_port()}/0", TOKEN) as srv:
        r = httpx.post(srv.url, headers={"Authorization": f"Bearer {TOKEN}"}, json=["PING"])
    assert r.status_code == 503
    assert "is unreachable" in r.json()["error"]


def test_service_entry_point_refuses_to_start_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DEVENV_UPSTASH_TOKEN"}
    proc = subprocess.run(
        ["python3", "-m", "devenv.upstash_rest", "--port", "0"],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "devenv: error: no REST token: set DEVENV_UPSTASH_TOKEN (what apps send as"
        " UPSTASH_REDIS_REST_TOKEN)"
    ]


# ------------------------------------------------------------------------------------------
# The Node client, where node is present.


@pytest.fixture(scope="module")
def node_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        # The Node client is checked where Node is present; the Python client covers the
        # contract everywhere.
        pytest.skip("node/npm not installed: the @upstash/redis check needs them")
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "devenv-tests"
        / NODE_CLIENT.replace("/", "_").replace("@", "")
    )
    if not (cache / "node_modules" / "@upstash" / "redis" / "package.json").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), NODE_CLIENT],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            unavailable(f"npm install {NODE_CLIENT} failed: {proc.stderr.strip()[-300:]}")
    return cache


def test_node_client(node_client: Path, rest: RestServer, direct: redis.Redis) -> None:
    k = key()
    script = """
const { Redis } = require("@upstash/redis");
const r = new Redis({ url: process.env.URL, token: process.env.TOKEN, enableTelemetry: false });
(async () => {
  const k = process.env.KEY;
  const out = {};
  out.set = await r.set(k, { hello: "wörld" }, { ex: 60 });
  out.get = await r.get(k);
  out.incr = await r.incr(k + ":n");
  const p = r.pipeline(); p.incr(k + ":n"); p.get(k + ":n");
  out.pipeline = await p.exec();
  const t = r.multi(); t.set(k + ":t", "x"); t.get(k + ":t");
  out.multi = await t.exec();
  try { await r.hget(k, "f"); } catch (e) { out.error = e.message; }
  const bad = new Redis({ url: process.env.URL, token: "nope", enableTelemetry: false });
  try { await bad.get(k); } catch (e) { out.unauthorized = e.message; }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""
    proc = subprocess.run(
        ["node", "-e", script],
        cwd=node_client,
        env={
            **os.environ,
            "URL": rest.url,
            "TOKEN": TOKEN,
            "KEY": k,
            "NODE_PATH": str(node_client / "node_modules"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["set"] == "OK"
    assert out["get"] == {"hello": "wörld"}
    assert out["incr"] == 1
    assert out["pipeline"] == [2, 2]
    assert out["multi"] == ["OK", "x"]
    # The Node client words its errors "Command failed: <the server's error>".
    assert out["error"] == (
        "Command failed: WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert "Unauthorized" in out["unauthorized"], out["unauthorized"]
    assert json.loads(direct.get(k) or b"") == {"hello": "wörld"}
