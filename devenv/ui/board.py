"""What the page shows and does, as a library: one :class:`Board` per stack, plain methods that
return JSON-ready dicts. The web app (devenv.ui.web) only routes to it; tests and scripts can call
it directly.

Everything here is devenv's own library: the Stack handle (status, restart, down), the ``up`` use
case, devenv.mail, the Fireworks mock's control API (``/__devenv/journal``, ``/__devenv/faults``),
devenv.db (migrations, the data plan, snapshots, reset), the doctor's checks and the last ``up``'s
trace. Nothing secret leaves a method unless its name says so (:meth:`Board.reveal`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from devenv import services as svcs
from devenv.errors import DevenvError, StackError, UsageError

if TYPE_CHECKING:
    from devenv.mail import Mailbox
    from devenv.stack.handle import Stack
    from devenv.stack.secrets import Keys

#: What the service rows need from a container beyond devenv's ContainerState.
_PROBE_OUTPUT_CHARS = 200


class Board:
    """The page's view of one project's stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.cfg = stack.cfg
        self._mail: Mailbox | None = None
        self._mail_cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------
    # Services.

    def services(self) -> dict[str, Any]:
        """Every service of the project: state, health with the probe's last answer, published
        address, image, start time, and the .env names it gives (secrets masked)."""
        from devenv.stack.compose import COMPOSE_PROJECT, parse_inspect

        attrs = self.stack.engine.inspect_all({COMPOSE_PROJECT: self.cfg.name})
        containers = [parse_inspect(a) for a in attrs]
        by_service = {c.service: a for c, a in zip(containers, attrs, strict=True)}
        st = self.stack.status(containers=containers, probe=True)
        keys = st.keys
        rows = []
        for info in st.services:
            a = by_service.get(info.name, {})
            c = next((c for c in containers if c.service == info.name), None)
            started = c.started_at if c is not None and info.state == "running" else None
            probe, probe_at = _last_health_check(a)
            rows.append(
                {
                    "name": info.name,
                    "role": svcs.get(info.name).role if info.name in svcs.names() else "",
                    "state": info.state,
                    "health": info.health,
                    "why": info.why,
                    "probe": probe,
                    "probe_at": probe_at,
                    "level": _level(info.state, info.health, info.why),
                    "port": info.port,
                    "url": info.url,
                    "image": str((a.get("Config") or {}).get("Image") or ""),
                    "container": info.container,
                    "started_at": started,
                    "startup_s": None if info.startup_s is None else round(info.startup_s, 2),
                    "env": self._env_of(info.name, keys, reveal=False),
                }
            )
        return {
            "project": st.project,
            "root": str(st.root),
            "running": st.running,
            "api_url": st.api_url,
            "anon_key": keys.anon_key if keys else "",
            "services": rows,
            "at": time.time(),
        }

    def _env_of(self, service: str, keys: Keys | None, *, reveal: bool) -> dict[str, str]:
        if service not in svcs.names():
            return {}
        values = self.stack.env_for([service], keys)
        if reveal or keys is None:
            return values
        return {k: mask_secrets(v, keys) for k, v in values.items()}

    def reveal(self) -> dict[str, Any]:
        """The .env values of every running service with the secrets in them (what ``status -o
        env`` prints): only ever sent in answer to a request with the token."""
        values = self.stack.env_values()
        keys = self.stack.keys()
        return {
            "env": values,
            "keys": {
                "service_role_key": keys.service_role_key if keys else "",
                "jwt_secret": keys.jwt_secret if keys else "",
            },
        }

    # ------------------------------------------------------------------------------------------
    # The startup waterfall.

    def trace(self) -> dict[str, Any] | None:
        """The last ``up``'s spans (lane, phase, start, end), or None when there is none yet."""
        from devenv import trace

        found = trace.load(self.cfg.state_dir)
        if found is None:
            return None
        out = found.as_dict()
        out["lanes"] = found.lanes()
        return out

    def trace_stamp(self) -> float:
        """When the trace file last changed (0 if there is none): the page redraws on change."""
        from devenv import trace

        try:
            return (self.cfg.state_dir / trace.TRACE_FILE).stat().st_mtime
        except OSError:
            return 0.0

    # ------------------------------------------------------------------------------------------
    # Mail.

    def _mailbox(self) -> Mailbox:
        if self._mail is None:
            from devenv.mail import mailbox

            self._mail = mailbox(self.cfg, self.stack.env)
        return self._mail

    def mail_enabled(self) -> bool:
        return "mail" in self.cfg.services or bool(self.stack.env.mail_url)

    def mail_newest(self) -> str:
        """The newest message's id ("" when none): what the live feed compares."""
        found = self._mailbox().list(limit=1)
        return found[0].id if found else ""

    def mail(self, limit: int = 30) -> list[dict[str, Any]]:
        """The catcher's messages, newest first, each with its links and its auth link."""
        box = self._mailbox()
        out = []
        for m in box.list(limit=limit):
            with self._lock:
                cached = self._mail_cache.get(m.id)
            if cached is None:
                full = box.get(m.id)
                cached = {**m.as_dict(), "links": list(full.links), "auth_link": full.auth_link()}
                with self._lock:
                    self._mail_cache[m.id] = cached
            out.append(cached)
        return out

    # ------------------------------------------------------------------------------------------
    # The Fireworks mock's journal and faults (its control API).

    def _mock(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        import httpx

        if "fireworks" not in self.cfg.services:
            raise StackError(
                "the fireworks mock is not in this stack",
                'add "fireworks" to [project] services, then `devenv up`',
            )
        url = f"http://{self.stack.host}:{self.cfg.ports['fireworks']}{path}"
        try:
            r = httpx.request(method, url, json=body, timeout=5.0)
        except httpx.HTTPError as exc:
            raise StackError(
                f"cannot reach the fireworks mock at {url}: {type(exc).__name__}",
                "is the stack up? see `devenv status`",
            ) from None
        if r.status_code >= 400:
            try:
                detail = str(r.json().get("error", {}).get("message") or r.text[:200])
            except ValueError:
                detail = r.text[:200]
            raise UsageError(f"the fireworks mock refused {method} {path}: {detail}")
        return r.json()

    def journal_stamp(self) -> tuple[Any, ...]:
        """What changes when a request comes in, finishes, or the journal is cleared."""
        data = self._mock("GET", "/__devenv/journal?limit=1")
        last = (data.get("entries") or [{}])[-1]
        return (data.get("total"), data.get("count"), last.get("status"), last.get("duration_ms"))

    def journal(self, limit: int = 100) -> dict[str, Any]:
        """The newest ``limit`` requests, newest first: request, status, latency, stub, fault."""
        data = self._mock("GET", f"/__devenv/journal?limit={int(limit)}")
        entries = list(data.get("entries") or [])
        entries.sort(key=lambda e: e.get("seq", 0), reverse=True)
        return {"total": data.get("total", 0), "entries": entries}

    def faults(self) -> list[dict[str, Any]]:
        return list(self._mock("GET", "/__devenv/faults").get("rules") or [])

    def add_fault(self, plan: str, *, repeat: bool = False, path: str | None = None) -> Any:
        body: dict[str, Any] = {"plan": plan, "repeat": repeat}
        if path:
            body["path"] = path
        return self._mock("POST", "/__devenv/faults", body)

    def remove_fault(self, rule_id: int) -> Any:
        return self._mock("DELETE", f"/__devenv/faults/{int(rule_id)}")

    def clear_faults(self) -> Any:
        return self._mock("DELETE", "/__devenv/faults")

    # ------------------------------------------------------------------------------------------
    # Data: migrations, seed sets, snapshots.

    def data(self) -> dict[str, Any]:
        """Migrations applied and pending, seed sets and their state, snapshots."""
        from devenv.db import conn as dbconn
        from devenv.db import migrations, seed_files, snapshots
        from devenv.db.plan import DataPlan

        plan = DataPlan.from_config(self.cfg)
        dsn = self.stack.database_url()
        out: dict[str, Any] = {"default_seed": plan.default_seed}
        if plan.migrate_cmd:
            out["migrations"] = {"tool": " ".join(plan.migrate_cmd), "migrations": []}
        else:
            out["migrations"] = migrations.status(dsn, plan.migrations_dir).as_dict()
        names = list(dict.fromkeys([*seed_files.available_sets(plan.seeds_dir), *plan.seed_files]))
        recorded: dict[str, tuple[str, str, int, int]] = {}
        with dbconn.connect(dsn, app="devenv-ui") as conn:
            if dbconn.table_exists(conn, f"{dbconn.SCHEMA}.seed_sets"):
                for name, digest, loaded_at, rows, users in conn.execute(
                    "SELECT name, hash, loaded_at, rows, users FROM devenv.seed_sets"
                ).fetchall():
                    recorded[str(name)] = (str(digest), str(loaded_at), int(rows), int(users))  # type: ignore[call-overload]
        sets = []
        for name in names:
            rec = recorded.get(name)
            if rec is None:
                state = "not loaded"
            else:
                state = "loaded" if rec[0] == plan.set_hash(name) else "changed"
            sets.append(
                {
                    "name": name,
                    "state": state,
                    "default": name == plan.default_seed,
                    "where": plan.describe_set(name),
                    "loaded_at": rec[1] if rec else None,
                    "rows": rec[2] if rec else 0,
                    "users": rec[3] if rec else 0,
                }
            )
        out["seeds"] = sets
        out["snapshots"] = [s.as_dict() for s in snapshots.list_snapshots(dsn)]
        return out

    def snapshot_save(self, name: str) -> dict[str, Any]:
        from devenv.db import snapshots

        return snapshots.save(self.stack.database_url(), name).as_dict()

    def snapshot_restore(self, name: str) -> dict[str, Any]:
        from devenv.db import snapshots

        return snapshots.restore(self.stack.database_url(), name).as_dict()

    def snapshot_delete(self, name: str) -> dict[str, Any]:
        from devenv.db import snapshots

        return snapshots.delete(self.stack.database_url(), name).as_dict()

    def db_reset(self, *, seed: bool = True) -> dict[str, Any]:
        """``devenv db reset``: a clean database, migrations, the default seed set."""
        from devenv.db import auth as authmod
        from devenv.db import reset as reset_mod
        from devenv.db.plan import DataPlan

        plan = DataPlan.from_config(self.cfg)
        sets = [plan.default_seed] if seed else []
        auth = authmod.target_for(self.stack) if plan.needs_auth(sets) else None
        return reset_mod.reset(plan, self.stack.database_url(), sets, auth=auth).as_dict()

    # ------------------------------------------------------------------------------------------
    # The doctor.

    def doctor(self) -> dict[str, Any]:
        """Every check, as ``devenv doctor`` runs them, with its fix."""
        from devenv.doctor import catalog, core, render

        t0 = time.perf_counter()
        findings = core.run(catalog.select([]), core.Context(self.cfg.root))
        return {
            "summary": render.summary(findings, time.perf_counter() - t0),
            "findings": [f.as_dict() for f in findings],
        }

    # ------------------------------------------------------------------------------------------
    # Actions.

    def check_service(self, name: str) -> str:
        return self.cfg.check_services([name])[0]

    def restart(self, service: str) -> dict[str, Any]:
        st = self.stack.restart([self.check_service(service)])
        return {"restarted": service, "running": st.running}

    def up(self, on_note: Callable[[str], None] | None = None) -> dict[str, Any]:
        """``devenv up``: the containers healthy, then the data step."""
        from devenv.up import up as run_up

        outcome = run_up(self.stack, on_note=on_note)
        return {
            "elapsed_s": round(outcome.elapsed_s, 2),
            "summary": outcome.after.summary() if outcome.after else [],
            "warnings": outcome.after.warnings() if outcome.after else [],
        }

    def down(self) -> dict[str, Any]:
        removed = self.stack.down()
        return {"removed": removed}

    def close(self) -> None:
        if self._mail is not None:
            self._mail.close()


def mask_secrets(value: str, keys: Keys) -> str:
    """``value`` with every secret of the stack in it masked (the service_role key, the JWT
    secret, the database password, the Upstash token); the anon key is public and stays."""
    from devenv.stack.secrets import mask

    for secret in (
        keys.service_role_key,
        keys.jwt_secret,
        keys.postgres_password,
        keys.upstash_token,
    ):
        if secret and secret in value:
            value = value.replace(secret, mask(secret))
    return value


def _level(state: str, health: str, why: str) -> str:
    """ok (green), wait (amber: starting) or bad (red)."""
    if state == "running" and health in ("healthy", "") and not why:
        return "ok"
    if state in ("running", "restarting", "created") and health == "starting" and not why:
        return "wait"
    return "bad"


def _last_health_check(attrs: Mapping[str, Any]) -> tuple[str, str]:
    """The container healthcheck's last answer and when it ended."""
    log = ((attrs.get("State") or {}).get("Health") or {}).get("Log") or []
    if not log:
        return "", ""
    last = log[-1]
    text = " ".join(str(last.get("Output") or "").split())[:_PROBE_OUTPUT_CHARS]
    code = last.get("ExitCode")
    if code == 0:
        said = f"passed: {text}" if text else "passed"
    else:
        said = f"failed (exit {code}): {text}" if text else f"failed (exit {code})"
    return said, str(last.get("End") or "")


def error_line(exc: BaseException) -> str:
    """One line for the page: a DevenvError's own, else the type and text."""
    if isinstance(exc, DevenvError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"
