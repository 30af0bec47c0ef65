""".env files read the way the app reads them: python-dotenv's own parser for keys and values,
plus a line scanner that places every statement at file:line and finds what python-dotenv would
silently get wrong or skip.

Values are python-dotenv's: ``dotenv.parser.parse_stream`` for the statements (escape decoding
included), then ``${VAR}`` / ``${VAR:-default}`` interpolation as ``dotenv_values`` does it: the
file's earlier values win over the process environment (pass ``environ``), later files in a
cascade see earlier ones.

Problems found while reading (each a :class:`~devenv.envfile.problems.Problem`): a file over
1 MB, binary data, text that is not UTF-8, a byte-order mark, lines python-dotenv cannot parse
(it skips them with a warning), quoted values that run over lines and swallow what look like
assignments (the classic missing closing quote), keys set twice, ``${VAR}`` of an unset
variable, and every line Docker Compose's env-file parser reads differently
(:mod:`devenv.envfile.compose`).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devenv.envfile import compose
from devenv.envfile.problems import Problem, quote

#: Env files larger than this are refused, unread: a .env is a few KB of hand-edited text.
MAX_BYTES = 1 << 20

_NEWLINE = re.compile(r"\r\n|\n|\r")
_LEADING_WS = re.compile(r"\s*")
_KEY_AT = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*=[ \t]*")
_YAML_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*:")
_ASSIGNMENT_LINE = re.compile(r"[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*=")
_VAR_REF = re.compile(r"\$\{([^}:]*)(?::-[^}]*)?\}")
_BARE_REF = re.compile(r"(?<![\\$])\$[A-Za-z_][A-Za-z0-9_]*")
_EXT_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?:[-+?]|:[?+])")


@dataclass(frozen=True)
class Entry:
    """One ``KEY=value`` statement as python-dotenv reads it."""

    key: str
    value: str | None  # after interpolation; None for a bare ``KEY`` (no '=')
    raw: str | None  # before interpolation
    line: int
    end_line: int
    text: str  # the statement's source text (may hold a secret: never print it)


@dataclass
class EnvFile:
    path: str  # as displayed
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    text: str = ""
    readable: bool = True
    bom: bool = False
    #: line -> (python-dotenv's reading, Compose's reading) where the two differ
    readings: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)

    def values(self) -> dict[str, str | None]:
        """Key -> value, python-dotenv style: the last statement wins."""
        return {e.key: e.value for e in self.entries}


def read_file(
    path: Path,
    display: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    inherited: Mapping[str, str | None] | None = None,
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
    return read_bytes(data, shown, environ=environ, inherited=inherited)


def read_bytes(
    data: bytes,
    display: str,
    *,
    environ: Mapping[str, str] | None = None,
    inherited: Mapping[str, str | None] | None = None,
) -> EnvFile:
    if len(data) > MAX_BYTES:
        return _unreadable(
            display, "too-large", f"is {len(data) / 1e6:.1f} MB; env files over 1 MB are not read"
        )
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        f = _unreadable(
            display, "encoding", "holds binary data (a NUL byte); python-dotenv cannot read it"
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
    return read_text(text, display, environ=environ, inherited=inherited)


def _unreadable(display: str, code: str, message: str) -> EnvFile:
    return EnvFile(display, problems=[Problem(display, 0, None, code, message)], readable=False)


def read_text(
    text: str,
    display: str,
    *,
    environ: Mapping[str, str] | None = None,
    inherited: Mapping[str, str | None] | None = None,
) -> EnvFile:
    """Parse env-file text as python-dotenv does; check it for problems."""
    from dotenv.parser import parse_stream

    env = EnvFile(display, text=text)
    problems = env.problems
    if text.startswith("\ufeff"):
        env.bom = True
        text = text[1:]
        env.text = text
    import bisect

    starts = _line_index(text)

    def line_of(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    offset = 0
    raws: list[tuple[str, str | None, int, int, str]] = []
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
            problems.append(
                _syntax_problem(display, text, offset + lead_len, start_line, body, line_of)
            )
        elif binding.key is not None:
            raws.append((binding.key, binding.value, start_line, end_line, body_core))
        offset += len(s)

    if env.bom and raws:
        first = raws[0]
        problems.append(
            Problem(
                display,
                first[2],
                first[0],
                "bom",
                "the file starts with a UTF-8 byte-order mark: python-dotenv reads this key "
                f"as {chr(0xFEFF) + first[0]!a} (Docker Compose strips the mark); save the "
                "file as UTF-8 without BOM",
            )
        )

    _interpolate(env, raws, environ if environ is not None else os.environ, inherited or {})
    _duplicates(env)
    _multiline(env)
    _compare_with_compose(env)
    problems.sort(key=lambda p: p.line)
    return env


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
    from dotenv.variables import Literal, parse_variables

    seen: dict[str, str | None] = {}
    for key, raw, line, end_line, text in raws:
        value = raw
        if raw is not None and "${" in raw:
            parts = []
            for atom in parse_variables(raw):
                if isinstance(atom, Literal):
                    parts.append(atom.value)
                    continue
                name = atom.name  # type: ignore[attr-defined]
                if name in seen:
                    v = seen[name]
                elif name in inherited:
                    v = inherited[name]
                else:
                    v = environ.get(name)
                    if v is None and atom.default is None:  # type: ignore[attr-defined]
                        env.problems.append(_undefined(env.path, line, key, name))
                if v is None:
                    v = atom.default or ""  # type: ignore[attr-defined]
                parts.append(v)
            value = "".join(parts)
        seen[key] = value
        env.entries.append(Entry(key, value, raw, line, end_line, text))


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


# ---- python-dotenv vs Docker Compose -----------------------------------------------------------


def _line_index(text: str) -> list[int]:
    starts = [0]
    for m in _NEWLINE.finditer(text):
        starts.append(m.end())
    return starts


def _compare_with_compose(env: EnvFile) -> None:
    """Report every statement Compose reads differently. Both sides interpolate from the file
    alone (no process environment), so the result does not depend on the shell."""
    import bisect

    text = env.text
    starts = _line_index(text)

    def line_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset)

    reads, errors = compose.parse(text)
    dotenv_file_only = _file_only_values(env)
    by_line_c: dict[int, compose.Read] = {}
    for r in reads:
        by_line_c.setdefault(line_of(r.start), r)
    error_lines = {line_of(e.start) for e in errors}
    syntax_lines = {p.line for p in env.problems if p.code == "syntax"}
    for e in errors:
        ln = line_of(e.start)
        env.problems.append(
            Problem(
                env.path,
                ln,
                _key_on_line(text, starts, ln),
                "compat",
                f"Docker Compose refuses the whole file here: {e.message}",
            )
        )
    lone_cr = re.search(r"\r(?!\n)", text)
    if lone_cr:
        env.problems.append(
            Problem(
                env.path,
                line_of(lone_cr.start()),
                None,
                "compat",
                "a carriage return without a line feed (old Mac line ending): python-dotenv "
                "ends the line there, Docker Compose does not; save with LF or CRLF endings",
            )
        )
    by_line_d = {e.line: e for e in env.entries}
    for ln in sorted(set(by_line_d) | set(by_line_c)):
        d = by_line_d.get(ln)
        c = by_line_c.get(ln)
        if d is not None and c is not None and d.key == c.key:
            dv = dotenv_file_only.get(ln)
            if dv == c.value or (dv is None and c.value is compose.INHERITED):
                continue
            env.readings[ln] = (dv, c.value)
            env.problems.append(Problem(env.path, ln, d.key, "compat", _why(d)))
        elif d is not None and c is None:
            if ln in error_lines:
                continue
            env.problems.append(
                Problem(
                    env.path,
                    ln,
                    d.key,
                    "compat",
                    "Docker Compose does not read this key here (an earlier quoted value or "
                    "line swallows it)",
                )
            )
        elif c is not None and d is None:
            if ln in syntax_lines:
                if c.key:
                    _amend(env, ln, "; Docker Compose does read it")
                continue
            elif c.key:
                note = (
                    f"Docker Compose reads a key {c.key!r} here that python-dotenv does not "
                    "(a value python-dotenv reads across lines, or Compose's KEY: value form)"
                )
            else:
                note = "Docker Compose reads text here that python-dotenv does not"
            env.problems.append(Problem(env.path, ln, c.key or None, "compat", note))
        elif d is not None and c is not None:
            env.problems.append(
                Problem(
                    env.path,
                    ln,
                    d.key,
                    "compat",
                    f"python-dotenv reads the key {d.key!r}, Docker Compose reads {c.key!r}",
                )
            )


def _amend(env: EnvFile, line: int, note: str) -> None:
    for i, p in enumerate(env.problems):
        if p.line == line and p.code == "syntax":
            env.problems[i] = Problem(p.file, p.line, p.key, p.code, p.message + note)
            return


def _file_only_values(env: EnvFile) -> dict[int, str | None]:
    """python-dotenv's values with interpolation from the file alone, by line."""
    from dotenv.variables import Literal, parse_variables

    seen: dict[str, str | None] = {}
    out: dict[int, str | None] = {}
    for e in env.entries:
        v = e.raw
        if v is not None and "${" in v:
            parts = []
            for atom in parse_variables(v):
                if isinstance(atom, Literal):
                    parts.append(atom.value)
                else:
                    got = seen.get(atom.name)  # type: ignore[attr-defined]
                    parts.append(got if got is not None else (atom.default or ""))  # type: ignore[attr-defined]
            v = "".join(parts)
        seen[e.key] = v
        out[e.line] = v
    return out


