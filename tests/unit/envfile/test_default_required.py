"""Which items are required, as varlock 1.20 decides it: an item's own ``@required``,
``@optional`` or ``@required=forEnv(...)`` first, then the header's ``@defaultRequired``. Without
that decorator every item is required (varlock's code defaults to ``true``; its website calls
``infer`` the default, but ``varlock load`` reports ``A=`` missing). ``infer`` makes an item
required exactly when the schema gives it a non-empty default.

The last test asks varlock itself: the npm package ``varlock`` 1.20.0, installed once into
~/.cache/devenv-tests/ with ``npm install --prefix`` and run by Node (``varlock load --format
json-full --filter=@required``) on the same schemas and files. Without Node it skips locally and
fails in CI (tests/conftest.py's ``unavailable``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from devenv.envfile import check, parse_schema
from devenv.envfile.check import CheckResult, Source
from devenv.envfile.schema import Schema
from tests.conftest import run_cli
from tests.support.npm import installed

ITEMS = (
    "A=\n"  # no value
    "B=x\n"  # a default
    'C=""\n'  # an empty string
    "D=undefined\n"  # no value, spelled out
    "# @optional\nE=\n"
    "# @required\nF=\n"
    "# @optional\nG=x\n"
    "# @required=false\nH=\n"
    "# @optional=false\nI=\n"
    "J=${B}\n"  # a default built from another item
)
HEADERS = {
    "none": "",
    "comment only": "# no root decorators here\n\n",
    "true": "# @defaultRequired=true\n# ---\n",
    "false": "# @defaultRequired=false\n# ---\n",
    "infer": "# @defaultRequired=infer\n# ---\n",
}
#: what `varlock load --filter=@required` (1.20.0) selects for ITEMS under each header
REQUIRED = {
    "none": {"A", "B", "C", "D", "F", "I", "J"},
    "comment only": {"A", "B", "C", "D", "F", "I", "J"},
    "true": {"A", "B", "C", "D", "F", "I", "J"},
    "false": {"F", "I"},
    "infer": {"B", "F", "I", "J"},
}


def required(schema: Schema, env: str | None = None) -> set[str]:
    return {k for k, item in schema.items.items() if item.is_required(env)}


def run(schema_text: str, env_text: str, tmp_path: Path) -> CheckResult:
    schema = parse_schema(schema_text, ".env.schema")
    p = tmp_path / ".env"
    p.write_text(env_text, encoding="utf-8")
    return check(schema, [Source(p, ".env")], environ={})


def found(result: CheckResult) -> list[tuple[str, int, str | None, str]]:
    return [(p.file, p.line, p.key, p.code) for p in result.problems]


@pytest.mark.parametrize("header", sorted(HEADERS))
def test_required_for_each_kind_of_item(header: str) -> None:
    assert required(parse_schema(HEADERS[header] + ITEMS)) == REQUIRED[header]


def test_without_default_required_an_item_without_value_is_missing(tmp_path: Path) -> None:
    """The issue: no @defaultRequired, `A=` and a .env without A -> A is missing, placed at the
    schema line declaring it."""
    r = run("# @defaultSensitive=false\n\nB=1\nA=\n", "B=2\n", tmp_path)
    assert found(r) == [(".env.schema", 4, "A", "missing")]
    assert str(r.problems[0]) == ".env.schema:4: A: required, but not set in .env"
    # `A=` in the .env sets no value: reported there.
    r = run("A=\n", "# comment\nA=\n", tmp_path)
    assert found(r) == [(".env", 2, "A", "missing")]
    assert "has no value" in r.problems[0].message
    assert run("A=\n", "A=1\n", tmp_path).ok


def test_default_required_false_makes_items_optional(tmp_path: Path) -> None:
    r = run("# @defaultRequired=false\n# ---\nA=\n# @required\nB=\n", "", tmp_path)
    assert found(r) == [(".env.schema", 5, "B", "missing")]


def test_default_required_infer(tmp_path: Path) -> None:
    """varlock's infer: a non-empty default makes an item required (and satisfies it); no value,
    `undefined` and an empty string leave it optional."""
    schema = "# @defaultRequired=infer\n# ---\nA=\nB=x\nC=''\nD=undefined\n"
    assert run(schema, "", tmp_path).ok
    # B is required: an empty string in the .env does not satisfy it.
    r = run(schema, 'B=""\n', tmp_path)
    assert found(r) == [(".env", 1, "B", "missing")]
    assert "is empty" in r.problems[0].message


def test_a_default_satisfies_the_unset_default_requirement(tmp_path: Path) -> None:
    """No @defaultRequired: an item with a default is required, and its default is its value."""
    schema = "B=x\n"
    assert required(parse_schema(schema)) == {"B"}
    assert run(schema, "", tmp_path).ok
    assert run(schema, "B=\n", tmp_path).ok  # `B=` sets no value: the default stays
    r = run(schema, "B=''\n", tmp_path)
    assert found(r) == [(".env", 1, "B", "missing")]
    # An empty default is no value: required and missing.
    r = run('C=""\n', "", tmp_path)
    assert found(r) == [(".env.schema", 1, "C", "missing")]


def test_for_env_is_unchanged_by_the_default(tmp_path: Path) -> None:
    schema = (
        "# @currentEnv=$APP_ENV\n# ---\nAPP_ENV=dev\n"
        "# @required=forEnv(prod)\nP=\n# @required=forEnv(dev)\nQ=\nR=\n"
    )
    r = run(schema, "", tmp_path)
    assert r.env == "dev"
    assert found(r) == [(".env.schema", 7, "Q", "missing"), (".env.schema", 8, "R", "missing")]
    assert required(parse_schema(schema), "prod") == {"APP_ENV", "P", "R"}


def test_cli_check_fails_on_an_item_without_value(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[project]\nname = "defreq"\n')
    (tmp_path / ".env.schema").write_text("# @defaultSensitive=false\n\nSET=\nUNSET=\n")
    (tmp_path / ".env").write_text("SET=1\n")
    proc = run_cli("env", "check", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [".env.schema:4: UNSET: required, but not set in .env"]
    (tmp_path / ".env.schema").write_text("# @defaultRequired=false\n\nSET=\nUNSET=\n")
    proc = run_cli("env", "check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- against varlock itself ------------------------------------------------------------------

PACKAGE = "varlock@1.20.0"


@pytest.fixture(scope="session")
def varlock() -> Path:
    """The installed package's CLI script (installing it on first use)."""
    root = installed(PACKAGE, "varlock-1.20.0", "node_modules/varlock/bin/cli.js")
    return root / "node_modules" / "varlock" / "bin" / "cli.js"


