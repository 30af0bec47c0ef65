"""`devenv db reset` of a project with auth users, from the kept state, against its baseline in
the same run: the full replay (`devenv db reset --full`: empty the database, apply every
migration, load the seed sets, create the auth users through GoTrue), what every reset did
before the kept state.

Target (issue: up at the speed of the services): `devenv db reset` with auth users < 1 s.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_reset.py [--rounds N] [--set demo]`
The project is the repository's own (migrations/ and seeds/: `default` has 2 auth users, `demo`
8) on the whole stack. Rounds alternate the two commands; before each, a row and a sign-up are
added, so each reset has something to take back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

from _common import devenv, row, start_project, timed

from devenv.stack.handle import Stack


def dirty(stack: Stack) -> None:
    """What a developer leaves behind: a row by hand and a user who signed up."""
    import httpx
    import psycopg

    with psycopg.connect(stack.database_url(), autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS scratch (x int)")
        c.execute("INSERT INTO scratch VALUES (1)")
    if "gotrue" in stack.cfg.services:
        keys = stack.require_keys()
        httpx.post(
            f"{stack.urls()['gotrue']}/signup",
            json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "a-password-1"},
            headers={"apikey": keys.anon_key},
            timeout=10,
        ).raise_for_status()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--set", default="", help="reset to this seed set instead of the default")
    args = ap.parse_args()
    root = start_project("devenv-bench-reset-")
    try:
        stack = Stack.load(root)
        if args.set:
            # `db reset` loads [db] default_seed: make the chosen set the project's default.
            toml = root / "devenv.toml"
            toml.write_text(toml.read_text() + f'[db]\ndefault_seed = "{args.set}"\n')
            stack = Stack.load(root)
        timed(devenv("db", "reset"), root)  # keeps the state the later resets restore
        full: list[float] = []
        kept: list[float] = []
        restore_phase: list[float] = []
        users = 0
        for _ in range(args.rounds):
            dirty(stack)
            full.append(timed(devenv("db", "reset", "--full"), root)[0])
            dirty(stack)
            t, out = timed(devenv("db", "reset", "--json"), root)
            res = json.loads(out)
            if res["template"] != "restored":
                sys.exit(f"bench: the reset did not restore the kept state: {res['template']}")
            kept.append(t)
            restore_phase.append(res["phases_s"]["restore"])
            users = sum(s["users"] for s in res["summary"]["sets"].values())
    finally:
        subprocess.run(devenv("down", "--volumes"), cwd=root, capture_output=True)
    base = statistics.median(full)
    chosen = args.set or "default"
    print(f"\n{args.rounds} alternating rounds; seconds; {users} auth users, set {chosen}")
    print(f"{'measure':<34} {'median':>7} {'min':>6} {'max':>6}  {'ratio':>7}  target")
    print("-" * 80)
    print(row("baseline: db reset --full (replay)", full, [base]))
    print(row("db reset (kept state)", kept, [base], "< 1 s"))
    print(row("  of which the clone and swap", restore_phase, [base]))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
