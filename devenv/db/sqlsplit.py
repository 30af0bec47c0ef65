"""Split a SQL file into statements the way psql does, keeping each statement's line number.

Migrations and SQL seeds run one statement at a time so that any failure, including run-time ones
the server reports without a cursor position (a constraint violation, a division by zero), can be
pinned to the file, the line and the statement. The lexer follows psql's (psqlscan.l) rules for
what can hide a semicolon: single-quoted and E'' strings, double-quoted identifiers, dollar quotes,
``--`` and nested ``/* */`` comments, parentheses, and ``BEGIN ... END`` bodies of
``CREATE [OR REPLACE] FUNCTION|PROCEDURE`` (SQL-standard ``BEGIN ATOMIC`` bodies), with ``CASE``
counted inside them as psql counts it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(
    r"""
      (?P<comment>--[^\n]*)
    | (?P<block>/\*)
    | (?P<estring>[eE]')
    | (?P<string>')
    | (?P<ident>")
    | (?P<dollar>\$(?:[A-Za-z_\x80-\uffff][A-Za-z_0-9\x80-\uffff]*)?\$)
    | (?P<word>[A-Za-z_\x80-\uffff][A-Za-z_0-9$\x80-\uffff]*)
    | (?P<param>\$[0-9]+)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<semi>;)
    """,
    re.VERBOSE,
)
_BLOCK_TOKEN = re.compile(r"/\*|\*/")
_ESTRING_END = re.compile(r"\\.|''|'", re.DOTALL)
_STRING_END = re.compile(r"''|'")
_IDENT_END = re.compile(r'""|"')


def read_sql(path: Path, error: Callable[[str, str], Exception]) -> str:
    """A SQL file's text as :func:`split` takes it: UTF-8 (a BOM dropped), LF line ends. A
    file that cannot be read or is not UTF-8 raises ``error(message, hint)`` (the migration's or
    the seed set's error)."""
    try:
        return path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}", "check the file") from None


@dataclass(frozen=True)
class Statement:
    """One statement: its text (without the terminating semicolon) and where it starts."""

    text: str
    line: int  # 1-based line of the statement's first non-blank character
    offset: int  # character offset of that character in the file

    def line_of(self, position: int) -> int:
        """The file line of a 1-based character ``position`` inside this statement."""
        return self.line + self.text.count("\n", 0, max(0, position - 1))

    def excerpt(self, limit: int = 80) -> str:
        one = " ".join(self.text.split())
        return one if len(one) <= limit else one[: limit - 1] + "…"


class SplitError(ValueError):
    """Unterminated string, identifier, dollar quote or comment. ``line`` is where it starts."""

    def __init__(self, what: str, line: int):
        super().__init__(f"unterminated {what} starting at line {line}")
        self.what = what
        self.line = line


def _is_blank(text: str) -> bool:
    """True when ``text`` holds only whitespace and comments."""
    stripped = re.sub(r"--[^\n]*", "", text)
    stripped = re.sub(r"/\*.*?\*/", "", stripped, flags=re.DOTALL)
    return not stripped.strip()


_NOISE = re.compile(r"\s+|--[^\n]*")


def _leading_noise(text: str) -> int:
    """Length of the whitespace and comments before the first code character."""
    i = 0
    while True:
        m = _NOISE.match(text, i)
        if m:
            i = m.end()
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while depth and j < len(text):
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            continue
        return i


def split(sql: str) -> list[Statement]:
    """The statements of ``sql`` in order. Blank and comment-only pieces are dropped."""
    out: list[Statement] = []
    start = 0
    pos = 0
    paren = 0
    begin_depth = 0
    words: list[str] = []  # the statement's first identifiers, lower-cased, for the heuristic
    n = len(sql)

    def line_at(i: int) -> int:
        return sql.count("\n", 0, i) + 1

    def emit(end: int) -> None:
        piece = sql[start:end]
        if _is_blank(piece):
            return
        lead = _leading_noise(piece)
        # Leading comments belong to the statement but the line we report is its first code line.
        code_at = start + lead
        body = piece[lead:].rstrip()
        out.append(Statement(text=body, line=line_at(code_at), offset=code_at))

    while pos < n:
        m = _TOKEN.search(sql, pos)
        if m is None:
            break
        kind = m.lastgroup
        pos = m.end()
        if kind == "comment" or kind == "param":
            continue
        if kind == "block":
            depth = 1
            while depth:
                b = _BLOCK_TOKEN.search(sql, pos)
                if b is None:
                    raise SplitError("/* comment", line_at(m.start()))
                depth += 1 if b.group() == "/*" else -1
                pos = b.end()
        elif kind in ("string", "estring", "ident"):
            pattern = {"string": _STRING_END, "estring": _ESTRING_END, "ident": _IDENT_END}[kind]
            while True:
                e = pattern.search(sql, pos)
                if e is None:
                    what = "quoted identifier" if kind == "ident" else "string literal"
                    raise SplitError(what, line_at(m.start()))
                pos = e.end()
                if e.group() in ("'", '"'):
                    break
            if kind == "ident":
                words.append("\0")  # a quoted word still counts as an identifier position
        elif kind == "dollar":
            tag = m.group()
            end = sql.find(tag, pos)
            if end < 0:
                raise SplitError(f"dollar-quoted string {tag}", line_at(m.start()))
            pos = end + len(tag)
        elif kind == "word":
            w = m.group().lower()
            if len(words) < 4:
                words.append(w)
            if _in_routine(words) and paren == 0:
                if w == "begin" or (w == "case" and begin_depth >= 1):
                    begin_depth += 1
                elif w == "end" and begin_depth > 0:
                    begin_depth -= 1
        elif kind == "open":
            paren += 1
        elif kind == "close":
            paren = max(0, paren - 1)
        elif kind == "semi" and paren == 0 and begin_depth == 0:
            emit(m.start())
            start = pos
            words = []
            begin_depth = 0
    emit(n)
    return out


def _in_routine(words: list[str]) -> bool:
    """CREATE [OR REPLACE] FUNCTION|PROCEDURE, as psql recognises it."""
    if not words or words[0] != "create" or len(words) < 2:
        return False
    if words[1] in ("function", "procedure"):
        return True
    return (
        len(words) >= 4
        and words[1] == "or"
        and words[2] == "replace"
        and words[3] in ("function", "procedure")
    )
