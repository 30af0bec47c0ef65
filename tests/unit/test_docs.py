"""The README and the documentation site (docs/, mkdocs.yml) against the code they describe.

Every devenv.toml key in the configuration table is one the config accepts and the other way
round (unknown keys are errors, so a user needs the whole list); every `devenv ...` command and
option the README and the pages name exists in the Typer app, and the README's command list
names every command; every doctor check is documented on the doctor page and every check id
there exists; the README stays a short front page with the test-command markers CI reads; and
the site builds with `mkdocs build --strict` (a broken link, anchor or nav entry fails).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import typer.main
from typer._click import Command
from typer.core import TyperGroup

from devenv import config
from devenv.cli import app
from devenv.doctor import catalog

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 250

# -- the Typer app's command tree --------------------------------------------------------------


def _tree() -> dict[str, Command]:
    """Every command path of the app ("" for the root, "db snapshot save", ...) -> its command."""
    out: dict[str, Command] = {}

    def walk(path: str, cmd: Command) -> None:
        out[path] = cmd
        if isinstance(cmd, TyperGroup):
            ctx = typer.Context(cmd, info_name=path or "devenv")
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, f"{path} {name}"
                walk(f"{path} {name}".strip(), sub)

    walk("", typer.main.get_command(app))
    return out


TREE = _tree()
LEAVES = {path for path, cmd in TREE.items() if path and not isinstance(cmd, TyperGroup)}


def _options(path: str) -> set[str]:
    """The option names the command at ``path`` accepts (help included)."""
    names = {"--help", "-h"}
    for param in TREE[path].params:
        if param.param_type_name == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


#: A command word, or alternatives (`save|restore`); NAME, [ARG], engine.daemon are arguments.
_WORD = re.compile(r"[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*")
_OPTION = re.compile(r"^\[?(--?[A-Za-z][\w-]*)")


def parse_invocation(text: str) -> tuple[list[str], list[str]]:
    """``devenv db snapshot save|restore NAME [--json]`` -> (paths, problems): the command paths
    its words spell (alternatives expanded), and each command or option the app lacks."""
    words = text.split()
    assert words[:1] == ["devenv"], text
    paths = [""]
    rest = words[1:]
    while rest and _WORD.fullmatch(rest[0]):
        # After a group the next word is one of its commands; after a command, an argument.
        if not any(isinstance(TREE.get(p), TyperGroup) for p in paths):
            break
        paths = [f"{p} {alt}".strip() for p in paths for alt in rest[0].split("|")]
        rest = rest[1:]
        if any(p not in TREE for p in paths):
            break
    options = [m.group(1).split("=")[0] for w in rest if (m := _OPTION.match(w))]
    problems = [f"`devenv {p}` is no command of the app" for p in paths if p not in TREE]
    problems += [
        f"`devenv {p}` has no option {o}"
        for p in paths
        if p in TREE
        for o in options
        if o not in _options(p)
    ]
    return paths, problems


# -- what the README and the pages name ----------------------------------------------------------


def readme() -> str:
    return README.read_text(encoding="utf-8")


def pages() -> dict[str, str]:
    """docs/*.md by name (cli.md is a stub the build replaces with the generated reference)."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}


_FENCE = re.compile(r"(?ms)^```[^\n]*\n(.*?)^```")
_SPAN = re.compile(r"`([^`\n]+)`")
# Where one shell command ends and the next may begin.
_SEPARATORS = re.compile(r"&&|\|\||;|\s\|\s|\$\(|\(|\)|\"|'|`")
_LEAD = re.compile(r"^\s*(?:-\s+)?(?:run:\s*)?(?:\$\s+)?")


def invocations(markdown: str) -> Iterator[str]:
    """Every `devenv ...` command line in code: inline code spans and the lines of fenced
    blocks, split at shell separators; in fenced lines, what follows two spaces or a `#` is a
    description or a comment."""
    chunks: list[str] = []
    for block in _FENCE.findall(markdown):
        for line in block.splitlines():
            start = line.find("devenv")
            if start >= 0:
                chunks.append(line[:start] + re.split(r"\s{2,}|\s#", line[start:], maxsplit=1)[0])
    prose = _FENCE.sub("", markdown)
    chunks += _SPAN.findall(prose)
    for chunk in chunks:
        for segment in _SEPARATORS.split(chunk):
            segment = _LEAD.sub("", segment)
            if segment.split()[:1] == ["devenv"]:
                yield segment.strip()


def readme_command_list() -> list[str]:
    """The usage part of each line in the README's "Commands" block."""
    section = readme().split("\n## Commands\n", 1)[1]
    block = _FENCE.search(section)
    assert block is not None, "README: no code block under ## Commands"
    return [
        re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for line in block.group(1).splitlines()
        if line.startswith("devenv")
    ]


# -- devenv.toml keys ------------------------------------------------------------------------------


def documented_keys() -> set[str]:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    section = text.split("\n## Every key\n", 1)[1].split("\n## ", 1)[0]
    out: set[str] = set()
    for table, keys in re.findall(r"(?m)^\| `\[(\w+)\] ([^|]+)` \|", section):
        for key in re.findall(r"\w+", keys.replace("`", " ")):
            out.add(f"{table}.{key}")
    return out


def test_every_devenv_toml_key_is_in_the_configuration_table() -> None:
    known = {f"{s}.{k}" for s, keys in config.sections().items() for k in keys}
    documented = documented_keys()
    assert known - documented == set(), "keys devenv accepts that docs/configuration.md lacks"
    assert documented - known == set(), "keys docs/configuration.md lists that devenv refuses"


# -- commands --------------------------------------------------------------------------------------


def test_the_command_walk_sees_the_whole_app() -> None:
    # The parser and the checks below stand on this tree: it must hold nested groups.
    assert {"up", "db snapshot save", "mail show", "test contracts"} <= LEAVES
    assert parse_invocation("devenv db snapshot save|restore NAME --json") == (
        ["db snapshot save", "db snapshot restore"],
        [],
    )
    assert parse_invocation("devenv seed demo --force") == (["seed"], [])
    assert parse_invocation("devenv --version") == ([""], [])
    assert parse_invocation("devenv db nonsense")[1], "an unknown command must be a problem"
    assert parse_invocation("devenv up --nonsense")[1], "an unknown option must be a problem"


def test_every_command_in_the_readme_list_exists_with_its_options() -> None:
    lines = readme_command_list()
    assert lines, "README: the Commands block lists no `devenv ...` line"
    problems = [f"{line}: {p}" for line in lines for p in parse_invocation(line)[1]]
    assert problems == []


def test_the_readme_list_names_every_command_of_the_app() -> None:
    listed = {p for line in readme_command_list() for p in parse_invocation(line)[0]}
    assert LEAVES - listed == set(), "commands of the app missing from the README's list"


def test_every_command_the_readme_and_the_pages_name_exists() -> None:
    texts = {"README.md": readme(), **{f"docs/{n}": t for n, t in pages().items()}}
    seen: set[str] = set()
    problems: list[str] = []
    for name, text in texts.items():
        for inv in invocations(text):
            paths, found = parse_invocation(inv)
            seen.update(paths)
            problems += [f"{name}: {inv!r}: {p}" for p in found]
    assert problems == []
    # The scan itself works: the pages name commands all over.
    assert {"up", "db reset", "doctor", "test contracts", "mail show"} <= seen


# -- the README ------------------------------------------------------------------------------------


def test_the_readme_is_a_short_front_page_with_the_test_command() -> None:
    text = readme()
    assert len(text.splitlines()) < README_MAX_LINES
    # .ci/run reads the test command from between these markers.
    block = text.split("<!-- test-command -->\n", 1)[1].split("<!-- /test-command -->", 1)[0]
    assert block.strip().splitlines() == ["```", "bash tests/run", "```"]


def test_the_readme_links_only_to_pages_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", readme())
    assert links
    assert [link for link in links if not (REPO / link).is_file()] == []


# -- doctor ----------------------------------------------------------------------------------------


def test_every_doctor_check_is_documented_and_every_documented_one_exists() -> None:
    registered = set(catalog.all_checks())
    text = (DOCS / "doctor.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"(?m)^\| `([a-z]+\.[a-z_]+)` \|", text))
    assert registered - rows == set(), "checks docs/doctor.md has no row for"
    assert rows - registered == set(), "rows of docs/doctor.md for checks that do not exist"
    groups = "|".join(sorted({c.split(".")[0] for c in registered}))
    # Anywhere on the doctor page ("see engine.daemon"), and as code on every other page.
    named = set(re.findall(rf"(?<![\w./-])((?:{groups})\.[a-z_]+)(?![\w(/-])", text))
    for other in [readme(), *pages().values()]:
        named.update(re.findall(rf"`((?:{groups})\.[a-z_]+)`", other))
    assert named >= registered
    assert named - registered == set(), "check ids the docs name that do not exist"


# -- the site --------------------------------------------------------------------------------------


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs and mkdocs-material are not installed (the `docs` extra, in the lock)")
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # Material prints a banner about MkDocs 2.0 otherwise.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The command reference is generated from the app: every command has its section.
    reference = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert [p for p in LEAVES if f"<code>devenv {p}</code>" not in reference] == []
    assert "only a stub" not in reference and "This page is generated" not in reference
    # The hook is code, not a page.
    assert not list(site.rglob("_hooks*"))
