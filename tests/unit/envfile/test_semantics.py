"""The @env-spec semantics varlock users rely on (issue 14), one test group per point: defaults
are values, empty assignments, untyped items, the current environment, JavaScript regexes,
decorator comments at the start of the line, the three readers, and masks that show no length.
Checked through the library and, where the exit code matters, the real `devenv` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devenv.envfile import check, parse_schema
from devenv.envfile.check import CheckResult, Source
from devenv.envfile.schema import SchemaError
from tests.conftest import run_cli


def run(
    schema_text: str,
    env_text: str,
    tmp_path: Path,
    *,
    reader: str = "env-spec",
    env_name: str | None = None,
    environ: dict[str, str] | None = None,
) -> CheckResult:
    schema = parse_schema(schema_text, ".env.schema")
    p = tmp_path / ".env"
    p.write_text(env_text, encoding="utf-8")
    return check(
        schema, [Source(p, ".env")], reader=reader, env_name=env_name, environ=environ or {}
    )


def found(result: CheckResult) -> list[tuple[str, int, str | None, str]]:
    return [(p.file, p.line, p.key, p.code) for p in result.problems]


# These tests are about values; `infer` keeps items without a default optional (without
# @defaultRequired every item is required, as in varlock: see test_default_required.py).
PUBLIC = "# @defaultSensitive=false @defaultRequired=infer\n# ---\n"


# ---- 1. defaults are values --------------------------------------------------------------------


def test_a_required_key_with_a_default_is_satisfied(tmp_path: Path) -> None:
    r = run(PUBLIC + "# @required\nREGION=eu-west-1\nOTHER=\n", "OTHER=x\n", tmp_path)
    assert r.ok, r.problems
    assert r.keys == 2


def test_a_broken_default_is_reported_at_the_schema_line(tmp_path: Path) -> None:
    schema = PUBLIC + "A=1\n# @type=number\nCOUNT=ten\n# @type=enum(a, b)\nMODE=c\n"
    r = run(schema, "A=2\n", tmp_path)
    assert found(r) == [
        (".env.schema", 5, "COUNT", "type"),
        (".env.schema", 7, "MODE", "type"),
    ]
    assert r.problems[0].message == (
        'the schema\'s default expected number: is not a number (got "ten")'
    )
    assert r.problems[1].message == 'the schema\'s default must be one of a, b (got "c")'
    # still reported when a file overrides it: the default is broken for everyone else
    r = run(schema, "COUNT=3\nMODE=a\n", tmp_path)
    assert found(r) == [
        (".env.schema", 5, "COUNT", "type"),
        (".env.schema", 7, "MODE", "type"),
    ]


def test_a_broken_sensitive_default_does_not_show(tmp_path: Path) -> None:
    r = run("# @type=url\nTOKEN_URL=not-a-url-secret-4242\n", "", tmp_path)
    assert found(r) == [(".env.schema", 2, "TOKEN_URL", "type")]
    assert "not-a-url-secret-4242" not in str(r.problems[0]) + json.dumps(r.as_dict())


def test_a_reference_can_name_a_key_whose_value_is_a_default(tmp_path: Path) -> None:
    schema = PUBLIC + "BASE=https://api.example.com\n# @type=url\nAPI=\n# @type=url\nDOCS=\n"
    r = run(schema, "API=${BASE}/v1\nDOCS=${BASE}/docs\n", tmp_path)
    assert r.ok, r.problems
    # and the value built from it is checked: this one is no URL
    r = run(schema.replace("https://api.example.com", "nope"), "API=${BASE}/v1\n", tmp_path)
    assert found(r) == [(".env", 1, "API", "type")]
    assert '(got "nope/v1")' in r.problems[0].message


def test_a_default_can_refer_to_a_value_from_the_files(tmp_path: Path) -> None:
    schema = PUBLIC + "HOST=\n# @type=url\nURL=http://${HOST}:8000\n"
    r = run(schema, "HOST=127.0.0.1\n", tmp_path)
    assert r.ok, r.problems
    r = run(schema, "HOST=bad host\n", tmp_path)
    assert found(r) == [(".env.schema", 5, "URL", "type")]


def test_a_reference_to_a_declared_key_without_value_takes_its_fallback(tmp_path: Path) -> None:
    # as varlock 1.20 reads it: the item exists, has no value, so the fallback applies
    r = run(PUBLIC + "REGION=\n# @type=enum(eu, us)\nZONE=\n", "ZONE=${REGION:-eu}\n", tmp_path)
    assert r.ok, r.problems


def test_references_varlock_refuses(tmp_path: Path) -> None:
    r = run(PUBLIC + "A=\nB=\n", "A=${B}x\nB=${A}y\n", tmp_path)
    assert [p.code for p in r.problems] == ["undefined-ref"]
    assert "reference cycle (A -> B -> A)" in r.problems[0].message
    r = run(PUBLIC + "A=\n", "A=${NOPE:-fallback}\n", tmp_path, environ={"NOPE": "x"})
    assert found(r) == [(".env", 1, "A", "undefined-ref")]
    assert "neither in the schema nor in the env files" in r.problems[0].message


def test_defaults_are_not_values_for_python_dotenv_or_compose(tmp_path: Path) -> None:
    """An app that loads with python-dotenv (or gets env_file: from Compose) never reads the
    schema, so a default does not set its key there."""
    schema = PUBLIC + "# @required\nREGION=eu-west-1\n"
    for reader in ("python-dotenv", "compose"):
        r = run(schema, "", tmp_path, reader=reader)
        assert found(r) == [(".env.schema", 4, "REGION", "missing")]
        assert "is not read by" in r.problems[0].message and "env init" in r.problems[0].message


# ---- 2. empty assignments ----------------------------------------------------------------------


def test_an_empty_assignment_sets_no_value_and_the_default_stays(tmp_path: Path) -> None:
    schema = PUBLIC + "# @type=number\nWORKERS=4\n# @required\nNAME=\n"
    assert run(schema, "WORKERS=\nNAME=x\n", tmp_path).ok
    r = run(schema, "WORKERS=\nNAME=\n", tmp_path)
    assert found(r) == [(".env", 2, "NAME", "missing")]
    assert "has no value" in r.problems[0].message


def test_an_empty_string_is_a_value(tmp_path: Path) -> None:
    schema = PUBLIC + "# @type=number\nWORKERS=4\n# @required\nNAME=x\n"
    r = run(schema, "WORKERS=\"\"\nNAME=''\n", tmp_path)
    # both are required (they have defaults): "" replaces the default and is empty
    assert found(r) == [(".env", 1, "WORKERS", "missing"), (".env", 2, "NAME", "missing")]
    assert all("but is empty" in p.message for p in r.problems)


def test_an_empty_assignment_in_a_later_file_keeps_the_earlier_value(tmp_path: Path) -> None:
    schema = parse_schema(PUBLIC + "# @required\nNAME=\n")
    (tmp_path / ".env").write_text("NAME=x\n")
    (tmp_path / ".env.local").write_text("NAME=\n")
    srcs = [Source(tmp_path / n, n) for n in (".env", ".env.local")]
    assert check(schema, srcs, environ={}).ok
    (tmp_path / ".env.local").write_text('NAME=""\n')
    r = check(schema, srcs, environ={})
    assert found(r) == [(".env.local", 1, "NAME", "missing")]


# ---- 3. untyped items --------------------------------------------------------------------------


def test_an_untyped_item_takes_no_type_from_its_default(tmp_path: Path) -> None:
    r = run(PUBLIC + "COUNT=10\nFLAG=true\n", "COUNT=ten\nFLAG=maybe\n", tmp_path)
    assert r.ok, r.problems


# ---- 4. the current environment ----------------------------------------------------------------

ENVS = (
    "# @defaultSensitive=false @currentEnv=$APP_ENV\n# ---\n"
    "# @type=enum(dev, prod)\nAPP_ENV=dev\n# @required=forEnv(prod)\nSENTRY_DSN=\n"
)


def test_current_env_wins_over_the_env_option(tmp_path: Path) -> None:
    r = run(ENVS, "APP_ENV=prod\n", tmp_path, env_name="dev")
    assert r.env == "prod" and found(r) == [(".env.schema", 6, "SENTRY_DSN", "missing")]
    assert r.notes == ["--env dev is ignored: the schema's @currentEnv ($APP_ENV) is 'prod'"]
    # its default counts too; and the process environment comes first, as in varlock
    assert run(ENVS, "", tmp_path, env_name="prod").env == "dev"
    assert run(ENVS, "APP_ENV=dev\n", tmp_path, environ={"APP_ENV": "prod"}).env == "prod"


def test_env_option_when_the_schema_names_no_current_env(tmp_path: Path) -> None:
    schema = "# @defaultSensitive=false\n# ---\n# @required=forEnv(prod)\nSENTRY_DSN=\n"
    r = run(schema, "", tmp_path, env_name="prod")
    assert found(r) == [(".env.schema", 4, "SENTRY_DSN", "missing")]
    assert run(schema, "", tmp_path, env_name="dev").ok


def test_for_env_without_any_current_environment_is_a_schema_error(tmp_path: Path) -> None:
    schema = "# @defaultSensitive=false\n# ---\n# @required=forEnv(prod)\nSENTRY_DSN=\n"
    with pytest.raises(SchemaError) as info:
        run(schema, "", tmp_path)
    assert info.value.one_line().startswith(
        ".env.schema:3:3: SENTRY_DSN: @required=forEnv(...) needs a current environment, but "
        "the schema has no @currentEnv and no --env was given"
    )
    no_value = ENVS.replace("APP_ENV=dev", "APP_ENV=")
    with pytest.raises(SchemaError, match="the @currentEnv item APP_ENV has no value"):
        run(no_value, "", tmp_path)


def test_for_env_without_environment_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[project]\nname = "semantics"\n')
    (tmp_path / ".env.schema").write_text("# @required=forEnv(prod)\nSENTRY_DSN=\n")
    (tmp_path / ".env").write_text("SENTRY_DSN=\n")
    proc = run_cli("env", "check", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ".env.schema:1:3: SENTRY_DSN: @required=forEnv(...) needs a current environment" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert run_cli("env", "check", "--env", "dev", cwd=tmp_path).returncode == 0


# ---- 5. JavaScript regular expressions, noTrailingSlash -------------------------------------


@pytest.mark.parametrize(
    ("decl", "good", "bad"),
    [
        ("string(matches=/^[a-z]+$/)", "abc", "abc\n"),  # $ only at the very end
        ("string(matches=/^(dev|prod)$/)", "prod", "staging"),  # parentheses in a literal
        ("string(matches=/^ABC$/i)", "abc", "abd"),  # flags after the closing slash
        ("string(matches=/^a.c$/)", "abc", "a\nc"),  # . stops at line breaks
        ("string(matches=/^a.c$/s)", "a\nc", "ac"),
        ("string(matches=/^\\d+$/)", "123", "١٢٣"),  # \d is ASCII only
        ("string(matches=/^\\w+$/)", "abc_1", "été"),
        ("string(matches=/^(?<y>\\d\\d)-\\k<y>$/)", "20-20", "20-21"),  # named groups
        ("string(matches=/b/y)", "bc", "ab"),  # sticky: at the start
        ("string(matches=/[/(]x/)", "(x", "x"),  # a slash and a parenthesis in a class
        ('string(matches="^a$")', "a", "a\n"),  # a quoted pattern is JavaScript too
        ("url(noTrailingSlash=true)", "https://api.example.com/", "https://api.example.com/v1/"),
        ("url(noTrailingSlash=true)", "https://api.example.com", "http://x.io/a/"),
    ],
)
def test_javascript_regexes_and_trailing_slashes(decl: str, good: str, bad: str) -> None:
    item = parse_schema(f"# @type={decl}\nA=\n").items["A"]
    assert item.type.validate(good) is None
    assert item.type.validate(bad) is not None


@pytest.mark.parametrize(
    ("decl", "fragment"),
    [
        ("string(matches=/a/q)", "invalid flags 'q'"),
        ("string(matches=/a/ii)", "invalid flags 'ii'"),
        ("string(matches=/(/)", "not a valid regular expression"),
    ],
)
def test_bad_regexes_are_schema_errors(decl: str, fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema(f"# @type={decl}\nA=\n", ".env.schema")
    assert info.value.issues[0].line == 1 and fragment in info.value.issues[0].message


# ---- 6. decorator comments start the line ------------------------------------------------------


def test_an_indented_decorator_comment_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[project]\nname = "semantics"\n')
    (tmp_path / ".env.schema").write_text("A=1\n\n  # @required\nB=\n")
    proc = run_cli("env", "check", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("devenv: error: .env.schema:3:3: an indented decorator comment")


# ---- 7. readers --------------------------------------------------------------------------------

LINES = 'NAME=value#tag\nGREETING="tab\\there"\nPLAIN=same\n'


@pytest.mark.parametrize(
    ("reader", "name", "greeting"),
    [
        ("env-spec", "value", "tab\\there"),
        ("python-dotenv", "value#tag", "tab\there"),
        ("compose", "value#tag", "tab\there"),
    ],
)
def test_the_reader_decides_whose_values_are_checked(
    tmp_path: Path, reader: str, name: str, greeting: str
) -> None:
    schema = (
        PUBLIC + f"# @type=enum({name})\nNAME=\n# @type=string(isLength={len(greeting)})\n"
        "GREETING=\nPLAIN=\n"
    )
    r = run(schema, LINES, tmp_path, reader=reader)
    assert [p.code for p in r.problems] == ["compat", "compat"], r.problems
    by_key = {p.key: p.message for p in r.problems}
    assert by_key["NAME"] == (
        "@env-spec (varlock) reads this line differently from python-dotenv and Docker Compose: "
        "an inline '#': @env-spec starts a comment at any '#' in an unquoted value "
        '(python-dotenv reads "value#tag", Compose reads "value#tag", @env-spec reads "value")'
    )
    assert '@env-spec reads "tab\\\\there"' in by_key["GREETING"]


def test_a_sensitive_line_read_differently_shows_no_value(tmp_path: Path) -> None:
    r = run("TOKEN=\n", "TOKEN=sk-4242#secret-part\n", tmp_path)
    assert found(r) == [(".env", 1, "TOKEN", "compat")]
    assert "sk-4242" not in r.problems[0].message and "secret-part" not in r.problems[0].message
    # and the readers are still named (their names are not mistaken for values)
    assert r.problems[0].message.startswith(
        "@env-spec (varlock) reads this line differently from python-dotenv and Docker Compose"
    )


def test_values_devenv_does_not_evaluate(tmp_path: Path) -> None:
    r = run(PUBLIC + "# @type=number\nA=\nB=\n", "A=$(echo 12)\nB=fn(x)\n", tmp_path)
    assert [(p.key, p.code) for p in r.problems if p.code == "unsupported"] == [
        ("A", "unsupported"),
        ("B", "unsupported"),
    ]
    assert all(p.code != "type" for p in r.problems)


def test_reader_in_devenv_toml(tmp_path: Path) -> None:
    (tmp_path / ".env.schema").write_text(PUBLIC + "# @type=enum(value)\nNAME=\n")
    (tmp_path / ".env").write_text("NAME=value#tag\n")
    (tmp_path / "devenv.toml").write_text('[env]\nreader = "python-dotenv"\n')
    proc = run_cli("env", "check", "--json", cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert sorted(p["code"] for p in data["problems"]) == ["compat", "type"]
    (tmp_path / "devenv.toml").write_text('[env]\nreader = "env-spec"\n')
    data = json.loads(run_cli("env", "check", "--json", cwd=tmp_path).stdout)
    assert [p["code"] for p in data["problems"]] == ["compat"]
    (tmp_path / "devenv.toml").write_text('[env]\nreader = "dotenv"\n')
    proc = run_cli("env", "check", cwd=tmp_path)
    assert proc.returncode == 2
    assert "env.reader: expected env-spec, python-dotenv or compose, got 'dotenv'" in proc.stderr


# ---- 8. masks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["short1", "a-much-longer-secret-value-of-48-characters-xxxx"])
def test_a_masked_schema_value_shows_no_length(secret: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema(f'TOKEN="{secret}" junk\n# @nope\nB=\n', ".env.schema")
    text = "\n".join(info.value.details())
    assert secret not in text
    assert "  TOKEN=****\n        ^" in text and "*****" not in text


# ---- robustness ----------------------------------------------------------------------------------


def test_long_reference_chains_and_deep_nesting_are_no_crash(tmp_path: Path) -> None:
    n = 3000  # each key refers to the next: far deeper than Python's recursion limit
    schema = PUBLIC + "".join(f"K{i}=\n" for i in range(n + 1))
    env = "".join(f"K{i}=${{K{i + 1}}}\n" for i in range(n)) + f"K{n}=end\n"
    r = run(schema, env, tmp_path)
    assert r.ok, r.problems[:3]
    with pytest.raises(SchemaError, match="nested more than 32 deep"):
        parse_schema("# @type=string(matches=" + "f(" * 800 + ")" * 800 + ")\nA=\n")
    r = run(PUBLIC + "A=\n", "A=" + "f(" * 3000 + ")" * 3000 + "\n", tmp_path)
    assert [p.code for p in r.problems] == ["syntax"]
    assert "nested more than 32 deep" in r.problems[0].message
    deep = "A=" + "${B:-" * 3000 + "x" + "}" * 3000 + "\n"
    for reader in ("env-spec", "python-dotenv", "compose"):
        r = run(PUBLIC + "A=\nB=\n", deep, tmp_path, reader=reader)
        assert any("nested more than 64 deep" in p.message for p in r.problems), reader
