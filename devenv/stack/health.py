"""Wait strategies, as testcontainers has them: small objects that say whether something is ready
yet, and one loop that polls them against a deadline.

- :class:`ServicesReady`: every service's container runs and devenv's own probe of it answers
  (devenv.stack.probes), at the address where the engine publishes it.
- :class:`HttpOk`: a GET answers 200 (the gateway, through Kong, with the anon key).
- :class:`GoTrueSignIn`: a sign-in reaches GoTrue's database.

The readiness loop polls every 20 ms at first, backing off to 0.1 s: compose's own ``--wait``
ticks every 0.5 s and a healthcheck every 1 s, which is most of a warm start spent waiting for
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from devenv import interrupt
from devenv import services as svcs
from devenv.errors import HealthTimeout, StackError
from devenv.stack.compose import ContainerState, Runner, Started, compose_error
from devenv.stack.model import ProgressFn, ServiceState
from devenv.stack.probes import Check, Probe
from devenv.stack.probes import http_get as http_get  # re-exported: the doctor's GETs
from devenv.stack.probes import http_request as http_request
from devenv.stack.project import LABEL_CONFIG

if TYPE_CHECKING:
    from devenv.trace import Trace

POLL_S = 0.1
#: The readiness loop starts polling this often and backs off to MAX_POLL_S: a service that
#: answers 0.3 s after its start is seen within a few tens of ms.
FIRST_POLL_S = 0.02
MAX_POLL_S = 0.1


class StackTakenDown(StackError):
    """The containers ``up`` was waiting for were removed (a `devenv down` elsewhere)."""


class ServicesReady:
    """Every service's container runs and devenv's own probe of it says ready (devenv.stack.probes;
    the engine's healthcheck is not consulted: it ticks once a second, and Podman without systemd
    runs none). Probes run in threads, one in flight per service, so a slow one delays no other.
    A container is probed only once it carries the configuration being started (its config label),
    so an old container about to be recreated never counts as ready."""

    def __init__(
        self,
        runner: Runner,
        services: Sequence[str],
        probes: Mapping[str, Probe],
        trace: Trace | None = None,
    ) -> None:
        self.runner = runner
        self.services = list(services)
        self.probes = probes
        self.trace = trace
        self.seen: set[str] = set()
        self.states: dict[str, ServiceState] = {s: ServiceState(s) for s in self.services}
        #: Startup seconds per container start ("<id>@<started_at>"): from its start to the
        #: probe that found it ready.
        self.startup: dict[str, float] = {}
        self.ready: set[str] = set()
        #: Services whose `compose up` finished: an exited container there is a failure.
        self.launched: set[str] = set()
        self._launch_t: dict[str, float] = {}
        self._answered_t: dict[str, float] = {}
        #: Per service found ready: its container's id, the trace's time and the wall clock.
        self._ready_at: dict[str, tuple[str, float, float]] = {}
        self._inflight: dict[str, Future[Check]] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.services)))
        self._digest = runner.env.get("DEVENV_CONFIG_HASH", "")
        self._began_wall = time.time()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def note_launch(self, services: Sequence[str]) -> None:
        t = self.trace.now() if self.trace is not None else 0.0
        for s in services:
            self._launch_t.setdefault(s, t)

    def poll(self) -> dict[str, ServiceState]:
        # The list, not inspect: inspecting a container waits while the engine starts it, and
        # the other services' starts would hold up the probe of one that is ready.
        containers = {c.service: c for c in self.runner.listed() if c.service in self.states}
        for name, st in self.states.items():
            c = containers.get(name)
            if c is None:
                st.state, st.container = "waiting", ""
                self.ready.discard(name)
                continue
            self.seen.add(name)
            st.container, st.health, st.exit_code = c.name, c.health, c.exit_code
            if c.state != "running":
                self.ready.discard(name)
                st.state = "exited" if c.state in ("exited", "dead") else c.state
                continue
            current = not self._digest or c.labels.get(LABEL_CONFIG, "") == self._digest
            if name in self.ready or not current:
                st.state = "healthy" if name in self.ready else "starting"
                continue
            st.state = "starting"
            self._probe(name, c)
            if name in self.ready:
                st.state = "healthy"
        return self.states

    def _probe(self, name: str, c: ContainerState) -> None:
        fut = self._inflight.get(name)
        if fut is None:
            self._inflight[name] = self._pool.submit(self.probes[name].check)
            return
        if not fut.done():
            return
        del self._inflight[name]
        res = fut.result()
        st = self.states[name]
        st.health = res.detail
        now = self.trace.now() if self.trace is not None else 0.0
        if res.answered:
            self._answered_t.setdefault(name, now)
        if not res.ready:
            self._inflight[name] = self._pool.submit(self.probes[name].check)
            return
        self.ready.add(name)
        self._ready_at.setdefault(name, (c.id, now, time.time()))

    def finish(self, containers: Sequence[ContainerState]) -> None:
        """Once every service is ready: the startup times and the waterfall's spans, from the
        containers' inspect data (their start times, which the list lacks)."""
        by_service = {c.service: c for c in containers}
        for name, (cid, ready_t, ready_wall) in self._ready_at.items():
            c = by_service.get(name)
            if c is None or c.id != cid:
                continue  # replaced since: its start is not the one this wait saw
            if c.started_at is not None and c.started_at >= self._began_wall - 1.0:
                # Only a start this wait saw: a container up for an hour is not an hour's
                # startup.
                self.startup.setdefault(
                    f"{c.id}@{c.started_at}", max(0.0, ready_wall - c.started_at)
                )
            self._record(name, c, ready_t)

    def _record(self, name: str, c: ContainerState, ready_t: float) -> None:
        """The service's spans in the startup waterfall: create and start (when this `up` made
        and started its container), first answer, ready."""
        tr = self.trace
        if tr is None:
            return
        launched = self._launch_t.get(name)

        def rel(wall: float | None) -> float | None:
            return None if wall is None else wall - tr.began

        created, started = rel(c.created_at), rel(c.started_at)
        begin = launched if launched is not None else 0.0
        if launched is not None and created is not None and created >= begin - 0.05:
            tr.add(name, "create", begin, max(begin, created))
            begin = max(begin, created)
        if launched is not None and started is not None and started >= begin - 0.05:
            tr.add(name, "start", begin, max(begin, started))
            begin = max(begin, started)
        answered = min(self._answered_t.get(name, ready_t), ready_t)
        tr.add(name, "answer", begin, max(begin, answered))
        tr.add(name, "ready", max(begin, answered), max(begin, ready_t))

    def all_ready(self) -> bool:
        return all(s in self.ready for s in self.services)

    def ready_one(self, st: ServiceState) -> bool:
        return st.name in self.ready

    def check(self) -> Check:
        self.poll()
        bad = [n for n in self.services if n not in self.ready]
        return Check(not bad, ", ".join(f"{n}: {self.states[n].state}" for n in bad))

    def failed(self) -> list[str]:
        return [
            n
            for n, st in self.states.items()
            if n in self.launched and st.state in ("exited", "dead")
        ]

    def vanished(self) -> bool:
        """Containers seen earlier are all gone: someone took the stack down."""
        return bool(self.seen) and all(st.state == "waiting" for st in self.states.values())


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


