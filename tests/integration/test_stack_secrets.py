"""No secret in any process's command line or in a readable file (real engine).

Container processes are host processes: any local user sees their argv with `ps`. So while
devenv starts a stack (initdb and the bootstrap included), resets the database, seeds and writes
.env, every process's command line on the machine is sampled, and none may hold the Postgres
password, the JWT secret or the service_role key.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.engine


class CmdlineSampler:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                cmd = proc.info.get("cmdline")
                if cmd:
                    self.seen.add(" ".join(cmd))
            self._stop.wait(0.005)

    def __enter__(self) -> CmdlineSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_no_secret_in_any_command_line_or_readable_file(project_factory: Any) -> None:
    p: Project = project_factory(["postgres", "kong", "redis"])
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "001_t.sql").write_text("create table t (id int primary key);\n")
    (p.root / "seeds" / "default").mkdir(parents=True)
    (p.root / "seeds" / "default" / "01_t.csv").write_text("id\n1\n2\n")
    (p.root / ".env.schema").write_text(
        "# @defaultRequired=false\n# ---\n# @sensitive\nDATABASE_URL=\n# @sensitive\n"
        "SUPABASE_SERVICE_ROLE_KEY=\n"
    )
    with CmdlineSampler() as sampler:
        for args in (("up",), ("db", "reset"), ("seed", "--force"), ("env", "init")):
            proc = p.cli(*args)
            assert proc.returncode == 0, (args, proc.stderr)
    keys = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    assert len(sampler.seen) > 20, "the sampler saw the processes"
    for name in ("postgres_password", "jwt_secret", "service_role_key"):
        leaks = [c.replace(keys[name], "<" + name + ">") for c in sampler.seen if keys[name] in c]
        assert not leaks, f"{name} in a command line: {leaks[0][:100]}"

    # On disk: the keys only in .devenv/ (0700) as 0600 files; no gateway config file at all.
    state = p.root / ".devenv"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert not (state / "kong.yml").exists()
    for f in state.iterdir():
        if f.is_file() and f.name != ".gitignore":
            mode = stat.S_IMODE(f.stat().st_mode)
            assert mode & 0o077 == 0 or keys["service_role_key"] not in _text(f), f
    # Kong reads its config from its environment: no bind mount of a key file.
    kong = next(c for c in p.containers() if c.service == "kong")
    mounts = p.stack.engine.client.containers.get(kong.name).attrs.get("Mounts") or []
    assert not [m for m in mounts if m.get("Type") == "bind"], mounts


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
