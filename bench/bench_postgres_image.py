"""devenv's own Postgres image: what the extensions cost.

Baseline, in the same run: the plain base image (``[images] postgres`` = the base, what a stock
``postgres:15`` project runs). Against it:

- a warm ``devenv up`` (postgres only, stack stopped, image present) on devenv's image, whose
  server preloads pg_cron (target: within 10% of the baseline);
- the one-time build of the image (no build cache): the first ``devenv up`` on a new machine pays
  it once per extension set, next to the pull of the base itself (not measurable here: no
  registry); reported in seconds;
- the first ``devenv up``'s image step with both of devenv's images missing: the Postgres build
  and the Fireworks mock's, one after the other (baseline) and at the same time, as ``up`` does.

Run with the harness's settings: ``set -a; eval "$(tests/hermetic/setup)"; set +a`` then
``python -m bench.bench_postgres_image [rounds]``. The base is DEVENV_POSTGRES_BASE_IMAGE.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench._common import devenv, row, timed
from devenv import environ, postgres_spec
from devenv.stack import fireworks_image, ports, postgres_image
from devenv.stack.engine import Engine
from devenv.stack.images import together

EXTENSIONS = ("pg_cron", "postgis", "pgtap")  # what Debian packages for 15 (no pgvector)


def project(images_line: str, db_line: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="devenv-bench-pg-"))
    (root / "devenv.toml").write_text(
        f'[project]\nname = "benchpg-{uuid.uuid4().hex[:6]}"\nservices = ["postgres"]\n'
        f"[ports]\npostgres = {ports.free_port()}\n{images_line}{db_line}"
    )
    return root


def main(rounds: int) -> None:
    base = os.environ.get("DEVENV_POSTGRES_BASE_IMAGE", postgres_spec.BASE)
    os.environ.pop("DEVENV_IMAGE_POSTGRES", None)  # devenv.toml decides, as on a laptop
    exts = ", ".join(f'"{e}"' for e in EXTENSIONS)
    plain = project(f'[images]\npostgres = "{base}"\n', "")
    own = project("", f"[db]\nextensions = [{exts}]\n")

    # The one-time build, from no cache, into a throw-away tag.
    spec = postgres_spec.make_build(base, EXTENSIONS)
    tag = f"devenv-bench-postgres:{uuid.uuid4().hex[:8]}"
    engine = Engine()
    t = time.perf_counter()
    postgres_image.build(spec, tag, engine, nocache=True)
    build_s = time.perf_counter() - t
    engine.client.images.remove(tag, force=True)

    # Both of devenv's images, one after the other and then at the same time (fresh tags).
    env = environ.read()
    both: dict[str, float] = {}
    for how in ("one after the other", "at the same time"):
        pg, fw = (f"devenv-bench-{n}:{uuid.uuid4().hex[:8]}" for n in ("postgres", "fireworks"))
        jobs: list[Callable[[], None]] = [
            lambda: postgres_image.build(spec, pg, engine, nocache=True),  # noqa: B023
            lambda: fireworks_image.build(fw, engine, env),  # noqa: B023
        ]
        t = time.perf_counter()
        if how == "at the same time":
            together(jobs)
        else:
            for job in jobs:
                job()
        both[how] = time.perf_counter() - t
        for tag_ in (pg, fw):
            engine.client.images.remove(tag_, force=True)

    results: dict[str, list[float]] = {"plain": [], "own": []}
    try:
        for root in (plain, own):  # first up: creates the volume (and builds devenv's image)
            timed(devenv("up", "--no-seed"), root)
            timed(devenv("down"), root)
        for _ in range(rounds):  # alternating, so drift hits both alike
            for key, root in (("plain", plain), ("own", own)):
                elapsed, _ = timed(devenv("up", "--no-seed"), root)
                results[key].append(elapsed)
                timed(devenv("down"), root)
    finally:
        for root in (plain, own):
            timed(devenv("down", "--volumes"), root)
            shutil.rmtree(root, ignore_errors=True)

    print(f"base {base}; devenv's image: + {', '.join(EXTENSIONS)}; {rounds} rounds\n")
    print(f"{'measure':<34} {'median':>7} {'min':>6} {'max':>6}  {'vs plain':>7}  target")
    plain_med = sorted(results["plain"])[len(results["plain"]) // 2]
    print(row("warm up, plain base (baseline)", results["plain"], [plain_med]))
    print(row("warm up, devenv's image", results["own"], [plain_med], "<= 1.10x"))
    print(f"{'one-time build, no cache (s)':<34} {build_s:7.1f}")
    seq, par = both["one after the other"], both["at the same time"]
    print(f"{'both images, one after other (s)':<34} {seq:7.1f}  (baseline)")
    print(f"{'both images, at the same time (s)':<34} {par:7.1f}  {par / seq:6.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
