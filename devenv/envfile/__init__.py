"""`.env` files and their `.env.schema`: parsing the ``@env-spec`` format, reading env files as
@env-spec (varlock), python-dotenv or Docker Compose read them, checking them with the format's
semantics (every problem at once, and no secret, nor its length, in any output), and writing
``.env`` (``init``) and ``.env.example``.

Modules: :mod:`.spec` (schema parser), :mod:`.types` (``@type`` validation, JavaScript regexes),
:mod:`.envspec` (the @env-spec reference parser's reading of .env files, ported), :mod:`.reader`
(the three readers and per-file problems), :mod:`.compare` (the lines the three read
differently, and why), :mod:`.compose` (Docker Compose's env-file parser, ported), :mod:`.check`
(validation: defaults as values, references, the current environment), :mod:`.render` (example,
init, diff), :mod:`.project` (devenv.toml integration and the entry points below).
"""

from __future__ import annotations

from devenv.envfile.check import CheckResult, Source, check
from devenv.envfile.problems import Problem
from devenv.envfile.project_files import (
    check_files,
    check_project,
    diff_project,
    init_plan,
    write_example,
)
from devenv.envfile.render import InitPlan, apply_init, plan_init, render_example
from devenv.envfile.schema import Schema, SchemaError, load_schema, parse_schema

__all__ = [
    "CheckResult",
    "InitPlan",
    "Problem",
    "Schema",
    "SchemaError",
    "Source",
    "apply_init",
    "check",
    "check_files",
    "check_project",
    "diff_project",
    "init_plan",
    "load_schema",
    "parse_schema",
    "plan_init",
    "render_example",
    "write_example",
]
