"""Writing env files: .env.example from the schema, init's plan (never overwriting a value the
user set), value quoting both parsers read back alike, and the three-way diff."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from devenv.envfile import compose_reader
from devenv.envfile.render import apply_init, diff, format_value, plan_init, render_example
from devenv.envfile.schema import load_schema, parse_schema
from devenv.errors import EnvFileError

REPO = Path(__file__).resolve().parents[3]
SCHEMA = load_schema(REPO / ".env.schema", ".env.schema")
STACK = {
    "SUPABASE_URL": "http://127.0.0.1:54321",
    "SUPABASE_ANON_KEY": "eyJ" + "a" * 150,
    "SUPABASE_SERVICE_ROLE_KEY": "eyJ" + "s" * 150,
    "SUPABASE_JWT_SECRET": "jwt-secret-from-the-stack-0123456789abcdef",
    "DATABASE_URL": "postgresql://postgres:pw-from-stack@127.0.0.1:54322/postgres",
    "REDIS_URL": "redis://127.0.0.1:54379/0",
    "FIREWORKS_BASE_URL": "http://127.0.0.1:54380/inference/v1",
    "FIREWORKS_API_KEY": "fw-mock-key-0123",
    "GOTRUE_URL": "http://127.0.0.1:54326",
}


def test_the_committed_example_is_generated_from_the_schema() -> None:
    assert (REPO / ".env.example").read_text() == render_example(SCHEMA)


def test_example_blanks_secrets_keeps_defaults_examples_and_sections() -> None:
    s = parse_schema(
        "# @defaultSensitive=false\n# ---\n\n# --- Keys ---\n\n# The key.\n"
        '# @sensitive @example="sk_test_123"\nKEY=sk_default_secret\n'
        '# @type=port\nPORT=8000\n# @example="a b"\nNAME="two words"\n'
    )
    text = render_example(s)
    assert "sk_default_secret" not in text
    assert "KEY=\n" in text and "# required, secret; e.g. sk_test_123" in text
    assert "# --- Keys ---" in text and "# The key." in text
    assert "NAME='two words'\n" in text and "PORT=8000\n" in text
    values = dotenv_values(stream=io.StringIO(text))
    assert values == {"KEY": "", "PORT": "8000", "NAME": "two words"}


def test_init_writes_a_new_env_from_defaults_and_the_stack(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    plan = plan_init(SCHEMA, target, STACK)
    assert not plan.existed and plan.changed
    assert apply_init(plan)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it holds keys
    values = dotenv_values(target)
    for key in SCHEMA.items:
        assert key in values
    assert values["DATABASE_URL"] == STACK["DATABASE_URL"]
    assert values["FIREWORKS_BASE_URL"] == STACK["FIREWORKS_BASE_URL"]  # the stack beats defaults
    assert values["APP_ENV"] == "development" and values["SENTRY_DSN"] == ""
    assert "GOTRUE_URL" not in values  # not in the schema
    skipped = [c for c in plan.changes if c.action == "skip"]
    assert [c.key for c in skipped] == ["GOTRUE_URL"]
    assert plan.needs_value == []
    # A second run has nothing to do.
    again = plan_init(SCHEMA, target, STACK)
    assert not again.changed and {c.action for c in again.changes} == {"keep", "skip"}


def test_init_never_overwrites_and_fills_empty_values_in_place(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    original = (
        "# my settings\r\n"
        "DATABASE_URL=postgresql://me:mine@db.internal/app\r\n"
        "export REDIS_URL=\r\n"
        "\r\n"
        "UNRELATED=keep me # with a comment\r\n"
        "SUPABASE_URL\r\n"
    )
    target.write_bytes(("\ufeff" + original).encode())
    os.chmod(target, 0o640)
    plan = plan_init(SCHEMA, target, STACK)
    apply_init(plan)
    text = target.read_bytes().decode()
    assert text.startswith(
        "\ufeff# my settings\r\nDATABASE_URL=postgresql://me:mine@db.internal/app"
    )
    assert "export REDIS_URL=redis://127.0.0.1:54379/0\r\n" in text
    assert "UNRELATED=keep me # with a comment\r\n" in text
    assert "\nSUPABASE_URL=http://127.0.0.1:54321\r\n" in text
    assert "\n" not in text.replace("\r\n", "")  # line endings kept
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # mode kept
    keep = {c.key: c for c in plan.changes if c.action == "keep"}
    assert keep["DATABASE_URL"].note == "differs from the running stack"
    assert {c.key for c in plan.changes if c.action == "fill"} == {"REDIS_URL", "SUPABASE_URL"}
    values = dotenv_values(stream=io.StringIO(text.removeprefix("\ufeff")))
    assert values["DATABASE_URL"] == "postgresql://me:mine@db.internal/app"
    assert values["SUPABASE_SERVICE_ROLE_KEY"] == STACK["SUPABASE_SERVICE_ROLE_KEY"]


def test_init_dry_run_plan_hides_secrets_and_lists_what_is_missing(tmp_path: Path) -> None:
    plan = plan_init(SCHEMA, tmp_path / ".env", {})
    assert not (tmp_path / ".env").exists()
    lines = [c.describe() for c in plan.changes]
    assert 'add   APP_ENV="development"  (the schema\'s default)' in lines
    assert plan.needs_value == [
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_JWT_SECRET",
        "DATABASE_URL",
        "REDIS_URL",
        "FIREWORKS_API_KEY",
    ]  # fmt: skip  (SENTRY_DSN is optional in development)
    plan = plan_init(SCHEMA, tmp_path / ".env", STACK)
    shown = "\n".join(c.describe() for c in plan.changes) + repr(plan.as_dict())
    for key in ("SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_JWT_SECRET", "DATABASE_URL",
                "FIREWORKS_API_KEY"):  # fmt: skip
        assert STACK[key] not in shown
    assert "SUPABASE_JWT_SECRET (secret, value not shown)" in shown
    assert STACK["REDIS_URL"] in shown


def test_init_without_a_schema_writes_what_the_stack_knows(tmp_path: Path) -> None:
    plan = plan_init(None, tmp_path / ".env", {"B": "2", "A": "x y"}, existing="A=mine\n")
    assert plan.text == "A=mine\n\n# Added by `devenv env init`\nB=2\n"
    assert [(c.key, c.action) for c in plan.changes] == [("B", "add"), ("A", "keep")]


def test_init_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.env"
    real.write_text("APP_ENV=test\n")
    (tmp_path / ".env").symlink_to(real)
    apply_init(plan_init(SCHEMA, tmp_path / ".env", STACK))
    assert (tmp_path / ".env").is_symlink()
    assert dotenv_values(real)["REDIS_URL"] == STACK["REDIS_URL"]
    assert dotenv_values(real)["APP_ENV"] == "test"


def test_init_refuses_to_touch_a_file_it_cannot_read_back(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_bytes(b"A=1\n\x00\xff")
    with pytest.raises(EnvFileError, match="binary data; not updating it"):
        plan_init(SCHEMA, target, STACK)
    assert target.read_bytes() == b"A=1\n\x00\xff"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00$"), max_size=40))
def test_written_values_read_back_identically_by_both_parsers(value: str) -> None:
    line = f"K={format_value(value)}\n"
    assert dotenv_values(stream=io.StringIO(line))["K"] == value
    reads, errors = compose_reader.parse(line)
    assert not errors and reads[-1].value == value


def test_diff_both_directions() -> None:
    env_keys = {k: "x" for k in SCHEMA.items if k != "REDIS_URL"} | {"EXTRA": "1"}
    example = render_example(SCHEMA).replace("SENTRY_DSN=\n", "") + "OLD_KEY=\n"
    result = diff(SCHEMA, env_keys, [".env"], example, ".env.example", "development")
    rows = {r.key: (r.schema, r.env, r.example) for r in result.rows}
    assert rows == {
        "REDIS_URL": ("required", False, True),
        "SENTRY_DSN": ("optional", True, False),
        "EXTRA": ("-", True, False),
        "OLD_KEY": ("-", False, True),
    }
    assert result.example_stale and not result.ok
    d = result.as_dict()
    assert d["missing_from_env"] == ["REDIS_URL"] and d["not_in_schema"] == ["EXTRA", "OLD_KEY"]
    clean = diff(SCHEMA, dict.fromkeys(SCHEMA.items, "x"), [".env"], render_example(SCHEMA),
                 ".env.example")  # fmt: skip
    assert clean.ok and clean.rows == []


@pytest.mark.parametrize(
    "value",
    ["plain", "two words", "a#b", "price $5", "undefined", "it's", 'say "hi"', "x\ny", ""],
)
def test_written_values_read_back_alike_by_all_three_readers(value: str) -> None:
    from devenv.envfile.reader import read_text

    text = f"K={format_value(value)}\n"
    for reader in ("env-spec", "python-dotenv", "compose"):
        f = read_text(text, ".env", environ={}, reader=reader)
        assert (f.values()["K"] or "") == value, (reader, text)
        assert f.problems == [], (reader, text, f.problems)
