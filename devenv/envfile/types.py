r"""``@type`` data types of the env-spec subset: building them from a decorator value (with every
option checked when the schema is read) and validating values against them.

Types and options (as varlock defines them):

- ``string(minLength, maxLength, isLength, startsWith, endsWith, matches)``; ``toUpperCase``,
  ``toLowerCase`` and ``allowEmpty`` are accepted and have no effect on validation.
- ``number(min, max, isInt, isDivisibleBy)``; ``precision`` accepted, no effect.
- ``port(min, max)``: an integer 0-65535.
- ``boolean``: t, true, yes, on, 1 / f, false, no, off, 0 (any letter case).
- ``url(allowedProtocols=[...], allowedDomains=[...], noTrailingSlash, prependHttps, matches)``:
  scheme://host with a valid port if any.
- ``email(normalize)``.
- ``enum(a, b, ...)``: exactly one of the members.

``matches`` takes a ``/pattern/flags`` literal or a quoted pattern: a JavaScript regular
expression, as schemas written for varlock expect, tested anywhere in the value (JavaScript's
``RegExp.prototype.test``). :class:`JsRegex` translates it to Python's ``re`` so it means the
same: ``$`` matches only at the very end (Python's also before a final newline), ``.`` stops at
any line terminator, ``\d``/``\w``/``\b`` are ASCII, ``\s`` is JavaScript's set of spaces,
``(?<name>...)`` and ``\k<name>`` are named groups, and the flags ``d g i m s u v y`` follow
the closing slash (``y``, sticky, anchors the match at the start).

Validation messages never contain the value: the caller adds it for non-sensitive keys only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Static:
    """A literal. ``text`` is the literal as written (unquoted) or the string (quoted)."""

    value: Scalar
    quoted: bool
    line: int
    col: int
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text and isinstance(self.value, str):
            object.__setattr__(self, "text", self.value)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[tuple[str | None, Node], ...]
    line: int
    col: int


@dataclass(frozen=True)
class Array:
    items: tuple[Node, ...]
    line: int
    col: int


Node = Static | Call | Array


class TypeSpecError(Exception):
    def __init__(self, line: int, col: int, message: str):
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


TYPES = ("string", "number", "port", "boolean", "url", "email", "enum")
#: varlock types outside devenv's subset: named in the error so users know why.
OTHER_VARLOCK_TYPES = frozenset(
    {
        "domain",
        "ip",
        "semver",
        "isoDate",
        "uuid",
        "md5",
        "simple-object",
        "duration",
        "array",
        "record",
    }
)

_OPTIONS: dict[str, dict[str, str]] = {
    "string": {
        "minLength": "int",
        "maxLength": "int",
        "isLength": "int",
        "startsWith": "str",
        "endsWith": "str",
        "matches": "regex",
        "toUpperCase": "bool",
        "toLowerCase": "bool",
        "allowEmpty": "bool",
    },
    "number": {
        "min": "num",
        "max": "num",
        "isInt": "bool",
        "isDivisibleBy": "num",
        "precision": "int",
    },
    "port": {"min": "int", "max": "int"},
    "boolean": {},
    "url": {
        "prependHttps": "bool",
        "allowedProtocols": "strlist",
        "allowedDomains": "strlist",
        "noTrailingSlash": "bool",
        "matches": "regex",
    },
    "email": {"normalize": "bool"},
    "enum": {},
}

_TRUE = frozenset({"t", "true", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "no", "off", "0"})
_NUM = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT = re.compile(r"[0-9]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


@dataclass(frozen=True)
class TypeSpec:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()
    inferred: bool = False

    def describe(self) -> str:
        if self.name == "enum":
            return f"one of {', '.join(self.members)}"
        if self.name == "url" and self.options.get("allowedProtocols"):
            return f"url ({', '.join(self.options['allowedProtocols'])})"
        return self.name

    def detail(self) -> str:
        """The type with its constraints, for comments in generated files."""
        o = self.options
        bits: list[str] = []
        if self.name == "string":
            if "isLength" in o:
                bits.append(f"exactly {o['isLength']} characters")
            if "minLength" in o:
                bits.append(f"at least {o['minLength']} characters")
            if "maxLength" in o:
                bits.append(f"at most {o['maxLength']} characters")
            if "startsWith" in o:
                bits.append(f"starts with {o['startsWith']}")
            if "endsWith" in o:
                bits.append(f"ends with {o['endsWith']}")
            if "matches" in o:
                bits.append(f"matches /{o['matches'].pattern}/")
        elif self.name in ("number", "port"):
            if o.get("isInt"):
                bits.append("whole")
            if "min" in o:
                bits.append(f">= {o['min']}")
            if "max" in o:
                bits.append(f"<= {o['max']}")
            if "isDivisibleBy" in o:
                bits.append(f"divisible by {o['isDivisibleBy']}")
        elif self.name == "url":
            if o.get("allowedProtocols"):
                bits.append("/".join(o["allowedProtocols"]))
            if o.get("allowedDomains"):
                bits.append("on " + "/".join(o["allowedDomains"]))
            if o.get("noTrailingSlash"):
                bits.append("no trailing /")
        else:
            return self.describe()
        return f"{self.name} ({', '.join(bits)})" if bits else self.name

    def validate(self, value: str) -> str | None:
        """None if ``value`` is valid, else what is wrong (never quoting the value)."""
        return _VALIDATORS[self.name](value, self)


def infer(default: str | None, quoted: bool) -> TypeSpec:
    """The type of an item without @type: a string, whatever its default looks like. In the
    @env-spec format a default is a value, not a type declaration: ``COUNT=10`` does not make
    COUNT a number (write ``@type=number``)."""
    return TypeSpec("string", inferred=True)


def build(node: Static | Call) -> TypeSpec:
    """A TypeSpec from ``@type=`` 's value; TypeSpecError (with a position) if it is wrong."""
    args: tuple[tuple[str | None, Node], ...] = ()
    if isinstance(node, Static):
        if not isinstance(node.value, str) or node.quoted:
            raise TypeSpecError(node.line, node.col, "@type needs a type name, e.g. @type=url")
        name, line, col = node.text, node.line, node.col
    else:
        name, args, line, col = node.name, node.args, node.line, node.col
    if name not in TYPES:
        if name in OTHER_VARLOCK_TYPES:
            raise TypeSpecError(
                line,
                col,
                f"type {name!r} is outside devenv's subset ({', '.join(TYPES)}); "
                "use string(matches=...) instead",
            )
        import difflib

        close = difflib.get_close_matches(name, TYPES, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeSpecError(line, col, f"unknown type {name!r}{hint}; known: {', '.join(TYPES)}")
    if name == "enum":
        return _build_enum(args, line, col)
    options: dict[str, Any] = {}
    allowed = _OPTIONS[name]
    for key, value in args:
        if key is None:
            where = _pos(value)
            raise TypeSpecError(
                *where,
                f"{name}() takes named options ({', '.join(allowed) or 'none'}), e.g. minLength=8",
            )
        if key not in allowed:
            where = _pos(value)
            known = ", ".join(allowed) or "none"
            raise TypeSpecError(
                where[0], where[1], f"unknown option {key!r} for {name}; known: {known}"
            )
        if key in options:
            raise TypeSpecError(*_pos(value), f"option {key!r} given twice")
        options[key] = _option(allowed[key], key, value)
    for lo, hi in (("min", "max"), ("minLength", "maxLength")):
        if lo in options and hi in options and options[lo] > options[hi]:
            raise TypeSpecError(line, col, f"{name}: {lo} is greater than {hi}")
    return TypeSpec(name, options)


def _build_enum(args: tuple[tuple[str | None, Node], ...], line: int, col: int) -> TypeSpec:
    members: list[str] = []
    for key, value in args:
        if key is not None or not isinstance(value, Static) or value.value is None:
            raise TypeSpecError(*_pos(value), "enum() takes plain values: enum(dev, staging, prod)")
        members.append(
            value.text if not isinstance(value.value, bool) else str(value.value).lower()
        )
    if not members:
        raise TypeSpecError(line, col, "enum() needs at least one value: enum(dev, prod)")
    return TypeSpec("enum", members=tuple(members))


def _pos(node: Node) -> tuple[int, int]:
    return node.line, node.col


def _option(kind: str, key: str, node: Node) -> Any:
    line, col = _pos(node)
    if kind == "strlist":
        nodes = node.items if isinstance(node, Array) else (node,)
        out = []
        for n in nodes:
            if not isinstance(n, Static) or n.value is None:
                raise TypeSpecError(*_pos(n), f"{key} takes a list of names: {key}=[a, b]")
            out.append(n.text)
        if not out:
            raise TypeSpecError(line, col, f"{key} needs at least one entry")
        return tuple(out)
    if not isinstance(node, Static):
        raise TypeSpecError(line, col, f"{key} takes a plain value, not a list or a call")
    v = node.value
    if kind == "bool":
        if not isinstance(v, bool) or node.quoted:
            raise TypeSpecError(line, col, f"{key} takes true or false")
        return v
    if kind in ("int", "num"):
        if isinstance(v, bool) or not isinstance(v, int | float) or node.quoted:
            raise TypeSpecError(line, col, f"{key} takes a number")
        if kind == "int" and (not isinstance(v, int) or v < 0):
            raise TypeSpecError(line, col, f"{key} takes a whole number >= 0")
        if key == "isDivisibleBy" and v == 0:
            raise TypeSpecError(line, col, "isDivisibleBy cannot be 0")
        return v
    if kind == "regex":
        text = node.text
        flags = ""
        if not node.quoted:
            m = re.fullmatch(r"/(.*)/([A-Za-z]*)", text, re.S)
            if m:
                text, flags = m.group(1), m.group(2)
        try:
            return JsRegex(text, flags)
        except (re.error, ValueError) as exc:
            raise TypeSpecError(
                line, col, f"{key}: not a valid regular expression ({exc})"
            ) from None
    return node.text  # "str"


# ---- JavaScript regular expressions -----------------------------------------------------------

_JS_SPACE_CLASS = (
    "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_LINE_END = "\\n\\r\\u2028\\u2029"
_WORD = "A-Za-z0-9_"
_IN_CLASS = {"d": "0-9", "w": _WORD, "s": _JS_SPACE_CLASS}
_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_JS_SPACE_CLASS}]",
    "S": f"[^{_JS_SPACE_CLASS}]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
}
_KEEP = frozenset("nrtfv0123456789")


