"""Ephemeral stacks for test suites and CI, started only through the Stack handle.

``ephemeral_stack()`` (and the pytest plugin on top of it) gives a throw-away stack: a unique
project name, free host ports, its keys in a private temporary folder (never the project's own
``.devenv/``, so a developer's `devenv up` stack and its keys are untouched), the project's
migrations applied and seed sets loaded, then a template database made once from the result.
Each test then gets its own database with ``CREATE DATABASE ... TEMPLATE`` (devenv.db.snapshots,
FILE_COPY strategy), dropped with ``DROP DATABASE ... WITH (FORCE)`` so connections a test left
open cannot block it. What the caller holds (TestStack, TestDatabase, FireworksScope, StackSpec)
is devenv.testing.handles; this module starts, reuses and stops stacks.

Cleaning up after a killed run is testcontainers' job where its reaper (Ryuk) can run: the
stack's compose project label is registered with Ryuk, which removes containers, network and
volumes once this process's connection to it is gone. Ryuk is an image from a registry; where it
is not present (an offline CI) or disabled (``TESTCONTAINERS_RYUK_DISABLED``), every start runs
``devenv gc`` first, which removes stacks whose owner process is gone. The Docker host comes from
testcontainers' detection too (``tc.host`` in ~/.testcontainers.properties, DOCKER_HOST, the
current docker context), so compose and the Docker SDK talk to the engine testcontainers would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import interrupt
from devenv import services as svcs
from devenv.errors import DatabaseError, DevenvError, Interrupted, PortInUse, StackError
from devenv.testing import kept
from devenv.testing.handles import StackSpec, TestStack, attach

if TYPE_CHECKING:
    from devenv.db.plan import DataPlan
    from devenv.stack.handle import Stack
    from devenv.stack.model import ProgressFn

#: Snapshot name of a session's template database (devenv_snap__pytest-<session>).
TEMPLATE_PREFIX = "pytest-"
#: The template a throw-away stack keeps in its cluster cache entry (devenv_snap__pytest-kept):
#: a session started from that entry clones its test databases from it at once.
KEPT_TEMPLATE = TEMPLATE_PREFIX + "kept"


class StackStartError(StackError):
    """The ephemeral stack could not be started or prepared; what it had started is removed."""


# ----------------------------------------------------------------------------------------------
# Starting and stopping.


def _testcontainers() -> None:
    """Fail with one line when the optional dependency is missing."""
    try:
        import testcontainers.core.config  # noqa: F401
    except ImportError:
        raise StackError(
            "ephemeral stacks need testcontainers",
            "pip install 'devenv-stack[testing]'",
        ) from None


def use_docker_host() -> str | None:
    """testcontainers' Docker host detection (tc.host, DOCKER_HOST, the docker context); the
    result is exported as DOCKER_HOST for compose and the Docker SDK, as testcontainers' own
    client does. Where ports are reached follows testcontainers too: its host override
    (TESTCONTAINERS_HOST_OVERRIDE, tc.host.override) becomes DEVENV_HOST unless that is set."""
    from testcontainers.core.config import testcontainers_config as tc
    from testcontainers.core.docker_client import get_docker_host

    host = get_docker_host()
    if host and not os.environ.get("DOCKER_HOST"):
        os.environ["DOCKER_HOST"] = host
    override = getattr(tc, "tc_host_override", None)
    if override and not os.environ.get("DEVENV_HOST"):
        os.environ["DEVENV_HOST"] = str(override)
    return host


def reaper_available() -> bool:
    """Whether testcontainers' reaper can run here: not disabled, and its image present (there
    may be no registry to pull it from)."""
    from testcontainers.core.config import testcontainers_config as tc

    from devenv.stack.engine import Engine

    if tc.ryuk_disabled:
        return False
    try:
        return Engine().has_image(tc.ryuk_image)
    except DevenvError:
        return False


def register_with_reaper(project_name: str) -> bool:
    """Ask Ryuk to remove everything of this compose project once our session ends. False if
    the reaper could not be started."""
    try:
        from testcontainers.core.container import Reaper

        from devenv.stack.compose import COMPOSE_PROJECT

        Reaper.get_instance()
        sock = Reaper._socket
        if sock is None:
            return False
        sock.send(f"label={COMPOSE_PROJECT}={project_name}\r\n".encode())
        return True
    except Exception:  # any failure to reach Ryuk means: fall back to gc
        return False


def start(
    project_root: Path | str = ".",
    *,
    services: Iterable[str] | None = None,
    extra_services: Iterable[str] = (),
    seed_sets: Sequence[str] = ("default",),
    migrations: str | None = None,
    seeds: str | None = None,
    reuse: bool = False,
    keep: bool = False,
    owner: str | None = None,
    timeout: float = 300.0,
    gc: bool = True,
    prefix: str = "devenv-eph",
    tmpfs: bool = True,
    on_progress: ProgressFn | None = None,
    on_gc: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> TestStack:
    """Start (or, with ``reuse``, attach to `devenv up`'s) stack, migrate, seed, make the
    template. The stack runs ``services`` (default: the project's own, as `devenv up` runs it:
    [project] services, or what a Supabase CLI project enables) plus ``extra_services``, and what
    they need. With ``keep``, the project's kept test stack (devenv.testing.kept) is used again
    when its inputs match, cleaned to a new stack's state, and :func:`stop` leaves it running.
    On any failure, Ctrl-C included, what was started is removed and the error is raised (a
    DevenvError as StackStartError, one line)."""
    root = Path(project_root).resolve()
    session = uuid.uuid4().hex[:8]
    if reuse:
        return _start_reused(root, session)
    _testcontainers()
    from devenv.stack.gc import EPHEMERAL_MARKER
    from devenv.stack.gc import collect as gc_collect

    use_docker_host()
    reaper = reaper_available()
    if gc and not reaper:
        # Only stacks named like ours: another tool's (or team's) prefix is theirs to collect.
        for o in gc_collect(prefix=f"{prefix}-").removed:
            if on_gc is not None:
                on_gc(o.project)

    stack: Stack | None = None
    claim: kept.Claim | None = None
    state: Path | None = None
    try:
        # The project's config, read once: its services and Postgres for the stack, its data
        # step for the template (a broken devenv.toml stops here, before anything starts).
        tables, plan, own = project_setup(root, migrations, seeds)
        base = list(own) if services is None else list(services)
        wanted = svcs.with_needs(list(dict.fromkeys([*base, *extra_services])))
        digest = plan.digest(list(seed_sets))
        if keep:
            claim = _claim_kept(root, wanted, seed_sets, digest, on_note)
        if claim is not None:
            state, name, owner = claim.state, claim.name, kept.owner()
        else:
            state = Path(tempfile.mkdtemp(prefix=f"devenv-eph-{session}-"))
            name = f"{prefix}-{session}"
        (state / EPHEMERAL_MARKER).write_text(f"{os.getpid()}\n", encoding="utf-8")
        overrides = [_tmpfs_override(state)] if tmpfs and "postgres" in wanted else []
        fingerprint, again = "", False
        saved: dict[str, int] | None = None  # the kept stack's ports, when it can be used
        # A Ctrl-C that Python swallows is raised again at the next poll (see interrupt).
        with interrupt.watching():
            for attempt in range(3):
                stack = _make(state, name, wanted, tables, owner, overrides)
                if claim is not None:
                    assert digest is not None  # _claim_kept claims none without it
                    fingerprint = kept.fingerprint(stack, digest, TEST_SETTINGS)
                    saved = claim.saved_ports(fingerprint) if attempt == 0 else None
                    if saved is None:
                        # Made from other inputs (or never kept): anew, nothing of it left.
                        claim.forget()
                        stack.down(volumes=True)
                    else:
                        stack = _make(state, name, wanted, tables, owner, overrides, saved)
                data_key = _data_key(stack, plan, seed_sets)
                if data_key:
                    # The migrated and seeded cluster of an earlier session with the same
                    # inputs, if the cache has it (tried before the bare cluster's entry).
                    stack.cluster_keys = (data_key,)
                if reaper and claim is None:
                    register_with_reaper(stack.cfg.name)
                try:
                    stack.up(timeout=timeout, on_progress=on_progress, on_note=on_note)
                    break
                except PortInUse:
                    # Another process took one of the free ports between our pick and compose's
                    # bind: nothing of ours holds it, so pick again.
                    stack.down(volumes=True)
                    if attempt == 2:
                        raise
            assert stack is not None
            template = ""
            kept_roles = claim.saved_roles() if claim is not None and saved else None
            if claim is not None and saved:
                # Cleaned whether or not `up` had to start a container again: a Postgres that
                # kept running holds what the last run wrote, whichever service died.
                again = _refresh_kept(stack, kept_roles)
                if again:
                    template = KEPT_TEMPLATE if "postgres" in wanted else ""
                else:
                    # Not cleanable as it is (half cleaned, perhaps): made anew, so nothing of
                    # the last run can reach this one's template.
                    claim.forget()
                    stack.down(volumes=True)
                    stack.up(timeout=timeout, on_progress=on_progress, on_note=on_note)
            if "fireworks" in wanted:
                # The project's stubs, through the mock's control API (nothing is mounted).
                from devenv import fireworks_stubs
                from devenv.stack.project import FIREWORKS_STUBS

                stubs = root / FIREWORKS_STUBS
                fireworks_stubs.push_to(stack, stubs if stubs.is_dir() else None)
            if "postgres" in wanted and not template:
                template = _prepare(stack, plan, seed_sets, session, data_key, claim is not None)
            if claim is not None:
                known = kept_roles if again else None
                if known is None and "postgres" in wanted:
                    known = kept.roles(stack)
                claim.save(fingerprint, stack.cfg.ports, known or [])
            spec = StackSpec(
                name=stack.cfg.name,
                root=str(state),
                project_root=str(root),
                services=wanted,
                ports={s: stack.cfg.ports[s] for s in wanted},
                owner=stack.owner,
                session=session,
                template=template,
                overrides=tuple(str(p) for p in overrides),
                kept=claim is not None,
            )
            ts = TestStack(stack, spec)
            ts.kept_again = again
            ts.kept_claim = claim
            return ts
    except BaseException as exc:
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.down(volumes=True)
        if claim is not None:
            claim.forget()
            claim.release()
        elif state is not None:
            shutil.rmtree(state, ignore_errors=True)
        if isinstance(exc, Interrupted):
            # The Python API's Ctrl-C is Python's own, wherever the wait noticed it.
            raise KeyboardInterrupt from exc
        if isinstance(exc, DevenvError) and not isinstance(exc, StackStartError):
            name = stack.cfg.name if stack is not None else f"{prefix}-{session}"
            raise StackStartError(
                f"the test stack {name} could not start (it was removed): {exc.message}",
                exc.hint,
            ) from exc
        raise


def _make(
    state: Path,
    name: str,
    services: tuple[str, ...],
    tables: dict[str, dict[str, Any]],
    owner: str | None,
    overrides: list[Path],
    ports: dict[str, int] | None = None,
) -> Stack:
    from devenv.stack.handle import Stack

    return Stack.ephemeral(
        state,
        name=name,
        services=services,
        owner=owner,
        overrides=overrides,
        ports=ports,
        db=tables["db"],
        images=tables["images"],
    )


def _claim_kept(
    root: Path,
    wanted: Sequence[str],
    seed_sets: Sequence[str],
    digest: str | None,
    on_note: Callable[[str], None] | None,
) -> kept.Claim | None:
    """This run's hold on the project's kept test stack; None (said in a note) when it cannot
    be kept or another run holds it: the run then gets a throw-away stack."""
    note = on_note or (lambda _text: None)
    if digest is None:
        note(
            "the test stack is not kept: the project's own migration tool ([db] migrate) hides"
            " what its data step reads, so a kept stack could not tell when it is stale"
        )
        return None
    name = kept.name_for(root, wanted, seed_sets)
    claim = kept.claim(name)
    if claim is None:
        note(f"the kept test stack {name} is in use by another run: this run's is thrown away")
    return claim


def _refresh_kept(stack: Stack, roles: Sequence[str] | None) -> bool:
    """Clean a kept stack that ran a previous session to a new stack's state; False when its
    template is not there or a service would not take the cleaning."""
    from devenv.db import snapshots

    try:
        postgres = "postgres" in stack.cfg.services
        if postgres and not snapshots.exists(stack.database_url(), KEPT_TEMPLATE):
            return False
        kept.refresh(stack, KEPT_TEMPLATE, roles)
    except DevenvError:
        return False
    return True


def project_setup(
    root: Path, migrations: str | None = None, seeds: str | None = None
) -> tuple[dict[str, dict[str, Any]], DataPlan, tuple[str, ...]]:
    """What the throw-away stacks of the project at ``root`` take over from its devenv.toml (or
    Supabase CLI settings), read once: the tables of its Postgres (an image devenv.toml names,
    [images] registry, [db] extensions and major_version), so tests run on the Postgres `devenv
    up` runs; its data step (devenv.db.plan: the migrations folder or its ``[db] migrate``
    tool, its seed sets or ``[db] seed_paths``), with ``migrations`` / ``seeds`` (relative to
    ``root``) in place of its folders when given; and its services. Paths are absolute: the
    stack's own config lives in a private folder. DEVENV_* settings apply to the stack as to
    `devenv up`, not here."""
    from devenv import config as config_mod
    from devenv import environ as environ_mod
    from devenv.db.plan import DataPlan

    cfg = config_mod.load(root, env=environ_mod.read({}))
    plan = DataPlan.from_config(cfg)
    if migrations:
        plan = replace(plan, migrations_dir=cfg.path(migrations))
    if seeds:
        plan = replace(plan, seeds_dir=cfg.path(seeds))
    images: dict[str, str] = {k: cfg.images[k] for k in cfg.images_set}
    if cfg.registry:
        images["registry"] = cfg.registry
    tables: dict[str, dict[str, Any]] = {
        "db": {
            "migrations": str(plan.migrations_dir),
            "seeds": str(plan.seeds_dir),
            "extensions": list(cfg.db.extensions),
            "major_version": cfg.db.major_version,
        },
        "images": images,
    }
    return tables, plan, cfg.services


def project_tables(
    root: Path, migrations: str | None = None, seeds: str | None = None
) -> dict[str, dict[str, Any]]:
    """The devenv.toml tables a throw-away stack of ``root`` takes (see :func:`project_setup`)."""
    return project_setup(root, migrations, seeds)[0]


def _tmpfs_override(state: Path) -> Path:
    """A compose override putting Postgres' data directory on a tmpfs: a throw-away stack
    needs no disk, and initdb, migrations, the template and every clone stay in memory (as
    pgtestdb recommends for its test servers). The bootstrap arrives as compose.yaml's config,
    as on every stack: nothing of the host is mounted."""
    path = state / "compose.tmpfs.yaml"
    path.write_text(
        "services:\n"
        "  postgres:\n"
        "    volumes: !reset []\n"
        "    tmpfs:\n"
        "      - /var/lib/postgresql/data\n",
        encoding="utf-8",
    )
    return path


def _data_key(stack: Stack, plan: DataPlan, seed_sets: Sequence[str]) -> str:
    """The cluster cache entry of this stack's cluster after its data step (and the test
    settings), or "" when its inputs cannot be known (the app's own migration tool)."""
    from devenv.stack import cluster_cache, project

    digest = plan.digest(list(seed_sets))
    if digest is None or not stack.env.cluster_cache:
        return ""
    settings = ",".join(f"{k}={v}" for k, v in TEST_SETTINGS.items())
    # What the entry holds besides the data step's result: the test settings, and the template
    # every test database is cloned from (KEPT_TEMPLATE).
    return cluster_cache.data_key(
        project.cluster_key(stack.cfg), f"{digest}\0{settings}\0{KEPT_TEMPLATE}"
    )


def _prepare(
    stack: Stack,
    plan: DataPlan,
    seed_sets: Sequence[str],
    session: str,
    data_key: str = "",
    keep: bool = False,
) -> str:
    """The project's data step once, as `devenv up` runs it (devenv.db.plan), then the template
    every test database is cloned from. A cluster from the cache's entry ``data_key`` (an
    earlier session's, same migrations, seeds, images) has both: the step finds nothing
    pending, and the template is there. Otherwise the template is made and the cluster kept
    under ``data_key``, template included."""
    from devenv.db import auth as authmod
    from devenv.db import plan as plan_mod
    from devenv.db import snapshots

    dsn = stack.database_url()
    cached = bool(data_key) and stack.cluster_from == data_key
    if not cached:
        _tune_for_tests(dsn)
    needs_auth = "gotrue" in stack.cfg.services and plan.needs_auth(seed_sets)
    try:
        done = plan_mod.run(
            plan, dsn, seed_sets, auth=authmod.target_for(stack) if needs_auth else None
        )
    except DatabaseError as exc:
        plan_mod.name_missing_service(
            exc,
            stack.cfg.services,
            'add "{service}" to the test stack: [project] services in devenv.toml (the'
            ' default), --devenv-services, or @pytest.mark.devenv(services=["{service}"])',
        )
        raise
    if not data_key:
        # A kept stack's template outlives the session, under the name the next one looks for.
        name = KEPT_TEMPLATE if keep else TEMPLATE_PREFIX + session
        if keep:
            with contextlib.suppress(DevenvError):
                snapshots.delete(dsn, name)
        snapshots.save(dsn, name)
        return name
    if cached and not done.changed_anything() and snapshots.exists(dsn, KEPT_TEMPLATE):
        return KEPT_TEMPLATE
    with contextlib.suppress(DevenvError):
        snapshots.delete(dsn, KEPT_TEMPLATE)  # from a cached cluster the step then changed
    snapshots.save(dsn, KEPT_TEMPLATE)
    if not cached:
        stack.keep_cluster(data_key)
    return KEPT_TEMPLATE


#: A throw-away server needs no durability. As pgtestdb recommends for its test servers: without
#: fsync, a FILE_COPY clone's two checkpoints and its file copy stay in the page cache, and a
#: database per test takes milliseconds instead of hundreds of them (bench/bench_testing.py).
#: All three are reloadable settings, so the stack's compose file stays the one `devenv up`
#: runs; ALTER SYSTEM writes them into the stack's own (throw-away) data volume. Never applied
#: to a reused `devenv up` stack.
TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


def _tune_for_tests(dsn: str) -> None:
    from psycopg import sql

    from devenv.db import conn as dbconn

    with dbconn.connect(dsn) as conn:
        for key, value in TEST_SETTINGS.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(key), sql.Literal(value))
            )
        conn.execute("SELECT pg_reload_conf()")


