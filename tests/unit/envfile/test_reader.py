"""Reading env files with file:line positions and the per-file problems: encoding, size, BOM,
line endings, syntax, duplicates, swallowed lines, and the lines python-dotenv, Docker Compose
and @env-spec read differently. Most tests here choose the python-dotenv reader (``DOTENV``);
the @env-spec reader's own tests are at the end (and against the reference in
test_envspec_node.py)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devenv.envfile.reader import read_bytes, read_file, read_text

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "env"


DOTENV = "python-dotenv"


def codes(text: str, reader: str = DOTENV) -> list[tuple[int, str | None, str]]:
    f = read_text(text, ".env", environ={}, reader=reader)
    return [(p.line, p.key, p.code) for p in f.problems]


def test_values_and_lines_match_python_dotenv() -> None:
    text = (
        "# comment\n\nA=1\n  export B = 'two words'  # note\nC=\"multi\nline\"\n\n\nD=${A}-x\n"
        "E=\nF\nG='single \\' quote'\n"
    )
    f = read_text(text, ".env", environ={}, reader=DOTENV)
    assert {e.key: e.value for e in f.entries} == dotenv_values(stream=io.StringIO(text))
    assert [(e.key, e.line, e.end_line) for e in f.entries] == [
        ("A", 3, 3), ("B", 4, 4), ("C", 5, 6), ("D", 9, 9), ("E", 10, 10), ("F", 11, 11),
        ("G", 12, 12),
    ]  # fmt: skip
    # The @env-spec parser refuses `B = 'x'` (a quote after spaces) and a bare key.
    assert [(p.line, p.code) for p in f.problems] == [(4, "compat"), (11, "compat")]
    assert all("@env-spec parser (varlock) refuses the whole file" in p.message for p in f.problems)


def test_windows_line_endings() -> None:
    f = read_file(FIXTURES / "crlf.env", "crlf.env", environ={}, reader=DOTENV)
    assert [(e.key, e.value, e.line) for e in f.entries] == [
        ("APP_ENV", "development", 1),
        ("REDIS_URL", "redis://127.0.0.1:54379/0", 2),
        ("RATE_LIMIT_REQUESTS", "100", 5),
    ]
    assert f.problems == []  # both parsers read CRLF files alike


def test_byte_order_mark() -> None:
    f = read_file(FIXTURES / "bom.env", "bom.env", environ={}, reader=DOTENV)
    assert [(p.line, p.key, p.code) for p in f.problems] == [(1, "APP_ENV", "bom")]
    assert "'\\ufeffAPP_ENV'" in f.problems[0].message
    assert f.entries[0].key == "APP_ENV"  # checked as the key the user meant


def test_unterminated_quote() -> None:
    f = read_file(FIXTURES / "unterminated.env", "u.env", environ={}, reader=DOTENV)
    assert [e.key for e in f.entries] == ["FIRST", "LAST"]  # python-dotenv skips one line
    assert [(p.line, p.key, p.code) for p in f.problems] == [
        (2, "BROKEN", "syntax"),
        (2, "BROKEN", "compat"),
        (2, "BROKEN", "compat"),
    ]
    assert 'unterminated " quote' in f.problems[0].message
    assert "Docker Compose refuses the whole file" in f.problems[1].message
    assert "@env-spec parser (varlock) refuses the whole file" in f.problems[2].message


def test_a_missing_closing_quote_that_swallows_lines() -> None:
    f = read_file(FIXTURES / "swallowed.env", "s.env", environ={}, reader=DOTENV)
    assert [e.key for e in f.entries] == ["FIRST", "OPENED", "FOURTH"]
    [p] = f.problems
    assert (p.line, p.key, p.code) == (2, "OPENED", "multiline")
    assert "runs to line 4 and swallows 2 line(s)" in p.message


def test_binary_garbage_and_other_encodings() -> None:
    f = read_file(FIXTURES / "binary.env", "b.env")
    assert not f.readable and f.entries == []
    assert [(p.line, p.code) for p in f.problems] == [(4, "encoding")]
    f = read_file(FIXTURES / "latin1.env", "l.env")
    assert [(p.line, p.code) for p in f.problems] == [(2, "encoding")]
    assert "byte 0xe9" in f.problems[0].message and "caf" not in f.problems[0].message


def test_a_five_megabyte_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / ".env"
    big.write_bytes(b"A=" + b"x" * (5 * 1024 * 1024) + b"\n")
    t = time.perf_counter()
    f = read_file(big, ".env")
    assert time.perf_counter() - t < 1.0  # refused from its size, not parsed
    assert [(p.line, p.code) for p in f.problems] == [(0, "too-large")]
    assert "5.2 MB" in f.problems[0].message


def test_unreadable(tmp_path: Path) -> None:
    assert read_file(tmp_path, "dir").problems[0].code == "unreadable"


def test_duplicates_and_undefined_references() -> None:
    assert codes("A=1\nB=${A}\nA=2\nC=${NOPE}\nD=${NOPE:-fine}\nE=${X-y}\n") == [
        (3, "A", "duplicate"),
        (4, "C", "undefined-ref"),
        (6, "E", "undefined-ref"),  # python-dotenv looks up a variable named "X-y"
        (6, "E", "compat"),  # Compose reads "y"
    ]
    f = read_text("B=${HOME_ISH}\n", ".env", environ={"HOME_ISH": "/h"}, reader=DOTENV)
    assert f.entries[0].value == "/h" and f.problems == []
    # A later file sees what earlier files set.
    f = read_text("B=${A}x\n", ".env", environ={}, inherited={"A": "1"}, reader=DOTENV)
    assert f.entries[0].value == "1x" and f.problems == []


def test_compat_fixture_flags_exactly_the_lines_compose_reads_differently() -> None:
    f = read_file(FIXTURES / "compat.env", "c.env", environ={}, reader=DOTENV)
    found = {p.key: p.message for p in f.problems if p.code == "compat"}
    assert set(found) == {
        "BARE", "SINGLE", "DOLLARS", "TAB_COMMENT", "SOFT", "HARD", "SQ_BACKSLASH", "HASH",
        "ESCAPES",
    }  # fmt: skip
    assert "$VAR without braces" in found["BARE"]
    assert "inside single quotes" in found["SINGLE"]
    assert "'$$'" in found["DOLLARS"]
    assert "inline comment" in found["TAB_COMMENT"]
    assert "set but empty" in found["SOFT"]
    assert "${VAR-x}" in found["HARD"]
    assert "\\\\ and \\'" in found["SQ_BACKSLASH"]
    # @env-spec: '#' starts a comment anywhere in an unquoted value; \t is not an escape.
    assert "@env-spec starts a comment at any '#'" in found["HASH"]
    assert found["HASH"].startswith("@env-spec (varlock) reads this line differently from")
    assert "decodes only \\n, \\$ and the escaped quote" in found["ESCAPES"]
    assert f.readings[4] == {
        "python-dotenv": "$HOST/path", "compose": "example.com/path", "env-spec": "example.com/path"
    }  # fmt: skip
    assert f.readings[9]["env-spec"] == "value"
    # Read alike by all three: export, ${VAR}, " #" comments, multi-line quotes.
    assert not {"PLAIN", "BRACED", "SPACE_COMMENT", "MULTI", "EMPTY"} & set(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML style: python-dotenv skips, Compose reads, @env-spec refuses the file
        ("A: 1\n", [(1, "A", "syntax"), (1, None, "compat")]),
        ('A="x" junk\n', [(1, "A", "syntax"), (1, "A", "compat")]),
        ("A B=1\n", [(1, None, "syntax"), (1, None, "compat"), (1, None, "compat")]),
        ("A=1\rB=2\r", [(1, None, "compat"), (1, "A", "compat"), (2, "B", "compat")]),
        ("A=${B:?need B}\n", [(1, "A", "compat")]),  # Compose refuses the file
        ('A="\\$x"\n', [(1, "A", "compat")]),
    ],
)
def test_parser_dependent_lines(text: str, expected: list[tuple[int, str | None, str]]) -> None:
    assert codes(text) == expected


def test_syntax_messages_never_quote_the_line() -> None:
    f = read_text('SECRET="hunter2-password-value\n', ".env", environ={})
    assert f.problems and all("hunter2" not in p.message for p in f.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    f = read_bytes(data, ".env", environ={})
    for p in f.problems:
        assert p.line >= 0 and p.file == ".env"


_ENV_TEXT = st.lists(
    st.sampled_from(
        ["A", "B_2", "export ", "=", "'", '"', "\\", "$", "{", "}", "${A}", "$A", ":-", "#", " #",
         "\t", " ", "\n", "\r\n", "\r", "x", ":", "\ufeff", "é", "$$"]
    ),
    max_size=50,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), _ENV_TEXT))
def test_values_agree_with_python_dotenv_on_arbitrary_text(text: str) -> None:
    # Both interpolate from the real process environment here: same inputs, same answer.
    f = read_text(text, ".env", environ=os.environ, reader=DOTENV)
    stripped = text.removeprefix("\ufeff")
    assert f.values() == dict(dotenv_values(stream=io.StringIO(stripped)))
    lines = len(stripped.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    for e in f.entries:
        assert 1 <= e.line <= e.end_line <= lines


_PLAIN_PIECES = st.lists(
    st.sampled_from(
        ["A", "B", "K_1", "=", "x", "1", ".", "-", ":", "@", '"', "'", " ", "#", "$", "\\",
         "\n", "\n", "\r\n", "undefined", "`"]
    ),
    max_size=40,
).map("".join)  # fmt: skip


_PLAIN_FILE = "# c\nA=1\nB=\"two words\"\r\nC='x y'\n\n# @required\nD=\nA=http://h:1/p\n# @ x\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PLAIN_PIECES, st.sampled_from(["env-spec", "python-dotenv", "compose"]))
@example(_PLAIN_FILE, "env-spec")
@example(_PLAIN_FILE, "python-dotenv")
@example(_PLAIN_FILE, "compose")
def test_the_plain_file_shortcut_reads_as_the_three_parsers_do(text: str, reader: str) -> None:
    """Files whose every line all three read alike skip python-dotenv's and Compose's parsers;
    whenever the shortcut is taken, the outcome is the one the parsers give."""
    from devenv.envfile import reader as reader_mod

    fast = read_text(text, ".env", environ={}, reader=reader)
    real = reader_mod._all_plain
    reader_mod._all_plain = lambda text: False
    try:
        slow = read_text(text, ".env", environ={}, reader=reader)
    finally:
        reader_mod._all_plain = real
    if text == _PLAIN_FILE:
        assert real(text) and fast.problems  # the shortcut was taken; A twice, '# @ x'
    if real(text):
        assert fast.values() == slow.values()
        assert fast.problems == slow.problems
        assert fast.readings == slow.readings
        assert [(e.key, e.line, e.end_line) for e in fast.entries] == [
            (e.key, e.line, e.end_line) for e in slow.entries
        ]
