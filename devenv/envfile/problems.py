"""Problems found in .env files, and the redaction every rendered problem goes through.

A :class:`Problem` is one finding with a place (file and 1-based line; line 0 when the finding is
about a whole file), the key it concerns, a stable ``code`` for CI and a message. Messages are
built without sensitive values in the first place; :func:`redact` is the second line of defence
that scrubs any sensitive value that reached a message indirectly (for instance through ``${VAR}``
interpolation into a non-sensitive key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: What replaces a sensitive value wherever one would have been printed.
REDACTED = "[redacted]"

#: Shorter values are not scrubbed from messages: replacing "1" or "dev" everywhere would garble
#: line numbers and words. Messages never quote a sensitive value directly in the first place.
MIN_REDACT_LEN = 4

#: Every problem code, for CI filters and the JSON output's documentation.
CODES: dict[str, str] = {
    "missing": "a required key is missing or empty",
    "type": "a value does not match its @type",
    "unknown": "a key is not declared in the schema",
    "case": "a key differs from a schema key only in letter case",
    "duplicate": "a key is set twice in one file (python-dotenv keeps the last)",
    "syntax": "the chosen reader ([env] reader) cannot parse a line",
    "multiline": "a quoted value runs over several lines and swallows what look like assignments",
    "compat": "python-dotenv, Docker Compose and @env-spec (varlock) read a line differently",
    "unsupported": "a value devenv does not evaluate ($(command), a function call)",
    "undefined-ref": "${VAR} refers to a variable that is not set, or to itself (a cycle)",
    "encoding": "the file is not UTF-8 text",
    "bom": "the file starts with a UTF-8 byte-order mark",
    "too-large": "the file is larger than an env file should be",
    "no-file": "no env file exists",
    "unreadable": "the file cannot be read",
    "schema": "the schema itself is malformed (only from check_project)",
}


@dataclass(frozen=True)
class Problem:
    """One finding: ``file:line: KEY: message``. Never carries a sensitive value."""

    file: str
    line: int
    key: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.key is None:
            return f"{where}: {self.message}"
        return f"{where}: {display_key(self.key)}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "key": self.key,
            "code": self.code,
            "message": self.message,
        }


def display_key(key: str) -> str:
    """A key as printed: plain if it is printable ASCII, else escaped (BOMs, control bytes)."""
    if key.isascii() and key.isprintable() and key:
        return key
    return ascii(key)


def quote(value: str, limit: int = 80) -> str:
    """A non-sensitive value quoted for a message, escaped and shortened."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    escaped = shown.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret of at least MIN_REDACT_LEN characters replaced."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_REDACT_LEN}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
        # Messages show values escaped by quote(); scrub that spelling too.
        escaped = quote(secret, limit=len(secret) + 1)[1:-1]
        if escaped != secret and escaped in text:
            text = text.replace(escaped, REDACTED)
    return text


def redact_all(problems: Iterable[Problem], secrets: Iterable[str]) -> list[Problem]:
    secret_list = [s for s in secrets if len(s) >= MIN_REDACT_LEN]
    if not secret_list:
        return list(problems)
    out = []
    for p in problems:
        message = redact(p.message, secret_list)
        out.append(p if message == p.message else Problem(p.file, p.line, p.key, p.code, message))
    return out
