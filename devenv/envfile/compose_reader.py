"""How Docker Compose reads an env file: a port of compose-go's ``dotenv`` parser and
``template`` interpolation (compose-spec/compose-go, dotenv/parser.go and template/template.go,
the code behind ``env_file:`` and ``--env-file`` in Compose v2).

It exists to find lines that python-dotenv and Compose read differently, so it reproduces
Compose's reading, quirks included:

- a UTF-8 BOM is skipped (python-dotenv keeps it in the first key);
- ``export`` followed by whitespace is dropped; ``KEY: value`` is accepted like ``KEY=value``;
- unquoted values end at the line's end, an inline comment starts only at ``" #"`` (a space,
  not a tab), and trailing whitespace is trimmed;
- single-quoted values are literal (only ``\\'`` is unescaped; no interpolation);
- double-quoted values decode ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\" \\$`` and
  ``\\0NNN`` octal, then interpolate; quoted values may span lines;
- unquoted and double-quoted values interpolate ``$VAR``, ``${VAR}``, ``${VAR:-d}``,
  ``${VAR-d}``, ``${VAR:+a}``, ``${VAR+a}``, ``${VAR:?err}``, ``${VAR?err}`` and ``$$``;
- Compose refuses the whole file on an unterminated quote, a bad character in a key, a key with
  a space, an invalid ``${...}`` or a ``${VAR:?}`` whose variable is missing.

Compose stops at its first error. This port records the error and carries on at the next line,
so one run reports every line that would matter once the first is fixed.

Interpolation looks values up in the file itself (earlier keys) and in ``lookup``; callers pass
an empty lookup to compare the two parsers independently of the shell that runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: A key read with no value (``KEY`` alone on a line): Compose takes it from the environment.
INHERITED = None

_EXPORT = re.compile(r"export[ \t\n\f\r]+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*"
    r"(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0")
_SPACE = frozenset("\t\v\f\r \x85\xa0")  # compose-go's isSpace: not a line break
_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Read:
    """One key as Compose reads it; ``start`` is the offset of the statement in the text."""

    key: str
    value: str | None
    start: int


@dataclass(frozen=True)
class ReadError:
    """Compose refuses the file here (offset); ``message`` never contains a value."""

    start: int
    message: str


class _Error(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _isspace(c: str) -> bool:
    # Go's unicode.IsSpace: Latin-1 spaces listed explicitly, Unicode White_Space beyond.
    return c in _GO_SPACE or (ord(c) > 0xFF and c.isspace())


def _is_name_char(c: str) -> bool:
    return c in "_.-[]" or c.isalpha() or c.isnumeric()


def parse(text: str, lookup: Lookup | None = None) -> tuple[list[Read], list[ReadError]]:
    """Every key Compose reads from ``text`` (in order), and where it would refuse the file."""
    look: Lookup = lookup or (lambda _k: None)
    src = text.removeprefix("\ufeff")
    base = len(text) - len(src)
    reads: list[Read] = []
    errors: list[ReadError] = []
    values: dict[str, str] = {}
    pos = 0
    n = len(src)
    while True:
        pos = _statement_start(src, pos)
        if pos >= n:
            break
        start = pos
        try:
            key, pos, inherited = _key(src, pos)
            if " " in key:
                raise _Error("a key cannot contain a space")
            if inherited:
                v = look(key)
                if v is not None:
                    values[key] = v
                reads.append(Read(key, INHERITED, base + start))
                continue
            value, pos = _value(src, pos, values, look)
            values[key] = value
            reads.append(Read(key, value, base + start))
        except _Error as exc:
            errors.append(ReadError(base + start, exc.message))
            nl = src.find("\n", start)
            pos = n if nl < 0 else nl + 1
    return reads, errors


def _statement_start(src: str, pos: int) -> int:
    n = len(src)
    while True:
        while pos < n and _isspace(src[pos]):
            pos += 1
        if pos >= n or src[pos] != "#":
            return pos
        nl = src.find("\n", pos)
        if nl < 0:
            return n
        pos = nl


def _key(src: str, pos: int) -> tuple[str, int, bool]:
    m = _EXPORT.match(src, pos)
    if m:
        pos += len("export")
        while pos < len(src) and src[pos] in _SPACE:
            pos += 1
    i = pos
    n = len(src)
    if pos >= n:  # "export" and nothing after it
        raise _Error("zero length string")
    while i < n:
        c = src[i]
        if c in _SPACE:
            i += 1
            continue
        if c in "=:\n":
            key = src[pos:i].rstrip("".join(_GO_SPACE))
            j = i + 1
            while j < n and src[j] in _SPACE:
                j += 1
            return key, j, c == "\n"
        if not _is_name_char(c):
            raise _Error(f"unexpected character {c!r} in a key")
        i += 1
    # No '=' before the end: compose-go reads an empty key whose value is the rest.
    return "", pos, False


def _value(src: str, pos: int, values: dict[str, str], look: Lookup) -> tuple[str, int]:
    n = len(src)
    q = src[pos] if pos < n else ""
    if q not in ("'", '"'):
        nl = src.find("\n", pos)
        end = n if nl < 0 else nl
        raw = src[pos:end]
        cut = raw.find(" #")
        if cut >= 0:
            raw = raw[:cut]
        raw = raw.rstrip("".join(_GO_SPACE))
        return _substitute(raw, values, look), end
    chars: list[str] = []
    escape = False
    i = pos + 1
    while i < n:
        c = src[i]
        if c != q:
            if not escape and c == "\\":
                escape = True
            else:
                if escape:
                    escape = False
                    chars.append("\\")
                chars.append(c)
            i += 1
            continue
        if escape:
            escape = False
            chars.append(c)
            i += 1
            continue
        value = "".join(chars)
        if q == '"':
            value = _substitute(_expand_escapes(value), values, look)
        return value, i + 1
    raise _Error("unterminated quoted value")


def _expand_escapes(s: str) -> str:
    def one(m: re.Match[str]) -> str:
        t = m.group()
        if t == "\\$":
            return "$$"  # the template engine's own escape for a literal '$'
        c = t[1]
        if c in _SIMPLE:
            return _SIMPLE[c]
        if c == "0":
            digits = t[2:]
            if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
                return chr(int(digits, 8))
        return t  # `\c`, short octal: Go's UnquoteChar fails and the text stays

    return _ESCAPE.sub(one, s)


# ---- template.Substitute -------------------------------------------------------------------


def _substitute(template: str, values: dict[str, str], look: Lookup) -> str:
    def mapping(name: str) -> str | None:
        v = look(name)
        return v if v is not None else values.get(name)

    return _subst(template, mapping)


#: ``${A:-${B:-...}}`` is followed this deep; Python's stack is finite, and no real file nests so.
MAX_NESTING = 64


def _subst(template: str, mapping: Callable[[str], str | None], depth: int = 0) -> str:
    if depth > MAX_NESTING:
        raise _Error(f"${{...}} nested more than {MAX_NESTING} deep (devenv stops following it)")
    out: list[str] = []
    last = 0
    for m in _PATTERN.finditer(template):
        out.append(template[last : m.start()])
        out.append(_replace(m.group(), mapping, depth))
        last = m.end()
    out.append(template[last:])
    return "".join(out)


def _replace(substring: str, mapping: Callable[[str], str | None], depth: int = 0) -> str:
    op = _operator(substring)
    close = _first_closing_brace(substring)
    rest = ""
    if close > -1:
        rest = substring[close + 1 :]
        substring = substring[: close + 1]
    m = _PATTERN.match(substring)
    if m is None:
        raise _Error("invalid interpolation")
    if m.group("escaped"):
        return "$"
    braced = False
    name = m.group("named") or ""
    if not name:
        name = m.group("braced") or ""
        braced = True
    if not name:
        raise _Error("invalid interpolation (${} needs a variable name)")
    if braced and op:
        applied = _apply(op, name, mapping, depth)
        if applied is not None:
            return applied + _subst(rest, mapping, depth + 1)
    value = mapping(name)
    return value if value is not None else ""


def _operator(template: str) -> str:
    found = [(template.find(op), k, op) for k, op in enumerate((":?", "?", ":-", "-", ":+", "+"))]
    present = sorted((i, k, op) for i, k, op in found if i >= 0)
    return present[0][2] if present else ""


def _apply(
    op: str, substitution: str, mapping: Callable[[str], str | None], depth: int = 0
) -> str | None:
    if op not in substitution:
        return None
    name, arg = substitution.split(op, 1)
    value = mapping(name)
    if op in (":-", "-"):
        if value is None or (op == ":-" and value == ""):
            return _subst(arg, mapping, depth + 1)
        return value
    if op in (":+", "+"):
        if value is not None and (op == "+" or value != ""):
            return _subst(arg, mapping, depth + 1)
        return value or ""
    if value is None or (op == ":?" and value == ""):
        raise _Error(f"required variable {name} is missing a value")
    return value


def _first_closing_brace(s: str) -> int:
    depth = 0
    i = 0
    while i < len(s):
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if s[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1