def _start_reused(root: Path, session: str) -> TestStack:
    """`--devenv-reuse`: the project's running `devenv up` stack, as it is (migrated and seeded
    by `up`); only the template is made, and removed again by :func:`stop`."""
    from devenv.db import snapshots
    from devenv.stack.handle import Stack

    stack = Stack.load(root)
    running = stack.status().running_services
    if "postgres" not in running:
        raise StackStartError(
            f"--devenv-reuse: the stack {stack.cfg.name!r} of {root} is not running",
            "start it with `devenv up`, or drop --devenv-reuse",
        )
    name = TEMPLATE_PREFIX + session
    snapshots.save(stack.database_url(), name)
    spec = StackSpec(
        name=stack.cfg.name,
        root=str(root),
        project_root=str(root),
        services=tuple(running),
        ports={s: stack.cfg.ports[s] for s in running},
        owner="",
        session=session,
        template=name,
        reused=True,
    )
    return TestStack(stack, spec)


def stop(ts: TestStack | StackSpec) -> None:
    """Remove an ephemeral stack (containers, network, volumes, its private folder); for a
    reused one, only the session's template; a kept one stays as it is (the next session
    cleans it), only this process' hold on it ends."""
    spec = ts.spec if isinstance(ts, TestStack) else ts
    if isinstance(ts, TestStack):
        ts.close()
        if ts.kept_claim is not None:
            ts.kept_claim.release()
    if spec.kept:
        return
    stack = ts.stack if isinstance(ts, TestStack) else attach(spec)
    if spec.reused:
        from devenv.db import snapshots

        with contextlib.suppress(DevenvError):
            snapshots.delete(stack.database_url(), spec.template)
        return
    try:
        stack.down(volumes=True)
    finally:
        shutil.rmtree(spec.root, ignore_errors=True)


@contextlib.contextmanager
def ephemeral_stack(
    project_root: Path | str = ".",
    *,
    services: Iterable[str] | None = None,
    seed_sets: Sequence[str] = ("default",),
    migrations: str | None = None,
    seeds: str | None = None,
    reuse: bool = False,
    keep: bool = False,
    timeout: float = 300.0,
    gc: bool = True,
    prefix: str = "devenv-eph",
    on_progress: ProgressFn | None = None,
) -> Iterator[TestStack]:
    """``with ephemeral_stack("path/to/app") as st:`` — a started, migrated and seeded
    throw-away stack of the project's own services (``services=[...]`` names others), removed on
    exit (Ctrl-C included); with ``keep``, the project's kept stack, left running on exit."""
    ts = start(
        project_root,
        services=services,
        seed_sets=seed_sets,
        migrations=migrations,
        seeds=seeds,
        reuse=reuse,
        keep=keep,
        timeout=timeout,
        gc=gc,
        prefix=prefix,
        on_progress=on_progress,
    )
    try:
        yield ts
    finally:
        stop(ts)
