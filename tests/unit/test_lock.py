"""The lock (.ci/requirements.txt) covers what the code, the tests and the benches import, and
agrees with pyproject.toml's ranges: a new dependency goes into the lock in the same change, and
CI never resolves a package afresh (docs/development.md, "The lock")."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

LOCK = REPO / ".ci" / "requirements.txt"
# Code that runs elsewhere than the environment CI installs: inside the hermetic images, on their
# Debian python3 (standard library only), and the throw-away apps the engine tests build.
NOT_HERE = ("tests/hermetic/images/", "tests/fixtures/")
FIRST_PARTY = {"devenv", "tests", "bench"}


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    return pins


def imported_modules() -> dict[str, list[str]]:
    """Top-level modules imported in devenv/, tests/ and bench/ (lazily or not) -> where."""
    found: dict[str, list[str]] = {}
    for folder in ("devenv", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel.startswith(NOT_HERE):
                continue
            siblings = {p.stem for p in path.parent.glob("*.py")}
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY or top in siblings:
                        continue
                    found.setdefault(top, []).append(f"{rel}:{node.lineno}")
    return found


def test_every_imported_package_is_in_the_lock() -> None:
    pins = locked()
    providers = md.packages_distributions()
    problems = []
    for module, where in sorted(imported_modules().items()):
        dists = providers.get(module)
        if not dists:
            problems.append(f"{where[0]}: imports {module!r}, which no installed package provides")
            continue
        if not any(canonicalize_name(d) in pins for d in dists):
            problems.append(
                f"{where[0]}: imports {module!r} from {', '.join(sorted(set(dists)))}, which "
                ".ci/requirements.txt lacks: add it to pyproject.toml and run .ci/lock"
            )
    assert not problems, "\n".join(problems)


def test_the_lock_satisfies_every_range_in_pyproject() -> None:
    """Every requirement of the package and of each extra is pinned, within its range."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = list(project["project"]["dependencies"])
    for extra in project["project"]["optional-dependencies"].values():
        reqs += extra
    reqs += project["build-system"]["requires"]
    pins = locked()
    problems = []
    for text in reqs:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name == canonicalize_name(project["project"]["name"]):
            continue  # the package's own extras, e.g. dev = ["devenv-stack[test]"]
        if name not in pins:
            problems.append(f"{text!r} is not in the lock: run .ci/lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{text!r} but the lock pins {pins[name]}: run .ci/lock")
    assert not problems, "\n".join(problems)


def test_every_pin_carries_a_hash_and_names_no_host() -> None:
    """Hash-checking mode needs a hash on every pin; an index URL would name a registry's host,
    which the machine's own pip configuration supplies instead."""
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split()[0] for b in blocks if "==" in b.split("\n")[0] and "--hash=" not in b]
    assert not unhashed, f"pins without a hash: {unhashed}"
    assert not re.search(r"^\s*--(index-url|extra-index-url|find-links|trusted-host)", text, re.M)
    assert "://" not in text
