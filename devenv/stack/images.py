"""Images: nothing present is pulled; a missing one is pulled once, or fails with its name and how
to get it; devenv's own images are built when missing: the Fireworks mock's (devenv itself, on no
registry) and the Postgres image with the project's [db] extensions."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from devenv.config import Config
from devenv.environ import Environ
from devenv.errors import ImageMissing, last_line
from devenv.stack.compose import Runner
from devenv.stack.engine import Engine


def missing(cfg: Config, engine: Engine, services: Iterable[str]) -> dict[str, str]:
    """service -> image for every wanted service whose image is not present."""
    return {svc: cfg.image(svc) for svc in services if not engine.has_image(cfg.image(svc))}


def ensure(
    cfg: Config,
    engine: Engine,
    runner: Runner,
    env: Environ,
    services: Iterable[str],
    *,
    on_note: Callable[[str], None] | None = None,
) -> None:
    """Make every image ``services`` run present: build devenv's own, pull the rest.
    ``on_note`` hears of each build before it starts (they take a while, once)."""
    note = on_note or (lambda _text: None)
    absent = missing(cfg, engine, services)
    own = [s for s in ("fireworks", "upstash") if s in absent]
    if own:
        # devenv's own image (the upstash service runs it too): built from the package.
        from devenv.stack import fireworks_image

        note(f"building {absent[own[0]]}, the Fireworks mock's image (once)")
        fireworks_image.build(absent[own[0]], engine, env)
        for name in own:
            absent.pop(name)
    spec = cfg.postgres_build()
    if "postgres" in absent and spec is not None:
        # devenv's own Postgres image (base + [db] extensions): built once, then cached by tag.
        from devenv.stack import postgres_image

        note(
            f"building {absent['postgres']}: {spec.base} with {', '.join(spec.extensions)}"
            " ([db] extensions; once per set, about a minute)"
        )
        postgres_image.build(spec, absent.pop("postgres"), engine)
    if not absent:
        return
    proc = runner.run(["pull", "--quiet", *absent], check=False)
    still = {svc: image for svc, image in absent.items() if not engine.has_image(image)}
    if still:
        svc, image = next(iter(still.items()))
        why = last_line(proc.stderr)
        others = f" (and {len(still) - 1} more)" if len(still) > 1 else ""
        raise ImageMissing(
            f"image {image} for {svc} is not present and could not be pulled{others}: {why}",
            f"`docker pull {image}` or `docker load` it, or point DEVENV_IMAGE_{svc.upper()} / "
            f"[images] {svc} / [images] registry in devenv.toml at an image you have",
        )
