"""Redis: the cache and pub/sub the app relies on. Every key a check writes is under a
run-unique prefix and removed again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from devenv.contracts.core import Suite, check, expect, expect_eq, register

if TYPE_CHECKING:
    import redis


@register
class RedisSuite(Suite):
    service = "redis"

    def unavailable(self) -> str | None:
        return None if self.target.redis_url else "no Redis URL (REDIS_URL) for this target"

    @property
    def r(self) -> redis.Redis:
        c = self.state.get("client")
        if c is None:
            import redis

            c = redis.Redis.from_url(
                self.target.redis_url,
                socket_timeout=self.timeout,
                socket_connect_timeout=min(self.timeout, 2.0),
                decode_responses=True,
            )
            self.state["client"] = c
            self.state["prefix"] = f"devenv:contracts:{uuid.uuid4().hex[:12]}:"
        return c

    def key(self, name: str) -> str:
        _ = self.r
        return f"{self.state['prefix']}{name}"

    def close(self) -> None:
        c = self.state.get("client")
        if c is not None:
            try:
                keys = list(c.scan_iter(match=self.state["prefix"] + "*", count=100))
                if keys:
                    c.delete(*keys)
            finally:
                c.close()

    @check("ping")
    def ping(self) -> None:
        expect(self.r.ping() is True, "PONG", "no PONG")

    @check("set_with_ttl")
    def set_with_ttl(self) -> None:
        k = self.key("ttl")
        expect(self.r.set(k, "value", ex=30) is True, "SET ... EX 30 to answer OK", "not OK")
        ttl = self.r.ttl(k)
        expect(isinstance(ttl, int) and 0 < ttl <= 30, "a TTL between 1 and 30 s", ttl)

    @check("get")
    def get(self) -> None:
        k = self.key("get")
        self.r.set(k, "héllo", ex=30)
        expect_eq(self.r.get(k), "héllo", "GET to return")
        expect_eq(self.r.get(self.key("missing")), None, "GET of a missing key to return")

    @check("expiry")
    def expiry(self) -> None:
        k = self.key("expiry")
        self.r.set(k, "short", px=100)
        deadline = time.monotonic() + 2.0
        while self.r.exists(k) and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(
            not self.r.exists(k), "a key SET with PX 100 to be gone within 2 s", "it is still there"
        )

    @check("pubsub")
    def pubsub(self) -> None:
        channel = self.key("channel")
        # redis-py annotates pubsub() from 8.x on and left it untyped before: taken as a typed
        # callable, the call type-checks on both without an ignore that one of them calls unused.
        pubsub: Callable[[], redis.client.PubSub] = self.r.pubsub
        ps = pubsub()
        try:
            ps.subscribe(channel)
            # The subscription is confirmed before publishing, so the message cannot be missed.
            confirm = ps.get_message(timeout=self.timeout)
            expect(
                confirm and confirm.get("type") == "subscribe", "a subscribe confirmation", confirm
            )
            receivers = self.r.publish(channel, "ping")
            expect(receivers >= 1, "PUBLISH to reach the subscriber", f"{receivers} receivers")
            msg = ps.get_message(timeout=self.timeout)
            expect(msg and msg.get("data") == "ping", "the published message", msg)
        finally:
            ps.close()
