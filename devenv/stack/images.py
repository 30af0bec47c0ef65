"""Images: nothing present is pulled; a missing one is pulled once, or fails with its name and how
to get it; devenv's own images are built when missing: the Fireworks mock's (devenv itself, on no
registry) and the Postgres image with the project's [db] extensions."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from devenv import services as svcs
from devenv.config import Config
from devenv.environ import Environ
from devenv.errors import ImageMissing, last_line
from devenv.stack.compose import Runner
from devenv.stack.engine import EngineLike


def missing(cfg: Config, engine: EngineLike, services: Iterable[str]) -> dict[str, str]:
    """service -> image for every wanted service whose image is not present."""
    return {svc: cfg.image(svc) for svc in services if not engine.has_image(cfg.image(svc))}


def ensure(
    cfg: Config,
    engine: EngineLike,
    runner: Runner,
    env: Environ,
    services: Iterable[str],
    *,
    on_note: Callable[[str], None] | None = None,
) -> None:
    """Make every image ``services`` run present: build devenv's own, pull the rest, all at
    once (see :func:`together`). ``on_note`` hears of each build before it starts (they take a
    while, once)."""
    note = on_note or (lambda _text: None)
    absent = missing(cfg, engine, services)
    jobs: list[Callable[[], None]] = []
    own = [s for s in absent if cfg.built_here(s) and svcs.built_by_devenv(s) == "fireworks"]
    if own:
        # devenv's own image (the upstash service runs it too): built from the package.
        from devenv.stack import fireworks_image

        tag = absent[own[0]]
        for name in own:
            absent.pop(name)
        note(f"building {tag}, the Fireworks mock's image (once)")
        jobs.append(lambda: fireworks_image.build(tag, engine, env))
    spec = cfg.postgres_build()
    if "postgres" in absent and cfg.built_here("postgres") and spec is not None:
        # devenv's own Postgres image (base + [db] extensions): built once, then cached by tag.
        from devenv.stack import postgres_image

        pg_tag = absent.pop("postgres")
        note(
            f"building {pg_tag}: {spec.base} with {', '.join(spec.extensions)}"
            " ([db] extensions; once per set, about a minute)"
        )
        jobs.append(lambda: postgres_image.build(spec, pg_tag, engine))
    if absent:
        jobs.append(lambda: _pull(engine, runner, absent))
    together(jobs)


def together(jobs: list[Callable[[], None]]) -> None:
    """Run ``jobs`` at the same time and wait for all; then raise the first one's error, in the
    order given. On a new machine the builds and the pull each mostly wait (on the package
    mirror, the registry, the engine), so the first `devenv up` takes the longest of them rather
    than their sum. Daemon threads: a Ctrl-C (checked while waiting) ends the command at once;
    the engine drops a build whose client went away."""
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    import threading

    from devenv import interrupt

    errors: list[BaseException | None] = [None] * len(jobs)

    def run(i: int, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # handed to the caller's thread below
            errors[i] = exc

    threads = [
        threading.Thread(target=run, args=(i, job), name=f"devenv-image-{i}", daemon=True)
        for i, job in enumerate(jobs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.1)
            interrupt.check()
    for exc in errors:
        if exc is not None:
            raise exc


def _pull(engine: EngineLike, runner: Runner, absent: dict[str, str]) -> None:
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
