"""A small asyncio RESP2 client: exactly the replies Redis sends, nothing interpreted.

Why not redis-py: its asyncio client turns replies into Python values per command (``SET`` into
True, ``HGETALL`` into a dict) and strips the code off error replies (``ERR``, ``WRONGTYPE``);
the Upstash REST API hands clients Redis' reply as sent, error text included. Here a reply is
``bytes`` (simple and bulk strings), ``int``, ``None`` (nil), a list, or :class:`ReplyError`.

A :class:`Pool` keeps idle connections (last in, first out) and opens more on demand; a
connection that saw an I/O error is closed, never handed out again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class ReplyError(Exception):
    """An error reply (``-ERR ...``), its text whole."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ProtocolError(Exception):
    """Redis sent something that is not RESP2, or closed the connection mid-reply."""


def encode(args: Sequence[bytes]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader) -> object:
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = await reader.readexactly(n + 2)
        return data[:-2]
    if kind == b"+":
        return bytes(rest)
    if kind == b":":
        return int(rest)
    if kind == b"-":
        return ReplyError(rest.decode("utf-8", "replace"))
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [await read_reply(reader) for _ in range(n)]
    raise ProtocolError(f"unexpected reply type {kind!r} from Redis")


@dataclass(frozen=True)
class Target:
    """Where Redis is, from a ``redis://[[user]:password@]host[:port][/db]`` URL."""

    host: str
    port: int
    password: str | None = None
    username: str | None = None
    db: int = 0

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            raise ValueError(f"not a redis://host[:port][/db] URL: {url!r}")
        path = parts.path.strip("/")
        return cls(
            host=parts.hostname,
            port=parts.port or 6379,
            password=unquote(parts.password) if parts.password else None,
            username=unquote(parts.username) if parts.username else None,
            db=int(path) if path else 0,
        )

    def __str__(self) -> str:  # never the password
        return f"redis://{self.host}:{self.port}/{self.db}"


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def execute_many(self, commands: Sequence[Sequence[bytes]]) -> list[object]:
        """Send every command in one write (pipelining), then read one reply per command."""
        self.writer.write(b"".join(encode(c) for c in commands))
        await self.writer.drain()
        return [await read_reply(self.reader) for _ in commands]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Pool:
    def __init__(self, target: Target, max_size: int = 64) -> None:
        self.target = target
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(max_size)

    async def _open(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.target.host, self.target.port)
        conn = Connection(reader, writer)
        setup: list[list[bytes]] = []
        if self.target.password is not None:
            auth = [b"AUTH"]
            if self.target.username:
                auth.append(self.target.username.encode())
            setup.append([*auth, self.target.password.encode()])
        if self.target.db:
            setup.append([b"SELECT", str(self.target.db).encode()])
        if setup:
            for reply in await conn.execute_many(setup):
                if isinstance(reply, ReplyError):
                    conn.close()
                    raise reply
        return conn

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._open()
            try:
                yield conn
            except BaseException:
                conn.close()  # state unknown (half-read reply, cancelled): never reuse it
                raise
            self._idle.append(conn)

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
