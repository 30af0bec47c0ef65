"""``devenv init``: make a repository a devenv project, or adopt its Supabase CLI project.

What it writes (each only where nothing is there yet; an existing file is never touched, and a
second ``init`` changes nothing):

- ``devenv.toml``: every section and key, commented, with defaults (or the values taken from
  ``supabase/config.toml``);
- ``migrations/<timestamp>_init.sql``: a first migration (a table under row-level security),
  when the migrations folder holds no SQL yet;
- ``seeds/default/``: example auth users and a data file that references them, when the set does
  not exist yet;
- ``.env.schema``: the keys the stack provides (``devenv env init`` then writes ``.env``);
- ``fixtures/fireworks/``: an example stub for the Fireworks mock;
- ``.gitignore``: ``.devenv/`` (the stack's keys) and ``.env`` appended when missing.

With ``supabase/config.toml`` present, migrations and seeds stay where the Supabase CLI keeps
them (``supabase/migrations``, ``[db.seed] sql_paths``): devenv.toml points there, and nothing is
scaffolded beside them. The templates ship inside the package (``devenv/_templates``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from devenv import config as config_mod
from devenv import services as svcs
from devenv.errors import ConfigError, UsageError

#: Lines `init` makes sure .gitignore has: the stack's private state (keys) and the app's .env.
GITIGNORE = (".devenv/", ".env")

_AUTH_COMMENTS = {
    "site_url": "The app's URL: where GoTrue's mails and redirects send users.",
    "additional_redirect_urls": "More URLs GoTrue may redirect to after sign-in (exact matches).",
    "jwt_expiry": "Lifetime of a user's access token, in seconds.",
    "enable_signup": "Whether new users can sign up (seeded users are created either way).",
    "enable_confirmations": (
        "Whether a new user must confirm the email address before signing in."
    ),
}


@dataclass
class Action:
    path: Path
    action: str  # create | keep | append | skip
    content: str = ""
    why: str = ""

    def as_dict(self, root: Path) -> dict[str, Any]:
        return {"path": _rel(self.path, root), "action": self.action, "why": self.why}


@dataclass
class InitPlan:
    root: Path
    actions: list[Action] = field(default_factory=list)
    adoption: Any = None  # devenv.supabase_cli.Adoption | None

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.action in ("create", "append")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "actions": [a.as_dict(self.root) for a in self.actions],
            "supabase": self.adoption.as_dict() if self.adoption is not None else None,
        }


def _template(name: str) -> str:
    return resources.files("devenv").joinpath("_templates", name).read_text(encoding="utf-8")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def toml_value(value: Any) -> str:
    """A TOML literal for the simple values devenv.toml holds (strings, ints, bools, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def render_config(root: Path, sections: dict[str, dict[str, Any]], adopted_from: str = "") -> str:
    """The commented devenv.toml: defaults, overlaid with ``sections`` (e.g. adopted values)."""
    defaults = config_mod.in_memory(root, name=_default_name(root), services=svcs.default_names())

    def get(section: str, key: str, default: Any) -> Any:
        return sections.get(section, {}).get(key, default)

    ports = dict(defaults.ports)
    ports.update(sections.get("ports", {}))
    images = sections.get("images", {})
    auth_lines: list[str] = []
    auth_defaults = config_mod.AuthConfig()
    known_auth = config_mod.sections()["auth"]
    order = [k for k in _AUTH_COMMENTS if k in known_auth]
    for key in order + sorted(k for k in known_auth if k not in _AUTH_COMMENTS):
        value = get("auth", key, getattr(auth_defaults, key, None))
        if value is None:
            continue
        if _AUTH_COMMENTS.get(key):
            auth_lines.append(f"# {_AUTH_COMMENTS[key]}")
        auth_lines.append(f"{key} = {toml_value(value)}")
    image_lines = []
    for svc, image in svcs.default_images().items():
        if svc in images:
            image_lines.append(f"{svc} = {toml_value(images[svc])}")
        else:
            image_lines.append(f"# {svc} = {toml_value(image)}")
    db = defaults.db
    env = defaults.env
    header = (
        f"\n# Made by `devenv init` from {adopted_from}: the paths, ports and auth settings the\n"
        "# Supabase CLI uses, so `devenv up` runs the same project with no file moved.\n"
        if adopted_from
        else ""
    )
    return Template(_template("devenv.toml")).substitute(
        adopted=header,
        name=toml_value(get("project", "name", defaults.name)),
        known_services=", ".join(svcs.names()),
        services=toml_value(get("project", "services", list(defaults.services))),
        ports="\n".join(f"{svc} = {port}" for svc, port in ports.items()),
        images="\n".join(image_lines),
        registry=toml_value(images.get("registry", "")),
        auth="\n".join(auth_lines),
        migrations=toml_value(get("db", "migrations", db.migrations)),
        seeds=toml_value(get("db", "seeds", db.seeds)),
        default_seed=toml_value(get("db", "default_seed", db.default_seed)),
        seed_paths=toml_value(get("db", "seed_paths", list(db.seed_paths))),
        migrate=toml_value(get("db", "migrate", "")),
        extensions=toml_value(get("db", "extensions", list(db.extensions))),
        major_version=toml_value(get("db", "major_version", db.major_version)),
        schema=toml_value(get("env", "schema", env.schema)),
        example=toml_value(get("env", "example", env.example)),
        files=toml_value(get("env", "files", list(env.files))),
    )


def _default_name(root: Path) -> str:
    import re

    return re.sub(r"[^a-z0-9_-]", "-", root.name.lower()).strip("-_") or "devenv"


def plan(root: Path, *, now: datetime | None = None) -> InitPlan:
    """What ``init`` would do in ``root`` (nothing is written)."""
    root = root.resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", "run `devenv init` in the repository")
    out = InitPlan(root)
    toml_path = root / config_mod.CONFIG_FILE

    def add(path: Path, content: str, why: str = "") -> None:
        if path.exists():
            out.actions.append(Action(path, "keep", why="exists; left as it is"))
        else:
            out.actions.append(Action(path, "create", content, why))

    cfg: config_mod.Config | None = None
    if toml_path.is_file():
        # An existing devenv.toml decides where things go; a broken one is reported first.
        cfg = config_mod.load(root)
        out.actions.append(Action(toml_path, "keep", why="exists; left as it is"))
    else:
        out.adoption = config_mod.adopt_supabase(root)
        sections = out.adoption.sections if out.adoption is not None else {}
        text = render_config(
            root, sections, _rel(out.adoption.source, root) if out.adoption else ""
        )
        try:  # what init writes must load: every key known, every value valid
            config_mod._validate(root, toml_path, _parse(text))
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} (the devenv.toml init would write)",
                "fix supabase/config.toml's value named below, or write devenv.toml by hand",
                exc.details(),
            ) from None
        out.actions.append(Action(toml_path, "create", text, "every section and key"))
        cfg = config_mod.in_memory(
            root, name=_default_name(root), services=svcs.default_names(), **sections
        )

    adopted = out.adoption is not None
    # Migrations: a first one where there are none and the folder is devenv's own.
    mig_dir = cfg.path(cfg.db.migrations)
    if cfg.db.migrate:
        out.actions.append(Action(mig_dir, "skip", why="[db] migrate runs the app's own tool"))
    elif mig_dir.is_dir() and any(mig_dir.glob("*.sql")):
        out.actions.append(Action(mig_dir, "keep", why="has migrations; none added"))
    elif adopted:
        out.actions.append(Action(mig_dir, "skip", why="the Supabase CLI's migrations folder"))
    else:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
        add(mig_dir / f"{stamp}_init.sql", _template("first_migration.sql"), "a first migration")
    # Seeds: an example default set where it does not exist.
    set_dir = cfg.path(cfg.db.seeds) / cfg.db.default_seed
    if cfg.db.seed_paths:
        out.actions.append(Action(set_dir, "skip", why="[db] seed_paths gives the seed files"))
    elif set_dir.is_dir():
        out.actions.append(Action(set_dir, "keep", why="exists; nothing added to it"))
    else:
        add(set_dir / "auth.users.yaml", _template("auth.users.yaml"), "example users")
        add(set_dir / "10_notes.csv", _template("notes.csv"), "example rows for them")
    add(cfg.path(cfg.env.schema), _template("env.schema"), "the keys the stack provides")
    stubs = root / "fixtures" / "fireworks"
    if stubs.is_dir() and any(stubs.iterdir()):
        out.actions.append(Action(stubs, "keep", why="has stubs; none added"))
    else:
        add(stubs / "example.yaml", _template("fireworks.yaml"), "an example Fireworks stub")
    _gitignore(out, root / ".gitignore")
    return out