class JsRegex:
    """A JavaScript regular expression (source and flags), matched with Python's ``re``."""

    def __init__(self, source: str, flags: str = ""):
        if len(set(flags)) != len(flags) or set(flags) - set("dgimsuvy"):
            raise ValueError(f"invalid flags {flags!r} (JavaScript knows d g i m s u v y)")
        self.pattern = source
        self.flags = flags
        self.sticky = "y" in flags
        self.compiled = re.compile(_translate(source, flags), re.I if "i" in flags else 0)

    def search(self, value: str) -> re.Match[str] | None:
        """``RegExp.prototype.test`` on a fresh expression: anywhere, or at 0 when sticky."""
        return (self.compiled.match if self.sticky else self.compiled.search)(value)

    def __repr__(self) -> str:
        return f"/{self.pattern}/{self.flags}"


def _translate(src: str, flags: str) -> str:
    out: list[str] = []
    i = 0
    n = len(src)
    multiline = "m" in flags
    dotall = "s" in flags
    in_class = False
    while i < n:
        c = src[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("\\ at end of pattern")
            e = src[i + 1]
            i += 2
            if e == "c" and i < n and src[i].isascii() and src[i].isalpha():
                out.append(re.escape(chr(ord(src[i]) % 32)))
                i += 1
            elif e == "x" and re.match(r"[0-9A-Fa-f]{2}", src[i : i + 2]):
                out.append("\\x" + src[i : i + 2])
                i += 2
            elif e == "u" and src[i : i + 1] == "{" and ("u" in flags or "v" in flags):
                end = src.index("}", i)
                out.append(re.escape(chr(int(src[i + 1 : end], 16))))
                i = end + 1
            elif e == "u" and re.match(r"[0-9A-Fa-f]{4}", src[i : i + 4]):
                out.append("\\u" + src[i : i + 4])
                i += 4
            elif e == "k" and not in_class and src[i : i + 1] == "<":
                end = src.index(">", i)
                out.append(f"(?P={src[i + 1 : end]})")
                i = end + 1
            elif in_class and e in _IN_CLASS:
                out.append(_IN_CLASS[e])
            elif in_class and e == "b":
                out.append("\\x08")
            elif not in_class and e in _OUTSIDE:
                out.append(_OUTSIDE[e])
            elif e in _KEEP or e in "DWS":
                out.append("\\" + e)
            else:  # an identity escape: \/ is /, \a is a (JavaScript without the u flag)
                out.append(re.escape(e))
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c in "[&~|":
                out.append("\\" + c)  # literal in JavaScript; set syntax to Python
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            if src.startswith("[^]", i):
                out.append("[\\s\\S]")
                i += 3
                continue
            if src.startswith("[]", i):
                out.append("(?!)")
                i += 2
                continue
            in_class = True
            out.append(c)
            if src.startswith("[^", i):
                out.append("^")
                i += 1
            i += 1
            continue
        if c == "$":
            out.append(f"(?=[{_LINE_END}]|\\Z)" if multiline else "\\Z")
        elif c == "^":
            out.append(f"(?:(?<=[{_LINE_END}])|\\A)" if multiline else "\\A")
        elif c == ".":
            out.append("[\\s\\S]" if dotall else f"[^{_LINE_END}]")
        elif src.startswith("(?<", i) and src[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    if in_class:
        raise ValueError("unterminated character class")
    return "".join(out)


# ---- validators ------------------------------------------------------------------------------


def _string(v: str, t: TypeSpec) -> str | None:
    o = t.options
    n = len(v)
    if "isLength" in o and n != o["isLength"]:
        return f"must be exactly {o['isLength']} characters long"
    if "minLength" in o and n < o["minLength"]:
        return f"must be at least {o['minLength']} characters long"
    if "maxLength" in o and n > o["maxLength"]:
        return f"must be at most {o['maxLength']} characters long"
    if "startsWith" in o and not v.startswith(o["startsWith"]):
        return f"must start with {o['startsWith']!r}"
    if "endsWith" in o and not v.endswith(o["endsWith"]):
        return f"must end with {o['endsWith']!r}"
    if "matches" in o and not o["matches"].search(v):
        return f"must match /{o['matches'].pattern}/"
    return None


def _number(v: str, t: TypeSpec) -> str | None:
    if not _NUM.fullmatch(v.strip()):
        return "is not a number"
    x = float(v)
    o = t.options
    if o.get("isInt") and not x.is_integer():
        return "must be a whole number"
    if "min" in o and x < o["min"]:
        return f"must be at least {o['min']}"
    if "max" in o and x > o["max"]:
        return f"must be at most {o['max']}"
    d = o.get("isDivisibleBy")
    if d:
        from decimal import Decimal, InvalidOperation

        try:
            divisible = Decimal(v.strip()) % Decimal(str(d)) == 0
        except InvalidOperation:
            divisible = False
        if not divisible:
            return f"must be divisible by {d}"
    return None


def _port(v: str, t: TypeSpec) -> str | None:
    if not _INT.fullmatch(v.strip()) or int(v) > 65535:
        return "is not a port number (0-65535)"
    p = int(v)
    if p < t.options.get("min", 0):
        return f"must be at least {t.options['min']}"
    if p > t.options.get("max", 65535):
        return f"must be at most {t.options['max']}"
    return None


def _boolean(v: str, t: TypeSpec) -> str | None:
    if v.strip().lower() in _TRUE | _FALSE:
        return None
    return "is not a boolean (true/false, yes/no, on/off, 1/0)"


def _url(v: str, t: TypeSpec) -> str | None:
    o = t.options
    if o.get("prependHttps") and "://" not in v:
        v = "https://" + v
    try:
        parts = urlsplit(v)
        port_ok = True
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            port_ok = False
    except ValueError:
        return "is not a valid URL"
    if (
        not parts.scheme
        or not _SCHEME.fullmatch(parts.scheme)
        or not parts.netloc
        or "://" not in v
        or any(c.isspace() for c in v)
    ):
        return "is not a URL (expected scheme://host...)"
    if not port_ok:
        return "has an invalid port"
    if not parts.hostname:
        return "has no host"
    allowed = o.get("allowedProtocols")
    if allowed and parts.scheme.lower() not in {p.lower().rstrip(":") for p in allowed}:
        return f"must use one of the schemes {', '.join(allowed)}"
    domains = o.get("allowedDomains")
    if domains:
        host = parts.hostname.lower()
        hostport = f"{host}:{parts.port}" if parts.port is not None else host
        ok = {d.lower() for d in domains}
        if host not in ok and hostport not in ok:
            return f"must point at one of {', '.join(domains)}"
    # The bare root is no trailing slash: it is how every URL parser spells an origin
    # (JavaScript's new URL("https://x.com").href is "https://x.com/").
    if o.get("noTrailingSlash") and parts.path.endswith("/") and parts.path != "/":
        return "must not end with '/'"
    if "matches" in o and not o["matches"].search(v):
        return f"must match /{o['matches'].pattern}/"
    return None


def _email(v: str, t: TypeSpec) -> str | None:
    return None if _EMAIL.fullmatch(v) else "is not an email address"


def _enum(v: str, t: TypeSpec) -> str | None:
    return None if v in t.members else f"must be one of {', '.join(t.members)}"


_VALIDATORS: dict[str, Callable[[str, TypeSpec], str | None]] = {
    "string": _string,
    "number": _number,
    "port": _port,
    "boolean": _boolean,
    "url": _url,
    "email": _email,
    "enum": _enum,
}
