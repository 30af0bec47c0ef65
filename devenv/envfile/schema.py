"""A parser for `.env.schema` files in the ``@env-spec`` comment-decorator format (the format
varlock reads), a documented subset of it, with every error placed at file:line:column.

The subset
==========

Layout (as in env-spec):

- ``KEY=value`` items (``export`` allowed), keys ``[A-Za-z_][A-Za-z0-9_.-]*``. The value is the
  item's default: unquoted (up to a ``#``, trimmed), or quoted with ``"``, ``'`` or a backtick on
  one line (the matching quote may be escaped with a backslash; ``\\n`` becomes a newline). An
  empty value means "no default". Function-call values (varlock resolvers such as
  ``fetchSecret(...)``) and multi-line values are outside the subset and reported.
- Comment lines directly above an item (no blank line between) attach to it; a blank line or a
  divider (``# ---``, ``# ===``, three or more of ``-=*#``) ends a comment block. A comment after
  the value on the item's line attaches to it too.
- Comment blocks before the first item form the *header*; decorators there are root decorators.
- A comment whose text starts with ``@`` holds decorators: ``@name``, ``@name=value`` or
  ``@name(args)``, separated by spaces, optionally followed by free text and a ``# comment``.
  Values: ``true``/``false``/``undefined``, numbers, unquoted words, quoted strings, arrays
  ``[a, b]`` and calls ``fn(a, key=b)``. Decorator arguments must stay on one line.

Root decorators: ``@defaultRequired=true|false|infer`` (see below),
``@defaultSensitive=true|false|inferFromPrefix(PREFIX)`` (default ``true``), ``@currentEnv=$ITEM``
(the item naming the environment, used by ``forEnv`` and the ``.env.{env}`` cascade;
``@envFlag=ITEM`` is its deprecated spelling).

Whether an item is required, as varlock decides it: its own ``@required``, ``@optional`` or
``@required=forEnv(...)`` wins; otherwise the header's ``@defaultRequired``. Without one, every
item is required, with or without a default (varlock's code defaults to ``true``, though its
website calls ``infer`` the default). ``false``: every item is optional. ``infer``: an item is
required exactly when the schema gives it a non-empty default (``A=x``, ``A=${B}``; not ``A=``,
``A=undefined`` or ``A=""``).

Item decorators: ``@required``, ``@required=forEnv(ENV, ...)``, ``@optional``, ``@sensitive``,
``@public``, ``@type=...`` (see :mod:`devenv.envfile.types`), ``@example=...``,
``@docs(url)`` / ``@docs("description", url)`` (repeatable).

varlock decorators that only inform tools (``@icon``, ``@tag``, ``@deprecated``, ``@docsUrl``,
``@dynamic``, ``@static``, ``@internal``; root ``@generateTypes``, ``@redactLogs``,
``@preventLeaks``, ``@defaultDynamic``, ``@cache``) are accepted and ignored, so a varlock schema
keeps working. varlock decorators that change how values load (``@import``, ``@plugin``,
``@setValuesBulk``, ``@disable``) are errors: devenv cannot honour them. Any other decorator is
an error, with a suggestion when it looks like a typo. A decorator in a comment block attached to
no item is an error too: it would otherwise silently do nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devenv.envfile import envspec_reader
from devenv.envfile import types as types_mod
from devenv.envfile.types import Array, Call, Node, Scalar, Static, TypeSpec
from devenv.errors import EnvFileError

#: Calls and arrays in decorator values nest at most this deep.
MAX_NESTING = 32

#: Schemas larger than this are refused: a schema is hand-written text, not data.
MAX_SCHEMA_BYTES = 1 << 20

_NEWLINE = re.compile(r"\r\n|\r|\n")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_EXPORT = re.compile(r"[ \t]*(?:export[ \t]+)?")
_DIVIDER = re.compile(r"[ \t]*#[ \t]*[-=*#]{3}")
_FN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?=\()")
_DEC_NAME = re.compile(r"[A-Za-z][^ \t=()#@]*")
_ARG_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)=")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")
_WS = " \t"

ITEM_DECORATORS = frozenset(
    {"required", "optional", "sensitive", "public", "type", "example", "docs"}
)
ROOT_DECORATORS = frozenset({"defaultRequired", "defaultSensitive", "currentEnv", "envFlag"})
#: varlock decorators that carry information for other tools only: accepted, no effect here.
IGNORED_ITEM = frozenset({"icon", "tag", "deprecated", "docsUrl", "dynamic", "static", "internal"})
IGNORED_ROOT = frozenset({"generateTypes", "redactLogs", "preventLeaks", "defaultDynamic", "cache"})
#: varlock decorators that change how values load, which devenv cannot honour.
UNSUPPORTED = frozenset({"import", "plugin", "setValuesBulk", "disable"})
_REPEATABLE = frozenset({"docs", "tag"})
_ITEM_NAMES = ("@required", "@optional", "@sensitive", "@public", "@type", "@example", "@docs")
_ROOT_NAMES = ("@defaultRequired", "@defaultSensitive", "@currentEnv")


@dataclass(frozen=True)
class Issue:
    """One schema error: 1-based line and column, and a message."""

    line: int
    col: int
    message: str


class SchemaError(EnvFileError):
    """The schema is malformed. Carries every issue at once; ``details()`` shows each with its
    source line and a caret under the column (item values masked with a fixed-width mask: they
    may be secrets, and a mask as long as the value would tell its length)."""

    def __init__(self, path: str, issues: Sequence[Issue], source_lines: Sequence[str] = ()):
        self.path = path
        self.issues = list(issues)
        self.source_lines = list(source_lines)
        first = self.issues[0]
        more = f" (and {len(self.issues) - 1} more below)" if len(self.issues) > 1 else ""
        super().__init__(
            f"{path}:{first.line}:{first.col}: {first.message}{more}",
            "fix the schema and run again",
        )

    def details(self) -> Sequence[str]:
        out: list[str] = []
        single = len(self.issues) == 1
        for issue in self.issues:
            if not single:  # a single issue is already the one line above
                out.append(f"{self.path}:{issue.line}:{issue.col}: {issue.message}")
            if 0 < issue.line <= len(self.source_lines):
                src, col = _mask_item_value(self.source_lines[issue.line - 1], issue.col)
                out.append(f"  {src.expandtabs(1)}")
                out.append("  " + " " * (col - 1) + "^")
        return out


@dataclass(frozen=True)
class Decorator:
    name: str
    value: Node | None  # None: bare ``@name`` (true); a Call for ``@name(args)``
    line: int
    col: int
    bare_call: bool = False


@dataclass(frozen=True)
class Comment:
    """One comment line: its text (after ``#``) or its decorators."""

    line: int
    text: str
    decorators: tuple[Decorator, ...] = ()

    @property
    def is_decorator(self) -> bool:
        return bool(self.decorators)


@dataclass
class Item:
    key: str
    line: int
    default: str | None
    required: bool | None  # None: follow @defaultRequired
    required_for_env: tuple[str, ...] | None  # @required=forEnv(...)
    sensitive: bool | None  # None: follow @defaultSensitive
    type: TypeSpec
    example: str | None = None
    docs: list[tuple[str | None, str]] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    #: the default's pieces (it may refer to other items with ${VAR}); None: no default
    default_parts: tuple[envspec_reader.Part, ...] | None = None
    #: where @required=forEnv(...) is written (line, column), for errors about it
    required_for_env_at: tuple[int, int] | None = None
    # Filled in by Schema after the header is known:
    is_sensitive: bool = True
    infer_required: bool = False
    #: the header's @defaultRequired: a flag, or None for ``infer``; without it, True (varlock)
    default_required: bool | None = True

    def is_required(self, env: str | None) -> bool:
        """Whether a value must be set, in environment ``env`` (None: unknown)."""
        if self.required_for_env is not None:
            return env is not None and env in self.required_for_env
        if self.required is not None:
            return self.required
        if self.default_required is not None:
            return self.default_required
        return self.infer_required


@dataclass(frozen=True)
class Block:
    """A comment block attached to no item (section headings), kept for rendering."""

    lines: tuple[str, ...]
    divider: str | None


@dataclass
class Schema:
    path: str
    items: dict[str, Item]
    layout: list[Item | Block]
    current_env_key: str | None = None
    #: @defaultRequired: True (also when the header has none, as in varlock), False, None: infer
    default_required: bool | None = True
    default_sensitive: bool | str = True  # a str: inferFromPrefix(str)

    def get(self, key: str) -> Item | None:
        return self.items.get(key)


# --------------------------------------------------------------------------------------------
# Reading


def load_schema(path: Path, display: str | None = None) -> Schema:
    """Read and parse a schema file; :class:`SchemaError` or EnvFileError on any problem."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SCHEMA_BYTES:
            raise EnvFileError(
                f"{shown}: the schema is {size / 1e6:.1f} MB, over the 1 MB limit",
                "is this the right file? a schema is hand-written text",
            )
        data = path.read_bytes()
    except IsADirectoryError:
        raise EnvFileError(f"{shown}: is a directory, not a schema file", None) from None
    except FileNotFoundError:
        raise EnvFileError(
            f"{shown}: no schema file", "create it, or set [env] schema in devenv.toml"
        ) from None
    except OSError as exc:
        raise EnvFileError(
            f"{shown}: cannot read the schema: {exc.strerror}", "check its permissions"
        ) from None
    return parse_schema(decode_schema(data, shown), shown)


def decode_schema(data: bytes, display: str) -> str:
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise SchemaError(display, [Issue(line, 1, "binary data (a NUL byte): not a text file")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SchemaError(
            display, [Issue(line, col, f"not UTF-8 text (byte 0x{data[exc.start]:02x})")]
        ) from None
    return text.removeprefix("\ufeff")


def parse_schema(text: str, path: str = ".env.schema") -> Schema:
    """Parse schema text; raises :class:`SchemaError` listing every issue."""
    return _Parser(text.removeprefix("\ufeff"), path).parse()


#: What stands for an item's value in a quoted schema line: always the same, so neither the
#: value nor its length shows.
MASK = "****"


def _mask_item_value(line: str, col: int = 0) -> tuple[str, int]:
    """An item line with its value replaced by :data:`MASK`, and ``col`` moved to match (a
    column inside the value points at the mask's start)."""
    m = _EXPORT.match(line)
    pos = m.end() if m else 0
    k = _KEY.match(line, pos)
    if not k or line.lstrip(_WS).startswith("#"):
        return line, col
    eq = line.find("=", k.end())
    if eq < 0 or line[k.end() : eq].strip(_WS):
        return line, col
    start = eq + 1
    while start < len(line) and line[start] in _WS:
        start += 1
    end = line.find(" #", start)
    end = len(line) if end < 0 else end
    if end == start:
        return line, col
    if col > end:
        col += len(MASK) - (end - start)
    elif col > start + 1:
        col = start + 1
    return line[:start] + MASK + line[end:], col


class _Stop(Exception):
    """Abandon the current line after recording an issue."""


class _Cursor:
    def __init__(self, text: str, line: int, pos: int = 0):
        self.s = text
        self.i = pos
        self.line = line

    def eof(self) -> bool:
        return self.i >= len(self.s)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _WS:
            self.i += 1

    @property
    def col(self) -> int:
        return self.i + 1


class _Parser:
    def __init__(self, text: str, path: str):
        self.path = path
        self.lines = _NEWLINE.split(text)
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.issues: list[Issue] = []
        self.items: dict[str, Item] = {}
        self.layout: list[Item | Block] = []
        self.root: list[Decorator] = []
        self.header_closed = False
        self.depth = 0

    def issue(self, line: int, col: int, message: str) -> None:
        self.issues.append(Issue(line, col, message))

    def fail(self, cur: _Cursor, message: str, col: int | None = None) -> _Stop:
        self.issue(cur.line, col if col is not None else cur.col, message)
        return _Stop()

    # ---- document structure ----------------------------------------------------------------

    def parse(self) -> Schema:
        pending: list[Comment] = []
        seen_item = False
        for n, raw in enumerate(self.lines, 1):
            body = raw.strip(_WS)
            if not body:
                self._detach(pending, None, seen_item)
                pending = []
                continue
            if body.startswith("#"):
                if not raw.startswith("#"):
                    col = raw.index("#") + 1
                    what = (
                        "decorator comment" if body[1:].lstrip(_WS).startswith("@") else "comment"
                    )
                    self.issue(
                        n,
                        col,
                        f"an indented {what}: @env-spec comments start at the beginning of the "
                        "line (varlock refuses the file); remove the spaces before '#'",
                    )
                    continue
                if _DIVIDER.match(raw):
                    self._detach(pending, body, seen_item)
                    pending = []
                    continue
                comment = self._comment(raw, n, raw.index("#"))
                if comment is not None:
                    pending.append(comment)
                continue
            item = self._item(raw, n, pending)
            pending = []
            seen_item = True
            if item is None:
                continue
            if item.key in self.items:
                first = self.items[item.key].line
                self.issue(n, 1, f"{item.key} is declared twice (first at line {first})")
                continue
            self.items[item.key] = item
            self.layout.append(item)
        self._detach(pending, None, seen_item)
        schema = self._finish()
        if self.issues:
            self.issues.sort(key=lambda i: (i.line, i.col))
            raise SchemaError(self.path, self.issues, self.lines)
        return schema

    def _detach(self, comments: list[Comment], divider: str | None, seen_item: bool) -> None:
        """A comment block attached to no item: the header before the first item, else a
        section heading. Decorators count only in the header. The header's own text ends at
        its first divider; text blocks after that divider are section headings, kept."""
        if not seen_item:
            for c in comments:
                for d in c.decorators:
                    if self.header_closed and d.name not in ROOT_DECORATORS | IGNORED_ROOT:
                        self._orphan(d)
                    else:
                        self.root.append(d)
            text = tuple(c.text for c in comments if not c.is_decorator)
            if self.header_closed and (text or divider):
                self.layout.append(Block(text, divider))
            if divider:
                self.header_closed = True
            return
        for c in comments:
            for d in c.decorators:
                self._orphan(d)
        text = tuple(c.text for c in comments if not c.is_decorator)
        if text or divider:
            self.layout.append(Block(text, divider))

    def _orphan(self, d: Decorator) -> None:
        self.issue(
            d.line,
            d.col,
            f"@{d.name} is attached to no item (a blank line or divider separates it from the "
            "next item; decorators must sit directly above their item)",
        )

    def _comment(self, raw: str, line: int, hash_at: int) -> Comment | None:
        cur = _Cursor(raw, line, hash_at + 1)
        cur.skip_ws()
        if cur.peek() != "@":
            return Comment(line, raw[hash_at + 1 :].strip())
        try:
            return Comment(line, "", tuple(self._decorators(cur)))
        except _Stop:
            return None

    def _item(self, raw: str, line: int, comments: list[Comment]) -> Item | None:
        cur = _Cursor(raw, line, _EXPORT.match(raw).end())  # type: ignore[union-attr]
        m = _KEY.match(raw, cur.i)
        if m is None:
            self.issue(line, cur.col, "expected KEY=value, a comment or a blank line")
            return None
        key = m.group()
        cur.i = m.end()
        cur.skip_ws()
        if cur.peek() != "=":
            what = "the end of the line" if cur.eof() else repr(cur.peek())
            self.issue(line, cur.col, f"expected '=' after {key}, found {what}")
            return None
        cur.i += 1
        cur.skip_ws()
        decorators: list[Decorator] = []
        descriptions = [c.text for c in comments if not c.is_decorator and c.text]
        for c in comments:
            decorators.extend(c.decorators)
        try:
            default, quoted, parts = self._item_value(cur, key)
            cur.skip_ws()
            if cur.peek() == "#":
                post = self._comment(raw, line, cur.i)
                if post is not None:
                    decorators.extend(post.decorators)
                    if post.text:
                        descriptions.append(post.text)
            elif not cur.eof():
                raise self.fail(cur, "unexpected text after the closing quote")
        except _Stop:
            return None
        item = self._build_item(key, line, default, quoted, decorators, descriptions)
        item.default_parts = parts
        return item

    def _item_value(
        self, cur: _Cursor, key: str
    ) -> tuple[str | None, bool, tuple[envspec_reader.Part, ...] | None]:
        """(default as text, quoted, the value's pieces) read as @env-spec reads an item value:
        ``undefined`` or nothing is no default, ``\\n`` decodes in double quotes and backticks,
        ``${VAR}`` refers to another item."""
        c = cur.peek()
        if c == "" or c == "#":
            return None, False, None
        if c in "\"'`":
            start = cur.i
            self._quoted(cur)
            lit = envspec_reader.static(cur.s[start : cur.i], c)
        else:
            if _FN_NAME.match(cur.s, cur.i):
                raise self.fail(
                    cur,
                    f"{key}: function-call values (varlock resolvers) are outside devenv's "
                    "subset; write a plain default value",
                )
            end = cur.s.find("#", cur.i)
            end = len(cur.s) if end < 0 else end
            lit = envspec_reader.static(cur.s[cur.i : end], None)
            cur.i = end
            while cur.i > 0 and cur.s[cur.i - 1] in _WS:
                cur.i -= 1
        if lit.value is None:
            return None, c in "\"'`", None
        parts = envspec_reader.expand(lit)
        if any(isinstance(p, envspec_reader.Exec) for p in parts):
            raise self.fail(
                cur, f"{key}: $(command) defaults would run a command; devenv does not run them"
            )
        text = envspec_reader.resolve(parts, lambda name: "${" + name + "}")
        return text, c in "\"'`", parts

    # ---- decorators and values ---------------------------------------------------------------

    def _decorators(self, cur: _Cursor) -> list[Decorator]:
        out: list[Decorator] = []
        while True:
            cur.skip_ws()
            c = cur.peek()
            if c == "" or c == "#":
                return out
            if c == "@":
                out.append(self._decorator(cur))
                if cur.peek() not in ("", " ", "\t", "#"):
                    raise self.fail(
                        cur, "expected a space or the end of the line after a decorator"
                    )
            else:  # free text after decorators, as env-spec allows
                while cur.i < len(cur.s) and cur.s[cur.i] not in _WS:
                    cur.i += 1

    def _decorator(self, cur: _Cursor) -> Decorator:
        at = cur.col
        cur.i += 1
        m = _DEC_NAME.match(cur.s, cur.i)
        if m is None:
            raise self.fail(cur, "expected a decorator name after '@'")
        name = m.group()
        cur.i = m.end()
        if cur.peek() == "(":
            call = Call(name, self._args(cur), cur.line, at + 1)
            return Decorator(name, call, cur.line, at, bare_call=True)
        if cur.peek() == "=":
            cur.i += 1
            if cur.peek() in ("", " ", "\t", "#"):
                raise self.fail(cur, f"expected a value after '@{name}='")
            return Decorator(name, self._value(cur, "# \t"), cur.line, at)
        return Decorator(name, None, cur.line, at)

    def _value(self, cur: _Cursor, stop: str) -> Node:
        c = cur.peek()
        line, col = cur.line, cur.col
        if c == "[":
            return self._array(cur)
        if c == "{":
            raise self.fail(cur, "object values ({...}) are outside devenv's subset")
        if c in "\"'`":
            return Static(self._quoted(cur), True, line, col)
        m = _FN_NAME.match(cur.s, cur.i)
        if m:
            cur.i = m.end()
            return Call(m.group(), self._args(cur), line, col)
        if c == "/":
            end = _regex_literal_end(cur.s, cur.i, stop)
            if end is not None:
                text = cur.s[cur.i : end]
                cur.i = end
                return Static(text, False, line, col, text)
        start = cur.i
        while cur.i < len(cur.s) and cur.s[cur.i] not in stop:
            cur.i += 1
        text = cur.s[start : cur.i]
        if not text:
            raise self.fail(cur, "expected a value")
        return Static(_coerce(text), False, line, col, text)

    def _args(self, cur: _Cursor) -> tuple[tuple[str | None, Node], ...]:
        self.depth += 1
        try:
            self._nest(cur)
            return self._args_at(cur)
        finally:
            self.depth -= 1

    def _nest(self, cur: _Cursor) -> None:
        if self.depth > MAX_NESTING:
            raise self.fail(cur, f"values nested more than {MAX_NESTING} deep")

    def _args_at(self, cur: _Cursor) -> tuple[tuple[str | None, Node], ...]:
        open_col = cur.col
        cur.i += 1  # "("
        args: list[tuple[str | None, Node]] = []
        while True:
            cur.skip_ws()
            if cur.peek() == ")":
                cur.i += 1
                return tuple(args)
            if cur.eof():
                raise self.fail(
                    cur,
                    "unclosed '(' (decorator arguments must stay on one line in devenv's subset)",
                    open_col,
                )
            key: str | None = None
            m = _ARG_KEY.match(cur.s, cur.i)
            if m:
                key = m.group(1)
                cur.i = m.end()
            args.append((key, self._value(cur, " \t,)")))
            cur.skip_ws()
            if cur.peek() == ",":
                cur.i += 1
            elif cur.peek() != ")":
                if cur.eof():
                    continue  # reported as unclosed above
                raise self.fail(cur, f"expected ',' or ')', found {cur.peek()!r}")

    def _array(self, cur: _Cursor) -> Array:
        self.depth += 1
        try:
            self._nest(cur)
            return self._array_at(cur)
        finally:
            self.depth -= 1

    def _array_at(self, cur: _Cursor) -> Array:
        line, col = cur.line, cur.col
        cur.i += 1  # "["
        items: list[Node] = []
        while True:
            cur.skip_ws()
            if cur.peek() == "]":
                cur.i += 1
                return Array(tuple(items), line, col)
            if cur.eof():
                raise self.fail(cur, "unclosed '[' (arrays must stay on one line)", col)
            items.append(self._value(cur, " \t,)]"))
            cur.skip_ws()
            if cur.peek() == ",":
                cur.i += 1
            elif cur.peek() not in ("]", ""):
                raise self.fail(cur, f"expected ',' or ']', found {cur.peek()!r}")

    def _quoted(self, cur: _Cursor) -> str:
        q = cur.peek()
        start_col = cur.col
        i = cur.i + 1
        out: list[str] = []
        s = cur.s
        while i < len(s):
            ch = s[i]
            if ch == "\\" and i + 1 < len(s) and s[i + 1] == q:
                out.append(q)
                i += 2
                continue
            if ch == q:
                cur.i = i + 1
                return "".join(out).replace("\\n", "\n")
            out.append(ch)
            i += 1
        raise self.fail(
            cur,
            f"unterminated {q} quote (values must close on the same line in devenv's subset)",
            start_col,
        )

    # ---- meaning -------------------------------------------------------------------------------

    def _build_item(
        self,
        key: str,
        line: int,
        default: str | None,
        quoted: bool,
        decorators: list[Decorator],
        descriptions: list[str],
    ) -> Item:
        item = Item(
            key=key,
            line=line,
            default=default,
            required=None,
            required_for_env=None,
            sensitive=None,
            type=types_mod.infer(default, quoted),
            description=descriptions,
        )
        seen: dict[str, Decorator] = {}
        for d in decorators:
            if d.name in seen and d.name not in _REPEATABLE:
                self.issue(
                    d.line,
                    d.col,
                    f"@{d.name} is set twice on {key} (first at line {seen[d.name].line})",
                )
                continue
            seen[d.name] = d
            if d.name in ROOT_DECORATORS or d.name in IGNORED_ROOT:
                self.issue(
                    d.line,
                    d.col,
                    f"@{d.name} is a root decorator; put it in the header, above the first item "
                    "and separated from it by a blank line or a divider",
                )
            elif d.name in UNSUPPORTED:
                self.issue(
                    d.line,
                    d.col,
                    f"@{d.name} changes how varlock loads values; devenv does not support it",
                )
            elif d.name in IGNORED_ITEM:
                continue
            elif d.name not in ITEM_DECORATORS:
                self.issue(d.line, d.col, _unknown("decorator", "@" + d.name, _ITEM_NAMES))
            else:
                self._apply(item, d)
        if "required" in seen and "optional" in seen:
            d = seen["optional"]
            self.issue(d.line, d.col, f"{key} is marked both @required and @optional")
        if "sensitive" in seen and "public" in seen:
            d = seen["public"]
            self.issue(d.line, d.col, f"{key} is marked both @sensitive and @public")
        # A default is a value: `devenv env check` validates it against the type, at this line.
        return item

    def _apply(self, item: Item, d: Decorator) -> None:
        v = d.value
        if d.name in ("required", "optional"):
            if isinstance(v, Call) and d.name == "required" and not d.bare_call:
                if v.name != "forEnv":
                    self.issue(
                        v.line, v.col, f"@required takes true, false or forEnv(...), not {v.name}()"
                    )
                    return
                envs = []
                for k, a in v.args:
                    if k is not None or not isinstance(a, Static) or a.value is None:
                        self.issue(a.line, a.col, "forEnv() takes environment names")
                        return
                    envs.append(a.text)
                if not envs:
                    self.issue(v.line, v.col, "forEnv() needs at least one environment name")
                    return
                item.required_for_env = tuple(envs)
                item.required_for_env_at = (d.line, d.col)
                return
            flag = self._bool(d)
            if flag is not None:
                item.required = flag if d.name == "required" else not flag
        elif d.name in ("sensitive", "public"):
            flag = self._bool(d)
            if flag is not None:
                item.sensitive = flag if d.name == "sensitive" else not flag
        elif d.name == "type":
            if v is None or isinstance(v, Array) or d.bare_call:
                self.issue(d.line, d.col, "@type needs a type: @type=string, @type=enum(a, b), ...")
                return
            try:
                item.type = types_mod.build(v)
            except types_mod.TypeSpecError as exc:
                self.issue(exc.line, exc.col, exc.message)
        elif d.name == "example":
            if not isinstance(v, Static) or v.value is None:
                self.issue(d.line, d.col, '@example needs a value: @example="..."')
                return
            item.example = v.text
        elif d.name == "docs":
            self._docs(item, d)

    def _docs(self, item: Item, d: Decorator) -> None:
        v = d.value
        if isinstance(v, Static) and v.value is not None:
            item.docs.append((None, v.text))
            return
        if isinstance(v, Call) and d.bare_call and 1 <= len(v.args) <= 2:
            parts = [a for k, a in v.args if k is None and isinstance(a, Static)]
            if len(parts) == len(v.args):
                texts = [p.text for p in parts]
                item.docs.append((texts[0], texts[1]) if len(texts) == 2 else (None, texts[0]))
                return
        self.issue(d.line, d.col, '@docs takes (url) or ("description", url)')

    def _bool(self, d: Decorator) -> bool | None:
        if d.value is None:
            return True
        if isinstance(d.value, Static) and isinstance(d.value.value, bool) and not d.value.quoted:
            return d.value.value
        self.issue(d.line, d.col, f"@{d.name} takes true or false")
        return None

    def _finish(self) -> Schema:
        schema = Schema(self.path, self.items, self.layout)
        seen: dict[str, Decorator] = {}
        for d in self.root:
            if d.name in seen:
                self.issue(d.line, d.col, f"@{d.name} is set twice in the header")
                continue
            seen[d.name] = d
            if d.name in IGNORED_ROOT:
                continue
            if d.name in UNSUPPORTED:
                self.issue(
                    d.line,
                    d.col,
                    f"@{d.name} changes how varlock loads files; devenv does not support it",
                )
            elif d.name in ITEM_DECORATORS or d.name in IGNORED_ITEM:
                self.issue(
                    d.line,
                    d.col,
                    f"@{d.name} is attached to no item (it is in the header; decorators for an "
                    "item sit directly above it, with no blank line between)",
                )
            elif d.name not in ROOT_DECORATORS:
                self.issue(d.line, d.col, _unknown("root decorator", "@" + d.name, _ROOT_NAMES))
            else:
                self._root(schema, d)
        for item in self.items.values():
            # varlock's infer: a non-empty default makes the item required; no value,
            # ``undefined`` and an empty string do not.
            item.infer_required = bool(item.default)
            item.default_required = schema.default_required
            if item.sensitive is not None:
                item.is_sensitive = item.sensitive
            elif isinstance(schema.default_sensitive, str):
                item.is_sensitive = not item.key.startswith(schema.default_sensitive)
            else:
                item.is_sensitive = schema.default_sensitive
        return schema

    def _root(self, schema: Schema, d: Decorator) -> None:
        v = d.value
        if d.name == "defaultRequired":
            if isinstance(v, Static) and v.text == "infer":
                schema.default_required = None
            else:
                flag = self._bool(d)
                if flag is not None:
                    schema.default_required = flag
        elif d.name == "defaultSensitive":
            if isinstance(v, Call) and not d.bare_call:
                args = v.args
                if (
                    v.name != "inferFromPrefix"
                    or len(args) != 1
                    or args[0][0] is not None
                    or not isinstance(args[0][1], Static)
                ):
                    self.issue(
                        v.line,
                        v.col,
                        "@defaultSensitive takes true, false or inferFromPrefix(PREFIX)",
                    )
                    return
                schema.default_sensitive = args[0][1].text
            else:
                flag = self._bool(d)
                if flag is not None:
                    schema.default_sensitive = flag
        elif d.name in ("currentEnv", "envFlag"):
            if not isinstance(v, Static) or not isinstance(v.value, str):
                self.issue(d.line, d.col, f"@{d.name} takes an item: @currentEnv=$APP_ENV")
                return
            name = v.text.removeprefix("$") if d.name == "currentEnv" else v.text
            if d.name == "currentEnv" and not v.text.startswith("$"):
                self.issue(v.line, v.col, f"@currentEnv takes a reference: @currentEnv=${v.text}")
                return
            if name not in self.items:
                self.issue(
                    v.line, v.col, f"@{d.name} names {name}, which this schema does not declare"
                )
                return
            schema.current_env_key = name


def _regex_literal_end(s: str, i: int, stop: str) -> int | None:
    """The end of a JavaScript regex literal ``/.../flags`` at ``i``, or None. Parentheses,
    commas and spaces inside it (``/^(a|b)$/``) belong to it: a slash ends it only outside a
    ``[...]`` class and when not escaped."""
    in_class = False
    k = i + 1
    while k < len(s):
        ch = s[k]
        if ch == "\\":
            k += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "/":
            break
        k += 1
    else:
        return None
    if k == i + 1:
        return None  # "//" is no regex
    k += 1
    while k < len(s) and s[k].isascii() and s[k].isalpha():
        k += 1
    return k if k >= len(s) or s[k] in stop else None


def _coerce(text: str) -> Scalar:
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "undefined":
        return None
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {name}{hint}; devenv knows {', '.join(known)}"
