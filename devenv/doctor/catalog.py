"""Every doctor check (importing devenv.doctor.checks registers them) and the choice among them
by group, check id or alias. Apart from devenv.doctor.core, so that the checks import the core
and nothing imports back."""

from __future__ import annotations

from collections.abc import Iterable

from devenv.doctor import checks as _checks  # noqa: F401 - registers every check
from devenv.doctor.core import ALIASES, GROUPS, REGISTRY, Check


def all_checks() -> dict[str, Check]:
    return REGISTRY


def select(names: Iterable[str] = ()) -> list[Check]:
    """Checks for ``names`` (group ids, check ids or aliases); all when empty."""
    from devenv.errors import UsageError

    known = all_checks()
    wanted: list[str] = []
    unknown: list[str] = []
    for name in names:
        if name in known:
            wanted.append(name)
        elif name in ALIASES:
            wanted.extend(ALIASES[name])
        elif name in GROUPS:
            wanted.extend(c for c in known if c.startswith(name + "."))
        else:
            unknown.append(name)
    if unknown:
        raise UsageError(
            f"no doctor check {', '.join(repr(n) for n in unknown)}",
            f"give a group ({', '.join([*GROUPS, *ALIASES])}) or a check id, e.g. engine.daemon;"
            " `devenv doctor --list` shows them all",
        )
    ids = list(dict.fromkeys(wanted)) if wanted else list(known)
    return [known[i] for i in ids]
