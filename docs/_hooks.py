"""MkDocs hook: the command reference page, cli.md, made at build time from the Typer app.

docs/cli.md on disk is only a stub saying so (for readers of the repository); ``on_files``
replaces it in the build with what typer's own Markdown generator writes from the click command
the app turns into, so the page says what ``devenv COMMAND --help`` says and cannot drift from
it. mkdocs.yml names this file under ``hooks:`` and leaves it out of the pages
(``exclude_docs``).
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

CLI_PAGE = "cli.md"

INTRO = (
    "Generated when this site is built, from the Typer app itself (`devenv.cli.app`, through"
    " typer's `get_docs_for_click`): each section says what `devenv COMMAND --help` says. What"
    " the commands do is on the other pages: [devenv up](up.md), [data](data.md),"
    " [.env files](env.md), [doctor](doctor.md), [contract suites](contracts.md)."
)


def cli_markdown() -> str:
    """The reference for every command, group and option of ``devenv``, as Markdown."""
    import typer
    import typer.main
    from typer.cli import get_docs_for_click

    from devenv.cli import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="devenv")
    body = get_docs_for_click(obj=command, ctx=ctx, name="devenv", title="Command reference")
    title, _, rest = body.partition("\n\n")
    return f"{title}\n\n{INTRO}\n\n{rest.strip()}\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    stale = files.get_file_from_path(CLI_PAGE)
    if stale is not None:
        files.remove(stale)
    files.append(File.generated(config, CLI_PAGE, content=cli_markdown()))
    return files
