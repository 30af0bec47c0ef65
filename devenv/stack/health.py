"""Wait strategies, as testcontainers has them: small objects that say whether something is ready
yet, and one loop that polls them against a deadline.

- :class:`ContainersHealthy`: every service's container runs and its healthcheck passes (a
  container without a healthcheck counts once it runs: a user's own image may have none).
- :class:`HttpOk`: a GET answers 200 (the gateway, through Kong, with the anon key).

The loop polls every 0.1 s: compose's own ``--wait`` ticks every 0.5 s, which is half a second of
waiting for nothing per service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from devenv import interrupt
from devenv.errors import HealthTimeout, StackError
from devenv.stack.compose import ContainerState, Runner, Started, compose_error
from devenv.stack.model import ProgressFn, ServiceState

POLL_S = 0.1


class StackTakenDown(StackError):
    """The containers ``up`` was waiting for were removed (a `devenv down` elsewhere)."""


@dataclass
class Check:
    ready: bool
    detail: str = ""


class ContainersHealthy:
    """Every service in ``services`` runs and is healthy (or has no healthcheck)."""

    def __init__(self, runner: Runner, services: Sequence[str]) -> None:
        self.runner = runner
        self.services = list(services)
        self.seen: set[str] = set()
        self.states: dict[str, ServiceState] = {}
        #: Startup seconds per container start ("<id>@<started_at>"), taken while the first
        #: healthy check is still in Docker's 5-entry health log, else from the poll that saw
        #: the container turn healthy (only if an earlier poll saw it starting).
        self.startup: dict[str, float] = {}
        self._starting: set[str] = set()

    def poll(self) -> dict[str, ServiceState]:
        states = {s: ServiceState(s) for s in self.services}
        for c in self.runner.ps():
            st = states.get(c.service)
            if st is None:
                continue
            self.seen.add(c.service)
            self._note_startup(c)
            st.container = c.name
            st.health = c.health
            st.exit_code = c.exit_code
            if c.state == "running":
                st.state = (
                    c.health if c.health in ("healthy", "unhealthy", "starting") else "running"
                )
            elif c.state in ("exited", "dead"):
                st.state = "exited"
            else:
                st.state = c.state
        self.states = states
        return states

    def _note_startup(self, c: ContainerState) -> None:
        if c.started_at is None:
            return
        key = f"{c.id}@{c.started_at}"
        if key in self.startup:
            return
        if c.healthy_at is not None:
            self.startup[key] = c.healthy_at - c.started_at
        elif c.health == "healthy" and key in self._starting:
            self.startup[key] = time.time() - c.started_at
        elif c.health == "starting":
            self._starting.add(key)

    @staticmethod
    def ready_one(st: ServiceState) -> bool:
        return st.state == "healthy" or (st.state == "running" and not st.health)

    def check(self) -> Check:
        states = self.poll()
        bad = [n for n, st in states.items() if not self.ready_one(st)]
        return Check(not bad, ", ".join(f"{n}: {states[n].state}" for n in bad))

    def failed(self) -> list[str]:
        return [n for n, st in self.states.items() if st.state in ("exited", "unhealthy")]

    def vanished(self) -> bool:
        """Containers seen earlier are all gone: someone took the stack down."""
        return bool(self.seen) and all(st.state == "waiting" for st in self.states.values())


def http_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 2.0,
    limit: int | None = 4096,
) -> tuple[int, dict[str, str], str]:
    """One request with the standard library: (status, lower-cased headers, the body's first
    ``limit`` bytes as text; None: all of it). The probes of `up`, `status` and the doctor are
    single requests, and importing httpx would cost more than they do. Raises OSError when
    nothing answers."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        r = conn.getresponse()
        text = (r.read() if limit is None else r.read(limit)).decode("utf-8", "replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, text
    finally:
        conn.close()


def http_get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 2.0
) -> tuple[int, dict[str, str], str]:
    return http_request("GET", url, headers, timeout=timeout)


class HttpOk:
    """GET ``url`` answers 200."""

    def __init__(self, host: str, port: int, path: str, headers: Mapping[str, str]) -> None:
        self.host, self.port, self.path = host, port, path
        self.headers = dict(headers)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def check(self) -> Check:
        try:
            status, _headers, _body = http_get(self.url, self.headers)
        except OSError as exc:
            return Check(False, type(exc).__name__)
        return Check(status == 200, f"HTTP {status}")


#: An address no project has. GoTrue's answer to a password sign-in for it tells whether it can
#: query its database (400, "Invalid login credentials") or not (500, "Database error querying
#: schema"): its /health answers 200 either way.
PROBE_EMAIL = "devenv-health-probe@example.com"


