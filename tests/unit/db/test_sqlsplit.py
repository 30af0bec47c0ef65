"""The statement splitter: what can hide a semicolon, and the line each statement starts on."""

from __future__ import annotations

import pytest

from devenv.db.sqlsplit import SplitError, split


def texts(sql: str) -> list[str]:
    return [s.text for s in split(sql)]


def test_plain_statements_and_lines() -> None:
    sql = "-- header\n\ncreate table a (x int);\n\n  insert into a values (1);\nselect 1"
    stmts = split(sql)
    assert [s.text for s in stmts] == [
        "create table a (x int)",
        "insert into a values (1)",
        "select 1",
    ]
    assert [s.line for s in stmts] == [3, 5, 6]


def test_semicolons_inside_quotes_comments_and_dollar_bodies() -> None:
    sql = (
        "select 'a;b', E'c\\';d', \"we;ird\";\n"
        "/* outer /* nested; */ still; */ select 2;\n"
        "create function f() returns int language plpgsql as $body$\n"
        "begin\n  perform 1; return 2;\nend;\n$body$;\n"
        "select $$x;y$$;"
    )
    out = texts(sql)
    assert len(out) == 4
    assert out[0].startswith("select 'a;b'")
    assert out[2].endswith("$body$")
    assert out[3] == "select $$x;y$$"


def test_begin_atomic_body_is_one_statement() -> None:
    sql = (
        "create or replace function g(a int) returns int language sql\n"
        "begin atomic\n  select case when a > 0 then 1 else 0 end;\n  select 2;\nend;\n"
        "select 3;"
    )
    out = texts(sql)
    assert len(out) == 2
    assert out[0].endswith("end")
    assert out[1] == "select 3"


def test_comment_only_and_blank_pieces_are_dropped() -> None:
    assert texts("  ;\n-- only a comment\n;/* c */;") == []


def test_line_of_a_position_inside_a_statement() -> None:
    stmts = split("\n\nselect\n  1,\n  nonsense here;")
    s = stmts[0]
    pos = s.text.index("nonsense") + 1
    assert s.line == 3
    assert s.line_of(pos) == 5


@pytest.mark.parametrize(
    ("sql", "what", "line"),
    [
        ("select 1;\nselect 'open", "string literal", 2),
        ('select "x', "quoted identifier", 1),
        ("select 1;\n\nselect $t$ abc", "dollar-quoted string $t$", 3),
        ("/* never closed", "/* comment", 1),
    ],
)
def test_unterminated_things_name_their_line(sql: str, what: str, line: int) -> None:
    with pytest.raises(SplitError) as ei:
        split(sql)
    assert ei.value.what == what
    assert ei.value.line == line
