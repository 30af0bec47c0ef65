"""Reading a .env file as the @env-spec reference parser does: the npm package
``@env-spec/parser`` 0.0.8 (the parser varlock uses; its grammar is a peggy PEG), followed by
its ``expand()`` step and the value rules of its ``ParsedEnvSpecStaticValue`` class. The test
``tests/unit/envfile/test_envspec_node.py`` runs the real package on the same text.

What a line means:

- ``KEY=value`` with ``export `` allowed, spaces or tabs around the key; keys are
  ``[A-Za-z_][A-Za-z0-9_.-]*``. ``KEY=`` (or only spaces after it, or ``undefined``) sets *no
  value*; ``KEY=""`` is an empty string.
- Unquoted values run to the first ``#`` (no space needed before it) or the line's end, and are
  trimmed. The value must not start with a quote after spaces (``KEY= "x"`` is refused).
- ``"..."`` and ``'...'`` may span lines; a backtick string stays on one line; ``\"\"\"...\"\"\"``
  and triple backticks hold multi-line text and must start a new line after the opening quotes.
  Only the escaped quote itself (``\\"`` in ``"..."``) is special while scanning: ``\\\\`` is two
  backslashes.
- Escapes decoded: ``\\<quote>`` in any quoted value; ``\\$`` to ``$`` except in single quotes;
  ``\\n`` to a newline in ``"..."`` and backtick values only (not in triple-quoted ones).
- ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}`` (both meaning "default when
  unset or empty) expand, except in single quotes and when preceded by a backslash.
  ``$(command)`` would run a command: devenv never does (reported).
- A value that is a function call (``KEY=fn(...)``, a varlock resolver) is outside devenv's
  subset (reported, not evaluated).
- Comments start at the beginning of a line; an indented comment is refused, and so is a
  decorator comment that does not parse (``# @`` followed by no name) or a divider after a value.

Where devenv follows varlock 1.20 rather than the 0.0.8 package (both are tested): a line
holding only spaces or tabs is a blank line (0.0.8 refuses the file; varlock 1.20 accepts it, as
every other reader does); in an unquoted value the text around a reference stays as written
(``a ${B} c`` is ``a b c`` in varlock 1.20; 0.0.8 trims each piece, giving ``abc``); text after
a comment's decorators (``# @sensitive some words``) is accepted (0.0.8 refuses the file).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: What JavaScript's String.prototype.trim() strips (WhiteSpace and LineTerminator).
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)

_EXPORT = re.compile(r"[ \t]*export [ \t]*")
_KEY = re.compile(r"[ \t]*([a-zA-Z_][a-zA-Z0-9_.\-]*)[ \t]*")
_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_ARG_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*=")
_DIVIDER = re.compile(r"#[ \t]*[-=*#]{3}")
#: The grammar's IgnoredDecoratorComment: ``# @word: text`` or ``# @word text`` (prose).
_IGNORED_DECORATOR = re.compile(r"@[a-zA-Z]+(?::|[ \t]+(?![ \t@#]))")
_EXEC = re.compile(r"\$\(([^)]+)\)")
_SIMPLE_REF = re.compile(r"(?<!\\)\$([a-zA-Z_][a-zA-Z0-9_]*)")
_BRACED_REF = re.compile(r"(?<!\\)\$\{([a-zA-Z_][a-zA-Z0-9_.]*)((:?-)([^}]+))?\}")


@dataclass(frozen=True)
class Lit:
    """A static piece of a value. ``value`` is after the quote's own escape is removed (None:
    no value); ``quote`` is None, ``'``, ``"``, a backtick, or a triple quote."""

    value: str | None
    quote: str | None

    def unescaped(self) -> str | None:
        v = self.value
        if v is None:
            return None
        if self.quote != "'":
            v = v.replace("\\$", "$")
        if self.quote in ('"', "`"):
            v = v.replace("\\n", "\n")
        return v


@dataclass(frozen=True)
class Ref:
    """``$NAME`` / ``${NAME}``; with ``fallback`` for ``${NAME:-x}`` and ``${NAME-x}``."""

    name: str
    fallback: Lit | None = None


@dataclass(frozen=True)
class Exec:
    """``$(command)``: varlock runs it; devenv does not."""

    command: str


Part = Lit | Ref | Exec


