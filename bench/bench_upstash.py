"""The Upstash REST endpoint and the pooler against their direct baselines, in one run, on one stack
(postgres, pooler, redis, upstash) started for the purpose and removed after.

1. Redis GET of a 100-byte value. Baseline: a direct RESP round trip (redis-py, one connection).
   Candidate: the same GET through the REST endpoint (POST / with ["GET", key], bearer token,
   base64 encoding as the official clients ask), over one keep-alive HTTP connection with the
   stdlib client, so the row measures the endpoint rather than an HTTP library. Also shown: the
   official `upstash-redis` client's own `get` (httpx underneath). Target: REST p50 at most 1 ms
   above the direct p50.
2. Pooler overhead per transaction: `SELECT 1` on one open connection, direct vs through PgBouncer
   (transaction mode); and a whole serverless-style request (connect, `SELECT 1`, close), where
   the pooler saves the server's backend start. Measured, no target (the issue asks for the note).

Requests alternate between candidate and baseline in blocks; medians (p50) and p90 are printed.

Run: ``eval "$(tests/hermetic/setup)"; python bench/bench_upstash.py [--n N]``.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devenv import services as svcs  # noqa: E402
from devenv.stack import ports  # noqa: E402
from devenv.stack.handle import Stack  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) > 1 else xs[0]


def alternate(
    fns: dict[str, Callable[[], object]], n: int, block: int = 100
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up: connections opened, pools filled
        for _ in range(50):
            fn()
    done = 0
    while done < n:
        for name, fn in fns.items():
            times = out[name]
            for _ in range(block):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        done += block
    return out


def table(title: str, results: dict[str, list[float]], base: str) -> None:
    b50 = statistics.median(results[base])
    print(f"\n{title}")
    print(f"  {'variant':<46} {'p50 µs':>9} {'p90 µs':>9} {'Δp50 µs':>9} {'ratio':>7}")
    for name, xs in results.items():
        p50 = statistics.median(xs)
        print(
            f"  {name:<46} {p50 * 1e6:9.0f} {pct(xs, 90) * 1e6:9.0f}"
            f" {(p50 - b50) * 1e6:9.0f} {p50 / b50:6.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="requests per variant")
    args = ap.parse_args()

    import psycopg
    import redis
    from upstash_redis import Redis

    root = Path(tempfile.mkdtemp(prefix="devenv-bench-"))
    name = f"bench-{uuid.uuid4().hex[:6]}"
    services = ["postgres", "pooler", "redis", "upstash"]
    port_lines = "\n".join(f"{s} = {ports.free_port()}" for s in svcs.names())
    (root / "devenv.toml").write_text(
        f'[project]\nname = "{name}"\nservices = {services!r}\n[ports]\n{port_lines}\n'.replace(
            "'", '"'
        )
    )
    handle = Stack.load(root)
    cfg = handle.cfg
    try:
        handle.up(timeout=300)
        env = handle.env_values()

        # 1. Redis GET.
        key, value = "bench:key", "v" * 100
        direct = redis.Redis.from_url(env["REDIS_URL"])
        direct.set(key, value)
        rest_port = cfg.ports["upstash"]
        conn = http.client.HTTPConnection("127.0.0.1", rest_port)
        body = f'["GET", "{key}"]'.encode()
        headers = {
            "Authorization": f"Bearer {env['UPSTASH_REDIS_REST_TOKEN']}",
            "Upstash-Encoding": "base64",
            "Content-Type": "application/json",
        }

        def rest_get() -> bytes:
            conn.request("POST", "/", body, headers)
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == 200, data
            return data

        official = Redis(
            url=env["UPSTASH_REDIS_REST_URL"],
            token=env["UPSTASH_REDIS_REST_TOKEN"],
            allow_telemetry=False,
            read_your_writes=False,
        )
        assert official.get(key) == value
        results = alternate(
            {
                "direct RESP GET (redis-py)  [baseline]": lambda: direct.get(key),
                "REST GET (stdlib HTTP, keep-alive)": rest_get,
                "REST GET (upstash-redis client)": lambda: official.get(key),
            },
            args.n,
        )
        table("Redis GET, 100-byte value", results, "direct RESP GET (redis-py)  [baseline]")
        delta = statistics.median(
            results["REST GET (stdlib HTTP, keep-alive)"]
        ) - statistics.median(results["direct RESP GET (redis-py)  [baseline]"])
        verdict = "met" if delta <= 0.001 else "MISSED"
        print(f"  target: REST p50 - direct p50 <= 1000 µs: {delta * 1e6:.0f} µs ({verdict})")

        # 2. Pooler.
        d = psycopg.connect(env["DATABASE_URL"], autocommit=True)
        p = psycopg.connect(env["DATABASE_POOLED_URL"], prepare_threshold=None, autocommit=True)
        results = alternate(
            {
                "SELECT 1, open connection, direct  [baseline]": lambda: d.execute("SELECT 1"),
                "SELECT 1, open connection, pooler": lambda: p.execute("SELECT 1"),
            },
            args.n,
        )
        table(
            "Postgres transaction on an open connection",
            results,
            "SELECT 1, open connection, direct  [baseline]",
        )

        def request(url: str) -> None:
            with psycopg.connect(url, autocommit=True) as c:
                c.execute("SELECT 1")

        results = alternate(
            {
                "connect + SELECT 1 + close, direct  [baseline]": lambda: request(
                    env["DATABASE_URL"]
                ),
                "connect + SELECT 1 + close, pooler": lambda: request(env["DATABASE_POOLED_URL"]),
            },
            max(100, args.n // 10),
            block=20,
        )
        table(
            "Serverless-style request (new connection each time)",
            results,
            "connect + SELECT 1 + close, direct  [baseline]",
        )
    finally:
        handle.down(volumes=True)


if __name__ == "__main__":
    main()
