""".env files read the way the app reads them, by one of three readers, with every statement
placed at file:line and every line the three read differently reported.

Readers (``[env] reader`` in devenv.toml):

- ``env-spec`` (default): the @env-spec format's reference parser, npm ``@env-spec/parser``
  (what varlock loads with), ported in :mod:`devenv.envfile.envspec_reader`;
- ``python-dotenv``: python-dotenv's own parser (``dotenv.parser.parse_stream``) and its
  ``${VAR}`` / ``${VAR:-default}`` interpolation, for an app that calls ``load_dotenv``;
- ``compose``: Docker Compose's env-file parser (:mod:`devenv.envfile.compose_reader`), for an
  app that gets its environment from ``env_file:``.

The chosen reader's values are the ones checked; a line it cannot read is a ``syntax`` problem.
Every line another reader refuses, skips or reads with a different key or value is a ``compat``
problem naming which reader takes which value (the values are added by the checker, for keys
that are not sensitive; the comparison is :mod:`devenv.envfile.compare`). For the comparison
each reader interpolates from the file alone, so the result does not depend on the shell; an
empty assignment and no value count as alike.

Other problems found while reading (each a :class:`~devenv.envfile.problems.Problem`): a file
over 1 MB, binary data, text that is not UTF-8, a byte-order mark, quoted values that run over
lines and swallow what look like assignments (the classic missing closing quote), keys set
twice, ``${VAR}`` of an unset variable (python-dotenv and Compose; for @env-spec the checker
resolves references once defaults are known), and values devenv does not evaluate.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devenv.envfile import compose_reader, envspec_reader
from devenv.envfile.compare import View, compare
from devenv.envfile.problems import Problem

DEFAULT_READER = "env-spec"

#: Env files larger than this are refused, unread: a .env is a few KB of hand-edited text.
MAX_BYTES = 1 << 20

_NEWLINE = re.compile(r"\r\n|\n|\r")
_LEADING_WS = re.compile(r"\s*")
_KEY_AT = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*=[ \t]*")
_YAML_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*:")
_ASSIGNMENT_LINE = re.compile(r"[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*=")
_VAR_REF = re.compile(r"\$\{([^}:]*)(?::-[^}]*)?\}")


@dataclass(frozen=True)
class Entry:
    """One ``KEY=value`` statement as python-dotenv reads it."""

    key: str
    value: str | None  # after interpolation; None for a bare ``KEY`` (no '=')
    raw: str | None  # before interpolation
    line: int
    end_line: int
    text: str  # the statement's source text (may hold a secret: never print it)
    #: @env-spec only: the value's pieces, resolved again once defaults and later files are known
    parts: tuple[envspec_reader.Part, ...] | None = None
    opaque: bool = False  # a value devenv does not evaluate ($(command), fn(...))


@dataclass
class EnvFile:
    path: str  # as displayed
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    text: str = ""
    readable: bool = True
    bom: bool = False
    reader: str = DEFAULT_READER
    #: line -> reader -> value, for the lines the readers read differently
    readings: dict[int, dict[str, str | None]] = field(default_factory=dict)
    #: (key, value) for every value any of the three readers gives a key (may hold secrets)
    values_seen: list[tuple[str, str]] = field(default_factory=list)

    def values(self) -> dict[str, str | None]:
        """Key -> value as the chosen reader reads it: the last statement wins."""
        return {e.key: e.value for e in self.entries}


def read_file(
    path: Path,
    display: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    inherited: Mapping[str, str | None] | None = None,
    reader: str = DEFAULT_READER,
) -> EnvFile:
    """Read one env file; every problem lands in ``EnvFile.problems``, nothing raises."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return _unreadable(
                shown,
                "too-large",
                f"is {size / 1e6:.1f} MB; env files over 1 MB are not read "
                "(is this the right file?)",
            )
        data = path.read_bytes()
    except IsADirectoryError:
        return _unreadable(shown, "unreadable", "is a directory, not an env file")
    except OSError as exc:
        return _unreadable(shown, "unreadable", f"cannot be read: {exc.strerror}")
    return read_bytes(data, shown, environ=environ, inherited=inherited, reader=reader)


