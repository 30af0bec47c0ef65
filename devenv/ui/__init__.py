"""``devenv ui``: the stack on a local page. Services with their health, the startup waterfall of
the last ``up``, logs, the mail GoTrue sent, the Fireworks mock's journal and faults, data
(migrations, seed sets, snapshots, reset), the doctor's findings, and the actions that go with them.

A use case beside the CLI (design.md): it calls devenv's library (the Stack handle, ``devenv.up``,
``devenv.mail``, ``devenv.db``, the doctor) and is called by ``devenv ui`` and ``devenv up --ui``.

- :mod:`devenv.ui.board`: what the page shows and does, as plain methods (usable without a server);
- :mod:`devenv.ui.live`: engine events and short probes, fanned out to open pages;
- :mod:`devenv.ui.logs`: following services' logs, interleaved;
- :mod:`devenv.ui.security`: the token and the same-origin rules;
- :mod:`devenv.ui.web`: the Starlette app (routes, server-sent events) and the page;
- :mod:`devenv.ui.server`: serving it on 127.0.0.1.

Heavy imports (Starlette, uvicorn, docker, httpx) happen in those modules, never here.
"""