def wait_ready(
    runner: Runner,
    services: Sequence[str],
    probes: Mapping[str, Probe],
    deadline: float,
    *,
    launch: Callable[[list[str]], Started] | None = None,
    on_progress: ProgressFn | None = None,
    taken_down: Callable[[], bool] | None = None,
    startup: dict[str, float] | None = None,
    trace: Trace | None = None,
) -> list[ContainerState]:
    """Wait until every service answers its probe; return the containers then (inspected).
    With ``launch`` (``compose up --detach --no-deps`` of some services), start them as they can:
    a service the moment every service it needs (the table's ``needs``) answers, not after a
    healthcheck tick; the first compose alone, since two would race to make the network.
    Without it, the services are already starting (``restart``).

    Raises HealthTimeout (with the failing services' last log lines) on an exited service or the
    deadline, ComposeError if compose itself failed, and StackTakenDown if the containers were
    removed under us (``taken_down`` says a `devenv down` began: its containers stop before they
    vanish, which must not read as a crash). ``startup`` receives the startup times seen;
    ``trace`` the services' phases."""
    strategy = ServicesReady(runner, services, probes, trace)
    if startup is not None:
        strategy.startup = startup  # filled as each service is found ready
    wanted = set(services)
    pending = list(services) if launch is not None else []
    if launch is None:
        strategy.launched.update(services)
    # compose runs in flight, each with its wave. The first runs alone (it makes the network
    # and volumes, which two would race to make); after it, a wave starts the moment its needs
    # answer, beside any still starting.
    running: list[tuple[Started, list[str]]] = []
    first_done = False
    t0 = time.monotonic()
    pause = FIRST_POLL_S
    try:
        while True:
            interrupt.check()
            for proc, done in list(running):
                rc = proc.poll()
                if rc is None:
                    continue
                if rc != 0:
                    _raise_start_failure(runner, strategy, proc, rc)
                strategy.launched.update(done)
                running.remove((proc, done))
                first_done = True
            if launch is not None and pending and (first_done or not running):
                wave = [
                    s
                    for s in pending
                    if all(n in strategy.ready or n not in wanted for n in svcs.get(s).needs)
                ]
                if wave and not first_done:
                    wave = _critical_first(wave, wanted)
                if wave:
                    strategy.note_launch(wave)
                    running.append((launch(wave), wave))
                    pending = [s for s in pending if s not in wave]
                    pause = FIRST_POLL_S
            strategy.poll()
            if taken_down is not None and taken_down():
                raise taken_down_error(runner)
            if on_progress is not None:
                on_progress(strategy.states, time.monotonic() - t0)
            if not running and not pending and strategy.all_ready():
                after = runner.ps()
                strategy.finish(after)
                return after
            if not running and strategy.vanished():
                raise taken_down_error(runner)
            if strategy.failed():
                _raise_unhealthy(
                    runner,
                    strategy,
                    "failed to start",
                    "see the log lines below",
                    strategy.failed(),
                )
            if time.monotonic() > deadline:
                for proc, _ in running:
                    proc.stop()
                _raise_unhealthy(
                    runner,
                    strategy,
                    "did not become ready within the deadline",
                    "see the log lines below, or `devenv doctor stack`; raise --timeout if the"
                    " machine is just slow",
                )
            busy = next((proc for proc, _ in running if proc.poll() is None), None)
            if busy is not None:
                busy.wait(pause)
            else:
                time.sleep(pause)
            pause = min(MAX_POLL_S, pause * 1.5)
    except BaseException:
        for proc, _ in running:
            proc.stop()  # Ctrl-C: compose stops cleanly; the next `up` finishes the job
        raise
    finally:
        strategy.close()


def _critical_first(wave: list[str], wanted: set[str]) -> list[str]:
    """Of the first wave, the services another wanted service needs (Postgres for GoTrue), when
    there are any: started alone, they get the engine's whole attention (six containers starting
    at once take three times as long each on two cores), and what waits on them starts sooner.
    The rest of the wave follows as soon as compose returns."""
    needed = {n for s in wanted for n in svcs.get(s).needs}
    critical = [s for s in wave if s in needed]
    return critical or wave


def taken_down_error(runner: Runner) -> StackTakenDown:
    return StackTakenDown(
        f"the stack {runner.project!r} was taken down while `up` was waiting for it",
        "someone ran `devenv down`; run `devenv up` again to start it",
    )


def _raise_unhealthy(
    runner: Runner,
    strategy: ServicesReady,
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
    runner: Runner, strategy: ServicesReady, started: Started, rc: int
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
