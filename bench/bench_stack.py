"""Stack speed against its baseline, in one run: `devenv up` vs `docker compose up -d --wait`
on the same compose project and engine, measured alternately; optionally the same on a second
(remote) engine, so the remote figures stand beside the local ones of the same run.

Targets (issues: readiness decided by devenv; any Docker engine):
  warm `devenv up` (images present, containers removed, volumes kept) <= 0.5x
  `docker compose up -d --wait`; cold `devenv up` (no volumes) <= 2.5 s; a second `devenv up`
  on a running stack < 0.2 s; `devenv --help` median < 0.1 s; on a remote engine, the same rows
  with their ratio to the local engine's. The cold start and the test stack's start also run
  with DEVENV_CLUSTER_CACHE=off (initdb, GoTrue's migrations, the data step in full) as their
  baseline; with the cache they start from the cluster an earlier start kept.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_stack.py [--rounds N]
      [--remote tcp://127.0.0.2:2375 --remote-ports 54300]`
(`--remote` takes any DOCKER_HOST whose engine has the stack's images; its published ports are
reached at its host, and the project takes --remote-ports and the seven after it there.)
Both variants start from the same state and run against the same project, so the ratio isolates
what devenv changes: readiness from its own probes (every 20 ms) and dependency starts in waves,
against compose's healthcheck ticks (1 s before, 5 s now that devenv does not wait on them: the
baseline runs the same compose.yaml devenv runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from devenv import environ
from devenv import services as svcs
from devenv.stack import ports
from devenv.stack.handle import Stack

#: The cluster cache's baseline: every first start runs initdb (devenv.stack.cluster_cache).
NO_CACHE = {"DEVENV_CLUSTER_CACHE": "off"}


def sh(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    full = {**os.environ, **(env or {})}
    # Timed as an installed devenv runs: with its bytecode cached (a CI shell may turn it off).
    full.pop("PYTHONDONTWRITEBYTECODE", None)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv[:4])}... failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def row(name: str, values: list[float], base: float | None = None, target: str = "") -> str:
    med = statistics.median(values)
    ratio = f"{med / base:6.2f}x" if base else "      -"
    spread = f"{min(values):6.2f} {max(values):6.2f}"
    return f"{name:<48} {med:8.3f} {spread}  {ratio}  {target}"


class Engine:
    """One engine's project and its measurements."""

    def __init__(self, label: str, services: list[str], docker_host: str, first_port: int) -> None:
        self.label = label
        self.env = {"DOCKER_HOST": docker_host} if docker_host else {}
        self.root = Path(tempfile.mkdtemp(prefix="devenv-bench-"))
        name = f"bench-{uuid.uuid4().hex[:6]}"
        if first_port:
            chosen = {s: first_port + i for i, s in enumerate(svcs.names())}
        else:
            chosen = ports.free_for(svcs.names())
        port_lines = "\n".join(f"{s} = {p}" for s, p in chosen.items())
        (self.root / "devenv.toml").write_text(
            f'[project]\nname = "{name}"\nservices = {services!r}\n[ports]\n{port_lines}\n'.replace(
                "'", '"'
            )
        )
        self.services = services
        self.runs: dict[str, list[float]] = {
            k: []
            for k in (
                "compose",
                "compose_1s",
                "warm",
                "cold",
                "cold_initdb",
                "again",
                "cold_trace",
                "plugin",
                "plugin_initdb",
            )
        }
        self.docker_host, self.first_port = docker_host, first_port
        self.per_service: dict[str, list[float]] = {s: [] for s in services}

    def devenv(self, *args: str, env: dict[str, str] | None = None) -> float:
        return sh([sys.executable, "-m", "devenv", *args], self.root, {**self.env, **(env or {})})

    def stack(self) -> Stack:
        return Stack.load(self.root, env=environ.read({**os.environ, **self.env}))

    def prepare(self) -> None:
        self.devenv("up", "--no-seed")  # first start: initdb, first migrations
        st = self.stack()
        st.require_keys()
        runner = st.runner
        assert hasattr(runner, "argv")
        self.compose_argv = runner.argv(["up", "--detach", "--wait", *self.services])
        # The second baseline: the same files with the 1 s healthcheck interval compose.yaml had
        # while devenv waited on healthchecks (it ticks every 5 s now that devenv does not).
        fast = self.root / "compose.1s.yaml"
        fast.write_text(
            "services:\n"
            + "".join(f"  {s}:\n    healthcheck:\n      interval: 1s\n" for s in self.services)
        )
        i = self.compose_argv.index("up")
        self.compose_1s_argv = [*self.compose_argv[:i], "-f", str(fast), *self.compose_argv[i:]]
        self.compose_env = {**dict(runner.env), **self.env}

    def round(self) -> None:
        self.devenv("down")
        self.runs["compose"].append(sh(self.compose_argv, self.root, self.compose_env))
        self.devenv("down")
        self.runs["compose_1s"].append(sh(self.compose_1s_argv, self.root, self.compose_env))
        self.devenv("down")
        self.runs["warm"].append(self.devenv("up", "--no-seed"))
        for s in self.stack().status(probe=False).services:
            if s.startup_s is not None and s.name in self.per_service:
                self.per_service[s.name].append(s.startup_s)
        self.runs["again"].append(self.devenv("up", "--no-seed"))
        self.devenv("down", "--volumes")
        self.runs["cold"].append(self.devenv("up", "--no-seed"))
        trace = self.stack().status(probe=False).trace
        if trace is not None:
            self.runs["cold_trace"].append(trace.total_s)
        # The baseline of the cluster cache: the same cold start running initdb.
        self.devenv("down", "--volumes")
        self.runs["cold_initdb"].append(self.devenv("up", "--no-seed", env=NO_CACHE))
        self.devenv("down", "--volumes")  # the next warm start is from the cache's cluster
        self.devenv("up", "--no-seed")
        self.runs["plugin"].append(self.test_stack_start())
        self.runs["plugin_initdb"].append(self.test_stack_start(NO_CACHE))

    def test_stack_start(self, extra: dict[str, str] | None = None) -> float:
        """What a pytest session on the plugin waits for before its first test: a throw-away
        stack of the same services started, migrated, seeded and templated (devenv.testing),
        on this engine, with its ports in the range the engine publishes."""
        env = {**os.environ, **self.env, **(extra or {})}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if self.first_port:
            env["DEVENV_PORT_RANGE"] = f"{self.first_port + 30}-{self.first_port + 78}"
        code = (
            "import sys, time\n"
            "from devenv.testing import ephemeral\n"
            "t = time.perf_counter()\n"
            f"ts = ephemeral.start(sys.argv[1], services={self.services!r}, prefix='bench-eph')\n"
            "print(time.perf_counter() - t)\n"
            "ephemeral.stop(ts)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(self.root)], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            sys.exit(f"bench: a test stack on {self.label} failed:\n{proc.stderr[-2000:]}")
        return float(proc.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "devenv", "down", "--volumes"],
            cwd=self.root,
            env={**os.environ, **self.env},
            capture_output=True,
        )

    def report(self, local: Engine | None) -> None:
        base = statistics.median(self.runs["compose"])
        print(f"\n{self.label}: {', '.join(self.services)}")
        print(f"{'measure':<48} {'median':>8} {'min':>6} {'max':>6}  {'ratio':>7}  target")
        print("-" * 100)
        print(row("baseline: docker compose up -d --wait", self.runs["compose"], base))
        base_1s = statistics.median(self.runs["compose_1s"])
        print(row("baseline: the same, healthchecks every 1 s", self.runs["compose_1s"], base_1s))
        print(row("devenv up, warm (containers removed)", self.runs["warm"], base, "<= 0.5x"))
        print(row("  the same, against the 1 s baseline", self.runs["warm"], base_1s, "<= 0.5x"))
        cold_base = statistics.median(self.runs["cold_initdb"])
        print(
            row("baseline: cold up, DEVENV_CLUSTER_CACHE=off", self.runs["cold_initdb"], cold_base)
        )
        print(row("devenv up, cold (no volumes)", self.runs["cold"], cold_base, "<= 2.5 s"))
        if self.runs["cold_trace"]:
            print(row("  of which inside up (trace: start -> ready)", self.runs["cold_trace"]))
        print(row("devenv up, stack already running", self.runs["again"], None, "< 0.2 s"))
        plugin_base = statistics.median(self.runs["plugin_initdb"])
        print(row("baseline: test stack start, cache off", self.runs["plugin_initdb"], plugin_base))
        print(row("test stack start (pytest plugin's session)", self.runs["plugin"], plugin_base))
        for s, values in self.per_service.items():
            if values:
                print(row(f"  {s}: started -> ready (inside devenv up)", values))
        if local is not None:
            for key, what in (
                ("warm", "warm up"),
                ("cold", "cold up"),
                ("again", "second up"),
                ("plugin", "test stack start"),
            ):
                ratio = statistics.median(self.runs[key]) / statistics.median(local.runs[key])
                print(f"{what + ' on this engine / on the local engine':<48} {ratio:8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--remote", default="", help="DOCKER_HOST of a second engine to measure")
    ap.add_argument("--remote-ports", type=int, default=54300)
    args = ap.parse_args()

    services = ["postgres", "kong", "redis", "fireworks", "mail"]
    if not os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
        services.insert(1, "gotrue")
    engines = [Engine("local engine", services, os.environ.get("DOCKER_HOST", ""), 0)]
    if args.remote:
        engines.append(
            Engine(f"remote engine {args.remote}", services, args.remote, args.remote_ports)
        )
    try:
        for e in engines:
            e.prepare()
        for _ in range(args.rounds):
            for e in engines:  # alternated, so load on the machine falls on both alike
                e.round()
        local = engines[0]
        python_t = [sh([sys.executable, "-c", "pass"], local.root) for _ in range(15)]
        help_t = [local.devenv("--help") for _ in range(15)]
    finally:
        for e in engines:
            e.close()

    print(f"\n{args.rounds} alternating rounds; seconds")
    engines[0].report(None)
    for e in engines[1:]:
        e.report(engines[0])
    print()
    print(row("baseline: python -c pass", python_t, statistics.median(python_t)))
    print(row("devenv --help", help_t, statistics.median(python_t), "< 0.1 s"))


if __name__ == "__main__":
    main()