def _key_on_line(text: str, starts: list[int], line: int) -> str | None:
    m = _KEY_AT.match(text, starts[line - 1]) if 0 < line <= len(starts) else None
    return m.group(1) if m else None


def _why(entry: Entry) -> str:
    """Why the two parsers disagree, from the statement's text. Never quotes values: the
    caller appends the two readings for non-sensitive keys."""
    text = entry.text
    eq = text.find("=")
    rhs = text[eq + 1 :].lstrip(" \t") if eq >= 0 else ""
    reasons: list[str] = []
    if entry.end_line > entry.line:
        reasons.append(f"a multi-line value (lines {entry.line}-{entry.end_line})")
    if rhs.startswith("'"):
        if "$" in rhs:
            reasons.append("python-dotenv expands ${VAR} inside single quotes, Compose does not")
        if "\\" in rhs:
            reasons.append(
                "python-dotenv decodes \\\\ and \\' inside single quotes, Compose keeps backslashes"
            )
    elif rhs.startswith('"'):
        if "\\" in rhs:
            reasons.append(
                "the two decode backslash escapes in double quotes differently (\\$, \\', octal)"
            )
    else:
        first_line = rhs.split("\n", 1)[0]
        if re.search(r"[^\S ]#", first_line):
            reasons.append(
                "an inline comment: python-dotenv starts one at any whitespace "
                "before '#', Compose only at ' #'"
            )
        if "\\" in first_line and "$" in first_line:
            reasons.append(
                "a backslash before '$': Compose does not treat it as an escape in unquoted values"
            )
    if "$" in rhs and not rhs.startswith("'"):
        if _BARE_REF.search(rhs):
            reasons.append(
                "$VAR without braces: Compose expands it, python-dotenv keeps it "
                "literally (write ${VAR})"
            )
        if "$$" in rhs:
            reasons.append("'$$': Compose reads it as '$', python-dotenv keeps both")
        if _EXT_REF.search(rhs):
            reasons.append("${VAR-x}, ${VAR?x} and ${VAR+x} forms: only Compose understands them")
        elif ":-" in rhs:
            reasons.append(
                "${VAR:-default} with VAR set but empty: Compose uses the default, "
                "python-dotenv the empty value"
            )
        if rhs.count("${") > 1 and re.search(r"\$\{[^}]*\$\{", rhs):
            reasons.append("a nested ${...}: python-dotenv does not nest")
    if not reasons:
        reasons.append("the two parsers read this value differently")
    return "python-dotenv and Docker Compose read this line differently: " + "; ".join(reasons)


def describe_readings(dotenv_value: str | None, compose_value: str | None) -> str:
    d = "(no value)" if dotenv_value is None else quote(dotenv_value)
    c = "(no value)" if compose_value is None else quote(compose_value)
    return f"python-dotenv reads {d}, Compose reads {c}"
