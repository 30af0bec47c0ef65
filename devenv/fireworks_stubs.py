"""The project's Fireworks stub files, sent to the running mock through its control API.

No host folder is mounted into the mock's container (the engine may be another machine, a dind
service or Podman), so ``devenv up``, the test stacks and ``devenv mock reload`` read
fixtures/fireworks here and ``PUT`` the whole set to ``/__devenv/stubs``. The mock checks it as
it checks files at start (a bad file is a 400 naming file and line, and the stubs in use stay),
swaps it in at once and keeps it for a restart of its container.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from devenv.errors import MockError

if TYPE_CHECKING:
    from devenv.stack.handle import Stack

#: The suffixes the mock reads as stub files (devenv.mocks.fireworks.stubs).
SUFFIXES = (".yaml", ".yml", ".json")


def read(folder: Path | None, root: Path) -> list[dict[str, str]]:
    """The stub files in ``folder`` (none when it is None), in name order, named relative to
    ``root`` so the mock's errors point at the project's file."""
    if folder is None:
        return []
    out: list[dict[str, str]] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MockError(f"stub file {path} cannot be read: {exc}", "check the file") from None
        try:
            name = str(path.relative_to(root))
        except ValueError:
            name = str(path)
        out.append({"name": name, "text": text})
    return out


def push(base_url: str, folder: Path | None, root: Path, timeout: float = 10.0) -> int:
    """Replace the mock's stubs at ``base_url`` (``http://host:port``) with ``folder``'s files.
    Returns how many stubs it now holds. MockError (one line) when a file is bad or the mock
    does not answer."""
    from devenv.stack.probes import http_request

    files = read(folder, root)
    body = json.dumps({"files": files}).encode()
    url = f"{base_url.rstrip('/')}/__devenv/stubs"
    try:
        status, _headers, text = http_request(
            "PUT", url, {"Content-Type": "application/json"}, body, timeout=timeout, limit=None
        )
    except OSError as exc:
        raise MockError(
            f"the Fireworks mock at {base_url} does not answer ({type(exc).__name__})",
            "start it with `devenv up`, then run `devenv mock reload`",
        ) from None
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    if status == 400:
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
        raise MockError(
            str(message or f"the mock refused the stub files (HTTP {status})"),
            "fix the file, then run `devenv mock reload` (the mock keeps the stubs it had)",
        )
    if status != 200 or not isinstance(data, dict):
        raise MockError(
            f"the Fireworks mock at {base_url} answered HTTP {status} to a stub reload",
            "an older mock image? run `devenv up` to rebuild it, then `devenv mock reload`",
        )
    return len(data.get("stubs", []))


def push_to(stack: Stack, folder: Path | None = None) -> int:
    """Send the project's stub folder (or ``folder``) to ``stack``'s mock."""
    from devenv.stack import project

    if folder is None:
        folder = project.fireworks_stubs(stack.cfg)
    base = f"http://{stack.host}:{stack.cfg.ports['fireworks']}"
    return push(base, folder, stack.cfg.root)
