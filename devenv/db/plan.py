"""The data step: what devenv does to a project's database once its Postgres answers.

One plan, made once from the config (:meth:`DataPlan.from_config`): the migrations folder or the
app's own ``[db] migrate`` tool, the seed sets folder or ``[db] seed_paths``, the default set,
and whether a set has auth users (then GoTrue must be reached). One executor, :func:`run`:
migrate, then load the sets, on one connection holding devenv's lock. ``devenv up``, the db
commands (``seed``, ``db reset``), the test stacks and the doctor all take the plan, so they
cannot disagree about what a project's data step is.

A seed set whose files changed since it was loaded is reported, not reloaded and not an error
here: ``up`` must not fail because someone edited a seed file (``devenv seed --force`` or
``devenv db reset`` reloads it).
"""

from __future__ import annotations

# The runner, the seed loader and the tool wrapper are imported where they run: they import
# psycopg (0.1-0.3 s), and a second `devenv up` asks this module only which files the data step
# reads. Reading seed sets (devenv.db.seed_files) imports nothing heavy.
import contextlib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import services as svcs
from devenv.db import seed_files as seedfiles
from devenv.errors import DatabaseError
from devenv.trace import Trace

if TYPE_CHECKING:
    from devenv.config import Config
    from devenv.db import migrations, seeds, tool
    from devenv.db.auth import AuthTarget


@dataclass(frozen=True)
class DataPlan:
    #: The project's root: where ``[db] migrate`` runs.
    root: Path
    migrations_dir: Path
    #: The app's own migration tool (argv, run from ``root`` with DATABASE_URL), or () for
    #: devenv's SQL runner over ``migrations_dir``.
    migrate_cmd: tuple[str, ...]
    seeds_dir: Path
    default_seed: str
    #: Sets given as files (``[db] seed_paths``) rather than folders: {set: files}.
    seed_files: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Config) -> DataPlan:
        return cls(
            root=cfg.root,
            migrations_dir=cfg.path(cfg.db.migrations),
            migrate_cmd=tuple(cfg.db.migrate),
            seeds_dir=cfg.path(cfg.db.seeds),
            default_seed=cfg.db.default_seed,
            seed_files={k: tuple(v) for k, v in cfg.seed_files().items()},
        )

    @classmethod
    def at(
        cls,
        migrations_dir: Path,
        seeds_dir: Path,
        *,
        migrate_cmd: Sequence[str] = (),
        root: Path | None = None,
        default_seed: str = "default",
        seed_files: Mapping[str, Sequence[Path]] | None = None,
    ) -> DataPlan:
        """A plan from paths alone (the library's callers and tests; projects use
        :meth:`from_config`)."""
        return cls(
            root=root or migrations_dir.parent,
            migrations_dir=migrations_dir,
            migrate_cmd=tuple(migrate_cmd),
            seeds_dir=seeds_dir,
            default_seed=default_seed,
            seed_files={k: tuple(v) for k, v in (seed_files or {}).items()},
        )

    # -- seed sets -------------------------------------------------------------------------

    def has_set(self, name: str) -> bool:
        return seedfiles.set_exists(self.seeds_dir, name, self.seed_files)

    def set_paths(self, name: str) -> list[Path]:
        """The files of one set, in load order (none if it does not exist; ``[db] seed_paths``
        as listed, whether each exists or not)."""
        if name in self.seed_files:
            return list(self.seed_files[name])
        directory = self.seeds_dir / name
        return seedfiles.set_files(directory) if directory.is_dir() else []

    def set_hash(self, name: str) -> str:
        """What ``devenv seed`` records for the set: its files' content hash (no parsing)."""
        paths = self.set_paths(name)
        directory = paths[0].parent if name in self.seed_files and paths else self.seeds_dir / name
        return seedfiles.set_hash(directory, [p for p in paths if p.is_file()])

    def describe_set(self, name: str) -> str:
        """Where a set comes from, for messages: ``seeds/default/`` or the seed_paths files."""
        if name in self.seed_files:
            return ", ".join(self._shown(p) for p in self.seed_files[name]) or "[db] seed_paths"
        return f"{self._shown(self.seeds_dir)}/{name}/"

    def _shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def read_sets(self, names: Sequence[str]) -> list[seedfiles.SeedSet]:
        """Read and check the named sets that exist (no database needed), in order."""
        present = [s for s in dict.fromkeys(names) if s and self.has_set(s)]
        return [seedfiles.read_set(self.seeds_dir, s, self.seed_files) for s in present]

    def needs_auth(self, names: Sequence[str]) -> bool:
        """Whether one of the sets seeds auth users (then GoTrue's admin API is needed): the
        seeder's own rule, on file names only."""
        return any(seedfiles.is_users_file(p) for s in names for p in self.set_paths(s))

    # -- what the outcome depends on -------------------------------------------------------

    def input_files(self) -> Iterator[Path]:
        """Every migration and seed file the data step reads (for change detection)."""
        for base in (self.migrations_dir, self.seeds_dir):
            if base.is_dir():
                yield from (f for f in sorted(base.rglob("*")) if f.is_file())
        for files in self.seed_files.values():
            yield from (p for p in files if p.is_file())

    def digest(self, sets: Sequence[str]) -> str | None:
        """A hash of what the data step's outcome depends on: every migration and seed file
        (its path in the project and its bytes) and the sets loaded, in order. None when the
        app's own migration tool runs: what it reads is not devenv's to know."""
        if self.migrate_cmd:
            return None
        import hashlib  # here: OpenSSL's load is a cost a second `devenv up` need not pay

        h = hashlib.sha256(b"devenv data step 1\0")
        for name in sets:
            h.update(f"set {name}\0".encode())
        for f in self.input_files():
            h.update(f"file {self._shown(f)}\0".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
        return h.hexdigest()

    def check_files(self) -> None:
        """Fail on a migration that cannot even be split, before anything is changed."""
        from devenv.db import migrations

        if not self.migrate_cmd:
            for f in migrations.discover(self.migrations_dir):
                migrations.statements(f)


@dataclass
class DataResult:
    migrate: migrations.MigrateResult | tool.ToolResult
    seed: seeds.SeedResult | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "migrate": self.migrate.as_dict(),
            "seed": self.seed.as_dict() if self.seed else None,
        }

    def changed_anything(self) -> bool:
        """Whether the step applied a migration, ran the app's tool, or loaded a seed set."""
        from devenv.db import migrations

        if not isinstance(self.migrate, migrations.MigrateResult) or self.migrate.applied:
            return True
        return self.seed is not None and any(s.status != "unchanged" for s in self.seed.sets)

    def warnings(self) -> list[str]:
        if self.seed is None:
            return []
        return [
            f"seed set {s.name!r} changed since it was loaded; reload it with"
            f" `devenv seed {s.name} --force` or `devenv db reset`"
            for s in self.seed.changed
        ]