class GoTrueSignIn:
    """What an app does with GoTrue works: a sign-in reaches its database (answered 400 for an
    unknown address, as hosted Supabase answers it; a 5xx means GoTrue cannot do its job)."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url.rstrip('/')}/token?grant_type=password"

    def check(self) -> Check:
        import json

        body = json.dumps({"email": PROBE_EMAIL, "password": "devenv-probe"}).encode()
        try:
            status, _headers, text = http_request(
                "POST", self.url, {"Content-Type": "application/json"}, body, timeout=2.0
            )
        except OSError as exc:
            return Check(False, type(exc).__name__)
        if status == 400:
            return Check(True, "HTTP 400 (sign-in reaches the database)")
        return Check(False, f"a sign-in answers HTTP {status}: {_message(text)}")


def _message(text: str) -> str:
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:120] or "no body"
    if isinstance(data, dict):
        for key in ("msg", "message", "error_description", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return text.strip()[:120]


def app_probes(
    services: Sequence[str],
    running: Sequence[str],
    ports: Mapping[str, int],
    anon_key: str | None,
    host: str = "127.0.0.1",
) -> dict[str, Check]:
    """Health that a user can trust, for the services whose container can answer while what
    stands behind it is gone: GoTrue (its database) and Kong (the GoTrue behind it). Probed from
    devenv's side, at the published port, as an app reaches them."""
    out: dict[str, Check] = {}
    if "gotrue" in running:
        out["gotrue"] = GoTrueSignIn(f"http://{host}:{ports['gotrue']}").check()
    if "kong" in running and "gotrue" in services and anon_key:
        gateway = HttpOk(host, ports["kong"], "/auth/v1/health", {"apikey": anon_key}).check()
        if not gateway.ready:
            gateway.detail = f"its /auth/v1 route (GoTrue behind it) answers {gateway.detail}"
        out["kong"] = gateway
    return out


def wait_containers(
    runner: Runner,
    services: Sequence[str],
    deadline: float,
    *,
    started: Started | None = None,
    on_progress: ProgressFn | None = None,
    taken_down: Callable[[], bool] | None = None,
    startup: dict[str, float] | None = None,
) -> None:
    """Wait until every service is healthy, while ``started`` (compose ``up --detach``) runs
    and after it ends. Raises HealthTimeout (with the failing services' last log lines) on an
    exited or unhealthy service or the deadline, ComposeError if compose itself failed, and
    StackTakenDown if the containers were removed under us (``taken_down`` says a `devenv down`
    began: its containers stop before they vanish, which must not read as a crash). ``startup``
    receives the startup times seen (see ContainersHealthy.startup)."""
    strategy = ContainersHealthy(runner, services)
    if startup is not None:
        strategy.startup = startup  # filled as the loop sees each service turn healthy
    t0 = time.monotonic()
    try:
        while True:
            interrupt.check()
            check = strategy.check()
            if taken_down is not None and taken_down():
                raise _taken_down(runner)
            if on_progress is not None:
                on_progress(strategy.states, time.monotonic() - t0)
            rc = started.poll() if started is not None else 0
            done = rc is not None
            if rc is not None and rc != 0:
                assert started is not None
                _raise_start_failure(runner, strategy, started, rc)
            if done and check.ready:
                return
            if done and strategy.vanished():
                raise _taken_down(runner)
            if done and strategy.failed():
                _raise_unhealthy(
                    runner,
                    strategy,
                    "failed to start",
                    "see the log lines below",
                    strategy.failed(),
                )
            if time.monotonic() > deadline:
                if started is not None:
                    started.stop()
                _raise_unhealthy(
                    runner,
                    strategy,
                    "did not become healthy within the deadline",
                    "see the log lines below, or `devenv doctor stack`; raise --timeout if the"
                    " machine is just slow",
                )
            if started is not None and not done:
                started.wait(POLL_S)
            else:
                time.sleep(POLL_S)
    except BaseException:
        if started is not None:
            started.stop()  # Ctrl-C: compose stops cleanly; the next `up` finishes the job
        raise


def _taken_down(runner: Runner) -> StackTakenDown:
    return StackTakenDown(
        f"the stack {runner.project!r} was taken down while `up` was waiting for it",
        "someone ran `devenv down`; run `devenv up` again to start it",
    )


def _raise_unhealthy(
    runner: Runner,
    strategy: ContainersHealthy,
    what: str,
    hint: str,
    only: Sequence[str] = (),
) -> None:
    states = strategy.states
    bad = list(only) or [n for n, st in states.items() if not strategy.ready_one(st)]
    bad = bad or strategy.services
    raise HealthTimeout(
        f"{', '.join(bad)} {what} ({', '.join(f'{n}: {states[n].state}' for n in bad)})",
        hint,
        logs=runner.logs_tail(bad),
    )


def _raise_start_failure(
    runner: Runner, strategy: ContainersHealthy, started: Started, rc: int
) -> None:
    strategy.poll()
    err = compose_error(["up", *strategy.services], started.argv, rc, started.stderr())
    bad = [n for n, st in strategy.states.items() if not strategy.ready_one(st)]
    if bad and any(strategy.states[n].state in ("exited", "unhealthy") for n in bad):
        raise HealthTimeout(
            f"{', '.join(bad)} failed to start"
            f" ({', '.join(f'{n}: {strategy.states[n].state}' for n in bad)}): {err.message}",
            "see the log lines below",
            logs=runner.logs_tail(bad),
        )
    raise err


def wait_http(
    check: HttpOk | GoTrueSignIn,
    deadline: float,
    *,
    logs_of: Sequence[str],
    runner: Runner,
    what: str = "the gateway",
) -> None:
    last = ""
    while True:
        interrupt.check()
        res = check.check()
        if res.ready:
            return
        last = res.detail
        if time.monotonic() > deadline:
            raise HealthTimeout(
                f"{what} did not answer {check.url} as it should in time (last: {last})",
                "see the log lines below, or run `devenv doctor reach`",
                logs=runner.logs_tail(logs_of),
            )
        time.sleep(POLL_S)