def read_bytes(
    data: bytes,
    display: str,
    *,
    environ: Mapping[str, str] | None = None,
    inherited: Mapping[str, str | None] | None = None,
    reader: str = DEFAULT_READER,
) -> EnvFile:
    if len(data) > MAX_BYTES:
        return _unreadable(
            display, "too-large", f"is {len(data) / 1e6:.1f} MB; env files over 1 MB are not read"
        )
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        f = _unreadable(
            display, "encoding", "holds binary data (a NUL byte); no env-file reader can read it"
        )
        f.problems = [Problem(display, line, None, "encoding", f.problems[0].message)]
        return f
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        f = _unreadable(display, "encoding", "")
        f.problems = [
            Problem(
                display,
                line,
                None,
                "encoding",
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); python-dotenv fails on "
                "the whole file: save it as UTF-8",
            )
        ]
        return f
    return read_text(text, display, environ=environ, inherited=inherited, reader=reader)


def _unreadable(display: str, code: str, message: str) -> EnvFile:
    return EnvFile(display, problems=[Problem(display, 0, None, code, message)], readable=False)


def read_text(
    text: str,
    display: str,
    *,
    environ: Mapping[str, str] | None = None,
    inherited: Mapping[str, str | None] | None = None,
    reader: str = DEFAULT_READER,
) -> EnvFile:
    """Parse env-file text with ``reader`` (and the other two, to compare); check it."""
    env = EnvFile(display, text=text, reader=reader)
    if text.startswith("\ufeff"):
        env.bom = True
        text = text[1:]
        env.text = text
    environ = environ if environ is not None else os.environ
    inherited = inherited or {}
    starts = _line_index(text)

    spec_statements, spec_issues = envspec_reader.parse(text)
    if _all_plain(text):
        # Every statement is one all three read alike (most .env files): python-dotenv's and
        # Compose's readings are the @env-spec one, without running their parsers.
        dotenv_raws: list[tuple[str, str | None, int, int, str]] = [
            (
                st.key,
                envspec_reader.resolve(st.parts, lambda _n: "") or "",
                st.line,
                st.line,
                st.text,
            )
            for st in spec_statements
        ]
        dotenv_errors: list[Problem] = []
        offsets = [starts[st.line - 1] for st in spec_statements]
        reads = [
            compose_reader.Read(k, v, o)
            for (k, v, *_r), o in zip(dotenv_raws, offsets, strict=True)
        ]
        compose_errors: list[compose_reader.ReadError] = []
    else:
        dotenv_raws, dotenv_errors = _dotenv_statements(env, text, starts)
        reads, compose_errors = compose_reader.parse(text)

    if reader == "python-dotenv":
        env.problems.extend(dotenv_errors)
        _interpolate(env, dotenv_raws, environ, inherited)
    elif reader == "compose":
        _compose_entries(env, text, starts, environ, inherited)
    else:
        _envspec_entries(env, spec_statements, environ, inherited)

    if env.bom and env.entries:
        first = env.entries[0]
        env.problems.append(
            Problem(
                display,
                first.line,
                first.key,
                "bom",
                "the file starts with a UTF-8 byte-order mark: python-dotenv reads this key "
                f"as {chr(0xFEFF) + first.key!a}, the @env-spec parser refuses the file (Docker "
                "Compose strips the mark); save the file as UTF-8 without BOM",
            )
        )
    _duplicates(env)
    _multiline(env)
    views: dict[str, View] = {
        "python-dotenv": (_dotenv_file_only(dotenv_raws), {p.line: p for p in dotenv_errors}),
        "compose": _compose_file_only(text, starts, reads, compose_errors, display),
        "env-spec": _envspec_file_only(spec_statements, spec_issues, display, text, starts),
    }
    # Every value any reader gives a key, so that a sensitive key's value is redacted even where
    # only another reader reads it (and it reaches a public key through ${VAR} there).
    for key, raw, *_rest in dotenv_raws:
        if raw:
            env.values_seen.append((key, raw))
    for by_line, _errs in views.values():
        env.values_seen.extend((k, v) for k, v in by_line.values() if v)
    for r in reads:
        if r.value:
            env.values_seen.append((r.key, r.value))
    for e in env.entries:
        env.values_seen.extend((e.key, v) for v in (e.raw, e.value) if v)
    problems, env.readings = compare(display, reader, text, starts, views)
    env.problems.extend(problems)
    env.problems.sort(key=lambda p: p.line)
    return env


