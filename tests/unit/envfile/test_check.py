"""Checking env files against the schema: every problem at once, file:line and key for each,
the cascade, check_project for `devenv up`, and no sensitive value in any output."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from devenv import config
from devenv.envfile import check, check_files, check_project, load_schema, parse_schema
from devenv.envfile.check import Source
from devenv.envfile.problems import CODES

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures" / "env"
SCHEMA = load_schema(REPO / ".env.schema", ".env.schema")
SECRETS = (
    "not-a-jwt-but-very-secret-value-7731",
    "hunter2-db-password",
    "sk_live_fixture_unknown_key_998877",
)


def src(path: Path, name: str | None = None) -> Source:
    return Source(path, name or path.name)


def test_the_reference_env_is_clean() -> None:
    result = check(SCHEMA, [src(FIXTURES / "good.env", ".env")], environ={})
    assert result.problems == []
    assert result.ok and result.env == "development" and result.keys == 15


def test_every_problem_at_once() -> None:
    result = check(SCHEMA, [src(FIXTURES / "many-problems.env", ".env")], environ={})
    got = [(p.file, p.line, p.key, p.code) for p in result.problems]
    assert got == [
        (".env", 1, "APP_ENV", "type"),
        (".env", 3, "supabase_url", "case"),
        (".env", 5, "SUPABASE_SERVICE_ROLE_KEY", "type"),
        (".env", 7, "DATABASE_URL", "type"),
        (".env", 10, "FIREWORKS_API_KEY", "missing"),
        (".env", 12, "RATE_LIMIT_ENABLED", "type"),
        (".env", 14, "RATE_LIMIT_REQUESTS", "duplicate"),
        (".env", 14, "RATE_LIMIT_REQUESTS", "type"),
        (".env", 15, "RATE_LIMIT_WINDOW_SECONDS", "compat"),
        (".env", 16, "STRIPE_SECRET_KEY", "unknown"),
        (".env.schema", 26, "SUPABASE_URL", "missing"),
    ]
    by = {(p.line, p.code): p.message for p in result.problems}
    # Non-sensitive values are shown, to help; sensitive ones never.
    assert 'got "prod"' in by[(1, "type")]
    assert by[(5, "type")] == "must be at least 100 characters long"  # no "got": sensitive
    assert "one of the schemes postgres, postgresql" in by[(7, "type")]
    assert ".env:3 sets 'supabase_url' instead" in by[(26, "missing")]
    assert "must be a whole number" in by[(14, "type")] and 'got "12.5"' in by[(14, "type")]
    assert 'python-dotenv reads "60", Compose reads "60\\t# one minute"' in by[(15, "compat")]
    text = "\n".join(str(p) for p in result.problems) + json.dumps(result.as_dict())
    for secret in SECRETS:
        assert secret not in text
    assert str(result.problems[0]) == (
        '.env:1: APP_ENV: must be one of development, test, staging, production (got "prod")'
    )


def test_bad_files_are_reported_and_the_rest_still_checked() -> None:
    sources = [src(FIXTURES / "good.env", ".env"), src(FIXTURES / "binary.env", ".env.local")]
    result = check(SCHEMA, sources, environ={})
    assert [(p.file, p.line, p.code) for p in result.problems] == [(".env.local", 4, "encoding")]
    sources = [src(FIXTURES / "crlf.env", ".env"), src(FIXTURES / "bom.env", ".env.local")]
    result = check(SCHEMA, sources, environ={})
    codes = [(p.file, p.line, p.key, p.code) for p in result.problems]
    assert (".env.local", 1, "APP_ENV", "bom") in codes
    assert all(c[3] in ("bom", "missing") for c in codes)


def test_a_file_that_was_not_read_reports_only_that(tmp_path: Path) -> None:
    """A 5 MB .env is refused in one line; "required, but not set" lines would wrongly say the
    values are missing when nobody read them."""
    big = tmp_path / ".env"
    big.write_text("".join(f"K{i}={'x' * 40}\n" for i in range(120_000)))
    result = check(SCHEMA, [src(big, ".env")], environ={})
    assert [(p.file, p.code) for p in result.problems] == [(".env", "too-large")]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_check_never_raises_on_arbitrary_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ".env"
        p.write_bytes(data)
        result = check(SCHEMA, [Source(p, ".env")], environ={})
    json.dumps(result.as_dict())
    assert all(str(x) for x in result.problems)


def test_secret_interpolated_into_a_public_key_is_redacted() -> None:
    s = parse_schema(
        "# @defaultSensitive=false\n# ---\n# @sensitive\nTOKEN=\n# @type=url\nCALLBACK=\n"
    )
    text = "TOKEN=tok-1234567890-secret\nCALLBACK=not a url ${TOKEN}\n"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ".env"
        p.write_text(text)
        result = check(s, [src(p, ".env")], environ={})
    [problem] = result.problems
    assert problem.key == "CALLBACK" and "[redacted]" in problem.message
    assert "tok-1234567890-secret" not in problem.message


def test_cascade_with_env_placeholder_and_forenv(tmp_path: Path) -> None:
    shutil.copy(REPO / ".env.schema", tmp_path / ".env.schema")
    shutil.copy(FIXTURES / "good.env", tmp_path / ".env")
    (tmp_path / "devenv.toml").write_text('[env]\nfiles = [".env", ".env.local", ".env.{env}"]\n')
    (tmp_path / ".env.local").write_text("APP_ENV=production\n")
    (tmp_path / ".env.production").write_text(
        "SENTRY_DSN=http://insecure@sentry.example.com/1\nREDIS_URL=${REDIS_URL}x\n"
    )
    cfg = config.load(tmp_path)
    result = check_files(cfg, environ={})
    assert result.env == "production"
    assert [Path(f).name for f in result.files] == [".env", ".env.local", ".env.production"]
    got = [(Path(p.file).name, p.line, p.key, p.code) for p in result.problems]
    assert got == [
        (".env.production", 1, "SENTRY_DSN", "type"),  # https required
        # A key cannot refer to itself in @env-spec (varlock: "cannot have dependency on itself")
        (".env.production", 2, "REDIS_URL", "undefined-ref"),
    ]
    assert "reference cycle (REDIS_URL -> REDIS_URL)" in result.problems[1].message
    # @currentEnv wins over --env, as in varlock: the files say production.
    result = check_files(cfg, env_name="development", environ={})
    assert result.env == "production"
    assert "--env development is ignored" in result.notes[0]
    # With no value for APP_ENV anywhere but its default, the default names the env.
    (tmp_path / ".env.local").write_text("APP_ENV=\n")  # sets no value: the default stays
    (tmp_path / ".env").write_text(
        (FIXTURES / "good.env").read_text().replace("APP_ENV=development\n", "")
    )
    result = check_files(cfg, env_name="staging", environ={})
    assert result.env == "development" and result.ok, result.problems
    assert [Path(f).name for f in result.files] == [".env", ".env.local"]
    # The process environment names the env when no file does.
    (tmp_path / ".env.local").unlink()
    (tmp_path / ".env.staging").write_text("SENTRY_DSN=\n")
    result = check_files(cfg, environ={"APP_ENV": "staging"})
    assert [(p.key, p.code) for p in result.problems] == [("SENTRY_DSN", "missing")]
    assert "required in environment 'staging', but has no value" in result.problems[0].message


def test_no_env_file_and_no_schema(tmp_path: Path) -> None:
    shutil.copy(REPO / ".env.schema", tmp_path / ".env.schema")
    cfg = config.load(tmp_path)
    result = check_files(cfg, environ={})
    assert result.problems[0].code == "no-file" and result.problems[0].line == 0
    assert {p.code for p in result.problems[1:]} == {"missing"}
    (tmp_path / ".env.schema").unlink()
    (tmp_path / ".env").write_text("A=1\nB='x\n")
    result = check_files(cfg, environ={})
    # @env-spec (the default reader) refuses the line; python-dotenv and Compose differ too
    assert sorted(p.code for p in result.problems) == ["compat", "compat", "syntax"]
    assert result.notes[0].startswith("no schema at")


def test_check_project_for_devenv_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # paths are shown relative to the working directory
    cfg = config.load(tmp_path)
    assert check_project(cfg) == []  # no schema
    shutil.copy(REPO / ".env.schema", tmp_path / ".env.schema")
    assert check_project(cfg) == []  # no .env
    shutil.copy(FIXTURES / "many-problems.env", tmp_path / ".env")
    problems = check_project(cfg)
    assert len(problems) == 11
    assert all("\n" not in str(p) for p in problems)
    assert str(problems[0]).startswith(".env:1: APP_ENV: must be one of development")
    (tmp_path / ".env.schema").write_text("# @type=nope\nA=\n")
    [p] = check_project(cfg)
    assert p.code == "schema" and ":1:9: unknown type 'nope'" in str(p)


# ---- property: a sensitive value never appears in any output ------------------------------------

_TYPES = st.sampled_from(
    ["string", "string(minLength=200)", "url", "url(allowedProtocols=[https])", "number",
     "port", "boolean", "email", "enum(a, b)", "string(startsWith=zz)"]
)  # fmt: skip
_SECRET = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=8,
    max_size=40,
).filter(lambda s: s.strip() == s and "\n" not in s and "\r" not in s)
_NOISE = st.sampled_from(
    ["", "OTHER=${SECRET_KEY}\n", "PUBLIC=x ${SECRET_KEY} y\n", "SECRET_KEY=again\n",
     "BROKEN='open\n", "secret_key=dup\n", "PUBLIC=$SECRET_KEY\n", "# comment\n"]
)  # fmt: skip


_STRUCTURE = (
    '{"ok": "schema": "files": "env": "keys": "counts": "problems": "file": "line": "key": '
    '"code": "message": "notes": .env .env.schema' + " ".join(CODES) + " ".join(CODES.values())
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TYPES, _SECRET, st.lists(_NOISE, max_size=4), st.booleans())
# @env-spec refuses `"...\\"` (the backslash escapes the quote); python-dotenv reads the secret
# and passes it into a public key through ${VAR}: it must still be redacted there.
@example("string", "0000000\\", ["OTHER=${SECRET_KEY}\n"], False)
def test_sensitive_values_never_appear_in_output(
    type_decl: str, secret: str, noise: list[str], raw: bool
) -> None:
    text = (
        "# @defaultSensitive=false\n# ---\n"
        f"# @required @sensitive @type={type_decl}\nSECRET_KEY=\n"
        "# @type=url\nPUBLIC=\n# @type=number\nOTHER=\n"
    )
    # A "secret" that is a word of the output's own structure ("problems") proves nothing.
    assume(secret not in text + _STRUCTURE)
    schema = parse_schema(text)
    line = f"SECRET_KEY={secret if raw else _quote(secret)}\n"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ".env"
        p.write_text(line + "".join(noise), encoding="utf-8")
        result = check(schema, [Source(p, ".env")], environ={})
        from devenv.envfile.reader import read_file

        read_values = [
            v for e in read_file(p, ".env", environ={}).entries if e.key == "SECRET_KEY"
            for v in (e.value, e.raw) if v and len(v) >= 8
        ]  # fmt: skip
    out = "\n".join(str(x) for x in result.problems) + json.dumps(result.as_dict())
    out_ascii = json.dumps(result.as_dict(), ensure_ascii=True)
    for value in {secret, *read_values}:
        assert value not in out
        assert json.dumps(value)[1:-1] not in out_ascii
