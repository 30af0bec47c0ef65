"""Images: nothing present is pulled; a missing one is pulled once, or fails with its name and how
to get it; the Fireworks mock's image (devenv itself, on no registry) is built when missing."""

from __future__ import annotations

from collections.abc import Iterable

from devenv.config import Config
from devenv.environ import Environ
from devenv.errors import ImageMissing, last_line
from devenv.stack.compose import Runner
from devenv.stack.engine import Engine


def missing(cfg: Config, engine: Engine, services: Iterable[str]) -> dict[str, str]:
    """service -> image for every wanted service whose image is not present."""
    return {svc: cfg.image(svc) for svc in services if not engine.has_image(cfg.image(svc))}


def ensure(
    cfg: Config, engine: Engine, runner: Runner, env: Environ, services: Iterable[str]
) -> None:
    absent = missing(cfg, engine, services)
    own = [s for s in ("fireworks", "upstash") if s in absent]
    if own:
        # devenv's own image (the upstash service runs it too): built from the package.
        from devenv.stack import fireworks_image

        fireworks_image.build(absent[own[0]], engine, env)
        for name in own:
            absent.pop(name)
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
