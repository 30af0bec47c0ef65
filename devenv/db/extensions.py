"""Which extensions a project's migrations create, and where to get one the server lacks.

Used where an extension is missing: a migration that fails on ``create extension`` (one line
naming the extension and what brings it) and ``devenv doctor`` (``stack.extensions``), which
finds the problem before a migration runs into it.
"""

from __future__ import annotations

import re
from pathlib import Path

from devenv import postgres_spec

#: Extensions that exist only in Supabase's own Postgres image, and the tag the Supabase CLI
#: pins for Postgres 15 (docs/postgres.md: "Supabase's own Postgres image").
SUPABASE_ONLY = ("pg_net", "pgjwt", "supabase_vault", "pgsodium", "pg_graphql", "wrappers")
SUPABASE_IMAGE = "supabase/postgres:15.8.1.085"

_CREATE = re.compile(
    r'\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?(?:"([^"]+)"|([a-z_][a-z0-9_$]*))',
    re.IGNORECASE,
)
# Comments blanked out, newlines kept, so a match's line number is the file's.
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def where_to_get(name: str) -> tuple[str, str]:
    """(what has extension ``name``, how to get it into the stack)."""
    entry = postgres_spec.entry(name)
    if entry is not None:
        return (
            f'devenv\'s own image with "{entry}" in [db] extensions',
            f'add "{entry}" to [db] extensions in devenv.toml and run `devenv up` (devenv builds'
            " its postgres image with it; the data volume stays); an image set as"
            " [images] postgres or DEVENV_IMAGE_POSTGRES must carry it itself",
        )
    if name in SUPABASE_ONLY:
        return (
            SUPABASE_IMAGE,
            f'set [images] postgres = "{SUPABASE_IMAGE}" in devenv.toml (Supabase\'s own image;'
            " its data volume is not interchangeable with postgres:15's: `devenv down --volumes`"
            " first)",
        )
    return "an image with it installed", "set that image as [images] postgres in devenv.toml"


def created_in(folder: Path) -> dict[str, tuple[Path, int]]:
    """Each extension the ``*.sql`` files under ``folder`` create -> (file, line) where first,
    files in name order (as migrations apply). Comments do not count."""
    found: dict[str, tuple[Path, int]] = {}
    for path in sorted(folder.rglob("*.sql")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for m in _CREATE.finditer(text):
            name = m.group(1) or m.group(2).lower()
            found.setdefault(name, (path, text.count("\n", 0, m.start()) + 1))
    return found


def lacking(names: list[str], extensions: tuple[str, ...]) -> list[str]:
    """Of ``names``, those an image devenv builds with ``extensions`` surely lacks: the ones it
    could build in but the list leaves out, and Supabase's own. (Others, such as contrib's, only
    the running server can tell.)"""
    return [
        n
        for n in names
        if n in SUPABASE_ONLY
        or ((entry := postgres_spec.entry(n)) is not None and entry not in extensions)
    ]
