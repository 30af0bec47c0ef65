"""How the three readers' readings of one .env file are compared: given each reader's view of
the file alone (line -> key and value, line -> where it refuses the file), every line they read
differently as a ``compat`` problem with the reason, and the values each reads, for messages.

For the comparison each reader interpolates from the file alone, so the result does not depend
on the shell; an empty assignment and no value count as alike. :mod:`devenv.envfile.reader`
reads the file with each reader and hands their views here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from devenv.envfile.problems import Problem, quote

#: The readers ``[env] reader`` chooses between, and how messages name them.
READERS: dict[str, str] = {
    "env-spec": "@env-spec (varlock)",
    "python-dotenv": "python-dotenv",
    "compose": "Docker Compose",
}
_BARE_REF = re.compile(r"(?<![\\$])\$[A-Za-z_][A-Za-z0-9_]*")
_EXT_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?:[-+?]|:[?+])")


#: A reader's view of a file for the comparison: line -> (key, value), and line -> the problem
#: where the reader refuses or skips that line.
View = tuple[dict[int, tuple[str, str | None]], dict[int, Problem]]


def compare(
    path: str, chosen: str, text: str, starts: list[int], views: dict[str, View]
) -> tuple[list[Problem], dict[int, dict[str, str | None]]]:
    """Every line the readers read differently, as problems (the ``chosen`` reader's own
    refusals are its ``syntax`` problems, the others' are ``compat``) and as line -> reader ->
    value for the lines whose values differ."""
    problems: list[Problem] = []
    readings: dict[int, dict[str, str | None]] = {}
    for name, (_by_line, errs) in views.items():
        for p in errs.values():
            if name == chosen and name != "env-spec":
                continue  # already reported as the chosen reader's syntax problems
            code = "syntax" if name == chosen else "compat"
            problems.append(Problem(p.file, p.line, p.key, code, p.message))
    lone_cr = re.search(r"\r(?!\n)", text)
    if lone_cr:
        import bisect

        problems.append(
            Problem(
                path,
                bisect.bisect_right(starts, lone_cr.start()),
                None,
                "compat",
                "a carriage return without a line feed (old Mac line ending): python-dotenv "
                "ends the line there, Docker Compose and @env-spec do not; save with LF or "
                "CRLF endings",
            )
        )
    order = ["python-dotenv", "compose", "env-spec"]
    lines = sorted({ln for v in views.values() for ln in v[0]})
    for ln in lines:
        got = {r: views[r][0].get(ln) for r in order}
        present = {r: v for r, v in got.items() if v is not None and ln not in views[r][1]}
        missing = [r for r in order if got[r] is None and ln not in views[r][1]]
        if not present:
            continue  # every reader that reads a key here also refuses the line: reported
        keys = {k for k, _v in present.values()}
        key = present[chosen][0] if chosen in present else next(iter(present.values()))[0]
        if len(keys) > 1:
            said = ", ".join(f"{READERS[r]} reads the key {k!r}" for r, (k, _v) in present.items())
            problems.append(Problem(path, ln, key, "compat", said))
            continue
        if missing:
            readers_in = " and ".join(READERS[r] for r in present)
            problems.append(
                Problem(
                    path,
                    ln,
                    key,
                    "compat",
                    f"{' and '.join(READERS[r] for r in missing)} "
                    f"{'reads' if len(missing) == 1 else 'read'} no key on this line, "
                    f"{readers_in} {'reads' if len(present) == 1 else 'read'} {key}: a quoted "
                    "value above runs over it, or its form (such as KEY: value) is one only "
                    f"{'that reader' if len(present) == 1 else 'those readers'} accept",
                )
            )
        values = {r: v for r, (_k, v) in present.items()}
        if len({v or "" for v in values.values()}) > 1:
            readings[ln] = values
            entry_text = _statement_text(text, starts, ln)
            problems.append(Problem(path, ln, key, "compat", _why(entry_text, values)))
    return problems, readings


def _statement_text(text: str, starts: list[int], line: int) -> str:
    start = starts[line - 1]
    end = text.find("\n", start)
    return text[start : len(text) if end < 0 else end].rstrip("\r")


def _why(line_text: str, values: Mapping[str, str | None]) -> str:
    """Why the readers disagree, from the statement's first line. Never quotes values: the
    checker appends each reader's value for keys that are not sensitive."""
    eq = line_text.find("=")
    rhs = line_text[eq + 1 :] if eq >= 0 else ""
    spaced = rhs.lstrip(" \t")
    dotenv, comp, spec = (values.get(r) for r in ("python-dotenv", "compose", "env-spec"))
    reasons: list[str] = []
    if dotenv is not None and comp is not None and (dotenv or "") != (comp or ""):
        reasons.extend(_why_dotenv_compose(spaced))
    others = [v for r, v in values.items() if r != "env-spec"]
    if "env-spec" in values and any((spec or "") != (v or "") for v in others):
        reasons.extend(_why_envspec(rhs, spaced))
    if not reasons:
        reasons.append("the readers decode this value differently")
    return f"{_who_differs(values)}: " + "; ".join(reasons)


def _who_differs(values: Mapping[str, str | None]) -> str:
    """``X reads this line differently from Y and Z``, or which readers disagree."""
    groups: dict[str, list[str]] = {}
    for r, v in values.items():
        groups.setdefault(v or "", []).append(READERS[r])
    if len(values) == 3 and len(groups) == 2:
        (odd,) = next(g for g in groups.values() if len(g) == 1)
        pair = next(g for g in groups.values() if len(g) == 2)
        return f"{odd} reads this line differently from {pair[0]} and {pair[1]}"
    names = [READERS[r] for r in values]
    if len(names) == 2:
        return f"{names[0]} and {names[1]} read this line differently"
    return f"{', '.join(names[:-1])} and {names[-1]} each read this line differently"


def _why_envspec(rhs: str, spaced: str) -> list[str]:
    out: list[str] = []
    if spaced[:1] in ("'", '"', "`") and rhs[:1] != spaced[:1]:
        out.append("a quote after spaces: @env-spec refuses it")
    elif spaced.startswith("'"):
        if "\\" in spaced:
            out.append("@env-spec keeps backslashes in single quotes (only \\' is decoded)")
    elif spaced.startswith('"') or spaced.startswith("`"):
        if "\\" in spaced:
            out.append(
                "@env-spec decodes only \\n, \\$ and the escaped quote inside double quotes "
                "and backticks"
            )
        if "$" in spaced:
            out.append("@env-spec expands $VAR and ${VAR} inside double quotes and backticks")
    else:
        value = spaced.split("#", 1)[0]
        if "#" in spaced and not re.search(r"[ \t]#", spaced.split("#", 1)[0] + "#"):
            out.append("an inline '#': @env-spec starts a comment at any '#' in an unquoted value")
        if value.strip() == "undefined":
            out.append("@env-spec reads the word undefined as no value")
        if re.search(r"[ \t]\$|\$\{[^}]*\}[ \t]|\$[A-Za-z_][A-Za-z0-9_]*[ \t]", value.strip()):
            out.append(
                "@env-spec drops the spaces around a $VAR or ${VAR} in an unquoted value "
                "(quote the value to keep them)"
            )
        if re.search(r"\$\{[^}:]*-", value):
            out.append("@env-spec reads ${VAR-x} like ${VAR:-x} (x also when VAR is empty)")
        if re.search(r"\$\{[^}]*:-\}|\$\{[^}]*:[=?+]", value):
            out.append("@env-spec keeps ${VAR:-}, ${VAR:=x}, ${VAR:?x} and ${VAR:+x} as text")
        if "\\" in value:
            out.append("@env-spec decodes only \\$ in an unquoted value")
    return out


def _why_dotenv_compose(rhs: str) -> list[str]:
    reasons: list[str] = []
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
        if re.search(r"[^\S ]#", rhs):
            reasons.append(
                "an inline comment: python-dotenv starts one at any whitespace "
                "before '#', Compose only at ' #'"
            )
        if "\\" in rhs and "$" in rhs:
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
    return reasons


def describe_readings(values: Mapping[str, str | None]) -> str:
    """``python-dotenv reads "x", Compose reads "y", ...`` for a non-sensitive key."""
    out = []
    for r in ("python-dotenv", "compose", "env-spec"):
        if r in values:
            v = values[r]
            name = {"compose": "Compose", "env-spec": "@env-spec"}.get(r, r)
            out.append(f"{name} reads {'(no value)' if v is None else quote(v)}")
    return ", ".join(out)