@dataclass(frozen=True)
class Statement:
    key: str
    parts: tuple[Part, ...] | None  # None: no value (KEY= or a function call)
    call: str | None  # the function's name for KEY=fn(...)
    quote: str | None
    line: int
    end_line: int
    text: str

    @property
    def opaque(self) -> bool:
        """The value depends on something devenv does not evaluate (a command, a resolver)."""
        return self.call is not None or any(isinstance(p, Exec) for p in self.parts or ())

    @property
    def refs(self) -> list[str]:
        return [p.name for p in self.parts or () if isinstance(p, Ref)]


@dataclass(frozen=True)
class Issue:
    line: int
    col: int
    message: str


def static(raw: str, quote: str | None) -> Lit:
    """``new ParsedEnvSpecStaticValue({rawValue, quote})``: unquoted text is trimmed and
    ``undefined`` or nothing means no value (numbers and booleans it coerces print back as
    written); quoted text loses its quotes and the escaped quote character."""
    if quote is None:
        t = raw.strip(_JS_SPACE)
        return Lit(None if t in ("", "undefined") else t, None)
    q = quote[0]
    return Lit(raw[len(quote) : len(raw) - len(quote)].replace("\\" + q, q), quote)


def expand(lit: Lit, *, trim_pieces: bool = False) -> tuple[Part, ...]:
    """The reference's ``expand()``: ``$(...)``, then ``$NAME``, then ``${NAME...}``, and the
    text between them. varlock 1.20 keeps that text as written (``a ${B} c`` reads ``a b c``);
    the 0.0.8 package re-reads each piece as a static value, which trims unquoted pieces
    (``abc``): ``trim_pieces`` gives that reading, for the comparison test."""
    if lit.value is None or lit.quote == "'":
        return (lit,)
    parts: list[Part] = [lit]
    for pattern, make in _STEPS:
        out: list[Part] = []
        for p in parts:
            if isinstance(p, Lit) and p.value is not None:
                out.extend(_pieces(p, pattern, make, trim_pieces))
            else:
                out.append(p)
        parts = out
    return tuple(parts)


def _pieces(
    lit: Lit,
    pattern: re.Pattern[str],
    make: Callable[[re.Match[str], Lit], Part],
    trim: bool,
) -> list[Part]:
    assert lit.value is not None
    matches = list(pattern.finditer(lit.value))
    if not matches:
        return [lit]
    qs = lit.quote or ""

    def piece(text: str) -> Lit:
        if lit.quote is None and not trim:
            return Lit(text, None)
        return static(qs + text + qs, lit.quote)

    out: list[Part] = []
    last = 0
    for m in matches:
        if last < m.start():
            out.append(piece(lit.value[last : m.start()]))
        out.append(make(m, lit))
        last = m.end()
    if last < len(lit.value):
        out.append(piece(lit.value[last:]))
    return out


def _braced(m: re.Match[str], lit: Lit) -> Part:
    qs = lit.quote or ""
    default = m.group(4)
    return Ref(m.group(1), static(qs + default + qs, lit.quote) if default else None)


_STEPS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], Lit], Part]], ...] = (
    (_EXEC, lambda m, _lit: Exec(m.group(1))),
    (_SIMPLE_REF, lambda m, _lit: Ref(m.group(1))),
    (_BRACED_REF, _braced),
)


def resolve(parts: tuple[Part, ...] | None, lookup: Callable[[str], str | None]) -> str | None:
    """A value from its parts, as the package's ``simpleResolver`` does: a reference to a key
    with no value reads as ``""``; a fallback applies when the reference is unset or empty; a
    concatenation joins its pieces, a missing piece as ``""``."""
    if parts is None:
        return None
    if len(parts) == 1:
        return _one(parts[0], lookup)
    return "".join(_one(p, lookup) or "" for p in parts)


def _one(p: Part, lookup: Callable[[str], str | None]) -> str | None:
    if isinstance(p, Lit):
        return p.unescaped()
    if isinstance(p, Exec):
        return ""
    got = lookup(p.name)
    if p.fallback is None:
        return got if got is not None else ""
    if got:
        return got
    fb = p.fallback.unescaped()
    return fb if fb else None


# ---- the line grammar ------------------------------------------------------------------------


#: Function calls nest at most this deep (a file is not a program; Python's stack is finite).
MAX_NESTING = 32


class _Fail(Exception):
    def __init__(self, pos: int, message: str):
        self.pos = pos
        self.message = message