#: A line every reader reads the same way: a comment or blank line, or KEY= with a plain value
#: or one quoted without anything any of them would decode, expand or end early.
_PLAIN_LINE = re.compile(
    r"(?:[ \t]*(?:#[^\n]*)?"
    r"|[A-Za-z_][A-Za-z0-9_]*=(?:[A-Za-z0-9_./:@%+,=~^\-]*|\"[^\"\\\\$`'#\n]*\"|'[^'\\\\$\n]*'))"
)


def _all_plain(text: str) -> bool:
    if "\r" in text.replace("\r\n", ""):
        return False
    for line in text.replace("\r\n", "\n").split("\n"):
        if not _PLAIN_LINE.fullmatch(line) or line.endswith("=undefined"):
            return False
    return True


def _dotenv_statements(
    env: EnvFile, text: str, starts: list[int]
) -> tuple[list[tuple[str, str | None, int, int, str]], list[Problem]]:
    """python-dotenv's statements (key, raw value, first line, last line, text) and the lines
    it skips."""
    import bisect

    from dotenv.parser import parse_stream

    def line_of(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    offset = 0
    raws: list[tuple[str, str | None, int, int, str]] = []
    errors: list[Problem] = []
    for binding in parse_stream(io.StringIO(text)):
        s = binding.original.string
        lead = _LEADING_WS.match(s)
        lead_len = lead.end() if lead else 0
        body = s[lead_len:]
        # python-dotenv can end a statement between the \r and \n of a CRLF: positions come
        # from offsets into the whole text, never from its own line counter.
        body_core = re.sub(r"(?:\r\n|\n|\r)\Z", "", body)
        start_line = line_of(offset + lead_len)
        end_line = line_of(offset + lead_len + max(len(body_core) - 1, 0))
        if binding.error:
            errors.append(
                _syntax_problem(env.path, text, offset + lead_len, start_line, body, line_of)
            )
        elif binding.key is not None:
            raws.append((binding.key, binding.value, start_line, end_line, body_core))
        offset += len(s)
    return raws, errors


def _envspec_entries(
    env: EnvFile,
    statements: list[envspec_reader.Statement],
    environ: Mapping[str, str],
    inherited: Mapping[str, str | None],
) -> None:
    seen: dict[str, str | None] = {}

    def lookup(name: str) -> str | None:
        if name in seen:
            return seen[name]
        if name in inherited:
            return inherited[name]
        return environ.get(name)

    for st in statements:
        value = None if st.opaque else envspec_reader.resolve(st.parts, lookup)
        seen[st.key] = value
        raw = envspec_reader.resolve(st.parts, lambda _n: "") if st.parts else None
        env.entries.append(
            Entry(st.key, value, raw, st.line, st.end_line, st.text, st.parts, st.opaque)
        )
        if st.opaque:
            what = f"a function call ({st.call}(...))" if st.call else "a $(command) substitution"
            env.problems.append(
                Problem(
                    env.path,
                    st.line,
                    st.key,
                    "unsupported",
                    f"the value is {what}: varlock evaluates it, devenv does not run or "
                    "resolve it, so this value is not checked",
                )
            )


def _compose_entries(
    env: EnvFile,
    text: str,
    starts: list[int],
    environ: Mapping[str, str],
    inherited: Mapping[str, str | None],
) -> None:
    import bisect

    def lookup(name: str) -> str | None:
        return inherited[name] if name in inherited else environ.get(name)

    reads, errors = compose_reader.parse(text, lookup)
    for e in errors:
        ln = bisect.bisect_right(starts, e.start)
        env.problems.append(
            Problem(
                env.path,
                ln,
                _key_on_line(text, starts, ln),
                "syntax",
                f"Docker Compose refuses the whole file here: {e.message}",
            )
        )
    for i, r in enumerate(reads):
        ln = bisect.bisect_right(starts, r.start)
        nxt = reads[i + 1].start if i + 1 < len(reads) else len(text)
        body = text[r.start : nxt].rstrip("\r\n")
        end_line = bisect.bisect_right(starts, r.start + max(len(body) - 1, 0))
        env.entries.append(Entry(r.key, r.value, r.value, ln, end_line, body))


def _syntax_problem(
    display: str, text: str, offset: int, line: int, body: str, line_of: Callable[[int], int]
) -> Problem:
    m = _KEY_AT.match(text, offset)
    key = m.group(1) if m else None
    message = "python-dotenv cannot parse this line and skips it"
    if m:
        after = m.end()
        q = text[after : after + 1]
        if q in ("'", '"'):
            closing = re.compile(r"'((?:\\'|[^'])*)'" if q == "'" else r'"((?:\\"|[^"])*)"')
            closed = closing.match(text, after)
            if closed is None:
                message = (
                    f"unterminated {q} quote: no closing {q} before the end of the file, so "
                    "python-dotenv skips this line (and Docker Compose refuses the file)"
                )
            elif line_of(closed.end() - 1) > line:
                message = (
                    f"the {q} quote opened here closes only on line {line_of(closed.end() - 1)}"
                    f" and text follows it there: python-dotenv skips lines {line}-"
                    f"{line_of(closed.end() - 1)}; is a closing quote missing on line {line}?"
                )
            else:
                message = (
                    "text after the closing quote: python-dotenv skips this line (quote the "
                    "whole value, or start a comment with ' #')"
                )
    elif (y := _YAML_KEY.match(text, offset)) is not None:
        key = y.group(1)
        message = "KEY: value (YAML style): python-dotenv skips this line; write KEY=value"
    elif "=" not in body.split("\n", 1)[0]:
        message = "expected KEY=VALUE: python-dotenv skips this line"
    return Problem(display, line, key, "syntax", message)


def _interpolate(
    env: EnvFile,
    raws: list[tuple[str, str | None, int, int, str]],
    environ: Mapping[str, str],
    inherited: Mapping[str, str | None],
) -> None:
    seen: dict[str, str | None] = {}

    def lookup(line: int, key: str, name: str, default: str | None) -> str | None:
        if name in seen:
            return seen[name]
        if name in inherited:
            return inherited[name]
        v = environ.get(name)
        if v is None and default is None:
            env.problems.append(_undefined(env.path, line, key, name))
        return v

    for key, raw, line, end_line, text in raws:
        value = raw
        if raw is not None and "${" in raw:
            value = _expand(raw, functools.partial(lookup, line, key))
        seen[key] = value
        env.entries.append(Entry(key, value, raw, line, end_line, text))


def _expand(raw: str, lookup: Callable[[str, str | None], str | None]) -> str:
    """python-dotenv's ``${VAR}`` and ``${VAR:-default}`` in ``raw``: ``lookup(name, default)``
    gives a variable's value, or None for unset (then the default or an empty string)."""
    from dotenv.variables import Literal, Variable, parse_variables

    parts = []
    for atom in parse_variables(raw):
        if isinstance(atom, Variable):
            v = lookup(atom.name, atom.default)
            parts.append(v if v is not None else (atom.default or ""))
        elif isinstance(atom, Literal):
            parts.append(atom.value)
    return "".join(parts)


def _undefined(path: str, line: int, key: str, name: str) -> Problem:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        why = (
            f"${{{name}}} is not set earlier in the env files or in the environment, so "
            "python-dotenv substitutes an empty string"
        )
    else:
        why = (
            "python-dotenv understands only ${VAR} and ${VAR:-default}: it looks up a "
            f"variable named {name!r}, which is not set, and substitutes an empty string"
        )
    return Problem(path, line, key, "undefined-ref", why)


def _duplicates(env: EnvFile) -> None:
    first: dict[str, int] = {}
    for e in env.entries:
        if e.key in first:
            env.problems.append(
                Problem(
                    env.path,
                    e.line,
                    e.key,
                    "duplicate",
                    f"set again (first at line {first[e.key]}); python-dotenv keeps this later "
                    "value",
                )
            )
        else:
            first[e.key] = e.line


def _multiline(env: EnvFile) -> None:
    for e in env.entries:
        if e.end_line == e.line:
            continue
        swallowed = [ln for ln in _NEWLINE.split(e.text)[1:] if _ASSIGNMENT_LINE.match(ln)]
        if swallowed:
            env.problems.append(
                Problem(
                    env.path,
                    e.line,
                    e.key,
                    "multiline",
                    f"the quoted value runs to line {e.end_line} and swallows "
                    f"{len(swallowed)} line(s) that look like KEY=value; is a closing quote "
                    f"missing on line {e.line}?",
                )
            )


def _line_index(text: str) -> list[int]:
    starts = [0]
    for m in _NEWLINE.finditer(text):
        starts.append(m.end())
    return starts


# ---- each reader's view of the file alone, for the comparison ---------------------------------


def _dotenv_file_only(
    raws: list[tuple[str, str | None, int, int, str]],
) -> dict[int, tuple[str, str | None]]:
    seen: dict[str, str | None] = {}
    out: dict[int, tuple[str, str | None]] = {}
    for key, raw, line, _end, _text in raws:
        v = raw
        if v is not None and "${" in v:
            v = _expand(v, lambda name, _default: seen.get(name))
        seen[key] = v
        out.setdefault(line, (key, v))
    return out


def _compose_file_only(
    text: str,
    starts: list[int],
    reads: list[compose_reader.Read],
    errors: list[compose_reader.ReadError],
    display: str,
) -> View:
    import bisect

    by_line: dict[int, tuple[str, str | None]] = {}
    for r in reads:
        by_line.setdefault(bisect.bisect_right(starts, r.start), (r.key, r.value))
    errs: dict[int, Problem] = {}
    for e in errors:
        ln = bisect.bisect_right(starts, e.start)
        errs.setdefault(
            ln,
            Problem(
                display,
                ln,
                _key_on_line(text, starts, ln),
                "compat",
                f"Docker Compose refuses the whole file here: {e.message}",
            ),
        )
    return by_line, errs


def _envspec_file_only(
    statements: list[envspec_reader.Statement],
    issues: list[envspec_reader.Issue],
    display: str,
    text: str,
    starts: list[int],
) -> View:
    seen: dict[str, str | None] = {}
    by_line: dict[int, tuple[str, str | None]] = {}
    for st in statements:
        v = envspec_reader.resolve(st.parts, lambda k: seen.get(k))
        seen[st.key] = v
        by_line.setdefault(st.line, (st.key, v))
    errs: dict[int, Problem] = {}
    for issue in issues:
        errs.setdefault(
            issue.line,
            Problem(
                display,
                issue.line,
                _key_on_line(text, starts, issue.line),
                "compat",
                f"the @env-spec parser (varlock) refuses the whole file here, column "
                f"{issue.col}: {issue.message}",
            ),
        )
    return by_line, errs


def _key_on_line(text: str, starts: list[int], line: int) -> str | None:
    m = _KEY_AT.match(text, starts[line - 1]) if 0 < line <= len(starts) else None
    return m.group(1) if m else None
