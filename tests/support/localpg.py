"""A throw-away Postgres cluster run from the machine's own Postgres binaries, no Docker.

Test support (not shipped in the wheel): the db tests and bench/bench_db.py use it to exercise
migrations, seeds, resets and snapshots against a real server. Postgres refuses to run as root, so
under root the cluster belongs to the ``postgres`` system user (``runuser``). The server stops
itself when ``stop()`` is called or the owning Python process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from devenv.errors import DatabaseError
from devenv.stack.ports import free_port as free_port  # the tests take it from here too

_SEARCH = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/pgsql/bin")


def find_bindir() -> Path:
    """The directory holding initdb/pg_ctl: DEVENV_PG_BINDIR, Debian's layout, or PATH."""
    env = os.environ.get("DEVENV_PG_BINDIR")
    candidates = [Path(env)] if env else [Path(p) for p in _SEARCH]
    which = shutil.which("initdb")
    if which:
        candidates.append(Path(which).parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file():
            return c
    raise DatabaseError(
        "no local Postgres server binaries (initdb, pg_ctl) found",
        "install postgresql-15 (apt-get install postgresql-15) or set DEVENV_PG_BINDIR",
    )


@dataclass
class LocalCluster:
    """One running cluster: ``dsn(db)`` for superuser connections over loopback TCP."""

    root: Path
    port: int
    bindir: Path
    password: str = "postgres"
    run_as: str | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "sock"

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return (
            f"postgresql://{user}:{self.password}@127.0.0.1:{self.port}/{dbname}?connect_timeout=10"
        )

    def _run(self, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload, no-any-return]

    def start(self) -> None:
        proc = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1",
                "start",
            ]
        )
        if proc.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise DatabaseError(f"local Postgres did not start: {proc.stderr.strip()} {log}")
        self._stopped = False

    def stop(self, mode: str = "fast") -> None:
        if self._stopped:
            return
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])
        self._stopped = True

    def kill(self) -> None:
        """Stop the server the way a killed container does: no shutdown checkpoint."""
        self.stop("immediate")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def create(
    *,
    password: str = "postgres",
    settings: dict[str, str] | None = None,
    superuser: str = "postgres",
) -> LocalCluster:
    """initdb a new cluster in a fresh temp dir and start it on a free loopback port.
    ``superuser`` names initdb's superuser (Supabase's image: ``supabase_admin``)."""
    bindir = find_bindir()
    run_as: str | None = None
    root = Path(tempfile.mkdtemp(prefix="devenv-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        pw = pwd.getpwnam(run_as)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    cluster = LocalCluster(root=root, port=free_port(), bindir=bindir, password=password)
    cluster.run_as = run_as
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    (root / "sock").mkdir()
    if run_as:
        pw = pwd.getpwnam(run_as)
        for p in (pwfile, root / "sock"):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    proc = cluster._run(
        [
            str(bindir / "initdb"),
            "-D",
            str(cluster.datadir),
            "-U",
            superuser,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    pwfile.unlink()
    if proc.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise DatabaseError(f"initdb failed: {proc.stderr.strip()[-500:]}")
    conf = cluster.datadir / "postgresql.conf"
    extra = {"max_connections": "100", "log_min_messages": "warning", **(settings or {})}
    with conf.open("a") as f:
        for k, v in extra.items():
            f.write(f"{k} = '{v}'\n")
    cluster.start()
    atexit.register(cluster.destroy)
    return cluster


def run_bootstrap(cluster: LocalCluster, script: Path) -> None:
    """Run compose/postgres/bootstrap.sh (the stack's roles and auth schema) against ``cluster``."""
    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "PGPASSWORD": cluster.password,
        "POSTGRES_PASSWORD": cluster.password,
        "POSTGRES_USER": "postgres",
    }
    proc = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DatabaseError(f"bootstrap {script} failed: {proc.stderr.strip()[-800:]}")


def wait_ready(cluster: LocalCluster, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", cluster.port), 0.5),
        ):
            return
        time.sleep(0.05)
    raise DatabaseError(f"local Postgres on port {cluster.port} did not come back")