def name_missing_service(exc: DatabaseError, services: Collection[str], how: str) -> None:
    """A migration or seed that fails on another service's schema (``auth.uid()``, ``auth.users``:
    GoTrue's) because the stack lacks that service says which service, and ``how`` to add it."""
    for s in svcs.all_services():
        if s.name in services:
            continue
        for schema in s.schemas:
            if re.search(rf'\b{schema}\.\w|schema "{schema}"', exc.message):
                exc.message += f" ({schema} is {s.name}'s schema, and this stack has no {s.name})"
                exc.hint = how.format(service=s.name)
                exc.args = (exc.message,)
                return


def migrate(plan: DataPlan, conn: Any, dsn: str) -> migrations.MigrateResult | tool.ToolResult:
    """Apply what is pending: devenv's runner, or the app's tool (devenv's lock is held
    meanwhile, so two `up`s never run the tool at once)."""
    from devenv.db import migrations, tool

    if plan.migrate_cmd:
        return tool.run(plan.migrate_cmd, dsn, plan.root)
    return migrations.apply_pending(conn, plan.migrations_dir)


def run(
    plan: DataPlan,
    dsn: str,
    sets: Sequence[str],
    *,
    auth: AuthTarget | None = None,
    trace: Trace | None = None,
) -> DataResult:
    """Apply pending migrations, then load ``sets`` (those that exist) — one connection, one hold
    of devenv's lock. A project without the default set seeds nothing. ``trace`` receives the
    spans of lane ``data`` (connect, migrations, seed) for the startup waterfall."""
    from devenv.db import conn as dbconn
    from devenv.db import seeds

    tr = trace or Trace()
    parsed = plan.read_sets(sets)  # a broken seed file fails before the database is touched
    with tr.span("data", "connect"):
        conn = dbconn.connect(dsn)
    with _connection_kept(dsn), conn, dbconn.locked(conn):
        with tr.span("data", "migrations"):
            mig = migrate(plan, conn, dsn)
        seeded = None
        if parsed:
            with tr.span("data", "seed " + ", ".join(s.name for s in parsed)):
                seeded = seeds.load_sets(conn, parsed, auth=auth)
    return DataResult(mig, seeded)


@contextlib.contextmanager
def _connection_kept(dsn: str) -> Iterator[None]:
    """The server going away mid-step (a `devenv down`, a killed container) is one line, not
    psycopg's traceback; errors the step itself reports (a failing migration) pass as they are."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        from devenv.db.conn import first_line

        raise DatabaseError(
            f"the connection to the stack's Postgres was lost during the data step:"
            f" {first_line(str(exc))}",
            "run the same command again once Postgres runs (`devenv up` starts it)",
        ) from None


def seed(
    plan: DataPlan,
    dsn: str,
    sets: Sequence[str],
    *,
    force: bool = False,
    auth: AuthTarget | None = None,
) -> seeds.SeedResult:
    """Load ``sets`` alone (``devenv seed``): each whole or not at all; ``force`` reloads."""
    from devenv.db import seeds

    return seeds.seed(
        dsn, plan.seeds_dir, list(sets), force=force, auth=auth, files=plan.seed_files
    )