def _parse(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


def _gitignore(out: InitPlan, path: Path) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}", "fix it and run again") from None
    if lines is None:
        out.actions.append(Action(path, "create", "\n".join(GITIGNORE) + "\n", "keys and .env"))
        return
    present = {ln.strip().rstrip("/") for ln in lines}
    missing = [g for g in GITIGNORE if g.rstrip("/") not in present]
    if missing:
        out.actions.append(Action(path, "append", "\n".join(missing) + "\n", ", ".join(missing)))
    else:
        out.actions.append(Action(path, "keep", why="ignores .devenv/ and .env already"))


def apply(p: InitPlan) -> list[Action]:
    """Write what the plan says; a file that appeared meanwhile is left alone (never
    overwritten). Returns the actions carried out."""
    done: list[Action] = []
    for a in p.changes:
        a.path.parent.mkdir(parents=True, exist_ok=True)
        if a.action == "create":
            try:
                with a.path.open("x", encoding="utf-8") as f:
                    f.write(a.content)
            except FileExistsError:
                a.action, a.why = "keep", "appeared meanwhile; left as it is"
                continue
        else:
            with a.path.open("a+", encoding="utf-8") as f:
                f.seek(0)
                existing = f.read()
                if existing and not existing.endswith("\n"):
                    f.write("\n")
                f.write(a.content)
        done.append(a)
    return done