def parse(text: str, *, as_0_0_8: bool = False) -> tuple[list[Statement], list[Issue]]:
    """Every statement and every line the reference parser would refuse. The reference stops
    at its first error and loads nothing from the file; this reads on from the next line, so
    all of them are reported at once. ``as_0_0_8`` reads exactly as the 0.0.8 package does
    where varlock 1.20 differs (for the comparison test): unquoted text around a reference is
    trimmed, and text after a decorator comment's decorators is refused."""
    src = text.replace("\r\n", "\n")
    return _Reader(src, as_0_0_8).run()


class _Reader:
    def __init__(self, src: str, as_0_0_8: bool = False):
        self.as_0_0_8 = as_0_0_8
        self.depth = 0
        self.s = src
        self.n = len(src)
        self.starts = [0] + [m.end() for m in re.finditer("\n", src)]
        self.statements: list[Statement] = []
        self.issues: list[Issue] = []

    def line_of(self, pos: int) -> int:
        import bisect

        return bisect.bisect_right(self.starts, pos)

    def col_of(self, pos: int) -> int:
        return pos - self.starts[self.line_of(pos) - 1] + 1

    def eol(self, pos: int) -> int:
        e = self.s.find("\n", pos)
        return self.n if e < 0 else e

    def run(self) -> tuple[list[Statement], list[Issue]]:
        i = 0
        s = self.s
        while i < self.n:
            j = i
            while j < self.n and s[j] in " \t":
                j += 1
            if j >= self.n or s[j] == "\n":
                i = j + 1
                continue
            try:
                if s[j] == "#":
                    if j != i:
                        raise _Fail(
                            j,
                            "an indented comment: @env-spec comments start at the beginning of "
                            "the line",
                        )
                    self._comment(j, post=False)
                    i = self.eol(j) + 1
                    continue
                i = self._item(i) + 1
            except _Fail as f:
                self.issues.append(Issue(self.line_of(f.pos), self.col_of(f.pos), f.message))
                i = self.eol(f.pos) + 1
        return self.statements, self.issues

    def _comment(self, pos: int, *, post: bool) -> None:
        """A comment at ``pos`` (on ``#``) must read to the end of its line as the grammar's
        IgnoredDecoratorComment (``# @word: text``), DecoratorComment or Comment."""
        s = self.s
        if _DIVIDER.match(s, pos):
            if post:
                raise _Fail(pos, "a divider (# ---) cannot follow a value on the same line")
            return
        k = pos + 1
        while k < self.n and s[k] in " \t":
            k += 1
        if k >= self.n or s[k] != "@" or _IGNORED_DECORATOR.match(s, k):
            return
        k = self._decorator(k)
        while True:
            j = k
            while j < self.n and s[j] in " \t":
                j += 1
            if j > k and j < self.n and s[j] == "@":
                k = self._decorator(j)
                continue
            k = j
            break
        if k < self.n and s[k] == "#":
            k = self.eol(k)
        if k < self.n and s[k] != "\n" and self.as_0_0_8:
            raise _Fail(k, "a decorator comment must hold only @decorators (and a # comment)")
        # varlock 1.20 reads on: the text is attached to the decorator before it (a warning)

    def _decorator(self, k: int) -> int:
        """``@name``, ``@name(args)`` or ``@name=value``; the end, or _Fail."""
        s = self.s
        m = _NAME.match(s, k + 1)
        if m is None:
            raise _Fail(k + 1, "expected a decorator name after '@'")
        k = m.end()
        if k < self.n and s[k] == "(":
            end = self._args(k)
            if end is not None:
                return end
        if k < self.n and s[k] == "=":
            end = self._call(k + 1) or self._one_line_quoted(k + 1)
            if end is None:
                j = k + 1
                if j < self.n and s[j] not in "'\"`":
                    while j < self.n and s[j] not in "# \n":
                        j += 1
                end = j if j > k + 1 else None
            if end is not None:
                return end
        return k

    def _call(self, k: int) -> int | None:
        m = _NAME.match(self.s, k)
        if m is None or m.end() >= self.n or self.s[m.end()] != "(":
            return None
        return self._args(m.end())

    def _args(self, k: int) -> int | None:
        """End of ``(args)`` at ``k``: ``( _ (arg (_ , _ arg)*)? _ )``, no trailing comma."""
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _Fail(k, f"function calls nested more than {MAX_NESTING} deep")
            return self._args_at(k)
        finally:
            self.depth -= 1

    def _args_at(self, k: int) -> int | None:
        s = self.s

        def ws(j: int) -> int:
            while j < self.n and s[j] in " \t":
                j += 1
            return j

        j = ws(k + 1)
        end = self._arg(j)
        if end is not None:
            j = end
            while True:
                c = ws(j)
                if c < self.n and s[c] == ",":
                    nxt = self._arg(ws(c + 1))
                    if nxt is not None:
                        j = nxt
                        continue
                break
        j = ws(j)
        return j + 1 if j < self.n and s[j] == ")" else None

    def _arg(self, k: int) -> int | None:
        m = _ARG_KEY.match(self.s, k)
        if m is not None:
            end = self._arg_value(m.end())
            if end is not None:
                return end
        return self._arg_value(k)

    def _arg_value(self, k: int) -> int | None:
        end = self._call(k) or self._one_line_quoted(k)
        if end is not None:
            return end
        j = k
        while j < self.n and self.s[j] not in " \n,)":
            j += 1
        return j if j > k else None

    def _one_line_quoted(self, k: int) -> int | None:
        if k >= self.n or self.s[k] not in "'\"`":
            return None
        q = self.s[k]
        close, newline = self._scan(k + 1, q, "\\" + q)
        return close + 1 if close is not None and not newline else None

    def _item(self, i: int) -> int:
        s = self.s
        # `export ` is taken whenever it is there (a PEG does not backtrack into it)
        ex = _EXPORT.match(s, i)
        m = _KEY.match(s, ex.end() if ex else i)
        if m is None:
            j = i
            while j < self.n and s[j] in " \t":
                j += 1
            raise _Fail(j, "expected KEY=value")
        key = m.group(1)
        p = m.end()
        if p >= self.n or s[p] != "=":
            what = "the end of the line" if p >= self.n or s[p] == "\n" else repr(s[p])
            raise _Fail(p, f"expected '=' after {key}, found {what}")
        p += 1
        start_line = self.line_of(i)
        parts: tuple[Part, ...] | None = None
        call: str | None = None
        quote: str | None = None
        k = p
        end_fn = self._call(p)
        if end_fn is not None:
            call = s[p : s.index("(", p)]
            k = end_fn
        elif p < self.n and s[p] in "'\"`":
            quote, k = self._quoted(p)
            parts = expand(static(s[p:k], quote), trim_pieces=self.as_0_0_8)
        else:
            k = p
            while k < self.n and s[k] in " \t":
                k += 1
            if k < self.n and s[k] in "'\"`":
                raise _Fail(
                    k,
                    "a quote after spaces: write KEY=\"value\" with no space after '='",
                )
            while k < self.n and s[k] not in "#\n":
                k += 1
            if k > p:
                lit = static(s[p:k], None)
                parts = expand(lit, trim_pieces=self.as_0_0_8) if lit.value is not None else None
        end = k
        while k < self.n and s[k] in " \t":
            k += 1
        if k < self.n and s[k] == "#":
            self._comment(k, post=True)
            k = self.eol(k)
        elif k < self.n and s[k] != "\n":
            raise _Fail(k, "text after the closing quote: quote the whole value")
        self.statements.append(
            Statement(
                key,
                parts,
                call,
                quote,
                start_line,
                self.line_of(max(end - 1, i)),
                s[i:end],
            )
        )
        return k

    def _quoted(self, p: int) -> tuple[str, int]:
        """(quote, end) of the quoted value starting at ``p``, in the grammar's order: a
        multi-line '...' or "...", then triple quotes, then a one-line quoted string."""
        s = self.s
        q = s[p]
        if q in "'\"":
            close, newline = self._scan(p + 1, q, "\\" + q)
            if close is not None and newline:
                return q, close + 1
        for triple in ('"""', "```"):
            if s.startswith(triple, p):
                close, newline = self._scan(p + 3, triple, "\\" + triple)
                if close is not None and newline:
                    return triple, close + 3
        close, newline = self._scan(p + 1, q, "\\" + q)
        if close is not None and not newline:
            return q, close + 1
        raise _Fail(
            p,
            f"unterminated {q} quote: no closing {q} "
            + ("on this line" if q == "`" else "before the end of the file"),
        )

    def _scan(self, k: int, close: str, escape: str) -> tuple[int | None, bool]:
        """Where ``close`` ends a quoted value from ``k`` (skipping ``escape``), and whether a
        newline came first. A backtick or a one-line quote stops at the first newline."""
        s = self.s
        multi = len(close) == 3 or close in "'\""
        newline = False
        while k < self.n:
            if s.startswith(escape, k):
                k += len(escape)
            elif s.startswith(close, k):
                return k, newline
            elif s[k] == "\n":
                if not multi or close == "`":
                    return None, newline
                newline = True
                k += 1
            else:
                k += 1
        return None, newline