def varlock_judgement(cli: Path, schema: str, env: str, where: Path) -> tuple[set[str], set[str]]:
    """(required keys, keys reported required but empty) by `varlock load`."""
    where.mkdir()
    (where / ".env.schema").write_text(schema, encoding="utf-8")
    (where / ".env").write_text(env, encoding="utf-8")
    home = where / "home"
    home.mkdir()
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "VARLOCK_TELEMETRY_DISABLED": "1",
        "DO_NOT_TRACK": "1",
    }
    proc = subprocess.run(
        ["node", str(cli), "load", "--format", "json-full", "--compact", "--filter=@required"],
        cwd=where,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode in (0, 1) and proc.stdout.strip(), proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    errors = data.get("errors", {}).get("configItems", {})
    unexpected = {k: m for k, m in errors.items() if "required" not in m}
    assert not unexpected, f"varlock reported more than required-ness: {unexpected}"
    return set(data["config"]), set(errors)


COMPARED = [
    *((HEADERS[h] + ITEMS, "") for h in sorted(HEADERS)),
    *((HEADERS[h] + ITEMS, "A=1\nB=\nC=2\nE=\nF=3\nI=''\n") for h in ("none", "infer")),
    ("# @currentEnv=$APP_ENV\n# ---\nAPP_ENV=dev\n# @required=forEnv(dev)\nQ=\nR=\nS=x\n", "S=\n"),
    ("# @currentEnv=$APP_ENV @defaultRequired=infer\n# ---\nAPP_ENV=prod\n"
     "# @required=forEnv(dev)\nQ=\nR=\nS=x\n", "APP_ENV=dev\nS=''\n"),
]  # fmt: skip


def test_required_and_missing_as_varlock_decides(varlock: Path, tmp_path: Path) -> None:
    for n, (schema_text, env_text) in enumerate(COMPARED):
        want_required, want_missing = varlock_judgement(
            varlock, schema_text, env_text, tmp_path / f"c{n}"
        )
        schema = parse_schema(schema_text, ".env.schema")
        r = check(schema, [Source(tmp_path / f"c{n}" / ".env", ".env")], environ={})
        missing = {q.key for q in r.problems if q.code == "missing"}
        assert [q for q in r.problems if q.code != "missing"] == []
        assert (required(schema, r.env), missing) == (want_required, want_missing), (
            schema_text,
            env_text,
        )
