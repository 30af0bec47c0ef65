"""`devenv mail`: the messages in the stack's mail catcher (Mailpit), with the links in them, so a
magic-link, recovery or confirmation flow can be finished from the terminal.

Parses, calls ``devenv.mail``, renders; httpx is imported inside the commands.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from devenv.mail import Mailbox, Message

mail_app = typer.Typer(
    name="mail",
    help="Messages in the local mail catcher (what GoTrue sent: confirmations, magic links, "
    "recovery, invites).",
    add_completion=False,
    rich_markup_mode=None,
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Attach the `mail` group to the root app."""
    app.add_typer(mail_app, name="mail")


def _mailbox(ctx: typer.Context) -> Mailbox:
    from devenv.cli.context import stack
    from devenv.mail import mailbox

    handle = stack(ctx)
    return mailbox(handle.cfg, handle.env)


@mail_app.callback()
def _default(ctx: typer.Context) -> None:
    """Messages in the local mail catcher. Without a subcommand: `devenv mail list`."""
    if ctx.invoked_subcommand is None:
        list_messages(ctx, to=None, limit=20, as_json=False)


@mail_app.command("list")
def list_messages(
    ctx: typer.Context,
    to: str | None = typer.Option(None, "--to", help="Only messages to this address."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """The newest messages: time, recipient, subject and id (for `devenv mail show ID`)."""
    with _mailbox(ctx) as box:
        messages = box.list(to=to, limit=limit)
    if as_json:
        typer.echo(json.dumps([m.as_dict() for m in messages], indent=2))
        return
    if not messages:
        typer.echo(f"no mail{f' to {to}' if to else ''} in the catcher ({box.url})")
        return
    rows = [("created", "to", "subject", "id")]
    rows += [(m.created, ", ".join(m.to), m.subject, m.id) for m in messages]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])


@mail_app.command("show")
def show(
    ctx: typer.Context,
    message_id: str | None = typer.Argument(
        None, metavar="[ID]", help="A message id (default: newest)."
    ),
    to: str | None = typer.Option(None, "--to", help="The newest message to this address."),
    wait: float = typer.Option(
        0.0, "--wait", min=0.0, help="Seconds to wait for a message to arrive (with --to)."
    ),
    link: bool = typer.Option(
        False, "--link", help='Print only the message\'s auth link (for scripts: curl "$(...)").'
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON: headers, links and text."),
) -> None:
    """One message (the newest, or the newest to --to) with the links in it."""
    from devenv.errors import UsageError
    from devenv.mail import MailError

    if message_id and to:
        raise UsageError("give a message ID or --to ADDRESS, not both", "see `devenv mail --help`")
    with _mailbox(ctx) as box:
        msg = box.get(message_id) if message_id else box.latest(to=to, wait=wait)
    if link:
        found = msg.auth_link()
        if found is None:
            raise MailError(
                f"message {msg.id} ({msg.subject!r}) has no link",
                "see it whole with `devenv mail show ID`",
            )
        typer.echo(found)
        return
    if as_json:
        typer.echo(json.dumps(msg.as_dict(full=True), indent=2))
        return
    _render(msg)


def _render(msg: Message) -> None:
    typer.echo(f"From:    {msg.sender}")
    typer.echo(f"To:      {', '.join(msg.to)}")
    typer.echo(f"Subject: {msg.subject}")
    typer.echo(f"Date:    {msg.created}")
    typer.echo(f"Id:      {msg.id}")
    if msg.links:
        typer.echo("")
        typer.echo("Links:")
        for url in msg.links:
            typer.echo(f"  {url}")
    body = msg.text.strip()
    if body:
        typer.echo("")
        typer.echo(body)


@mail_app.command("clear")
def clear(ctx: typer.Context) -> None:
    """Delete every message in the catcher."""
    with _mailbox(ctx) as box:
        box.clear()
    typer.echo(f"deleted every message in the catcher ({box.url})")
